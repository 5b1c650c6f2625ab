"""HMAC-MD5 with the key prepared once per secret (radius/digest.py) is HMAC-MD5: the same
digest as the standard library's for any secret, longer than MD5's block or empty too.
https://www.rfc-editor.org/rfc/rfc2104"""

from __future__ import annotations

import hmac

from hypothesis import given
from hypothesis import strategies as st

from userman.radius.digest import hmac_md5


# https://www.rfc-editor.org/rfc/rfc2202#section-2 (test cases 1, 2 and 6 for HMAC-MD5)
def test_rfc2202_vectors() -> None:
    assert hmac_md5(b"\x0b" * 16, b"Hi There").hex() == "9294727a3638bb1c13f48ef8158bfc9d"
    assert hmac_md5(b"Jefe", b"what do ya want for nothing?").hex() == (
        "750c783e6ab0b503eaa86e310a5db738"
    )
    assert hmac_md5(
        b"\xaa" * 80, b"Test Using Larger Than Block-Size Key - Hash Key First"
    ).hex() == ("6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd")


@given(st.binary(max_size=100), st.binary(max_size=300))
def test_it_is_the_standard_librarys_hmac_md5(secret: bytes, data: bytes) -> None:
    expected = hmac.digest(secret, data, "md5")
    assert hmac_md5(secret, data) == expected
    assert hmac_md5(secret, data) == expected  # the second time from the prepared key
    assert hmac_md5(bytearray(secret), data) == expected
