"""The server's request handling with an in-memory datagram transport: what is answered, what is
dropped and counted, and that an Accounting-Response follows the commit (RFC 2866 2)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import inmemory
from userman.radius.packet import Code, Packet, build, decode, encode, verify_response_authenticator
from userman.server.endpoint import RadiusProtocol, RadiusServer
from userman.services import Actor, Userman

D, SECRET, ROUTER, exchange = inmemory.D, inmemory.SECRET, inmemory.ROUTER, inmemory.exchange


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Userman]:
    userman = Userman(f"sqlite:///{tmp_path / 'server.db'}")
    userman.prepare()
    root = Actor.superuser()
    userman.execute(root, ("profile",), "add", (), {"name": "profile1"})
    userman.execute(
        root,
        ("router",),
        "add",
        (),
        {
            "name": "router1",
            "ip-address": "127.0.0.1",
            "shared-secret": "12345",
            "log": "auth-fail",
        },
    )
    userman.execute(root, ("user",), "add", (), {"username": "test", "password": "test"})
    userman.execute(
        root, ("user",), "create-and-activate-profile", ("test",), {"profile": "profile1"}
    )
    yield userman
    userman.close()


def access_request(password: str, **extra: object) -> tuple[Packet, bytes]:
    return inmemory.access_request("test", password, **extra)


def test_pap_accept_is_signed_and_authenticated(app: Userman) -> None:
    request, data = access_request("test")
    _, sent = exchange(app, data)
    [(reply_data, addr, _)] = sent
    assert addr == ROUTER
    reply = decode(reply_data, D)
    assert reply.code is Code.ACCESS_ACCEPT
    assert reply.identifier == 7
    assert verify_response_authenticator(reply_data, SECRET, request.authenticator)
    assert "Message-Authenticator" in reply


def test_a_wrong_password_is_rejected_with_a_reason(app: Userman) -> None:
    _, data = access_request("wrong")
    server, [(reply_data, _, _)] = exchange(app, data)
    reply = decode(reply_data, D)
    assert reply.code is Code.ACCESS_REJECT
    assert reply.get("Reply-Message") == "wrong password for user <test>"
    assert server.counters["rejects"] == 1


def test_an_unknown_address_is_dropped_and_counted(app: Userman) -> None:
    _, data = access_request("test")
    server, sent = exchange(app, data, source=("127.0.0.9", 1))
    assert sent == []
    assert server.counters["unknown-requests"] == 1


@pytest.mark.parametrize(
    "data",
    [b"", b"\x01" * 19, bytes(20), b"\x01\x07\x00\x30" + bytes(16) + b"\x01\x01"],
)
def test_a_malformed_packet_is_dropped_and_counted(app: Userman, data: bytes) -> None:
    server, sent = exchange(app, data)
    assert sent == []
    assert server.counters["broken-requests"] == 1


def test_a_wrong_message_authenticator_is_dropped(app: Userman) -> None:
    pkt, _ = access_request("test")
    data = bytearray(encode(pkt, SECRET, message_authenticator=True))
    index = data.index(bytes([80, 18])) + 2  # Message-Authenticator (80), 16 octets of value
    data[index] ^= 0xFF
    server, sent = exchange(app, bytes(data))
    assert sent == []
    assert server.counters["bad-authenticator"] == 1
    [entry] = app.execute(Actor.superuser(), ("log",), "print").items
    assert entry.json["description"] == (
        "router router1: Message-Authenticator does not match: wrong shared secret?"
    )


def test_an_accounting_request_on_the_auth_port_is_dropped(app: Userman) -> None:
    pkt = build(D, Code.ACCOUNTING_REQUEST, 1, bytes(16), [("Acct-Status-Type", "Start")])
    server, sent = exchange(app, encode(pkt, SECRET))
    assert sent == []
    assert server.counters["broken-requests"] == 1


def accounting(status: str, **extra: object) -> bytes:
    return inmemory.accounting("test", status, **extra)


def test_the_accounting_response_follows_the_commit(app: Userman) -> None:
    _, [(reply_data, _, sessions_when_sent)] = exchange(app, accounting("Start"), acct=True)
    assert decode(reply_data, D).code is Code.ACCOUNTING_RESPONSE
    assert sessions_when_sent == 1


def test_an_accounting_request_with_a_wrong_authenticator_is_dropped(app: Userman) -> None:
    data = bytearray(accounting("Start"))
    data[4] ^= 1
    server, sent = exchange(app, bytes(data), acct=True)
    assert sent == []
    assert server.counters["bad-authenticator"] == 1
    assert app.execute(Actor.superuser(), ("session",), "print").items == ()
    [entry] = app.execute(Actor.superuser(), ("log",), "print").items
    assert entry.json["description"] == (
        "router router1: Accounting-Request authenticator does not match: wrong shared secret?"
    )


@pytest.mark.parametrize(
    ("acct", "answer"), [(False, Code.ACCESS_ACCEPT), (True, Code.ACCOUNTING_RESPONSE)]
)
def test_status_server_is_answered_on_both_ports(app: Userman, acct: bool, answer: Code) -> None:
    pkt = build(D, Code.STATUS_SERVER, 9, os.urandom(16), [])
    data = encode(pkt, SECRET, message_authenticator=True)
    _, [(reply_data, _, _)] = exchange(app, data, acct=acct)
    assert decode(reply_data, D).code is answer


def test_a_repeated_stop_is_acknowledged_and_counted_once(app: Userman) -> None:
    stop = accounting("Stop", **{"Acct-Session-Time": 60, "Acct-Input-Octets": 100})
    for data in (accounting("Start"), stop, stop):
        _, [(reply_data, _, _)] = exchange(app, data, acct=True)
        assert decode(reply_data, D).code is Code.ACCOUNTING_RESPONSE
    root = Actor.superuser()
    [session] = app.execute(root, ("session",), "print").items
    assert session.json["active"] is False
    [user] = app.execute(root, ("user",), "print").items
    assert user.json["upload-used"] == 100


def test_shared_users_counts_the_users_open_sessions(app: Userman) -> None:
    # As in the manual's example, shared-users=1: an open session refuses a second logon.
    app.execute(Actor.superuser(), ("user",), "set", ("test",), {"shared-users": "1"})
    exchange(app, accounting("Start"), acct=True)
    _, data = access_request("test")
    _, [(reply_data, _, _)] = exchange(app, data)
    reply = decode(reply_data, D)
    assert reply.code is Code.ACCESS_REJECT
    assert reply.get("Reply-Message") == "user <test> has reached its shared-users limit"
    exchange(app, accounting("Stop"), acct=True)
    _, [(reply_data, _, _)] = exchange(app, data)
    assert decode(reply_data, D).code is Code.ACCESS_ACCEPT


def test_caller_id_bind_on_first_use_stores_the_first_caller(app: Userman) -> None:
    root = Actor.superuser()
    app.execute(root, ("user",), "set", ("test",), {"caller-id-bind-on-first-use": "yes"})
    _, first = access_request("test", **{"Calling-Station-Id": "AA:BB:CC:DD:EE:FF"})
    _, [(reply_data, _, _)] = exchange(app, first)
    assert decode(reply_data, D).code is Code.ACCESS_ACCEPT
    [user] = app.execute(root, ("user",), "print").items
    assert user.json["caller-id"] == "AA:BB:CC:DD:EE:FF"
    _, other = access_request("test", **{"Calling-Station-Id": "11:22:33:44:55:66"})
    _, [(reply_data, _, _)] = exchange(app, other)
    assert decode(reply_data, D).code is Code.ACCESS_REJECT


def test_a_stopping_server_takes_no_more_requests(app: Userman) -> None:
    """Once told to stop, a port takes nothing more (the router retransmits to another
    server), while the request taken before it is still answered."""
    transport = inmemory.FakeTransport(app)

    async def stop_between(server: RadiusServer) -> None:
        protocol = RadiusProtocol(server, accounting=False)
        protocol.connection_made(transport)
        protocol.datagram_received(access_request("test")[1], ROUTER)
        protocol.refuse()
        protocol.datagram_received(access_request("test")[1], ROUTER)

    server = inmemory.run_server(app, stop_between)
    [(reply, _, _)] = transport.sent
    assert decode(reply, D).code is Code.ACCESS_ACCEPT
    assert server.counters["access-requests"] == 1
