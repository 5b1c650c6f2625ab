"""CLI commands answered by a running `userman serve` through its control socket (cli/remote.py):
the same output, exit status, permissions and history as running them in the CLI's own
process, without loading the database layer there."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from served import Server, start_server, stop_server, through_socket, userman

pytestmark = pytest.mark.e2e


def forwarded(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return through_socket("--db", server.db_url, *args)


def here(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "userman", "--db", server.db_url, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "USERMAN_CONTROL": "off"},
    )


def socket_of(server: Server) -> Path:
    return Path(server.db_url.removeprefix("sqlite:///") + ".sock")


def test_a_command_is_answered_by_the_running_server(manual_server: Server) -> None:
    added = forwarded(manual_server, "user", "add", "customer=admin", "username=viasocket")
    assert (added.returncode, added.stderr) == (0, "")
    printed = forwarded(manual_server, "--json", "user", "print", "where", "username=viasocket")
    assert [user["username"] for user in json.loads(printed.stdout)] == ["viasocket"]
    # One history entry, as from any other process.
    history = here(manual_server, "history", "print", "terse")
    assert "UMS user viasocket added" in history.stdout


@pytest.mark.parametrize(
    "line",
    [
        "user print",
        "user print count-only",
        "user print detail where username~^te",
        "user set test nosuchproperty=1",
        "user set nosuchuser shared-users=2",
        "profile add name=profile1",
        "router print terse",
        "session print",
    ],
)
def test_the_server_prints_what_the_cli_prints(manual_server: Server, line: str) -> None:
    mine, theirs = here(manual_server, *line.split()), forwarded(manual_server, *line.split())
    assert (theirs.returncode, theirs.stdout, theirs.stderr) == (
        mine.returncode,
        mine.stdout,
        mine.stderr,
    )


def test_the_actor_and_its_permissions_travel_with_the_command(manual_server: Server) -> None:
    userman(
        manual_server.db_url,
        "customer",
        "add",
        "login=reader",
        "parent=admin",
        "permissions=read-only",
    )
    refused = forwarded(manual_server, "--as", "reader", "user", "remove", "test")
    assert refused.returncode == 1
    assert refused.stderr.startswith("failure: ")
    assert "test" in here(manual_server, "user", "print").stdout
    unknown = forwarded(manual_server, "--as=nobody", "user", "print")
    assert (unknown.returncode, unknown.stderr) == (1, "failure: customer: no such item (nobody)\n")


def test_a_usage_error_is_explained_by_the_cli_itself(manual_server: Server) -> None:
    # The server declines it; the client falls back and click explains, as without a server.
    result = subprocess.run(
        [sys.executable, "-m", "userman", "--db", manual_server.db_url, "user"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "say what to do with user" in result.stderr


def test_long_commands_report_progress(manual_server: Server) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(30)
        client.connect(str(socket_of(manual_server)))
        request = {
            "argv": ["user", "add-batch-users", "number-of-users=60", "username-prefix=pg"],
            "db": manual_server.db_url,
            "as": None,
            "json": False,
        }
        client.sendall(json.dumps(request).encode() + b"\n")
        messages = [json.loads(line) for line in client.makefile("rb")]
    progress = [message["progress"] for message in messages[:-1]]
    assert progress
    assert progress[-1] == [60, 60]
    assert messages[-1]["code"] == 0


def test_another_database_is_not_served_here(manual_server: Server, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "userman", "--db", other, "user", "print", "count-only"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "USERMAN_CONTROL": str(socket_of(manual_server))},
    )
    assert (result.returncode, result.stdout) == (0, "0\n")


def test_the_socket_is_private_and_gone_when_the_server_stops(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'userman.db'}"
    userman(db_url, "user", "print")
    path = Path(f"{tmp_path / 'userman.db'}.sock")
    path.touch()  # whatever a crashed server left there is replaced
    server = start_server(db_url, tmp_path / "serve.log")
    try:
        assert stat.S_ISSOCK(path.stat().st_mode)
        assert path.stat().st_mode & 0o777 == 0o600
        assert forwarded(server, "user", "print", "count-only").stdout == "0\n"
    finally:
        stop_server(server)
    assert server.process.returncode == 0
    assert not path.exists()
    # Said in the server's log, with its time, before it listens.
    log = (tmp_path / "serve.log").read_text()
    assert re.search(
        rf"^\S+ \S+ INFO CLI commands are answered on {re.escape(str(path))}$", log, re.M
    )
