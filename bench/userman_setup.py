"""userman beside FreeRADIUS: a fresh SQLite database provisioned as an operator would, with
`userman import` of a RouterOS script, and the `userman serve` command line that answers it.

The script: one router (127.0.0.1, Message-Authenticator required, as FreeRADIUS's client is),
one profile that starts at once with one limitation (rate-limit-rx/tx, hence the same
Mikrotik-Rate-Limit FreeRADIUS replies), and every user added and given that profile with
`create-and-activate-profile`, so each has a running profile.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from population import (
    RATE_LIMIT_RX,
    RATE_LIMIT_TX,
    ROUTER_ADDRESS,
    SECRET,
    password,
    user_name,
)

PROFILE = "bench"


def script_lines(users: int) -> Iterator[str]:
    """The RouterOS script for `users` users, line by line."""
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
    for n in range(users):
        yield f"create-and-activate-profile {user_name(n)} customer=admin profile={PROFILE}\n"


def userman(db_url: str, *args: str) -> list[str]:
    """The `userman` command line, run with this interpreter (the project's environment)."""
    return [sys.executable, "-m", "userman", "--db", db_url, *args]


def provision(folder: Path, users: int, *, limit: float) -> tuple[str, float, str | None]:
    """A database with `users` users, through `userman import`: (its URL, the import's
    seconds, None) or, when the import fails or outlasts `limit` seconds, the reason."""
    url = f"sqlite:///{folder / f'userman-{users}.db'}"
    seconds, why = provision_into(url, folder, users, limit=limit)
    return url, seconds, why


def provision_into(url: str, folder: Path, users: int, *, limit: float) -> tuple[float, str | None]:
    """`users` users imported into the database at `url` (an empty PostgreSQL database, or a
    SQLite file to make), the script and log in `folder`: (the import's seconds, None) or,
    when the import fails or outlasts `limit` seconds, the reason."""
    script = folder / f"userman-{users}.rsc"
    with script.open("w") as out:
        out.writelines(script_lines(users))
    log = folder / f"userman-import-{users}.log"
    began = time.monotonic()
    with log.open("wb") as out:
        try:
            done = subprocess.run(
                userman(url, "import", str(script)),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=limit,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return time.monotonic() - began, f"`userman import` outlasted {limit:.0f} s"
    seconds = time.monotonic() - began
    if done.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:]
        return seconds, f"`userman import` failed: {' '.join(tail)}"
    return seconds, None


def serve(db_url: str, auth_port: int, acct_port: int) -> list[str]:
    """`userman serve` on loopback, RADIUS only (no web port), 5 min interim interval."""
    return userman(
        db_url,
        "serve",
        "--bind",
        "127.0.0.1",
        "--auth-port",
        str(auth_port),
        "--acct-port",
        str(acct_port),
        "--http-port",
        "0",
        "--interim-interval",
        "5m",
    )
