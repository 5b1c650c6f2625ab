"""RADIUS packets on a byte stream (RadSec, RFC 6614): the stream cut into packets by their
Length field. Bytes in, packets out; no sockets, no TLS, no clock.

https://www.rfc-editor.org/rfc/rfc6614#section-2.3: over TLS the packets follow one another
with no other framing, each as long as its Length says (RFC 2865 3: 20 to 4096 octets). A
Length outside those bounds leaves no way to find the next packet: DecodeError, and the
connection must be closed.
"""

from __future__ import annotations

from userman.radius.errors import DecodeError

__all__ = ["HEADER", "MAX_LENGTH", "Framer"]

HEADER = 20  # Code, Identifier, Length, Authenticator (RFC 2865 3)
MAX_LENGTH = 4096  # https://www.rfc-editor.org/rfc/rfc2865#section-3


class Framer:
    """What arrived of a stream and is not a whole packet yet (less than one packet, at most
    MAX_LENGTH - 1 bytes, is held between calls)."""

    def __init__(self) -> None:
        self._held = bytearray()
        self._broken: DecodeError | None = None

    @property
    def pending(self) -> int:
        """How many bytes of the next packet are held."""
        return len(self._held)

    def feed(self, data: bytes) -> list[bytes]:
        """The packets `data` completes, in order; DecodeError once a Length is out of bounds
        (then every later call raises it too: the stream is lost)."""
        if self._broken is not None:
            raise self._broken
        held = self._held
        held += data
        packets: list[bytes] = []
        start = 0
        while len(held) - start >= 4:
            length = int.from_bytes(held[start + 2 : start + 4], "big")
            if not HEADER <= length <= MAX_LENGTH:
                self._broken = DecodeError(
                    f"Length {length} is not from {HEADER} to {MAX_LENGTH}", offset=2
                )
                held.clear()
                raise self._broken
            if len(held) - start < length:
                break
            packets.append(bytes(held[start : start + length]))
            start += length
        del held[:start]
        return packets
