"""RADIUS packets: codes, attribute-value pairs, the wire codec and its authenticators.

Owns the packet layout (RFC 2865 section 3), attribute, VSA and TLV structure, tags (RFC 2868
3.1), which authenticator hides which attribute, the Request and Response Authenticators
(RFC 2865 3, RFC 2866 3, RFC 5176 2.3) and Message-Authenticator (RFC 3579 3.2). Bytes in,
`Packet` out, and back. It knows no sockets, clock or randomness: salts come from the caller.
Scalar value codecs live in values.py, the hiding constructions in hiding.py, the keyed
HMAC-MD5 in digest.py.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from itertools import pairwise
from typing import TypeAlias

from userman.radius.dictionary import (
    NUMERIC_TYPES,
    VENDOR_SPECIFIC,
    AttributeDef,
    DataType,
    Dictionary,
    Encrypt,
)
from userman.radius.digest import hmac_md5
from userman.radius.errors import DecodeError, EncodeError
from userman.radius.hiding import (
    hide_user_password,
    reveal_user_password,
    salt_decrypt,
    salt_encrypt,
)
from userman.radius.values import (
    DECODERS,
    ENCODERS,
    Decoder,
    ScalarValue,
    coerce_value,
    decode_value,
    encode_value,
)

__all__ = [
    "AVP",
    "MAX_PACKET",
    "MIN_PACKET",
    "AttributeSpec",
    "Code",
    "Packet",
    "Value",
    "build",
    "decode",
    "encode",
    "encode_attribute",
    "encode_response",
    "make_avp",
    "verify_message_authenticator",
    "verify_request_authenticator",
    "verify_response_authenticator",
]

MIN_PACKET = 20  # RFC 2865 section 3: the header alone
MAX_PACKET = 4096  # RFC 2865 section 3: "The maximum length is 4096."
MAX_VALUE = 253  # RFC 2865 section 5: Length is one octet and counts the two header octets
MESSAGE_AUTHENTICATOR = 80  # RFC 3579 section 3.2
_ZERO = bytes(16)
_UNSIGNED_MA = bytes([MESSAGE_AUTHENTICATOR, 18]) + _ZERO  # its value zeroed, as HMAC'd


class Code(IntEnum):
    """Packet codes: RFC 2865 3, RFC 2866 4, RFC 5997 (Status-*), RFC 5176 2.3."""

    ACCESS_REQUEST = 1
    ACCESS_ACCEPT = 2
    ACCESS_REJECT = 3
    ACCOUNTING_REQUEST = 4
    ACCOUNTING_RESPONSE = 5
    ACCESS_CHALLENGE = 11
    STATUS_SERVER = 12
    STATUS_CLIENT = 13
    DISCONNECT_REQUEST = 40
    DISCONNECT_ACK = 41
    DISCONNECT_NAK = 42
    COA_REQUEST = 43
    COA_ACK = 44
    COA_NAK = 45

    @property
    def is_request(self) -> bool:
        return self in _RANDOM_AUTHENTICATOR or self in _COMPUTED_AUTHENTICATOR

    @property
    def is_response(self) -> bool:
        return not self.is_request


# Requests whose Request Authenticator is 16 random octets chosen by the client (RFC 2865 3).
_RANDOM_AUTHENTICATOR = frozenset({Code.ACCESS_REQUEST, Code.STATUS_SERVER, Code.STATUS_CLIENT})
# Requests whose Request Authenticator is an MD5 over the packet (RFC 2866 3, RFC 5176 2.3).
_COMPUTED_AUTHENTICATOR = frozenset(
    {Code.ACCOUNTING_REQUEST, Code.DISCONNECT_REQUEST, Code.COA_REQUEST}
)
_CODES = {int(c): c for c in Code}


@dataclass(frozen=True, slots=True)
class AVP:
    """One attribute: its definition, its typed value (see values.py) and its RFC 2868 tag.

    A TLV's value is the tuple of its sub-attributes. An attribute decoded without a secret
    whose definition says it is hidden (encrypt=N) keeps its raw wire octets as a bytes value.
    """

    definition: AttributeDef
    value: Value
    tag: int | None = None

    @property
    def name(self) -> str:
        return self.definition.name


Value: TypeAlias = ScalarValue | tuple[AVP, ...]
AttributeSpec: TypeAlias = AVP | tuple[str, object] | tuple[str, object, int | None]


@dataclass(frozen=True, slots=True)
class Packet:
    """A RADIUS packet as values. `authenticator` is the header field as received or chosen.

    Attribute names in `get`, `get_all` and `in` are compared case-insensitively with each
    attribute's definition name (an unknown attribute is named like `Attr-26.14988.99`).
    """

    code: Code
    identifier: int
    authenticator: bytes
    attributes: tuple[AVP, ...] = ()

    def get(self, name: str) -> Value | None:
        """The value of the first attribute called `name`, or None."""
        key = name.casefold()
        for avp in self.attributes:
            if avp.definition.folded == key:
                return avp.value
        return None

    def first_values(self) -> dict[str, Value]:
        """The value of each attribute's first occurrence, by its folded name: `get` for many
        names at the cost of one pass."""
        out: dict[str, Value] = {}
        for avp in reversed(self.attributes):
            out[avp.definition.folded] = avp.value
        return out

    def get_all(self, name: str) -> list[Value]:
        """The values of every attribute called `name`, in packet order."""
        key = name.casefold()
        return [avp.value for avp in self.attributes if avp.definition.folded == key]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.casefold()
        return any(avp.definition.folded == key for avp in self.attributes)

    def reply(self, code: Code, attributes: Iterable[AVP] = ()) -> Packet:
        """A response to this request: same identifier; the authenticator field holds this
        request's authenticator until `encode` computes the Response Authenticator."""
        return _packet(code, self.identifier, self.authenticator, tuple(attributes))

    @classmethod
    def build(
        cls,
        dictionary: Dictionary,
        code: Code,
        identifier: int,
        authenticator: bytes,
        attributes: Iterable[AttributeSpec] = (),
    ) -> Packet:
        """A packet from (name, value) or (name, value, tag) pairs or AVPs; see `make_avp`."""
        return build(dictionary, code, identifier, authenticator, attributes)


