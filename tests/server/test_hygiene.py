"""Protocol hygiene of the server, with an in-memory datagram transport: retransmissions answered
from the duplicate cache (RFC 5080 2.2.2), Proxy-State echoed (RFC 2865 5.33), and the
Message-Authenticator a request must carry (RFC 3579 3.2, RFC 5997 3, BlastRADIUS)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inmemory import ROUTER, SECRET, D, FakeTransport, run_server
from userman.radius.packet import (
    Code,
    Packet,
    build,
    decode,
    encode,
    verify_message_authenticator,
    verify_response_authenticator,
)
from userman.server.endpoint import RadiusServer
from userman.services import Actor, Userman

ROOT = Actor.superuser()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Userman]:
    """The manual's example: router1 (added now, so requiring Message-Authenticator), user test."""
    userman = Userman(f"sqlite:///{tmp_path / 'server.db'}")
    userman.prepare()
    userman.execute(ROOT, ("profile",), "add", (), {"name": "profile1"})
    router = {"name": "router1", "ip-address": "127.0.0.1", "shared-secret": "12345"}
    userman.execute(ROOT, ("router",), "add", (), router)
    userman.execute(ROOT, ("user",), "add", (), {"username": "test", "password": "test"})
    userman.execute(
        ROOT, ("user",), "create-and-activate-profile", ("test",), {"profile": "profile1"}
    )
    yield userman
    userman.close()


def send(app: Userman, *datagrams: bytes, acct: bool = False) -> tuple[RadiusServer, list[bytes]]:
    """Send the datagrams one after the other to one server; what it sent back."""
    transport = FakeTransport(app)

    async def each(server: RadiusServer) -> None:
        for data in datagrams:
            await server.handle(transport, data, ROUTER, acct)

    server = run_server(app, each)
    assert all(addr == ROUTER for _, addr, _ in transport.sent)
    return server, [data for data, _, _ in transport.sent]


def access_request(*extra: tuple[str, object], signed: bool = True) -> tuple[Packet, bytes]:
    attributes = [("User-Name", "test"), ("User-Password", "test"), *extra]
    pkt = build(D, Code.ACCESS_REQUEST, 7, os.urandom(16), attributes)
    return pkt, encode(pkt, SECRET, message_authenticator=signed)


def accounting(*extra: tuple[str, object]) -> bytes:
    attributes = [
        ("User-Name", "test"),
        ("Acct-Session-Id", "81d0009b"),
        ("Acct-Status-Type", "Start"),
        *extra,
    ]
    return encode(build(D, Code.ACCOUNTING_REQUEST, 3, bytes(16), attributes), SECRET)


def status_server(*extra: tuple[str, object], signed: bool = True) -> tuple[Packet, bytes]:
    pkt = build(D, Code.STATUS_SERVER, 9, os.urandom(16), list(extra))
    return pkt, encode(pkt, SECRET, message_authenticator=signed)


def sessions(app: Userman) -> list[dict[str, Any]]:
    return [item.json for item in app.execute(ROOT, ("session",), "print").items]


# --- duplicates: https://www.rfc-editor.org/rfc/rfc5080#section-2.2.2 -------------------------


def test_a_retransmitted_access_request_gets_the_same_reply_decided_once(app: Userman) -> None:
    _, data = access_request()
    server, [first, again] = send(app, data, data)
    assert again == first
    assert decode(first, D).code is Code.ACCESS_ACCEPT
    assert server.counters["accepts"] == 1
    assert server.counters["duplicates"] == 1


def test_a_retransmitted_accounting_request_is_written_once(app: Userman) -> None:
    data = accounting(("Acct-Input-Octets", 100))
    server, [first, again] = send(app, data, data, acct=True)
    assert again == first
    assert decode(first, D).code is Code.ACCOUNTING_RESPONSE
    assert server.counters["accounting-requests"] == 1
    assert server.counters["duplicates"] == 1
    [session] = sessions(app)
    assert session["status"] == "start"


