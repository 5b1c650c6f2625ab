"""Wire codecs of the scalar RADIUS data types, and the Python type each one decodes to.

    string      str, UTF-8; undecodable octets become lone surrogates ('surrogateescape'),
                so every octet string round-trips (RFC 8044 3.5 only says "UTF-8, SHOULD")
    octets      bytes
    ipaddr      ipaddress.IPv4Address                     combo-ip   IPv4Address | IPv6Address
    ipv6addr    ipaddress.IPv6Address
    ipv4prefix  ipaddress.IPv4Network (RFC 8044 3.11)     ipv6prefix IPv6Network (RFC 3162 2.3)
    integer, integer64, byte, short, signed               int (range-checked on encode)
    date        datetime, timezone-aware UTC, whole seconds (RFC 2865 5: seconds since 1970)
    ifid        bytes, 8 octets                           ether      bytes, 6 octets

`tlv` and `vsa` are structure, handled by the packet codec. This module knows no attribute
names, flags or hiding; `coerce_value` turns looser input ("10.0.0.1", "aa:bb:..", an int
for a date) into the decoded type, so a value compares equal after a round trip.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from ipaddress import (
    AddressValueError,
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    NetmaskValueError,
    ip_address,
)
from typing import TypeAlias

from userman.radius.dictionary import DataType
from userman.radius.errors import DecodeError, EncodeError

__all__ = ["ScalarValue", "coerce_value", "decode_value", "encode_value"]

ScalarValue: TypeAlias = (
    str | bytes | int | datetime | IPv4Address | IPv6Address | IPv4Network | IPv6Network
)

# Fixed wire sizes; a value of any other size does not decode.
FIXED_SIZE: dict[DataType, int] = {
    DataType.IPADDR: 4,
    DataType.IPV6ADDR: 16,
    DataType.IPV4PREFIX: 6,
    DataType.INTEGER: 4,
    DataType.INTEGER64: 8,
    DataType.DATE: 4,
    DataType.BYTE: 1,
    DataType.SHORT: 2,
    DataType.SIGNED: 4,
    DataType.IFID: 8,
    DataType.ETHER: 6,
}

_UNSIGNED = {
    DataType.BYTE: 1,
    DataType.SHORT: 2,
    DataType.INTEGER: 4,
    DataType.INTEGER64: 8,
}


def decode_value(data_type: DataType, data: bytes) -> ScalarValue:
    """The typed value of wire `data`; DecodeError for a wrong size or an invalid value."""
    return DECODERS[data_type](data)


def encode_value(data_type: DataType, value: object) -> bytes:
    """The wire form of `value` (anything `coerce_value` takes); EncodeError if it does not fit."""
    return ENCODERS[data_type](value)


def coerce_value(data_type: DataType, value: object) -> ScalarValue:
    """`value` as the type `decode_value` returns for `data_type`; EncodeError if impossible."""
    return COERCERS[data_type](value)


# --- the codec of each type, chosen once -----------------------------------------------------
# A packet holds a dozen values, and the server handles thousands of packets a second: each
# type gets its own functions here, looked up once per value, with the common case (a value
# already of the decoded type, an integer in range) first; anything else goes the general
# way (`_decode`, `_encode`, `_coerce_any` below), so both give the same values and errors.

Decoder: TypeAlias = Callable[[bytes], ScalarValue]
Encoder: TypeAlias = Callable[[object], bytes]
Coercer: TypeAlias = Callable[[object], ScalarValue]


def _decoder(data_type: DataType) -> Decoder:
    if data_type is DataType.STRING:
        return _decode_string
    if data_type in (DataType.OCTETS, DataType.VSA):
        return bytes
    convert = _FIXED_CONVERT.get(data_type)
    if convert is not None:
        size = FIXED_SIZE[data_type]

        def fixed(data: bytes) -> ScalarValue:
            if len(data) != size:
                raise DecodeError(f"{data_type.value} is {size} octets, not {len(data)}")
            return convert(data)

        return fixed
    return functools.partial(_decode, data_type)


# The fixed-size types whose value is one call on the octets.
_FIXED_CONVERT: dict[DataType, Callable[[bytes], ScalarValue]] = {
    DataType.BYTE: int.from_bytes,
    DataType.SHORT: int.from_bytes,
    DataType.INTEGER: int.from_bytes,
    DataType.INTEGER64: int.from_bytes,
    DataType.IPADDR: IPv4Address,
    DataType.IPV6ADDR: IPv6Address,
    DataType.IFID: bytes,
    DataType.ETHER: bytes,
    DataType.SIGNED: lambda data: int.from_bytes(data, signed=True),
    DataType.DATE: lambda data: datetime.fromtimestamp(int.from_bytes(data), UTC),
}


def _decode_string(data: bytes) -> ScalarValue:
    return data.decode("utf-8", "surrogateescape")


def _encoder(data_type: DataType) -> Encoder:
    general = functools.partial(_encode, data_type)
    size = _UNSIGNED.get(data_type)
    if data_type is DataType.STRING:

        def string(value: object) -> bytes:
            return _utf8(value) if type(value) is str else general(value)

        return string
    if data_type in (DataType.OCTETS, DataType.VSA):

        def octets(value: object) -> bytes:
            return value if type(value) is bytes else general(value)

        return octets
    if size is not None:
        limit = 1 << (8 * size)

        def unsigned(value: object) -> bytes:
            if type(value) is int and 0 <= value < limit:
                return value.to_bytes(size)
            return general(value)

        return unsigned
    if data_type is DataType.IPADDR:

        def ipv4(value: object) -> bytes:
            return value.packed if type(value) is IPv4Address else general(value)

        return ipv4
    if data_type is DataType.IPV6ADDR:

        def ipv6(value: object) -> bytes:
            return value.packed if type(value) is IPv6Address else general(value)

        return ipv6
    if data_type is DataType.COMBO_IP:

        def combo(value: object) -> bytes:
            if type(value) is IPv4Address or type(value) is IPv6Address:
                return value.packed
            return general(value)

        return combo
    return general


def _coercer(data_type: DataType) -> Coercer:
    general = functools.partial(_coerce_any, data_type)
    size = _UNSIGNED.get(data_type)
    if data_type is DataType.STRING:

        def string(value: object) -> ScalarValue:
            if type(value) is str:
                _utf8(value)
                return value
            return general(value)

        return string
    if data_type in (DataType.OCTETS, DataType.VSA):

        def octets(value: object) -> ScalarValue:
            return value if type(value) is bytes else general(value)

        return octets
    if size is not None:
        limit = 1 << (8 * size)

        def unsigned(value: object) -> ScalarValue:
            if type(value) is int and 0 <= value < limit:
                return value
            return general(value)

        return unsigned
    return general


def _decode(data_type: DataType, data: bytes) -> ScalarValue:
    """Every type's decoding, in one place; `decode_value` takes a shorter way where it can."""
    size = FIXED_SIZE.get(data_type)
    if size is not None and len(data) != size:
        raise DecodeError(f"{data_type.value} is {size} octets, not {len(data)}")
    match data_type:
        case DataType.STRING:
            return data.decode("utf-8", "surrogateescape")
        case DataType.OCTETS | DataType.IFID | DataType.ETHER | DataType.VSA:
            return bytes(data)
        case DataType.BYTE | DataType.SHORT | DataType.INTEGER | DataType.INTEGER64:
            return int.from_bytes(data)
        case DataType.SIGNED:
            return int.from_bytes(data, signed=True)
        case DataType.DATE:
            return datetime.fromtimestamp(int.from_bytes(data), UTC)
        case DataType.IPADDR:
            return IPv4Address(data)
        case DataType.IPV6ADDR:
            return IPv6Address(data)
        case DataType.COMBO_IP:
            if len(data) == 4:
                return IPv4Address(data)
            if len(data) == 16:
                return IPv6Address(data)
            raise DecodeError(f"combo-ip is 4 or 16 octets, not {len(data)}")
        case DataType.IPV4PREFIX:
            # https://www.rfc-editor.org/rfc/rfc8044#section-3.11
            if data[1] > 32:
                raise DecodeError(f"ipv4prefix length {data[1]} exceeds 32")
            return IPv4Network((IPv4Address(data[2:6]), data[1]), strict=False)
        case DataType.IPV6PREFIX:
            # https://www.rfc-editor.org/rfc/rfc3162#section-2.3: reserved, length, prefix
            # (only as many octets as the length needs, up to 16); host bits are cleared.
            if len(data) < 2 or len(data) > 18:
                raise DecodeError(f"ipv6prefix is 2..18 octets, not {len(data)}")
            length, prefix = data[1], data[2:]
            if length > 128 or len(prefix) * 8 < length:
                raise DecodeError(f"ipv6prefix length {length} does not fit {len(prefix)} octets")
            return IPv6Network((IPv6Address(prefix.ljust(16, b"\x00")), length), strict=False)
        case DataType.TLV:
            raise DecodeError("tlv values are decoded by the packet codec")
    raise DecodeError(f"no codec for type {data_type.value}")  # pragma: no cover


