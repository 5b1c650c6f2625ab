"""Accounting throughput: the group-commit writer against one commit per record, in one run.

    uv run python bench/accounting.py [--packets 4000] [--in-flight 256] [--db URL]

Drives the server's request handling (decode, authenticator check, router lookup in the
routers' snapshot cache, its watcher running as `userman serve` runs it, store, answer) with
Accounting-Requests, `--in-flight` at a time, through an in-memory transport:
first with the writer's batches (up to 256 records a commit), then with a batch limit of one
(one commit per record, as before the writer). Each run gets a fresh SQLite database in a
temporary folder, unless `--db` names one (e.g. a PostgreSQL URL). Prints packets per second
for both and their ratio, and the process's CPU time per packet (a figure that other work on a
shared machine disturbs less). It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from load import CountingTransport, D, accounting_packets, snapshots

from userman.server.endpoint import RadiusServer
from userman.server.writer import BATCH_LIMIT
from userman.services import Actor, Userman


def prepare(url: str) -> Userman:
    app = Userman(url)
    app.prepare()
    root = Actor.superuser()
    found = app.execute(root, ("router",), "print").items
    if not any(item.json.get("ip-address") == "127.0.0.1" for item in found):
        router = {"name": "bench", "ip-address": "127.0.0.1", "shared-secret": "12345"}
        app.execute(root, ("router",), "add", (), router)
        for n in range(50):
            app.execute(root, ("user",), "add", (), {"username": f"user{n}", "password": "x"})
    return app


async def drive(
    server: RadiusServer, data: list[bytes], in_flight: int, address: str = "127.0.0.1"
) -> tuple[float, float]:
    """Feed `data` to `server` as from `address`, `in_flight` at a time; (answers per second,
    CPU seconds per answer) of this process."""
    transport = CountingTransport()
    # `in_flight` senders take the packets in turn: as many requests wait as a router keeps in
    # flight, not one task per packet of the run (tens of thousands of coroutines held at once
    # would make each of the collector's passes walk them, a cost `serve` does not have).
    queue = iter(enumerate(data))

    async def sender() -> None:
        for index, pkt in queue:
            await server.handle(transport, pkt, (address, 10000 + index % 50000), True)

    async with snapshots(server):
        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(sender() for _ in range(in_flight)))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    if transport.sent != len(data):
        print(f"  ({len(data) - transport.sent} requests were not answered)")
    return transport.sent / elapsed, cpu / max(transport.sent, 1)


def run(
    url: str, count: int, in_flight: int, batch_limit: int
) -> tuple[float, float, RadiusServer]:
    app = prepare(url)
    server = RadiusServer(app, D, batch_limit=batch_limit)
    try:
        rate, cpu = asyncio.run(drive(server, accounting_packets(count), in_flight))
    finally:
        server.close()
        app.close()
    return rate, cpu, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=4000)
    parser.add_argument("--in-flight", type=int, default=256)
    parser.add_argument("--db", help="a database URL; default: a fresh SQLite file per run")
    args = parser.parse_args()
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for label, limit in (("group commit", BATCH_LIMIT), ("per record", 1)):
            url = args.db or f"sqlite:///{Path(folder) / label.replace(' ', '-')}.db"
            rate, cpu, server = run(url, args.packets, args.in_flight, limit)
            batches = server.writer.counters["batches"]
            records = server.writer.counters["records"]
            per_commit = records / max(batches, 1)
            print(
                f"{label}: {rate:,.0f} accounting packets/s, {cpu * 1e6:,.0f} us CPU each "
                f"({records} records in {batches} commits, {per_commit:.1f} a commit)"
            )
            rates[label] = rate
    print(f"ratio: group commit is {rates['group commit'] / rates['per record']:.2f}x per record")


if __name__ == "__main__":
    main()
