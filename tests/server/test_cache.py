"""The routers' snapshot cache (server/cache.py, services/snapshot.py): a router changed by
another process is in effect at the server's next check; what the database refuses for a user is
refused at once; a copy that no recent check confirmed is not used. Two `Userman`s on one
database stand for the server and another process (each has its own engine and connections)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from inmemory import SECRET, D, do, serving
from userman.radius.packet import Code, build, decode, encode
from userman.server import cache
from userman.server.endpoint import RadiusServer
from userman.services import Userman


@pytest.fixture
def apps(db_url: str, tmp_path: Path) -> Iterator[tuple[Userman, Userman]]:
    """The server's Userman, with router r (127.0.0.1) and user test/test on profile p, and
    another process's Userman on the same database."""
    app = Userman(db_url, backup_dir=tmp_path)
    app.prepare()
    do(app, "router add", name="r", **{"ip-address": "127.0.0.1", "shared-secret": "12345"})
    do(app, "profile add", name="p", validity="1d", **{"starts-at": "now"})
    do(app, "user add", username="test", password="test")
    do(app, "user create-and-activate-profile", "test", profile="p")
    other = Userman(db_url, backup_dir=tmp_path)
    yield app, other
    other.close()
    app.close()


class Collect(asyncio.DatagramTransport):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []

    def sendto(self, data: bytes, addr: Any = None) -> None:
        self.sent.append(data)


async def ask(
    server: RadiusServer,
    source: str = "127.0.0.1",
    *,
    secret: bytes = SECRET,
    password: str = "test",
) -> Code | None:
    """An Access-Request for user test from `source`: the reply's code, None when dropped."""
    attributes = [("User-Name", "test"), ("User-Password", password)]
    pkt = build(D, Code.ACCESS_REQUEST, 7, os.urandom(16), attributes)
    transport = Collect()
    await server.handle(
        transport, encode(pkt, secret, message_authenticator=True), (source, 4), False
    )
    return decode(transport.sent[0], D).code if transport.sent else None


def run_server(app: Userman, test: Any) -> None:
    """Run `test(server)` against a server whose router copy was just checked."""

    async def main() -> None:
        executor = ThreadPoolExecutor(max_workers=1)
        try:
            async with serving(app) as server:
                await cache.check(server.routers, app, executor)
                assert server.routers.fresh(asyncio.get_running_loop().time())
                await test(server, lambda: cache.check(server.routers, app, executor))
        finally:
            executor.shutdown()

    asyncio.run(main())


def test_the_stamp_is_the_snapshots_and_follows_every_kind_of_change(
    apps: tuple[Userman, Userman],
) -> None:
    app, other = apps
    changes = [
        ("router add", (), {"name": "r2", "ip-address": "10.0.0.2", "shared-secret": "a"}),
        ("router set", ("r2",), {"shared-secret": "b"}),
        ("router set", ("r2",), {"require-message-authenticator": "no"}),
        ("router set", ("r2",), {"on-shared-users-limit": "disconnect-oldest"}),
        ("router set", ("r2",), {"log": "auth-ok,acct-ok"}),
        ("router disable", ("r2",), {}),
        ("database save", (), {"name": "before"}),  # changes no router: the same stamp
        ("router remove", ("r2",), {}),
        ("history undo", (), {}),  # not recorded in history itself
        ("history redo", (), {}),
        ("database load", (), {"name": "before"}),  # nor is this: r2 is back, with a new id
    ]
    seen = [app.router_stamp()]
    assert app.router_snapshot().stamp == seen[0]
    for command, positional, args in changes:
        do(other, command, *positional, **args)
        stamp = app.router_stamp()
        assert stamp == app.router_snapshot().stamp, command
        if command == "database save":
            assert stamp == seen[-1]
        else:
            assert stamp != seen[-1], command
        seen.append(stamp)
    assert "10.0.0.2" in app.router_snapshot().routers


def test_the_snapshot_reads_a_router_as_the_request_path_does(
    apps: tuple[Userman, Userman],
) -> None:
    app, _ = apps
    do(
        app,
        "router add",
        name="r2",
        **{
            "ip-address": "10.0.0.2",
            "shared-secret": "s|;3:x",
            "log": "auth-ok,auth-fail",
            "use-coa": "yes",
            "require-message-authenticator": "no",
            "on-shared-users-limit": "disconnect-oldest",
            "disabled": "yes",
        },
    )
    routers = app.router_snapshot().routers
    assert set(routers) == {"127.0.0.1", "10.0.0.2"}
    for address, router in routers.items():
        assert app.find_router(address) == router


