"""A real `userman serve` on free loopback ports and the real CLI, for the end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from userman.radius.dictionary import default_dictionary
from userman.radius.packet import Code, build, encode

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


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    db_url: str
    auth_port: int
    acct_port: int
    process: subprocess.Popen[bytes]
    http_port: int = 0  # the web interface and the REST API

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return userman(self.db_url, *args, check=check)

    def json(self, *args: str) -> list[dict[str, object]]:
        result: list[dict[str, object]] = json.loads(self.cli("--json", *args).stdout)
        return result


def start_server(db_url: str, log_path: Path, *options: str) -> Server:
    """Start `userman serve` on free loopback ports; its log goes to `log_path`."""
    auth_port, acct_port, http_port = free_udp_port(), free_udp_port(), free_tcp_port()
    with log_path.open("w") as log:
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
                "--http-port",
                str(http_port),
                *options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        if "listening on" in log_path.read_text():
            return Server(db_url, auth_port, acct_port, process, http_port)
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise RuntimeError("userman serve did not start:\n" + log_path.read_text())


def stop_server(server: Server) -> None:
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def radclient_send(  # noqa: PLR0917 - radclient's own arguments
    radclient: str,
    server: Server,
    kind: str,
    attributes: str,
    secret: str = "12345",
    wait: float = 3,
    *,
    sign: bool = True,
    tries: int = 2,
) -> subprocess.CompletedProcess[str]:
    """Send one request with FreeRADIUS's radclient; `kind` is auth, acct or status. It tries
    `tries` times, waiting `wait` seconds for each answer.

    With `sign`, an Access-Request or Status-Server carries a Message-Authenticator, as a router
    added with require-message-authenticator=yes (the default) must send it: radclient does not
    add one unless told to, and `Message-Authenticator = 0x00` tells it to compute it."""
    port = server.acct_port if kind == "acct" else server.auth_port
    if sign and kind in {"auth", "status"} and "message-authenticator" not in attributes.lower():
        attributes = ",".join(filter(None, (attributes, "Message-Authenticator=0x00")))
    return subprocess.run(
        [radclient, "-x", "-r", str(tries), "-t", str(wait), f"127.0.0.1:{port}", kind, secret],
        input=attributes,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "LC_ALL": "C"},
        check=False,
    )


def send_start(port: int, username: str = "test", session: str = "e2e1") -> None:
    """An Accounting-Start (secret 12345) to a served accounting port, answered."""
    attributes = [
        ("User-Name", username),
        ("Acct-Session-Id", session),
        ("Acct-Status-Type", "Start"),
    ]
    packet = build(default_dictionary(), Code.ACCOUNTING_REQUEST, 1, bytes(16), attributes)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(encode(packet, b"12345"), ("127.0.0.1", port))
        assert sock.recv(4096)[0] == Code.ACCOUNTING_RESPONSE
