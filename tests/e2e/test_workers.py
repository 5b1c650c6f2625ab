"""`userman serve --workers 2` (server/workers.py) with radclient: both workers answer, a worker
killed with SIGKILL is started again and answers, what a CLI command changes is in effect at
once in worker 0 (which runs it) and reaches the other worker within the policy's 1-second
freshness rule (shared/DESIGN.md: "in effect for the next
RADIUS request (in well under a second, on every node)"), accounting acknowledged is accounting
stored (RFC 2866 section 2: no Accounting-Response before the record is stored), and SIGTERM to
the parent stops them all; systemd (Type=notify, NotifyAccess=main) hears READY=1 and
STOPPING=1 from the parent alone, once each
(https://www.freedesktop.org/software/systemd/man/latest/sd_notify.html). One server for the
module; the tests run in order, the one that sends SIGTERM stops it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import struct
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from served import (
    BASIC_CONFIGURATION,
    Server,
    imported,
    radclient_send,
    run_userman,
    send_start,
    start_server,
    stop_server,
)

PORTS = 16  # radclient runs, each from a source port of its own: 2^-15 that one worker gets all
FRESH_SECONDS = 1.0  # the policy's freshness rule across processes (server/policy.py)


@dataclass
class Systemd:
    """A stand-in for systemd's notification socket: datagrams with their sender's pid, which
    the kernel vouches for (SO_PASSCRED, as systemd reads them)."""

    sock: socket.socket

    def received(self) -> list[tuple[int, str]]:
        """Every (pid, message) that came since the last call, without waiting."""
        got = []
        credentials = socket.CMSG_SPACE(struct.calcsize("3i"))
        while True:
            try:
                data, ancillary, _, _ = self.sock.recvmsg(4096, credentials, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return got
            pid = 0
            for level, kind, value in ancillary:
                if (level, kind) == (socket.SOL_SOCKET, socket.SCM_CREDENTIALS):
                    pid = struct.unpack("3i", value[: struct.calcsize("3i")])[0]
            got.append((pid, data.decode()))


@pytest.fixture(scope="module")
def systemd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Systemd]:
    path = tmp_path_factory.mktemp("systemd") / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        yield Systemd(sock)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, systemd: Systemd) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("workers")
    db_url = imported(folder, BASIC_CONFIGURATION)
    (folder / "tmp").mkdir()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NOTIFY_SOCKET", systemd.sock.getsockname())
        env.setenv("TMPDIR", str(folder / "tmp"))  # where the parent makes its metrics directory
        # Two processes start at once on two cores: a longer bound than one server's.
        running = start_server(db_url, folder / "serve.log", "--workers", "2", startup=60)
    yield running
    stop_server(running)


def _log(server: Server) -> str:
    return Path(server.db_url.removeprefix("sqlite:///")).with_name("serve.log").read_text()


def metrics_dirs(server: Server) -> list[Path]:
    """The parent's directories where its workers publish their counters (server/metrics.py)."""
    tmp = Path(server.db_url.removeprefix("sqlite:///")).with_name("tmp")
    return sorted(tmp.glob("userman-metrics-*"))


def pids(server: Server) -> dict[int, int]:
    """Each worker's latest pid, as the parent logs it."""
    found = re.findall(r"worker (\d+) started \(pid (\d+)\)", _log(server))
    return {int(index): int(pid) for index, pid in found}


def answers(radclient: str, server: Server, password: str, tries: int = 2) -> list[str]:
    """The answers to PORTS Access-Requests, from as many radclient runs at once, each from a
    source port of its own."""

    def one(_: int) -> str:
        attributes = f"User-Name=test,User-Password={password}"
        result = radclient_send(radclient, server, "auth", attributes, wait=2, tries=tries)
        match = re.search(r"Received (\S+)", result.stdout)
        return match.group(1) if match else "nothing"

    with ThreadPoolExecutor(PORTS) as pool:
        return list(pool.map(one, range(PORTS)))


def test_both_workers_answer_and_a_cli_change_reaches_both(radclient: str, server: Server) -> None:
    assert sorted(pids(server)) == [0, 1]
    assert set(answers(radclient, server, "test")) == {"Access-Accept"}
    # Through the control socket, with worker 1 stopped (SIGSTOP): worker 0 runs the command
    # and reads the change as it commits, so its answers have it at once; worker 1's ports
    # answer nothing meanwhile, and none answers from the policy as it was.
    worker_1 = pids(server)[1]
    os.kill(worker_1, signal.SIGSTOP)
    try:
        server.cli("user", "set", "test", "password=other")
        at_once = answers(radclient, server, "other", tries=1)
    finally:
        os.kill(worker_1, signal.SIGCONT)
    assert set(at_once) <= {"Access-Accept", "nothing"}
    assert "Access-Accept" in at_once
    # Worker 1 reads it from the change log (migration 0014) within the freshness rule.
    time.sleep(FRESH_SECONDS)
    assert set(answers(radclient, server, "other")) == {"Access-Accept"}
    assert set(answers(radclient, server, "test")) == {"Access-Reject"}


