"""`userman serve` says what went wrong in one line, with no traceback and a non-zero exit,
before it claims to listen on anything: a port that is taken (RADIUS over UDP, the web over
TCP), an address that is not this host's, a port out of range, a second server on the same
SQLite database. On PostgreSQL several nodes share one database (README, "several `userman
serve` nodes"): a second node starts, says in one line that it answers no CLI commands, and
leaves the first node's control socket alone."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from prepared import copy_sqlite
from served import (
    configure,
    free_tcp_port,
    free_udp_port,
    launch,
    run_userman,
    stop_process,
    through_socket,
)
from support import require_program
from userman.cli.remote import socket_path

pytestmark = pytest.mark.e2e


def serve(db_url: str, *options: str) -> subprocess.CompletedProcess[str]:
    """`userman serve` expected to stop at once by itself."""
    return run_userman("serve", "--db", db_url, *options)


def one_failure(result: subprocess.CompletedProcess[str]) -> str:
    """The one line it said: nothing else, so no line that it listens on anything."""
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("failure: ")
    return result.stderr.removeprefix("failure: ").rstrip("\n")


def ports(bind: str = "127.0.0.1") -> list[str]:
    return [
        "--bind",
        bind,
        "--auth-port",
        str(free_udp_port()),
        "--acct-port",
        str(free_udp_port()),
        "--http-port",
        str(free_tcp_port()),
    ]


class Running:
    """A `userman serve` started in the background, its log in a file."""

    def __init__(self, db_url: str, log: Path, *options: str) -> None:
        self.log = log
        self.process = launch(["serve", "--db", db_url, *options], log)

    def stop(self) -> None:
        stop_process(self.process)


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A database with its schema, as a first command leaves it: a copy of the prepared one
    (tests/prepared.py) rather than a `userman` process migrating a new file for each test."""
    return copy_sqlite(sqlite_template, tmp_path / "userman.db")


@pytest.mark.parametrize(
    ("taken", "said"),
    [
        ("--auth-port", "port {port}/udp (authentication): address already in use"),
        ("--acct-port", "port {port}/udp (accounting): address already in use"),
        ("--http-port", "port {port}/tcp (web): address already in use"),
    ],
)
def test_a_port_that_is_taken(db_url: str, tmp_path: Path, taken: str, said: str) -> None:
    kind = socket.SOCK_STREAM if taken == "--http-port" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as holder:
        holder.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            holder.listen(1)
        port = holder.getsockname()[1]
        options = ports()
        options[options.index(taken) + 1] = str(port)
        message = one_failure(serve(db_url, *options))
    assert message == f"cannot listen on 127.0.0.1 {said.format(port=port)}"
    # It let go of the control socket: the next start takes it.
    assert not Path(f"{tmp_path / 'userman.db'}.sock").exists()
    server = Running(db_url, tmp_path / "serve.log", *ports())
    server.stop()
    assert server.process.returncode == 0


def test_a_certificate_that_does_not_load(db_url: str, tmp_path: Path) -> None:
    """The web thread starts serving before the server says it listens: a certificate it
    cannot load stops `serve` in one line, as a port that is taken does."""
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    options = [*ports(), "--tls-cert", str(junk), "--tls-key", str(junk)]
    message = one_failure(serve(db_url, *options))
    assert message.startswith(f"cannot serve HTTPS with --tls-cert {junk} and --tls-key {junk}: ")
    assert not Path(f"{tmp_path / 'userman.db'}.sock").exists()


@pytest.fixture
def unprivileged() -> list[str]:
    """What runs a command without the right to bind a port below 1024: nothing for a user
    that lacks it anyway, setpriv without CAP_NET_BIND_SERVICE for root."""
    start = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start")
    if not start.exists() or int(start.read_text()) <= 812:
        pytest.skip("any user may bind any port here")
    if os.geteuid() != 0:
        return []
    drop = "-net_bind_service"
    return [require_program("setpriv"), "--bounding-set", drop, "--inh-caps", drop]


@pytest.mark.parametrize(
    ("option", "said"),
    [("--auth-port", "812/udp (authentication)"), ("--http-port", "812/tcp (web)")],
)
def test_a_port_that_is_not_allowed(
    db_url: str, unprivileged: list[str], option: str, said: str
) -> None:
    options = ports()
    options[options.index(option) + 1] = "812"
    command = [*unprivileged, sys.executable, "-m", "userman", "serve", "--db", db_url, *options]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert one_failure(result) == (
        f"cannot listen on 127.0.0.1 port {said}: permission denied "
        "(a port below 1024 needs root or CAP_NET_BIND_SERVICE)"
    )


def test_the_same_port_for_authentication_and_accounting(db_url: str) -> None:
    port = str(free_udp_port())
    message = one_failure(
        serve(db_url, "--bind", "127.0.0.1", "--auth-port", port, "--acct-port", port)
    )
    assert message == f"cannot listen on 127.0.0.1 port {port}/udp (accounting): " + (
        "address already in use"
    )


@pytest.mark.parametrize("option", ["--bind", "--http-bind"])
def test_an_address_that_is_not_this_hosts(db_url: str, option: str) -> None:
    # 192.0.2.0/24 is TEST-NET-1 (RFC 5737): no host has it.
    options = [*ports(), option, "192.0.2.1"]
    message = one_failure(serve(db_url, *options))
    what = "udp (authentication)" if option == "--bind" else "tcp (web)"
    assert message.startswith("cannot listen on 192.0.2.1 port ")
    assert message.endswith(f"/{what}: not an address of this host")


