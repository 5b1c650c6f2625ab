"""What a router (or whoever spoofs one) sends that is not as it should be gets an answer or a
counted, quiet drop, never a traceback: text that is not UTF-8, counters beyond any session, a
Class naming no row, one request on both ports, floods that would fill the log."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from inmemory import ROUTER, SECRET, D, FakeTransport, do, exchange, make_app, run_server
from userman.radius.packet import Code, build, decode, encode
from userman.server.endpoint import RadiusServer
from userman.server.failures import Throttle
from userman.services import Actor, Userman

ROOT = Actor.superuser()


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Userman]:
    userman = make_app(tmp_path, sqlite_template)
    do(userman, "user create-and-activate-profile", "test", profile="p")
    do(userman, "router set", "r", log="auth-fail,auth-ok,acct-ok,acct-fail")
    yield userman
    userman.close()


def logon(name: bytes, password: bytes, **extra: object) -> bytes:
    attributes = [("User-Name", name), ("User-Password", password), *extra.items()]
    pkt = build(D, Code.ACCESS_REQUEST, 7, os.urandom(16), attributes)
    return encode(pkt, SECRET, message_authenticator=True)


def accounting(name: bytes, status: str, session: bytes, **extra: object) -> bytes:
    attributes = [
        ("User-Name", name),
        ("Acct-Session-Id", session),
        ("Acct-Status-Type", status),
        *extra.items(),
    ]
    return encode(build(D, Code.ACCOUNTING_REQUEST, 3, bytes(16), attributes), SECRET)


def answer(app: Userman, data: bytes, *, acct: bool = False) -> tuple[RadiusServer, list[str]]:
    server, sent = exchange(app, data, acct=acct)
    return server, [decode(reply, D).code.name for reply, _, _ in sent]


@pytest.mark.parametrize("memory", [False, True], ids=["database", "memory"])
def test_a_user_name_that_is_not_utf8_is_rejected(app: Userman, memory: bool) -> None:
    """Issue 11: an Access-Reject, never silence, even when a user has the escaped text as
    its name; the log shows the octets escaped."""
    do(app, "user add", username="te\\xffst", password="test")
    if memory:
        app.policy.load()
    _, sent = exchange(app, logon(b"te\xffst", b"test"))
    [(reply, _, _)] = sent
    pkt = decode(reply, D)
    assert pkt.code is Code.ACCESS_REJECT
    assert pkt.get("Reply-Message") == "user name <te\\xffst> is not UTF-8"
    logged = [entry.json["description"] for entry in app.execute(ROOT, ("log",), "print").items]
    assert any("te\\xffst" in text for text in logged)


def test_a_password_that_is_not_utf8_is_a_wrong_password(app: Userman) -> None:
    _, codes = answer(app, logon(b"test", b"te\xffst"))
    assert codes == ["ACCESS_REJECT"]


def test_a_caller_id_that_is_not_utf8_is_kept_escaped(app: Userman) -> None:
    _, codes = answer(app, logon(b"test", b"test", **{"Calling-Station-Id": b"\xff\xfe"}))
    assert codes == ["ACCESS_ACCEPT"]


def test_accounting_text_that_is_not_utf8_is_stored_escaped(app: Userman) -> None:
    """Issue 11: the record is acknowledged and stored with its octets kept, escaped."""
    _, codes = answer(app, accounting(b"test", "Start", b"s\xff1"), acct=True)
    assert codes == ["ACCOUNTING_RESPONSE"]
    _, codes = answer(app, accounting(b"te\xffst", "Start", b"s2"), acct=True)
    assert codes == ["ACCOUNTING_RESPONSE"]
    sessions = {s.json["acct-session-id"] for s in app.execute(ROOT, ("session",), "print").items}
    assert "s\\xff1" in sessions


def test_counters_beyond_any_session_are_dropped_and_counted(app: Userman) -> None:
    """Gigawords 0xFFFFFFFF: no acknowledgement, and the user's usage is untouched."""
    answer(app, accounting(b"test", "Start", b"s1"), acct=True)
    huge = {"Acct-Input-Gigawords": 0xFFFFFFFF, "Acct-Input-Octets": 0xFFFFFFFF}
    server, codes = answer(app, accounting(b"test", "Interim-Update", b"s1", **huge), acct=True)
    assert codes == []
    assert server.counters["broken-requests"] == 1
    [session] = app.execute(ROOT, ("session",), "print").items
    assert session.json["upload"] == 0


def test_a_class_naming_no_row_is_ignored(app: Userman) -> None:
    """A Class of ours whose number fits no row id: the record is the user name's."""
    cls = {"Class": b"userman:" + b"9" * 40}
    _, codes = answer(app, accounting(b"test", "Start", b"s1", **cls), acct=True)
    assert codes == ["ACCOUNTING_RESPONSE"]
    [session] = app.execute(ROOT, ("session",), "print").items
    assert session.json["user"] == "test"


def test_one_request_on_both_ports_gets_each_ports_answer(app: Userman) -> None:
    """Issue 11: the duplicate cache tells the ports apart; a Status-Server to the accounting
    port is never answered with the authentication port's Access-Accept (RFC 5997 3)."""
    data = encode(
        build(D, Code.STATUS_SERVER, 9, os.urandom(16), []), SECRET, message_authenticator=True
    )
    transport = FakeTransport(app)

    async def both(server: RadiusServer) -> None:
        await server.handle(transport, data, ROUTER, False)
        await server.handle(transport, data, ROUTER, True)
        await server.handle(transport, data, ROUTER, True)  # a retransmission: the same answer

    server = run_server(app, both)
    codes = [decode(reply, D).code for reply, _, _ in transport.sent]
    assert codes == [Code.ACCESS_ACCEPT, Code.ACCOUNTING_RESPONSE, Code.ACCOUNTING_RESPONSE]
    assert server.counters["duplicates"] == 1


def test_a_flood_from_an_unknown_address_writes_one_line(
    app: Userman, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 11 (logs as a disk filler): every drop is counted, one line a minute is written."""
    data = logon(b"test", b"test")
    transport = FakeTransport(app)

    async def flood(server: RadiusServer) -> None:
        for n in range(200):
            await server.handle(transport, data, ("127.0.0.9", 1000 + n), False)
        for _ in range(50):
            await server.handle(transport, b"\x01\x07\x00\x30" + bytes(17), ROUTER, False)

    with caplog.at_level(logging.WARNING, logger="userman.server"):
        server = run_server(app, flood)
    assert server.counters["unknown-requests"] == 200
    assert server.counters["broken-requests"] == 50
    lines = [r.getMessage() for r in caplog.records]
    assert len([line for line in lines if "no router with that address" in line]) == 1
    assert len([line for line in lines if "malformed" in line]) == 1


def test_the_throttle_counts_what_it_does_not_write() -> None:
    throttle = Throttle(window=60.0, keys=2)
    assert throttle.note("a", 0.0) == 0
    assert throttle.note("a", 1.0) is None
    assert throttle.note("a", 2.0) is None
    assert throttle.note("a", 61.0) == 2  # the next line says how many it stood for
    assert throttle.note("b", 61.0) == 0
    # Past `keys` sources, all others share one key: still one line a window.
    assert throttle.note("c", 62.0) == 0
    assert throttle.note("d", 63.0) is None
    assert throttle.note("a", 200.0) == 0  # a window later: written again
