"""A real `userman serve` decides from its policy in memory: what another process changes in the
database is in effect for its next requests once its watcher reads the change log (every
0.2 s), and what goes through its own control socket at once."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from prepared import copy_sqlite
from served import (
    Server,
    configure,
    radclient_send,
    run_userman,
    start_server,
    stop_server,
)


@pytest.fixture
def server(tmp_path: Path, sqlite_template: Path) -> Iterator[Server]:
    db_url = copy_sqlite(sqlite_template, tmp_path / "userman.db")
    configure(
        db_url,
        "router add ip-address=127.0.0.1 name=router1 shared-secret=12345",
        "profile add name=profile1",
        "user add username=test password=test",
        "user create-and-activate-profile test profile=profile1",
    )
    running = start_server(db_url, tmp_path / "serve.log")
    yield running
    stop_server(running)


def answer(radclient: str, server: Server, password: str) -> str:
    result = radclient_send(
        radclient, server, "auth", f"User-Name=test,User-Password={password}", wait=1
    )
    match = re.search(r"Received (\S+)", result.stdout)
    return match.group(1) if match else "nothing"


def elsewhere(server: Server, *args: str) -> None:
    """A command run by another process straight on the database (not through the server's
    control socket), as another node or an operator's script would."""
    env = {**os.environ, "USERMAN_CONTROL": "off"}
    result = run_userman("--db", server.db_url, *args, env=env)
    assert result.returncode == 0, result.stderr


def until(radclient: str, server: Server, password: str, expected: str) -> None:
    """Ask until the answer is `expected` (up to 20 s: a bound, not a measure)."""
    deadline = time.monotonic() + 20
    while (got := answer(radclient, server, password)) != expected:
        assert time.monotonic() < deadline, f"still {got}"
        time.sleep(0.05)


def test_a_change_by_another_process_is_read_from_the_change_log(
    radclient: str, server: Server
) -> None:
    assert answer(radclient, server, "test") == "Access-Accept"
    elsewhere(server, "user", "set", "test", "password=other")
    until(radclient, server, "other", "Access-Accept")
    assert answer(radclient, server, "test") == "Access-Reject"
    elsewhere(server, "user", "disable", "test")
    until(radclient, server, "other", "Access-Reject")
    elsewhere(server, "user", "enable", "test")
    until(radclient, server, "other", "Access-Accept")


def test_a_change_through_the_control_socket_is_in_effect_at_once(
    radclient: str, server: Server
) -> None:
    """The command runs in the server's process, which reads the change as it commits: the
    very next request sees it, with no wait."""
    server.cli("user", "set", "test", "password=next")
    assert answer(radclient, server, "next") == "Access-Accept"
    server.cli("profile", "set", "profile1", "validity=1s")
    server.cli("user", "remove", "test")
    assert answer(radclient, server, "next") == "Access-Reject"


def test_the_policy_is_in_memory_before_any_port_is_open(
    radclient: str, server: Server, tmp_path: Path
) -> None:
    """No request is decided by the database for want of the policy: serve reads it before
    it opens its ports (server/main.py), and says so in that order."""
    log = (tmp_path / "serve.log").read_text()
    assert "policy in memory: 1 users" in log
    assert log.index("policy in memory") < log.index("listening on")
    assert answer(radclient, server, "test") == "Access-Accept"