# A frozen dataclass's __init__ sets each field through object.__setattr__, at twice the cost
# of the slots' own setters; the codec makes an AVP for each attribute of each packet, so it
# makes them with those setters. `_avp(d, v, t)` is AVP(d, v, t) in every way, and
# `_packet(...)` is Packet(...).
_new = object.__new__
_set_definition, _set_value, _set_tag = (
    vars(AVP)[f].__set__ for f in ("definition", "value", "tag")
)
_set_code, _set_identifier, _set_authenticator, _set_attributes = (
    vars(Packet)[f].__set__ for f in ("code", "identifier", "authenticator", "attributes")
)


def _avp(definition: AttributeDef, value: Value, tag: int | None = None) -> AVP:
    avp: AVP = _new(AVP)
    _set_definition(avp, definition)
    _set_value(avp, value)
    _set_tag(avp, tag)
    return avp


def _packet(
    code: Code, identifier: int, authenticator: bytes, attributes: tuple[AVP, ...]
) -> Packet:
    pkt: Packet = _new(Packet)
    _set_code(pkt, code)
    _set_identifier(pkt, identifier)
    _set_authenticator(pkt, authenticator)
    _set_attributes(pkt, attributes)
    return pkt


def build(
    dictionary: Dictionary,
    code: Code,
    identifier: int,
    authenticator: bytes,
    attributes: Iterable[AttributeSpec] = (),
) -> Packet:
    """A packet from (name, value) or (name, value, tag) pairs or AVPs; see `make_avp`."""
    return _packet(code, identifier, authenticator, _avps(dictionary, attributes))


def _avps(dictionary: Dictionary, specs: Iterable[AttributeSpec]) -> tuple[AVP, ...]:
    out = []
    for spec in specs:
        if isinstance(spec, AVP):
            out.append(spec)
        elif isinstance(spec, tuple) and len(spec) == 2:
            out.append(make_avp(dictionary, spec[0], spec[1]))
        elif isinstance(spec, tuple) and len(spec) == 3:
            out.append(make_avp(dictionary, spec[0], spec[1], spec[2]))
        else:
            raise EncodeError(f"{spec!r} is neither an AVP nor (name, value[, tag])")
    return tuple(out)


