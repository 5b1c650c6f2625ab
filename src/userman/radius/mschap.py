"""MS-CHAPv1 (RFC 2433) and MS-CHAPv2 (RFC 2759) over RADIUS (RFC 2548): hashes, responses, checks.

Owns the RFC pseudocode functions (NtPasswordHash, ChallengeHash, ChallengeResponse, ...), the
layout of the MS-CHAP-Response / MS-CHAP2-Response / MS-CHAP2-Success values, and the verifiers.
Must not know where passwords live, how attributes are encoded or hidden on the wire (the codec
salts the MPPE keys), nor draw random numbers: a peer challenge is always a parameter.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass

from Crypto.Hash import MD4
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from userman.radius import mppe

__all__ = [
    "MschapV1Result",
    "MschapV2Result",
    "NtSecrets",
    "challenge_hash",
    "challenge_response",
    "challenge_user_name",
    "check_authenticator_response",
    "des_encrypt",
    "expand_des_key",
    "generate_authenticator_response",
    "generate_nt_response",
    "hash_nt_password_hash",
    "lm_challenge_response",
    "lm_password_hash",
    "mschap_v1_mppe_keys",
    "mschap_v1_response",
    "mschap_v2_keys",
    "mschap_v2_response",
    "nt_challenge_response",
    "nt_password_hash",
    "nt_secrets",
    "verify_mschap_v1",
    "verify_mschap_v2",
]

# https://www.rfc-editor.org/rfc/rfc2759#section-8.7
_MAGIC1 = b"Magic server to client signing constant"
_MAGIC2 = b"Pad to make it do more than one iteration"
# https://www.rfc-editor.org/rfc/rfc2433#appendix-A.3
_LM_STD_TEXT = b"KGS!@#$%"
_LM_MAX_CHARS = 14

_V1_CHALLENGE_LEN = 8
_V2_CHALLENGE_LEN = 16
_RESPONSE_LEN = 50  # both MS-CHAP-Response and MS-CHAP2-Response values
_NT_RESPONSE = slice(26, 50)  # the same place in both
_V2_PEER_CHALLENGE = slice(2, 18)
_V1_FLAG_USE_NT = 0x01
# Passwords whose derived secrets (`nt_secrets`) are kept: as many users as the policy keeps
# decisions for (core/policy.MEMO_HELD), about 200 octets each.
SECRETS_HELD = 50_000


# --- the RFC pseudocode -------------------------------------------------------------------------


def nt_password_hash(password: str) -> bytes:
    """MD4 of the password as UTF-16LE, no terminating NUL: RFC 2759 8.3.

    https://www.rfc-editor.org/rfc/rfc2759#section-8.3. Lone surrogates are passed through
    (`surrogatepass`) so that any str hashes and nothing raises.
    """
    return MD4.new(password.encode("utf-16-le", "surrogatepass")).digest()


def hash_nt_password_hash(password_hash: bytes) -> bytes:
    """MD4 of the 16-octet NT password hash: https://www.rfc-editor.org/rfc/rfc2759#section-8.4."""
    return MD4.new(password_hash).digest()


def lm_password_hash(password: str) -> bytes:
    """The LAN Manager hash: https://www.rfc-editor.org/rfc/rfc2433#appendix-A.2.

    Defined only for 0-14 OEM characters; we take printable ASCII as the OEM subset every code
    page agrees on. Anything else has no LM hash (as on Windows) and raises ValueError.
    """
    if len(password) > _LM_MAX_CHARS or not password.isascii():
        raise ValueError("the password has no LAN Manager hash (more than 14 or non-ASCII chars)")
    upper = password.upper().encode("ascii").ljust(_LM_MAX_CHARS, b"\0")
    return des_encrypt(_LM_STD_TEXT, upper[:7]) + des_encrypt(_LM_STD_TEXT, upper[7:])


def expand_des_key(key7: bytes) -> bytes:
    """The 8-octet DES key for a 7-octet (56-bit) key, with odd parity in each low bit.

    https://www.rfc-editor.org/rfc/rfc2759#section-9.3 (the example of DES key generation).
    """
    bits = int.from_bytes(key7, "big")
    out = bytearray()
    for i in range(8):
        septet = (bits >> (49 - 7 * i)) & 0x7F
        octet = septet << 1
        out.append(octet | (bin(octet).count("1") % 2 == 0))
    return bytes(out)


