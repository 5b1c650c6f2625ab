"""The data framing EAP-TLS, EAP-TTLS and PEAP share: flags, TLS Message Length, fragments.

Owns the octets after the EAP Type (RFC 5216 2.1.5 and 3.2; RFC 5281 9.1 for TTLS;
draft-josefsson-pppext-eap-tls-eap 3.1 and MS-PEAP 2.2 for PEAP), cutting one outgoing TLS
message into fragments that each wait for the peer's empty acknowledgement, and putting the
peer's fragments back together under a bound. Must not know EAP headers, identifiers or
methods, nor TLS itself: the conversation calls it with the Type-Data and gets bytes back.

    FragmentError                   the peer's framing cannot be taken; the conversation fails
    ├── MalformedFragmentError      too short for its flags (no Flags octet, a cut Length)
    ├── InconsistentFragmentError   flags or lengths that contradict each other or the state
    └── OversizeMessageError        a message longer than the bound (a peer cannot make the
                                    server buffer more than `limit` octets, 64 KiB by default)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEFAULT_LIMIT",
    "FRAGMENT_SIZE",
    "OVERHEAD",
    "SIZES",
    "FragmentError",
    "Fragmenter",
    "Frame",
    "InconsistentFragmentError",
    "MalformedFragmentError",
    "OversizeMessageError",
    "Reassembly",
    "decode",
    "encode",
    "fragment_size",
]

# https://www.rfc-editor.org/rfc/rfc5216#section-3.2: Flags are L M S R R R R R; TTLS
# (RFC 5281 9.1) and PEAP use the low three bits for their version ("L M S R R V V V").
_LENGTH_INCLUDED = 0x80
_MORE_FRAGMENTS = 0x40
_START = 0x20
_VERSION_MASK = 0x07

# EAP header (Code, Identifier, Length: 4) + Type (1) + Flags (1) + TLS Message Length (4).
OVERHEAD = 10
# RFC 3748 3.1: a lower layer carrying EAP has an MTU of at least 1020 octets; a Framed-MTU
# below that is taken as 1020, so a router cannot make the server cut 64 KiB into 1-octet
# fragments (one round trip each).
_LEAST_EAP_MTU = 1020
# The TLS octets one fragment carries unless the operator (eap-fragment-size) or the router's
# Framed-MTU (fragment_size) asks for fewer: FreeRADIUS's default.
FRAGMENT_SIZE = 1024
# The fragment sizes an operator may configure (eap-fragment-size). Below 1010 (RFC 3748's least
# MTU less OVERHEAD) is only for paths that lose large UDP datagrams (IP fragments dropped
# between router and server); 256 keeps a certificate chain within a few dozen round trips.
# Above 3000 an Access-Challenge (the fragment in EAP-Message attributes, State,
# Session-Timeout, Message-Authenticator and the router's Proxy-States) could pass RADIUS's
# 4096 octets (RFC 2865 3).
SIZES = range(256, 3001)
# hostapd's bound on a TLS Message Length (and FreeRADIUS's): a TLS message of the handshake
# with certificate chains fits comfortably.
DEFAULT_LIMIT = 64 * 1024


class FragmentError(Exception):
    """Base of the errors about a peer's EAP-TLS framing."""


class MalformedFragmentError(FragmentError):
    """The Type-Data is too short for what its flags announce."""


class InconsistentFragmentError(FragmentError):
    """Flags and lengths that contradict each other or the state of the exchange."""


class OversizeMessageError(FragmentError):
    """The peer announces or sends a TLS message longer than the bound."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One EAP-TLS/TTLS/PEAP Type-Data: flags, the optional TLS Message Length, the data.

    `version` is TTLS's or PEAP's version (the low three flag bits); for EAP-TLS those bits
    are reserved, sent as 0 and ignored when received (RFC 5216 3.2).
    """

    data: bytes = b""
    more: bool = False
    start: bool = False
    length: int | None = None
    version: int = 0

    @property
    def is_ack(self) -> bool:
        """An empty message: no data, no L, M or S (RFC 5216 2.1.5's acknowledgement)."""
        return not self.data and not self.more and not self.start and self.length is None


def decode(type_data: bytes) -> Frame:
    """The Frame in the octets after the EAP Type; MalformedFragmentError if cut short."""
    if not type_data:
        raise MalformedFragmentError("no Flags octet")
    flags = type_data[0]
    length: int | None = None
    offset = 1
    if flags & _LENGTH_INCLUDED:
        if len(type_data) < 5:
            raise MalformedFragmentError("the L flag is set but the TLS Message Length is cut")
        length = int.from_bytes(type_data[1:5], "big")
        offset = 5
    return Frame(
        data=bytes(type_data[offset:]),
        more=bool(flags & _MORE_FRAGMENTS),
        start=bool(flags & _START),
        length=length,
        version=flags & _VERSION_MASK,
    )


def encode(frame: Frame) -> bytes:
    """The Type-Data octets of `frame` (reserved bits zero)."""
    if not 0 <= frame.version <= _VERSION_MASK:
        raise ValueError(f"version {frame.version} does not fit in three bits")
    flags = frame.version
    if frame.more:
        flags |= _MORE_FRAGMENTS
    if frame.start:
        flags |= _START
    if frame.length is None:
        return bytes([flags]) + frame.data
    return bytes([flags | _LENGTH_INCLUDED]) + frame.length.to_bytes(4, "big") + frame.data


