"""`database save format=sqlite` while `userman serve` writes accounting: the copy, made through
SQLite's backup API in the server's process, is whole and consistent (every session in it is
as the database had it), and a server started on it answers from it."""

from __future__ import annotations

import contextlib
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from served import radclient_send, send_start, start_server, stop_server
from support import run
from userman.services import Actor, Userman

pytestmark = pytest.mark.e2e

# What accounting does not change (it does a user's last-seen and counters).
CONFIG = {
    "router": "*",
    "customer": "*",
    "profile": "*",
    "user": "id, username, password, customer_id",
    "user_profile": "id, user_id, profile_id",
}


def rows(path: Path, table: str, columns: str = "*") -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(f'SELECT {columns} FROM "{table}" ORDER BY id').fetchall()


def test_a_copy_made_while_serving_is_consistent_and_serves(radclient: str, tmp_path: Path) -> None:
    original = tmp_path / "userman.db"
    db_url = f"sqlite:///{original}"
    app = Userman(db_url)
    app.prepare()
    root = Actor.superuser()
    run(
        app,
        root,
        "router add",
        name="router1",
        **{"ip-address": "127.0.0.1", "shared-secret": "12345"},
    )
    run(app, root, "profile add", name="profile1")
    run(app, root, "user add", username="test", password="test")
    run(app, root, "user create-and-activate-profile", "test", profile="profile1")
    app.close()
    server = start_server(db_url, tmp_path / "serve.log")
    stop = threading.Event()
    sent: list[int] = []

    def write() -> None:  # accounting, each Start stored before it is answered
        while not stop.is_set() and len(sent) < 2000:
            send_start(server.acct_port, session=f"s{len(sent)}")
            sent.append(1)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(sent) < 5:  # the server is writing
            stop.wait(0.01)
        copy = tmp_path / "copy"
        saved = server.cli("database", "save", f"name={copy}", "format=sqlite")
        assert saved.stdout == f"copied the database to {copy}.sqlite\n"
    finally:
        stop.set()
        writer.join()
    stop_server(server)
    backup = Path(f"{copy}.sqlite")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    with contextlib.closing(sqlite3.connect(backup)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    for table, columns in CONFIG.items():
        assert rows(backup, table, columns) == rows(original, table, columns), table
    copied, stored = rows(backup, "session"), rows(original, "session")
    assert 5 <= len(copied) <= len(stored) == len(sent)
    assert copied == stored[: len(copied)]  # as the database had them at one moment
    # Restored: a server on the copy answers from it, with the original's key file (the copy
    # holds passwords sealed, and no key goes with it: docs/security.md, "Data at rest").
    key = original.with_name(original.name + ".key")
    restored = start_server(f"sqlite:///{backup}?key_file={key}", tmp_path / "restored.log")
    try:
        answer = radclient_send(radclient, restored, "auth", "User-Name=test,User-Password=test")
        assert "Received Access-Accept" in answer.stdout
        printed = restored.cli("session", "print", "count-only")
        assert printed.stdout.strip() == str(len(copied))
    finally:
        stop_server(restored)
