"""Engines for SQLite (the default, in WAL mode) and PostgreSQL, and schema migration.

SQLite runs with synchronous=FULL unless the URL says otherwise (`?synchronous=normal`): in WAL
mode FULL syncs the log at every commit, so a committed (and acknowledged) accounting record
survives a power cut, not only a killed process; the group-commit writer makes that one sync
per batch. NORMAL syncs only at checkpoints: faster, and durable against a crash of the process.

This module opens connections and brings the schema to the newest Alembic revision; it never
begins or commits a unit of work for the callers (they do that with `with Session.begin():`).
A URL it cannot use (another kind of database, malformed, an SQLite file in a folder that does
not exist) and a database it cannot reach are a `DatabaseError` that says which and why.

Data at rest (docs/security.md): an SQLite file is made with mode 0600 before SQLite opens it
(SQLite gives its -wal and -shm files the same mode), one readable by others is narrowed to 0600
with a warning, and the default folder is made 0700. User passwords and shared secrets are sealed
with the keys of a key file (secrets.py): `?key_file=PATH` in the URL, else $USERMAN_KEY_FILE,
else `<database file>.key` beside an SQLite file; a database server without one stores them
clear, and an in-memory database keeps its key in memory.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool
from sqlalchemy.util import queue as sqla_queue

from userman.core.errors import DatabaseError
from userman.store import logbook  # noqa: F401 - every log row committed, to `userman.log`
from userman.store.secrets import Keyring, attach

__all__ = [
    "SCHEMA_REVISION",
    "Database",
    "default_url",
    "normalize_url",
    "private_dir",
    "private_file",
]

log = logging.getLogger(__name__)

# The newest Alembic revision in migrations/versions (a test checks that they agree). Knowing it
# lets every CLI command skip loading Alembic when the schema is already current.
SCHEMA_REVISION = "0023"

DEFAULT_DATA_DIR = Path("userman-data")  # made on first use; any other folder must exist
REOPEN_WAIT = 10.0  # seconds a transaction waits for the SQLite pool to close its connections
SUPPORTED = "sqlite:///PATH or postgresql://USER@HOST/NAME"
DRIVERS = {"sqlite": ("", "pysqlite"), "postgresql": ("psycopg",)}  # after normalize_url
CONNECT_TIMEOUT = 5  # seconds for PostgreSQL to answer; a connect_timeout in the URL wins
# SQLite's PRAGMA synchronous levels, and the one used unless the URL's ?synchronous= says.
SYNCHRONOUS = ("off", "normal", "full", "extra")
DEFAULT_SYNCHRONOUS = "full"
KEY_FILE_ENV = "USERMAN_KEY_FILE"  # the key file when the URL names none (?key_file=PATH)
PRIVATE = 0o600  # the database, its -wal/-shm, the key file and backups: the owner's only
PRIVATE_DIR = 0o700


def default_url(data_dir: Path = DEFAULT_DATA_DIR) -> str:
    return f"sqlite:///{data_dir / 'userman.db'}"


def normalize_url(url: str) -> str:
    """Accept the short PostgreSQL forms and pick the psycopg 3 driver for them."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _shown(url: str) -> str:
    """The URL for a message: without its password."""
    return re.sub(r"(://[^/@:]*):[^/@]*@", r"\1:***@", url)


def _parse(url: str, given: str) -> URL:
    """The URL (normalized) of a database this module can use, or the DatabaseError that says
    why not, in the words of the URL as `given`."""
    scheme, separator, _ = url.partition("://")
    if not separator or not scheme:
        raise DatabaseError(f'not a database URL: "{_shown(given)}" (use {SUPPORTED})')
    backend, _, driver = scheme.partition("+")
    if backend not in DRIVERS:
        raise DatabaseError(f'unsupported database "{scheme}://" (use {SUPPORTED})')
    if driver not in DRIVERS[backend]:
        raise DatabaseError(f'unsupported driver "{scheme}://" (use {SUPPORTED}: psycopg 3)')
    try:
        parsed = make_url(url)
        port = parsed.port
    except (ArgumentError, ValueError):
        raise DatabaseError(f'malformed database URL "{_shown(given)}"') from None
    if port is not None and not 1 <= port <= 65535:
        raise DatabaseError(f'malformed database URL "{_shown(given)}": port {port} (1-65535)')
    return parsed