def make_avp(dictionary: Dictionary, name: str, value: object, tag: int | None = None) -> AVP:
    """The attribute `name` with `value` made typed: a VALUE name or digits for the integer
    types, text for addresses and prefixes, an int or an aware datetime for a date, a
    sequence of AVPs or (name, value[, tag]) pairs for a TLV. EncodeError if it does not fit."""
    definition = dictionary.find(name)
    if definition is None:
        raise EncodeError(f"unknown attribute {name!r}")
    _check_tag(definition, tag)
    if definition.type is DataType.TLV:
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise EncodeError(f"{definition.name} is a tlv: its value is a list of attributes")
        children = _avps(dictionary, value)
        for child in children:
            _check_child(definition, child)
        return _avp(definition, children, tag)
    if isinstance(value, str) and definition.type in NUMERIC_TYPES:
        number = definition.value_of(value)
        if number is not None:
            return _avp(definition, number, tag)
    return _avp(definition, coerce_value(definition.type, value), tag)


def _check_tag(definition: AttributeDef, tag: int | None) -> None:
    # https://www.rfc-editor.org/rfc/rfc2868#section-3.1: tags 0x01-0x1F group tunnels.
    if tag is None:
        return
    if not definition.has_tag:
        raise EncodeError(f"{definition.name} takes no tag")
    if not 1 <= tag <= 0x1F:
        raise EncodeError(f"a tag is 1..31, not {tag}")


def _check_child(parent: AttributeDef, child: AVP) -> None:
    d = child.definition
    if d.vendor_id != parent.vendor_id or d.parents != (*parent.parents, parent.code):
        raise EncodeError(f"{d.name} is not a sub-attribute of {parent.name}")


# --- encoding --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Encoder:
    secret: bytes
    vector: bytes  # the authenticator that hides attributes of this packet
    salt: Callable[[int], bytes] | None

    def attribute(self, avp: AVP) -> bytes:
        d, value = avp.definition, avp.value
        if d.parents:
            raise EncodeError(f"{d.name} is a TLV sub-attribute; put it inside its parent")
        plain = not (d.has_tag or d.encrypt or avp.tag is not None or isinstance(value, tuple))
        if plain and d.type is not DataType.TLV:
            payload = ENCODERS[d.type](value)  # most of them: what `payload` does, in one step
        else:
            payload = self.payload(avp)
        code = d.code
        if d.vendor_id:
            # https://www.rfc-editor.org/rfc/rfc2865#section-5.26 with the vendor's t,l format
            type_size, length_size = d.vendor_format
            try:
                header = d.code.to_bytes(type_size)
                if length_size:
                    header += (type_size + length_size + len(payload)).to_bytes(length_size)
                payload = d.vendor_id.to_bytes(4) + header + payload
            except OverflowError:
                raise EncodeError(f"{d.name}: vendor or attribute number out of range") from None
            code = VENDOR_SPECIFIC
        return _tlv_bytes(code, payload, d.name)

    def payload(self, avp: AVP) -> bytes:
        d, tag = avp.definition, avp.tag
        _check_tag(d, tag)
        if d.type is DataType.TLV:
            if not isinstance(avp.value, tuple):
                raise EncodeError(f"{d.name} is a tlv: its value is a tuple of attributes")
            parts = []
            for child in avp.value:
                _check_child(d, child)
                parts.append(_tlv_bytes(child.definition.code, self.payload(child), child.name))
            raw = b"".join(parts)
        elif isinstance(avp.value, tuple):
            raise EncodeError(f"{d.name} is not a tlv")
        else:
            raw = encode_value(d.type, avp.value)
        if d.encrypt is Encrypt.USER_PASSWORD:
            # https://www.rfc-editor.org/rfc/rfc2865#section-5.2
            raw = hide_user_password(raw, self.secret, self.vector)
        elif d.encrypt is Encrypt.TUNNEL_PASSWORD:
            # https://www.rfc-editor.org/rfc/rfc2868#section-3.5: Tag, Salt, String
            raw = salt_encrypt(raw, self.secret, self.vector, self._salt(d.name))
            return bytes([tag or 0]) + raw if d.has_tag else raw
        if not d.has_tag:
            return raw
        # https://www.rfc-editor.org/rfc/rfc2868#section-3.1
        if d.type is DataType.INTEGER:
            if raw[0]:
                raise EncodeError(f"{d.name} is tagged: its value is at most 0xFFFFFF")
            return bytes([tag or 0]) + raw[1:]
        if tag is not None:
            return bytes([tag]) + raw
        if raw and raw[0] <= 0x1F:
            raise EncodeError(f"{d.name}: an untagged value cannot start with octet {raw[0]}")
        return raw

    def _salt(self, name: str) -> bytes:
        if self.salt is None:
            raise EncodeError(f"{name} is salt-encrypted: encode() needs salt=")
        salt = self.salt(2)
        if len(salt) != 2:
            raise EncodeError("salt(2) must return 2 octets")
        return bytes([salt[0] | 0x80, salt[1]])  # RFC 2868 3.5: the high bit MUST be set


