"""CPU per Access-Request in one process, no sockets: the decision memo off and on, one run.

    uv run python bench/decision.py [--users 10000] [--requests 50000] [--method pap]
                                    [--folder DIR] [--rounds 3]

Provisions `--users` users as bench/versus_freeradius.py does (`userman import` of the same
script, bench/userman_setup.py; kept in `--folder` for the next run), loads the policy, and feeds
server/endpoint.RadiusServer the load generator's Access-Requests (bench/packets.py, signed,
each with a fresh authenticator) through an in-memory transport, one at a time, every user in
turn. Times each round with time.process_time, alternating the server's decision memo off (every
decision made afresh from the user's facts) and on, and prints the CPU per request of each, the
requests per CPU second and the ratio (medians of `--rounds`). It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from load import CountingTransport, radius_server
from packets import AccessRequests
from population import ROUTER_ADDRESS
from userman_setup import provision

from userman.services import Userman


async def run(
    app: Userman, make: Callable[[], list[bytes]], rounds: int
) -> dict[bool, list[float]]:
    """Seconds of CPU per request, by whether the memo was on, for each round."""
    addr = (ROUTER_ADDRESS, 40000)
    out: dict[bool, list[float]] = {False: [], True: []}
    late = 0
    async with radius_server(app) as server:
        transport = CountingTransport()
        for _ in range(rounds):
            for on in (False, True):
                app.policy.remembering(on)
                packets = make()  # fresh authenticators: none is taken for a retransmission
                began = time.process_time()
                for index, data in enumerate(packets):
                    work = server.receive(transport, data, addr, False)
                    if work is not None:  # the router snapshot was late: read in a worker
                        late += 1
                        await work
                    if index % 64 == 63:
                        await asyncio.sleep(0)  # the snapshot's watcher has its turn
                spent = time.process_time() - began
                out[on].append(spent / len(packets))
        if late:
            print(f"  ({late} requests waited for their router to be read)")
        print(f"  counters: {dict(server.counters)}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--method", choices=("pap", "chap", "mschapv2"), default="pap")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--folder", help="where the provisioned database is kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.folder or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        database = folder / f"userman-{args.users}.db"
        url = f"sqlite:///{database}"
        if not database.exists():
            url, seconds, failure = provision(folder, args.users, limit=600)
            if failure is not None:
                raise SystemExit(failure)
            print(f"provisioned {args.users:,} users in {seconds:.1f} s")
        app = Userman(url)
        try:
            app.prepare()
            app.policy.load()
            requests = AccessRequests(args.method, args.users)

            def make() -> list[bytes]:
                count, users = args.requests, args.users
                return [requests.make(i % 256, i % users)[0] for i in range(count)]

            times = asyncio.run(run(app, make, args.rounds))
        finally:
            app.close()
    off, on = (statistics.median(times[flag]) for flag in (False, True))
    print(
        f"{args.method}, {args.users:,} users, {args.requests:,} requests, median of {args.rounds}"
    )
    for label, spent in (("memo off", off), ("memo on", on)):
        print(f"  {label}: {spent * 1e6:6.1f} us CPU per request, {1 / spent:8,.0f} requests/s")
    print(f"  ratio: {off / on:.2f}x with the memo")


if __name__ == "__main__":
    main()