def accepts_counted(server: Server) -> float:
    """The Access-Accepts /metrics counts, on worker 0's web port."""
    with urllib.request.urlopen(f"{server.http_url}/metrics", timeout=10) as page:
        text = page.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "userman_radius_requests_total" and sample.labels["result"] == "accept"
    )


def test_metrics_sum_every_workers_counts(radclient: str, server: Server) -> None:
    """/metrics on worker 0 sums what each worker publishes (server/metrics.py): PORTS
    accepts, spread over both workers by their source ports, all counted (worker 0's alone
    would be about half)."""
    before = accepts_counted(server)
    assert set(answers(radclient, server, "other")) == {"Access-Accept"}
    deadline = time.monotonic() + 10  # each worker publishes every second; a busy machine
    while (counted := accepts_counted(server) - before) < PORTS and time.monotonic() < deadline:
        time.sleep(0.2)
    # Each answered once, or twice when radclient sent it again on a busy machine.
    assert PORTS <= counted <= 2 * PORTS


def test_a_killed_worker_is_started_again_and_answers(radclient: str, server: Server) -> None:
    """...and retired from the metrics directory: its counters kept in retired.json (the sum
    never goes back), its own file gone."""
    [published] = metrics_dirs(server)
    killed = pids(server)[1]
    assert (published / f"{killed}.json").exists()
    counted = accepts_counted(server)
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + 60  # a bound for a busy machine, not a measure
    while "worker 1 answers again" not in _log(server):
        assert time.monotonic() < deadline, _log(server)
        time.sleep(0.1)
    assert f"worker 1 (pid {killed}) was killed by SIGKILL" in _log(server)
    assert pids(server)[1] != killed
    files = {path.name for path in published.iterdir()}
    assert f"{killed}.json" not in files
    assert "retired.json" in files
    assert accepts_counted(server) >= counted
    assert set(answers(radclient, server, "other")) == {"Access-Accept"}


def test_worker_0_serves_the_web_and_the_parent_holds_the_control_socket(server: Server) -> None:
    with urllib.request.urlopen(f"{server.http_url}/userman", timeout=10) as page:
        assert page.status == 200
    # A second server on the same SQLite database is refused, naming the parent (the server),
    # whose lock on the control socket stays while worker 0 answers on it.
    second = run_userman(
        "--db", server.db_url, "serve", "--bind", "127.0.0.1",
        "--auth-port", "0", "--acct-port", "0", "--http-port", "0", "--workers", "2",
    )  # fmt: skip
    assert second.returncode == 1
    assert f"a server already runs on {server.db_url} (pid {server.process.pid}," in second.stderr


def test_accounting_acknowledged_is_stored_and_sigterm_stops_all(server: Server) -> None:
    acknowledged = 0
    for number in range(PORTS):  # send_start: a socket, so a source port, of its own each
        send_start(server.acct_port, session=f"w{number}")
        acknowledged += 1
    workers = pids(server)
    stop_server(server)
    assert server.process.returncode == 0, _log(server)
    assert metrics_dirs(server) == []  # removed by the parent as it ended
    for pid in workers.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    served = re.findall(r"\[worker (\d)\] answered (\d+) access and (\d+) accounting", _log(server))
    assert sorted(index for index, _, _ in served) == ["0", "1"]
    assert all(int(access) + int(accounting) > 0 for _, access, accounting in served)
    sessions = server.json("session", "print")
    assert len([s for s in sessions if str(s["acct-session-id"]).startswith("w")]) == acknowledged


def test_systemd_heard_ready_and_stopping_from_the_parent_alone(
    server: Server, systemd: Systemd
) -> None:
    """After the test above stopped it (a worker was killed and started again meanwhile): one
    READY=1 and one STOPPING=1, both from the parent's pid (NotifyAccess=main in
    packaging/userman.service: systemd ignores, and logs, what other processes send)."""
    assert server.process.returncode == 0
    heard = systemd.received()
    states = [(pid, line) for pid, message in heard for line in message.splitlines()]
    assert {pid for pid, _ in heard} == {server.process.pid}, heard
    assert [line for _, line in states if line in {"READY=1", "STOPPING=1"}] == [
        "READY=1",
        "STOPPING=1",
    ]
