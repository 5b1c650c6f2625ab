"""EAP-TTLS AVPs (RFC 5281 10-11): the tunnel's plaintext to inner credentials, and back.

Owns the Diameter AVP (RFC 6733 4.1 as RFC 5281 10.1 uses it), a sequence of them (10.2), the
inner credentials a peer sends (11.2: PAP, CHAP, MS-CHAP, MS-CHAP-V2, EAP) as core/authorize.py's
`Credentials`, and the server's answers (MS-CHAP2-Success, MS-CHAP-Error, EAP-Message). Bad data
raises an `AvpError`, never anything else:

    AvpError (ValueError)
    ├── AvpDecodeError       the octets are no sequence of AVPs (cut short, bad length or padding)
    ├── MandatoryAvpError    an AVP with M set that the server does not support (10.1: fail)
    └── CredentialsError     no usable credentials: missing, repeated, mixed, wrong lengths
        └── ChallengeMismatchError  a challenge or Ident not derived from the tunnel (11.1)

Knows nothing of TLS: the "ttls challenge" material is a parameter. No I/O.
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

from userman.core.authorize import (
    ChapCredentials,
    Credentials,
    MschapV1Credentials,
    MschapV2Credentials,
    PapCredentials,
)

__all__ = [
    "CHALLENGE_LABEL",
    "MICROSOFT",
    "Attribute",
    "Avp",
    "AvpDecodeError",
    "AvpError",
    "ChallengeMismatchError",
    "CredentialsError",
    "Inner",
    "InnerCredentials",
    "InnerEap",
    "InnerMethod",
    "MandatoryAvpError",
    "decode_avps",
    "eap_message",
    "encode_avps",
    "mschap2_success",
    "mschap_error",
    "parse_inner",
    "unsupported_mandatory",
]

MICROSOFT = 311  # the Vendor-ID of RFC 2548's attributes
CHALLENGE_LABEL = b"ttls challenge"  # RFC 5281 11.1: the exporter label of the challenge material

HEADER = 8  # AVP Code 4, Flags 1, AVP Length 3
VENDOR_HEADER = 12  # and the Vendor-ID 4
FLAG_VENDOR = 0x80  # V
FLAG_MANDATORY = 0x40  # M; the other six bits are reserved: sent as 0, ignored on receipt
MAX_LENGTH = (1 << 24) - 1
MAX_U32 = (1 << 32) - 1


class AvpError(ValueError):
    """The tunnel's data is not what RFC 5281 allows: the TTLS negotiation fails."""


class AvpDecodeError(AvpError):
    """The octets are no sequence of AVPs (RFC 5281 10.1-10.2)."""


class MandatoryAvpError(AvpError):
    """An AVP with the M bit that the server does not support (RFC 5281 10.1)."""

    def __init__(self, avp: Avp) -> None:
        vendor = f" of vendor {avp.vendor}" if avp.vendor else ""
        super().__init__(f"unsupported mandatory AVP {avp.code}{vendor}")
        self.avp = avp


class CredentialsError(AvpError):
    """The AVPs decode but carry no usable inner credentials (RFC 5281 11.2)."""


class ChallengeMismatchError(CredentialsError):
    """A CHAP or MS-CHAP challenge or Ident that is not the tunnel's (RFC 5281 11.2.2-11.2.4)."""


@dataclass(frozen=True, slots=True)
class Avp:
    """One AVP. `vendor` None sends no Vendor-ID (V clear); 0 sends one, meaning IETF."""

    code: int
    data: bytes = b""
    vendor: int | None = None
    mandatory: bool = False

    def encode(self) -> bytes:
        """The AVP's octets, padded with zeros to a multiple of 4 (RFC 5281 10.1-10.2)."""
        head = HEADER if self.vendor is None else VENDOR_HEADER
        length = head + len(self.data)
        if not 0 <= self.code <= MAX_U32 or length > MAX_LENGTH:
            raise ValueError(f"AVP code {self.code} or length {length} out of range")
        flags = FLAG_MANDATORY if self.mandatory else 0
        vendor_id = b""
        if self.vendor is not None:
            if not 0 <= self.vendor <= MAX_U32:
                raise ValueError(f"AVP Vendor-ID {self.vendor} out of range")
            flags |= FLAG_VENDOR
            vendor_id = struct.pack("!I", self.vendor)
        header = struct.pack("!II", self.code, flags << 24 | length)
        return header + vendor_id + self.data + bytes(-length % 4)


def encode_avps(avps: Iterable[Avp]) -> bytes:
    """A sequence of AVPs, each on a 4-octet boundary (RFC 5281 10.2)."""
    return b"".join(avp.encode() for avp in avps)


