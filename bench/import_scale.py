"""How long `userman import` takes for an operator's whole export: users and their profiles.

    uv run python bench/import_scale.py [--users 10000 100000] [--limit 120]

For each count, writes the script `userman export --show-sensitive` writes for that many users
(a router, a profile, its limitation, and per user an `add` line under `user` and one under
`user-profile` with its state and times), imports it into a fresh SQLite database with
`userman import` in a process of its own, and prints the wall time, the CPU time of that
process (on a shared machine, the part that is the import's own), the wall time per line and
the users per second. It measures; it asserts nothing. A run that outlasts `--limit` seconds is
stopped and printed as such.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from population import RATE_LIMIT_RX, RATE_LIMIT_TX, ROUTER_ADDRESS, SECRET, password, user_name

PROFILE = "bench"
ASSIGNED = '"dec/05/2026 21:04:11"'


def export_lines(users: int) -> Iterator[str]:
    """The lines `userman export --show-sensitive` writes for `users` users, each with a
    running profile (tests/bench/test_import_scale.py imports and exports it back)."""
    yield "/tool user-manager router\n"
    yield (
        f"add name=bench customer=admin ip-address={ROUTER_ADDRESS} "
        f"shared-secret={SECRET.decode()} require-message-authenticator=yes\n"
    )
    yield "/tool user-manager profile\n"
    yield f"add name={PROFILE} owner=admin starts-at=now\n"
    yield "/tool user-manager profile limitation\n"
    yield (
        f"add name={PROFILE} owner=admin "
        f"rate-limit-rx={RATE_LIMIT_RX} rate-limit-tx={RATE_LIMIT_TX}\n"
    )
    yield "/tool user-manager profile profile-limitation\n"
    yield f"add profile={PROFILE} limitation={PROFILE}\n"
    yield "/tool user-manager user\n"
    for n in range(users):
        yield f"add username={user_name(n)} customer=admin password={password(n)}\n"
    yield "/tool user-manager user-profile\n"
    for n in range(users):
        yield (
            f"add user={user_name(n)} profile={PROFILE} state=running "
            f"assigned={ASSIGNED} start-time={ASSIGNED}\n"
        )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def import_seconds(folder: Path, users: int, limit: float) -> tuple[float, float, int, str | None]:
    """(wall seconds, CPU seconds, lines, None) for importing `users` users into a fresh
    database, or the reason it did not finish in place of None."""
    script = folder / f"export-{users}.rsc"
    with script.open("w") as out:
        out.writelines(export_lines(users))
    lines = sum(1 for _ in script.open())
    database = folder / f"import-{users}.db"
    command = [sys.executable, "-m", "userman", "--db", f"sqlite:///{database}"]
    # The schema and the default customer first, so that the figure is the import's own.
    subprocess.run([*command, "customer", "print", "count-only"], check=True, capture_output=True)
    began, cpu = time.monotonic(), _children_cpu()
    try:
        done = subprocess.run(
            [*command, "import", str(script)],
            capture_output=True,
            text=True,
            timeout=limit,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return time.monotonic() - began, 0.0, lines, f"outlasted {limit:.0f} s"
    seconds, cpu = time.monotonic() - began, _children_cpu() - cpu
    if done.returncode != 0:
        return seconds, cpu, lines, done.stderr.strip().splitlines()[-1]
    return seconds, cpu, lines, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--limit", type=float, default=120.0, help="seconds per import")
    args = parser.parse_args()
    print(f"{'users':>9} {'lines':>9} {'seconds':>8} {'CPU s':>7} {'ms/line':>8} {'users/s':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for users in args.users:
            seconds, cpu, lines, failed = import_seconds(Path(folder), users, args.limit)
            if failed is not None:
                print(f"{users:>9} {lines:>9} {seconds:>8.1f}  not done: {failed}", flush=True)
                continue
            per_line = seconds * 1000 / lines
            print(
                f"{users:>9} {lines:>9} {seconds:>8.1f} {cpu:>7.1f} {per_line:>8.3f} "
                f"{users / seconds:>8.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
