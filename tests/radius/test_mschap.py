"""MS-CHAPv1/v2: RFC 2433 and RFC 2759 example vectors, RFC 2548 attribute values, bad input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from userman.radius.mschap import (
    MschapV1Result,
    MschapV2Result,
    challenge_hash,
    challenge_response,
    challenge_user_name,
    check_authenticator_response,
    expand_des_key,
    generate_authenticator_response,
    generate_nt_response,
    hash_nt_password_hash,
    lm_challenge_response,
    lm_password_hash,
    mschap_v1_mppe_keys,
    mschap_v1_response,
    mschap_v2_response,
    nt_challenge_response,
    nt_password_hash,
    nt_secrets,
    verify_mschap_v1,
    verify_mschap_v2,
)

# https://www.rfc-editor.org/rfc/rfc2759#section-9.2 "Hash Example"
RFC2759 = {
    "UserName": "55736572",  # "User"
    "Password": "clientPass",
    "AuthenticatorChallenge": "5B5D7C7D7B3F2F3E3C2C602132262628",
    "PeerChallenge": "21402324255E262A28295F2B3A337C7E",
    "Challenge": "D02E4386BCE91226",
    "PasswordHash": "44EBBA8D5312B8D611474411F56989AE",
    "NT-Response": "82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF",
    "PasswordHashHash": "41C00C584BD2D91C4017A2A12FA59F3F",
    "AuthenticatorResponse": "S=407A5589115FD0D6209F510FE9C04566932CDA56",
}
USER = bytes.fromhex(RFC2759["UserName"])
PASSWORD = RFC2759["Password"]
AUTH_CHALLENGE = bytes.fromhex(RFC2759["AuthenticatorChallenge"])
PEER_CHALLENGE = bytes.fromhex(RFC2759["PeerChallenge"])
NT_RESPONSE = bytes.fromhex(RFC2759["NT-Response"])

# https://www.rfc-editor.org/rfc/rfc2433#appendix-B.2 "Hash Example" (MS-CHAPv1)
RFC2433 = {
    "Password": "MyPw",
    "Challenge": "102DB5DF085D3041",
    "NtPasswordHash": "FC156AF7EDCD6C0EDDE3337D427F4EAC",
    "NtChallengeResponse": "4E9D3C8F9CFD385D5BF4D3246791956CA4C351AB409A3D61",
}

# https://www.rfc-editor.org/rfc/rfc2433#appendix-B.3 and
# https://www.rfc-editor.org/rfc/rfc2759#section-9.3 "Example of DES Key Generation"
DES_KEYS = [
    # (raw 7-octet key, parity-corrected 8-octet key)
    ("FC156AF7EDCD6C", "FD0B5B5E7F6E34D9"),
    ("0EDDE3337D427F", "0E6E796737EA08FE"),
]

# The LAN Manager hashes everyone's SAM dumps show: the empty password (the AAD3B435B51404EE
# half) and "password"; https://www.rfc-editor.org/rfc/rfc2433#appendix-A.2 defines them.
LM_HASHES = [
    ("", "AAD3B435B51404EEAAD3B435B51404EE"),
    ("password", "E52CAC67419A9A224A3B108F3FA6CB6D"),
    ("PassWord", "E52CAC67419A9A224A3B108F3FA6CB6D"),  # uppercased before hashing
]


def h(name: str) -> str:
    return RFC2759[name]


# --- RFC 2759 section 9.2, one function per intermediate value ----------------------------------


def test_the_secrets_kept_per_password_are_the_rfc_values() -> None:
    """What `nt_secrets` keeps (RFC 2759 9.2's PasswordHash and PasswordHashHash; RFC 2433
    B.3's DES keys, each as the TripleDES key that is that DES key thrice)."""
    kept = nt_secrets(PASSWORD)
    assert kept.password_hash.hex().upper() == h("PasswordHash")
    assert kept.password_hash_hash.hex().upper() == h("PasswordHashHash")
    keys = nt_secrets("MyPw").des_keys
    assert [key.hex().upper() for key in keys[:2]] == [full * 3 for _, full in DES_KEYS]
    assert nt_secrets(PASSWORD) is kept


def test_rfc2759_challenge_hash() -> None:
    assert challenge_hash(PEER_CHALLENGE, AUTH_CHALLENGE, USER).hex().upper() == h("Challenge")


def test_rfc2759_password_hash() -> None:
    assert nt_password_hash(PASSWORD).hex().upper() == h("PasswordHash")


def test_rfc2759_password_hash_hash() -> None:
    password_hash = bytes.fromhex(h("PasswordHash"))
    assert hash_nt_password_hash(password_hash).hex().upper() == h("PasswordHashHash")


def test_rfc2759_challenge_response() -> None:
    challenge = bytes.fromhex(h("Challenge"))
    password_hash = bytes.fromhex(h("PasswordHash"))
    assert challenge_response(challenge, password_hash).hex().upper() == h("NT-Response")


def test_rfc2759_nt_response() -> None:
    nt = generate_nt_response(AUTH_CHALLENGE, PEER_CHALLENGE, USER, PASSWORD)
    assert nt.hex().upper() == h("NT-Response")


def test_rfc2759_authenticator_response() -> None:
    got = generate_authenticator_response(
        PASSWORD, NT_RESPONSE, PEER_CHALLENGE, AUTH_CHALLENGE, USER
    )
    assert got == h("AuthenticatorResponse")


def test_rfc2759_check_authenticator_response() -> None:
    # https://www.rfc-editor.org/rfc/rfc2759#section-8.8
    args = (PASSWORD, NT_RESPONSE, PEER_CHALLENGE, AUTH_CHALLENGE, USER)
    received = h("AuthenticatorResponse").encode()
    assert check_authenticator_response(*args, received=received)
    assert check_authenticator_response(*args, received=received.lower())
    assert not check_authenticator_response(*args, received=received[:-1] + b"7")
    assert not check_authenticator_response(*args, received=b"")


@pytest.mark.parametrize(("raw", "parity"), DES_KEYS)
def test_des_key_parity(raw: str, parity: str) -> None:
    assert expand_des_key(bytes.fromhex(raw)).hex().upper() == parity


# --- RFC 2433 appendix B.2 (MS-CHAPv1) -----------------------------------------------------------


def test_rfc2433_nt_password_hash() -> None:
    assert nt_password_hash(RFC2433["Password"]).hex().upper() == RFC2433["NtPasswordHash"]


def test_rfc2433_nt_challenge_response() -> None:
    challenge = bytes.fromhex(RFC2433["Challenge"])
    got = nt_challenge_response(challenge, RFC2433["Password"])
    assert got.hex().upper() == RFC2433["NtChallengeResponse"]


@pytest.mark.parametrize(("password", "lm_hash"), LM_HASHES)
def test_lm_password_hash(password: str, lm_hash: str) -> None:
    assert lm_password_hash(password).hex().upper() == lm_hash


@pytest.mark.parametrize("password", ["fifteen-chars!!", "pässword", "密码"])
def test_lm_password_hash_undefined(password: str) -> None:
    with pytest.raises(ValueError, match="LAN Manager"):
        lm_password_hash(password)


def test_lm_challenge_response_is_challenge_response_of_lm_hash() -> None:
    # https://www.rfc-editor.org/rfc/rfc2433#appendix-A.1
    challenge = bytes.fromhex(RFC2433["Challenge"])
    expected = challenge_response(challenge, bytes.fromhex(LM_HASHES[1][1]))
    assert lm_challenge_response(challenge, "password") == expected


# --- the User-Name that goes into ChallengeHash ------------------------------------------------

USER_NAMES = [
    # https://www.rfc-editor.org/rfc/rfc2759#section-8.2: no prepended domain
    (b"User", b"User"),
    (b"DOMAIN\\User", b"User"),
    (b"a\\b\\c", b"b\\c"),  # cut at the first backslash, as FreeRADIUS does
    (b"user@example.com", b"user@example.com"),
    (b"\\User", b"User"),
    (b"", b""),
]


@pytest.mark.parametrize(("user_name", "hashed"), USER_NAMES)
def test_challenge_user_name(user_name: bytes, hashed: bytes) -> None:
    assert challenge_user_name(user_name) == hashed


# --- MS-CHAP2-Response / MS-CHAP2-Success (RFC 2548 2.3.2, 2.3.3) -------------------------------


def rfc_v2_response(ident: int = 0x42) -> bytes:
    return mschap_v2_response(ident, USER, PASSWORD, AUTH_CHALLENGE, PEER_CHALLENGE)


def test_mschap_v2_response_layout() -> None:
    # https://www.rfc-editor.org/rfc/rfc2548#section-2.3.2
    value = rfc_v2_response()
    assert len(value) == 50
    assert value[0] == 0x42
    assert value[1] == 0  # Flags, MUST be zero
    assert value[2:18] == PEER_CHALLENGE
    assert value[18:26] == bytes(8)  # Reserved, MUST be zero
    assert value[26:50] == NT_RESPONSE


def test_verify_mschap_v2_rfc_vector() -> None:
    result = verify_mschap_v2(USER, PASSWORD, AUTH_CHALLENGE, rfc_v2_response(0x42))
    assert isinstance(result, MschapV2Result)
    # https://www.rfc-editor.org/rfc/rfc2548#section-2.3.3: Ident, then the 42-octet string
    assert result.success == b"\x42" + h("AuthenticatorResponse").encode()
    assert len(result.success) == 43
    # https://www.rfc-editor.org/rfc/rfc3079#section-3.5.3: SendStartKey128 is the server's send
    # key; the receive key is the Magic2 key for the same master key (see test_mppe).
    assert result.send_key.hex().upper() == "8B7CDC149B993A1BA118CB153F56DCCB"
    assert result.recv_key.hex().upper() == "D5F0E9521E3EA9589645E86051C82226"


def test_verify_mschap_v2_strips_the_domain_from_user_name() -> None:
    result = verify_mschap_v2(b"CORP\\User", PASSWORD, AUTH_CHALLENGE, rfc_v2_response())
    assert result is not None
    assert result.success[1:] == h("AuthenticatorResponse").encode()


def test_verify_mschap_v2_falls_back_to_the_whole_name() -> None:
    whole = b"CORP\\User"
    response = mschap_v2_response(1, whole, PASSWORD, AUTH_CHALLENGE, PEER_CHALLENGE)
    result = verify_mschap_v2(whole, PASSWORD, AUTH_CHALLENGE, response)
    assert result is not None
    expected = generate_authenticator_response(
        PASSWORD, response[26:], PEER_CHALLENGE, AUTH_CHALLENGE, whole
    )
    assert result.success == b"\x01" + expected.encode()


def test_verify_mschap_v2_wrong_user_name_fails() -> None:
    assert verify_mschap_v2(b"user", PASSWORD, AUTH_CHALLENGE, rfc_v2_response()) is None


def test_verify_mschap_v2_wrong_password_fails() -> None:
    assert verify_mschap_v2(USER, "clientpass", AUTH_CHALLENGE, rfc_v2_response()) is None


@pytest.mark.parametrize("index", [2, 17, 26, 49])
def test_verify_mschap_v2_tampered_response_fails(index: int) -> None:
    value = bytearray(rfc_v2_response())
    value[index] ^= 0x01
    assert verify_mschap_v2(USER, PASSWORD, AUTH_CHALLENGE, bytes(value)) is None


def test_verify_mschap_v2_other_challenge_fails() -> None:
    other = bytes(16)
    assert verify_mschap_v2(USER, PASSWORD, other, rfc_v2_response()) is None


MALFORMED_V2 = [
    # (authenticator challenge length, response length)
    (16, 0),
    (16, 49),
    (16, 51),
    (8, 50),
    (0, 50),
    (17, 50),
]


@pytest.mark.parametrize(("challenge_len", "response_len"), MALFORMED_V2)
def test_verify_mschap_v2_wrong_lengths(challenge_len: int, response_len: int) -> None:
    challenge = (AUTH_CHALLENGE * 2)[:challenge_len]
    response = (rfc_v2_response() * 2)[:response_len]
    assert verify_mschap_v2(USER, PASSWORD, challenge, response) is None


# --- MS-CHAP-Response (RFC 2548 2.1.3) ----------------------------------------------------------

V1_CHALLENGE = bytes.fromhex(RFC2433["Challenge"])


def test_mschap_v1_response_layout() -> None:
    value = mschap_v1_response(0x11, RFC2433["Password"], V1_CHALLENGE)
    assert len(value) == 50
    assert value[0] == 0x11
    assert value[1] == 0x01  # use the NT-Response
    assert value[2:26] == bytes(24)  # LM-Response, zero-filled when empty
    assert value[26:50].hex().upper() == RFC2433["NtChallengeResponse"]


def test_verify_mschap_v1_rfc_vector() -> None:
    # https://www.rfc-editor.org/rfc/rfc2433#appendix-B.2 placed in an MS-CHAP-Response
    response = b"\x11\x01" + bytes(24) + bytes.fromhex(RFC2433["NtChallengeResponse"])
    result = verify_mschap_v1(RFC2433["Password"], V1_CHALLENGE, response)
    assert isinstance(result, MschapV1Result)
    assert len(result.mppe_keys) == 32
    assert result.mppe_keys == mschap_v1_mppe_keys(RFC2433["Password"])


def test_verify_mschap_v1_wrong_password_fails() -> None:
    response = mschap_v1_response(1, "MyPw", V1_CHALLENGE)
    assert verify_mschap_v1("mypw", V1_CHALLENGE, response) is None


def test_verify_mschap_v1_rejects_lm_only_responses() -> None:
    # https://www.rfc-editor.org/rfc/rfc2548#section-2.1.3: Flags 0 means "use the LM-Response".
    lm = lm_challenge_response(V1_CHALLENGE, "MyPw")
    nt = nt_challenge_response(V1_CHALLENGE, "MyPw")
    assert verify_mschap_v1("MyPw", V1_CHALLENGE, b"\x01\x00" + lm + bytes(24)) is None
    assert verify_mschap_v1("MyPw", V1_CHALLENGE, b"\x01\x00" + lm + nt) is None


def test_verify_mschap_v1_ignores_the_lm_field_when_told_to_use_nt() -> None:
    nt = nt_challenge_response(V1_CHALLENGE, "MyPw")
    assert verify_mschap_v1("MyPw", V1_CHALLENGE, b"\x01\x01" + b"\xff" * 24 + nt) is not None


MALFORMED_V1 = [(8, 0), (8, 49), (8, 51), (16, 50), (7, 50), (0, 50)]


@pytest.mark.parametrize(("challenge_len", "response_len"), MALFORMED_V1)
def test_verify_mschap_v1_wrong_lengths(challenge_len: int, response_len: int) -> None:
    challenge = (V1_CHALLENGE * 2)[:challenge_len]
    response = (mschap_v1_response(1, "MyPw", V1_CHALLENGE) * 2)[:response_len]
    assert verify_mschap_v1("MyPw", challenge, response) is None


# --- properties ---------------------------------------------------------------------------------

passwords = st.text(max_size=40)
names = st.binary(min_size=1, max_size=32).filter(lambda b: b"\\" not in b)


@settings(max_examples=40, deadline=None)
@given(
    ident=st.integers(0, 255),
    username=names,
    passwords_=st.tuples(passwords, passwords),
    challenges=st.tuples(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16)),
)
def test_mschap_v2_round_trip(
    ident: int, username: bytes, passwords_: tuple[str, str], challenges: tuple[bytes, bytes]
) -> None:
    password, other = passwords_
    auth_challenge, peer_challenge = challenges
    response = mschap_v2_response(ident, username, password, auth_challenge, peer_challenge)
    result = verify_mschap_v2(username, password, auth_challenge, response)
    assert result is not None
    assert result.success[0] == ident
    assert check_authenticator_response(
        password,
        response[26:],
        peer_challenge,
        auth_challenge,
        username,
        received=result.success[1:],
    )
    if nt_password_hash(other) != nt_password_hash(password):
        assert verify_mschap_v2(username, other, auth_challenge, response) is None


@settings(max_examples=40, deadline=None)
@given(
    ident=st.integers(0, 255),
    password=passwords,
    other=passwords,
    challenge=st.binary(min_size=8, max_size=8),
)
def test_mschap_v1_round_trip(ident: int, password: str, other: str, challenge: bytes) -> None:
    response = mschap_v1_response(ident, password, challenge)
    assert verify_mschap_v1(password, challenge, response) is not None
    if nt_password_hash(other) != nt_password_hash(password):
        assert verify_mschap_v1(other, challenge, response) is None


@settings(max_examples=100, deadline=None)
@given(
    username=st.binary(max_size=40),
    password=st.text(max_size=20),
    challenge=st.binary(max_size=20),
    response=st.binary(max_size=60),
)
def test_verifiers_never_raise(
    username: bytes, password: str, challenge: bytes, response: bytes
) -> None:
    v2 = verify_mschap_v2(username, password, challenge, response)
    v1 = verify_mschap_v1(password, challenge, response)
    assert v2 is None or isinstance(v2, MschapV2Result)
    assert v1 is None or isinstance(v1, MschapV1Result)


def test_lone_surrogates_hash_without_raising() -> None:
    assert len(nt_password_hash("\ud800x")) == 16
