"""Every acknowledged accounting record survives the server's death (RFC 2866 2: no
Accounting-Response before the record is stored).

A real `userman serve` takes an accounting load from clients in this process (many sessions,
Start then Interim-Updates with growing counters); it is killed (SIGKILL) or stopped (SIGTERM)
in the middle, started again on the same database, and every record that was answered must be
there: each acknowledged Start as a session, each acknowledged Interim's counters or more.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from served import Server, configure, start_server, stop_server
from userman.radius.dictionary import default_dictionary
from userman.radius.packet import Code, build, decode, encode, verify_response_authenticator
from userman.store import models
from userman.store.database import normalize_url

pytestmark = pytest.mark.e2e

SECRET = b"12345"
D = default_dictionary()
CLIENTS = 24  # threads, each one request in flight, each its own socket
SESSIONS = 12  # per client
ROUNDS = 5  # a Start, then four Interim-Updates, per session
TOTAL = CLIENTS * SESSIONS * ROUNDS
STOP_AFTER = TOTAL * 2 // 5  # answers received before the server is stopped
WAIT = 1.0  # seconds a client waits for each answer
LOAD_SECONDS = 30.0  # a bound on the load, never an assertion


def counters(round_: int) -> tuple[int, int, int]:
    """(Acct-Session-Time, Acct-Input-Octets, Acct-Output-Octets) reported in a round."""
    return 60 * round_, 1000 * round_, 2000 * round_


def request(session: str, round_: int, identifier: int) -> bytes:
    uptime, upload, download = counters(round_)
    attributes: list[tuple[str, object]] = [
        ("User-Name", "test"),
        ("Acct-Session-Id", session),
        ("Acct-Status-Type", "Start" if round_ == 0 else "Interim-Update"),
        ("NAS-IP-Address", "127.0.0.1"),
    ]
    if round_:
        attributes += [
            ("Acct-Session-Time", uptime),
            ("Acct-Input-Octets", upload),
            ("Acct-Output-Octets", download),
        ]
    return encode(build(D, Code.ACCOUNTING_REQUEST, identifier, bytes(16), attributes), SECRET)


@dataclass
class Load:
    """Clients that send every session's rounds in order and note each answer they receive."""

    port: int
    acked: list[tuple[str, int]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    prefix: str = ""  # of the session names: each load its own sessions

    def client(self, number: int) -> None:
        names = [f"{self.prefix}c{number:02d}s{n:02d}-{os.getpid()}" for n in range(SESSIONS)]
        deadline = time.monotonic() + LOAD_SECONDS
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            identifier = 0
            for round_ in range(ROUNDS):
                for name in names:
                    if self.stop.is_set() or time.monotonic() > deadline:
                        return
                    identifier = (identifier + 1) % 256
                    if self.exchange(sock, request(name, round_, identifier)):
                        with self.lock:
                            self.acked.append((name, round_))

    def exchange(self, sock: socket.socket, data: bytes) -> bool:
        """Send one request; True when its Accounting-Response arrives in time."""
        sock.sendto(data, ("127.0.0.1", self.port))
        until = time.monotonic() + WAIT
        while (left := until - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                answer = sock.recv(4096)
            except (TimeoutError, ConnectionRefusedError):
                return False
            if answer[1] != data[1]:
                continue  # a late answer to an earlier request of this client
            authentic = verify_response_authenticator(answer, SECRET, data[4:20])
            return authentic and decode(answer, D).code is Code.ACCOUNTING_RESPONSE
        return False

    def answered(self) -> int:
        with self.lock:
            return len(self.acked)


def set_up(db_url: str) -> None:
    configure(
        db_url,
        "router add customer=admin ip-address=127.0.0.1 name=router1 shared-secret=12345",
        "user add customer=admin username=test password=test",
    )


def stored(db_url: str) -> dict[str, tuple[str, int, int, int]]:
    """Each Acct-Session-Id's newest session: (status, uptime, upload, download)."""
    engine = create_engine(normalize_url(db_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(models.UserSession).order_by(models.UserSession.id)
            ).all()
    finally:
        engine.dispose()
    return {row.acct_session_id: (row.status, row.uptime, row.upload, row.download) for row in rows}


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGTERM], ids=["kill", "term"])
def test_every_acknowledged_record_survives_the_server(
    db_url: str, tmp_path: Path, stop_signal: signal.Signals
) -> None:
    set_up(db_url)
    server: Server = start_server(db_url, tmp_path / "first.log")
    load = Load(server.acct_port)
    clients = [threading.Thread(target=load.client, args=(n,)) for n in range(CLIENTS)]
    try:
        for thread in clients:
            thread.start()
        deadline = time.monotonic() + LOAD_SECONDS
        while load.answered() < STOP_AFTER and time.monotonic() < deadline:
            time.sleep(0.005)
        server.process.send_signal(stop_signal)  # by its PID, in the middle of the load
        server.process.wait(timeout=30)
    finally:
        load.stop.set()
        for thread in clients:
            thread.join(LOAD_SECONDS)
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
    if stop_signal is signal.SIGTERM:
        assert server.process.returncode == 0, (tmp_path / "first.log").read_text()
    acked = list(load.acked)
    assert STOP_AFTER <= len(acked) < TOTAL, "the server was not stopped in the middle"

    again = start_server(db_url, tmp_path / "second.log")
    try:
        sessions = stored(db_url)
        missing = []
        for name, round_ in acked:
            status, *values = sessions.get(name, ("", -1, -1, -1))
            if "start" not in status.split(",") and round_ == 0:
                missing.append((name, round_, status))
            elif any(have < want for have, want in zip(values, counters(round_), strict=True)):
                missing.append((name, round_, (status, *values)))
        assert missing == [], f"{len(missing)} of {len(acked)} acknowledged records were lost"
        # The restarted server goes on answering on the same database.
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with sock:
            sock.bind(("127.0.0.1", 0))
            name = acked[-1][0]
            assert Load(again.acct_port).exchange(sock, request(name, ROUNDS, 1))
    finally:
        stop_server(again)
    assert again.process.returncode == 0
    uptime, upload, download = counters(ROUNDS)
    assert stored(db_url)[name][1:] == (uptime, upload, download)


KILLS = 8  # servers killed in turn on one database (each start is most of the time)
KILL_AFTER = 60  # accounting answers each server gives before it is killed


def logons(port: int, stop: threading.Event, answers: list[Code]) -> None:
    """PAP Access-Requests one after the other until `stop`, each answer noted."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(WAIT)
        while not stop.is_set():
            attributes = [("User-Name", "test"), ("User-Password", "test")]
            pkt = build(D, Code.ACCESS_REQUEST, len(answers) % 256, os.urandom(16), attributes)
            data = encode(pkt, SECRET, message_authenticator=True)
            sock.sendto(data, ("127.0.0.1", port))
            try:
                answer = sock.recv(4096)
            except (TimeoutError, ConnectionRefusedError):
                continue
            if verify_response_authenticator(answer, SECRET, data[4:20]):
                answers.append(decode(answer, D).code)


def test_kills_under_mixed_load_lose_no_acknowledged_record(tmp_path: Path) -> None:
    """Issue 11: SIGKILL after SIGKILL while log-ons and accounting go on, each server on the
    database the one before left: every acknowledged record is there at the end."""
    db_url = f"sqlite:///{tmp_path / 'kills.db'}"
    set_up(db_url)
    configure(
        db_url,
        "profile add name=p starts-at=now",
        "user create-and-activate-profile test profile=p",
    )
    acked: list[tuple[str, int]] = []
    answers: list[Code] = []
    for kill in range(KILLS):
        server = start_server(db_url, tmp_path / f"serve-{kill}.log")
        load = Load(server.acct_port, prefix=f"k{kill:02d}")
        threads = [threading.Thread(target=load.client, args=(n,)) for n in range(4)]
        threads.append(threading.Thread(target=logons, args=(server.auth_port, load.stop, answers)))
        try:
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + LOAD_SECONDS
            while load.answered() < KILL_AFTER and time.monotonic() < deadline:
                time.sleep(0.005)
            server.process.send_signal(signal.SIGKILL)  # by its PID, in the middle of the load
            server.process.wait(timeout=30)
        finally:
            load.stop.set()
            for thread in threads:
                thread.join(LOAD_SECONDS)
            if server.process.poll() is None:
                server.process.kill()
                server.process.wait()
        acked += load.acked
    assert len(acked) >= KILLS * KILL_AFTER // 2, "the servers answered too little to tell"
    assert Code.ACCESS_ACCEPT in answers
    sessions = stored(db_url)
    missing = []
    for name, round_ in acked:
        status, *values = sessions.get(name, ("", -1, -1, -1))
        if not status or any(
            have < want for have, want in zip(values, counters(round_), strict=True)
        ):
            missing.append((name, round_, status, *values))
    assert missing == [], f"{len(missing)} of {len(acked)} acknowledged records were lost"