def _tlv_bytes(code: int, value: bytes, name: str) -> bytes:
    if not 0 < code <= 255:
        raise EncodeError(f"{name}: attribute number {code} out of range")
    if len(value) > MAX_VALUE:
        raise EncodeError(f"{name}: value of {len(value)} octets exceeds {MAX_VALUE}")
    return bytes([code, len(value) + 2]) + value


def _ma_field(code: int, field: bytes, request_code: int | None) -> bytes:
    """The authenticator field under a Message-Authenticator's HMAC.

    Requests use their own field (16 zero octets in Accounting-, CoA- and Disconnect-Requests,
    RFC 5176 3.3), responses the Request Authenticator (RFC 3579 3.2). No RFC covers the
    Accounting-Response; FreeRADIUS (and pyrad) use 16 zero octets there, except in reply to
    a Status-Server (RFC 5997 section 3), and so does userman.
    """
    if code == Code.ACCOUNTING_RESPONSE and request_code != Code.STATUS_SERVER:
        return _ZERO
    return field


def encode(
    pkt: Packet,
    secret: bytes,
    *,
    request_authenticator: bytes | None = None,
    message_authenticator: bool = False,
    salt: Callable[[int], bytes] | None = None,
    request_code: Code | None = None,
) -> bytes:
    """The wire form of `pkt`, authenticators computed; EncodeError if it cannot be sent.

    Access-Request and Status-Server carry `pkt.authenticator` (16 random octets from the
    caller); Accounting-, CoA- and Disconnect-Requests get the computed Request Authenticator;
    every response gets the Response Authenticator over `request_authenticator`. Hidden
    attributes use the same authenticator (16 zero octets in the computed-authenticator
    requests). A Message-Authenticator in `pkt` is recomputed in place; `message_authenticator`
    puts one first, the only one (moved there from where `pkt` has it, if it has one).
    `salt(2)` supplies salts for salt-encrypted attributes.
    `request_code` matters only for an Accounting-Response's Message-Authenticator (see
    `_ma_field`).
    """
    code = pkt.code
    if not 0 <= pkt.identifier <= 255:
        raise EncodeError(f"identifier {pkt.identifier} out of range 0..255")
    if code in _RANDOM_AUTHENTICATOR:
        # https://www.rfc-editor.org/rfc/rfc2865#section-3 (Request Authenticator)
        if len(pkt.authenticator) != 16:
            raise EncodeError(f"{code.name} needs a 16-octet authenticator")
        field = pkt.authenticator
    elif code in _COMPUTED_AUTHENTICATOR:
        # https://www.rfc-editor.org/rfc/rfc2866#section-3, rfc5176#section-2.3
        field = _ZERO
    else:
        # https://www.rfc-editor.org/rfc/rfc2865#section-3 (Response Authenticator)
        if request_authenticator is None or len(request_authenticator) != 16:
            raise EncodeError(f"{code.name} needs the 16-octet request_authenticator")
        field = request_authenticator
    encoder = _Encoder(secret, field, salt)
    parts: list[bytes] = []
    ma_offsets: list[int] = []
    if message_authenticator:
        # BlastRADIUS (CVE-2024-3596) advice: Message-Authenticator first, before any attribute
        # an attacker may have chosen (a Proxy-State echoed back), so no MD5 collision prefix
        # can precede it; RFC 3579 3.2 allows one only (one in `pkt` is left out below).
        parts.append(_UNSIGNED_MA)
        ma_offsets.append(0)
    size = len(parts) * len(_UNSIGNED_MA)
    for avp in pkt.attributes:
        d = avp.definition
        if d.code == MESSAGE_AUTHENTICATOR and not d.vendor_id and not d.parents:
            if message_authenticator:
                continue  # the one put first stands for it
            ma_offsets.append(size)
            chunk = _UNSIGNED_MA
        else:
            chunk = encoder.attribute(avp)
        parts.append(chunk)
        size += len(chunk)
    body = b"".join(parts)
    return _seal(
        code,
        pkt.identifier,
        field,
        body,
        ma_offsets=ma_offsets,
        secret=secret,
        request_code=request_code,
    )