def _sqlite_folder(path: str | None) -> None:
    """Make the default folder; refuse a file in any other folder that does not exist."""
    if not path or path == ":memory:":
        return
    folder = Path(path).parent
    if folder == DEFAULT_DATA_DIR:
        private_dir(folder)
    elif not folder.is_dir():
        raise DatabaseError(
            f"cannot open SQLite database {path}: the folder {folder} does not exist "
            f"(only the default {DEFAULT_DATA_DIR}/ is made on its own)"
        )


def private_dir(folder: Path) -> None:
    """Make `folder` (and its parents) if missing, the folder itself with mode 0700; a folder
    that exists is left as it is (its owner chose)."""
    if folder.is_dir():
        return
    folder.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    folder.chmod(PRIVATE_DIR)  # mkdir's mode passes through the umask


def private_file(path: Path) -> None:
    """Make the file `path` with mode 0600 if missing; narrow an existing one that others may
    read or write to 0600, with a warning (it holds secrets: docs/security.md)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
        os.chmod(path, PRIVATE)  # os.open's mode passes through the umask
        return
    except FileExistsError:
        pass
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        try:
            os.chmod(path, mode & 0o700)
        except OSError as error:  # another user's file: say so, and go on
            log.warning(
                "%s is readable by others (mode %o) and cannot be narrowed: %s", path, mode, error
            )
            return
        log.warning("%s was readable by others (mode %o): narrowed to %o", path, mode, mode & 0o700)


def _sqlite_files(path: str | None) -> None:
    """The database file and its -wal and -shm (when there) made or narrowed to 0600 before
    SQLite opens them: SQLite makes the -wal and -shm with the database file's mode."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    private_file(Path(path))
    for suffix in ("-wal", "-shm", "-journal"):
        other = Path(path + suffix)
        if other.exists():
            private_file(other)


def _key_file(parsed: URL, option: str | os.PathLike[str] | None, url: str) -> Path | None:
    """Where the keys of this database are: the command's --key-file (`option`), ?key_file= in
    the URL, $USERMAN_KEY_FILE, or beside the file. Given both ways and not the same, it is an
    error: which key seals is not left to an order of precedence."""
    in_url = parsed.query.get("key_file")
    if option is not None and str(option):
        if isinstance(in_url, str) and in_url and Path(in_url) != Path(option):
            raise DatabaseError(
                f"two key files given: --key-file {option} and ?key_file={in_url} in the"
                f' database URL "{_shown(url)}" (give one)'
            )
        return Path(option)
    given = in_url or os.environ.get(KEY_FILE_ENV)
    if isinstance(given, str) and given:
        return Path(given)
    path = parsed.database
    if parsed.get_backend_name() == "sqlite" and path and path != ":memory:":
        return Path(path + ".key")
    return None


def _synchronous(parsed: URL, given: str) -> str:
    """The SQLite synchronous level the URL asks for (`?synchronous=`), or the default."""
    value = parsed.query.get("synchronous", DEFAULT_SYNCHRONOUS)
    level = value.lower() if isinstance(value, str) else ""
    if level not in SYNCHRONOUS:
        raise DatabaseError(
            f'malformed database URL "{_shown(given)}": synchronous={value!r} '
            f"(use {', '.join(SYNCHRONOUS)})"
        )
    return level


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, synchronous: str) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the server) go on while the CLI writes; `synchronous` says whether a
    # commit waits for the disk (FULL) or only for the operating system (NORMAL).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _read_only_connection(context: ExceptionContext, *, path: str) -> None:
    """SQLite opens a file it may not write read-only, and the connection stays so after the
    file becomes writable ("attempt to write a readonly database", SQLITE_READONLY, for ever).
    Worse, SQLite shares one WAL index (-shm) among all the connections of a process to a file,
    opened the way the first one opened it, until the last of them closes: a connection opened
    after the file became writable is read-only too while any older one is open. So such an
    error is taken as a lost connection (SQLAlchemy discards it), and the pool closes every
    connection before it opens the next (`_ReopeningPool`): the next transaction opens the file
    anew, writing once it may. The -wal and -shm, which SQLite made with the file's mode of the
    time, are given its mode of now. The failed transaction is rolled back and reported as
    before: nothing is acknowledged."""
    error = context.original_exception
    code = getattr(error, "sqlite_errorcode", None)
    readonly = isinstance(code, int) and code & 0xFF == sqlite3.SQLITE_READONLY
    if isinstance(error, sqlite3.OperationalError) and readonly:
        context.is_disconnect = True
        _side_files_as(Path(path))
        pool = context.engine.pool if context.engine is not None else None
        if isinstance(pool, _ReopeningPool):
            pool.reopen()


