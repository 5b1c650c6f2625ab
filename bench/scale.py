"""The scale cases of `--scale`: the log-on storm, and the same PAP runs with 1,000,000 users.

The storm: the router's Accounting-On (its sessions are over), then every user's Access-Request
at once, each Accept followed by that user's Accounting-Start, until all are logged on or
`--storm-limit` passes. The large case provisions `--scale-users` users in each server anew,
times the start-up (start to the first Status-Server answer), and runs PAP as the table does,
for its rate beside the 10,000-user rate and the server's RSS.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import freeradius
import userman_setup
from flows import LogOnStorm, SteadyAccess, shuffled
from loadgen import status_server
from measure import Measurement, measure, median
from packets import AccessRequests, AccountingRequests
from report import MIB, Row
from servers import Server, free_port, start

STORM_SERVERS = ("userman", "files", "sql")
NOT_RUN_STORM = "Log-on storm: not run (add --scale)"
NOT_RUN_LARGE = "1,000,000 users: not run (add --scale)"


def say(text: str) -> None:
    print(f"# {text}", file=sys.stderr, flush=True)


@dataclass
class Storm:
    label: str
    users: int
    measurement: Measurement
    logged_on: int
    failed: int


def storms(
    args: argparse.Namespace, servers: dict[str, Server], pinned: tuple[int, int] | None
) -> dict[str, Storm]:
    """Each running server's log-on storm, one after the other."""
    done: dict[str, Storm] = {}
    requests = AccessRequests("pap", args.users)
    for key in STORM_SERVERS:
        server = servers.get(key)
        if server is None or not server.alive():
            continue
        flow = LogOnStorm(requests, AccountingRequests(), shuffled(args.users, seed=2))
        m = measure(
            server,
            flow,
            pinned,
            seconds=None,
            in_flight=args.storm_in_flight,
            timeout=args.timeout,
            limit=args.storm_limit,
        )
        done[key] = Storm(server.label, args.users, m, flow.logged_on, flow.failed)
        say(f"storm, {server.label}: {flow.logged_on:,} logged on in {m.window:.1f} s")
    return done


def storm_text(storms: dict[str, Storm], args: argparse.Namespace) -> str:
    lines = [
        f"Log-on storm: the router's Accounting-On, then all {args.users:,} users at once "
        f"({args.storm_in_flight} in flight), each Accept followed by its Accounting-Start"
    ]
    if not storms:
        return lines[0] + ": no server ran it"
    for storm in storms.values():
        m = storm.measurement
        rate = storm.logged_on / m.window if m.window > 0 else 0.0
        ended = "" if m.finished else f", STOPPED at the {args.storm_limit:.0f} s limit"
        wrong = sum(m.wrong.values())
        lines.append(
            f"  {storm.label}: {storm.logged_on:,}/{storm.users:,} logged on in "
            f"{m.window:.1f} s ({rate:,.0f}/s), p50 {_ms(m.p50)} ms, p99 {_ms(m.p99)} ms, "
            f"{m.timeouts:,} timeouts, {wrong:,} wrong{ended}"
        )
    return "\n".join(lines)


@dataclass
class LargeRow:
    label: str
    provision: float = 0.0  # seconds to import or write the users
    startup: float | None = None  # seconds from start to the first answer
    measurement: Measurement | None = None
    small_rate: float | None = None  # the same server's PAP rate with the table's users
    note: str = ""


@dataclass
class Large:
    users: int
    rows: dict[str, LargeRow] = field(default_factory=dict)


def large(
    args: argparse.Namespace,
    folder: Path,
    rows: dict[tuple[str, str], Row],
    pinned: tuple[int, int] | None,
) -> Large:
    """PAP with `--scale-users` users on each server, one server at a time."""
    result = Large(args.scale_users)
    order = shuffled(args.scale_users, seed=3)
    say(f"the generator's {args.scale_users:,} users ...")
    requests = AccessRequests("pap", args.scale_users)
    for key in STORM_SERVERS:
        if key not in args.servers:
            continue
        small = rows.get(("pap", key))
        label = small.label if small else key
        row = result.rows[key] = LargeRow(label)
        if small is not None and small.median is not None:
            row.small_rate = small.median.rate
        logs: list[Path] = []
        place = folder / f"large-{key}"
        place.mkdir()
        auth, acct = free_port(), free_port()
        began = time.monotonic()
        if key == "userman":
            say(f"userman import of {args.scale_users:,} users (limit {args.import_limit:.0f} s)")
            url, seconds, why = userman_setup.provision(
                place, args.scale_users, limit=args.import_limit
            )
            row.provision = seconds
            if why:
                row.note = why
                shutil.rmtree(place, ignore_errors=True)
                continue
            argv = userman_setup.serve(url, auth, acct)
        else:
            if freeradius.binary() is None:
                row.note = "FreeRADIUS is not installed"
                continue
            try:
                confdir = freeradius.configure(place, key, args.scale_users, auth, acct)
            except (OSError, RuntimeError) as error:
                row.note = f"cannot configure FreeRADIUS: {error}"
                continue
            row.provision = time.monotonic() - began
            argv = freeradius.command(confdir)
            logs = [freeradius.log_file(confdir)]
        say(f"{label}: {args.scale_users:,} users provisioned in {row.provision:.0f} s")
        server, why = start(
            label,
            argv,
            core=pinned[1] if pinned else None,
            log=place / "server.out",
            auth_port=auth,
            acct_port=acct,
            ready=lambda address: status_server(address, wait=1.0),
            limit=args.start_limit,
            logs=logs,
        )
        try:
            if why:
                row.note = f"did not start: {why}"
                continue
            row.startup = server.started_in
            runs = []
            for run in range(args.runs):
                runs.append(
                    measure(
                        server,
                        SteadyAccess(requests, order, run * len(order) // 7),
                        pinned,
                        seconds=args.seconds,
                        in_flight=args.in_flight,
                        warmup=args.warmup,
                        timeout=args.timeout,
                    )
                )
                say(f"{args.scale_users:,} users, {label}: {runs[-1].rate:,.0f}/s")
            row.measurement = median(runs)
        finally:
            server.stop()
            shutil.rmtree(place, ignore_errors=True)
    return result


def large_text(large: Large, args: argparse.Namespace) -> str:
    lines = [f"{large.users:,} users, PAP, median of {args.runs} run(s) of {args.seconds:g} s:"]
    for row in large.rows.values():
        if row.measurement is None:
            lines.append(f"  {row.label}: not run: {row.note}")
            continue
        m = row.measurement
        versus = "-" if not row.small_rate else f"{m.rate / row.small_rate:.2f}x"
        wrong = sum(m.wrong.values())
        lines.append(
            f"  {row.label}: {m.rate:,.0f}/s ({versus} the {args.users:,}-user rate), "
            f"RSS {m.rss / MIB:,.0f} MiB (peak {m.hwm / MIB:,.0f}), start-up "
            f"{row.startup or 0:.1f} s, users provisioned in {row.provision:.0f} s, "
            f"p99 {_ms(m.p99)} ms, {m.timeouts:,} timeouts, {wrong:,} wrong"
        )
    return "\n".join(lines)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"