def encode_response(
    code: Code,
    identifier: int,
    request_authenticator: bytes,
    chunks: Iterable[bytes],
    secret: bytes,
    *,
    message_authenticator: bool = False,
    request_code: Code | None = None,
) -> bytes:
    """A response whose attributes are already in wire form (`encode_attribute`, perhaps made
    once and kept), with its Response Authenticator and, when asked, a Message-Authenticator
    first: what `encode` makes of the same attributes. `chunks` hold no Message-Authenticator.
    https://www.rfc-editor.org/rfc/rfc2865#section-3 (Response Authenticator)"""
    if code in _RANDOM_AUTHENTICATOR or code in _COMPUTED_AUTHENTICATOR:
        raise EncodeError(f"{code.name} is not a response")
    if len(request_authenticator) != 16:
        raise EncodeError(f"{code.name} needs the 16-octet request_authenticator")
    body = b"".join(chunks)
    if message_authenticator:
        body = _UNSIGNED_MA + body
    offsets = [0] if message_authenticator else []
    return _seal(
        code,
        identifier,
        request_authenticator,
        body,
        ma_offsets=offsets,
        secret=secret,
        request_code=request_code,
    )


def encode_attribute(
    avp: AVP,
    *,
    secret: bytes = b"",
    vector: bytes | None = None,
    salt: Callable[[int], bytes] | None = None,
) -> bytes:
    """The wire form of one attribute, as `encode` puts it in a packet. A hidden one
    (User-Password, Tunnel-Password, salt-encrypted) needs the packet's `vector` (a response's:
    the Request Authenticator) and `secret`, and `salt` for salt-encryption; any other is the
    same in every packet."""
    if avp.definition.encrypt is not Encrypt.NONE and vector is None:
        raise EncodeError(f"{avp.name} is hidden with the packet's authenticator")
    return _Encoder(secret, vector or _ZERO, salt).attribute(avp)


def _seal(
    code: int,
    identifier: int,
    field: bytes,
    body: bytes,
    *,
    ma_offsets: list[int],
    secret: bytes,
    request_code: int | None,
) -> bytes:
    """Header, authenticator and body: the Message-Authenticators at `ma_offsets` of `body`
    signed, the Response or Request Authenticator computed where the code wants one."""
    length = MIN_PACKET + len(body)
    if length > MAX_PACKET:
        raise EncodeError(f"packet of {length} octets exceeds {MAX_PACKET}")
    if not 0 <= identifier <= 255:
        raise EncodeError(f"identifier {identifier} out of range 0..255")
    header = bytes([code, identifier]) + length.to_bytes(2)
    if ma_offsets:
        # https://www.rfc-editor.org/rfc/rfc3579#section-3.2, rfc5176#section-3.3: HMAC-MD5
        # over the packet with the field zeroed, before the Response Authenticator.
        ma_field = _ma_field(code, field, request_code)
        mac = hmac_md5(secret, header + ma_field + body)
        spliced = bytearray(body)
        for offset in ma_offsets:
            spliced[offset + 2 : offset + 18] = mac
        body = bytes(spliced)
    if code in _RANDOM_AUTHENTICATOR:
        return header + field + body
    return header + hashlib.md5(header + field + body + secret).digest() + body


