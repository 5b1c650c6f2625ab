"""RADIUS packets cut from a RadSec byte stream by their Length field
(https://www.rfc-editor.org/rfc/rfc6614#section-2.3, RFC 2865 3: 20 to 4096 octets)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from userman.radius.errors import DecodeError
from userman.radius.stream import MAX_LENGTH, Framer


def packet(code: int, identifier: int, body: bytes = b"") -> bytes:
    length = 20 + len(body)
    return bytes([code, identifier]) + length.to_bytes(2, "big") + bytes(16) + body


STREAM = [
    packet(1, 1, b"\x01\x06user"),
    packet(4, 2),
    packet(12, 3, bytes(18)),
    packet(1, 4, bytes(MAX_LENGTH - 20)),
]


def test_a_stream_split_at_every_byte_boundary_gives_the_same_packets() -> None:
    data = b"".join(STREAM)
    for cut in range(len(data) + 1):
        framer = Framer()
        got = framer.feed(data[:cut]) + framer.feed(data[cut:])
        assert got == STREAM, cut
        assert framer.pending == 0


def test_a_stream_fed_byte_by_byte_gives_each_packet_when_its_last_byte_arrives() -> None:
    framer = Framer()
    got: list[bytes] = []
    data = b"".join(STREAM[:3])
    for n in range(len(data)):
        got += framer.feed(data[n : n + 1])
    assert got == STREAM[:3]


@given(st.lists(st.integers(min_value=0, max_value=len(b"".join(STREAM))), max_size=8))
def test_any_split_gives_the_same_packets(cuts: list[int]) -> None:
    data = b"".join(STREAM)
    bounds = [0, *sorted(cuts), len(data)]
    framer = Framer()
    got: list[bytes] = []
    for start, end in itertools.pairwise(bounds):
        got += framer.feed(data[start:end])
    assert got == STREAM


@pytest.mark.parametrize("length", [0, 4, 19, MAX_LENGTH + 1, 0xFFFF], ids=str)
def test_a_length_out_of_bounds_loses_the_stream(length: int) -> None:
    framer = Framer()
    assert framer.feed(packet(1, 1)) == [packet(1, 1)]
    with pytest.raises(DecodeError, match=f"Length {length} "):
        framer.feed(b"\x01\x02" + length.to_bytes(2, "big") + bytes(30))
    with pytest.raises(DecodeError):  # and stays lost: the next packet's start is unknown
        framer.feed(packet(1, 3))


@given(st.binary(max_size=300))
def test_garbage_either_frames_or_raises_decode_error(data: bytes) -> None:
    framer = Framer()
    try:
        packets = framer.feed(data)
    except DecodeError:
        return
    assert b"".join(packets) + data[len(data) - framer.pending :] == data
