"""Attribute hiding with the shared secret: User-Password style and salt encryption.

Owns the two MD5 keystream constructions of RADIUS and their length rules. It knows bytes only:
which attribute uses which method, and which authenticator feeds it, is the packet codec's
business. The salt is a parameter (this package never draws random numbers).
"""

from __future__ import annotations

import hashlib

from userman.radius.errors import DecodeError, EncodeError

__all__ = [
    "MAX_USER_PASSWORD",
    "hide_user_password",
    "reveal_user_password",
    "salt_decrypt",
    "salt_encrypt",
]

MAX_USER_PASSWORD = 128  # RFC 2865 section 5.2: "between 16 and 128 octets"
_BLOCK = 16


def _xor_chain(data: bytes, secret: bytes, first: bytes, *, decrypt: bool) -> bytes:
    """c(i) = p(i) xor MD5(secret + c(i-1)), with c(0) = `first`, over 16-octet blocks."""
    out = bytearray()
    previous = first
    for start in range(0, len(data), _BLOCK):
        block = data[start : start + _BLOCK]
        pad = hashlib.md5(secret + previous).digest()
        mixed = (int.from_bytes(block) ^ int.from_bytes(pad)).to_bytes(_BLOCK)
        out += mixed
        previous = block if decrypt else mixed
    return bytes(out)


def _check_authenticator(authenticator: bytes, error: type[Exception]) -> None:
    if len(authenticator) != _BLOCK:
        raise error("an authenticator is 16 octets")


# https://www.rfc-editor.org/rfc/rfc2865#section-5.2
def hide_user_password(password: bytes, secret: bytes, authenticator: bytes) -> bytes:
    """Hide `password` (at most 128 octets) with the request `authenticator` (RFC 2865 5.2)."""
    _check_authenticator(authenticator, EncodeError)
    if len(password) > MAX_USER_PASSWORD:
        raise EncodeError(f"a hidden password is at most {MAX_USER_PASSWORD} octets")
    size = max(_BLOCK, (len(password) + _BLOCK - 1) // _BLOCK * _BLOCK)
    padded = password.ljust(size, b"\x00")
    return _xor_chain(padded, secret, authenticator, decrypt=False)


def reveal_user_password(
    hidden: bytes, secret: bytes, authenticator: bytes, *, strip: bool = True
) -> bytes:
    """The plaintext of a hidden User-Password; DecodeError unless 16..128 octets in blocks.

    The NUL padding is stripped; `strip=False` keeps it, for binary values hidden the same way
    (MS-CHAP-MPPE-Keys, RFC 2548 2.4.1), whose last octets may be zero.
    """
    _check_authenticator(authenticator, DecodeError)
    if not hidden or len(hidden) % _BLOCK or len(hidden) > MAX_USER_PASSWORD:
        raise DecodeError(
            f"a hidden password is 16..128 octets in 16-octet blocks, not {len(hidden)}"
        )
    plain = _xor_chain(hidden, secret, authenticator, decrypt=True)
    return plain.rstrip(b"\x00") if strip else plain


# https://www.rfc-editor.org/rfc/rfc2868#section-3.5 and
# https://www.rfc-editor.org/rfc/rfc2548#section-2.4.2
def salt_encrypt(plain: bytes, secret: bytes, request_authenticator: bytes, salt: bytes) -> bytes:
    """Salt + ciphertext of `plain`, prefixed by its length octet and NUL-padded to 16 octets.

    The salt's most significant bit must be set (RFC 2868 3.5); b(1) = MD5(secret + request
    authenticator + salt).
    """
    _check_authenticator(request_authenticator, EncodeError)
    if len(salt) != 2 or not salt[0] & 0x80:
        raise EncodeError("a salt is 2 octets with the most significant bit set")
    if len(plain) > 255:
        raise EncodeError("salt-encrypted data is at most 255 octets")
    data = bytes([len(plain)]) + plain
    data += b"\x00" * (-len(data) % _BLOCK)
    return salt + _xor_chain(data, secret, request_authenticator + salt, decrypt=False)


def salt_decrypt(data: bytes, secret: bytes, request_authenticator: bytes) -> bytes:
    """The plaintext of salt + ciphertext `data`; DecodeError when lengths do not add up."""
    _check_authenticator(request_authenticator, DecodeError)
    if len(data) < 2 + _BLOCK or (len(data) - 2) % _BLOCK:
        raise DecodeError(f"salt-encrypted data is 2 + 16*n octets, not {len(data)}")
    salt, cipher = data[:2], data[2:]
    plain = _xor_chain(cipher, secret, request_authenticator + salt, decrypt=True)
    if plain[0] > len(plain) - 1:
        raise DecodeError("salt-encrypted length octet exceeds the data (wrong secret?)")
    return plain[1 : 1 + plain[0]]
