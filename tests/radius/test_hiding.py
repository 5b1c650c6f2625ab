"""User-Password hiding (RFC 2865 5.2) and salt encryption (RFC 2868 3.5, RFC 2548 2.4.2)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from userman.radius import (
    DecodeError,
    EncodeError,
    hide_user_password,
    reveal_user_password,
    salt_decrypt,
    salt_encrypt,
)

SECRET = b"xyzzy5461"

# https://www.rfc-editor.org/rfc/rfc2865#section-7.1 and section-7.3: (authenticator,
# password, the User-Password attribute's value as printed in the RFC).
USER_PASSWORD_VECTORS = [
    pytest.param(
        "0f403f9473978057bd83d5cb98f4227a",
        b"arctangent",
        "0dbe708d93d413ce3196e43f782a0aee",
        id="7.1",
    ),
    pytest.param(
        "f3a47a1f6a6d76710b947ab93041a039",
        b"challenge",
        "33657573778289b570885e15084825c5",
        id="7.3-first",
    ),
    pytest.param(
        "b122556d428a13d0d6253807c457ecf0",
        b"99101462",
        "692c1f205fc081b919b95195f561a581",
        id="7.3-second",
    ),
]


@pytest.mark.parametrize(("authenticator", "password", "hidden"), USER_PASSWORD_VECTORS)
def test_rfc2865_user_password_vectors(authenticator: str, password: bytes, hidden: str) -> None:
    auth = bytes.fromhex(authenticator)
    assert hide_user_password(password, SECRET, auth) == bytes.fromhex(hidden)
    assert reveal_user_password(bytes.fromhex(hidden), SECRET, auth) == password


def test_user_password_padding_and_limits() -> None:
    auth = bytes(16)
    assert len(hide_user_password(b"", SECRET, auth)) == 16
    assert len(hide_user_password(b"x" * 16, SECRET, auth)) == 16
    assert len(hide_user_password(b"x" * 17, SECRET, auth)) == 32
    assert len(hide_user_password(b"x" * 128, SECRET, auth)) == 128
    with pytest.raises(EncodeError):
        hide_user_password(b"x" * 129, SECRET, auth)
    with pytest.raises(EncodeError):
        hide_user_password(b"x", SECRET, b"short")
    padded = reveal_user_password(
        hide_user_password(b"ab", SECRET, auth), SECRET, auth, strip=False
    )
    assert padded == b"ab" + bytes(14)


@pytest.mark.parametrize("size", [0, 15, 17, 144])
def test_reveal_refuses_bad_lengths(size: int) -> None:
    with pytest.raises(DecodeError):
        reveal_user_password(bytes(size), SECRET, bytes(16))


@settings(max_examples=300)
@given(
    st.binary(max_size=128).map(lambda b: b.rstrip(b"\x00")),
    st.binary(min_size=1, max_size=40),
    st.binary(min_size=16, max_size=16),
)
def test_user_password_round_trip(password: bytes, secret: bytes, auth: bytes) -> None:
    hidden = hide_user_password(password, secret, auth)
    assert len(hidden) % 16 == 0
    assert reveal_user_password(hidden, secret, auth) == password


def test_salt_layout() -> None:
    # https://www.rfc-editor.org/rfc/rfc2868#section-3.5: Salt, then the encrypted
    # (length octet + data + NUL padding) in 16-octet blocks
    out = salt_encrypt(b"k" * 15, SECRET, bytes(16), b"\x80\x01")
    assert out[:2] == b"\x80\x01"
    assert len(out) == 2 + 16
    assert len(salt_encrypt(b"k" * 16, SECRET, bytes(16), b"\x80\x01")) == 2 + 32
    assert salt_encrypt(b"k", SECRET, bytes(16), b"\x80\x01") != salt_encrypt(
        b"k", SECRET, bytes(16), b"\x80\x02"
    )


@pytest.mark.parametrize(
    ("plain", "auth", "salt"),
    [
        (b"x", bytes(16), b"\x00\x01"),  # high bit clear
        (b"x", bytes(16), b"\x80"),  # 1 octet
        (b"x", bytes(15), b"\x80\x01"),
        (b"x" * 256, bytes(16), b"\x80\x01"),
    ],
)
def test_salt_encrypt_errors(plain: bytes, auth: bytes, salt: bytes) -> None:
    with pytest.raises(EncodeError):
        salt_encrypt(plain, SECRET, auth, salt)


def test_salt_decrypt_errors() -> None:
    with pytest.raises(DecodeError):
        salt_decrypt(b"\x80\x01" + bytes(15), SECRET, bytes(16))
    with pytest.raises(DecodeError):
        salt_decrypt(b"\x80\x01" + bytes(17), SECRET, bytes(16))
    good = bytearray(salt_encrypt(b"", SECRET, bytes(16), b"\x80\x01"))
    good[2] ^= 0xFF  # the length octet decrypts to 255, more than the 15 octets that follow
    with pytest.raises(DecodeError, match="length octet"):
        salt_decrypt(bytes(good), SECRET, bytes(16))


@settings(max_examples=300)
@given(
    st.binary(max_size=239),
    st.binary(min_size=1, max_size=40),
    st.binary(min_size=16, max_size=16),
    st.binary(min_size=2, max_size=2).map(lambda s: bytes([s[0] | 0x80, s[1]])),
)
def test_salt_round_trip(plain: bytes, secret: bytes, auth: bytes, salt: bytes) -> None:
    assert salt_decrypt(salt_encrypt(plain, secret, auth, salt), secret, auth) == plain
