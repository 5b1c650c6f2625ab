"""`userman serve --syslog udp://... --log-format json`: the server's log on stderr as JSON
lines, and its lines and User Manager's log rows at a syslog collector as RFC 5424."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from prepared import copy_sqlite
from served import configure, radclient_send, start_server, stop_server

pytestmark = pytest.mark.e2e


def test_a_log_on_reaches_the_collector(
    radclient: str, tmp_path: Path, sqlite_template: Path
) -> None:
    db_url = copy_sqlite(sqlite_template, tmp_path / "userman.db")
    configure(
        db_url,
        "router add ip-address=127.0.0.1 name=router1 shared-secret=12345 log=auth-ok,auth-fail",
        "profile add name=p starts-at=now",
        "user add username=test password=test",
        "user create-and-activate-profile test profile=p",
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as collector:
        collector.bind(("127.0.0.1", 0))
        collector.settimeout(0.2)
        url = f"udp://127.0.0.1:{collector.getsockname()[1]}?facility=local0"
        log = tmp_path / "serve.log"
        server = start_server(db_url, log, "--syslog", url, "--log-format", "json")
        try:
            done = radclient_send(radclient, server, "auth", "User-Name=test,User-Password=test")
            assert "Access-Accept" in done.stdout, done.stdout + done.stderr
            heard: list[str] = []
            deadline = time.monotonic() + 10  # the row is written after the reply, in a batch
            while not any("authorization-ok" in text for text in heard):
                assert time.monotonic() < deadline, heard
                try:
                    heard.append(collector.recv(4096).decode())
                except TimeoutError:
                    continue
        finally:
            stop_server(server)
    row = next(text for text in heard if "authorization-ok" in text)
    assert row.startswith("<134>1 ")  # local0 (16) * 8 + info (6)
    assert " userman " in row
    assert " log [userman@32473 " in row
    assert 'user_orig="test"' in row
    assert any("listening on" in text for text in heard)  # the server's own lines too
    lines = [json.loads(text) for text in log.read_text().splitlines() if text.startswith("{")]
    assert any("listening on" in entry["message"] for entry in lines)
