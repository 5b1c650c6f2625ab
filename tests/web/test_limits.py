"""web/limits.py and web/protocol.py against a real server on 127.0.0.1: a body over the limit is
refused before it is read, a stalled body or late headers close the connection, and a request
beyond the cap on connections is answered 503. Short limits, a few sockets, bounded waits."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from userman.cli.ports import bind_tcp
from userman.services import Userman
from userman.web.limits import WebLimits
from userman.web.serve import web_server

LIMITS = WebLimits(max_body=1024, timeout=0.5, keep_alive=1, max_connections=4)
WAIT = 5.0  # seconds a test waits at most for an answer or a close


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    path: Path = tmp_path_factory.mktemp("limits") / "userman.db"
    app = Userman(f"sqlite:///{path}")
    app.prepare()
    sock = bind_tcp("127.0.0.1", 0)
    with web_server(app, sock, limits=LIMITS):
        yield sock.getsockname()[1]
    app.close()


def connect(port: int) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    conn.settimeout(WAIT)
    return conn


def read_all(conn: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (WAIT at most)."""
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def head(path: str, **headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_a_body_over_the_limit_is_refused_by_its_length_before_it_is_sent(port: int) -> None:
    # 200 MB announced, none sent: the answer comes at once, and the connection closes.
    with connect(port) as conn:
        conn.sendall(head("/api/v1/user", Content_Length="209715200"))
        answer = read_all(conn)
    assert status_of(answer) == 413
    assert b"connection: close" in answer.lower()
    body = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert body == {"error": "failure: request body too large (the limit is 1024 bytes)"}


def test_a_page_is_refused_so_too_before_it_asks_for_a_login(port: int) -> None:
    with connect(port) as conn:
        conn.sendall(head("/userman/users/add", Content_Length="2000"))
        answer = read_all(conn)
    assert status_of(answer) == 413
    assert b"content-security-policy" in answer.lower()  # the security headers still apply


def test_a_chunked_body_is_refused_once_it_grows_past_the_limit(port: int) -> None:
    chunk = b"400\r\n" + b"a" * 0x400 + b"\r\n"
    with connect(port) as conn:
        conn.sendall(
            head(
                "/userman/login",
                Transfer_Encoding="chunked",
                Content_Type="application/x-www-form-urlencoded",
            )
        )
        conn.sendall(chunk)  # 1024 bytes: at the limit, not over it
        conn.sendall(chunk)  # over it
        answer = read_all(conn)
    assert status_of(answer) == 413
    assert b"too large" in answer


def test_a_stalled_body_is_answered_408_and_its_connection_closed(port: int) -> None:
    with connect(port) as conn:
        conn.sendall(
            head(
                "/userman/login",
                Content_Length="100",
                Content_Type="application/x-www-form-urlencoded",
            )
        )
        conn.sendall(b"login=admin")  # and then nothing
        answer = read_all(conn)
    assert status_of(answer) == 408


def test_headers_sent_slowly_lose_their_connection(port: int) -> None:
    started = time.monotonic()
    with connect(port) as conn:
        conn.sendall(b"GET /userman/login HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        time.sleep(0.2)
        conn.sendall(b"X-Slow: 1\r\n")  # a trickle of header lines does not extend the wait
        time.sleep(0.2)
        conn.sendall(b"X-Slow: 2\r\n")
        assert read_all(conn) == b""  # closed without an answer
    assert time.monotonic() - started < WAIT


def test_a_connection_that_says_nothing_is_closed(port: int) -> None:
    with connect(port) as conn:
        assert read_all(conn) == b""


def test_a_kept_alive_connection_waits_for_its_next_headers_as_long_only(port: int) -> None:
    with connect(port) as conn:
        conn.sendall(b"GET /userman/login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = conn.recv(65536)
        assert status_of(first) == 200
        conn.sendall(b"GET /userman/login HTTP/1.1\r\n")  # the next request, never finished
        rest = read_all(conn)
    assert b"HTTP/1.1" not in rest


def test_a_request_beyond_the_cap_on_connections_is_answered_503(port: int) -> None:
    idle = [connect(port) for _ in range(LIMITS.max_connections)]
    try:
        with connect(port) as conn:
            conn.sendall(b"GET /userman/login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert status_of(conn.recv(65536)) == 503
    finally:
        for conn in idle:
            conn.close()
    # Once they are gone (or timed out), the server answers again.
    deadline = time.monotonic() + WAIT
    while True:
        with connect(port) as conn:
            conn.sendall(b"GET /userman/login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            if status_of(conn.recv(65536)) == 200:
                break
        assert time.monotonic() < deadline
        time.sleep(0.1)
