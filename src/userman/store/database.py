"""Engines for SQLite (the default, in WAL mode) and PostgreSQL, and schema migration.

This module opens connections and brings the schema to the newest Alembic revision; it never
begins or commits a unit of work for the callers (they do that with `with Session.begin():`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["SCHEMA_REVISION", "Database", "default_url", "normalize_url"]

# The newest Alembic revision in migrations/versions (a test checks that they agree). Knowing it
# lets every CLI command skip loading Alembic when the schema is already current.
SCHEMA_REVISION = "0012"

DEFAULT_DATA_DIR = Path("userman-data")


def default_url(data_dir: Path = DEFAULT_DATA_DIR) -> str:
    return f"sqlite:///{data_dir / 'userman.db'}"


def normalize_url(url: str) -> str:
    """Accept the short PostgreSQL forms and pick the psycopg 3 driver for them."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the server) go on while the CLI writes; NORMAL is durable in WAL mode
    # against process crashes, which is what an acknowledged accounting record needs.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Database:
    """One engine and its session factory; `session()` hands out a unit of work."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "sqlite":
            path = parsed.database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(self.url)
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(self.url, pool_pre_ping=True)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def data_dir(self) -> Path:
        """The folder of an SQLite database file; ./userman-data for a database server."""
        path = make_url(self.url).database
        if self.is_sqlite and path and path != ":memory:":
            return Path(path).parent
        return DEFAULT_DATA_DIR

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def session(self) -> Session:
        return self._sessions()

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        with self._sessions.begin() as db:
            yield db

    def revision(self) -> str | None:
        """The schema revision the database is at, or None when it has no schema yet."""
        with self.engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            return None if found is None else str(found)

    def migrate(self) -> None:
        """Bring the schema to the newest revision (creating it on an empty database)."""
        if self.revision() == SCHEMA_REVISION:
            return
        from alembic import command  # noqa: PLC0415 - only loaded when the schema must change
        from alembic.config import Config  # noqa: PLC0415

        config = Config()
        config.set_main_option("script_location", str(files("userman.store") / "migrations"))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def dispose(self) -> None:
        self.engine.dispose()
