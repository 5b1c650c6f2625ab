"""A real `userman serve` and the real CLI in another process: a router the CLI changes is in
effect for the server's next requests (its snapshot cache checks the routers every 0.2 s)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from prepared import copy_sqlite
from served import Server, configure, radclient_send, start_server, stop_server


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "serve.log"


@pytest.fixture
def server(tmp_path: Path, log_path: Path, sqlite_template: Path) -> Iterator[Server]:
    db_url = copy_sqlite(sqlite_template, tmp_path / "userman.db")
    configure(
        db_url,
        "router add ip-address=127.0.0.1 name=router1 shared-secret=12345",
        "profile add name=profile1",
        "user add username=test password=test",
        "user create-and-activate-profile test profile=profile1",
    )
    running = start_server(db_url, log_path)
    yield running
    stop_server(running)


def answer(radclient: str, server: Server, secret: str) -> str:
    """What the server answers an Access-Request signed with `secret` (two tries, 1 s each)."""
    result = radclient_send(
        radclient, server, "auth", "User-Name=test,User-Password=test", secret, wait=1
    )
    match = re.search(r"Received (\S+)", result.stdout)
    return match.group(1) if match else "nothing"


def change(server: Server, log_path: Path, *args: str) -> None:
    """Run a CLI command, then wait (up to 20 s, asserting no time) until the server logs the
    new snapshot it loaded: from then on, its requests see the change."""
    before = log_path.read_text().count("router snapshot:")
    server.cli(*args)
    deadline = time.monotonic() + 20
    while log_path.read_text().count("router snapshot:") == before:
        assert time.monotonic() < deadline, "the server did not load the changed routers"
        time.sleep(0.02)


def test_a_router_changed_by_the_cli_is_in_effect_for_the_server(
    radclient: str, server: Server, log_path: Path
) -> None:
    assert answer(radclient, server, "12345") == "Access-Accept"
    change(server, log_path, "router", "set", "router1", "shared-secret=changed")
    assert answer(radclient, server, "changed") == "Access-Accept"
    assert answer(radclient, server, "12345") == "nothing"
    change(server, log_path, "router", "disable", "router1")
    assert answer(radclient, server, "changed") == "nothing"
    change(server, log_path, "router", "enable", "router1")
    assert answer(radclient, server, "changed") == "Access-Accept"
