"""The server with an in-memory datagram transport: requests built with userman's own codec go
straight into `RadiusServer.handle`, and what it sends is collected, with how many sessions the
database held at that moment (to show a reply never precedes its commit)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

from prepared import copy_sqlite
from userman.radius.dictionary import default_dictionary
from userman.radius.packet import Code, Packet, build, encode
from userman.server.endpoint import RadiusServer
from userman.services import Actor, Userman

SECRET = b"12345"
ROUTER = ("127.0.0.1", 40000)
D = default_dictionary()

Sent = list[tuple[bytes, Any, int]]


class FakeTransport(asyncio.DatagramTransport):
    def __init__(self, app: Userman) -> None:
        super().__init__()
        self.app = app
        self.sent: Sent = []

    def sendto(self, data: bytes, addr: Any = None) -> None:
        sessions = self.app.execute(Actor.superuser(), ("session",), "print").items
        self.sent.append((data, addr, len(sessions)))


@contextlib.asynccontextmanager
async def serving(
    app: Userman, *, workers: int = 2, flush: bool = False, **options: Any
) -> AsyncIterator[RadiusServer]:
    """A `RadiusServer` on `app` for the block, in the running event loop. When the block ends,
    the requests it took finish (`drain`: their answers and log entries), then, with `flush`,
    its counters go to the database; it closes in any case (its queued accounting is stored,
    its workers stop). `options`: RadiusServer's own (interim_interval, ...)."""
    server = RadiusServer(app, D, workers, **options)
    try:
        yield server
        await server.drain()
        if flush:
            await server.flush_counters()
    finally:
        server.close()


def run_server(
    app: Userman,
    go: Callable[[RadiusServer], Coroutine[Any, Any, None]],
    **options: Any,
) -> RadiusServer:
    """`go(server)` in a new event loop, on a server `serving` gives (with its `options`); the
    server, for what it counted."""

    async def main() -> RadiusServer:
        async with serving(app, **options) as server:
            await go(server)
        return server

    return asyncio.run(main())


def exchange(
    app: Userman, data: bytes, *, source: tuple[str, int] = ROUTER, acct: bool = False
) -> tuple[RadiusServer, Sent]:
    """One datagram through a fresh server; what it sent back (once what it left to write, a
    dropped request's log entry, is written)."""
    transport = FakeTransport(app)

    async def answer(server: RadiusServer) -> None:
        await server.handle(transport, data, source, acct)

    return run_server(app, answer), transport.sent


def access_request(username: str, password: str, **extra: object) -> tuple[Packet, bytes]:
    """A PAP Access-Request, signed with Message-Authenticator as routers should (BlastRADIUS)."""
    attributes = [("User-Name", username), ("User-Password", password), *extra.items()]
    pkt = build(D, Code.ACCESS_REQUEST, 7, os.urandom(16), attributes)
    return pkt, encode(pkt, SECRET, message_authenticator=True)


def accounting(username: str, status: str, session: str = "81d0009b", **extra: object) -> bytes:
    attributes = [
        ("User-Name", username),
        ("Acct-Session-Id", session),
        ("Acct-Status-Type", status),
        *extra.items(),
    ]
    return encode(build(D, Code.ACCOUNTING_REQUEST, 3, bytes(16), attributes), SECRET)


def do(app: Userman, command: str, *positional: str, **args: str) -> None:
    """Run `<menu words> <verb>` as the local superuser."""
    *path, verb = command.split()
    app.execute(Actor.superuser(), tuple(path), verb, positional, args)


def make_app(folder: Path, template: Path | None = None) -> Userman:
    """A database with router r (127.0.0.1, secret 12345; CoA to this host allowed), profile p
    (1d, starts at once) and user test/test without a profile yet; from a copy of the prepared
    `template` (tests/prepared.py, the `sqlite_template` fixture) when given, so that it does
    not run every migration again."""
    path = folder / "userman.db"
    app = Userman(copy_sqlite(template, path) if template else f"sqlite:///{path}")
    app.prepare()
    # The router is this host's (127.0.0.1): CoA/Disconnect may go there only when allowed.
    do(app, "database set", **{"allow-local-coa": "yes"})
    do(app, "router add", name="r", **{"ip-address": "127.0.0.1", "shared-secret": "12345"})
    do(app, "profile add", name="p", validity="1d", **{"starts-at": "now"})
    do(app, "user add", username="test", password="test")
    return app
