"""userman on PostgreSQL: one node beside three nodes (127.0.0.2-4) on the same database.

    uv run python bench/nodes.py [--users 60000] [--seconds 5] [--in-flight 48]
        [--cases pap,accounting,pap-limited] [--claims 300]

Provisions `--users` users (bench/userman_setup.py's RouterOS script, `userman import`) into a
fresh PostgreSQL database on 127.0.0.1:5432 ($USERMAN_TEST_POSTGRES: the admin URL), starts one
`userman serve` on 127.0.0.2, runs each case against it with bench/loadgen.py, then starts two
more nodes (127.0.0.3, .4) and runs each case again with one load generator process per node,
`--in-flight` requests split between them. `pap-limited` is PAP with every user at
shared-users=1 (set in SQL for the case, back to unlimited after): each log-on claims the
user's one place (in memory on one node alone, in the database with peers), and no Start
follows, so each user is logged on once per case, users of their own in each run (a user
asked twice is rejected: its claim holds, and is counted as `bad`). Throughput is the sum
of the generators' answers over the window; p99 is over every answer. Then it times a
shared-users claim both ways (store/claims.py): the advisory lock with insert-then-count, and
a conditional INSERT ... SELECT alone, two threads racing for one place of one user each
round, and counts the rounds in which both passed. Everything on this machine's cores:
servers, PostgreSQL and generators share them. It measures and prints; it asserts nothing.
Every wait is bounded; the database is dropped.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import userman_setup
from flows import AccountingSessions, Flow, SteadyAccess, shuffled
from loadgen import drive, status_server
from packets import AccessRequests, AccountingRequests

ADMIN = os.environ.get("USERMAN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
NODES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
PORTS = (41812, 41813)  # the same on every node: each node has its own address


def start_node(url: str, address: str, folder: Path) -> subprocess.Popen[bytes]:
    log = (folder / f"serve-{address}.log").open("wb")
    argv = userman_setup.userman(
        url, "serve", "--bind", address, "--auth-port", str(PORTS[0]),
        "--acct-port", str(PORTS[1]), "--http-port", "0", "--interim-interval", "0",
    )  # fmt: skip
    env = {**os.environ, "USERMAN_CONTROL": "off"}
    process = subprocess.Popen(argv, stdout=log, stderr=log, cwd=folder, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if status_server((address, PORTS[0]), wait=0.5):
            return process
        if process.poll() is not None:
            break
    process.kill()
    raise SystemExit(f"the node on {address} did not start: see {log.name}")


def flow(case: str, users: int, part: int, span: range) -> Flow:
    order = shuffled(users, seed=part + 1)
    if case == "accounting":
        return AccountingSessions(AccountingRequests(), order, open_sessions=64)
    if case == "pap-limited":  # each user once: a slice of its own
        return SteadyAccess(AccessRequests("pap", users), [order[n] for n in span])
    return SteadyAccess(AccessRequests(case, users), order)


def _drive(
    args: tuple[str, str, int, int, float, int, range],
) -> tuple[int, float, list[float], int]:
    case, address, users, in_flight, seconds, part, span = args
    result = drive(
        flow(case, users, part, span),
        [(address, PORTS[0]), (address, PORTS[1])],
        in_flight=in_flight,
        seconds=seconds,
        warmup=1.0,
    )
    return (
        result.answered,
        result.window,
        result.latencies,
        result.timeouts + sum(result.wrong.values()),
    )


def measure(
    case: str, nodes: int, users: int, in_flight: int, *, seconds: float, span: range
) -> dict[str, Any]:
    """One case against `nodes` nodes; `span`: the users (positions in one shuffled order)
    that pap-limited may log on, split between the generators."""
    each = max(1, in_flight // nodes)
    step = len(span) // nodes
    jobs = [
        (case, NODES[n], users, each, seconds, 0, span[n * step : (n + 1) * step])
        for n in range(nodes)
    ]
    with multiprocessing.Pool(nodes) as pool:
        results = pool.map(_drive, jobs)
    latencies = sorted(x for _, _, lat, _ in results for x in lat)
    rate = sum(answered / window for answered, window, _, _ in results if window > 0)
    p99 = latencies[int(len(latencies) * 0.99)] if latencies else None
    bad = sum(r[3] for r in results)
    return {"rate": rate, "p99": p99, "bad": bad}


def race_claims(url: str, rounds: int) -> None:
    """Two threads claim the one place of a user at once, `rounds` times, each way."""
    with psycopg.connect(url, autocommit=True) as db:
        user_id = db.execute('SELECT min(id) FROM "user"').fetchone()[0]  # type: ignore[index]
    locked = (
        "SELECT pg_advisory_xact_lock(1970470913, %(u)s);"
        " INSERT INTO session_claim (user_id, created) VALUES (%(u)s, now());"
    )
    counted = (
        "SELECT (SELECT count(*) FROM session WHERE user_id = %(u)s AND active)"
        " + (SELECT count(*) FROM session_claim WHERE user_id = %(u)s)"
    )
    conditional = (
        "INSERT INTO session_claim (user_id, created) SELECT %(u)s, now() WHERE"
        " (SELECT count(*) FROM session WHERE user_id = %(u)s AND active)"
        " + (SELECT count(*) FROM session_claim WHERE user_id = %(u)s) < 1"
    )

    def claim(way: str, db: psycopg.Connection[Any]) -> bool:
        with db.transaction():
            if way == "advisory lock":
                for statement in locked.split(";")[:2]:
                    db.execute(statement, {"u": user_id})
                held = db.execute(counted, {"u": user_id}).fetchone()[0]  # type: ignore[index]
                if held > 1:
                    raise _Over
                return True
            return db.execute(conditional, {"u": user_id}).rowcount == 1

    for way in ("advisory lock", "conditional insert"):
        connections = [psycopg.connect(url) for _ in range(2)]
        both, spent = 0, []
        for _ in range(rounds):
            with psycopg.connect(url, autocommit=True) as db:
                db.execute("DELETE FROM session_claim")
            gate = threading.Barrier(2)
            passed = [False, False]

            threads = [
                threading.Thread(
                    target=_one,
                    args=(claim, way, connections[n], gate),
                    kwargs={"passed": passed, "n": n, "spent": spent},
                )
                for n in range(2)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=10)
            both += all(passed)
        for connection in connections:
            connection.close()
        mean = statistics.mean(spent) * 1000
        print(f"  {way:<20} {mean:6.2f} ms a claim, both passed in {both}/{rounds} rounds")


def _one(
    claim: Any,
    way: str,
    connection: psycopg.Connection[Any],
    gate: threading.Barrier,
    *,
    passed: list[bool],
    n: int,
    spent: list[float],
) -> None:
    """One of the two racing claims of a round."""
    gate.wait(timeout=5)
    began = time.perf_counter()
    try:
        passed[n] = claim(way, connection)
    except _Over:
        passed[n] = False
    spent.append(time.perf_counter() - began)


def _limit(url: str, shared_users: int | None) -> None:
    """Every user's shared-users (None: unlimited), in effect on every node within a second."""
    with psycopg.connect(url, autocommit=True) as db:
        db.execute('UPDATE "user" SET shared_users = %s', (shared_users,))
        db.execute("DELETE FROM session_claim")
    time.sleep(4)  # every node reads the users again (more changes than CHANGE_LIMIT)


