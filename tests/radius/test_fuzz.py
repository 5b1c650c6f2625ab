"""Fuzzing the decoder: whatever the octets, `decode` returns a Packet or raises DecodeError,
never anything else; the verify_* functions answer without raising; a decoded packet
re-encodes or raises EncodeError."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from userman.radius import (
    AttributeSpec,
    Code,
    DecodeError,
    EncodeError,
    Packet,
    build,
    decode,
    encode,
    load_dictionary,
    make_avp,
    verify_message_authenticator,
    verify_request_authenticator,
    verify_response_authenticator,
)

VECTORS = Path(__file__).parent / "vectors"
SECRET = b"xyzzy5461"
REQUEST_AUTH = bytes(range(16))
D = load_dictionary(VECTORS / "dictionary.test", include_default=True)


def _seeds() -> list[bytes]:
    """Valid packets that exercise every structure the decoder knows."""
    seeds = []
    for line in (VECTORS / "rfc2865-section7.txt").read_text().split("["):
        hex_text = "".join(ln.split("#", 1)[0] for ln in line.splitlines()[1:])
        if hex_text.strip():
            seeds.append(bytes.fromhex(hex_text))
    tlv = make_avp(
        D,
        "Test-Tlv-Group",
        [("Test-Tlv-Name", "n"), ("Test-Tlv-Inner", [("Test-Tlv-Inner-Address", "10.0.0.1")])],
    )
    specs: list[AttributeSpec] = [
        ("User-Name", "fuzz"),
        ("User-Password", "secret"),
        ("Tunnel-Type", "VLAN", 1),
        ("Tunnel-Private-Group-Id", "10", 1),
        ("Tunnel-Password", "pw", 1),
        ("MS-MPPE-Send-Key", bytes(32)),
        ("MS-CHAP-MPPE-Keys", bytes(32)),
        ("Mikrotik-Rate-Limit", "1M/1M"),
        ("Test21-String", "a"),
        ("Test10-Octets", b"b"),
        ("Test40-Integer", 1),
        ("Test12-Tagged", "c", 2),
        ("Framed-IPv6-Prefix", "2001:db8::/48"),
        ("Event-Timestamp", 1),
        ("Test-Std-Tlv", [("Test-Std-Tlv-Text", "t")]),
        tlv,
    ]
    for code in (Code.ACCESS_REQUEST, Code.ACCESS_ACCEPT, Code.COA_REQUEST):
        pkt = build(D, code, 1, REQUEST_AUTH, specs)
        seeds.append(
            encode(
                pkt,
                SECRET,
                request_authenticator=REQUEST_AUTH,
                message_authenticator=True,
                salt=lambda n: b"\x80\x01",
            )
        )
    return seeds


SEEDS = _seeds()


def check(data: bytes) -> None:
    for secret in (None, SECRET):
        for request_authenticator in (None, REQUEST_AUTH):
            try:
                pkt = decode(data, D, secret=secret, request_authenticator=request_authenticator)
            except DecodeError:
                continue
            assert isinstance(pkt, Packet)
            with contextlib.suppress(EncodeError):
                encode(pkt, SECRET, request_authenticator=REQUEST_AUTH, salt=lambda n: b"\x80\x02")
    assert verify_request_authenticator(data, SECRET) in (True, False)
    assert verify_response_authenticator(data, SECRET, REQUEST_AUTH) in (True, False)
    assert verify_message_authenticator(data, SECRET, REQUEST_AUTH) in (True, False, None)
    assert verify_message_authenticator(data, SECRET) in (True, False, None)


FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_seeds_decode() -> None:
    for seed in SEEDS:
        decode(seed, D, secret=SECRET, request_authenticator=REQUEST_AUTH)
        check(seed)


@FAST
@given(st.binary(max_size=600))
@example(b"")
@example(bytes(20))
def test_arbitrary_octets(data: bytes) -> None:
    check(data)


@FAST
@given(
    st.sampled_from(list(Code)),
    st.binary(min_size=16, max_size=16),
    st.lists(
        st.tuples(
            st.sampled_from([1, 2, 4, 26, 55, 64, 69, 79, 80, 97, 231, 200]), st.binary(max_size=40)
        ),
        max_size=8,
    ),
    st.binary(max_size=16),
)
def test_well_formed_header_random_attributes(
    code: Code, auth: bytes, attrs: list[tuple[int, bytes]], tail: bytes
) -> None:
    body = b"".join(bytes([t, len(v) + 2]) + v for t, v in attrs) + tail
    check(bytes([code, 0]) + (20 + len(body)).to_bytes(2) + auth + body)


@FAST
@given(
    st.sampled_from([311, 14988, 65001, 65002, 65003, 65004, 65005, 4242]),
    st.binary(max_size=60),
)
def test_random_vendor_specific(vendor_id: int, inner: bytes) -> None:
    value = vendor_id.to_bytes(4) + inner
    body = bytes([26, len(value) + 2]) + value
    check(bytes([2, 0]) + (20 + len(body)).to_bytes(2) + bytes(16) + body)


@FAST
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), min_size=1, max_size=4),
    st.sampled_from(["flip", "truncate", "insert", "delete"]),
    st.booleans(),
)
def test_mutated_valid_packets(
    seed: bytes, edits: list[tuple[int, int]], how: str, fix_length: bool
) -> None:
    data = bytearray(seed)
    for position, value in edits:
        at = position % (len(data) + 1)
        if how == "flip" and at < len(data):
            data[at] = value
        elif how == "truncate":
            del data[at:]
        elif how == "insert":
            data[at:at] = bytes([value])
        elif how == "delete" and at < len(data):
            del data[at]
    if fix_length and len(data) >= 4:
        data[2:4] = len(data).to_bytes(2)
    check(bytes(data))