def decode_avps(data: bytes) -> tuple[Avp, ...]:
    """The AVPs in the tunnel's decrypted data (RFC 5281 10.2: nothing but AVPs).

    The last AVP may come without its padding (FreeRADIUS and hostapd accept that), but padding
    that is there must be whole and zero. Raises `AvpDecodeError`, never anything else.
    """
    found: list[Avp] = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < HEADER:
            raise AvpDecodeError(f"{len(data) - offset} octets at {offset} cut an AVP header")
        code, word = struct.unpack_from("!II", data, offset)
        flags, length = word >> 24, word & MAX_LENGTH
        head = VENDOR_HEADER if flags & FLAG_VENDOR else HEADER
        if length < head:
            raise AvpDecodeError(f"AVP {code} at {offset}: Length {length} below its header")
        end = offset + length
        if end > len(data):
            raise AvpDecodeError(f"AVP {code} at {offset}: Length {length} beyond the data")
        vendor = None
        if head == VENDOR_HEADER:
            vendor = struct.unpack_from("!I", data, offset + HEADER)[0]
        pad = -length % 4
        padding = data[end : end + pad]  # none at all after the last AVP is let pass
        if padding.strip(b"\0") or len(padding) not in (0, pad):
            raise AvpDecodeError(f"AVP {code} at {offset}: padding {padding.hex()} not {pad} zeros")
        found.append(Avp(code, data[offset + head : end], vendor, bool(flags & FLAG_MANDATORY)))
        offset = end + len(padding)
    return tuple(found)


class Attribute(Enum):
    """The AVPs the server understands, as (Vendor-ID, code); RFC 5281 11.2 and RFC 2548."""

    USER_NAME = (0, 1)
    USER_PASSWORD = (0, 2)
    CHAP_PASSWORD = (0, 3)
    CHAP_CHALLENGE = (0, 60)
    EAP_MESSAGE = (0, 79)
    MS_CHAP_RESPONSE = (MICROSOFT, 1)
    MS_CHAP_ERROR = (MICROSOFT, 2)  # ours to send
    MS_CHAP_CHALLENGE = (MICROSOFT, 11)
    MS_CHAP2_RESPONSE = (MICROSOFT, 25)
    MS_CHAP2_SUCCESS = (MICROSOFT, 26)  # ours to send

    @classmethod
    def of(cls, avp: Avp) -> Attribute | None:
        """The attribute `avp` is, if the server knows it. RFC 6733 4.1: Vendor-ID 0 is IETF."""
        return _ATTRIBUTES.get((avp.vendor or 0, avp.code))


_ATTRIBUTES = {a.value: a for a in Attribute}


class InnerMethod(Enum):
    """How the peer authenticates inside the tunnel (RFC 5281 11.2.1-11.2.5)."""

    EAP = "eap"
    PAP = "pap"
    CHAP = "chap"
    MSCHAP1 = "mschap1"
    MSCHAP2 = "mschap2"


@dataclass(frozen=True, slots=True)
class InnerCredentials:
    """Credentials for core/authorize.py (the `Verify` step), for the User-Name's account.

    For MS-CHAP-V2 the MS-CHAP2-Success answer needs the Ident: `credentials.response[0]`.
    """

    method: InnerMethod
    username: str
    credentials: Credentials


@dataclass(frozen=True, slots=True)
class InnerEap:
    """An inner EAP packet (EAP-Message, joined if split), and the User-Name if one came."""

    message: bytes
    username: str | None = None

    @property
    def method(self) -> InnerMethod:
        return InnerMethod.EAP


Inner = InnerCredentials | InnerEap

# What the peer may send (RFC 5281 11.2): the AVPs of each method beyond User-Name, the one
# that names the method first. User-Name is required but with EAP.
_PEER = {
    InnerMethod.EAP: (Attribute.EAP_MESSAGE,),
    InnerMethod.PAP: (Attribute.USER_PASSWORD,),
    InnerMethod.CHAP: (Attribute.CHAP_PASSWORD, Attribute.CHAP_CHALLENGE),
    InnerMethod.MSCHAP1: (Attribute.MS_CHAP_RESPONSE, Attribute.MS_CHAP_CHALLENGE),
    InnerMethod.MSCHAP2: (Attribute.MS_CHAP2_RESPONSE, Attribute.MS_CHAP_CHALLENGE),
}
_SUPPORTED = frozenset({Attribute.USER_NAME}.union(*_PEER.values()))

# RFC 5281 11.2.2-11.2.4: octets of "ttls challenge" material (the challenge, then the Ident),
# and the length of the response AVP (RFC 2865 5.3, RFC 2548 2.1.3 and 2.3.2).
_CHALLENGE_SIZE = {InnerMethod.CHAP: 16, InnerMethod.MSCHAP1: 8, InnerMethod.MSCHAP2: 16}
_RESPONSE_SIZE = {InnerMethod.CHAP: 17, InnerMethod.MSCHAP1: 50, InnerMethod.MSCHAP2: 50}


def unsupported_mandatory(avps: Iterable[Avp]) -> Avp | None:
    """The first AVP with M set that the server does not support from a peer, if any.

    RFC 5281 10.1: the recipient of such an AVP fails the negotiation; one it does not know
    but with M clear it may ignore.
    """
    for avp in avps:
        if avp.mandatory and Attribute.of(avp) not in _SUPPORTED:
            return avp
    return None


