"""userman beside FreeRADIUS 3.2 on this machine, in one run, as one table of medians.

    uv run python bench/versus_freeradius.py [--quick] [--cases pap,chap,mschapv2,accounting]
        [--servers null,userman,files,sql] [--users 10000] [--runs 3] [--seconds 8]
        [--in-flight 64] [--scale] [--scale-users 1000000] [--json FILE] [--keep]

Provisions the same users in userman (`userman import` of a RouterOS script, into a fresh SQLite
database) and in FreeRADIUS (Debian's package, installed with apt-get when missing; one server
with `files` and the `detail` file, one with rlm_sql on SQLite in WAL mode), starts each pinned
to one core with the load generator (bench/loadgen.py) on another, and runs every case on every
server in turn, `--runs` times, then once more at half its median rate for the latency there.
A null responder shows the generator's own ceiling. `--scale` adds the log-on storm and the
1,000,000-user case. Everything runs in a temporary directory, on free loopback ports; every
wait is bounded, and a server that fails, times out or answers wrongly is reported as such.
It measures and prints; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import freeradius
import report
import scale
import userman_setup
from flows import AccountingSessions, Flow, SteadyAccess, shuffled
from loadgen import MAX_IN_FLIGHT, status_server
from measure import measure
from packets import METHODS, AccessRequests, AccountingRequests
from population import MAX_USERS
from report import CASE_NAMES, MIB, Row, Target, met, ratio_target, table, targets_text
from servers import Server, cores, free_port, start

HERE = Path(__file__).resolve().parent
CASES = (*METHODS, "accounting")
SERVERS = ("null", "userman", "files", "sql")
LABELS = {
    "null": "null responder",
    "userman": "userman serve",
    "files": "FreeRADIUS files",
    "sql": "FreeRADIUS rlm_sql SQLite",
}
DESCRIPTIONS = {
    "null": (
        "bench/loadgen.py answering every request correctly and doing nothing else, to show "
        "the generator's own ceiling"
    ),
    "userman": (
        "`userman serve` on a fresh SQLite database filled by `userman import`, RADIUS only "
        "(--http-port 0), the router requiring Message-Authenticator; accounting answered "
        "once its batch commits, with SQLite at synchronous=FULL (userman's default)"
    ),
    "files": freeradius.FLAVORS["files"],
    "sql": freeradius.FLAVORS["sql"],
}
ACCOUNTING_LABELS = {"files": "FreeRADIUS detail file", "sql": "FreeRADIUS rlm_sql SQLite"}


def say(text: str) -> None:
    """Progress, on stderr; the report goes to stdout."""
    print(f"# {text}", file=sys.stderr, flush=True)


def arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="1,000 users, 1 run of 3 s (for development)"
    )
    parser.add_argument("--cases", default=",".join(CASES), help="which cases, comma-separated")
    parser.add_argument("--servers", default=",".join(SERVERS), help="which servers")
    parser.add_argument("--users", type=int, default=None, help="users (default 10000)")
    parser.add_argument("--runs", type=int, default=None, help="runs per case (default 3)")
    parser.add_argument("--seconds", type=float, default=None, help="measured s (default 8)")
    parser.add_argument("--warmup", type=float, default=0.5, help="unmeasured s before each run")
    parser.add_argument("--in-flight", type=int, default=64, help="requests outstanding")
    parser.add_argument("--timeout", type=float, default=3.0, help="s before a request counts lost")
    parser.add_argument("--scale", action="store_true", help="also the storm and the large case")
    parser.add_argument("--scale-users", type=int, default=1_000_000, help="the large case's")
    parser.add_argument("--storm-in-flight", type=int, default=128, help="during the storm")
    parser.add_argument("--storm-limit", type=float, default=600.0, help="s the storm may take")
    parser.add_argument("--import-limit", type=float, default=1800.0, help="s an import may take")
    parser.add_argument("--start-limit", type=float, default=300.0, help="s a start may take")
    parser.add_argument("--json", type=Path, help="also write every measurement to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    args.users = args.users or (1_000 if args.quick else 10_000)
    args.runs = args.runs or (1 if args.quick else 3)
    args.seconds = args.seconds or (3.0 if args.quick else 8.0)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    for case in args.cases:
        if case not in CASES:
            parser.error(f"unknown case {case!r} (choose from {', '.join(CASES)})")
    for server in args.servers:
        if server not in SERVERS:
            parser.error(f"unknown server {server!r} (choose from {', '.join(SERVERS)})")
    for name in ("in_flight", "storm_in_flight"):
        if not 0 < getattr(args, name) <= MAX_IN_FLIGHT:
            parser.error(f"--{name.replace('_', '-')} must be 1..{MAX_IN_FLIGHT}")
    for name in ("users", "scale_users"):
        if not 0 < getattr(args, name) <= MAX_USERS:
            parser.error(f"--{name.replace('_', '-')} must be 1..{MAX_USERS:,}")
    return args


def header(args: argparse.Namespace, pinned: tuple[int, int] | None) -> str:
    return report.header(
        "userman beside FreeRADIUS",
        f"{args.users:,} users with a running profile and a rate limit, one router; "
        f"{args.in_flight} requests in flight; median of {args.runs} run(s) of "
        f"{args.seconds:g} s after {args.warmup:g} s of warm-up",
        pinned=pinned,
        generator="generator",
        software=f"FreeRADIUS {freeradius.version()}",
        servers=(
            "Servers (all on the server's core, measured one at a time, each case on each in "
            "turn; the same users, router and reply):"
        ),
        described=[(LABELS[key], DESCRIPTIONS[key]) for key in args.servers],
    )


def start_servers(
    args: argparse.Namespace, folder: Path, wanted: Sequence[str], pinned: tuple[int, int] | None
) -> tuple[dict[str, Server], dict[str, str]]:
    """Provision and start the servers in `wanted`; those that cannot start, with the reason."""
    core = pinned[1] if pinned else None
    servers: dict[str, Server] = {}
    failed: dict[str, str] = {}
    for key in wanted:
        auth, acct = free_port(), free_port()
        log = folder / f"{key}.out"
        logs: list[Path] = []
        if key == "null":
            argv = [sys.executable, str(HERE / "loadgen.py"), "null"]
            argv += ["--auth-port", str(auth), "--acct-port", str(acct), "--users", str(args.users)]
        elif key == "userman":
            say(f"userman import of {args.users:,} users ...")
            url, seconds, why = userman_setup.provision(folder, args.users, limit=args.import_limit)
            if why:
                failed[key] = why
                say(f"userman: {why}")
                continue
            say(f"userman import of {args.users:,} users: {seconds:.1f} s")
            argv = userman_setup.serve(url, auth, acct)
        else:
            why = freeradius.install(folder / "apt-get.log")
            if why:
                failed[key] = why
                say(f"FreeRADIUS: {why}")
                continue
            began = time.monotonic()
            try:
                confdir = freeradius.configure(folder, key, args.users, auth, acct)
            except (OSError, RuntimeError) as error:
                failed[key] = f"cannot configure FreeRADIUS: {error}"
                say(f"{key}: {failed[key]}")
                continue
            seconds = time.monotonic() - began
            say(f"FreeRADIUS {key}: {args.users:,} users written in {seconds:.1f} s")
            argv = freeradius.command(confdir)
            logs = [freeradius.log_file(confdir)]
        server, why = start(
            LABELS[key],
            argv,
            core=core,
            log=log,
            auth_port=auth,
            acct_port=acct,
            ready=lambda address: status_server(address, wait=1.0),
            limit=args.start_limit,
            logs=logs,
        )
        if why:
            failed[key] = f"did not start: {why}"
            say(f"{key}: {failed[key]}")
            continue
        say(f"{LABELS[key]} answers after {server.started_in:.1f} s (pid {server.pid})")
        servers[key] = server
    return servers, failed


def flow_for(case: str, requests: AccessRequests | None, order: list[int], run: int) -> Flow:
    """A fresh flow for one run (each run starts elsewhere in the shuffled order)."""
    begin = run * len(order) // 7
    if requests is None:
        return AccountingSessions(AccountingRequests(), order, begin)
    return SteadyAccess(requests, order, begin)


def run_cases(
    args: argparse.Namespace,
    servers: dict[str, Server],
    failed: dict[str, str],
    pinned: tuple[int, int] | None,
) -> dict[tuple[str, str], Row]:
    rows: dict[tuple[str, str], Row] = {}
    order = shuffled(args.users, seed=1)
    options = {"in_flight": args.in_flight, "warmup": args.warmup, "timeout": args.timeout}
    for case in args.cases:
        for key in args.servers:
            label = ACCOUNTING_LABELS.get(key, LABELS[key]) if case == "accounting" else LABELS[key]
            rows[case, key] = Row(case, key, label, note=failed.get(key, ""))
        requests = None if case == "accounting" else AccessRequests(case, args.users)
        for run in range(args.runs):
            for key, server in servers.items():
                row = rows[case, key]
                if not server.alive():
                    row.note = row.note or f"the server exited: {server.log_tail(2)}"
                    continue
                flow = flow_for(case, requests, order, run)
                m = measure(server, flow, pinned, seconds=args.seconds, **options)
                row.runs.append(m)
                say(
                    f"{CASE_NAMES[case]} run {run + 1}/{args.runs}, {row.label}: {m.rate:,.0f}/s, "
                    f"{m.timeouts} timeouts, {sum(m.wrong.values())} wrong"
                )
        for key, server in servers.items():
            row = rows[case, key]
            peak = row.median
            if key == "null" or peak is None or peak.rate <= 0 or not server.alive():
                continue
            flow = flow_for(case, requests, order, args.runs)
            row.half = measure(
                server, flow, pinned, seconds=args.seconds, rate=peak.rate / 2, **options
            )
            say(
                f"{CASE_NAMES[case]} at half the peak ({peak.rate / 2:,.0f}/s), {row.label}: "
                f"p99 {(row.half.p99 or 0) * 1000:.1f} ms"
            )
    return rows


def targets(
    rows: dict[tuple[str, str], Row], large: scale.Large | None, args: argparse.Namespace
) -> list[Target]:
    """The issue's targets beside what this run measured."""
    found = [
        ratio_target(rows, "pap", "files", "PAP, userman / FreeRADIUS files", 0.35),
        ratio_target(rows, "pap", "sql", "PAP, userman / FreeRADIUS rlm_sql SQLite", 2.5),
        ratio_target(rows, "chap", "files", "CHAP, userman / FreeRADIUS files", 0.3),
        ratio_target(rows, "mschapv2", "files", "MS-CHAPv2, userman / FreeRADIUS files", 0.3),
        ratio_target(rows, "accounting", "sql", "accounting, userman / rlm_sql SQLite", 1.0),
        ratio_target(rows, "accounting", "files", "accounting, userman / detail file", 0.3),
    ]
    mine = [row for (_, key), row in rows.items() if key == "userman" and row.runs]
    halves = [row.half.p99 for row in mine if row.half is not None and row.half.p99 is not None]
    worst = max(halves, default=None)
    found.append(
        Target(
            "userman p99 at half the peak rate (worst case)",
            "-" if worst is None else f"{worst * 1000:.1f} ms",
            "<= 10 ms",
            met(None if worst is None else worst <= 0.010),
        )
    )
    lost = sum(run.timeouts for row in mine for run in row.runs)
    found.append(
        Target(
            f"userman timeouts at {args.in_flight} in flight",
            f"{lost:,}" if mine else "-",
            "none",
            met((lost == 0) if mine else None),
        )
    )
    big = large.rows.get("userman") if large else None
    m = big.measurement if big else None
    users = f"{args.scale_users:,} users"
    if big is None or m is None:
        for name, goal in (
            (f"rate / {args.users:,}-user rate", ">= 0.9x"),
            ("RSS", "<= 1 GiB"),
            ("start-up", "<= 30 s"),
        ):
            found.append(Target(f"{users}: userman {name}", "-", goal, met(None)))
        return found
    versus = m.rate / big.small_rate if big.small_rate else None
    found += [
        Target(
            f"{users}: userman rate / {args.users:,}-user rate",
            "-" if versus is None else f"{versus:.2f}x",
            ">= 0.9x",
            met(None if versus is None else versus >= 0.9),
        ),
        Target(
            f"{users}: userman RSS", f"{m.rss / MIB:,.0f} MiB", "<= 1 GiB", met(m.rss <= 1 << 30)
        ),
        Target(
            f"{users}: userman start-up",
            f"{big.startup or 0:.1f} s",
            "<= 30 s",
            met(big.startup is not None and big.startup <= 30),
        ),
    ]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    pinned = cores()
    folder = Path(tempfile.mkdtemp(prefix="userman-bench-"))
    servers: dict[str, Server] = {}
    # SIGTERM ends the run as Ctrl-C does: through the `finally` that stops our servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        intro = header(args, pinned)
        say(f"working in {folder}")
        servers, failed = start_servers(args, folder, args.servers, pinned)
        if pinned:
            os.sched_setaffinity(0, {pinned[0]})
        rows = run_cases(args, servers, failed, pinned)
        storm = scale.storms(args, servers, pinned) if args.scale else {}
        for server in servers.values():
            server.stop()
        print(intro, "", table(rows, args.cases), "", sep="\n")
        print(scale.storm_text(storm, args) if args.scale else scale.NOT_RUN_STORM, flush=True)
        large = scale.large(args, folder, rows, pinned) if args.scale else None
        print(scale.large_text(large, args) if large else scale.NOT_RUN_LARGE)
        print()
        print("Targets (issue 10), userman / FreeRADIUS from this run:")
        print(targets_text(targets(rows, large, args)))
        if args.json:
            dump = {
                "header": intro,
                "rows": [asdict(row) for row in rows.values()],
                "storm": {key: asdict(m) for key, m in storm.items()},
                "large": asdict(large) if large else None,
            }
            args.json.write_text(json.dumps(dump, indent=2, default=str))
        return 0
    finally:
        for server in servers.values():
            server.stop()
        if args.keep:
            say(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
