"""Three `userman serve` nodes on 127.0.0.2, .3 and .4 against one PostgreSQL database (README
"Nodes on one PostgreSQL"), driven with radclient as routers would.

Each test proves one point of the README's promise: a change made on any node (or in SQL) is in
effect on every node within a second, also after a node lost its LISTEN connection; shared-users
is exact across nodes; an accounting record that a router retransmitted to another node is not
counted twice; a node killed with SIGKILL under load lost no acknowledged record, the others
answered meanwhile, and it catches up when it comes back. Bounded: every wait has a deadline.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import shlex
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from served import configure, launch, stop_process
from support import missing
from userman.core import totp
from userman.radius.dictionary import default_dictionary
from userman.radius.packet import Code, build, encode

psycopg = pytest.importorskip("psycopg")

NODES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
SECRET = "12345"
POSTGRES_ADMIN_URL = os.environ.get(
    "USERMAN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RACERS = 6  # users with shared-users=1 that log on at two nodes at once
OTP_KEY = b"nodes one-time key 1"  # the otp-secret of the users otp0..: base32 of these bytes


@dataclass
class Node:
    address: str
    auth_port: int
    acct_port: int
    args: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, cwd: Path) -> None:
        env = {**os.environ, "USERMAN_CONTROL": "off"}
        self.process = launch(self.args, self.log, cwd=cwd, env=env)


@dataclass
class Cluster:
    url: str
    nodes: list[Node]
    folder: Path
    sql: Callable[..., list[tuple[Any, ...]]] = field(repr=False)


def _free_port(address: str, kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((address, 0))
        port: int = sock.getsockname()[1]
        return port


def _otp_secret() -> str:
    return base64.b32encode(OTP_KEY).decode()


def _script(folder: Path) -> Path:
    lines = [
        "/tool user-manager router",
        f"add name=r1 customer=admin ip-address=127.0.0.1 shared-secret={SECRET}",
        "/tool user-manager profile",
        "add name=p1 owner=admin starts-at=now",
        "/tool user-manager user",
        "add username=plain customer=admin password=pw",
        "add username=acct customer=admin password=pw",
        *(f"add username=race{n} customer=admin password=pw shared-users=1" for n in range(RACERS)),
        *(f"add username=load{n} customer=admin password=pw" for n in range(20)),
        *(
            f"add username=otp{n} customer=admin password=pw otp-secret={_otp_secret()}"
            for n in range(RACERS)
        ),
        "create-and-activate-profile plain customer=admin profile=p1",
        "create-and-activate-profile acct customer=admin profile=p1",
        *(f"create-and-activate-profile race{n} customer=admin profile=p1" for n in range(RACERS)),
        *(f"create-and-activate-profile load{n} customer=admin profile=p1" for n in range(20)),
        *(f"create-and-activate-profile otp{n} customer=admin profile=p1" for n in range(RACERS)),
    ]
    script = folder / "nodes.rsc"
    script.write_text("\n".join(lines) + "\n")
    return script


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    for address in NODES:  # the test's own loopback addresses must be there
        try:
            _free_port(address, socket.SOCK_DGRAM)
        except OSError as error:
            missing(f"cannot bind {address}: {error}")
    name = f"userman_nodes_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        missing(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    folder = tmp_path_factory.mktemp("nodes")
    configure(url, shlex.join(("import", str(_script(folder)))))

    def sql(statement: str, *params: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(url, autocommit=True) as connection:
            cursor = connection.execute(statement, params or None)
            return cursor.fetchall() if cursor.description else []

    nodes = []
    for n, address in enumerate(NODES):
        auth, acct = _free_port(address, socket.SOCK_DGRAM), _free_port(address, socket.SOCK_DGRAM)
        args = ["--db", url, "serve", "--bind", address, "--auth-port", str(auth)]
        args += ["--acct-port", str(acct), "--http-port", "0", "--interim-interval", "0"]
        nodes.append(Node(address, auth, acct, args, folder / f"node{n}.log"))
    folders = [folder / f"node{n}" for n in range(len(nodes))]
    for cwd in folders:
        cwd.mkdir()
    with ThreadPoolExecutor(len(nodes)) as starting:  # the three start at once
        list(starting.map(Node.start, nodes, folders))
    yield Cluster(url, nodes, folder, sql)
    for node in nodes:
        if node.process is not None:
            stop_process(node.process)
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _radclient(
    radclient: str, node: Node, kind: str, requests: list[str], *, parallel: int = 1
) -> subprocess.Popen[str]:
    """radclient sending `requests` (attribute lists, comma-separated) to a node."""
    port = node.acct_port if kind == "acct" else node.auth_port
    if kind == "auth":
        requests = [f"{r},Message-Authenticator=0x00" for r in requests]
    with tempfile.NamedTemporaryFile("w", suffix=".radclient", delete=False) as file:
        file.write("\n\n".join(r.replace(",", "\n") for r in requests) + "\n")
    command = [radclient, "-r", "2", "-t", "2", "-p", str(parallel), "-f", file.name]
    command += [f"{node.address}:{port}", kind, SECRET]
    return subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
    )


def _output(process: subprocess.Popen[str]) -> str:
    out, _ = process.communicate(timeout=30)
    os.unlink(str(process.args[-4]))  # type: ignore[index]
    return out


def _log_on(radclient: str, node: Node, user: str, password: str = "pw", device: str = "") -> str:
    """'Access-Accept' or 'Access-Reject' (or what radclient said) for one PAP log-on, from
    the device (Calling-Station-Id) when one is named."""
    attributes = f"User-Name={user},User-Password={password}"
    if device:
        attributes += f",Calling-Station-Id={device}"
    out = _output(_radclient(radclient, node, "auth", [attributes]))
    for word in ("Access-Accept", "Access-Reject"):
        if f"Received {word}" in out:
            return word
    return out


def _eventually(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_a_change_on_one_node_is_in_effect_on_the_others_within_a_second(
    cluster: Cluster, radclient: str
) -> None:
    """README: a change made on any node is in effect on every node within one second
    (LISTEN/NOTIFY; the polled change log when a notification is missed)."""
    nodes = cluster.nodes
    for node in nodes:
        assert _log_on(radclient, node, "plain") == "Access-Accept"
    # Disabled in SQL (as any node's command commits it): the others refuse within a second.
    cluster.sql("UPDATE \"user\" SET disabled = true WHERE username = 'plain'")
    changed = time.monotonic()
    for node in nodes:
        assert _eventually(
            lambda node=node: _log_on(radclient, node, "plain") == "Access-Reject", 1.0
        )
    assert time.monotonic() - changed < 5  # three nodes, each within its second plus radclient
    # Every node's LISTEN connection lost: the next change is still seen (a read that catches
    # up, then LISTEN again).
    cluster.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE application_name = 'userman-listen' AND datname = current_database()"
    )
    cluster.sql("UPDATE \"user\" SET disabled = false WHERE username = 'plain'")
    for node in nodes:
        assert _eventually(
            lambda node=node: _log_on(radclient, node, "plain") == "Access-Accept", 1.5
        )
    assert _eventually(
        lambda: (
            len(
                cluster.sql(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = 'userman-listen'"
                    " AND datname = current_database()"
                )
            )
            == len(nodes)
        ),
        3,
    ), "every node listens again"
    for node in nodes:  # the loss said once, and its end once
        log = node.log.read_text()
        assert log.count("lost the database's notifications") == 1, log
        assert _eventually(lambda node=node: "heard again" in node.log.read_text(), 2), log


def test_shared_users_is_exact_across_nodes(cluster: Cluster, radclient: str) -> None:
    """README: two log-ons of the same user at once on two nodes never both pass a limit of 1
    (manual: shared-users, how many sessions a user may have at once)."""
    first, second = cluster.nodes[0], cluster.nodes[1]

    def requests(device: str) -> list[str]:  # a device of its own at each node
        return [
            f"User-Name=race{n},User-Password=pw,Calling-Station-Id={device}" for n in range(RACERS)
        ]

    both = [
        _radclient(radclient, node, "auth", requests(device), parallel=RACERS)
        for node, device in ((first, "AA-BB-CC-00-00-01"), (second, "AA-BB-CC-00-00-02"))
    ]
    outputs = [_output(process) for process in both]
    accepts = sum(out.count("Received Access-Accept") for out in outputs)
    rejects = sum(out.count("Received Access-Reject") for out in outputs)
    assert (accepts, rejects) == (RACERS, RACERS), outputs
    claims = cluster.sql(
        'SELECT u.username, count(*) FROM session_claim c JOIN "user" u ON u.id = c.user_id'
        " WHERE u.username LIKE 'race%' GROUP BY u.username"
    )
    assert sorted(claims) == [(f"race{n}", 1) for n in range(RACERS)]
    # The claim holds the place until the session starts; then the session does.
    start = ["User-Name=race0,Acct-Session-Id=race0-s,Acct-Status-Type=Start"]
    assert "Received Accounting-Response" in _output(_radclient(radclient, first, "acct", start))
    # A third device at once: its claim is decided in the database, which counts the session
    # (a log-on naming no device is decided from the node's memory, current within a second).
    assert _log_on(radclient, cluster.nodes[2], "race0", device="AA-BB-CC-00-00-03") == (
        "Access-Reject"
    )
    held = cluster.sql(
        'SELECT (SELECT count(*) FROM session_claim c JOIN "user" u ON u.id = c.user_id'
        " WHERE u.username = 'race0'), (SELECT count(*) FROM session WHERE username = 'race0'"
        " AND active)"
    )
    assert held == [(0, 1)]


def test_a_one_time_code_is_accepted_once_across_nodes(cluster: Cluster, radclient: str) -> None:
    """README, one-time passwords: the same code sent at once to two nodes logs on once; the
    step it used is committed before the Accept (docs/security.md)."""
    code = totp.hotp(OTP_KEY, totp.step_of(dt.datetime.now(dt.UTC)))
    requests = [f"User-Name=otp{n},User-Password=pw{code}" for n in range(RACERS)]
    both = [
        _radclient(radclient, node, "auth", requests, parallel=RACERS) for node in cluster.nodes[:2]
    ]
    outputs = [_output(process) for process in both]
    accepts = sum(out.count("Received Access-Accept") for out in outputs)
    rejects = sum(out.count("Received Access-Reject") for out in outputs)
    assert (accepts, rejects) == (RACERS, RACERS), outputs
    # The third node refuses the code too, from its policy or its database.
    assert _log_on(radclient, cluster.nodes[2], "otp0", f"pw{code}") == "Access-Reject"


def test_a_record_retransmitted_to_another_node_counts_once(
    cluster: Cluster, radclient: str
) -> None:
    """README: the session's natural key (router, Acct-Session-Id) decides, not the node: the
    same Start and Interim-Update sent to all three nodes at once (a router that retransmits
    to the next server after a timeout) make one session and count its octets once."""
    session = "acct-retransmitted"
    start = f"User-Name=acct,Acct-Session-Id={session},Acct-Status-Type=Start"
    interim = (
        f"User-Name=acct,Acct-Session-Id={session},Acct-Status-Type=Interim-Update,"
        "Acct-Session-Time=60,Acct-Input-Octets=1000,Acct-Output-Octets=5000"
    )
    for record in (start, interim):
        sent = [_radclient(radclient, node, "acct", [record]) for node in cluster.nodes]
        for process in sent:
            assert "Received Accounting-Response" in _output(process)
    rows = cluster.sql(
        "SELECT uptime, download, upload FROM session WHERE acct_session_id = %s", session
    )
    assert rows == [(60, 5000, 1000)]
    counted = cluster.sql(
        "SELECT uptime_used, download_used, upload_used FROM \"user\" WHERE username = 'acct'"
    )
    assert counted == [(60, 5000, 1000)]


def _accounting(identifier: int, user: str, session: str) -> bytes:
    packet = build(
        default_dictionary(),
        Code.ACCOUNTING_REQUEST,
        identifier,
        bytes(16),
        [("User-Name", user), ("Acct-Session-Id", session), ("Acct-Status-Type", "Start")],
    )
    return encode(packet, SECRET.encode())


def _load(node: Node, count: int, kill_after: int) -> set[str]:
    """Send `count` Accounting-Starts (new sessions) to a node, a few in flight, and SIGKILL
    it after `kill_after` were acknowledged; the sessions whose Accounting-Response came."""
    acked: set[str] = set()
    pending: dict[int, str] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        sent = 0
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (sent < count or pending):
            while sent < count and len(pending) < 16:
                identifier = sent % 256
                session = f"kill-{sent}"
                pending[identifier] = session
                sock.sendto(
                    _accounting(identifier, f"load{sent % 20}", session),
                    (node.address, node.acct_port),
                )
                sent += 1
            try:
                reply = sock.recv(4096)
            except TimeoutError:
                if node.process is not None and node.process.poll() is not None:
                    break  # killed: what is pending is unacknowledged
                continue
            session = pending.pop(reply[1], None)
            if session is not None and reply[0] == Code.ACCOUNTING_RESPONSE:
                acked.add(session)
            if len(acked) == kill_after and node.process is not None:
                node.process.kill()  # SIGKILL, with records in flight
    return acked


def test_a_node_killed_under_load_loses_no_acknowledged_record(
    cluster: Cluster, radclient: str
) -> None:
    """README: a node killed with SIGKILL in the middle of mixed load loses no acknowledged
    accounting record (RFC 2866 2: no Accounting-Response before the record is stored); the
    other nodes keep answering; the node that comes back catches up with what changed."""
    victim, others = cluster.nodes[0], cluster.nodes[1:]
    auth = [f"User-Name=load{n},User-Password=pw" for n in range(20)]
    beside = [_radclient(radclient, node, "auth", auth, parallel=4) for node in others]
    acked = _load(victim, 200, kill_after=60)
    assert victim.process is not None
    assert victim.process.wait(timeout=10) == -9
    assert len(acked) >= 60
    for process in beside:  # the others answered every log-on meanwhile
        assert _output(process).count("Received Access-Accept") == len(auth)
    stored = {
        row[0]
        for row in cluster.sql(
            "SELECT acct_session_id FROM session WHERE acct_session_id LIKE 'kill-%'"
        )
    }
    assert acked <= stored, sorted(acked - stored)[:5]
    for node in others:
        assert _log_on(radclient, node, "load0") == "Access-Accept"
    # A change while it is down, then back: it starts from the database as it is now.
    cluster.sql("UPDATE \"user\" SET disabled = true WHERE username = 'load1'")
    victim.start(cluster.folder / "node0")
    assert _log_on(radclient, victim, "load1") == "Access-Reject"
    assert _log_on(radclient, victim, "load2") == "Access-Accept"
    cluster.sql("UPDATE \"user\" SET disabled = false WHERE username = 'load1'")
    assert _eventually(lambda: _log_on(radclient, victim, "load1") == "Access-Accept", 1.0)
