"""Interoperability with pyrad2, both ways: packets pyrad2 encodes decode and verify here, and
packets encoded here decode and verify in pyrad2. pyrad2 reads the shipped dictionary files."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import userman.radius
from userman.radius import (
    Code,
    build,
    decode,
    default_dictionary,
    encode,
    make_avp,
    verify_message_authenticator,
    verify_request_authenticator,
    verify_response_authenticator,
)

# pyrad2 is a dependency of the tests on Python 3.12 and newer only (pyproject.toml); on an
# older Python the module says so once, and .ci/run runs it again on a newer one.
if sys.version_info < (3, 12):
    pytest.skip(
        "pyrad2 needs Python 3.12 or newer: the interop tests run on one (.ci/run does)",
        allow_module_level=True,
    )


def require(name: str) -> ModuleType:
    """Import `name`, or skip; with USERMAN_REQUIRE_ALL=1 a missing module fails instead."""
    if os.environ.get("USERMAN_REQUIRE_ALL") == "1":
        return importlib.import_module(name)
    module: ModuleType = pytest.importorskip(name)
    return module


require("pyrad2")
pyrad_dictionary = require("pyrad2.dictionary")
pyrad_packet = require("pyrad2.packet")

SECRET = b"interop-secret"
D = default_dictionary()
SHIPPED = Path(userman.radius.__file__).parent / "dictionaries" / "dictionary"


@pytest.fixture(scope="module")
def pyrad_dict() -> Any:
    return pyrad_dictionary.Dictionary(str(SHIPPED))


def _salt(n: int) -> bytes:
    return b"\x91\x23"[:n]


# --- pyrad2 encodes, userman decodes ---------------------------------------------------------


def test_access_request_from_pyrad(pyrad_dict: Any) -> None:
    req = pyrad_packet.AuthPacket(secret=SECRET, dict=pyrad_dict, id=17)
    req["User-Name"] = "nemo"
    req["User-Password"] = req.pw_crypt(b"arctangent with a long tail, over 16")
    req["NAS-IP-Address"] = "192.0.2.1"
    req["NAS-Port"] = 7
    req["Service-Type"] = "Framed-User"
    req["Mikrotik-Realm"] = "realm"
    req.add_message_authenticator()
    wire = req.request_packet()

    pkt = decode(wire, D, secret=SECRET)
    assert (pkt.code, pkt.identifier) == (Code.ACCESS_REQUEST, 17)
    assert pkt.get("User-Name") == "nemo"
    assert pkt.get("User-Password") == "arctangent with a long tail, over 16"
    assert str(pkt.get("NAS-IP-Address")) == "192.0.2.1"
    assert pkt.get("NAS-Port") == 7
    assert pkt.get("Service-Type") == 2
    assert pkt.get("Mikrotik-Realm") == "realm"
    assert verify_message_authenticator(wire, SECRET) is True
    assert verify_message_authenticator(wire, b"wrong") is False


def test_accounting_request_from_pyrad(pyrad_dict: Any) -> None:
    req = pyrad_packet.AcctPacket(secret=SECRET, dict=pyrad_dict, id=3)
    req["User-Name"] = "nemo"
    req["Acct-Status-Type"] = "Interim-Update"
    req["Acct-Session-Id"] = "81000007"
    req["Acct-Input-Octets"] = 123456
    req["Acct-Input-Gigawords"] = 1
    req["Event-Timestamp"] = 1_700_000_000
    wire = req.request_packet()

    assert verify_request_authenticator(wire, SECRET)
    assert not verify_request_authenticator(wire, b"wrong")
    pkt = decode(wire, D, secret=SECRET)
    assert pkt.code is Code.ACCOUNTING_REQUEST
    assert pkt.get("Acct-Status-Type") == 3
    assert pkt.get("Acct-Input-Octets") == 123456
    assert pkt.get("Acct-Input-Gigawords") == 1
    event = pkt.get("Event-Timestamp")
    assert event is not None
    assert int(event.timestamp()) == 1_700_000_000  # type: ignore[union-attr]


def test_accept_with_vsas_and_message_authenticator_from_pyrad(pyrad_dict: Any) -> None:
    req = pyrad_packet.AuthPacket(secret=SECRET, dict=pyrad_dict, id=9)
    req["User-Name"] = "nemo"
    request_wire = req.request_packet()
    request_auth = request_wire[4:20]

    reply = req.create_reply()
    reply.code = Code.ACCESS_ACCEPT
    reply["Mikrotik-Rate-Limit"] = "10M/2M"
    reply["Mikrotik-Address-List"] = "vip"
    reply["Mikrotik-Wireless-VLANID"] = 100
    reply["MS-MPPE-Send-Key"] = bytes(range(32))  # pyrad2 salt-encrypts encrypt=2 itself
    reply["MS-MPPE-Recv-Key"] = bytes(range(100, 132))
    reply["Session-Timeout"] = 3600
    reply.add_message_authenticator()
    wire = reply.reply_packet()

    assert verify_response_authenticator(wire, SECRET, request_auth)
    assert verify_message_authenticator(wire, SECRET, request_auth) is True
    pkt = decode(wire, D, secret=SECRET, request_authenticator=request_auth)
    assert pkt.code is Code.ACCESS_ACCEPT
    assert pkt.get("Mikrotik-Rate-Limit") == "10M/2M"
    assert pkt.get("Mikrotik-Address-List") == "vip"
    assert pkt.get("Mikrotik-Wireless-VLANID") == 100
    assert pkt.get("MS-MPPE-Send-Key") == bytes(range(32))
    assert pkt.get("MS-MPPE-Recv-Key") == bytes(range(100, 132))
    assert pkt.get("Session-Timeout") == 3600


# --- userman encodes, pyrad2 decodes ---------------------------------------------------------


def test_access_request_to_pyrad(pyrad_dict: Any) -> None:
    auth = bytes(range(16))
    pkt = build(
        D,
        Code.ACCESS_REQUEST,
        33,
        auth,
        [
            ("User-Name", "nemo"),
            ("User-Password", "a password longer than sixteen octets"),
            ("NAS-IP-Address", "198.51.100.7"),
            ("Mikrotik-Host-IP", "10.5.5.5"),
        ],
    )
    wire = encode(pkt, SECRET, message_authenticator=True)
    got = pyrad_packet.AuthPacket(packet=wire, dict=pyrad_dict, secret=SECRET)
    assert got.id == 33
    assert got["User-Name"] == ["nemo"]
    assert got.pw_decrypt(got[2][0]) == "a password longer than sixteen octets"
    assert got["NAS-IP-Address"] == ["198.51.100.7"]
    assert got["Mikrotik-Host-IP"] == ["10.5.5.5"]
    assert got.verify_message_authenticator() is True


def test_accept_to_pyrad(pyrad_dict: Any) -> None:
    req = pyrad_packet.AuthPacket(secret=SECRET, dict=pyrad_dict, id=44)
    req["User-Name"] = "nemo"
    request_wire = req.request_packet()
    request = decode(request_wire, D, secret=SECRET)

    reply = request.reply(
        Code.ACCESS_ACCEPT,
        [
            make_avp(D, "Mikrotik-Rate-Limit", "10M/2M 20M/4M 8M/1M 10/10 8 1M/256k"),
            make_avp(D, "Mikrotik-Total-Limit", 1_000_000),
            make_avp(D, "Framed-IP-Address", "10.0.0.9"),
            make_avp(D, "Tunnel-Password", "vpn-secret"),  # one block: see pyrad2's decrypt
            make_avp(D, "Class", b"\x00\x01opaque"),
        ],
    )
    wire = encode(
        reply,
        SECRET,
        request_authenticator=request.authenticator,
        message_authenticator=True,
        salt=_salt,
    )
    got = pyrad_packet.AuthPacket(packet=wire, dict=pyrad_dict, secret=SECRET)
    assert req.verify_reply(got, wire, enforce_ma=True)
    assert got.code == Code.ACCESS_ACCEPT
    assert got["Mikrotik-Rate-Limit"] == ["10M/2M 20M/4M 8M/1M 10/10 8 1M/256k"]
    assert got["Mikrotik-Total-Limit"] == [1_000_000]
    assert got["Framed-IP-Address"] == ["10.0.0.9"]
    # pyrad2 reveals tagged salt-encrypted values without removing the tag first: by hand
    got.authenticator = request.authenticator
    tag_salt_cipher = got[69][0]
    assert tag_salt_cipher[0] == 0
    assert got.salt_decrypt(tag_salt_cipher[1:]) == b"vpn-secret"


def test_accounting_request_and_response_to_pyrad(pyrad_dict: Any) -> None:
    pkt = build(
        D,
        Code.ACCOUNTING_REQUEST,
        5,
        bytes(16),
        [
            ("User-Name", "nemo"),
            ("Acct-Status-Type", "Start"),
            ("Acct-Session-Id", "81000008"),
        ],
    )
    wire = encode(pkt, SECRET)
    got = pyrad_packet.AcctPacket(packet=wire, dict=pyrad_dict, secret=SECRET)
    assert got.verify_acct_request()
    assert got["Acct-Status-Type"] == ["Start"]

    response = decode(wire, D).reply(Code.ACCOUNTING_RESPONSE)
    response_wire = encode(
        response, SECRET, request_authenticator=wire[4:20], message_authenticator=True
    )
    answer = pyrad_packet.AcctPacket(packet=response_wire, dict=pyrad_dict, secret=SECRET)
    assert got.verify_reply(answer, response_wire)


def test_coa_request_to_pyrad(pyrad_dict: Any) -> None:
    pkt = build(
        D,
        Code.COA_REQUEST,
        8,
        bytes(16),
        [("User-Name", "nemo"), ("Mikrotik-Rate-Limit", "1M/1M")],
    )
    wire = encode(pkt, SECRET, message_authenticator=True)
    got = pyrad_packet.CoAPacket(packet=wire, dict=pyrad_dict, secret=SECRET)
    assert got.verify_coa_request()
    assert got.verify_message_authenticator() is True
    assert got["Mikrotik-Rate-Limit"] == ["1M/1M"]