def des_encrypt(clear: bytes, key7: bytes) -> bytes:
    """DES-ECB of one 8-octet block under a 7-octet key: RFC 2759 8.6.

    https://www.rfc-editor.org/rfc/rfc2759#section-8.6
    """
    return _des_ecb(clear, _triple(expand_des_key(key7)))


_ECB = modes.ECB()


def _triple(key: bytes) -> bytes:
    """A DES key as a TripleDES one: EDE under one key thrice is DES (FIPS 46-3, keying
    option 3), and OpenSSL's TripleDES is what `cryptography` still offers for it."""
    return key * 3


def _des_ecb(block: bytes, key: bytes) -> bytes:
    """One 8-octet block under a `_triple` key."""
    return Cipher(TripleDES(key), _ECB).encryptor().update(block)


def challenge_response(challenge: bytes, password_hash: bytes) -> bytes:
    """The 24-octet response: three DES blocks under the zero-padded hash, RFC 2759 8.5.

    https://www.rfc-editor.org/rfc/rfc2759#section-8.5
    """
    return _encrypt_thrice(challenge, _des_keys(password_hash))


def _des_keys(password_hash: bytes) -> tuple[bytes, bytes, bytes]:
    """The three DES keys of ChallengeResponse: the hash zero-padded to 21 octets, in sevens."""
    z = password_hash.ljust(21, b"\0")
    first, second, third = (_triple(expand_des_key(z[i : i + 7])) for i in (0, 7, 14))
    return first, second, third


def _encrypt_thrice(block: bytes, keys: tuple[bytes, bytes, bytes]) -> bytes:
    return _des_ecb(block, keys[0]) + _des_ecb(block, keys[1]) + _des_ecb(block, keys[2])


@dataclass(frozen=True, slots=True)
class NtSecrets:
    """What MS-CHAP derives from a password alone, made once per password (`nt_secrets`)."""

    password_hash: bytes  # NtPasswordHash, RFC 2759 8.3
    password_hash_hash: bytes  # HashNtPasswordHash, RFC 2759 8.4
    des_keys: tuple[bytes, bytes, bytes]  # ChallengeResponse's three keys (`_triple`), 8.5


@functools.lru_cache(maxsize=SECRETS_HELD)
def nt_secrets(password: str) -> NtSecrets:
    """The password's NT hash, its hash and ChallengeResponse's DES keys, kept for the
    SECRETS_HELD passwords last used: two MD4s and three key expansions fewer per request.
    What it keeps derives from passwords the caller already holds in memory."""
    password_hash = nt_password_hash(password)
    return NtSecrets(password_hash, hash_nt_password_hash(password_hash), _des_keys(password_hash))


def challenge_hash(peer_challenge: bytes, authenticator_challenge: bytes, username: bytes) -> bytes:
    """First 8 octets of SHA1(PeerChallenge || AuthenticatorChallenge || UserName): RFC 2759 8.2.

    https://www.rfc-editor.org/rfc/rfc2759#section-8.2. `username` is the name without any
    domain prefix; see challenge_user_name().
    """
    return hashlib.sha1(peer_challenge + authenticator_challenge + username).digest()[:8]


def generate_nt_response(
    authenticator_challenge: bytes, peer_challenge: bytes, username: bytes, password: str
) -> bytes:
    """The 24-octet MS-CHAPv2 NT-Response: https://www.rfc-editor.org/rfc/rfc2759#section-8.1."""
    challenge = challenge_hash(peer_challenge, authenticator_challenge, username)
    return challenge_response(challenge, nt_password_hash(password))


def _authenticator_response(password_hash_hash: bytes, nt_response: bytes, challenge: bytes) -> str:
    digest = hashlib.sha1(password_hash_hash + nt_response + _MAGIC1).digest()
    digest = hashlib.sha1(digest + challenge + _MAGIC2).digest()
    return "S=" + digest.hex().upper()


def generate_authenticator_response(
    password: str,
    nt_response: bytes,
    peer_challenge: bytes,
    authenticator_challenge: bytes,
    username: bytes,
) -> str:
    """The 42-character "S=<40 upper-case hex digits>" string: RFC 2759 8.7.

    https://www.rfc-editor.org/rfc/rfc2759#section-8.7
    """
    password_hash_hash = hash_nt_password_hash(nt_password_hash(password))
    challenge = challenge_hash(peer_challenge, authenticator_challenge, username)
    return _authenticator_response(password_hash_hash, nt_response, challenge)


