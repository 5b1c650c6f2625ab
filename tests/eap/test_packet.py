"""EAP packets, RFC 3748 section 4: https://www.rfc-editor.org/rfc/rfc3748#section-4"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from userman.eap.packet import Code, EapDecodeError, EapPacket, Type, decode, nak_types
from userman.eap.radius import MAX_CHUNK, join, split

# (octets, packet): one table for the encoder and the decoder.
VECTORS = [
    (
        bytes.fromhex("0207000d01616c696365406578"),
        EapPacket(Code.RESPONSE, 7, Type.IDENTITY, b"alice@ex"),
    ),
    (bytes.fromhex("01010005") + b"\x01", EapPacket(Code.REQUEST, 1, Type.IDENTITY)),
    (bytes.fromhex("03090004"), EapPacket(Code.SUCCESS, 9)),
    (bytes.fromhex("04ff0004"), EapPacket(Code.FAILURE, 255)),
    (bytes.fromhex("0203000703191a"), EapPacket(Code.RESPONSE, 3, Type.NAK, b"\x19\x1a")),
    (bytes.fromhex("02030006") + b"\xc8\x00", EapPacket(Code.RESPONSE, 3, 200, b"\x00")),
]


@pytest.mark.parametrize(("wire", "pkt"), VECTORS)
def test_vectors_encode_and_decode(wire: bytes, pkt: EapPacket) -> None:
    assert decode(wire) == pkt
    assert pkt.encode() == wire


def test_octets_beyond_length_are_padding() -> None:
    # RFC 3748 4.1: "Octets outside the range of the Length field ... MUST be ignored".
    assert decode(bytes.fromhex("03090004") + b"pad") == EapPacket(Code.SUCCESS, 9)


@pytest.mark.parametrize(
    "wire",
    [
        b"",
        b"\x02\x01\x00",  # shorter than the header
        bytes.fromhex("02010009") + b"\x01",  # Length beyond the octets
        bytes.fromhex("02010003"),  # Length below the header
        bytes.fromhex("05010004"),  # no such Code
        bytes.fromhex("02010004"),  # a Response without Type
        bytes.fromhex("0301000500"),  # a Success with data
    ],
)
def test_bad_input_raises_our_error(wire: bytes) -> None:
    with pytest.raises(EapDecodeError):
        decode(wire)


@given(st.binary(max_size=40))
def test_decode_parses_or_raises_our_error(data: bytes) -> None:
    try:
        pkt = decode(data)
    except EapDecodeError:
        return
    assert decode(pkt.encode()) == pkt


def test_a_nak_lists_the_types_asked_for() -> None:
    # RFC 3748 5.3.1: type 0 means the peer has no alternative.
    assert nak_types(EapPacket(Code.RESPONSE, 1, Type.NAK, b"\x0d\x1a")) == (13, 26)
    assert nak_types(EapPacket(Code.RESPONSE, 1, Type.NAK, b"\x00")) == ()


@pytest.mark.parametrize("size", [0, 1, 253, 254, 506, 507, 1400])
def test_eap_message_splits_into_253_octet_attributes_and_joins(size: int) -> None:
    # https://www.rfc-editor.org/rfc/rfc3579#section-3.1
    eap = bytes(i % 251 for i in range(size))
    chunks = split(eap)
    assert all(len(chunk) <= MAX_CHUNK for chunk in chunks)
    assert all(len(chunk) == MAX_CHUNK for chunk in chunks[:-1])
    assert join(chunks) == eap
