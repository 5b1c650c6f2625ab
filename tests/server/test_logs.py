"""The server's log as JSON lines and as RFC 5424 syslog (UDP, RFC 5426; TCP with octet
counting, RFC 6587 3.4.1), and User Manager's log rows forwarded once committed."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from inmemory import D, do, exchange, make_app
from userman.radius.packet import Code, build, decode, encode
from userman.server.logs import (
    JsonFormatter,
    Rfc5424Formatter,
    SyslogHandler,
    SyslogTarget,
    syslog_target,
)
from userman.services import Userman

# https://www.rfc-editor.org/rfc/rfc5424#section-6: HEADER SP STRUCTURED-DATA [SP MSG]
RFC5424 = re.compile(
    r"<(?P<pri>\d{1,3})>1 (?P<time>\S+) (?P<host>\S+) (?P<app>\S+) (?P<proc>\S+) (?P<msgid>\S+)"
    r" (?P<sd>-|\[.*?(?<!\\)\]) \ufeff(?P<msg>.*)",
    re.DOTALL,
)


def record(message: str, level: int = logging.INFO, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("userman.server", level, __file__, 1, message, (), None)
    for key, value in extra.items():
        setattr(made, key, value)
    return made


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("udp://127.0.0.1", SyslogTarget("udp", "127.0.0.1", 514, 3)),
        ("tcp://[::1]:6514?facility=local3", SyslogTarget("tcp", "::1", 6514, 19)),
        ("tcp://logs.example.net", SyslogTarget("tcp", "logs.example.net", 601, 3)),
    ],
)
def test_a_syslog_url(url: str, expected: SyslogTarget) -> None:
    assert syslog_target(url) == expected


@pytest.mark.parametrize(
    "url", ["127.0.0.1", "http://x", "udp://", "udp://x:99999", "udp://x?facility=mars"]
)
def test_a_syslog_url_that_is_wrong(url: str) -> None:
    with pytest.raises(ValueError, match="--syslog"):
        syslog_target(url)


def test_an_rfc5424_message_of_the_servers_own_log() -> None:
    line = Rfc5424Formatter(facility=3, hostname="radius 1").format(
        record("dropped a request from 10.0.0.9", logging.WARNING)
    )
    found = RFC5424.fullmatch(line)
    assert found is not None, line
    assert int(found["pri"]) == 3 * 8 + 4  # daemon.warning
    assert (found["host"], found["app"], found["msgid"], found["sd"]) == (
        "radius1",
        "userman",
        "server",
        "-",
    )
    assert found["msg"] == "dropped a request from 10.0.0.9"


def test_a_log_row_is_structured_data_with_its_values_escaped() -> None:
    row = {"status": "auth-fail", "user_orig": 'a"b]c\\d', "nas_port": 7, "description": ""}
    line = Rfc5424Formatter(facility=16).format(record("auth-fail user=x", row=row))
    found = RFC5424.fullmatch(line)
    assert found is not None, line
    assert int(found["pri"]) == 16 * 8 + 6  # local0.info
    assert (
        found["sd"] == '[userman@32473 status="auth-fail" user_orig="a\\"b\\]c\\\\d" nas_port="7"]'
    )


def test_json_lines() -> None:
    line = JsonFormatter().format(record("hello", row={"status": "auth-ok", "user_orig": "t"}))
    data = json.loads(line)
    assert data["message"] == "hello"
    assert data["level"] == "info"
    assert data["row"] == {"status": "auth-ok", "user_orig": "t"}


def test_udp_one_datagram_a_message() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as collector:
        collector.bind(("127.0.0.1", 0))
        collector.settimeout(5)
        target = SyslogTarget("udp", "127.0.0.1", collector.getsockname()[1], 3)
        handler = SyslogHandler(target)
        handler.setFormatter(Rfc5424Formatter(3))
        try:
            handler.emit(record("one"))
            handler.emit(record("two"))
            got = [collector.recv(4096).decode() for _ in range(2)]
        finally:
            handler.close()
    assert [RFC5424.fullmatch(text)["msg"] for text in got] == ["one", "two"]  # type: ignore[index]


def _frames(data: bytes) -> list[str]:
    """RFC 6587 3.4.1: MSG-LEN SP SYSLOG-MSG, one after the other."""
    out = []
    while data:
        size, _, rest = data.partition(b" ")
        out.append(rest[: int(size)].decode())
        data = rest[int(size) :]
    return out


def test_tcp_octet_counting_and_a_new_connection_after_a_failure() -> None:
    received: list[bytes] = []
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(5)

        def accept(count: int) -> None:
            for _ in range(count):
                conn, _ = server.accept()
                with conn:
                    conn.settimeout(5)
                    chunks = []
                    while chunk := conn.recv(4096):
                        chunks.append(chunk)
                    received.append(b"".join(chunks))

        target = SyslogTarget("tcp", "127.0.0.1", server.getsockname()[1], 3)
        handler = SyslogHandler(target)
        handler.setFormatter(Rfc5424Formatter(3))
        thread = threading.Thread(target=accept, args=(2,))
        thread.start()
        try:
            handler.emit(record("first"))
            handler.emit(record("second\nline"))
            handler.close()  # the collector sees the connection end
            handler.emit(record("third"))  # a new connection
            handler.close()
        finally:
            thread.join(10)
    messages = [RFC5424.fullmatch(m)["msg"] for data in received for m in _frames(data)]  # type: ignore[index]
    assert messages == ["first", "second | line", "third"]


@pytest.fixture
def rows() -> Iterator[list[logging.LogRecord]]:
    """What the logger `userman.log` hears, while the test runs."""
    heard: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            heard.append(record)

    logger = logging.getLogger("userman.log")
    handler = Keep()
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield heard
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Userman]:
    userman = make_app(tmp_path, sqlite_template)
    do(userman, "router set", "r", log="auth-fail,auth-ok,acct-ok,acct-fail")
    yield userman
    userman.close()


def test_a_decisions_log_row_is_forwarded_once_committed(
    app: Userman, rows: list[logging.LogRecord]
) -> None:
    pkt = build(
        D,
        Code.ACCESS_REQUEST,
        7,
        bytes(range(16)),
        [("User-Name", "test"), ("User-Password", "no")],
    )
    _, [(reply, _, _)] = exchange(app, encode(pkt, b"12345", message_authenticator=True))
    assert decode(reply, D).code is Code.ACCESS_REJECT
    [heard] = rows
    assert heard.row["status"] == "authorization-failure"  # type: ignore[attr-defined]
    assert (
        heard.getMessage()
        == "authorization-failure user=test host-ip=127.0.0.1 - wrong password for user <test>"
    )


def test_nothing_is_forwarded_of_a_transaction_rolled_back(
    app: Userman, rows: list[logging.LogRecord]
) -> None:
    """A row flushed, then its transaction rolled back: no record (store/logbook.py)."""
    import datetime as dt

    from userman.core.context import RequestContext
    from userman.services.aaa import log_row

    router = app.find_router("127.0.0.1")
    assert router is not None

    class Undone(Exception):
        pass

    def undone() -> None:
        with app.database.begin() as db:
            now = dt.datetime.now(dt.UTC)
            log_row(
                db,
                router,
                username="test",
                context=RequestContext(),
                status="authorization-ok",
                description="",
                now=now,
            )
            db.flush()
            raise Undone

    with pytest.raises(Undone):
        undone()
    assert rows == []
