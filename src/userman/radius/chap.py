"""PAP and CHAP: checking a revealed User-Password or a CHAP-Password against the known password.

Owns the RFC 1994 response (MD5 of ident, secret, challenge) and the constant-time comparisons.
Must not know how the password was revealed (User-Password hiding lives in the codec), where the
password is stored, or which attribute the challenge came from: the caller picks it.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["chap_response", "verify_chap", "verify_pap"]

_CHAP_PASSWORD_LEN = 17  # RFC 2865 5.3: 1 octet CHAP Ident + 16 octets String (the response)


def verify_pap(offered: bytes, password: bytes) -> bool:
    """True if the revealed User-Password `offered` is `password`, compared in constant time.

    https://www.rfc-editor.org/rfc/rfc2865#section-5.2: the hidden value is NUL-padded to a
    multiple of 16 octets, so trailing NULs carry no meaning and are ignored on both sides.
    """
    return hmac.compare_digest(offered.rstrip(b"\0"), password.rstrip(b"\0"))


def chap_response(ident: int, password: bytes, challenge: bytes) -> bytes:
    """The 16-octet CHAP Response Value: MD5(Identifier || secret || Challenge).

    https://www.rfc-editor.org/rfc/rfc1994#section-4.1. `ident` is one octet (0-255); anything
    else raises ValueError, since only our own callers (a test client, verify_chap) pass it.
    """
    return hashlib.md5(bytes((ident,)) + password + challenge).digest()


def verify_chap(chap_password: bytes, challenge: bytes, password: bytes) -> bool:
    """True if the CHAP-Password attribute value answers `challenge` with `password`.

    `chap_password` is the 17-octet CHAP-Password value (CHAP Ident, then the 16-octet response).
    `challenge` is the CHAP-Challenge attribute value if the request carries one, otherwise the
    16-octet Request Authenticator: https://www.rfc-editor.org/rfc/rfc2865#section-5.3 and
    https://www.rfc-editor.org/rfc/rfc2865#section-5.40. The caller picks. A value of the wrong
    length, or an empty challenge, is False; nothing here raises for bad input.
    """
    if len(chap_password) != _CHAP_PASSWORD_LEN or not challenge:
        return False
    expected = chap_response(chap_password[0], password, challenge)
    return hmac.compare_digest(expected, chap_password[1:])
