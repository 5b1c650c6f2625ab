"""Accounting as `userman serve` does it, in one process: the policy in memory, kept current
after each batch, users with running profiles (bench/userman_setup.py), sessions of Start, two
Interim-Updates and Stop (bench/flows.py).

    uv run python bench/accounting_served.py [--users 2000] [--packets 20000] [--in-flight 256]
        [--runs 3] [--db URL] [--profile]

Provisions the users once with `userman import` (or uses `--db`, already provisioned), sets
the interpreter up as `serve` does (server/main.py `tune_interpreter`), then drives the server's
request handling (server/endpoint.py) through an in-memory transport,
`--in-flight` at a time, `--runs` times, each run with new sessions. Prints each run's records
per second and the process's CPU time per record (less disturbed by other work on a shared
machine), the writer thread's CPU time per record (the batch: its statements, its commit and
the policy's read after it; `time.thread_time` around each batch), and their medians.
`--profile` runs the first run under cProfile (the event loop's thread only) and prints the
top of it. It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import userman_setup
from accounting import drive
from flows import AccountingSessions, shuffled
from packets import AccountingRequests, D
from population import ROUTER_ADDRESS

from userman.core.accounting import SessionState
from userman.server.endpoint import RadiusServer
from userman.server.main import tune_interpreter
from userman.services import Userman
from userman.services.accounting import AccountingItem


def packets(users: int, count: int, open_sessions: int, seed: int) -> list[bytes]:
    flow = AccountingSessions(AccountingRequests(), shuffled(users, seed), 0, open_sessions)
    now = time.time()
    out = []
    for n in range(count):
        made = flow.next(n % 256, now)
        assert made is not None
        out.append(made[0])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--packets", type=int, default=20000)
    parser.add_argument("--in-flight", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", help="a provisioned database URL; default: a fresh SQLite file")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    tune_interpreter()  # the GIL's switch interval and the collector's thresholds of `serve`
    with tempfile.TemporaryDirectory() as folder:
        url = args.db
        if url is None:
            url, seconds, failure = userman_setup.provision(Path(folder), args.users, limit=600)
            if failure:
                raise SystemExit(failure)
            print(f"provisioned {args.users} users in {seconds:.1f} s")
        app = Userman(url)
        app.prepare()
        app.policy.load()  # and from now on read again after each commit, as `serve` does
        batch_cpu = [0.0, 0]
        store = app.account_many

        def timed(items: Sequence[AccountingItem]) -> list[SessionState | None]:
            began = time.thread_time()
            try:
                return store(items)
            finally:
                batch_cpu[0] += time.thread_time() - began
                batch_cpu[1] += len(items)

        app.account_many = timed  # type: ignore[method-assign]
        server = RadiusServer(app, D)
        rates, cpus, batches_cpu = [], [], []
        try:
            for run in range(args.runs):
                data = packets(args.users, args.packets, 4 * args.in_flight, run)
                profiler = cProfile.Profile() if args.profile and run == 0 else None
                if profiler:
                    profiler.enable()
                batch_cpu[:] = [0.0, 0]
                rate, cpu = asyncio.run(drive(server, data, args.in_flight, ROUTER_ADDRESS))
                per_batch = batch_cpu[0] / max(batch_cpu[1], 1)
                if profiler:
                    profiler.disable()
                    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
                rates.append(rate)
                cpus.append(cpu)
                batches_cpu.append(per_batch)
                print(
                    f"run {run + 1}: {rate:,.0f} records/s, {cpu * 1e6:,.0f} us CPU each, "
                    f"{per_batch * 1e6:,.0f} us of it in the batch"
                )
        finally:
            server.close()
            app.close()
        batches = server.writer.counters["batches"]
        records = server.writer.counters["records"]
        print(
            f"median: {statistics.median(rates):,.0f} records/s, "
            f"{statistics.median(cpus) * 1e6:,.0f} us CPU each, "
            f"{statistics.median(batches_cpu) * 1e6:,.0f} us of it in the batch "
            f"({records / max(batches, 1):.1f} records a commit)"
        )


if __name__ == "__main__":
    main()