# --- decoding --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Decoder:
    dictionary: Dictionary
    secret: bytes | None
    vector: bytes | None  # the authenticator that hides attributes; None: keep them raw

    def attributes(self, data: bytes, start: int, end: int) -> list[AVP]:
        """The attributes in data[start:end], each decoded as its header is checked; the first
        malformed header is the error, before any value that does not decode."""
        out: list[AVP] = []
        table = _table(self.dictionary)
        definitions, decoders = table.definitions, table.decoders
        at = start
        while at < end:
            length = data[at + 1] if end - at >= 2 else 0
            next_at = at + length
            if length < 2 or next_at > end:
                _attribute_end(data, at, end, self._name)  # raises the error that says why
            code = data[at]
            decoder = decoders[code]
            try:
                if code == VENDOR_SPECIFIC:
                    out.extend(self._vsa(data, at + 2, next_at))
                elif decoder is None:
                    out.append(self.avp(definitions[code], data[at + 2 : next_at], at))
                else:  # a plain value: what `avp` does for it, in one step
                    out.append(_avp(definitions[code], decoder(data[at + 2 : next_at])))
            except DecodeError as exc:
                failure = exc
                if exc.offset is None and decoder is not None:
                    failure = DecodeError(exc.message, at, definitions[code].name)
                break
            at = next_at
        else:
            return out
        _walk(data, next_at, end, self._name)  # a malformed header further on comes first
        raise failure

    def _name(self, code: int) -> str:
        return self.dictionary.lookup(code).name

    # https://www.rfc-editor.org/rfc/rfc2865#section-5.26
    def _vsa(self, data: bytes, start: int, end: int) -> list[AVP]:
        if end - start < 4:
            raise DecodeError("Vendor-Specific without a Vendor-Id", start - 2, "Vendor-Specific")
        vendor_id = int.from_bytes(data[start : start + 4])
        vendor = self.dictionary.vendor(vendor_id)
        type_size, length_size = self.dictionary.vendor_format(vendor_id)
        parts = _split_vsa(data, start + 4, end, type_size, length_size)
        if isinstance(parts, tuple):
            message, offset = parts
            if vendor is None:  # an unknown vendor's own layout: keep the VSA whole
                raw = self.dictionary.lookup(VENDOR_SPECIFIC)
                return [AVP(raw, data[start:end])]
            raise DecodeError(message, offset, f"Vendor-Specific {vendor.name}")
        out = []
        for (code, at, value_at), (_, next_at, _) in pairwise(parts):
            definition = self.dictionary.lookup(code, vendor_id)
            out.append(self.avp(definition, data[value_at:next_at], at))
        return out

    def avp(self, definition: AttributeDef, payload: bytes, offset: int) -> AVP:
        name = definition.name
        tag: int | None = None
        if definition.has_tag:
            # https://www.rfc-editor.org/rfc/rfc2868#section-3.1
            if definition.type is DataType.INTEGER:
                if len(payload) != 4:
                    raise DecodeError(f"integer is 4 octets, not {len(payload)}", offset, name)
                tag = payload[0] if 1 <= payload[0] <= 0x1F else None
                return AVP(definition, int.from_bytes(payload[1:]), tag)
            if definition.encrypt is Encrypt.TUNNEL_PASSWORD:
                if not payload:
                    raise DecodeError("tagged value without its tag", offset, name)
                tag = payload[0] if 1 <= payload[0] <= 0x1F else None
                payload = payload[1:]
            elif payload and 1 <= payload[0] <= 0x1F:
                tag, payload = payload[0], payload[1:]
        try:
            if definition.encrypt is not Encrypt.NONE:
                revealed = self._reveal(definition, payload)
                if revealed is None:
                    return AVP(definition, bytes(payload), tag)
                payload = revealed
            if definition.type is DataType.TLV:
                return AVP(definition, self._tlv(definition, payload, offset + 2), tag)
            return AVP(definition, decode_value(definition.type, payload), tag)
        except DecodeError as exc:
            if exc.offset is not None:
                raise
            raise DecodeError(exc.message, offset, name) from None

    def _reveal(self, definition: AttributeDef, payload: bytes) -> bytes | None:
        if self.secret is None or self.vector is None:
            return None
        if definition.encrypt is Encrypt.USER_PASSWORD:
            # https://www.rfc-editor.org/rfc/rfc2865#section-5.2; RFC 2548 2.4.1 keeps padding
            strip = definition.type is DataType.STRING
            return reveal_user_password(payload, self.secret, self.vector, strip=strip)
        if definition.encrypt is Encrypt.TUNNEL_PASSWORD:
            # https://www.rfc-editor.org/rfc/rfc2868#section-3.5, rfc2548#section-2.4.2
            return salt_decrypt(payload, self.secret, self.vector)
        return None  # Encrypt.ASCEND_SECRET: not revealed

    def _tlv(self, parent: AttributeDef, data: bytes, start: int) -> tuple[AVP, ...]:
        out = []
        for code, value_at, value_end in _walk(data, 0, len(data), lambda c: parent.child(c).name):
            child = parent.child(code)
            out.append(self.avp(child, data[value_at:value_end], start + value_at - 2))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class _Table:
    """What decoding needs of one dictionary, for each attribute number of the RFC space: its
    definition (`Attr-N` when undefined) and, for a plain one (not tagged, hidden, a TLV or
    Vendor-Specific), the decoder of its type; None sends it the general way."""

    definitions: tuple[AttributeDef, ...]
    decoders: tuple[Decoder | None, ...]