def _side_files_as(database: Path) -> None:
    """The -wal and -shm of `database` given its owner's read and write bits, as SQLite gives
    them when it makes them: one made while the file was read-only stays so otherwise."""
    try:
        wanted = database.stat().st_mode & 0o600
    except OSError:
        return
    for suffix in ("-wal", "-shm"):
        side = Path(f"{database}{suffix}")
        try:
            mode = side.stat().st_mode & 0o777
            if mode & 0o600 != wanted:
                os.chmod(side, (mode & ~0o600) | wanted)
        except OSError:  # not there, or not ours: SQLite says what it cannot do
            continue


class _ClosingConnection(sqlite3.Connection):
    """An SQLite connection whose close() closes its cursors first.

    Python's sqlite3 closes a connection with sqlite3_close_v2, which leaves it open ("a
    zombie", with its file descriptors and its share of the file's WAL index) while a statement
    of a cursor still alive is not finalized. SQLAlchemy does not close the cursor of a
    statement whose error it takes as a lost connection (SQLITE_READONLY here, below), and that
    cursor lives on in the error's traceback: the connection the pool closed would stay open,
    and the WAL index opened read-only with it, so the pool's connections opened after it would
    be read-only too, for ever."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cursors: weakref.WeakSet[sqlite3.Cursor] = weakref.WeakSet()

    def cursor(self, *args: Any, **kwargs: Any) -> Any:  # Any: sqlite3 types it by overloads
        made = super().cursor(*args, **kwargs)
        self._cursors.add(made)
        return made

    def close(self) -> None:
        for cursor in list(self._cursors):
            with contextlib.suppress(sqlite3.Error):
                cursor.close()
        super().close()


class _ReopeningPool(QueuePool):
    """The SQLite file's pool: a QueuePool that can close all its connections at once.

    After `reopen()` the idle connections are closed at once, those in use when they come back,
    and a thread asking for one waits (up to REOPEN_WAIT seconds) until none is open: only
    then does SQLite let go of the WAL index that was opened read-only. Connections to an
    in-memory database are never reopened (they are the database)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # SQLAlchemy names a pool's logger after its class: under `userman.` this one would
        # write the INFO lines (pool disposed, recreated) that QueuePool's keep to itself.
        self.logger = logging.getLogger("sqlalchemy.pool.impl.QueuePool")
        self._reopening = threading.Condition()
        self._closing = False

    def reopen(self) -> None:
        with self._reopening:
            self._closing = True
            while True:
                try:
                    record = self._pool.get(False)
                except sqla_queue.Empty:
                    break
                self._discard(record)
            self._closed_all()

    def _discard(self, record: ConnectionPoolEntry) -> None:
        try:
            record.close()
        finally:
            self._dec_overflow()

    def _closed_all(self) -> None:
        """Called holding the condition: the closing ends when no connection is open."""
        if self._closing and self.checkedout() + self._pool.qsize() == 0:
            self._closing = False
            self._reopening.notify_all()

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        with self._reopening:
            if self._closing:
                self._discard(record)
                self._closed_all()
                return
        super()._do_return_conn(record)

    def _do_get(self) -> ConnectionPoolEntry:
        if not self._closing:  # the usual case, without the lock
            return super()._do_get()
        with self._reopening:
            # Bounded: a thread that holds a connection while it asks for another would
            # otherwise wait for itself; past the bound it goes on (and may fail read-only).
            self._reopening.wait_for(lambda: not self._closing, REOPEN_WAIT)
        return super()._do_get()


