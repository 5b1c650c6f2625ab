"""One `serve` process alone on its database decides shared-users from memory: a user with
shared-users=1 (the manual's example) gets its Access-Accept with no database write before
it, and two log-ons at once get one Accept; with a peer registered, the place is claimed in the
database first (README "Nodes on one PostgreSQL"; services/claims.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from inmemory import ROUTER, access_request, accounting, do, make_app, run_server
from userman.radius.packet import Code
from userman.server.endpoint import RadiusServer
from userman.server.nodes import Membership
from userman.services import Userman
from userman.services.claims import Mode
from userman.services.nodes import Registry
from userman.store import models

WRITES = ("INSERT", "UPDATE", "DELETE")


class Recorder(asyncio.DatagramTransport):
    """What the server sent, with how many writes the database had seen at that moment."""

    def __init__(self, writes: list[str]) -> None:
        super().__init__()
        self.writes = writes
        self.sent: list[tuple[int, int]] = []  # (reply code, writes so far)

    def sendto(self, data: bytes, addr: Any = None) -> None:
        self.sent.append((data[0], len(self.writes)))


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Userman]:
    userman = make_app(tmp_path, sqlite_template)
    do(userman, "user add", username="one", password="p", **{"shared-users": "1"})
    do(userman, "user create-and-activate-profile", "one", profile="p")
    userman.policy.load()
    userman.nodes.join()
    yield userman
    userman.nodes.leave()
    userman.close()


@pytest.fixture
def writes(app: Userman) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(WRITES):
            seen.append(statement)

    event.listen(app.database.engine, "before_cursor_execute", note)
    yield seen
    event.remove(app.database.engine, "before_cursor_execute", note)


def exchange(app: Userman, writes: list[str], *datagrams: tuple[bytes, bool]) -> Recorder:
    """The datagrams, at once, through one server; what it sent."""
    transport = Recorder(writes)

    async def answer(server: RadiusServer) -> None:
        await asyncio.gather(
            *(server.handle(transport, data, ROUTER, acct) for data, acct in datagrams)
        )

    run_server(app, answer)
    return transport


PHONE = {"Calling-Station-Id": "AA:BB:CC:00:00:01"}
LAPTOP = {"Calling-Station-Id": "AA:BB:CC:00:00:02"}


def log_on(**extra: object) -> tuple[bytes, bool]:
    return access_request("one", "p", **extra)[1], False


def test_alone_a_limit_of_one_is_accepted_with_no_write_first(
    app: Userman, writes: list[str]
) -> None:
    assert app.policy.claims.mode is Mode.ALONE
    writes.clear()
    sent = exchange(app, writes, log_on(**PHONE))  # a claim in memory: no write before
    assert sent.sent == [(Code.ACCESS_ACCEPT, 0)]


def test_alone_two_log_ons_at_once_get_one_accept(app: Userman, writes: list[str]) -> None:
    sent = exchange(app, writes, log_on(**PHONE), log_on(**LAPTOP))
    assert sorted(code for code, _ in sent.sent) == [Code.ACCESS_ACCEPT, Code.ACCESS_REJECT]


def test_a_log_on_that_names_no_device_claims_nothing(app: Userman, writes: list[str]) -> None:
    """Without a Calling-Station-Id a log-on cannot be told from its own retry: it claims no
    place (its session counts once it starts, as User Manager counts), so trying again is never
    refused for it; a device's claim still counts against it."""
    assert exchange(app, writes, log_on()).sent[0][0] == Code.ACCESS_ACCEPT
    assert exchange(app, writes, log_on()).sent[0][0] == Code.ACCESS_ACCEPT
    assert exchange(app, writes, log_on(**PHONE)).sent[0][0] == Code.ACCESS_ACCEPT
    assert exchange(app, writes, log_on()).sent[0][0] == Code.ACCESS_REJECT


def test_the_same_device_may_try_again_before_its_session_starts(
    app: Userman, writes: list[str]
) -> None:
    """A user whose first Accept did not bring a session up (lost, or the router failed
    after it) logs on again from the same device: accepted; another device is not."""
    assert exchange(app, writes, log_on(**PHONE)).sent[0][0] == Code.ACCESS_ACCEPT
    assert exchange(app, writes, log_on(**PHONE)).sent[0][0] == Code.ACCESS_ACCEPT
    assert exchange(app, writes, log_on(**LAPTOP)).sent[0][0] == Code.ACCESS_REJECT


def test_the_start_takes_the_place_over(app: Userman, writes: list[str]) -> None:
    user = app.policy.user(1, "one")
    assert user is not None
    now = dt.datetime.now(dt.UTC)
    assert exchange(app, writes, log_on(**PHONE)).sent[0][0] == Code.ACCESS_ACCEPT
    assert app.policy.claims.held(user.user.id, now) == 1
    exchange(app, writes, (accounting("one", "Start", "s1"), True))
    assert app.policy.claims.held(user.user.id, now) == 0  # the session counts instead
    assert exchange(app, writes, log_on()).sent[0][0] == Code.ACCESS_REJECT
    exchange(app, writes, (accounting("one", "Stop", "s1"), True))
    assert exchange(app, writes, log_on()).sent[0][0] == Code.ACCESS_ACCEPT


def test_with_a_peer_the_place_is_claimed_in_the_database_first(
    app: Userman, writes: list[str]
) -> None:
    peer = Registry(app.database, app.policy.claims.__class__())
    peer.join()
    app.nodes.beat()  # sees the peer
    assert app.policy.claims.mode is Mode.SHARED
    writes.clear()
    sent = exchange(app, writes, log_on(**PHONE), log_on(**LAPTOP))
    codes = sorted(sent.sent)
    assert [code for code, _ in codes] == [Code.ACCESS_ACCEPT, Code.ACCESS_REJECT]
    accept_writes = next(count for code, count in sent.sent if code == Code.ACCESS_ACCEPT)
    assert accept_writes > 0  # the claim was committed before the Accept
    with app.database.session() as db:
        assert db.scalar(select(func.count()).select_from(models.SessionClaim)) == 1
    peer.leave()


def test_a_server_alone_says_so_once_as_it_joins(
    app: Userman, caplog: pytest.LogCaptureFixture
) -> None:
    app.nodes.leave()  # the fixture's join, undone: this one is the server's
    membership = Membership(app.nodes)
    joined: list[int | None] = []

    async def join_and_leave() -> None:
        await membership.join()
        joined.append(app.nodes.node_id)
        await membership.leave()

    with caplog.at_level(logging.INFO, logger="userman.server"):
        asyncio.run(join_and_leave())
    said = [record.getMessage() for record in caplog.records if "alone" in record.getMessage()]
    assert said == [f"server node {joined[0]}: alone; shared-users claims in memory"]
