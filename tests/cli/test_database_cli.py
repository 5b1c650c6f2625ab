"""`userman database set|print|prune|optimize` and `database save format=sqlite` from the shell
(services/retention.py, services/maintenance.py, services/backup.py)."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path


def test_retention_from_the_shell(run) -> None:  # type: ignore[no-untyped-def]
    assert run("database", "print").stdout.split() == [
        "allow-private-destinations:", "no", "allow-local-coa:", "no",
        "certificate:", "none", "radsec-certificate:", "none", "trusted-ca:", "none",
        "eap-fragment-size:", "1024",
        "keep-sessions:", "forever", "keep-log:", "forever",
    ]  # fmt: skip
    assert run("database", "prune").stdout == (
        "nothing to prune: keep-sessions and keep-log are forever (database set)\n"
    )
    run("database", "set", "keep-sessions=365d", "keep-log=30d")
    assert run("database", "print").stdout.split() == [
        "allow-private-destinations:", "no", "allow-local-coa:", "no",
        "certificate:", "none", "radsec-certificate:", "none", "trusted-ca:", "none",
        "eap-fragment-size:", "1024",
        "keep-sessions:", "52w1d", "keep-log:", "4w2d",
    ]  # fmt: skip
    bad = run("database", "set", "keep-log=1h", ok=False)
    assert (bad.exit_code, bad.stderr) == (1, "failure: keep-log: keep at least 1d, or forever\n")
    pruned = run("database", "prune")
    assert pruned.stdout == "pruned 0 sessions (into 0 new day totals) and 0 log entries\n"
    optimized = run("database", "optimize")
    assert optimized.stdout == "optimized the database: VACUUM; ANALYZE; PRAGMA optimize\n"
    refused = run("--as", "admin", "database", "prune", ok=False)
    assert "failure: not permitted: needs the superuser" in refused.stderr


def test_a_copy_of_the_whole_database(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("user", "add", "username=ann", "password=secret")
    copy = tmp_path / "copy"
    assert run("database", "save", f"name={copy}", "format=sqlite").stdout == (
        f"copied the database to {copy}.sqlite\n"
    )
    saved = Path(f"{copy}.sqlite")
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    with sqlite3.connect(saved) as db:
        assert db.execute("SELECT username FROM user").fetchall() == [("ann",)]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    again = run("database", "save", f"name={copy}", "format=sqlite", ok=False)
    assert "exists (overwrite=yes replaces it)" in again.stderr
    run("database", "save", f"name={copy}", "format=sqlite", "overwrite=yes")
    bad = run("database", "save", "name=x", "format=zip", ok=False)
    assert bad.stderr == "failure: format: one of umb, sqlite\n"
    run("database", "save", f"name={tmp_path / 'all'}")
    assert stat.S_IMODE((tmp_path / "all.umb").stat().st_mode) == 0o600
