"""require-message-authenticator=auto (FreeRADIUS 3.2.5's, the default of a new router): an
unsigned Access-Request is answered until the router has once sent a signed one, then dropped,
counted and logged; the database remembers it. Every reply is signed, Message-Authenticator
first. BlastRADIUS: CVE-2024-3596, RFC 3579 3.2."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from inmemory import ROUTER, SECRET, D, FakeTransport, accounting, do, make_app, run_server
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
MISSING = (
    "router r: no Message-Authenticator; set require-message-authenticator=no for routers that"
    " cannot send one"
)


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Userman]:
    userman = make_app(tmp_path, sqlite_template)  # router r, left at its default
    do(userman, "user create-and-activate-profile", "test", profile="p")
    yield userman
    userman.close()


def request(*extra: tuple[str, object], signed: bool, password: str = "test") -> bytes:
    attributes = [("User-Name", "test"), ("User-Password", password), *extra]
    pkt = build(D, Code.ACCESS_REQUEST, 7, os.urandom(16), attributes)
    return encode(pkt, SECRET, message_authenticator=signed)


Steps = Callable[[RadiusServer, Callable[[bytes], Awaitable[list[bytes]]]], Awaitable[None]]


def run(app: Userman, steps: Steps, *, acct: bool = False) -> RadiusServer:
    """One server for the steps; `send(data)` gives what it answered to that datagram. The
    server's own tasks (the database told of a signing router) finish, and its counters are
    flushed, before it closes."""
    transport = FakeTransport(app)

    async def go(server: RadiusServer) -> None:
        async def send(data: bytes) -> list[bytes]:
            before = len(transport.sent)
            await server.handle(transport, data, ROUTER, acct)
            return [reply for reply, _, _ in transport.sent[before:]]

        await steps(server, send)

    return run_server(app, go, flush=True)


def router(app: Userman) -> dict[str, Any]:
    [item] = app.execute(ROOT, ("router",), "print").items
    return item.json


def failures(app: Userman) -> list[str]:
    return [
        str(entry.json["description"])
        for entry in app.execute(ROOT, ("log",), "print").items
        if entry.json["status"] == "router-failure"
    ]


def code(reply: bytes) -> Code:
    return decode(reply, D).code


# --- auto ---------------------------------------------------------------------------------


def test_auto_answers_unsigned_requests_until_the_router_signs_one(
    app: Userman, monkeypatch: pytest.MonkeyPatch
) -> None:
    told, release = threading.Event(), threading.Event()
    note_signed = app.note_signed

    def slow(router_id: int, now: Any) -> bool:
        told.set()
        release.wait(10)
        return note_signed(router_id, now)

    monkeypatch.setattr(app, "note_signed", slow)

    async def steps(server: RadiusServer, send: Callable[[bytes], Awaitable[list[bytes]]]) -> None:
        [first] = await send(request(signed=False))
        assert code(first) is Code.ACCESS_ACCEPT
        [signed] = await send(request(signed=True))
        assert code(signed) is Code.ACCESS_ACCEPT
        await asyncio.to_thread(told.wait, 10)
        # Strict at once, while the database is still being told.
        assert await send(request(signed=False)) == []
        [again] = await send(request(signed=True))
        assert code(again) is Code.ACCESS_ACCEPT
        release.set()

    server = run(app, steps)
    assert server.counters["missing-message-authenticator"] == 1
    assert server.counters["accepts"] == 3
    # Remembered in the database, shown read-only by `router print`.
    shown = router(app)
    assert shown["require-message-authenticator"] == "auto"
    assert shown["message-authenticator-seen"] != ""
    assert failures(app) == [MISSING]
    [counted] = app.execute(ROOT, ("router",), "monitor", ("r",)).items
    assert counted.json["missing-message-authenticator"] == 1


def test_a_router_that_signed_once_stays_strict_after_a_restart(app: Userman) -> None:
    async def signs(_: RadiusServer, send: Callable[[bytes], Awaitable[list[bytes]]]) -> None:
        assert len(await send(request(signed=True))) == 1

    async def unsigned(_: RadiusServer, send: Callable[[bytes], Awaitable[list[bytes]]]) -> None:
        assert await send(request(signed=False)) == []

    run(app, signs)
    run(app, unsigned)  # a new server reads the router from the database
    assert failures(app) == [MISSING]


def test_the_database_is_told_once_not_per_packet(
    app: Userman, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    note_signed = app.note_signed

    def counting(router_id: int, now: Any) -> bool:
        calls.append(router_id)
        return note_signed(router_id, now)

    monkeypatch.setattr(app, "note_signed", counting)

    async def steps(_: RadiusServer, send: Callable[[bytes], Awaitable[list[bytes]]]) -> None:
        for _ in range(5):
            assert len(await send(request(signed=True))) == 1

    run(app, steps)
    assert len(calls) == 1
    seen = router(app)["message-authenticator-seen"]
    run(app, steps)  # a new server reads it from the database: nothing more to tell
    assert len(calls) == 1
    assert router(app)["message-authenticator-seen"] == seen


def test_setting_the_property_again_forgets_that_the_router_signed(app: Userman) -> None:
    async def signs(_: RadiusServer, send: Callable[[bytes], Awaitable[list[bytes]]]) -> None:
        assert len(await send(request(signed=True))) == 1

    async def unsigned(_: RadiusServer, send: Callable[[bytes], Awaitable[list[bytes]]]) -> None:
        [reply] = await send(request(signed=False))
        assert code(reply) is Code.ACCESS_ACCEPT

    run(app, signs)
    do(app, "router set", "r", **{"require-message-authenticator": "auto"})
    assert router(app)["message-authenticator-seen"] == ""
    run(app, unsigned)


@pytest.mark.parametrize("required", ["yes", "no"])
def test_yes_and_no_learn_nothing(app: Userman, required: str) -> None:
    do(app, "router set", "r", **{"require-message-authenticator": required})

    async def steps(_: RadiusServer, send: Callable[[bytes], Awaitable[list[bytes]]]) -> None:
        assert len(await send(request(signed=True))) == 1
        answered = await send(request(signed=False))
        assert len(answered) == (1 if required == "no" else 0)

    run(app, steps)
    assert router(app)["message-authenticator-seen"] == ""


def test_auto_drops_an_unsigned_proxy_state_as_freeradius_limit_proxy_state(
    app: Userman,
) -> None:
    # BlastRADIUS: the forged reply's MD5 collision rides in a Proxy-State the reply echoes. A
    # router sends none; a proxy that cannot sign is set to `no`.
    proxied = request(("Proxy-State", b"\x01\x02"), signed=False)

    async def dropped(_: RadiusServer, send: Callable[[bytes], Awaitable[list[bytes]]]) -> None:
        assert await send(proxied) == []

    async def answered(_: RadiusServer, send: Callable[[bytes], Awaitable[list[bytes]]]) -> None:
        [reply] = await send(proxied)
        assert decode(reply, D).get_all("Proxy-State") == [b"\x01\x02"]

    server = run(app, dropped)
    assert server.counters["missing-message-authenticator"] == 1
    assert failures(app) == [
        "router r: Proxy-State without Message-Authenticator; set"
        " require-message-authenticator=no for a proxy that cannot send one"
    ]
    assert router(app)["message-authenticator-seen"] == ""  # nothing learned from it
    do(app, "router set", "r", **{"require-message-authenticator": "no"})
    run(app, answered)


# --- the log and the console, rate-limited ----------------------------------------------------


def test_a_flood_of_drops_writes_one_entry_then_how_many_followed(
    app: Userman, caplog: pytest.LogCaptureFixture
) -> None:
    do(app, "router set", "r", **{"require-message-authenticator": "yes"})

    async def steps(server: RadiusServer, send: Callable[[bytes], Awaitable[list[bytes]]]) -> None:
        for _ in range(5):
            assert await send(request(signed=False)) == []
        await server.drain()  # the first drop's entry is written beside the answers, not before
        assert failures(app) == [MISSING]
        server.failures.window = 0  # the minute is over: the next flush writes what it owes

    with caplog.at_level(logging.WARNING, logger="userman.server"):
        server = run(app, steps)
    assert server.counters["missing-message-authenticator"] == 5
    assert sorted(failures(app)) == [MISSING, MISSING + " (3 more dropped since the last entry)"]
    warned = [r.getMessage() for r in caplog.records if "Message-Authenticator" in r.getMessage()]
    assert len(warned) == 2  # the console says as much as the log, no more
    [entry, _] = app.execute(ROOT, ("log",), "print").items
    assert entry.json["user-orig"] == "test"
    assert entry.json["host-ip"] == "127.0.0.1"


def test_a_wrong_secret_is_logged_as_such_on_both_ports(app: Userman) -> None:
    pkt = build(D, Code.ACCESS_REQUEST, 7, os.urandom(16), [("User-Name", "test")])
    wrong = encode(pkt, b"not the secret", message_authenticator=True)
    acct_pkt = build(D, Code.ACCOUNTING_REQUEST, 3, bytes(16), [("Acct-Status-Type", "Start")])
    acct_wrong = encode(acct_pkt, b"not the secret")

    async def auth(_: RadiusServer, send: Callable[[bytes], Awaitable[list[bytes]]]) -> None:
        assert await send(wrong) == []

    async def acct(_: RadiusServer, send: Callable[[bytes], Awaitable[list[bytes]]]) -> None:
        assert await send(acct_wrong) == []

    assert run(app, auth).counters["bad-authenticator"] == 1
    assert run(app, acct, acct=True).counters["bad-authenticator"] == 1
    assert sorted(failures(app)) == [
        "router r: Accounting-Request authenticator does not match: wrong shared secret?",
        "router r: Message-Authenticator does not match: wrong shared secret?",
    ]


# --- every reply: Message-Authenticator first ---------------------------------------------------


def signed_first(reply: bytes, request_pkt: Packet, request_code: Code | None = None) -> bool:
    """Whether the reply's first attribute is a right Message-Authenticator, and its only one.
    BlastRADIUS advice (Message-Authenticator first, so no chosen prefix precedes it)."""
    first = reply[20:22] == bytes([80, 18])
    only = decode(reply, D).get_all("Message-Authenticator").__len__() == 1
    right = verify_message_authenticator(
        reply, SECRET, request_pkt.authenticator, request_code=request_code
    )
    return (
        first
        and only
        and right is True
        and verify_response_authenticator(reply, SECRET, request_pkt.authenticator)
    )


@pytest.mark.parametrize("password", ["test", "wrong"])
@pytest.mark.parametrize("signed", [True, False])
def test_accepts_and_rejects_carry_message_authenticator_first(
    app: Userman, password: str, signed: bool
) -> None:
    # The profile's own attributes may even name a Message-Authenticator: one, first, right.
    do(app, "profile set", "p", attributes="Session-Timeout:60,Message-Authenticator:0x00")
    pkt = build(
        D,
        Code.ACCESS_REQUEST,
        7,
        os.urandom(16),
        [("User-Name", "test"), ("User-Password", password), ("Proxy-State", b"x")],
    )
    if not signed:
        do(app, "router set", "r", **{"require-message-authenticator": "no"})

    async def steps(_: RadiusServer, send: Callable[[bytes], Awaitable[list[bytes]]]) -> None:
        [reply] = await send(encode(pkt, SECRET, message_authenticator=signed))
        expected = Code.ACCESS_ACCEPT if password == "test" else Code.ACCESS_REJECT
        assert code(reply) is expected
        assert signed_first(reply, pkt)

    run(app, steps)


@pytest.mark.parametrize("acct", [False, True])
def test_the_status_server_reply_carries_message_authenticator_first(
    app: Userman, acct: bool
) -> None:
    pkt = build(D, Code.STATUS_SERVER, 9, os.urandom(16), [])

    async def steps(_: RadiusServer, send: Callable[[bytes], Awaitable[list[bytes]]]) -> None:
        [reply] = await send(encode(pkt, SECRET, message_authenticator=True))
        assert signed_first(reply, pkt, Code.STATUS_SERVER)

    run(app, steps, acct=acct)


def test_accounting_is_answered_whatever_the_router_learned(app: Userman) -> None:
    # RFC 2866 3: the Request Authenticator signs an Accounting-Request already.
    async def signs(_: RadiusServer, send: Callable[[bytes], Awaitable[list[bytes]]]) -> None:
        assert len(await send(request(signed=True))) == 1

    async def accounts(_: RadiusServer, send: Callable[[bytes], Awaitable[list[bytes]]]) -> None:
        [reply] = await send(accounting("test", "Start"))
        assert code(reply) is Code.ACCOUNTING_RESPONSE

    run(app, signs)
    run(app, accounts, acct=True)