class Database:
    """One engine and its session factory; `session()` hands out a unit of work."""

    def __init__(self, url: str, *, key_file: str | os.PathLike[str] | None = None) -> None:
        self.url = normalize_url(url)
        parsed = _parse(self.url, url)
        self.key_file = _key_file(parsed, key_file, url)
        in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (
            None,
            "",
            ":memory:",
        )
        # The key file is userman's, not the driver's: the engine gets the URL without it.
        parsed = parsed.difference_update_query(["key_file"])
        if parsed.get_backend_name() == "sqlite":
            _sqlite_folder(parsed.database)
            self.synchronous: str | None = _synchronous(parsed, url)
            _sqlite_files(parsed.database)
            # The level is userman's, not the driver's: the engine gets the URL without it.
            self.engine: Engine = create_engine(
                parsed.difference_update_query(["synchronous"]),
                poolclass=None if in_memory else _ReopeningPool,
                connect_args={} if in_memory else {"factory": _ClosingConnection},
            )
            pragmas = functools.partial(_sqlite_pragmas, synchronous=self.synchronous)
            event.listen(self.engine, "connect", pragmas)
            if not in_memory and parsed.database:
                readonly = functools.partial(_read_only_connection, path=parsed.database)
                event.listen(self.engine, "handle_error", readonly)
        else:
            if "synchronous" in parsed.query:
                raise DatabaseError(
                    f'"?synchronous=" is an SQLite setting, not for "{_shown(url)}" (a '
                    "PostgreSQL server's own synchronous_commit decides when a commit is durable)"
                )
            self.synchronous = None
            timeout = (
                {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_TIMEOUT}
            )
            self.engine = create_engine(parsed, pool_pre_ping=True, connect_args=timeout)
        self.keyring = Keyring(self.key_file) if self.key_file is not None or in_memory else None
        attach(self.engine, self.keyring)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Called, in the committing thread, after each `begin()` block that committed: the
        # server's policy in memory reads what the transaction changed (services/policy.py).
        self.after_commit: list[Callable[[], None]] = []

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
        # What the transaction itself asked to be told of its commit (db.info["committed"]),
        # before the listeners: the policy's read that follows sees it (services/claims.py).
        for callback in db.info.get("committed", ()):
            callback()
        for listener in self.after_commit:
            listener()

    def connect(self) -> Connection:
        """A connection, or a DatabaseError naming the server or file and why it cannot be
        reached (the PostgreSQL server's own words: connection refused, no such database)."""
        try:
            return self.engine.connect()
        except OperationalError as error:
            reason = str(error.orig or error).splitlines()[0].rpartition(" failed: ")[2]
            reason = reason.removeprefix("FATAL:").strip()
            reason = reason[:1].lower() + reason[1:]
            parsed = make_url(self.url)
            if self.is_sqlite:
                raise DatabaseError(
                    f"cannot open SQLite database {parsed.database}: {reason}"
                ) from None
            where = (
                f"{parsed.host} port {parsed.port or 5432}" if parsed.host else "its local socket"
            )
            raise DatabaseError(f"cannot connect to PostgreSQL at {where}: {reason}") from None

    def revision(self) -> str | None:
        """The schema revision the database is at, or None when it has no schema yet."""
        with self.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            return None if found is None else str(found)

    def migrate(self) -> None:
        """Bring the schema to the newest revision (creating it on an empty database), in one
        transaction: a migration that stops (a DatabaseError saying why) leaves it as it was."""
        if self.revision() == SCHEMA_REVISION:
            return
        from alembic import command  # noqa: PLC0415 - only loaded when the schema must change
        from alembic.config import Config  # noqa: PLC0415

        config = Config()
        config.set_main_option("script_location", str(files("userman.store") / "migrations"))
        with self.engine.begin() as connection:
            if self.is_sqlite:
                # Python's sqlite3 opens a transaction only before a row is written, so every
                # CREATE or ALTER before that would be committed on its own: begin it now.
                connection.exec_driver_sql("BEGIN")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def dispose(self) -> None:
        self.engine.dispose()
