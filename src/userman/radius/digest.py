"""HMAC-MD5 keyed with a shared secret, the key prepared once per secret (RFC 2104).

The Message-Authenticator (RFC 3579 3.2) is an HMAC-MD5 over the whole packet with the secret
as key: a server computes two for each Access-Request it answers (the request's, to verify it,
and the reply's). Each HMAC begins by hashing the key padded with ipad and with opad; those
two MD5 states are the same for every packet of a router, so they are made once per secret
and copied. It knows bytes only.
"""

from __future__ import annotations

import functools
import hashlib

__all__ = ["hmac_md5"]

_BLOCK = 64  # MD5's block size in octets: the length a key is padded to (RFC 2104 2)
_IPAD = bytes(0x36 for _ in range(_BLOCK))
_OPAD = bytes(0x5C for _ in range(_BLOCK))


def hmac_md5(secret: bytes, data: bytes) -> bytes:
    """HMAC-MD5(secret, data): the same 16 octets as `hmac.digest(secret, data, "md5")`."""
    inner, outer = _pads(bytes(secret))
    inner = inner.copy()
    inner.update(data)
    outer = outer.copy()
    outer.update(inner.digest())
    return outer.digest()


# One entry per router secret in use; a few hundred octets each.
@functools.lru_cache(maxsize=4096)
def _pads(secret: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
    """MD5 states after K xor ipad and K xor opad, K the secret as RFC 2104 2 pads it."""
    key = hashlib.md5(secret).digest() if len(secret) > _BLOCK else secret
    key = key.ljust(_BLOCK, b"\x00")
    inner = hashlib.md5(bytes(k ^ p for k, p in zip(key, _IPAD, strict=True)))
    outer = hashlib.md5(bytes(k ^ p for k, p in zip(key, _OPAD, strict=True)))
    return inner, outer