def check_authenticator_response(
    password: str,
    nt_response: bytes,
    peer_challenge: bytes,
    authenticator_challenge: bytes,
    username: bytes,
    *,
    received: bytes,
) -> bool:
    """The peer's check of the authenticator's "S=..." string: RFC 2759 8.8.

    https://www.rfc-editor.org/rfc/rfc2759#section-8.8. `received` is the 42-octet string as
    sent (the MS-CHAP2-Success value without its Ident octet). Hex digits compare case-blind.
    """
    mine = generate_authenticator_response(
        password, nt_response, peer_challenge, authenticator_challenge, username
    )
    return hmac.compare_digest(mine.encode("ascii"), received.upper())


def nt_challenge_response(challenge: bytes, password: str) -> bytes:
    """MS-CHAPv1's NT response: https://www.rfc-editor.org/rfc/rfc2433#appendix-A.5."""
    return challenge_response(challenge, nt_password_hash(password))


def lm_challenge_response(challenge: bytes, password: str) -> bytes:
    """MS-CHAPv1's LM response: https://www.rfc-editor.org/rfc/rfc2433#appendix-A.1.

    Raises ValueError when the password has no LM hash (see lm_password_hash).
    """
    return challenge_response(challenge, lm_password_hash(password))


def challenge_user_name(user_name: bytes) -> bytes:
    """The name that goes into ChallengeHash: the User-Name without a "DOMAIN\\" prefix.

    https://www.rfc-editor.org/rfc/rfc2759#section-8.2: "Only the user name (as presented by the
    peer and excluding any prepended domain name)". Windows peers send "DOMAIN\\user" and hash
    "user"; like FreeRADIUS's with_ntdomain_hack we cut at the first backslash. An "@realm"
    suffix is part of the name and stays.
    """
    _, sep, rest = user_name.partition(b"\\")
    return rest if sep else user_name


# --- RADIUS attribute values (RFC 2548) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MschapV2Result:
    """What an Access-Accept for a good MS-CHAPv2 response carries (RFC 2548 2.3.3, 2.4.2-2.4.3)."""

    # The MS-CHAP2-Success value: the Ident octet of MS-CHAP2-Response, then b"S=" + 40 hex.
    success: bytes
    # The 16-octet plaintexts of MS-MPPE-Send-Key and MS-MPPE-Recv-Key. RFC 2548 2.4.2 names
    # keys from the NAS's side: Send-Key encrypts NAS -> peer. The NAS is the PPP authenticator,
    # the "server" of RFC 3079 3.3, so Send-Key = GetAsymmetricStartKey(IsSend=TRUE,
    # IsServer=TRUE) = Magic3 (the RFC 3079 3.5 SendStartKey, the peer's receive key) and
    # Recv-Key = Magic2 (the peer's send key). FreeRADIUS rlm_mschap does the same.
    send_key: bytes
    recv_key: bytes


@dataclass(frozen=True, slots=True)
class MschapV1Result:
    """What an Access-Accept for a good MS-CHAPv1 response carries (RFC 2548 2.4.1)."""

    # The MS-CHAP-MPPE-Keys plaintext: LM-Key 8 + NT-Key 16 + 8 zero octets (see mppe).
    mppe_keys: bytes


def verify_mschap_v2(
    username: bytes, password: str, authenticator_challenge: bytes, response: bytes
) -> MschapV2Result | None:
    """Check an MS-CHAP2-Response value; the Accept's attribute values, or None if it fails.

    `username` is the User-Name as received; `authenticator_challenge` the 16-octet
    MS-CHAP-Challenge; `response` the 50-octet MS-CHAP2-Response (RFC 2548 2.3.2: Ident 1,
    Flags 1, Peer-Challenge 16, Reserved 8, Response 24). Flags and Reserved "MUST be zero" but
    carry nothing we need, so like FreeRADIUS we do not check them. The name without its
    domain prefix is tried first, then the whole name if that differs (some non-Windows peers
    hash it whole). None for a wrong password or wrong lengths; never raises for bad input.
    https://www.rfc-editor.org/rfc/rfc2548#section-2.3.2
    """
    if len(authenticator_challenge) != _V2_CHALLENGE_LEN or len(response) != _RESPONSE_LEN:
        return None
    ident = response[0]
    peer_challenge = response[_V2_PEER_CHALLENGE]
    nt_response = response[_NT_RESPONSE]
    secrets = nt_secrets(password)
    names = [challenge_user_name(username)]
    if names[0] != username:
        names.append(username)
    for name in names:
        challenge = challenge_hash(peer_challenge, authenticator_challenge, name)
        if hmac.compare_digest(_encrypt_thrice(challenge, secrets.des_keys), nt_response):
            password_hash_hash = secrets.password_hash_hash
            # https://www.rfc-editor.org/rfc/rfc2548#section-2.3.3
            success = bytes((ident,)) + _authenticator_response(
                password_hash_hash, nt_response, challenge
            ).encode("ascii")
            send_key, recv_key = mppe.server_keys(password_hash_hash, nt_response)
            return MschapV2Result(success=success, send_key=send_key, recv_key=recv_key)
    return None


