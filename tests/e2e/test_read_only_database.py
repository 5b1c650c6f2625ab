"""A database file the server cannot write (issue 11, "a read-only database"): no
acknowledgement for a record that was not stored, and the server goes on by itself once the file
is writable again, with no restart.

SQLite opens a file it may not write read-only, and a connection opened so stays read-only
after the file's mode changes back ("attempt to write a readonly database" for ever). Made
honestly without remounting anything: the server starts on a database file of mode 0400, as
after a restore with the wrong mode or a volume fixed later, and the file is then given 0600.
Root may write any file whatever its mode, so as root the server runs without the
capabilities that allow that (setpriv: no CAP_DAC_OVERRIDE), as an ordinary account would.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from e2e.test_disk_trouble import RETRIES, account, logon, stored
from served import configure, start_server, stop_server
from support import missing
from userman.radius.packet import Code

pytestmark = pytest.mark.e2e


def without_override() -> list[str]:
    """What runs the server so that a file's mode binds it: nothing for an ordinary account;
    for root, setpriv dropping the capabilities that pass over file modes."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        missing("setpriv (util-linux) is needed to run the server as root without DAC override")
    drop = "-dac_override,-dac_read_search"
    return [setpriv, f"--bounding-set={drop}", "--inh-caps=-all", "--"]


def test_no_acknowledgement_while_read_only_and_recovery(tmp_path: Path) -> None:
    wrapper = without_override()
    database = tmp_path / "userman.db"
    db_url = f"sqlite:///{database}"
    configure(
        db_url,
        "router add ip-address=127.0.0.1 name=router1 shared-secret=12345",
        "profile add name=p starts-at=now",
        "user add username=test password=test",
        "user create-and-activate-profile test profile=p",
    )
    database.chmod(0o400)
    server = start_server(db_url, tmp_path / "serve.log", wrapper=wrapper)
    acked: list[str] = []

    def load(label: str, count: int, tries: int = RETRIES) -> int:
        answered = 0
        for n in range(count):
            session = f"{label}-{n}"
            if account(sock, server.acct_port, session, len(acked) + 100 * n + 1, tries=tries):
                acked.append(session)
                answered += 1
        return answered

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            assert load("read-only", 5, tries=2) == 0  # never acknowledged: not stored
            assert logon(sock, server.auth_port) is Code.ACCESS_ACCEPT  # from memory
            database.chmod(0o600)
            assert load("writable", 5) == 5, (tmp_path / "serve.log").read_text()
            have = stored(server)
    finally:
        stop_server(server)
    assert acked == [f"writable-{n}" for n in range(5)]
    assert [session for session in acked if session not in have] == [], "acknowledged, not stored"
    assert not any(session.startswith("read-only") for session in have)
