"""`userman session close-session`, run as its own process, reaches the router through a real
`userman serve`: the server claims the queued Disconnect-Request, the router stand-in ACKs it,
and `session print` shows the session closed as acknowledged."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from prepared import copy_sqlite
from served import configure, send_start, start_server, stop_server
from standin import StandInRouter
from userman.radius.packet import Code

pytestmark = pytest.mark.e2e


def test_close_session_from_the_cli_disconnects_at_the_router(
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
        )
        server = start_server(db_url, tmp_path / "serve.log")
        try:
            send_start(server.acct_port)
            server.cli("session", "close-session", "0")
            assert router.got.wait(timeout=10), "no Disconnect-Request reached the router"
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                [session] = server.json("session", "print")
                if "close-acked" in str(session["status"]):
                    break
                time.sleep(0.1)
        finally:
            stop_server(server)
    [pkt] = router.received
    assert (pkt.code, pkt.get("Acct-Session-Id")) == (Code.DISCONNECT_REQUEST, "e2e1")
    assert session["terminate-cause"] == "um-admin-request"
    assert "close-acked" in str(session["status"])
