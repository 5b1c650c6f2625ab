"""EAP-TLS/TTLS/PEAP framing: RFC 5216 2.1.5 and 3.2, RFC 5281 9.1."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from userman.eap.fragments import (
    DEFAULT_LIMIT,
    OVERHEAD,
    Fragmenter,
    FragmentError,
    Frame,
    InconsistentFragmentError,
    MalformedFragmentError,
    OversizeMessageError,
    Reassembly,
    decode,
    encode,
    fragment_size,
)

ACK = encode(Frame())

# https://www.rfc-editor.org/rfc/rfc5216#section-3.2 (Flags: L M S R R R R R, then the
# four-octet TLS Message Length when L is set); RFC 5281 9.1 puts TTLS's version in V V V.
VECTORS = [
    (b"\x20", Frame(start=True)),
    (b"\x00", Frame()),
    (b"\x00\x16\x03\x01", Frame(data=b"\x16\x03\x01")),
    (b"\xc0\x00\x00\x01\x00\xaa", Frame(data=b"\xaa", more=True, length=256)),
    (b"\x80\x00\x00\x00\x01\xaa", Frame(data=b"\xaa", length=1)),
    (b"\x21", Frame(start=True, version=1)),  # PEAPv1 / TTLS version bits
    (b"\x40\xbb", Frame(data=b"\xbb", more=True)),
]


@pytest.mark.parametrize(("wire", "frame"), VECTORS)
def test_vectors_decode_and_encode(wire: bytes, frame: Frame) -> None:
    assert decode(wire) == frame
    assert encode(frame) == wire


def test_reserved_bits_are_ignored_on_receipt() -> None:
    assert decode(b"\x18\xaa") == Frame(data=b"\xaa")


def test_an_empty_message_is_an_acknowledgement() -> None:
    assert decode(ACK).is_ack
    assert not decode(b"\x20").is_ack
    assert not decode(b"\x00\x01").is_ack


@pytest.mark.parametrize("wire", [b"", b"\x80", b"\x80\x00\x00\x01", b"\xc0\x00"])
def test_cut_type_data_is_malformed(wire: bytes) -> None:
    with pytest.raises(MalformedFragmentError):
        decode(wire)


def carry(message: bytes, size: int, version: int = 0) -> tuple[bytes, list[bytes]]:
    """Send `message` through a Fragmenter into a Reassembly, acknowledging each fragment."""
    sender, receiver = Fragmenter(message, size, version), Reassembly()
    fragments = [sender.next_fragment()]
    got = receiver.feed(fragments[-1])
    while sender.pending:
        assert got is None
        sender.acknowledge(ACK)
        fragments.append(sender.next_fragment())
        got = receiver.feed(fragments[-1])
    assert got is not None
    return got, fragments


def test_a_message_is_cut_with_l_on_the_first_fragment_and_m_on_all_but_the_last() -> None:
    message = bytes(range(250))
    got, fragments = carry(message, 100, version=0)
    assert got == message
    frames = [decode(f) for f in fragments]
    assert [len(f.data) for f in frames] == [100, 100, 50]
    assert [f.more for f in frames] == [True, True, False]
    assert [f.length for f in frames] == [250, None, None]
    assert all(len(f) <= 100 + 5 for f in fragments)


def test_a_message_that_fits_goes_in_one_fragment_without_l() -> None:
    got, fragments = carry(b"hello", 100)
    assert got == b"hello"
    assert fragments == [b"\x00hello"]


def test_the_version_rides_on_every_fragment() -> None:
    _, fragments = carry(b"x" * 30, 10, version=1)
    assert {decode(f).version for f in fragments} == {1}


@given(st.binary(min_size=1, max_size=3000), st.integers(min_value=1, max_value=1500))
def test_any_message_comes_back_whole(message: bytes, size: int) -> None:
    got, fragments = carry(message, size)
    assert got == message
    assert len(fragments) == -(-len(message) // size)


def test_the_next_fragment_waits_for_the_acknowledgement() -> None:
    sender = Fragmenter(b"x" * 30, 10)
    sender.next_fragment()
    with pytest.raises(ValueError, match="acknowledged"):
        sender.next_fragment()


def test_data_instead_of_an_acknowledgement_is_refused() -> None:
    sender = Fragmenter(b"x" * 30, 10)
    sender.next_fragment()
    with pytest.raises(InconsistentFragmentError):
        sender.acknowledge(b"\x00\x16")


def test_an_acknowledgement_for_nothing_in_flight_is_refused() -> None:
    sender = Fragmenter(b"x" * 5, 10)
    sender.next_fragment()
    with pytest.raises(InconsistentFragmentError):
        sender.acknowledge(ACK)


def test_an_empty_message_reassembles_to_empty() -> None:
    assert Reassembly().feed(ACK) == b""


def test_l_may_repeat_with_the_same_value() -> None:
    receiver = Reassembly()
    assert receiver.feed(encode(Frame(b"ab", more=True, length=4))) is None
    assert receiver.feed(encode(Frame(b"cd", length=4))) == b"abcd"


# Oversize: a peer cannot make the server buffer more than the bound (hostapd's 64 KiB).
def test_a_declared_length_above_the_bound_is_refused_before_buffering() -> None:
    receiver = Reassembly()
    with pytest.raises(OversizeMessageError):
        receiver.feed(encode(Frame(b"a", more=True, length=DEFAULT_LIMIT + 1)))
    assert not receiver.collecting


def test_fragments_adding_up_above_the_bound_are_refused() -> None:
    receiver = Reassembly(limit=100)
    receiver.feed(encode(Frame(b"a" * 60, more=True, length=100)))
    with pytest.raises((OversizeMessageError, InconsistentFragmentError)):
        receiver.feed(encode(Frame(b"a" * 60, more=True)))
    with pytest.raises(OversizeMessageError):
        Reassembly(limit=100).feed(encode(Frame(b"a" * 101)))


@pytest.mark.parametrize(
    "frames",
    [
        # https://www.rfc-editor.org/rfc/rfc5216#section-2.1.5: L on the first fragment.
        [Frame(b"ab", more=True)],
        [Frame(b"ab", more=True, length=4), Frame(b"cd", length=5)],  # L changed
        [Frame(b"ab", more=True, length=3), Frame(b"cd")],  # more than announced
        [Frame(b"ab", more=True, length=6), Frame(b"cd")],  # less than announced
        [Frame(b"ab", length=3)],  # one fragment shorter than its L
        [Frame(b"", more=True, length=4)],  # M with no data: no progress
        [Frame(start=True)],  # S is the server's
    ],
)
def test_inconsistent_flags_and_lengths_are_refused(frames: list[Frame]) -> None:
    receiver = Reassembly()
    *before, last = frames
    for frame in before:
        assert receiver.feed(encode(frame)) is None
    with pytest.raises(InconsistentFragmentError):
        receiver.feed(encode(last))
    assert not receiver.collecting  # nothing is kept after an error


@given(st.lists(st.binary(max_size=40), max_size=8))
def test_any_input_reassembles_or_raises_fragment_error(inputs: list[bytes]) -> None:
    receiver = Reassembly(limit=64)
    for type_data in inputs:
        with contextlib.suppress(FragmentError):
            receiver.feed(type_data)


def test_fragment_size_fits_the_framed_mtu() -> None:
    assert fragment_size(1024) == 1024
    assert fragment_size(1400, framed_mtu=1400) == 1400 - OVERHEAD
    assert fragment_size(1024, framed_mtu=1500) == 1024
    # Below RFC 3748 3.1's least EAP MTU (1020), the MTU is taken as 1020.
    assert fragment_size(1024, framed_mtu=40) == 1020 - OVERHEAD
    with pytest.raises(ValueError, match="at least one octet"):
        fragment_size(0)
