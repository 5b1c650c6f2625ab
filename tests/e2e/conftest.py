"""A real `userman serve` on free loopback ports, configured with the real CLI, for e2e tests."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import require_program

STARTUP_SECONDS = 20


def userman(db_url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the `userman` command as an operator would, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "userman", "--db", db_url, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    db_url: str
    auth_port: int
    acct_port: int
    process: subprocess.Popen[str]

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return userman(self.db_url, *args, check=check)

    def json(self, *args: str) -> list[dict[str, object]]:
        result: list[dict[str, object]] = json.loads(self.cli("--json", *args).stdout)
        return result


def start_server(db_url: str) -> Server:
    auth_port, acct_port = free_udp_port(), free_udp_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "userman",
            "--db",
            db_url,
            "serve",
            "--bind",
            "127.0.0.1",
            "--auth-port",
            str(auth_port),
            "--acct-port",
            str(acct_port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + STARTUP_SECONDS
    seen = []
    while time.monotonic() < deadline:
        if not selector.select(timeout=deadline - time.monotonic()):
            break
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if re.search(r"listening on", line):
            return Server(db_url, auth_port, acct_port, process)
    process.kill()
    raise RuntimeError("userman serve did not start:\n" + "".join(seen))


def stop_server(server: Server) -> None:
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def radclient() -> str:
    return require_program("radclient")


@pytest.fixture(scope="module")
def manual_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server configured with the manual's configuration example, exactly as written there."""
    db_url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'userman.db'}"
    for line in (
        "customer set admin password=adminpassword",
        "customer set admin access=own-routers,own-users,own-profiles,own-limits,config-payment-gw",
        "profile add name=profile1",
        "router add customer=admin ip-address=127.0.0.1 log=auth-fail name=router1 "
        "shared-secret=12345",
        "user add customer=admin disabled=no password=test shared-users=1 username=test",
        "user create-and-activate-profile test customer=admin profile=profile1",
    ):
        userman(db_url, *line.split())
    server = start_server(db_url)
    yield server
    stop_server(server)
    assert server.process.returncode == 0, "userman serve did not stop cleanly on SIGTERM"


def radclient_send(
    radclient: str, server: Server, kind: str, attributes: str, secret: str = "12345"
) -> subprocess.CompletedProcess[str]:
    """Send one request with FreeRADIUS's radclient; `kind` is auth, acct or status."""
    port = server.acct_port if kind == "acct" else server.auth_port
    return subprocess.run(
        [radclient, "-x", "-r", "2", "-t", "3", f"127.0.0.1:{port}", kind, secret],
        input=attributes,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "LC_ALL": "C"},
        check=False,
    )


__all__ = ["Path", "Server", "radclient_send", "start_server", "stop_server", "userman"]