def verify_mschap_v1(password: str, challenge: bytes, response: bytes) -> MschapV1Result | None:
    """Check an MS-CHAP-Response value; the Accept's MPPE keys, or None if it fails.

    `challenge` is the 8-octet MS-CHAP-Challenge; `response` the 50-octet MS-CHAP-Response
    (RFC 2548 2.1.3: Ident 1, Flags 1, LM-Response 24, NT-Response 24). Only the NT response is
    accepted (Flags bit 0 set). An LM-only response (Flags 0) is rejected: the LM hash is an
    uppercased, 7-character-halved DES of the password that any capture cracks in seconds, and
    no Windows since NT 4 sends one unasked. None on failure; never raises for bad input.
    https://www.rfc-editor.org/rfc/rfc2548#section-2.1.3
    """
    if len(challenge) != _V1_CHALLENGE_LEN or len(response) != _RESPONSE_LEN:
        return None
    if not response[1] & _V1_FLAG_USE_NT:
        return None
    expected = _encrypt_thrice(challenge, nt_secrets(password).des_keys)
    if not hmac.compare_digest(expected, response[_NT_RESPONSE]):
        return None
    return MschapV1Result(mppe_keys=mschap_v1_mppe_keys(password))


# --- the peer's side, for our own test clients ---------------------------------------------------


def mschap_v2_response(
    ident: int,
    username: bytes,
    password: str,
    authenticator_challenge: bytes,
    peer_challenge: bytes,
) -> bytes:
    """The 50-octet MS-CHAP2-Response value a peer would send (RFC 2548 2.3.2).

    `username` goes into the challenge hash as given; pass the name without a domain prefix, as
    a Windows peer does. `peer_challenge` (16 random octets on a real peer) is a parameter.
    """
    nt_response = generate_nt_response(authenticator_challenge, peer_challenge, username, password)
    return bytes((ident, 0)) + peer_challenge + bytes(8) + nt_response


def mschap_v1_response(ident: int, password: str, challenge: bytes) -> bytes:
    """The 50-octet MS-CHAP-Response value a peer would send: NT response only, Flags 1.

    https://www.rfc-editor.org/rfc/rfc2548#section-2.1.3: the LM-Response is zero-filled.
    """
    nt_response = nt_challenge_response(challenge, password)
    return bytes((ident, _V1_FLAG_USE_NT)) + bytes(24) + nt_response


def mschap_v2_keys(password: str, nt_response: bytes) -> tuple[bytes, bytes]:
    """(server send key, server receive key), 16 octets each, for an MS-CHAPv2 NT-Response.

    https://www.rfc-editor.org/rfc/rfc3079#section-3.3 (128-bit keys); see server_keys.
    """
    password_hash_hash = hash_nt_password_hash(nt_password_hash(password))
    return mppe.server_keys(password_hash_hash, nt_response)


def mschap_v1_mppe_keys(password: str) -> bytes:
    """The 32-octet MS-CHAP-MPPE-Keys plaintext: LM-Key 8, NT-Key 16, 8 zero octets of padding.

    https://www.rfc-editor.org/rfc/rfc2548#section-2.4.1: the LM-Key is the first 8 octets of
    LmPasswordHash; zeros when the password has none (over 14 or non-ASCII characters), as
    FreeRADIUS sends without an LM-Password. The NT-Key is HashNtPasswordHash(NtPasswordHash),
    not the NT hash the RFC's words suggest: the NAS derives its RFC 3079 section 2 start key
    from NtPasswordHashHash and the challenge, pppd's RADIUS plugin reads octets 8-23 as that
    hash-hash, and FreeRADIUS's rlm_mschap sends it, calling the RFC's wording an error. All 32
    octets go to the codec, which hides them like a User-Password (RFC 2548 2.4.1).
    """
    try:
        lm_key = lm_password_hash(password)[:8]
    except ValueError:
        lm_key = bytes(8)
    nt_key = hash_nt_password_hash(nt_password_hash(password))
    return (lm_key + nt_key).ljust(32, b"\0")
