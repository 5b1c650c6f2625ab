"""EAP in RADIUS attributes (RFC 3579 3.1): EAP-Message split and joined. No I/O.

An EAP packet longer than one attribute's 253 octets travels in several EAP-Message
attributes, in order, which the receiver concatenates.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["MAX_CHUNK", "join", "split"]

MAX_CHUNK = 253  # RFC 2865 5: an attribute's value is at most 253 octets


def split(eap: bytes) -> list[bytes]:
    """The values of the EAP-Message attributes that carry `eap`, in order (RFC 3579 3.1)."""
    return [eap[at : at + MAX_CHUNK] for at in range(0, len(eap), MAX_CHUNK)] or [b""]


def join(values: Iterable[object]) -> bytes:
    """The EAP packet the EAP-Message values of a request carry together (RFC 3579 3.1)."""
    return b"".join(value for value in values if isinstance(value, bytes))