@pytest.mark.parametrize("option", ["--auth-port", "--acct-port", "--http-port"])
@pytest.mark.parametrize("value", ["65536", "-1", "radius"])
def test_a_port_out_of_range(db_url: str, option: str, value: str) -> None:
    result = serve(db_url, "--bind", "127.0.0.1", option, value)
    assert result.returncode == 2
    assert f"Invalid value for '{option}'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--http-max-body", "lots"),
        ("--http-max-body", "0"),
        ("--http-timeout", "0"),
        ("--http-max-connections", "0"),
    ],
)
def test_a_web_limit_out_of_range(db_url: str, option: str, value: str) -> None:
    result = serve(db_url, *ports(), option, value)
    assert result.returncode == 2
    assert "Invalid value" in result.stderr
    assert "Traceback" not in result.stderr


# The CLI in a process where uvloop cannot be imported, as where it is not installed.
NO_UVLOOP = ("-c", "import sys; sys.modules['uvloop'] = None; from userman.cli import main; main()")


@pytest.mark.parametrize(
    ("loop", "program", "said"),
    [
        (
            "fast",
            ("-m", "userman"),
            "--loop fast: no such event loop (one of auto, asyncio, uvloop)",
        ),
        ("uvloop", NO_UVLOOP, "--loop uvloop: uvloop is not installed"),
    ],
)
def test_an_event_loop_that_cannot_be_had(
    db_url: str, loop: str, program: tuple[str, ...], said: str
) -> None:
    result = run_userman("serve", "--db", db_url, *ports(), "--loop", loop, program=program)
    assert one_failure(result) == said


def test_port_zero_is_one_the_system_picks_and_no_web_port(db_url: str, tmp_path: Path) -> None:
    server = Running(
        db_url,
        tmp_path / "serve.log",
        *["--bind", "127.0.0.1", "--auth-port", "0", "--acct-port", "0", "--http-port", "0"],
    )
    server.stop()
    log = server.log.read_text()
    assert re.search(r"authentication [1-9]\d*/udp, accounting [1-9]\d*/udp", log)
    assert "web interface" not in log


def test_a_second_server_on_sqlite_is_refused(db_url: str, tmp_path: Path) -> None:
    first = Running(db_url, tmp_path / "first.log", *ports())
    path = f"{tmp_path / 'userman.db'}.sock"
    try:
        message = one_failure(serve(db_url, *ports()))
        assert message == (
            f"a server already runs on {db_url} (pid {first.process.pid}, answering CLI "
            f"commands on {path}): stop it first, or serve another database"
        )
        # The first one's socket is its own still, and it answers.
        added = through_socket("--db", db_url, "user", "add", "username=after")
        assert (added.returncode, added.stderr) == (0, "")
        # A client that connects and says nothing leaves no trace in its log either.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
            silent.connect(path)
        assert through_socket("--db", db_url, "user", "print", "count-only").stdout == "1\n"
    finally:
        first.stop()
    assert first.process.returncode == 0
    log = first.log.read_text()
    assert "Traceback" not in log
    assert "ERROR" not in log


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL database of its own, on the test server, dropped at the end."""
    psycopg = pytest.importorskip("psycopg")
    name = f"userman_nodes_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_nodes_on_one_postgresql_database_share_it(postgres_database: str, tmp_path: Path) -> None:
    """Three nodes on one host, on 127.0.0.2, .3 and .4, as a scale-out test would run them."""
    url = postgres_database
    configure(url, "user print")  # the schema, made once
    nodes: list[Running] = []
    try:
        for last in (2, 3, 4):
            nodes.append(Running(url, tmp_path / f"node{last}.log", *ports(f"127.0.0.{last}")))
        first, *others = nodes
        assert "CLI commands are answered on" in first.log.read_text()
        for node in others:
            assert (
                f"another server (pid {first.process.pid}) on this database answers CLI "
                "commands on "
            ) in node.log.read_text()
            assert "answered on" not in node.log.read_text()
        added = through_socket("--db", url, "user", "add", "username=shared")
        assert (added.returncode, added.stderr) == (0, "")
        # A later node stopping leaves the first one's socket in place.
        others[0].stop()
        path = socket_path(url)
        assert path is not None
        assert os.path.exists(path)
        assert through_socket("--db", url, "user", "print", "count-only").stdout == "1\n"
    finally:
        for node in nodes:
            node.stop()
    for node in nodes:
        assert node.process.returncode == 0
        log = node.log.read_text()
        assert "Traceback" not in log
        assert "ERROR" not in log


def test_a_control_socket_that_cannot_be_made(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "a-file").touch()
    env = {**os.environ, "USERMAN_CONTROL": str(tmp_path / "a-file" / "userman.sock")}
    message = one_failure(run_userman("serve", "--db", db_url, *ports(), env=env))
    assert message == (
        f"cannot make the control socket at {tmp_path / 'a-file'}: file exists "
        "($USERMAN_CONTROL=PATH puts it elsewhere, $USERMAN_CONTROL=off goes without)"
    )
