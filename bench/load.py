"""What the server benchmarks share: the server on an in-memory transport that only counts
the answers, its routers' snapshot watched as `userman serve` watches it, and Accounting-Requests
for many sessions (each one's Start, then its Interim-Updates)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from userman.radius.dictionary import default_dictionary
from userman.radius.packet import Code, build, encode
from userman.server import cache
from userman.server.endpoint import RadiusServer
from userman.services import Userman

SECRET = b"12345"
ROUNDS = 4  # a Start and three Interim-Updates per session
D = default_dictionary()


class CountingTransport(asyncio.DatagramTransport):
    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def sendto(self, data: bytes, addr: Any = None) -> None:
        self.sent += 1


@contextlib.asynccontextmanager
async def snapshots(server: RadiusServer) -> AsyncIterator[None]:
    """`server`'s routers read from their snapshot, kept fresh by its watcher (as `userman
    serve` runs it) from the first snapshot on; the watcher stopped when the block ends."""
    stop = asyncio.Event()
    watcher = asyncio.ensure_future(cache.watch(server.routers, server.app, stop))
    try:
        while not server.routers.counters["snapshots"]:
            await asyncio.sleep(0.01)
        yield
    finally:
        stop.set()
        await watcher


@contextlib.asynccontextmanager
async def radius_server(app: Userman, *, watched: bool = True) -> AsyncIterator[RadiusServer]:
    """A server for `app`, its routers' snapshot watched (or, not `watched`, each request
    reading its router), closed when the block ends."""
    server = RadiusServer(app, D)
    try:
        async with snapshots(server) if watched else contextlib.nullcontext():
            yield server
    finally:
        server.close()


def accounting_packets(count: int, users: int = 50) -> list[bytes]:
    """`count` Accounting-Requests of `users` users: each session's Start, then its
    Interim-Updates, interleaved."""
    prefix = uuid.uuid4().hex[:8]
    sessions = max(1, count // ROUNDS)
    out: list[bytes] = []
    for round_ in range(ROUNDS):
        for n in range(sessions):
            attributes: list[tuple[str, object]] = [
                ("User-Name", f"user{n % users}"),
                ("Acct-Session-Id", f"{prefix}-{n}"),
                ("Acct-Status-Type", "Start" if round_ == 0 else "Interim-Update"),
                ("Acct-Session-Time", 60 * round_),
                ("Acct-Input-Octets", 1000 * round_),
                ("Acct-Output-Octets", 2000 * round_),
            ]
            pkt = build(D, Code.ACCOUNTING_REQUEST, len(out) % 256, bytes(16), attributes)
            out.append(encode(pkt, SECRET))
    return out[:count]
