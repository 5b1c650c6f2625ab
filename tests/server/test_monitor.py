"""`router monitor`: what each router sent and how it ended, counted by the server per router
and added up in the database (research notes 4.1: v7's router counters)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from inmemory import ROUTER, FakeTransport, access_request, accounting, do, make_app, run_server
from userman.core.errors import PermissionDeniedError
from userman.server.endpoint import RadiusServer
from userman.services import Actor, Userman

ROOT = Actor.superuser()


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Userman]:
    userman = make_app(tmp_path, sqlite_template)
    do(userman, "user create-and-activate-profile", "test", profile="p")
    yield userman
    userman.close()


def serve(app: Userman, *datagrams: tuple[bytes, bool]) -> RadiusServer:
    transport = FakeTransport(app)

    async def each(server: RadiusServer) -> None:
        for data, acct in datagrams:
            await server.handle(transport, data, ROUTER, acct)

    return run_server(app, each, flush=True)


def monitor(app: Userman, actor: Actor = ROOT) -> dict[str, object]:
    [item] = app.execute(actor, ("router",), "monitor", ("r",)).items
    return item.json


def test_monitor_adds_up_what_every_server_counted(app: Userman) -> None:
    _, good = access_request("test", "test")
    _, bad = access_request("test", "wrong")
    serve(app, (good, False), (bad, False), (accounting("test", "Start"), True))
    serve(app, (good, False), (b"\x01", False))  # a second server, or a restart
    counted = monitor(app)
    assert counted["access-requests"] == 3
    assert (counted["accepts"], counted["rejects"]) == (2, 1)
    assert counted["accounting-requests"] == 1
    assert counted["broken-requests"] == 1
    assert counted["disconnect-ack"] == 0  # shown even when nothing happened
    outcome = app.execute(ROOT, ("router",), "monitor", ("r",))
    assert "access-requests: 3" in outcome.message


def test_reset_counters_starts_again_from_zero(app: Userman) -> None:
    _, good = access_request("test", "test")
    serve(app, (good, False))
    do(app, "router reset-counters", "r")
    assert monitor(app)["accepts"] == 0


def test_reset_needs_the_routers_level(app: Userman) -> None:
    do(app, "customer add", login="clerk", parent="admin", permissions="read-only")
    do(app, "customer set", "clerk", access="parent-routers")
    clerk = app.actor("clerk")
    assert monitor(app, clerk)["accepts"] == 0  # read-only may look
    with pytest.raises(PermissionDeniedError):
        app.execute(clerk, ("router",), "reset-counters", ("r",))