def test_a_new_request_with_the_same_identifier_is_decided(app: Userman) -> None:
    # A new Request Authenticator makes a new request (RFC 2865 3).
    _, first = access_request()
    _, second = access_request()
    server, replies = send(app, first, second)
    assert len(replies) == 2
    assert server.counters["accepts"] == 2
    assert server.counters["duplicates"] == 0


def test_a_retransmission_while_the_first_is_decided_is_dropped(
    app: Userman, monkeypatch: pytest.MonkeyPatch
) -> None:
    deciding, release = threading.Event(), threading.Event()
    authenticate = app.authenticate

    def slow(*args: Any) -> Any:
        deciding.set()
        release.wait(10)
        return authenticate(*args)

    monkeypatch.setattr(app, "authenticate", slow)
    _, data = access_request()
    transport = FakeTransport(app)

    async def run(server: RadiusServer) -> None:
        first = asyncio.ensure_future(server.handle(transport, data, ROUTER, False))
        try:
            await asyncio.to_thread(deciding.wait, 10)
            await server.handle(transport, data, ROUTER, False)
            assert transport.sent == []  # the copy was dropped while the first is decided
        finally:
            release.set()
        await first

    server = run_server(app, run)
    [(reply, _, _)] = transport.sent
    assert decode(reply, D).code is Code.ACCESS_ACCEPT
    assert server.counters["accepts"] == 1
    assert server.counters["duplicates"] == 1


def test_a_dropped_request_is_not_remembered(app: Userman) -> None:
    # A copy that failed its check is not a reply to repeat: the next copy is checked afresh.
    app.execute(ROOT, ("router",), "set", ("router1",), {"require-message-authenticator": "yes"})
    _, data = access_request(signed=False)
    server, replies = send(app, data, data)
    assert replies == []
    assert server.counters["missing-message-authenticator"] == 2
    assert server.counters["duplicates"] == 0
    assert len(server.duplicates) == 0


# --- Proxy-State: https://www.rfc-editor.org/rfc/rfc2865#section-5.33 --------------------------

STATES = [b"\x01first", b"second", b""]


def proxy_states(*states: bytes) -> list[tuple[str, object]]:
    return [("Proxy-State", state) for state in states]


@pytest.mark.parametrize("password", ["test", "wrong"])
def test_access_replies_echo_every_proxy_state_in_order(app: Userman, password: str) -> None:
    pkt = build(
        D,
        Code.ACCESS_REQUEST,
        7,
        os.urandom(16),
        [("User-Name", "test"), ("User-Password", password), *proxy_states(*STATES)],
    )
    _, [data] = send(app, encode(pkt, SECRET, message_authenticator=True))
    reply = decode(data, D)
    assert reply.code is (Code.ACCESS_ACCEPT if password == "test" else Code.ACCESS_REJECT)
    assert reply.get_all("Proxy-State") == STATES
    assert verify_response_authenticator(data, SECRET, pkt.authenticator)


def test_the_accounting_response_echoes_proxy_state(app: Userman) -> None:
    _, [data] = send(app, accounting(*proxy_states(*STATES)), acct=True)
    assert decode(data, D).get_all("Proxy-State") == STATES


@pytest.mark.parametrize("acct", [False, True])
def test_status_server_replies_echo_proxy_state(app: Userman, acct: bool) -> None:
    _, data = status_server(*proxy_states(b"x"))
    _, [reply] = send(app, data, acct=acct)
    assert decode(reply, D).get_all("Proxy-State") == [b"x"]


def test_a_reply_without_proxy_state_in_the_request_has_none(app: Userman) -> None:
    _, data = access_request()
    _, [reply] = send(app, data)
    assert "Proxy-State" not in decode(reply, D)


# --- Message-Authenticator: RFC 3579 3.2, BlastRADIUS (CVE-2024-3596) --------------------------


def test_a_router_added_now_is_auto(app: Userman) -> None:
    # FreeRADIUS 3.2.5's default: required once the router has sent one (test_auto_signing.py).
    [router] = app.execute(ROOT, ("router",), "print").items
    assert router.json["require-message-authenticator"] == "auto"
    assert router.json["message-authenticator-seen"] == ""


