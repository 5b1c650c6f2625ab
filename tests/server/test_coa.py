"""The Disconnect sender (server/coa.py) against a router stand-in on 127.0.0.1: it sends what
the services queued, retries, and records ACK, NAK and timeouts on the request, the session,
the log and the server's counters."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from inmemory import accounting, do, exchange, make_app, run_server
from standin import StandInRouter
from userman.radius.packet import Code
from userman.server import coa
from userman.server.endpoint import RadiusServer
from userman.services import Userman
from userman.store import models


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Userman]:
    userman = make_app(tmp_path, sqlite_template)
    yield userman
    userman.close()


def close_session(app: Userman, router: StandInRouter) -> None:
    do(app, "router set", "r", **{"use-coa": "yes", "coa-port": str(router.port)})
    exchange(app, accounting("test", "Start"), acct=True)
    do(app, "session close-session", "0")


def run_poller(app: Userman, *, tries: int = 2) -> RadiusServer:
    """One claim and the deliveries it starts, with short timeouts."""

    async def go(server: RadiusServer) -> None:
        sender = await coa.start_sender(server, "127.0.0.1", timeout=0.2, tries=tries)
        tasks: set[asyncio.Task[None]] = set()
        try:
            assert await coa.poll_once(server, sender, tasks) == 1
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
            assert await coa.poll_once(server, sender, tasks) == 0  # nothing left to claim
        finally:
            sender.close()

    return run_server(app, go)


def stored(app: Userman) -> tuple[str, int, str, str, str, list[str]]:
    with app.database.begin() as db:
        request = db.scalars(select(models.CoaRequest)).one()
        acct = db.scalars(select(models.UserSession)).one()
        logs = [row.status for row in db.scalars(select(models.LogEntry))]
        return (
            request.state,
            request.attempts,
            request.last_error,
            acct.status,
            acct.terminate_cause,
            logs,
        )


def test_an_ack_closes_the_session_as_acknowledged(app: Userman) -> None:
    with StandInRouter(mode="ack") as router:
        close_session(app, router)
        server = run_poller(app)
    [pkt] = router.received
    assert pkt.code is Code.DISCONNECT_REQUEST
    assert router.signed == [True]  # Request Authenticator and Message-Authenticator
    assert (pkt.get("User-Name"), pkt.get("Acct-Session-Id")) == ("test", "81d0009b")
    assert str(pkt.get("NAS-IP-Address")) == "127.0.0.1"
    assert server.counters["disconnect-ack"] == 1
    assert stored(app) == (
        "acked",
        1,
        "",
        "start,close-acked",
        "um-admin-request",
        ["disconnect-ack"],
    )
    # The router's Stop that follows keeps the session closed, with userman's cause.
    exchange(app, accounting("test", "Stop", **{"Acct-Terminate-Cause": "Admin-Reset"}), acct=True)
    assert stored(app)[3:5] == ("start,stop,close-acked", "um-admin-request")


def test_a_nak_is_recorded_with_its_error_cause(app: Userman) -> None:
    with StandInRouter(mode="nak") as router:
        close_session(app, router)
        server = run_poller(app)
    assert server.counters["disconnect-nak"] == 1
    state, attempts, error, status, _, logs = stored(app)
    assert (state, attempts, status, logs) == ("naked", 1, "start", ["disconnect-nak"])
    assert "Session-Context-Not-Found" in error


def test_no_answer_is_retried_then_recorded_as_a_timeout(app: Userman) -> None:
    with StandInRouter(mode="silent") as router:
        close_session(app, router)
        server = run_poller(app, tries=3)
    assert len(router.received) == 3
    assert len({pkt.identifier for pkt in router.received}) == 1  # the same request again
    assert server.counters["coa-timeouts"] == 1
    state, attempts, error, _, _, logs = stored(app)
    assert (state, attempts, error, logs) == ("failed", 3, "no answer", ["disconnect-timeout"])


def test_an_answer_with_the_wrong_secret_is_dropped(app: Userman) -> None:
    with StandInRouter(mode="ack", secret=b"wrong") as router:
        close_session(app, router)
        server = run_poller(app, tries=1)
    assert server.counters["coa-bad-answers"] == 1
    assert server.counters["coa-timeouts"] == 1
    assert stored(app)[0] == "failed"
