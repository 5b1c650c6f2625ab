"""`userman serve --workers N` against one process: PAP and accounting throughput and p99 with
1 and 2 workers (`--workers 1,2,...`), side by side, on copies of one provisioned database, on
SQLite and on PostgreSQL (`--databases sqlite,postgresql`; PostgreSQL on 127.0.0.1:5432, or
$USERMAN_TEST_POSTGRES, the admin URL: a fresh database per case, copied from one imported
with CREATE DATABASE ... TEMPLATE, all dropped at the end).

Placement: nothing is pinned. The server's processes (the parent and its workers) and the load
generator (bench/loadgen.py, one process) share every core the machine has; on a 2-core
machine the generator takes a large part of one, so what 2 workers can add is bounded by it,
and the output says how busy it was. The generator sends from `--sources` source ports per
RADIUS port (8: as several routers would), since the kernel spreads the load among the workers
by source port (SO_REUSEPORT). Prints figures, asserts nothing; every wait is bounded.

    uv run python bench/workers.py [--users 1000] [--seconds 5] [--runs 1] [--workers 1,2]
        [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import psycopg
import userman_setup
from flows import AccountingSessions, Flow, SteadyAccess, shuffled
from loadgen import status_server
from measure import Measurement, measure, median
from packets import AccessRequests, AccountingRequests
from servers import free_port, start

CASES = ("pap", "accounting")
DATABASES = ("sqlite", "postgresql")
ADMIN = os.environ.get("USERMAN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured, per run")
    parser.add_argument("--runs", type=int, default=1, help="per case and server (median)")
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--sources", type=int, default=8, help="source ports per RADIUS port")
    parser.add_argument("--workers", default="1,2", help="the --workers values to compare")
    parser.add_argument("--databases", default="sqlite", help="sqlite, postgresql or both")
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--start-limit", type=float, default=120.0)
    return parser.parse_args(argv)


def say(text: str) -> None:
    print(f"# {text}", file=sys.stderr, flush=True)


class Databases:
    """One provisioned database and its copies, one per case: SQLite files in `folder`, or
    PostgreSQL databases (dropped by `drop`)."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind = kind
        self.folder = folder
        self.prefix = f"userman_bench_{uuid.uuid4().hex[:10]}"
        self.made: list[str] = []

    def _pg_url(self, name: str) -> str:
        return f"{ADMIN.rsplit('/', 1)[0]}/{name}"

    def _create(self, name: str, template: str | None = None) -> str:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            like = f' TEMPLATE "{template}"' if template else ""
            admin.execute(f'CREATE DATABASE "{name}"{like}')
        self.made.append(name)
        return self._pg_url(name)

    def provision(self, users: int) -> tuple[str, float]:
        if self.kind == "sqlite":
            url, seconds, why = userman_setup.provision(self.folder, users, limit=600)
        else:
            url = self._create(f"{self.prefix}_base")
            seconds, why = userman_setup.provision_into(url, self.folder, users, limit=600)
        if why:
            raise SystemExit(why)
        self.base = url
        return url, seconds

    def copy(self, name: str) -> str:
        if self.kind == "postgresql":
            return self._create(f"{self.prefix}_{name}".replace("-", "_"), f"{self.prefix}_base")
        return copy_database(self.base, self.folder, name)

    def drop(self) -> None:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            for name in reversed(self.made):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def databases(kind: str, folder: Path) -> Iterator[Databases]:
    made = Databases(kind, folder)
    try:
        yield made
    finally:
        if made.made:
            made.drop()


def copy_database(url: str, folder: Path, name: str) -> str:
    """A copy of the provisioned SQLite database (with its WAL and key file), as `name`."""
    source = Path(url.removeprefix("sqlite:///"))
    target = folder / f"{name}.db"
    for suffix in ("", "-wal", ".key"):
        original = Path(f"{source}{suffix}")
        if original.exists():
            shutil.copy2(original, f"{target}{suffix}")
    return f"sqlite:///{target}"


def flow_for(case: str, requests: AccessRequests | None, order: list[int], run: int) -> Flow:
    begin = run * len(order) // 7
    if requests is None:
        return AccountingSessions(AccountingRequests(), order, begin)
    return SteadyAccess(requests, order, begin)


