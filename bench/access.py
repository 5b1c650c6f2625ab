"""The routers' snapshot cache: request throughput with it and without it, in one run.

    uv run python bench/access.py [--packets 2000] [--in-flight 64] [--routers 200] [--db URL]

Drives the server's request handling (decode, authenticators, router lookup, decision or store,
answer) through an in-memory transport with PAP Access-Requests for 50 users, then with
Accounting-Requests (a Start and Interim-Updates per session), `--in-flight` at a time. Each kind
runs twice against the same database: with the cache (its watcher checking the routers' stamp
every 0.2 s, as `userman serve` runs it) and without (no watcher: each request reads its router,
as before the cache). `--routers` routers are configured, the benchmark's one among them.
Prints requests per second for each and the ratio. It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from load import SECRET, CountingTransport, D, accounting_packets, radius_server

from userman.radius.packet import Code, build, encode
from userman.services import Actor, Userman

USERS = 50


def access_packets(count: int) -> list[bytes]:
    out = []
    for n in range(count):
        attributes = [("User-Name", f"user{n % USERS}"), ("User-Password", "x")]
        pkt = build(D, Code.ACCESS_REQUEST, n % 256, os.urandom(16), attributes)
        out.append(encode(pkt, SECRET, message_authenticator=True))
    return out


def accounting_for_users(count: int) -> list[bytes]:
    return accounting_packets(count, USERS)


def prepare(url: str, routers: int) -> Userman:
    app = Userman(url)
    app.prepare()
    root = Actor.superuser()
    found = app.execute(root, ("router",), "print").items
    if not any(item.json.get("ip-address") == "127.0.0.1" for item in found):
        for n in range(1, routers):
            address = f"10.{n // 65536}.{n // 256 % 256}.{n % 256}"
            router = {"name": f"other{n}", "ip-address": address, "shared-secret": "other"}
            app.execute(root, ("router",), "add", (), router)
        router = {"name": "bench", "ip-address": "127.0.0.1", "shared-secret": "12345"}
        app.execute(root, ("router",), "add", (), router)
        app.execute(root, ("profile",), "add", (), {"name": "p", "starts-at": "now"})
        for n in range(USERS):
            app.execute(root, ("user",), "add", (), {"username": f"user{n}", "password": "x"})
            app.execute(
                root, ("user",), "create-and-activate-profile", (f"user{n}",), {"profile": "p"}
            )
    return app


async def drive(
    app: Userman, data: list[bytes], in_flight: int, *, accounting: bool, cached: bool
) -> float:
    async with radius_server(app, watched=cached) as server:
        transport = CountingTransport()
        gate = asyncio.Semaphore(in_flight)

        async def one(index: int, pkt: bytes) -> None:
            async with gate:
                address = ("127.0.0.1", 10000 + index % 50000)
                await server.handle(transport, pkt, address, accounting)

        start = time.perf_counter()
        await asyncio.gather(*(one(index, pkt) for index, pkt in enumerate(data)))
        elapsed = time.perf_counter() - start
    if transport.sent != len(data):
        print(f"  ({len(data) - transport.sent} requests were not answered)")
    return transport.sent / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--routers", type=int, default=200)
    parser.add_argument("--db", help="a database URL; default: a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = prepare(args.db or f"sqlite:///{Path(folder) / 'bench.db'}", args.routers)
        try:
            for kind, make in (
                ("access", access_packets),
                ("accounting", accounting_for_users),
            ):
                rates = {}
                # Without first, so that the cached run does not have a warmer database.
                for cached in (False, True):
                    data = make(args.packets)
                    rate = asyncio.run(
                        drive(
                            app,
                            data,
                            args.in_flight,
                            accounting=kind == "accounting",
                            cached=cached,
                        )
                    )
                    label = "with the cache" if cached else "without"
                    print(f"{kind} {label}: {rate:,.0f} requests/s")
                    rates[cached] = rate
                print(f"{kind} ratio: {rates[True] / rates[False]:.2f}x with the cache")
        finally:
            app.close()


if __name__ == "__main__":
    main()
