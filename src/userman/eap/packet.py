"""EAP packets (RFC 3748 section 4): bytes to values and back, and nothing else.

Owns the header (Code, Identifier, Length), the Type octet of Requests and Responses and the
Legacy Nak's list of types (RFC 3748 5.3.1). Bad input raises `EapDecodeError`, never anything
else. Knows nothing of RADIUS, of conversations or of methods' own data.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

__all__ = ["Code", "EapDecodeError", "EapPacket", "Type", "decode", "nak_types"]

HEADER = 4  # Code, Identifier, Length (RFC 3748 4)


class EapDecodeError(ValueError):
    """The octets are no EAP packet (RFC 3748 4: silently discarded)."""


class Code(IntEnum):
    """https://www.rfc-editor.org/rfc/rfc3748#section-4"""

    REQUEST = 1
    RESPONSE = 2
    SUCCESS = 3
    FAILURE = 4


class Type(IntEnum):
    """The method types this server knows of (https://www.rfc-editor.org/rfc/rfc3748#section-5,
    IANA's EAP registry); any other type is kept as its number."""

    IDENTITY = 1
    NOTIFICATION = 2
    NAK = 3  # Legacy Nak, in Responses only
    MD5_CHALLENGE = 4
    TLS = 13  # RFC 5216
    TTLS = 21  # RFC 5281
    PEAP = 25
    MSCHAPV2 = 26  # draft-kamath-pppext-eap-mschapv2-02
    EXPANDED = 254


@dataclass(frozen=True, slots=True)
class EapPacket:
    """One EAP packet; `type` and `data` only for a Request or a Response (RFC 3748 4.1),
    `type` as the number sent when it is none of `Type`."""

    code: Code
    identifier: int
    type: Type | int | None = None
    data: bytes = b""

    def encode(self) -> bytes:
        if self.code in (Code.SUCCESS, Code.FAILURE):
            return struct.pack("!BBH", self.code, self.identifier, HEADER)
        if self.type is None:
            raise ValueError(f"an EAP {self.code.name} needs a Type")
        length = HEADER + 1 + len(self.data)
        return struct.pack("!BBHB", self.code, self.identifier, length, self.type) + self.data


def decode(data: bytes) -> EapPacket:
    """The packet in `data`. RFC 3748 4.1: octets beyond Length are padding and ignored; a
    Length beyond the octets, a Code unknown, a Request or Response without Type, or a
    Success or Failure with data is no packet."""
    if len(data) < HEADER:
        raise EapDecodeError(f"{len(data)} octets is shorter than an EAP header")
    code_number, identifier, length = struct.unpack_from("!BBH", data)
    if length < HEADER or length > len(data):
        raise EapDecodeError(f"Length {length} does not fit the {len(data)} octets received")
    try:
        code = Code(code_number)
    except ValueError:
        raise EapDecodeError(f"unknown EAP Code {code_number}") from None
    if code in (Code.SUCCESS, Code.FAILURE):
        if length != HEADER:
            raise EapDecodeError(f"an EAP {code.name} carries no data (Length {length})")
        return EapPacket(code, identifier)
    if length == HEADER:
        raise EapDecodeError(f"an EAP {code.name} without a Type")
    number = data[HEADER]
    kind: Type | int = Type(number) if number in _TYPES else number
    return EapPacket(code, identifier, kind, bytes(data[HEADER + 1 : length]))


_TYPES = frozenset(int(t) for t in Type)


def nak_types(pkt: EapPacket) -> tuple[int, ...]:
    """The types a Legacy Nak asks for instead, in the peer's order; () for none (a Nak with
    type 0 means "no alternative"). https://www.rfc-editor.org/rfc/rfc3748#section-5.3.1"""
    return tuple(t for t in pkt.data if t != 0)
