"""Prepared databases: the schema migrated and the default customer made (`Userman.prepare`) once
per test run, then copied (SQLite) or restored (PostgreSQL) for each test that wants one, so that
a test of what the services do does not pay for every migration again (2 s on PostgreSQL).

The migrations themselves still run, on empty databases (`db_url`), in tests/store/test_database.py
and wherever a test starts from nothing; a prepared database is what `prepare` left, row for row.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sqlalchemy import MetaData, create_engine, inspect, text
from sqlalchemy.engine import Connection

from userman.services import Userman
from userman.store.database import PRIVATE, SCHEMA_REVISION, normalize_url


def make_sqlite_template(path: Path) -> Path:
    """An SQLite database at `path`, prepared, closed (its WAL folded into the file)."""
    app = Userman(f"sqlite:///{path}")
    app.prepare()
    app.close()
    return path


def copy_sqlite(template: Path, path: Path) -> str:
    """A copy of the prepared `template` (and its key file, if it made one) at `path`, mode 0600
    as `userman` makes its own; its URL."""
    for source, target in ((template, path), (_key(template), _key(path))):
        if source.exists():
            shutil.copyfile(source, target)
            os.chmod(target, PRIVATE)
    return f"sqlite:///{path}"


def _key(database: Path) -> Path:
    return database.with_name(database.name + ".key")


class PostgresTemplate:
    """A PostgreSQL database kept as `prepare` leaves it: `reset` puts back its rows and its
    sequences after a test (TRUNCATE, the saved rows, setval), with the triggers off while the
    rows go back in (session_replication_role), so that they log no change of their own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(normalize_url(url))
        self._save()

    def _save(self) -> None:
        app = Userman(self.url)
        app.prepare()
        app.close()
        self.metadata = MetaData()
        with self.engine.connect() as connection:
            self.metadata.reflect(connection)
            self.rows = {
                table.name: [dict(row._mapping) for row in connection.execute(table.select())]
                for table in self.metadata.sorted_tables
            }
            self.sequences = {
                name: connection.execute(text(f'SELECT last_value, is_called FROM "{name}"')).one()
                for name in connection.execute(
                    text(
                        "SELECT sequence_name FROM information_schema.sequences"
                        " WHERE sequence_schema = 'public'"
                    )
                ).scalars()
            }

    def _same_schema(self, connection: Connection) -> bool:
        tables = set(inspect(connection).get_table_names())
        if tables != set(self.metadata.tables) or "alembic_version" not in tables:
            return False
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return revision == SCHEMA_REVISION

    def reset(self) -> None:
        """Back to the prepared state; a test that changed the schema itself gets it anew."""
        with self.engine.begin() as connection:
            if not self._same_schema(connection):
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
                same = False
            else:
                same = True
                names = ", ".join(f'"{table.name}"' for table in self.metadata.sorted_tables)
                connection.execute(text(f"TRUNCATE {names} CASCADE"))
                connection.execute(text("SET LOCAL session_replication_role = replica"))
                for table in self.metadata.sorted_tables:
                    if self.rows[table.name]:
                        connection.execute(table.insert(), self.rows[table.name])
                for name, (value, called) in self.sequences.items():
                    connection.execute(
                        text("SELECT setval(:name, :value, :called)"),
                        {"name": f'"{name}"', "value": value, "called": called},
                    )
        if not same:
            self._save()

    def dispose(self) -> None:
        self.engine.dispose()
