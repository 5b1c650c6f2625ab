"""An edited limitation reaches the router during the session, through a real `userman serve`:
`userman limitation set` in its own process queues a CoA-Request for the open session, the
server sends it, and the router stand-in receives the new Mikrotik-Rate-Limit and ACKs it;
the session stays open."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from prepared import copy_sqlite
from served import configure, send_start, start_server, stop_server
from standin import StandInRouter
from userman.radius.packet import Code

pytestmark = pytest.mark.e2e


def test_an_edited_limitation_reaches_the_open_session_as_a_coa(
    tmp_path: Path, sqlite_template: Path
) -> None:
    db_url = copy_sqlite(sqlite_template, tmp_path / "userman.db")
    with StandInRouter(mode="ack") as router:
        configure(
            db_url,
            "database set allow-local-coa=yes",  # the stand-in router is on this host
            "router add ip-address=127.0.0.1 name=r1 shared-secret=12345 use-coa=yes "
            f"coa-port={router.port}",
            "user add username=test password=test",
            "profile add name=p starts-at=now",
            "limitation add name=day rate-limit-rx=10M rate-limit-tx=20M",
            "profile-limitation add profile=p limitation=day",
            "user create-and-activate-profile test profile=p",
        )
        server = start_server(db_url, tmp_path / "serve.log")
        try:
            send_start(server.acct_port)
            server.cli("limitation", "set", "day", "rate-limit-tx=4M")
            assert router.got.wait(timeout=10), "no CoA-Request reached the router"
            deadline = time.monotonic() + 10
            logged: list[object] = []
            while time.monotonic() < deadline and "coa-ack" not in logged:
                time.sleep(0.1)
                logged = [entry["status"] for entry in server.json("log", "print")]
            [session] = server.json("session", "print")
        finally:
            stop_server(server)
    [pkt] = router.received
    assert (pkt.code, pkt.get("Acct-Session-Id")) == (Code.COA_REQUEST, "e2e1")
    assert pkt.get("Mikrotik-Rate-Limit") == "10M/4M"
    assert "coa-ack" in logged
    assert "close-acked" not in str(session["status"])  # a CoA leaves the session open