class _Over(Exception):
    """More than the limit: the claim's transaction is rolled back."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=60000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--in-flight", type=int, default=48)
    parser.add_argument("--cases", default="pap,accounting,pap-limited")
    parser.add_argument("--claims", type=int, default=300)
    args = parser.parse_args()
    cases = args.cases.split(",")
    name = f"userman_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN.rsplit('/', 1)[0]}/{name}"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="userman-nodes-") as tmp:
            folder = Path(tmp)
            script = folder / "users.rsc"
            script.write_text("".join(userman_setup.script_lines(args.users)))
            subprocess.run(
                userman_setup.userman(url, "import", str(script)),
                check=True, timeout=600, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            print(
                f"{datetime.date.today()}, {platform.node()}, {os.cpu_count()} cores,"
                f" Python {platform.python_version()}, PostgreSQL on 127.0.0.1,"
                f" {args.users:,} users, {args.in_flight} in flight, {args.seconds:.0f} s a case"
            )
            table: dict[tuple[str, int], dict[str, Any]] = {}
            half = args.users // 2  # pap-limited: the first half for one node, then the rest
            for count, span in ((1, range(half)), (3, range(half, args.users))):
                while len(processes) < count:
                    processes.append(start_node(url, NODES[len(processes)], folder))
                for case in cases:
                    if case == "pap-limited":
                        _limit(url, 1)
                    table[case, count] = measure(
                        case, count, args.users, args.in_flight, seconds=args.seconds, span=span
                    )
                    if case == "pap-limited":
                        _limit(url, None)
            print(f"{'case':<12}{'nodes':>6}{'requests/s':>12}{'p99 ms':>9}{'bad':>6}")
            for (case, count), m in table.items():
                p99 = "-" if m["p99"] is None else f"{m['p99'] * 1000:.1f}"
                print(f"{case:<12}{count:>6}{m['rate']:>12,.0f}{p99:>9}{m['bad']:>6}")
            if args.claims:
                print(f"shared-users claims, 2 at once for 1 place, {args.claims} rounds:")
                race_claims(url, args.claims)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
