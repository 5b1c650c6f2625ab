"""`userman serve --workers N` against one process: PAP and accounting throughput and p99 with
1 and 2 workers (`--workers 1,2,...`), side by side, on copies of one provisioned database.

Placement: nothing is pinned. The server's processes (the parent and its workers) and the load
generator (bench/loadgen.py, one process) share every core the machine has; on a 2-core
machine the generator takes a large part of one, so what 2 workers can add is bounded by it,
and the output says how busy it was. The generator sends from `--sources` source ports per
RADIUS port (8: as several routers would), since the kernel spreads the load among the workers
by source port (SO_REUSEPORT). Prints figures, asserts nothing; every wait is bounded.

    uv run python bench/workers.py [--users 1000] [--seconds 5] [--runs 1] [--workers 1,2]
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
from collections.abc import Sequence
from pathlib import Path

import userman_setup
from flows import AccountingSessions, Flow, SteadyAccess, shuffled
from loadgen import status_server
from measure import Measurement, measure, median
from packets import AccessRequests, AccountingRequests
from servers import free_port, start

CASES = ("pap", "accounting")


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured, per run")
    parser.add_argument("--runs", type=int, default=1, help="per case and server (median)")
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--sources", type=int, default=8, help="source ports per RADIUS port")
    parser.add_argument("--workers", default="1,2", help="the --workers values to compare")
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--start-limit", type=float, default=120.0)
    return parser.parse_args(argv)


def say(text: str) -> None:
    print(f"# {text}", file=sys.stderr, flush=True)


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
    args: argparse.Namespace, folder: Path, counts: list[int]
) -> dict[tuple[str, int], Measurement]:
    say(f"userman import of {args.users:,} users ...")
    url, seconds, why = userman_setup.provision(folder, args.users, limit=600)
    if why:
        raise SystemExit(why)
    say(f"imported in {seconds:.1f} s")
    order = shuffled(args.users, seed=1)
    figures: dict[tuple[str, int], Measurement] = {}
    for workers in counts:
        db_url = copy_database(url, folder, f"workers-{workers}")
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
                say(f"{case}, {workers} workers: {m.rate:,.0f}/s, p99 {ms(m.p99)}")
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
    folder = Path(tempfile.mkdtemp(prefix="userman-workers-"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        figures = run(args, folder, counts)
        print(
            f"serve --workers, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, {args.users:,} users, SQLite (synchronous=FULL), "
            f"{args.in_flight} in flight from {args.sources} source ports per port, "
            f"{args.runs} run(s) of {args.seconds:g} s; nothing pinned: the workers and the "
            f"load generator share the cores; load average {os.getloadavg()[0]:.1f}"
        )
        print()
        print(table(figures, counts))
        return 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
