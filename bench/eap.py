"""userman's PEAP beside FreeRADIUS's `eap` module on this machine, in one run, as one table.

    uv run python bench/eap.py [--quick] [--cases peap,peap-resumed]
        [--servers userman,freeradius] [--users 100] [--runs 3] [--seconds 15]
        [--concurrency 4] [--resumed-concurrency 32] [--reauths 9] [--json FILE] [--keep]

PEAPv0 with inner EAP-MSCHAPv2, TLS 1.2, the outer identity anonymous. userman is provisioned
as bench/versus_freeradius.py does (`userman import` into a fresh SQLite database), then
`userman certificate` makes a CA and the server's certificate, `database set certificate=`
puts it in use, and `certificate export` hands the same certificate, key and CA to FreeRADIUS
(bench/freeradius_eap.py: Debian's package, its `eap` module, the same users in `files`).
Both servers run pinned to one core, the eapol_test processes (bench/eapol.py) to the other,
`--concurrency` at a time (`--resumed-concurrency` when resuming: eapol_test waits 100 ms before
each re-authentication, so it takes more at once to keep a server busy), new ones begun for
`--seconds`; each server in turn, `--runs` times.

Cases: `peap`, every eapol_test one conversation with one full handshake; `peap-resumed`, every
eapol_test one full handshake and then `--reauths` re-authentications on the same RADIUS
socket, each offering to resume the TLS session: the table says what share did resume.
Everything runs in a temporary directory on free loopback ports; every wait is bounded. It
measures and prints; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import eapol
import freeradius
import freeradius_eap
import report
import userman_setup
from loadgen import status_server
from servers import Server, cores, free_port, start

CASES = ("peap", "peap-resumed")
CASE_NAMES = {"peap": "PEAP, full handshakes", "peap-resumed": "PEAP, resuming"}
SERVERS = ("userman", "freeradius")
LABELS = {"userman": "userman serve", "freeradius": "FreeRADIUS eap"}
DESCRIPTIONS = {
    "userman": (
        "`userman serve` on a fresh SQLite database filled by `userman import` (one process, "
        "RADIUS only), the certificate made by `userman certificate` and set with `database "
        "set certificate=`; its TLS session cache (OpenSSL's, in memory) as it ships"
    ),
    "freeradius": freeradius_eap.FLAVOR,
}
CERTIFICATES = (
    ("add", "name=bench-ca", "common-name=Bench CA"),
    ("add", "name=radius", "common-name=radius.example", "ca=bench-ca"),
)


def say(text: str) -> None:
    """Progress, on stderr; the report goes to stdout."""
    print(f"# {text}", file=sys.stderr, flush=True)


def arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="1 run of 5 s (for development)")
    parser.add_argument("--cases", default=",".join(CASES), help="which cases, comma-separated")
    parser.add_argument("--servers", default=",".join(SERVERS), help="which servers")
    parser.add_argument("--users", type=int, default=100, help="users, taken in turn")
    parser.add_argument("--runs", type=int, default=None, help="runs per case (default 3)")
    parser.add_argument("--seconds", type=float, default=None, help="s per run (default 15)")
    parser.add_argument("--concurrency", type=int, default=4, help="eapol_test at once")
    parser.add_argument(
        "--resumed-concurrency", type=int, default=32, help="eapol_test at once, resuming"
    )
    parser.add_argument("--reauths", type=int, default=9, help="re-authentications, resuming")
    parser.add_argument("--limit", type=float, default=60.0, help="s one eapol_test may take")
    parser.add_argument("--start-limit", type=float, default=300.0, help="s a start may take")
    parser.add_argument("--json", type=Path, help="also write every measurement to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    args.runs = args.runs or (1 if args.quick else 3)
    args.seconds = args.seconds or (5.0 if args.quick else 15.0)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    for case in args.cases:
        if case not in CASES:
            parser.error(f"unknown case {case!r} (choose from {', '.join(CASES)})")
    for server in args.servers:
        if server not in SERVERS:
            parser.error(f"unknown server {server!r} (choose from {', '.join(SERVERS)})")
    for name in ("concurrency", "resumed_concurrency"):
        if not 0 < getattr(args, name) <= 64:
            parser.error(f"--{name.replace('_', '-')} must be 1..64")
    if not 0 < args.reauths <= 100:
        parser.error("--reauths must be 1..100")
    if not 0 < args.users <= 100_000:
        parser.error("--users must be 1..100,000")
    return args


@dataclass
class Row:
    case: str
    server: str
    runs: list[eapol.Run] = field(default_factory=list)
    note: str = ""
    pause: float = 0.0  # seconds of eapol_test's pauses per authentication

    def median(self, name: str) -> float | None:
        values = [getattr(run, name) for run in self.runs]
        present = [v for v in values if v is not None]
        return statistics.median(present) if present else None

    def total(self, name: str) -> int:
        return sum(getattr(run, name) for run in self.runs)


def header(args: argparse.Namespace, pinned: tuple[int, int] | None) -> str:
    return report.header(
        "userman's PEAP beside FreeRADIUS",
        f"PEAPv0/EAP-MSCHAPv2 over TLS 1.2, {args.users:,} users in turn; eapol_test "
        f"processes, each one conversation: peap, {args.concurrency} at a time, each 1 "
        f"authentication; peap-resumed, {args.resumed_concurrency} at a time, each 1 + "
        f"{args.reauths} re-authentications offering to resume (after a 100 ms pause each); "
        f"new ones begun for {args.seconds:g} s; median of {args.runs} run(s)",
        pinned=pinned,
        generator="eapol_test",
        software=f"FreeRADIUS {freeradius.version()}; {eapol.version()}",
        servers=(
            "Servers (both on the server's core, measured one at a time, each case on each in "
            "turn; the same users, router, certificate and CA):"
        ),
        described=[(LABELS[key], DESCRIPTIONS[key]) for key in args.servers],
    )


def provision_userman(args: argparse.Namespace, folder: Path) -> tuple[str, str | None]:
    """The database, its certificates, and the PEM files FreeRADIUS and the peers need."""
    say(f"userman import of {args.users:,} users ...")
    url, seconds, why = userman_setup.provision(folder, args.users, limit=args.start_limit)
    if why:
        return url, why
    say(f"userman import: {seconds:.1f} s; certificates ...")

    def run(*words: str) -> str:
        done = subprocess.run(
            userman_setup.userman(url, *words),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=args.start_limit,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"`userman {' '.join(words)}` failed: {done.stderr.strip()}")
        return done.stdout

    try:
        for command in CERTIFICATES:
            run("certificate", *command)
        run("database", "set", "certificate=radius")
        (folder / "ca.pem").write_text(run("certificate", "export", "bench-ca"))
        (folder / "server.pem").write_text(run("certificate", "export", "radius", "include-key"))
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        return url, str(error)
    (folder / "server.pem").chmod(0o600)
    return url, None


def start_servers(
    args: argparse.Namespace, folder: Path, url: str, pinned: tuple[int, int] | None
) -> tuple[dict[str, Server], dict[str, str]]:
    core = pinned[1] if pinned else None
    servers: dict[str, Server] = {}
    failed: dict[str, str] = {}
    for key in args.servers:
        auth, acct = free_port(), free_port()
        logs: list[Path] = []
        if key == "userman":
            argv = userman_setup.serve(url, auth, acct)
        else:
            why = freeradius.install(folder / "apt-get.log")
            if why:
                failed[key] = why
                continue
            try:
                confdir = freeradius_eap.configure(
                    folder,
                    args.users,
                    auth,
                    acct,
                    server_pem=folder / "server.pem",
                    ca_pem=folder / "ca.pem",
                )
            except (OSError, RuntimeError) as error:
                failed[key] = f"cannot configure FreeRADIUS: {error}"
                continue
            argv = freeradius.command(confdir)
            logs = [freeradius.log_file(confdir)]
        server, why = start(
            LABELS[key],
            argv,
            core=core,
            log=folder / f"{key}.out",
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


def run_cases(
    args: argparse.Namespace,
    folder: Path,
    *,
    servers: dict[str, Server],
    failed: dict[str, str],
    confs: list[Path],
    pinned: tuple[int, int] | None,
) -> dict[tuple[str, str], Row]:
    rows: dict[tuple[str, str], Row] = {}
    for case in args.cases:
        resuming = case == "peap-resumed"
        reauths = args.reauths if resuming else 0
        concurrency = args.resumed_concurrency if resuming else args.concurrency
        working: dict[str, Server] = {}
        for key in args.servers:
            row = rows[case, key] = Row(case, key, note=failed.get(key, ""))
            row.pause = eapol.REAUTH_PAUSE * reauths / (1 + reauths)
            server = servers.get(key)
            if server is None:
                continue
            # Unmeasured: one conversation, which must succeed for the case to be measured.
            first = eapol.converse(confs[0], server, reauths, args.limit)
            if first.failed or first.mismatched:
                kept = folder / f"warmup-{case}-{key}.txt"
                kept.write_text(first.output)
                row.note = f"the first conversation failed ({kept.name}): {first.summary()}"
                say(f"{CASE_NAMES[case]}, {LABELS[key]}: {row.note}")
                continue
            working[key] = server
        for run in range(args.runs):
            for key, server in working.items():
                row = rows[case, key]
                if not server.alive():
                    row.note = row.note or f"the server exited: {server.log_tail(2)}"
                    continue
                m = eapol.drive(
                    server,
                    confs,
                    reauths=reauths,
                    concurrency=concurrency,
                    seconds=args.seconds,
                    limit=args.limit,
                    cores=pinned,
                    keep=folder / f"failed-{case}-{key}-{run}",
                )
                row.runs.append(m)
                share = m.resumed_share
                say(
                    f"{CASE_NAMES[case]} run {run + 1}/{args.runs}, {LABELS[key]}: "
                    f"{m.rate:,.1f}/s, {m.failed} failed, resumed "
                    f"{'-' if share is None else f'{share:.0%}'}, "
                    f"CPU {(m.cpu or 0) * 1000:.1f} ms/auth"
                )
    return rows


HEADINGS = (
    "case",
    "server",
    "auth/s",
    "vs FreeRADIUS",
    "1 core: auth/s",
    "vs FR",
    "resumed",
    "CPU ms/auth",
    "CPU vs FR",
    "s/auth p50",
    "RSS MiB (peak)",
    "failed",
    "gen busy",
)


GENERATOR_BOUND = 0.85  # eapol_test's core this busy: the rate is its ceiling
PAUSE_BOUND = 1.25  # a conversation this close to its pauses: the rate is the load's


def bounded(row: Row) -> bool:
    """Whether `row`'s rate is the load's ceiling (the server's is at least that): eapol_test's
    core was busy, or its conversations took little more than their pauses."""
    per = row.median("per_auth")
    paused = row.pause > 0 and per is not None and per <= PAUSE_BOUND * row.pause
    return paused or (row.median("generator_busy") or 0) >= GENERATOR_BOUND


def _ratio(mine: float | None, theirs: float | None) -> str:
    return "-" if mine is None or not theirs else f"{mine / theirs:.3g}x"


def _cells(rows: dict[tuple[str, str], Row], row: Row) -> list[str]:
    name = CASE_NAMES[row.case]
    if not row.runs:
        return [name, LABELS[row.server], "not run", *[""] * (len(HEADINGS) - 3)]
    rate, cpu = row.median("rate"), row.median("cpu")
    share = row.median("resumed_share")
    versus = versus_cpu = versus_core = ""
    other = rows.get((row.case, "freeradius"))
    if row.server == "userman" and other is not None:
        versus = _ratio(rate, other.median("rate"))
        if versus != "-" and bounded(other):
            versus = "<=" + versus
        versus_cpu = _ratio(cpu, other.median("cpu"))
        theirs = other.median("cpu")
        versus_core = _ratio(theirs, cpu) if theirs else "-"
    per, busy = row.median("per_auth"), row.median("generator_busy")
    last = row.runs[-1]
    bad = row.total("failed") + row.total("mismatched")
    flag = " !" if bad or not all(run.alive for run in row.runs) else ""
    return [
        name,
        LABELS[row.server] + flag,
        f"{rate or 0:,.1f}" + ("*" if bounded(row) else ""),
        versus,
        "-" if not cpu else f"{1 / cpu:,.0f}",
        versus_core,
        "-" if share is None else f"{share:.0%}",
        "-" if cpu is None else f"{cpu * 1000:.2f}",
        versus_cpu,
        "-" if per is None else f"{per:.3f}",
        f"{last.rss / (1 << 20):,.0f} ({last.hwm / (1 << 20):,.0f})",
        f"{bad:,}",
        "-" if busy is None else f"{busy:.0%}",
    ]


def _notes(row: Row) -> list[str]:
    where = f"{CASE_NAMES[row.case]}, {LABELS[row.server]}"
    notes = []
    failed, mismatched = row.total("failed"), row.total("mismatched")
    if failed or mismatched:
        notes.append(
            f"! {where}: {failed:,} authentications failed, {mismatched:,} Accepts with MPPE "
            "keys other than the peer's; for example:"
        )
        notes += [f"    {text[:600]}" for run in row.runs for text in run.failures][:3]
    share = row.median("resumed_share")
    if row.case == "peap-resumed" and share is not None and share < 0.5:
        offered = row.total("handshakes") - row.total("conversations")
        notes.append(
            f"! {where}: resumed {row.total('resumed'):,} of the {offered:,} handshakes where "
            "the peer offered its previous session (the id of the ServerHello before): each "
            "re-authentication was a full handshake"
        )
    if any(not run.alive for run in row.runs):
        notes.append(f"! {where}: the server exited during the runs")
    if row.note:
        notes.append(f"  {where}: {row.note}")
    return notes


def table(rows: dict[tuple[str, str], Row], cases: Sequence[str]) -> str:
    lines = [_cells(rows, row) for case in cases for (c, _), row in rows.items() if c == case]
    notes = [
        note for case in cases for (c, _), row in rows.items() if c == case for note in _notes(row)
    ]
    return "\n".join(
        [
            *report.grid(HEADINGS, lines),
            "auth/s: successful authentications (EAP-Success in an Access-Accept) per second, "
            "median of the runs (*: the load's ceiling, the server's is higher, and a ratio to it, "
            "<=, is at most that: eapol_test's core was busy 85 % of the time or more, or its "
            "conversations took at most 1.25 times the 100 ms pause before each "
            "re-authentication); "
            "vs FreeRADIUS: userman's / FreeRADIUS's in the same case; 1 core: the rate that "
            "would fill the server's core at the CPU it used per authentication (1 / CPU), "
            "independent of the load's ceiling, and its ratio; "
            "resumed: the share of TLS handshakes that resumed a session (eapol_test's "
            "`resumed=1`); CPU: the server's utime + stime per successful authentication; "
            "s/auth p50: a conversation's time over its authentications; failed: "
            "authentications that did not succeed plus Accepts whose MPPE keys differ from "
            "the peer's, summed over the runs; gen busy: the share of eapol_test's core that "
            "this script and its eapol_test processes used (near 100 %: the rate is theirs, "
            "not the server's)",
            *notes,
            report.noise((run for row in rows.values() for run in row.runs), "eapol_test's"),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    pinned = cores()
    folder = Path(tempfile.mkdtemp(prefix="userman-bench-eap-"))
    servers: dict[str, Server] = {}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        intro = header(args, pinned)
        say(f"working in {folder}")
        url, why = provision_userman(args, folder)
        if why:
            print(intro, "", f"not run: userman could not be provisioned: {why}", sep="\n")
            return 0
        confs = [eapol.peer_conf(folder, n, folder / "ca.pem") for n in range(args.users)]
        servers, failed = start_servers(args, folder, url, pinned)
        if pinned:
            os.sched_setaffinity(0, {pinned[0]})  # eapol_test inherits it
        rows = run_cases(args, folder, servers=servers, failed=failed, confs=confs, pinned=pinned)
        for server in servers.values():
            server.stop()
        print(intro, "", table(rows, args.cases), sep="\n", flush=True)
        if args.json:
            dump = {
                "header": intro,
                "rows": [
                    {**asdict(row), "rates": [run.rate for run in row.runs]}
                    for row in rows.values()
                ],
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
