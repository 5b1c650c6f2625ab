"""What counting costs on the packet path: CPU microseconds per Access-Request decided in memory.

    uv run python bench/counting.py [--packets 20000] [--rounds 7]

Feeds signed PAP Access-Requests (half with a wrong password: accepts and rejects) straight
into the server's request handling on one event loop, each answered on the spot from the policy
in memory (no database on the way, an in-memory transport), and prints the best and the median
of `--rounds` rounds in microseconds of the loop thread's CPU time per request (time.thread_time:
other processes on a busy machine do not count). Run it before and after a change to the
packet path (the metrics' counting, server/metrics.py) and compare; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from access import USERS, prepare
from load import SECRET, CountingTransport, D, radius_server

from userman.radius.packet import Code, build, encode
from userman.services import Actor, Userman

CHUNK = 250  # requests handed over without a pause


def packets(count: int) -> list[bytes]:
    out = []
    for n in range(count):
        password = "x" if n % 2 else "wrong"
        attributes = [("User-Name", f"user{n % USERS}"), ("User-Password", password)]
        pkt = build(D, Code.ACCESS_REQUEST, n % 256, os.urandom(16), attributes)
        out.append(encode(pkt, SECRET, message_authenticator=True))
    return out


async def rounds(app: Userman, data: list[bytes], count: int) -> list[float]:
    spent: list[float] = []
    late: list[int] = []
    async with radius_server(app) as server:
        transport = CountingTransport()
        # Warm-up: profiles that start on first use are stored once, then decided in memory.
        for index, pkt in enumerate(data[: USERS * 2]):
            await server.handle(transport, pkt, ("127.0.0.1", 1 + index), False)
        await server.drain()
        for round_ in range(count):
            transport.sent = 0
            elapsed = 0.0
            # In chunks, the loop let through between them: the routers' snapshot stays fresh
            # (its watcher runs), and what went to a thread is answered before the next chunk.
            for first in range(0, len(data), CHUNK):
                start = time.thread_time()
                for index in range(first, min(first + CHUNK, len(data))):
                    addr = ("127.0.0.1", 1 + (index + round_ * 7) % 60000)
                    server.submit(transport, data[index], addr, False)
                elapsed += time.thread_time() - start
                await server.drain()
                await asyncio.sleep(0)
            spent.append(elapsed / len(data) * 1e6)
            late.append(server.counters["decided-by-database"])
    if late[-1] != late[0]:
        print(f"  ({late[-1] - late[0]} requests were decided by the database)")
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = prepare(f"sqlite:///{Path(folder) / 'bench.db'}", 1)
        try:
            # No log rows: the log writer's thread would compete for the GIL in the timing.
            app.execute(Actor.superuser(), ("router",), "set", ("bench",), {"log": ""})
            app.policy.load()
            spent = asyncio.run(rounds(app, packets(args.packets), args.rounds))
        finally:
            app.close()
    print(
        f"Access-Requests decided in memory: best {min(spent):.2f} us, "
        f"median {statistics.median(spent):.2f} us per request ({args.rounds} rounds of "
        f"{args.packets})"
    )


if __name__ == "__main__":
    main()
