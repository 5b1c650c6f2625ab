"""Keeping the database file in shape: `optimize` (VACUUM and fresh planner statistics) and an
online copy of an SQLite database through SQLite's backup API.

VACUUM cannot run inside a transaction (on either database), so `optimize` runs its statements
on a connection in autocommit mode, not in a unit of work of the callers'.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from userman.store.database import Database

__all__ = ["OPTIMIZE", "copy_sqlite", "optimize"]

# What `optimize` runs on each database, in order.
OPTIMIZE = {
    # VACUUM rewrites the file without the free pages that deletions left (the file shrinks);
    # ANALYZE refreshes the planner's statistics, PRAGMA optimize whatever else it finds due.
    "sqlite": ("VACUUM", "ANALYZE", "PRAGMA optimize"),
    # VACUUM ANALYZE marks dead rows' space reusable and refreshes the statistics, without the
    # exclusive lock of VACUUM FULL: the server goes on answering.
    "postgresql": ("VACUUM ANALYZE",),
}


def optimize(database: Database) -> tuple[str, ...]:
    """Run OPTIMIZE's statements for the database, each committed on its own; what ran."""
    statements = OPTIMIZE[database.engine.dialect.name]
    with database.engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        for statement in statements:
            autocommit.execute(text(statement))
    return statements


def copy_sqlite(db: Session, target: Path) -> None:
    """Copy the SQLite database `db` reads into a new file `target` (mode 0600), consistent as
    of one moment while other connections go on writing: the backup API copies every page in
    one step under a read lock (in WAL mode writers are not held up)."""
    source = db.connection().connection.driver_connection
    assert isinstance(source, sqlite3.Connection)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(descriptor)
    try:
        with contextlib.closing(sqlite3.connect(target)) as copy:
            source.backup(copy)
            # The copy is one file, in the journal mode the server sets again when it opens it.
            copy.execute("PRAGMA journal_mode=DELETE")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
