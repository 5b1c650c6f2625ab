"""Value codecs: one table of (type, value, wire) vectors drives encode and decode; sizes,
ranges and coercions; hypothesis round trips."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from userman.radius import DataType, DecodeError, EncodeError, RadiusError, coerce_value, values
from userman.radius.values import FIXED_SIZE, decode_value, encode_value

VECTORS: list[tuple[DataType, object, str]] = [
    (DataType.STRING, "nemo", "6e656d6f"),
    (DataType.STRING, "", ""),
    (DataType.STRING, "é", "c3a9"),
    (DataType.STRING, "\udcff", "ff"),  # invalid UTF-8 kept as a lone surrogate
    (DataType.OCTETS, b"\x00\xff", "00ff"),
    (DataType.IPADDR, IPv4Address("192.168.1.16"), "c0a80110"),
    (DataType.IPV6ADDR, IPv6Address("2001:db8::1"), "20010db8000000000000000000000001"),
    (DataType.COMBO_IP, IPv4Address("10.0.0.1"), "0a000001"),
    (DataType.COMBO_IP, IPv6Address("::1"), "00000000000000000000000000000001"),
    # https://www.rfc-editor.org/rfc/rfc3162#section-2.3: only the octets the length needs
    (DataType.IPV6PREFIX, IPv6Network("2001:db8::/32"), "002020010db8"),
    (DataType.IPV6PREFIX, IPv6Network("2001:db8:0:10::/60"), "003c20010db800000010"),
    (DataType.IPV6PREFIX, IPv6Network("::/0"), "0000"),
    (DataType.IPV6PREFIX, IPv6Network("::1/128"), "0080" + "00" * 15 + "01"),
    # https://www.rfc-editor.org/rfc/rfc8044#section-3.11
    (DataType.IPV4PREFIX, IPv4Network("10.0.0.0/8"), "00080a000000"),
    (DataType.INTEGER, 3, "00000003"),
    (DataType.INTEGER, 0xFFFFFFFF, "ffffffff"),
    (DataType.INTEGER64, 2**40, "0000010000000000"),
    (DataType.BYTE, 7, "07"),
    (DataType.SHORT, 0x1234, "1234"),
    (DataType.SIGNED, -1, "ffffffff"),
    (DataType.SIGNED, 2**31 - 1, "7fffffff"),
    (DataType.DATE, datetime(2000, 1, 1, tzinfo=UTC), "386d4380"),
    (DataType.IFID, bytes.fromhex("0200 5efe c0a8 0101"), "02005efec0a80101"),
    (DataType.ETHER, bytes.fromhex("aabbccddeeff"), "aabbccddeeff"),
]


@pytest.mark.parametrize(("data_type", "value", "wire"), VECTORS)
def test_vectors_encode(data_type: DataType, value: object, wire: str) -> None:
    assert encode_value(data_type, value) == bytes.fromhex(wire)


@pytest.mark.parametrize(("data_type", "value", "wire"), VECTORS)
def test_vectors_decode(data_type: DataType, value: object, wire: str) -> None:
    assert decode_value(data_type, bytes.fromhex(wire)) == value


def test_full_length_ipv6_prefix_and_host_bits_decode() -> None:
    full = bytes.fromhex("0020" + "20010db8" + "ff" * 12)
    assert decode_value(DataType.IPV6PREFIX, full) == IPv6Network("2001:db8::/32")


@pytest.mark.parametrize(("data_type", "size"), sorted(FIXED_SIZE.items(), key=str))
def test_wrong_size_is_a_decode_error(data_type: DataType, size: int) -> None:
    for wrong in (size - 1, size + 1):
        with pytest.raises(DecodeError, match=f"{size} octets"):
            decode_value(data_type, bytes(wrong))


@pytest.mark.parametrize(
    ("data_type", "wire"),
    [
        (DataType.IPV6PREFIX, "00"),
        (DataType.IPV6PREFIX, "0081" + "00" * 16),  # length 129
        (DataType.IPV6PREFIX, "004020010db8"),  # /64 needs 8 octets
        (DataType.IPV6PREFIX, "0080" + "00" * 17),  # 19 octets
        (DataType.IPV4PREFIX, "00210a000000"),  # length 33
        (DataType.COMBO_IP, "0a0000"),
        (DataType.TLV, "0103aa"),
    ],
)
def test_invalid_values_are_decode_errors(data_type: DataType, wire: str) -> None:
    with pytest.raises(DecodeError):
        decode_value(data_type, bytes.fromhex(wire))


@pytest.mark.parametrize(
    ("data_type", "value"),
    [
        (DataType.INTEGER, -1),
        (DataType.INTEGER, 2**32),
        (DataType.BYTE, 256),
        (DataType.SHORT, 65536),
        (DataType.SIGNED, 2**31),
        (DataType.INTEGER64, 2**64),
        (DataType.INTEGER, True),
        (DataType.INTEGER, 1.5),
        (DataType.DATE, datetime(2000, 1, 1)),  # naive: which zone?
        (DataType.DATE, -1),
        (DataType.DATE, datetime(2200, 1, 1, tzinfo=UTC)),
        (DataType.IPADDR, "300.1.1.1"),
        (DataType.IPADDR, IPv6Address("::1")),
        (DataType.IPV6PREFIX, "2001:db8::/129"),
        (DataType.IPV6PREFIX, 5),
        (DataType.ETHER, b"\x00" * 5),
        (DataType.ETHER, "zz:zz"),
        (DataType.STRING, 5),
        (DataType.STRING, "\ud800"),  # a surrogate that is not an escaped octet
        (DataType.OCTETS, 5),
        (DataType.TLV, b""),
    ],
)
def test_values_that_do_not_fit_are_encode_errors(data_type: DataType, value: object) -> None:
    with pytest.raises(EncodeError):
        encode_value(data_type, value)


@pytest.mark.parametrize(
    ("data_type", "given_value", "typed"),
    [
        (DataType.STRING, b"ab\xff", "ab\udcff"),
        (DataType.OCTETS, "ab", b"ab"),
        (DataType.OCTETS, bytearray(b"x"), b"x"),
        (DataType.INTEGER, "0x10", 16),
        (DataType.IPADDR, "10.0.0.1", IPv4Address("10.0.0.1")),
        (DataType.IPADDR, 167772161, IPv4Address("10.0.0.1")),
        (DataType.IPV6ADDR, "::1", IPv6Address("::1")),
        (DataType.COMBO_IP, "::1", IPv6Address("::1")),
        (DataType.IPV6PREFIX, "2001:db8::1/32", IPv6Network("2001:db8::/32")),
        (DataType.IPV4PREFIX, "10.1.0.0/8", IPv4Network("10.0.0.0/8")),
        (DataType.DATE, 946684800, datetime(2000, 1, 1, tzinfo=UTC)),
        (
            DataType.DATE,
            datetime(2000, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))),
            datetime(2000, 1, 1, tzinfo=UTC),
        ),
        (DataType.ETHER, "aa:bb:cc:dd:ee:ff", bytes.fromhex("aabbccddeeff")),
        (DataType.ETHER, "AA-BB-CC-DD-EE-FF", bytes.fromhex("aabbccddeeff")),
        (DataType.IFID, "0000:0000:0000:0001", bytes.fromhex("0000000000000001")),
    ],
)
def test_coerce_to_the_decoded_type(
    data_type: DataType, given_value: object, typed: object
) -> None:
    assert coerce_value(data_type, given_value) == typed


SCALARS: dict[DataType, st.SearchStrategy[object]] = {
    DataType.STRING: st.binary(max_size=64).map(lambda b: b.decode("utf-8", "surrogateescape")),
    DataType.OCTETS: st.binary(max_size=64),
    DataType.IPADDR: st.ip_addresses(v=4),
    DataType.IPV6ADDR: st.ip_addresses(v=6),
    DataType.COMBO_IP: st.ip_addresses(),
    DataType.IPV6PREFIX: st.builds(
        lambda a, n: IPv6Network((a, n), strict=False), st.ip_addresses(v=6), st.integers(0, 128)
    ),
    DataType.IPV4PREFIX: st.builds(
        lambda a, n: IPv4Network((a, n), strict=False), st.ip_addresses(v=4), st.integers(0, 32)
    ),
    DataType.INTEGER: st.integers(0, 2**32 - 1),
    DataType.INTEGER64: st.integers(0, 2**64 - 1),
    DataType.BYTE: st.integers(0, 255),
    DataType.SHORT: st.integers(0, 2**16 - 1),
    DataType.SIGNED: st.integers(-(2**31), 2**31 - 1),
    DataType.DATE: st.integers(0, 2**32 - 1).map(lambda s: datetime.fromtimestamp(s, UTC)),
    DataType.IFID: st.binary(min_size=8, max_size=8),
    DataType.ETHER: st.binary(min_size=6, max_size=6),
}


@settings(max_examples=300)
@given(
    st.sampled_from(sorted(SCALARS, key=str)).flatmap(lambda t: st.tuples(st.just(t), SCALARS[t]))
)
def test_round_trip(case: tuple[DataType, object]) -> None:
    data_type, value = case
    assert decode_value(data_type, encode_value(data_type, value)) == value


@settings(max_examples=300)
@given(st.sampled_from(sorted(SCALARS, key=str)), st.binary(max_size=24))
def test_arbitrary_octets_decode_or_raise_decode_error(data_type: DataType, data: bytes) -> None:
    try:
        value = decode_value(data_type, data)
    except DecodeError:
        return
    # what decodes re-encodes to the same octets, except prefixes (host bits, extra octets)
    if data_type not in (DataType.IPV6PREFIX, DataType.IPV4PREFIX):
        assert encode_value(data_type, value) == data


# Anything a caller may hand over: each type's values, and values of the wrong types.
ANY_VALUE: st.SearchStrategy[object] = st.one_of(
    *SCALARS.values(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([n + d for n in (0, 2**8, 2**16, 2**31, 2**32, 2**64) for d in (-1, 0)]),
    st.sampled_from([-(2**31) - 1, -(2**31)]),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.binary(max_size=8).map(bytearray),
    st.floats(allow_nan=False),
    st.none(),
)


def _outcome(work: Callable[[], object]) -> tuple[str, object]:
    try:
        return ("value", work())
    except RadiusError as error:
        return (type(error).__name__, str(error))


@settings(max_examples=500)
@given(st.sampled_from(list(DataType)), ANY_VALUE, st.binary(max_size=20))
def test_each_types_own_codec_answers_as_the_general_one(
    data_type: DataType, value: object, data: bytes
) -> None:
    """values.py gives each type a shorter way for the common case (values.DECODERS, ...): it
    must give the same values, and the same errors, as the general way."""
    assert _outcome(lambda: decode_value(data_type, data)) == _outcome(
        lambda: values._decode(data_type, data)
    )
    assert _outcome(lambda: encode_value(data_type, value)) == _outcome(
        lambda: values._encode(data_type, value)
    )
    assert _outcome(lambda: coerce_value(data_type, value)) == _outcome(
        lambda: values._coerce_any(data_type, value)
    )
