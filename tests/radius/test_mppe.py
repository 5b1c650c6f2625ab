"""MPPE keys: RFC 3079 section 3.5 sample derivations, key directions, MS-CHAP-MPPE-Keys layout."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from userman.radius.mppe import (
    get_asymmetric_start_key,
    get_master_key,
    server_keys,
)
from userman.radius.mschap import (
    hash_nt_password_hash,
    lm_password_hash,
    mschap_v1_mppe_keys,
    mschap_v2_keys,
    nt_password_hash,
)

# https://www.rfc-editor.org/rfc/rfc3079#section-3.5 uses the RFC 2759 9.2 inputs
# (User "User", password "clientPass"); these are the values it prints.
PASSWORD = "clientPass"
NT_RESPONSE = bytes.fromhex("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")
PASSWORD_HASH_HASH = bytes.fromhex("41C00C584BD2D91C4017A2A12FA59F3F")
MASTER_KEY = "FDECE3717A8C838CB388E527AE3CDD31"

START_KEYS = [
    # (section, key_length, SendStartKey), derived with IsSend=TRUE, IsServer=TRUE
    # https://www.rfc-editor.org/rfc/rfc3079#section-3.5.1
    ("3.5.1", 8, "8B7CDC149B993A1B"),
    # https://www.rfc-editor.org/rfc/rfc3079#section-3.5.2
    ("3.5.2", 8, "8B7CDC149B993A1B"),
    # https://www.rfc-editor.org/rfc/rfc3079#section-3.5.3
    ("3.5.3", 16, "8B7CDC149B993A1BA118CB153F56DCCB"),
]

# Not printed in RFC 3079: the Magic2 key (server receive = client send) for the same master
# key. FreeRADIUS sends it as MS-MPPE-Recv-Key; kept here so a swap of the magics shows.
SERVER_RECV_128 = "D5F0E9521E3EA9589645E86051C82226"


def test_rfc3079_master_key() -> None:
    assert get_master_key(PASSWORD_HASH_HASH, NT_RESPONSE).hex().upper() == MASTER_KEY


@pytest.mark.parametrize(("section", "key_length", "send_start_key"), START_KEYS)
def test_rfc3079_send_start_key(section: str, key_length: int, send_start_key: str) -> None:
    master_key = bytes.fromhex(MASTER_KEY)
    got = get_asymmetric_start_key(master_key, key_length, is_send=True, is_server=True)
    assert got.hex().upper() == send_start_key, section


def test_the_two_ends_mirror_each_other() -> None:
    # https://www.rfc-editor.org/rfc/rfc3079#section-3.4: Magic2/Magic3 are named for both ends.
    master_key = bytes.fromhex(MASTER_KEY)

    def key(is_send: bool, is_server: bool) -> bytes:
        return get_asymmetric_start_key(master_key, 16, is_send=is_send, is_server=is_server)

    assert key(is_send=True, is_server=True) == key(is_send=False, is_server=False)
    assert key(is_send=False, is_server=True) == key(is_send=True, is_server=False)
    assert key(is_send=True, is_server=True) != key(is_send=False, is_server=True)
    assert key(is_send=False, is_server=True).hex().upper() == SERVER_RECV_128


@pytest.mark.parametrize("key_length", [0, 5, 7, 15, 20])
def test_start_key_length_is_8_or_16(key_length: int) -> None:
    with pytest.raises(ValueError, match="8 or 16"):
        get_asymmetric_start_key(bytes(16), key_length, is_send=True, is_server=True)


def test_mschap_v2_keys_are_the_server_send_and_receive_keys() -> None:
    # RFC 2548 2.4.2/2.4.3 name them from the NAS's side: Send-Key encrypts NAS -> peer.
    send_key, recv_key = mschap_v2_keys(PASSWORD, NT_RESPONSE)
    assert send_key.hex().upper() == START_KEYS[2][2]
    assert recv_key.hex().upper() == SERVER_RECV_128
    assert server_keys(PASSWORD_HASH_HASH, NT_RESPONSE) == (send_key, recv_key)


# https://www.rfc-editor.org/rfc/rfc2548#section-2.4.1: LM-Key 8, NT-Key 16, Padding 8.
def test_mschap_v1_mppe_keys_layout() -> None:
    keys = mschap_v1_mppe_keys("password")
    assert len(keys) == 32
    assert keys[:8].hex().upper() == "E52CAC67419A9A22"  # first half of LM("password")
    assert keys[8:24] == hash_nt_password_hash(nt_password_hash("password"))
    assert keys[24:] == bytes(8)


def test_mschap_v1_mppe_keys_rfc2433_password() -> None:
    keys = mschap_v1_mppe_keys("MyPw")
    nt_hash = bytes.fromhex("FC156AF7EDCD6C0EDDE3337D427F4EAC")  # RFC 2433 B.2
    assert keys == lm_password_hash("MyPw")[:8] + hash_nt_password_hash(nt_hash) + bytes(8)


@pytest.mark.parametrize("password", ["a password of 24 chars!!", "пароль"])
def test_mschap_v1_mppe_keys_without_lm_hash(password: str) -> None:
    keys = mschap_v1_mppe_keys(password)
    assert keys[:8] == bytes(8)
    assert keys[8:24] == hash_nt_password_hash(nt_password_hash(password))
    assert keys[24:] == bytes(8)


@settings(max_examples=50, deadline=None)
@given(password=st.text(max_size=40), nt_response=st.binary(min_size=24, max_size=24))
def test_keys_have_fixed_sizes(password: str, nt_response: bytes) -> None:
    send_key, recv_key = mschap_v2_keys(password, nt_response)
    assert len(send_key) == len(recv_key) == 16
    assert send_key != recv_key
    assert len(mschap_v1_mppe_keys(password)) == 32
