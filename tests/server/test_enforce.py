"""CoA-Requests and IPv6 routers through the sender (server/coa.py), with a router stand-in on
127.0.0.1 or ::1: an edited limitation reaches the router as a CoA-Request, a NAK to it
brings a Disconnect-Request, and a router with an IPv6 address is reached from a server bound
to an IPv4 address."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from inmemory import accounting, do, exchange, make_app, run_server
from standin import StandInRouter
from userman.radius.packet import Code
from userman.server import coa
from userman.server.endpoint import RadiusServer
from userman.services import Actor, Userman
from userman.store import models


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Userman]:
    userman = make_app(tmp_path, sqlite_template)
    do(userman, "limitation add", name="l", **{"rate-limit-rx": "10M", "rate-limit-tx": "20M"})
    do(userman, "profile-limitation add", profile="p", limitation="l")
    do(userman, "user create-and-activate-profile", "test", profile="p")
    yield userman
    userman.close()


def deliver(app: Userman, bind: str = "127.0.0.1", rounds: int = 1) -> None:
    """Claim and send what is queued, `rounds` times, with short timeouts."""

    async def go(server: RadiusServer) -> None:
        sender = await coa.start_sender(server, bind, timeout=0.2, tries=2)
        tasks: set[asyncio.Task[None]] = set()
        try:
            for _ in range(rounds):
                assert await coa.poll_once(server, sender, tasks) == 1
                await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
        finally:
            sender.close()

    run_server(app, go)


def requests(app: Userman) -> list[tuple[str, str, str]]:
    with app.database.begin() as db:
        rows = db.scalars(select(models.CoaRequest).order_by(models.CoaRequest.id))
        return [(r.kind, r.cause, r.state) for r in rows]


def test_an_edited_limitation_reaches_the_router_as_a_coa(app: Userman) -> None:
    with StandInRouter(mode="ack") as router:
        do(app, "router set", "r", **{"use-coa": "yes", "coa-port": str(router.port)})
        exchange(app, accounting("test", "Start", **{"Framed-IP-Address": "10.5.0.7"}), acct=True)
        do(app, "limitation set", "l", **{"rate-limit-tx": "4M"})
        deliver(app)
    [pkt] = router.received
    assert pkt.code is Code.COA_REQUEST
    assert router.signed == [True]
    assert (pkt.get("User-Name"), pkt.get("Acct-Session-Id")) == ("test", "81d0009b")
    assert str(pkt.get("Framed-IP-Address")) == "10.5.0.7"
    assert pkt.get("Mikrotik-Rate-Limit") == "10M/4M"
    assert requests(app) == [("coa", "um-limits-changed", "acked")]
    [session] = app.execute(Actor.superuser(), ("session",), "print").items
    assert session.json["active"] is True  # a CoA leaves the session open


def test_a_nak_to_a_coa_disconnects_instead(app: Userman) -> None:
    with StandInRouter(mode="nak") as router:
        do(app, "router set", "r", **{"use-coa": "yes", "coa-port": str(router.port)})
        exchange(app, accounting("test", "Start"), acct=True)
        do(app, "limitation set", "l", **{"rate-limit-tx": "4M"})
        deliver(app, rounds=2)
    assert [pkt.code for pkt in router.received] == [Code.COA_REQUEST, Code.DISCONNECT_REQUEST]
    assert requests(app) == [
        ("coa", "um-limits-changed", "naked"),
        ("disconnect", "um-limits-changed", "naked"),
    ]


def test_a_router_with_an_ipv6_address_is_reached_from_an_ipv4_bind(app: Userman) -> None:
    with StandInRouter(mode="ack", host="::1") as router:
        do(app, "router set", "r", **{"ip-address": "::1"})
        do(app, "router set", "r", **{"use-coa": "yes", "coa-port": str(router.port)})
        exchange(app, accounting("test", "Start"), source=("::1", 40000), acct=True)
        do(app, "session close-session", "0")
        deliver(app, bind="127.0.0.1")
    [pkt] = router.received
    assert pkt.code is Code.DISCONNECT_REQUEST
    assert str(pkt.get("NAS-IPv6-Address")) == "::1"
    assert requests(app) == [("disconnect", "um-admin-request", "acked")]


def test_the_recheck_loop_asks_until_stopped(app: Userman) -> None:
    asked: list[dt.datetime] = []

    def enforce(now: dt.datetime) -> dt.datetime | None:
        asked.append(now)
        return now  # due at once: the loop waits half a second, not `every`

    app.enforce = enforce  # type: ignore[method-assign]

    async def go(server: RadiusServer) -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(coa.enforce(server, stop, every=30))
        for _ in range(100):  # a second time long before `every`: the due moment was waited for
            if len(asked) >= 2:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, timeout=2)

    run_server(app, go)
    assert len(asked) >= 2
