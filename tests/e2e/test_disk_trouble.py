"""No acknowledgement for a record that was not stored when the disk is full, and the server
goes on by itself once there is room again (issue 11).

A real `userman serve` keeps its SQLite database on a small tmpfs of its own, mounted for the
test (root only). The disk is filled up: accounting goes unanswered once the database cannot
grow (the router retransmits, then fails over), Access-Requests are still decided from memory,
and once space returns, records are acknowledged and stored as before. Every record that was
acknowledged is in the database.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from served import Server, configure, start_server, stop_server
from userman.radius.dictionary import default_dictionary
from userman.radius.packet import Code, build, decode, encode, verify_response_authenticator

pytestmark = pytest.mark.e2e

SECRET = b"12345"
D = default_dictionary()
WAIT = 0.25  # seconds a request waits for its answer (on loopback)
RETRIES = 20  # tries of a request that must be answered (a busy machine may be slow)
MEGABYTES = 16  # the tmpfs: room for the database, its WAL and the filler


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of MEGABYTES, unmounted after the test."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = _mount("-t", "tmpfs", "-o", f"size={MEGABYTES}M,mode=0700", "tmpfs", str(folder))
    if mounted.returncode != 0:
        if os.environ.get("USERMAN_REQUIRE_ALL"):
            pytest.fail(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        _mount("-o", "remount,rw", str(folder))
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """A file that takes every free block of `folder`'s file system."""
    filler = folder / "filler"
    chunk = bytes(1 << 16)
    # Unbuffered: a buffered file keeps what a short write left, and its close, after the
    # error was caught, would raise the same error again.
    with filler.open("wb", buffering=0) as out, pytest.raises(OSError, match="No space") as full:  # noqa: PT012
        while True:
            out.write(chunk)
    assert full.value.errno == errno.ENOSPC
    return filler


def account(sock: socket.socket, port: int, session: str, uptime: int, *, tries: int) -> bool:
    """One Accounting-Start, sent up to `tries` times as a router retransmits it; True when
    its Accounting-Response arrives."""
    attributes: list[tuple[str, object]] = [
        ("User-Name", "test"),
        ("Acct-Session-Id", session),
        ("Acct-Status-Type", "Start"),
        ("Acct-Session-Time", uptime),
    ]
    data = encode(build(D, Code.ACCOUNTING_REQUEST, uptime % 256, bytes(16), attributes), SECRET)
    return any(exchange(sock, port, data) is Code.ACCOUNTING_RESPONSE for _ in range(tries))


def logon(sock: socket.socket, port: int) -> Code | None:
    """A PAP log-on's answer, retransmitted as a router does until one comes."""
    attributes = [("User-Name", "test"), ("User-Password", "test")]
    pkt = build(D, Code.ACCESS_REQUEST, 1, os.urandom(16), attributes)
    data = encode(pkt, SECRET, message_authenticator=True)
    return next(filter(None, (exchange(sock, port, data) for _ in range(RETRIES))), None)


def exchange(sock: socket.socket, port: int, data: bytes) -> Code | None:
    sock.sendto(data, ("127.0.0.1", port))
    sock.settimeout(WAIT)
    try:
        while True:
            answer = sock.recv(4096)
            if answer[1] == data[1] and verify_response_authenticator(answer, SECRET, data[4:20]):
                return decode(answer, D).code
    except TimeoutError:
        return None


def stored(server: Server) -> set[str]:
    """The Acct-Session-Ids of the sessions stored, as the server's own CLI prints them."""
    return {str(row["acct-session-id"]) for row in server.json("session", "print")}


def test_no_acknowledgement_without_storage_and_recovery(disk: Path, tmp_path: Path) -> None:
    db_url = f"sqlite:///{disk / 'userman.db'}"
    configure(
        db_url,
        "router add ip-address=127.0.0.1 name=router1 shared-secret=12345",
        "profile add name=p starts-at=now",
        "user add username=test password=test",
        "user create-and-activate-profile test profile=p",
    )
    server = start_server(db_url, tmp_path / "serve.log")
    acked: dict[str, int] = {}
    sent = 0

    def load(label: str, count: int, tries: int = RETRIES) -> int:
        nonlocal sent
        answered = 0
        for n in range(count):
            sent += 1
            session = f"{label}-{n}"
            if account(sock, server.acct_port, session, sent, tries=tries):
                acked[session] = sent
                answered += 1
        return answered

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            assert load("before", 5) == 5
            filler = fill(disk)
            # Answered only while the WAL has room left (each one stored), then no more.
            assert load("full", 24, tries=1) < 24
            assert logon(sock, server.auth_port) is Code.ACCESS_ACCEPT  # from memory
            filler.unlink()
            assert load("freed", 5) == 5, (tmp_path / "serve.log").read_text()
            have = stored(server)
    finally:
        stop_server(server)
    assert server.process.returncode == 0, (tmp_path / "serve.log").read_text()
    assert [session for session in acked if session not in have] == [], "acknowledged, not stored"
