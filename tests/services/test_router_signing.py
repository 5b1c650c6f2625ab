"""What the database keeps of a router's Message-Authenticator, on both back ends: that a
require-message-authenticator=auto router has signed (remembered once, forgotten when the
property is given again), and the log entries of its dropped requests, rate-limited by the
server (services/aaa.py note_signed and log_failures; server/failures.py)."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from inmemory import ROUTER, SECRET, D, FakeTransport, do, run_server
from userman.core.errors import InvalidValueError
from userman.radius.packet import Code, build, encode
from userman.server.endpoint import RadiusServer
from userman.services import Actor, Userman

ROOT = Actor.superuser()
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def app(app: Userman) -> Userman:
    do(app, "router add", name="r", **{"ip-address": "127.0.0.1", "shared-secret": "12345"})
    return app


def router(app: Userman) -> dict[str, object]:
    [item] = app.execute(ROOT, ("router",), "print").items
    return item.json


def router_id(app: Userman) -> int:
    return int(str(router(app)[".id"]).removeprefix("*"), 16)


def test_an_auto_router_is_remembered_signing_once(app: Userman) -> None:
    assert app.note_signed(router_id(app), NOW) is True
    assert app.note_signed(router_id(app), NOW + dt.timedelta(hours=1)) is False
    assert router(app)["message-authenticator-seen"] == "mar/01/2026 12:00:00"
    [found] = app.router_snapshot().routers.values()
    assert found.must_sign
    assert app.find_router("127.0.0.1") == found


@pytest.mark.parametrize("required", ["yes", "no"])
def test_only_auto_learns(app: Userman, required: str) -> None:
    do(app, "router set", "r", **{"require-message-authenticator": required})
    assert app.note_signed(router_id(app), NOW) is False
    assert router(app)["message-authenticator-seen"] == ""


def test_giving_the_property_forgets_and_undo_brings_it_back(app: Userman) -> None:
    app.note_signed(router_id(app), NOW)
    do(app, "router set", "r", **{"require-message-authenticator": "auto"})
    assert router(app)["message-authenticator-seen"] == ""
    [found] = app.router_snapshot().routers.values()
    assert not found.must_sign
    do(app, "history undo")
    assert router(app)["message-authenticator-seen"] == "mar/01/2026 12:00:00"


def test_the_learned_time_is_read_only(app: Userman) -> None:
    with pytest.raises(InvalidValueError, match="read-only"):
        do(app, "router set", "r", **{"message-authenticator-seen": "jan/01/2026 00:00:00"})


def test_undo_of_the_routers_add_says_it_signed_since(app: Userman) -> None:
    # As a user that logged on since: the row is not as the entry left it.
    app.note_signed(router_id(app), NOW)
    outcome = app.execute(ROOT, ("history",), "undo")
    assert outcome.error is not None
    assert "message-authenticator-seen" in outcome.error
    assert router(app)["name"] == "r"


def unsigned() -> bytes:
    attributes = [("User-Name", "someone"), ("User-Password", "x")]
    return encode(build(D, Code.ACCESS_REQUEST, 7, os.urandom(16), attributes), SECRET)


def test_dropped_requests_reach_the_log_one_entry_a_minute(app: Userman) -> None:
    do(app, "router set", "r", **{"require-message-authenticator": "yes"})
    transport = FakeTransport(app)

    async def flood(server: RadiusServer) -> None:
        for _ in range(4):
            await server.handle(transport, unsigned(), ROUTER, False)
        server.failures.window = 0  # the minute is over
        await server.flush_counters()
        # run_server then drains: the first drop's entry, written beside the answers

    run_server(app, flood)
    assert transport.sent == []
    logged = app.execute(ROOT, ("log",), "print").items
    reason = (
        "router r: no Message-Authenticator; set require-message-authenticator=no for routers"
        " that cannot send one"
    )
    assert sorted(str(entry.json["description"]) for entry in logged) == [
        reason,
        reason + " (2 more dropped since the last entry)",
    ]
    assert {entry.json["status"] for entry in logged} == {"router-failure"}
    assert {entry.json["customer"] for entry in logged} == {"admin"}
    [counted] = app.execute(ROOT, ("router",), "monitor", ("r",)).items
    assert counted.json["missing-message-authenticator"] == 4
