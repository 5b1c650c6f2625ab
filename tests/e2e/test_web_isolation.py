"""The web interface never delays RADIUS (shared/DESIGN.md, issue 10): a real `userman serve`
whose web request is held up by the database still answers on its RADIUS ports.

The request held is a real one: a log-in on the user page (/user/login) refused with 429 once
the guard counted too many failures from the address, which answers with the log-in form, and
that form names the provider, read from the customer table. The test locks that table in
PostgreSQL (ACCESS EXCLUSIVE, the lock an ALTER TABLE, a VACUUM FULL or a migration by hand
takes), so the request waits on the database for as long as the test holds the lock. Meanwhile
Status-Server (RFC 5997) goes to both RADIUS ports: it needs the server's event loop and no
table (the router comes from the snapshot), so each must be answered while the web request
still waits. An Access-Request would read the customer table itself, and wait for its own
reason. When the web ran on the RADIUS event loop, the loop waited with the request, and
Status-Server was not answered until the lock was released.
"""

from __future__ import annotations

import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from served import Server, configure, start_server, stop_server
from userman.radius.dictionary import default_dictionary
from userman.radius.packet import (
    Code,
    build,
    decode,
    encode,
    verify_message_authenticator,
    verify_response_authenticator,
)

pytestmark = pytest.mark.e2e

SECRET = b"12345"
ANSWER_WITHIN = 2.0  # seconds; the held request waits as long as the lock, far longer
GUARD_LIMIT = 10  # failed log-ins from one address before 429 (web/auth.py's LIMIT)


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL database of its own, for the served process, dropped at the end."""
    psycopg = pytest.importorskip("psycopg")
    name = f"userman_webiso_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def log_in_on_user_page(server: Server) -> int:
    """POST /user/login with a wrong password, as a browser's form would; the HTTP status."""
    token = "t" * 32  # the pre-log-in CSRF cookie and the form's field must agree
    body = urllib.parse.urlencode({"csrf": token, "username": "nobody", "password": "wrong"})
    request = urllib.request.Request(server.http_url + "/user/login", data=body.encode())
    request.add_header("Cookie", f"userman_login_csrf={token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status: int = response.status
    except urllib.error.HTTPError as refused:
        status = refused.code
    return status


def status_server(port: int, identifier: int) -> Code:
    """A signed Status-Server to `port`; the code of its verified answer, or a failure when
    none came within ANSWER_WITHIN."""
    dictionary = default_dictionary()
    pkt = build(dictionary, Code.STATUS_SERVER, identifier, os.urandom(16), [])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(ANSWER_WITHIN)
        sock.sendto(encode(pkt, SECRET, message_authenticator=True), ("127.0.0.1", port))
        try:
            data = sock.recv(4096)
        except TimeoutError:
            pytest.fail(f"no answer on port {port} while a web request waited on the database")
    reply = decode(data, dictionary, secret=SECRET, request_authenticator=pkt.authenticator)
    assert reply.identifier == identifier
    assert verify_response_authenticator(data, SECRET, pkt.authenticator)
    assert verify_message_authenticator(
        data, SECRET, pkt.authenticator, request_code=Code.STATUS_SERVER
    )
    return reply.code


def waiting_on(lock_holder: Any, table: str) -> int:
    """How many other connections wait for a lock on `table`."""
    row = lock_holder.execute(
        "SELECT count(*) FROM pg_locks WHERE relation = %s::regclass AND NOT granted", (table,)
    ).fetchone()
    return int(row[0])


def held_until_it_waits(lock_holder: Any, request: Future[int]) -> None:
    """Return once a connection waits on the locked table: the web request's (the server's
    own background work, in worker threads, reads routers, sessions and requests)."""
    deadline = time.monotonic() + 20
    while not waiting_on(lock_holder, "customer"):
        assert not request.done(), f"the web request did not wait: {request.result()}"
        assert time.monotonic() < deadline, "the web request never reached the locked table"
        time.sleep(0.05)


@contextmanager
def web_request_held(server: Server, url: str) -> Iterator[Future[int]]:
    """A log-in on the user page, refused with 429 and held on the locked customer table until
    the block ends; its HTTP status once it is answered."""
    psycopg = pytest.importorskip("psycopg")
    for _ in range(GUARD_LIMIT):
        assert log_in_on_user_page(server) == 401
    with ThreadPoolExecutor(1) as browser, psycopg.connect(url) as lock_holder:
        lock_holder.execute("LOCK TABLE customer IN ACCESS EXCLUSIVE MODE")
        request = browser.submit(log_in_on_user_page, server)
        try:
            held_until_it_waits(lock_holder, request)
            yield request
            assert waiting_on(lock_holder, "customer")  # held all along
        finally:
            lock_holder.rollback()


@pytest.fixture
def server(postgres_database: str, tmp_path: Path) -> Iterator[Server]:
    url = postgres_database
    configure(
        url, "router add customer=admin ip-address=127.0.0.1 name=router1 shared-secret=12345"
    )
    served = start_server(url, tmp_path / "serve.log")
    try:
        yield served
    finally:
        stop_server(served)
    assert served.process.returncode == 0
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


def test_radius_answers_while_a_web_request_waits_on_the_database(server: Server) -> None:
    assert status_server(server.auth_port, 0) is Code.ACCESS_ACCEPT  # as a router sends it
    with web_request_held(server, server.db_url) as request:
        for identifier in range(1, 6):
            assert status_server(server.auth_port, identifier) is Code.ACCESS_ACCEPT
            assert status_server(server.acct_port, identifier) is Code.ACCOUNTING_RESPONSE
        assert not request.done()  # the web request is held still
    assert request.result(timeout=30) == 429  # answered once the table is free


def test_serve_stops_while_a_web_request_is_held(server: Server, tmp_path: Path) -> None:
    """SIGTERM stops the RADIUS ports and the process; the web thread, whose loop the request
    holds, is waited for a while (web/serve.py's STOP_SECONDS), then left behind."""
    with web_request_held(server, server.db_url):
        stop_server(server)
        assert server.process.returncode == 0
    log = (tmp_path / "serve.log").read_text()
    assert "the web server did not stop within" in log
    assert "userman is stopping" in log