@functools.lru_cache(maxsize=8)
def _table(dictionary: Dictionary) -> _Table:
    """The decoding table of `dictionary`, made once (a Dictionary never changes)."""
    definitions = tuple(dictionary.lookup(code) for code in range(256))
    decoders = tuple(
        None
        if d.has_tag
        or d.encrypt
        or d.type in (DataType.TLV, DataType.VSA)
        or d.code == VENDOR_SPECIFIC
        else DECODERS[d.type]
        for d in definitions
    )
    return _Table(definitions, decoders)


def _walk(
    data: bytes, start: int, end: int, name: Callable[[int], str]
) -> list[tuple[int, int, int]]:
    """(type, value start, value end) of each type-length-value in data[start:end]."""
    out = []
    at = start
    while at < end:
        next_at = _attribute_end(data, at, end, name)
        out.append((data[at], at + 2, next_at))
        at = next_at
    return out


def _attribute_end(data: bytes, at: int, end: int, name: Callable[[int], str]) -> int:
    """Where the type-length-value at `at` ends; DecodeError when it does not fit data[:end]."""
    if end - at < 2:
        raise DecodeError("truncated attribute header", at)
    length = data[at + 1]
    if length < 2:
        raise DecodeError(f"attribute length {length} is less than 2", at, name(data[at]))
    if at + length > end:
        raise DecodeError("attribute overruns the packet", at, name(data[at]))
    return at + length


def _split_vsa(
    data: bytes, start: int, end: int, type_size: int, length_size: int
) -> list[tuple[int, int, int]] | tuple[str, int]:
    """Sub-attributes of a VSA as (type, offset, value offset), closed by (0, end, end);
    or (message, offset) when the octets do not follow the vendor format."""
    out: list[tuple[int, int, int]] = []
    at = start
    while at < end:
        header = type_size + length_size
        if end - at < header:
            return ("truncated vendor attribute header", at)
        code = int.from_bytes(data[at : at + type_size])
        if length_size:
            length = int.from_bytes(data[at + type_size : at + header])
            if length < header or at + length > end:
                return (f"vendor attribute length {length} does not fit", at)
        else:
            length = end - at  # format t,0: one attribute fills the VSA
        out.append((code, at, at + header))
        at += length
    if not out:
        return ("Vendor-Specific without a vendor attribute", start)
    out.append((0, end, end))
    return out