def test_an_unsigned_access_request_is_dropped_when_required(app: Userman) -> None:
    app.execute(ROOT, ("router",), "set", ("router1",), {"require-message-authenticator": "yes"})
    _, data = access_request(signed=False)
    server, replies = send(app, data)
    assert replies == []
    assert server.counters["missing-message-authenticator"] == 1
    assert server.counters["accepts"] == server.counters["rejects"] == 0


def test_an_unsigned_access_request_is_answered_when_not_required(app: Userman) -> None:
    app.execute(ROOT, ("router",), "set", ("router1",), {"require-message-authenticator": "no"})
    request, data = access_request(signed=False)
    server, [reply] = send(app, data)
    assert decode(reply, D).code is Code.ACCESS_ACCEPT
    # The reply is signed all the same, Message-Authenticator first.
    assert reply[20:22] == bytes([80, 18])
    assert verify_message_authenticator(reply, SECRET, request.authenticator) is True
    assert server.counters["missing-message-authenticator"] == 0


def test_a_signed_access_request_is_verified_when_not_required(app: Userman) -> None:
    app.execute(ROOT, ("router",), "set", ("router1",), {"require-message-authenticator": "no"})
    _, data = access_request()
    forged = bytearray(data)
    forged[22] ^= 0xFF  # Message-Authenticator is the first attribute
    server, replies = send(app, bytes(forged))
    assert replies == []
    assert server.counters["bad-authenticator"] == 1


def test_an_unsigned_eap_message_is_dropped_even_when_not_required(app: Userman) -> None:
    # RFC 3579 3.2: an Access-Request with EAP-Message and no Message-Authenticator is discarded.
    app.execute(ROOT, ("router",), "set", ("router1",), {"require-message-authenticator": "no"})
    pkt = build(
        D, Code.ACCESS_REQUEST, 7, os.urandom(16), [("User-Name", "test"), ("EAP-Message", b"\x02")]
    )
    server, replies = send(app, encode(pkt, SECRET))
    assert replies == []
    assert server.counters["missing-message-authenticator"] == 1


def test_accounting_needs_no_message_authenticator(app: Userman) -> None:
    # RFC 2866 3: the Request Authenticator already signs an Accounting-Request.
    server, [reply] = send(app, accounting(), acct=True)
    assert decode(reply, D).code is Code.ACCOUNTING_RESPONSE
    assert server.counters["missing-message-authenticator"] == 0


# --- Status-Server: https://www.rfc-editor.org/rfc/rfc5997#section-3 ---------------------------


@pytest.mark.parametrize("acct", [False, True])
@pytest.mark.parametrize("required", ["yes", "no"])
def test_an_unsigned_status_server_is_dropped(app: Userman, acct: bool, required: str) -> None:
    # Status-Server MUST carry a Message-Authenticator, whatever the router's policy.
    app.execute(ROOT, ("router",), "set", ("router1",), {"require-message-authenticator": required})
    _, data = status_server(signed=False)
    server, replies = send(app, data, acct=acct)
    assert replies == []
    assert server.counters["missing-message-authenticator"] == 1
    assert server.counters["status-server"] == 0


@pytest.mark.parametrize(
    ("acct", "answer"), [(False, Code.ACCESS_ACCEPT), (True, Code.ACCOUNTING_RESPONSE)]
)
def test_the_status_server_reply_is_signed_over_the_request(
    app: Userman, acct: bool, answer: Code
) -> None:
    # The reply's Message-Authenticator covers the Status-Server's Request Authenticator, on
    # the accounting port too.
    request, data = status_server()
    _, [reply] = send(app, data, acct=acct)
    assert decode(reply, D).code is answer
    assert verify_response_authenticator(reply, SECRET, request.authenticator)
    signed = verify_message_authenticator(
        reply, SECRET, request.authenticator, request_code=Code.STATUS_SERVER
    )
    assert signed is True