def _encode(data_type: DataType, value: object) -> bytes:
    """Every type's encoding, in one place; `encode_value` takes a shorter way where it can."""
    value = coerce_value(data_type, value)
    match data_type:
        case DataType.STRING:
            assert isinstance(value, str)
            return _utf8(value)
        case DataType.OCTETS | DataType.IFID | DataType.ETHER | DataType.VSA:
            assert isinstance(value, bytes)
            return value
        case DataType.BYTE | DataType.SHORT | DataType.INTEGER | DataType.INTEGER64:
            assert isinstance(value, int)
            return value.to_bytes(_UNSIGNED[data_type])
        case DataType.SIGNED:
            assert isinstance(value, int)
            return value.to_bytes(4, signed=True)
        case DataType.DATE:
            assert isinstance(value, datetime)
            return int(value.timestamp()).to_bytes(4)
        case DataType.IPADDR | DataType.IPV6ADDR | DataType.COMBO_IP:
            assert isinstance(value, IPv4Address | IPv6Address)
            return value.packed
        case DataType.IPV4PREFIX:
            assert isinstance(value, IPv4Network)
            return bytes([0, value.prefixlen]) + value.network_address.packed
        case DataType.IPV6PREFIX:
            assert isinstance(value, IPv6Network)
            used = (value.prefixlen + 7) // 8
            return bytes([0, value.prefixlen]) + value.network_address.packed[:used]
    raise EncodeError(f"{data_type.value} values are encoded by the packet codec")