def fragment_size(configured: int, framed_mtu: int | None = None) -> int:
    """How many TLS octets one fragment carries: the configured size, fit to the router's MTU.

    The Framed-MTU a router (the 802.1X authenticator) sends in the Access-Request is the
    largest EAP packet its link to the supplicant carries (RFC 3580 3.17, RFC 3579 2.2), so a
    fragment's data is at most Framed-MTU minus OVERHEAD (the EAP header, Type, Flags and a
    TLS Message Length). A Framed-MTU below RFC 3748's least EAP MTU (1020) is taken as 1020.
    """
    if configured < 1:
        raise ValueError(f"a fragment carries at least one octet, not {configured}")
    if framed_mtu is None:
        return configured
    return min(configured, max(framed_mtu, _LEAST_EAP_MTU) - OVERHEAD)


class Fragmenter:
    """One outgoing TLS message cut into fragments of at most `size` data octets.

    RFC 5216 2.1.5: the first fragment of a fragmented message carries L and the total
    length, every fragment but the last carries M, and each waits for the peer's empty
    acknowledgement before the next is sent. A message that fits in one fragment goes
    without L. The caller sends `next_fragment()`, then while `pending`, hands each reply
    to `acknowledge()` before sending the next.
    """

    def __init__(self, message: bytes, size: int, version: int = 0) -> None:
        if size < 1:
            raise ValueError(f"a fragment carries at least one octet, not {size}")
        self._message = message
        self._size = size
        self._version = version
        self._offset = 0
        self._sent_first = False
        self._awaiting_ack = False

    @property
    def pending(self) -> bool:
        """Fragments are left to send after the one in flight."""
        return self._offset < len(self._message)

    def next_fragment(self) -> bytes:
        """The Type-Data of the next fragment; ValueError if the last one was not acknowledged
        or none is left."""
        if self._awaiting_ack:
            raise ValueError("the fragment in flight has not been acknowledged")
        if self._sent_first and not self.pending:
            raise ValueError("the whole message has been sent")
        fragmented = len(self._message) > self._size
        chunk = self._message[self._offset : self._offset + self._size]
        first = not self._sent_first
        self._offset += len(chunk)
        self._sent_first = True
        self._awaiting_ack = self.pending
        return encode(
            Frame(
                data=chunk,
                more=self.pending,
                length=len(self._message) if fragmented and first else None,
                version=self._version,
            )
        )

    def acknowledge(self, type_data: bytes) -> None:
        """Take the peer's reply to a fragment with M set: it must be an empty message."""
        frame = decode(type_data)
        if not self._awaiting_ack:
            raise InconsistentFragmentError("an acknowledgement for no fragment in flight")
        if not frame.is_ack:
            raise InconsistentFragmentError(
                "the peer sent data while the server's message was still in fragments"
            )
        self._awaiting_ack = False


class Reassembly:
    """The peer's fragments put back together into one TLS message, at most `limit` octets.

    `feed()` returns the whole message once its last fragment (M clear) arrives, and None
    while more are expected (the caller then acknowledges with an empty message). An empty
    message on its own (an acknowledgement, or the peer's last word after the handshake)
    comes back as b"".
    """

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._limit = limit
        self._expected: int | None = None
        self._parts: list[bytes] = []
        self._received = 0
        self._collecting = False

    @property
    def collecting(self) -> bool:
        """Part of a message has arrived and more fragments are expected."""
        return self._collecting

    def feed(self, type_data: bytes) -> bytes | None:
        """Take one Type-Data from the peer; the whole message when it is complete.

        A FragmentError leaves nothing buffered (the conversation fails on it anyway).
        """
        try:
            return self._feed(decode(type_data))
        except FragmentError:
            self._reset()
            raise

    def _feed(self, frame: Frame) -> bytes | None:
        if frame.start:
            # https://www.rfc-editor.org/rfc/rfc5216#section-3.1: S is the server's alone.
            raise InconsistentFragmentError("the S flag is set by the server only")
        if frame.length is not None:
            if frame.length > self._limit:
                raise OversizeMessageError(
                    f"a TLS message of {frame.length} octets, above the bound of {self._limit}"
                )
            if self._collecting and frame.length != self._expected:
                # Some peers repeat L on every fragment; the value may not change.
                raise InconsistentFragmentError(
                    f"TLS Message Length {frame.length} changed from {self._expected}"
                )
        if not self._collecting:
            if frame.more and frame.length is None:
                # https://www.rfc-editor.org/rfc/rfc5216#section-2.1.5: L MUST be set on
                # the first fragment of a fragmented message.
                raise InconsistentFragmentError("a first fragment without the L flag")
            self._expected = frame.length
        if frame.more and not frame.data:
            raise InconsistentFragmentError("a fragment with M set and no data")
        self._received += len(frame.data)
        if self._received > self._limit:
            raise OversizeMessageError(f"more than {self._limit} octets of TLS message")
        if self._expected is not None and self._received > self._expected:
            raise InconsistentFragmentError(
                f"more data than the TLS Message Length of {self._expected} octets"
            )
        self._parts.append(frame.data)
        if frame.more:
            self._collecting = True
            return None
        message = b"".join(self._parts)
        expected = self._expected
        self._reset()
        if expected is not None and len(message) != expected:
            raise InconsistentFragmentError(
                f"{len(message)} octets where the TLS Message Length said {expected}"
            )
        return message

    def _reset(self) -> None:
        self._expected = None
        self._parts = []
        self._received = 0
        self._collecting = False