def run(
    args: argparse.Namespace, folder: Path, counts: list[int], kind: str
) -> dict[tuple[str, int], Measurement]:
    with databases(kind, folder / kind) as made:
        return _run(args, made, counts)


def _run(
    args: argparse.Namespace, made: Databases, counts: list[int]
) -> dict[tuple[str, int], Measurement]:
    folder = made.folder
    folder.mkdir(exist_ok=True)
    say(f"userman import of {args.users:,} users into {made.kind} ...")
    _, seconds = made.provision(args.users)
    say(f"imported in {seconds:.1f} s")
    order = shuffled(args.users, seed=1)
    figures: dict[tuple[str, int], Measurement] = {}
    for workers in counts:
        db_url = made.copy(f"workers-{workers}")
        auth, acct = free_port(), free_port()
        argv = [*userman_setup.serve(db_url, auth, acct), "--workers", str(workers)]
        server, why = start(
            f"{workers} workers",
            argv,
            core=None,
            log=folder / f"workers-{workers}.log",
            auth_port=auth,
            acct_port=acct,
            ready=lambda address: status_server(address, wait=1.0),
            limit=args.start_limit,
        )
        if why:
            raise SystemExit(f"--workers {workers}: {why}")
        # Status-Server is answered by the worker its port reaches: wait for all of them.
        deadline = time.monotonic() + args.start_limit
        while "userman is listening on" not in server.log.read_text() and workers > 1:
            if time.monotonic() > deadline:
                raise SystemExit(f"--workers {workers}: not all workers answered")
            time.sleep(0.1)
        say(f"--workers {workers} answers (pid {server.pid})")
        try:
            for case in CASES:
                requests = None if case == "accounting" else AccessRequests(case, args.users)
                runs = [
                    measure(
                        server,
                        flow_for(case, requests, order, number),
                        None,
                        seconds=args.seconds,
                        in_flight=args.in_flight,
                        timeout=args.timeout,
                        sources=args.sources,
                    )
                    for number in range(args.runs)
                ]
                figures[case, workers] = median(runs)
                m = figures[case, workers]
                say(f"{made.kind} {case}, {workers} workers: {m.rate:,.0f}/s, p99 {ms(m.p99)}")
        finally:
            server.stop()
    return figures


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


def table(figures: dict[tuple[str, int], Measurement], counts: list[int]) -> str:
    head = ["case"]
    for workers in counts:
        head += [f"{workers} w rate", f"{workers} w p99", f"{workers} w CPU/req"]
    head += [f"{counts[-1]} / {counts[0]}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for case in CASES:
        cells = [case]
        for workers in counts:
            m = figures[case, workers]
            cpu = "-" if m.cpu is None else f"{m.cpu * 1e6:.0f} us"
            flags = f" ({m.timeouts} timeouts)" if m.timeouts else ""
            cells += [f"{m.rate:,.0f}/s{flags}", ms(m.p99), cpu]
        first, last = figures[case, counts[0]].rate, figures[case, counts[-1]].rate
        cells.append(f"{last / first:.2f}x" if first else "-")
        lines.append("| " + " | ".join(cells) + " |")
    busy = ", ".join(
        f"{case} {workers} w {figures[case, workers].generator_busy or 0:.0%}"
        for case in CASES
        for workers in counts
    )
    lines.append("")
    lines.append(f"load generator busy (share of one core): {busy}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    counts = [int(word) for word in args.workers.split(",")]
    kinds = args.databases.split(",")
    if not set(kinds) <= set(DATABASES):
        raise SystemExit(f"--databases: {args.databases!r}: choose among {', '.join(DATABASES)}")
    folder = Path(tempfile.mkdtemp(prefix="userman-workers-"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        tables = {kind: run(args, folder, counts, kind) for kind in kinds}
        for kind, figures in tables.items():
            where = "SQLite (synchronous=FULL)" if kind == "sqlite" else "PostgreSQL on 127.0.0.1"
            print(
                f"serve --workers, {where}, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores,"
                f" Python {platform.python_version()}, {args.users:,} users, "
                f"{args.in_flight} in flight from {args.sources} source ports per port, "
                f"{args.runs} run(s) of {args.seconds:g} s; nothing pinned: the workers, the "
                f"database and the load generator share the cores; load average "
                f"{os.getloadavg()[0]:.1f}"
            )
            print()
            print(table(figures, counts))
            print()
        return 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