def test_a_router_changed_by_another_process_is_in_effect_at_the_next_check(
    apps: tuple[Userman, Userman],
) -> None:
    app, other = apps

    async def test(server: RadiusServer, check: Any) -> None:
        do(other, "router add", name="r2", **{"ip-address": "10.0.0.2", "shared-secret": "12345"})
        await check()
        assert await ask(server, "10.0.0.2") is Code.ACCESS_ACCEPT
        do(other, "router set", "r2", **{"shared-secret": "new"})
        await check()
        assert await ask(server, "10.0.0.2") is None  # the old secret no longer authenticates
        assert await ask(server, "10.0.0.2", secret=b"new") is Code.ACCESS_ACCEPT
        do(other, "router disable", "r2")
        await check()
        assert await ask(server, "10.0.0.2", secret=b"new") is None
        do(other, "router enable", "r2")
        await check()
        assert await ask(server, "10.0.0.2", secret=b"new") is Code.ACCESS_ACCEPT
        do(other, "router remove", "r2")
        await check()
        assert await ask(server, "10.0.0.2", secret=b"new") is None
        do(other, "history undo")  # no history entry of its own: the rows' stamp still moves
        await check()
        assert await ask(server, "10.0.0.2", secret=b"new") is Code.ACCESS_ACCEPT
        assert server.counters["unknown-requests"] == 2

    run_server(app, test)


def test_what_the_database_refuses_is_refused_at_once(apps: tuple[Userman, Userman]) -> None:
    """User and customer data is read for every Access-Request: a fresh router copy never
    accepts what the database would refuse, not even before the next check."""
    app, other = apps

    async def test(server: RadiusServer, _: Any) -> None:
        assert await ask(server) is Code.ACCESS_ACCEPT
        do(other, "user disable", "test")
        assert await ask(server) is Code.ACCESS_REJECT
        do(other, "user enable", "test")
        do(other, "user set", "test", password="changed")
        assert await ask(server) is Code.ACCESS_REJECT
        assert await ask(server, password="changed") is Code.ACCESS_ACCEPT
        do(other, "customer disable", "admin")
        assert await ask(server, password="changed") is Code.ACCESS_REJECT
        do(other, "customer enable", "admin")
        assert await ask(server, password="changed") is Code.ACCESS_ACCEPT
        do(other, "user remove", "test")
        assert await ask(server, password="changed") is Code.ACCESS_REJECT
        assert server.routers.counters["snapshots"] == 1  # all of it without a new snapshot

    run_server(app, test)


def test_a_copy_no_recent_check_confirmed_is_not_used(
    apps: tuple[Userman, Userman], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A late or failing watcher makes the server read each router again, never trust an old
    copy: before the first check, and MAX_AGE after the last good one."""
    app, other = apps

    async def test(server: RadiusServer, check: Any) -> None:
        do(other, "router set", "r", **{"shared-secret": "new"})
        assert await ask(server, secret=b"new") is None  # the copy is fresh: the old secret
        server.routers.checked -= cache.MAX_AGE + 0.1  # no check since: read from the database
        assert await ask(server, secret=b"new") is Code.ACCESS_ACCEPT

        def fail() -> str:
            raise RuntimeError("the database is away")

        monkeypatch.setattr(app, "router_stamp", fail)
        stop = asyncio.Event()
        watcher = asyncio.ensure_future(cache.watch(server.routers, app, stop, interval=0.01))
        while not server.routers.counters["failed-checks"]:
            await asyncio.sleep(0.01)
        stop.set()
        await watcher
        assert not server.routers.fresh(asyncio.get_running_loop().time())
        assert await ask(server, secret=b"new") is Code.ACCESS_ACCEPT

    run_server(app, test)

    async def unchecked() -> None:
        async with serving(app, workers=1) as fresh:  # never checked: reads the database
            assert not fresh.routers.fresh(0.0)
            assert await ask(fresh, secret=b"new") is Code.ACCESS_ACCEPT

    asyncio.run(unchecked())


def test_the_watcher_brings_in_a_router_added_by_another_process(
    apps: tuple[Userman, Userman],
) -> None:
    """The server's own loop, as `userman serve` runs it: no explicit check. (A test states no
    time: the bound is one check, shown above; this shows the watcher makes those checks.)"""
    app, other = apps

    async def main() -> None:
        async with serving(app) as server:
            stop = asyncio.Event()
            watcher = asyncio.ensure_future(cache.watch(server.routers, app, stop))
            try:
                while not server.routers.counters["snapshots"]:
                    await asyncio.sleep(0.01)
                r2 = {"ip-address": "10.0.0.2", "shared-secret": "x"}
                do(other, "router add", name="r2", **r2)
                for _ in range(500):
                    if await ask(server, "10.0.0.2", secret=b"x") is not None:
                        break
                    await asyncio.sleep(0.02)
                assert await ask(server, "10.0.0.2", secret=b"x") is Code.ACCESS_ACCEPT
                assert server.routers.counters["snapshots"] == 2
            finally:
                stop.set()
                await watcher

    asyncio.run(main())
