"""A real `userman serve` on free loopback ports and the real CLI, for the end-to-end tests."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from userman.radius.dictionary import default_dictionary
from userman.radius.packet import Code, build, encode

STARTUP_SECONDS = 20


# The CLI in a process that cannot load SQLAlchemy: only a running server's socket answers it.
NO_DATABASE_LAYER = (
    "import sys; sys.modules['sqlalchemy'] = None; from userman.cli import main; main()"
)


def run_userman(
    *args: str,
    check: bool = False,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    program: tuple[str, ...] = ("-m", "userman"),
) -> subprocess.CompletedProcess[str]:
    """Run the `userman` command as an operator would, in a subprocess, with no input."""
    return subprocess.run(
        [sys.executable, *program, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
        cwd=cwd,
        env=env,
    )


def userman(db_url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`userman --db URL ...`, which must succeed unless `check` is False."""
    return run_userman("--db", db_url, *args, check=check)


def configure(db_url: str, *lines: str, options: Sequence[str] = ()) -> list[str]:
    """Run each `userman` command line (split as a shell would) on `db_url` with the global
    `options`, in this process, and give what each printed; each must succeed. For setting up
    a database before a server serves it: a process of its own per line would cost a second or
    more of CPU each (the CLI's imports), most of an end-to-end module's set-up."""
    from click.testing import CliRunner

    from userman.cli.main import cli

    runner = CliRunner()
    printed: list[str] = []
    for line in lines:
        words = ["--db", db_url, *options, *shlex.split(line)]
        result = runner.invoke(cli, words, env={"USERMAN_CONTROL": "off"}, catch_exceptions=False)
        assert result.exit_code == 0, f"userman {line}: {result.output}"
        printed.append(result.stdout)
    return printed


def through_socket(*args: str) -> subprocess.CompletedProcess[str]:
    """`userman ...` in a process that cannot load the database layer: it works only through
    a running server's control socket (cli/remote.py)."""
    return run_userman(*args, program=("-c", NO_DATABASE_LAYER))


# router1 at 127.0.0.1 (shared secret 12345), profile1 (starts at once), user test/test on it.
BASIC_CONFIGURATION = """
/tool user-manager router
add ip-address=127.0.0.1 name=router1 shared-secret=12345
/tool user-manager profile
add name=profile1 starts-at=now
/tool user-manager user
add username=test password=test
/user-manager user-profile
add user=test profile=profile1
"""


def imported(folder: Path, script: str) -> str:
    """The URL of a new SQLite database in `folder`, set up by one `userman import` of the
    RouterOS `script` (in this process: `configure`)."""
    db_url = f"sqlite:///{folder / 'userman.db'}"
    path = folder / "config.rsc"
    path.write_text(script)
    configure(db_url, f"import {shlex.quote(str(path))}")
    return db_url


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


def launch(
    args: Sequence[str],
    log_path: Path,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    startup: float = STARTUP_SECONDS,
    wrapper: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    """Start `userman ARGS` (a `serve`), its log in `log_path`, and wait until it says it
    listens (at most `startup` seconds); RuntimeError with its log when it does not.
    `wrapper` runs it (setpriv ...)."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*wrapper, sys.executable, "-m", "userman", *args],
            stdout=subprocess.DEVNULL,
            stderr=log,
            cwd=cwd,
            env=env,
        )
    deadline = time.monotonic() + startup
    while time.monotonic() < deadline and process.poll() is None:
        if "listening on" in log_path.read_text():
            return process
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise RuntimeError(f"userman {' '.join(args)} did not start:\n{log_path.read_text()}")


def start_server(
    db_url: str,
    log_path: Path,
    *options: str,
    startup: float = STARTUP_SECONDS,
    wrapper: Sequence[str] = (),
) -> Server:
    """Start `userman serve` on free loopback ports; its log goes to `log_path`.

    A port found free may be taken by another process before the server binds it (another
    test's client, on a busy machine): the server then refuses to start, naming the port, and
    it is started again on other ports, up to three times."""
    attempt = 1
    while True:
        auth_port, acct_port, http_port = free_udp_port(), free_udp_port(), free_tcp_port()
        ports = ["--auth-port", str(auth_port), "--acct-port", str(acct_port)]
        ports += ["--http-port", str(http_port)]
        try:
            process = launch(
                ["--db", db_url, "serve", "--bind", "127.0.0.1", *ports, *options],
                log_path,
                startup=startup,
                wrapper=wrapper,
            )
        except RuntimeError:
            if attempt == 3 or "address already in use" not in log_path.read_text():
                raise
            attempt += 1
            continue
        return Server(db_url, auth_port, acct_port, process, http_port)


def stop_process(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM to a server's PID, as an operator stops it; its exit status (it is killed when
    it has not stopped in 15 seconds)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def stop_server(server: Server) -> None:
    stop_process(server.process)


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
