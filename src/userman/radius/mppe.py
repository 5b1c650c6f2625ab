"""MPPE keys a RADIUS server hands the NAS after MS-CHAP: RFC 3079 section 3 and RFC 2548 2.4.

Owns the MS-CHAPv2 master and asymmetric start keys (as the authenticator, "IsServer") and the
MS-CHAP-MPPE-Keys plaintext for MS-CHAPv1. Must not know the wire: salting and encrypting
MS-MPPE-*-Key and MS-CHAP-MPPE-Keys for an Access-Accept is the codec's job, and MPPE's own
session-key changes are the NAS's.
"""

from __future__ import annotations

import hashlib

__all__ = [
    "get_asymmetric_start_key",
    "get_master_key",
    "server_keys",
]

# https://www.rfc-editor.org/rfc/rfc3079#section-3.4
_SHS_PAD1 = bytes(40)
_SHS_PAD2 = b"\xf2" * 40
_MAGIC1 = b"This is the MPPE Master Key"
_MAGIC2 = b"On the client side, this is the send key; on the server side, it is the receive key."
_MAGIC3 = b"On the client side, this is the receive key; on the server side, it is the send key."

_KEY_LENGTHS = (8, 16)  # 40- and 56-bit session keys use 8 octets, 128-bit ones 16


def get_master_key(password_hash_hash: bytes, nt_response: bytes) -> bytes:
    """First 16 octets of SHA1(PasswordHashHash || NT-Response || Magic1).

    https://www.rfc-editor.org/rfc/rfc3079#section-3.4
    """
    return hashlib.sha1(password_hash_hash + nt_response + _MAGIC1).digest()[:16]


def get_asymmetric_start_key(
    master_key: bytes, key_length: int, is_send: bool, is_server: bool
) -> bytes:
    """The start key for one direction, seen from one end: RFC 3079 3.4.

    https://www.rfc-editor.org/rfc/rfc3079#section-3.4: the server's send key and the client's
    receive key are the same (Magic3), as are the server's receive and the client's send key
    (Magic2). `key_length` is 8 (40/56-bit MPPE) or 16 (128-bit); else ValueError.
    """
    if key_length not in _KEY_LENGTHS:
        raise ValueError(f"MPPE start keys are 8 or 16 octets, not {key_length}")
    magic = _MAGIC3 if is_send == is_server else _MAGIC2
    return hashlib.sha1(master_key + _SHS_PAD1 + magic + _SHS_PAD2).digest()[:key_length]


def server_keys(password_hash_hash: bytes, nt_response: bytes) -> tuple[bytes, bytes]:
    """(MS-MPPE-Send-Key, MS-MPPE-Recv-Key) plaintexts, 16 octets each, from the hash-hash.

    The RADIUS server speaks for the NAS, the authenticator: IsServer=TRUE. RFC 2548 2.4.2
    says the Send-Key encrypts NAS -> peer, so it is the server's send key (Magic3, RFC 3079
    3.5's SendStartKey128) and the Recv-Key the server's receive key (Magic2), as FreeRADIUS's
    rlm_mschap sends them. https://www.rfc-editor.org/rfc/rfc2548#section-2.4.2
    """
    master_key = get_master_key(password_hash_hash, nt_response)
    send_key = get_asymmetric_start_key(master_key, 16, is_send=True, is_server=True)
    recv_key = get_asymmetric_start_key(master_key, 16, is_send=False, is_server=True)
    return send_key, recv_key