def decode(
    data: bytes,
    dictionary: Dictionary,
    *,
    secret: bytes | None = None,
    request_authenticator: bytes | None = None,
) -> Packet:
    """The packet in `data`, validated strictly (RFC 2865 sections 3 and 5); raises only
    DecodeError. Octets beyond the Length field are padding and ignored.

    With `secret`, hidden attributes are revealed: in requests with the packet's own
    authenticator (16 zero octets for Accounting/CoA/Disconnect), in responses with
    `request_authenticator`. Without them, hidden attributes keep their raw octets (bytes).
    No authenticator is verified here: see the verify_* functions.
    """
    data = bytes(data)
    if len(data) < MIN_PACKET:
        raise DecodeError(f"packet of {len(data)} octets is shorter than {MIN_PACKET}", 0)
    if len(data) > MAX_PACKET:
        raise DecodeError(f"packet of {len(data)} octets exceeds {MAX_PACKET}", 0)
    code = _CODES.get(data[0])
    if code is None:
        raise DecodeError(f"unknown packet code {data[0]}", 0)
    length = int.from_bytes(data[2:4])
    # https://www.rfc-editor.org/rfc/rfc2865#section-3 (Length)
    if length < MIN_PACKET or length > len(data):
        raise DecodeError(f"Length field {length} does not fit {len(data)} octets", 2)
    authenticator = data[4:20]
    vector: bytes | None
    if code in _RANDOM_AUTHENTICATOR:
        vector = authenticator
    elif code in _COMPUTED_AUTHENTICATOR:
        vector = _ZERO
    else:
        vector = request_authenticator
    if vector is not None and len(vector) != 16:
        raise DecodeError("request_authenticator must be 16 octets")
    decoder = _Decoder(dictionary, secret, vector)
    attributes = decoder.attributes(data, MIN_PACKET, length)
    return _packet(code, data[1], authenticator, tuple(attributes))


# --- verification ----------------------------------------------------------------------------


def _length(data: bytes) -> int | None:
    if len(data) < MIN_PACKET:
        return None
    length = int.from_bytes(data[2:4])
    return length if MIN_PACKET <= length <= len(data) else None


def verify_request_authenticator(data: bytes, secret: bytes) -> bool:
    """Whether an Accounting-, CoA- or Disconnect-Request carries the right Request
    Authenticator: MD5(Code+Identifier+Length+16 zero octets+Attributes+Secret).
    https://www.rfc-editor.org/rfc/rfc2866#section-3, rfc5176#section-2.3"""
    length = _length(data)
    if length is None:
        return False
    expected = hashlib.md5(data[:4] + _ZERO + data[20:length] + secret).digest()
    return hmac.compare_digest(expected, data[4:20])


def verify_response_authenticator(data: bytes, secret: bytes, request_authenticator: bytes) -> bool:
    """Whether a response carries MD5(Code+ID+Length+RequestAuth+Attributes+Secret).
    https://www.rfc-editor.org/rfc/rfc2865#section-3"""
    length = _length(data)
    if length is None:
        return False
    expected = hashlib.md5(data[:4] + request_authenticator + data[20:length] + secret).digest()
    return hmac.compare_digest(expected, data[4:20])


def verify_message_authenticator(
    data: bytes,
    secret: bytes,
    request_authenticator: bytes | None = None,
    *,
    request_code: Code | None = None,
) -> bool | None:
    """Whether the packet's Message-Authenticator is right; None when it has none.

    Pass `request_authenticator` for responses (and `request_code` for an Accounting-Response
    to a Status-Server). Requests use their own authenticator field, Accounting-, CoA- and
    Disconnect-Requests 16 zero octets (RFC 5176 3.3). A malformed packet, a
    Message-Authenticator of the wrong size or more than one of them: False.
    https://www.rfc-editor.org/rfc/rfc3579#section-3.2
    """
    length = _length(data)
    if length is None:
        return False
    found = []  # where each Message-Authenticator's value is
    at = MIN_PACKET
    while at < length:
        size = data[at + 1] if length - at >= 2 else 0
        if size < 2 or at + size > length:
            return False  # malformed
        if data[at] == MESSAGE_AUTHENTICATOR:
            found.append(at + 2)
        at += size
    if not found:
        return None
    value_at = found[0]
    if len(found) > 1 or data[value_at - 1] != 18:
        return False
    if data[0] in _COMPUTED_AUTHENTICATOR:
        field = _ZERO
    elif data[0] in _RANDOM_AUTHENTICATOR or request_authenticator is None:
        field = data[4:20]
    else:
        field = _ma_field(data[0], request_authenticator, request_code)
    zeroed = data[:4] + field + data[20:value_at] + _ZERO + data[value_at + 16 : length]
    expected = hmac_md5(secret, zeroed)
    return hmac.compare_digest(expected, data[value_at : value_at + 16])