def parse_inner(data: bytes, material: Callable[[int], bytes]) -> Inner:
    """The inner request in the tunnel's decrypted `data` (RFC 5281 11.2).

    `material(n)` gives n octets of the challenge material the TLS connection exports with
    `CHALLENGE_LABEL` and no context (RFC 5281 11.1): 17 for CHAP and MS-CHAP-V2, 9 for MS-CHAP,
    asked only for those. Each method asks its own n: a TLS 1.3 exporter's output depends on
    the length asked (RFC 8446 7.5), the TLS 1.2 PRF's first octets do not.
    Empty `data` (the peer's answer to MS-CHAP2-Success) is the caller's to recognise first.
    Raises an `AvpError` subclass for anything that must fail the tunnel.
    """
    avps = decode_avps(data)
    unsupported = unsupported_mandatory(avps)
    if unsupported is not None:
        raise MandatoryAvpError(unsupported)
    found: dict[Attribute, list[bytes]] = {}
    for avp in avps:
        attribute = Attribute.of(avp)
        if attribute is not None and attribute in _SUPPORTED:
            found.setdefault(attribute, []).append(avp.data)
    methods = [m for m, attributes in _PEER.items() if attributes[0] in found]
    if len(methods) != 1:
        raise CredentialsError(f"{len(methods)} inner methods in the AVPs, not one")
    method = methods[0]
    stray = set(found) - {Attribute.USER_NAME, *_PEER[method]}
    if stray:
        raise CredentialsError(f"{', '.join(sorted(a.name for a in stray))} with {method.name}")
    user_names = found.get(Attribute.USER_NAME, [])
    if len(user_names) > 1:
        raise CredentialsError("more than one User-Name")
    username = user_names[0].decode("utf-8", "surrogateescape") if user_names else None
    if method is InnerMethod.EAP:
        # Several EAP-Message AVPs are one packet, as in RADIUS (RFC 3579 3.1).
        return InnerEap(b"".join(found[Attribute.EAP_MESSAGE]), username)
    if username is None:
        raise CredentialsError(f"{method.name} without User-Name")
    values: list[bytes] = []
    for attribute in _PEER[method]:
        got = found.get(attribute, [])
        if len(got) != 1:
            raise CredentialsError(f"{len(got)} {attribute.name} AVPs, not one")
        values.append(got[0])
    if method is InnerMethod.PAP:
        # RFC 5281 11.2.5: the password may be padded with NULs to hide its length.
        return InnerCredentials(method, username, PapCredentials(values[0].rstrip(b"\0")))
    response, challenge = values
    _check_challenge(method, challenge, response, material)
    credentials: Credentials
    if method is InnerMethod.CHAP:
        credentials = ChapCredentials(response, challenge)
    elif method is InnerMethod.MSCHAP1:
        credentials = MschapV1Credentials(challenge, response)
    else:
        credentials = MschapV2Credentials(challenge, response)
    return InnerCredentials(method, username, credentials)


def _check_challenge(
    method: InnerMethod, challenge: bytes, response: bytes, material: Callable[[int], bytes]
) -> None:
    """RFC 5281 11.2.2-11.2.4: the server must verify that the challenge and the Ident (the
    response's first octet) are the material's; a challenge of the peer's choosing would let a
    response captured outside the tunnel be replayed in it."""
    if len(response) != _RESPONSE_SIZE[method]:
        raise CredentialsError(f"{method.name} response of {len(response)} octets")
    size = _CHALLENGE_SIZE[method]
    expected = material(size + 1)
    if len(expected) != size + 1:  # the caller's mistake, not the peer's
        raise ValueError(f"challenge material of {len(expected)} octets, not {size + 1}")
    if not hmac.compare_digest(challenge, expected[:size]) or response[0] != expected[size]:
        raise ChallengeMismatchError(f"{method.name} challenge not derived from the tunnel")


# --- the server's answers -------------------------------------------------------------------------


def _ms_avp(attribute: Attribute, ident: int, value: bytes) -> bytes:
    if not 0 <= ident <= 255:
        raise ValueError(f"MS-CHAP Ident {ident} is not one octet")
    vendor, code = attribute.value
    return Avp(code, bytes((ident,)) + value, vendor, mandatory=True).encode()


def mschap2_success(ident: int, authenticator_response: bytes) -> bytes:
    """MS-CHAP2-Success (RFC 2548 2.3.3): the Ident, then "S=" and 40 hex digits (the
    `Verdict.authenticator_response`). RFC 5281 11.2.4: the peer answers with no data."""
    return _ms_avp(Attribute.MS_CHAP2_SUCCESS, ident, authenticator_response)


def mschap_error(ident: int, text: bytes) -> bytes:
    """MS-CHAP-Error (RFC 2548 2.1.5): the Ident, then the failure text (RFC 2759 6:
    b"E=691 R=0 C=<challenge in hex> V=3 M=<message>")."""
    return _ms_avp(Attribute.MS_CHAP_ERROR, ident, text)


def eap_message(packet: bytes) -> bytes:
    """An EAP-Message AVP carrying an inner EAP packet (RFC 5281 11.2.1); one AVP holds any."""
    return Avp(Attribute.EAP_MESSAGE.value[1], packet, mandatory=True).encode()
