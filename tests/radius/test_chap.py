"""PAP and CHAP checks: RFC 1994 responses, RFC 2865 5.2/5.3 attribute values, bad input."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from userman.radius.chap import chap_response, verify_chap, verify_pap

# https://www.rfc-editor.org/rfc/rfc2865#section-5.2: the revealed value may carry NUL padding.
PAP_CASES = [
    # (offered, password, expected)
    (b"test", b"test", True),
    (b"test\0\0\0\0\0\0\0\0\0\0\0\0", b"test", True),
    (b"test", b"Test", False),
    (b"tes", b"test", False),
    (b"test1", b"test", False),
    (b"", b"", True),
    (b"\0" * 16, b"", True),
    (b"", b"x", False),
    ("пароль".encode(), "пароль".encode(), True),
]


@pytest.mark.parametrize(("offered", "password", "expected"), PAP_CASES)
def test_verify_pap(offered: bytes, password: bytes, expected: bool) -> None:
    assert verify_pap(offered, password) is expected


# https://www.rfc-editor.org/rfc/rfc1994#section-4.1: Response = MD5(Identifier || secret ||
# Challenge). Expected values computed straight from that definition with MD5, not our code.
CHAP_VECTORS = [
    # (ident, password, challenge hex, response hex)
    (
        0x01,
        b"password",
        "000102030405060708090a0b0c0d0e0f",
        hashlib.md5(b"\x01password" + bytes(range(16))).hexdigest(),
    ),
    (
        0xFF,
        b"test",
        "c0ffee",
        hashlib.md5(b"\xfftest\xc0\xff\xee").hexdigest(),
    ),
    (0x00, b"", "00", hashlib.md5(b"\x00\x00").hexdigest()),
]


@pytest.mark.parametrize(("ident", "password", "challenge", "response"), CHAP_VECTORS)
def test_chap_response_is_md5_of_ident_secret_challenge(
    ident: int, password: bytes, challenge: str, response: str
) -> None:
    assert chap_response(ident, password, bytes.fromhex(challenge)).hex() == response


@pytest.mark.parametrize(("ident", "password", "challenge", "response"), CHAP_VECTORS)
def test_verify_chap_accepts_the_vector(
    ident: int, password: bytes, challenge: str, response: str
) -> None:
    # https://www.rfc-editor.org/rfc/rfc2865#section-5.3: CHAP Ident (1) + String (16)
    chap_password = bytes((ident,)) + bytes.fromhex(response)
    assert verify_chap(chap_password, bytes.fromhex(challenge), password)
    assert not verify_chap(chap_password, bytes.fromhex(challenge), password + b"x")


def test_verify_chap_uses_the_challenge_the_caller_picks() -> None:
    # https://www.rfc-editor.org/rfc/rfc2865#section-5.3: without a CHAP-Challenge attribute the
    # Request Authenticator is the challenge; with one, that attribute is.
    request_authenticator = bytes.fromhex("8f2b5ec64a9cf04bbd4d7d9b6ee14ce0")
    chap_challenge = bytes.fromhex("0123456789abcdef0123456789abcdef")
    by_authenticator = b"\x2a" + chap_response(0x2A, b"secret", request_authenticator)
    by_attribute = b"\x2a" + chap_response(0x2A, b"secret", chap_challenge)
    assert verify_chap(by_authenticator, request_authenticator, b"secret")
    assert not verify_chap(by_authenticator, chap_challenge, b"secret")
    assert verify_chap(by_attribute, chap_challenge, b"secret")
    assert not verify_chap(by_attribute, request_authenticator, b"secret")


def test_verify_chap_checks_the_ident_octet() -> None:
    challenge = bytes(16)
    good = b"\x05" + chap_response(5, b"pw", challenge)
    assert verify_chap(good, challenge, b"pw")
    assert not verify_chap(b"\x06" + good[1:], challenge, b"pw")


@pytest.mark.parametrize("length", [0, 1, 16, 18, 33])
def test_verify_chap_wrong_length_is_false(length: int) -> None:
    assert verify_chap(bytes(length), bytes(16), b"pw") is False


def test_verify_chap_empty_challenge_is_false() -> None:
    chap_password = b"\x01" + chap_response(1, b"pw", b"")
    assert verify_chap(chap_password, b"", b"pw") is False


@settings(max_examples=100, deadline=None)
@given(
    ident=st.integers(0, 255),
    password=st.binary(max_size=64),
    other=st.binary(max_size=64),
    challenge=st.binary(min_size=1, max_size=64),
)
def test_chap_round_trip(ident: int, password: bytes, other: bytes, challenge: bytes) -> None:
    chap_password = bytes((ident,)) + chap_response(ident, password, challenge)
    assert verify_chap(chap_password, challenge, password)
    assert verify_chap(chap_password, challenge, other) is (other == password)


@settings(max_examples=100, deadline=None)
@given(chap_password=st.binary(max_size=40), challenge=st.binary(max_size=40))
def test_verify_chap_never_raises(chap_password: bytes, challenge: bytes) -> None:
    assert verify_chap(chap_password, challenge, b"pw") in (True, False)


@settings(max_examples=100, deadline=None)
@given(password=st.binary(max_size=64).map(lambda b: b.rstrip(b"\0")), pad=st.integers(0, 15))
def test_pap_round_trip_with_padding(password: bytes, pad: int) -> None:
    assert verify_pap(password + b"\0" * pad, password)
    assert not verify_pap(password + b"x", password)