def _coerce_any(data_type: DataType, value: object) -> ScalarValue:
    try:
        return _coerce(data_type, value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise EncodeError(f"{value!r} is not a valid {data_type.value}: {exc}") from None


def _coerce(data_type: DataType, value: object) -> ScalarValue:
    match data_type:
        case DataType.STRING:
            if isinstance(value, bytes | bytearray | memoryview):
                return bytes(value).decode("utf-8", "surrogateescape")
            if isinstance(value, str):
                _utf8(value)
                return value
        case DataType.OCTETS | DataType.VSA:
            if isinstance(value, bytes | bytearray | memoryview):
                return bytes(value)
            if isinstance(value, str):
                return _utf8(value)
        case DataType.IFID | DataType.ETHER:
            size = FIXED_SIZE[data_type]
            if isinstance(value, str):
                value = bytes.fromhex(value.replace(":", "").replace("-", "").replace(".", ""))
            if isinstance(value, bytes | bytearray | memoryview) and len(value) == size:
                return bytes(value)
            raise ValueError(f"needs {size} octets")
        case DataType.BYTE | DataType.SHORT | DataType.INTEGER | DataType.INTEGER64:
            number = _integer(value)
            if not 0 <= number < 1 << (8 * _UNSIGNED[data_type]):
                raise ValueError("out of range")
            return number
        case DataType.SIGNED:
            number = _integer(value)
            if not -(1 << 31) <= number < 1 << 31:
                raise ValueError("out of range")
            return number
        case DataType.DATE:
            if isinstance(value, datetime):
                if value.tzinfo is None:
                    raise ValueError("a date needs a time zone")
                seconds = int(value.timestamp())
            else:
                seconds = _integer(value)
            if not 0 <= seconds <= 0xFFFF_FFFF:
                raise ValueError("out of range")
            return datetime.fromtimestamp(seconds, UTC)
        case DataType.IPADDR:
            return value if isinstance(value, IPv4Address) else IPv4Address(_address(value))
        case DataType.IPV6ADDR:
            return value if isinstance(value, IPv6Address) else IPv6Address(_address(value))
        case DataType.COMBO_IP:
            if isinstance(value, IPv4Address | IPv6Address):
                return value
            return ip_address(_address(value))
        case DataType.IPV4PREFIX:
            return _network(IPv4Network, value)
        case DataType.IPV6PREFIX:
            return _network(IPv6Network, value)
    raise TypeError(f"cannot take a {type(value).__name__}")


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise EncodeError(f"{text!r} cannot be encoded as UTF-8") from None


def _integer(value: object) -> int:
    if isinstance(value, bool):
        raise TypeError("a bool is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value, 0)
    raise TypeError(f"cannot take a {type(value).__name__}")


def _address(value: object) -> str | int | bytes:
    if isinstance(value, str | int | bytes) and not isinstance(value, bool):
        return value
    raise TypeError(f"cannot take a {type(value).__name__}")


def _network(
    kind: type[IPv4Network] | type[IPv6Network], value: object
) -> IPv4Network | IPv6Network:
    if isinstance(value, kind):
        return value
    if isinstance(value, str):
        try:
            return kind(value, strict=False)
        except (AddressValueError, NetmaskValueError) as exc:
            raise ValueError(str(exc)) from None
    raise TypeError(f"cannot take a {type(value).__name__}")


DECODERS: Mapping[DataType, Decoder] = {t: _decoder(t) for t in DataType}
ENCODERS: Mapping[DataType, Encoder] = {t: _encoder(t) for t in DataType}
COERCERS: Mapping[DataType, Coercer] = {t: _coercer(t) for t in DataType}
