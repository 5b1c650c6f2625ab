"""What the policy in memory reads (services/policy.py): rows by table and id, users' rows, and
the change log that the triggers of migration 0014 write.

Core statements, one per table and chunk of ids, no ORM objects. The change log is read from a
`Cursor`: on SQLite by id (one writer at a time: ids are in commit order); on PostgreSQL, where a
sequence is not, by writing transaction: every change of a transaction that may not have been
visible at the last read is read again, and the ones already taken are skipped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, Table, delete, func, or_, select, text
from sqlalchemy.orm import Session

from userman.core.profiles import ProfileState
from userman.store import models

__all__ = [
    "CONFIG_TABLES",
    "USER_COLUMNS",
    "Change",
    "Cursor",
    "Mark",
    "begin_marked",
    "begin_written",
    "config_rows",
    "mark",
    "prune",
    "read_changes",
    "start_cursor",
    "user_rows",
]

CHUNK = 500  # ids per `IN (...)`
CHUNK_ALL = 20_000  # users per part of a full load: what is held at once beside the policy

# The tables whose rows the policy keeps by id (the users' own rows are read per user).
CONFIG_TABLES: dict[str, Table] = {
    name: models.Base.metadata.tables[name]
    for name in (
        "customer",
        "profile",
        "limitation",
        "profile_limitation",
        "user_group",
        "attribute",
    )
}

# The user's columns a decision reads; the user trigger (migration 0014's, since 0022 with the
# otp columns) watches the same ones, each migration keeping its own frozen copy of the list.
USER_COLUMNS = (
    "id",
    "subscriber_id",
    "customer_id",
    "username",
    "password",
    "disabled",
    "shared_users",
    "caller_id",
    "caller_id_bind_on_first_use",
    "ip_address",
    "ipv6_dns",
    "wireless_enc_algo",
    "wireless_enc_key",
    "wireless_psk",
    "group_id",
    "attributes",
    "otp_secret",
    "otp_step",
)


def _chunks(ids: Collection[int] | None) -> Iterator[list[int] | None]:
    if ids is None:
        yield None
        return
    ordered = sorted(ids)
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


def config_rows(db: Session, table: str, ids: Collection[int] | None = None) -> list[Row[Any]]:
    """The rows of a CONFIG_TABLES table with these ids (None: all), in id order."""
    found: list[Row[Any]] = []
    source = CONFIG_TABLES[table]
    for chunk in _chunks(ids):
        stmt = select(source)
        if chunk is not None:
            stmt = stmt.where(source.c.id.in_(chunk))
        found.extend(db.execute(stmt.order_by(source.c.id)))
    return found


@dataclass(slots=True)
class UserRows:
    """The rows of some users: theirs, their entries not used up (id order), and their
    sessions that are open or ended at or after a moment."""

    # Rows (named tuples) of USER_COLUMNS, of the entries' and the sessions' columns below.
    users: list[Any] = field(default_factory=list)
    entries: list[Any] = field(default_factory=list)
    sessions: list[Any] = field(default_factory=list)


def user_rows(
    db: Session, ids: Collection[int] | None, since: dt.datetime, *, after: int = 0
) -> UserRows:
    """The rows of the users with these ids; with None, of the next CHUNK_ALL users by id
    after `after` (a full load goes through every user that way, a part at a time)."""
    tables = models.Base.metadata.tables
    user, entry, session = tables["user"], tables["user_profile"], tables["session"]
    rows = UserRows()
    for chunk in _chunks(ids) if ids is not None else [None]:
        users = select(*(user.c[name] for name in USER_COLUMNS))
        if chunk is not None:
            users = users.where(user.c.id.in_(chunk))
        else:
            users = users.where(user.c.id > after).order_by(user.c.id).limit(CHUNK_ALL)
        found = db.execute(users).all()
        rows.users.extend(found)
        if not found:
            continue
        entries = select(
            entry.c.id,
            entry.c.user_id,
            entry.c.profile_id,
            entry.c.state,
            entry.c.start_time,
            entry.c.end_time,
            entry.c.uptime_used,
            entry.c.download_used,
            entry.c.upload_used,
        ).where(entry.c.state != ProfileState.USED)
        sessions = select(
            session.c.id,
            session.c.user_id,
            session.c.till_time,
            session.c.active,
            session.c.uptime,
            session.c.download,
            session.c.upload,
        ).where(
            session.c.user_id.is_not(None),
            or_(session.c.active.is_(True), session.c.till_time >= since),
        )
        if chunk is not None:
            entries = entries.where(entry.c.user_id.in_(chunk))
            sessions = sessions.where(session.c.user_id.in_(chunk))
        else:
            first, last = found[0].id, found[-1].id
            entries = entries.where(entry.c.user_id.between(first, last))
            sessions = sessions.where(session.c.user_id.between(first, last))
        rows.entries.extend(db.execute(entries.order_by(entry.c.id)))
        rows.sessions.extend(db.execute(sessions))
    return rows


@dataclass(frozen=True, slots=True)
class Change:
    table: str
    row_id: int
    user_id: int | None
    id: int = 0  # its row's id in the change log
    xid: int = 0  # PostgreSQL: the transaction that wrote it


@dataclass(frozen=True, slots=True)
class Mark:
    """Which rows of the change log one transaction wrote: on SQLite those with an id in
    (after, upto] (the transaction held the write lock from its first statement: nobody else
    wrote between), on PostgreSQL those of its transaction id."""

    after: int = 0
    upto: int = 0
    xid: int | None = None

    def holds(self, change: Change) -> bool:
        if self.xid is not None:
            return change.xid == self.xid
        return self.after < change.id <= self.upto

    def passed(self, cursor: Cursor) -> bool:
        """Whether a reader at `cursor` has read past (or loaded) this transaction's changes."""
        if self.xid is not None:
            return self.xid < cursor.xmin or self.xid in cursor.taken.values()
        return self.upto <= cursor.last_id


@dataclass(slots=True)
class Cursor:
    """Where a reader of the change log stands."""

    last_id: int = 0  # SQLite: every change up to this id was read
    # PostgreSQL: the oldest transaction that may have been running at the last read (its
    # changes and every later one's are read again), and the changes already taken since.
    xmin: int = 0
    taken: dict[int, int] = field(default_factory=dict)  # change id -> its transaction


def _postgres(db: Session) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def _xmin(db: Session) -> int:
    return int(db.scalar(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")))


def start_cursor(db: Session) -> Cursor:
    """A cursor before every change not yet visible: call it before reading the tables."""
    if _postgres(db):
        # The changes already visible are in what is read next: taken, not read again.
        table = models.Base.metadata.tables["policy_change"]
        xmin = _xmin(db)
        rows = db.execute(select(table.c.id, table.c.xid).where(table.c.xid >= xmin))
        return Cursor(xmin=xmin, taken={row.id: row.xid for row in rows})
    return Cursor(last_id=_newest_change(db))


def _newest_change(db: Session) -> int:
    table = models.Base.metadata.tables["policy_change"]
    return db.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0


def begin_marked(db: Session) -> int:
    """Begin a write transaction whose changes `mark` can tell apart, before its first
    statement: on SQLite, take the write lock now (`begin_written`) and return the newest
    change's id; 0 on PostgreSQL."""
    if _postgres(db):
        return 0
    begin_written(db)
    return _newest_change(db)


def begin_written(db: Session) -> None:
    """On SQLite, begin the write transaction now, holding the write lock (BEGIN IMMEDIATE;
    unless the transaction has written already, and so holds it): Python's sqlite3 begins one
    only before a row is written, and a SAVEPOINT outside one would be a transaction of its
    own, committed at its RELEASE. PostgreSQL's transaction has begun already."""
    if _postgres(db):
        return
    connection = db.connection()
    if not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def mark(db: Session, began: int) -> Mark:
    """The changes this transaction wrote since `begin_marked` returned `began`."""
    if _postgres(db):
        return Mark(xid=int(db.scalar(text("SELECT pg_current_xact_id()::text::bigint"))))
    return Mark(after=began, upto=_newest_change(db))


def read_changes(db: Session, cursor: Cursor, limit: int) -> list[Change] | None:
    """The changes since `cursor`, which moves past them; None when there are more than
    `limit`, or some were pruned before they were read (read everything again instead)."""
    table = models.Base.metadata.tables["policy_change"]
    columns = (table.c.id, table.c.table_name, table.c.row_id, table.c.user_id, table.c.xid)
    if not _postgres(db):
        first = db.scalar(select(func.min(table.c.id)))
        if cursor.last_id and first is not None and first > cursor.last_id + 1:
            return None  # pruned before this reader saw them
        newer = select(*columns).where(table.c.id > cursor.last_id)
        rows = db.execute(newer.order_by(table.c.id).limit(limit + 1)).all()
        if len(rows) > limit:
            return None
        if rows:
            cursor.last_id = rows[-1].id
        return [Change(row.table_name, row.row_id, row.user_id, row.id) for row in rows]
    # Every transaction older than `xmin` had ended before this statement: the next one, with a
    # snapshot of its own, sees all of their changes.
    xmin = _xmin(db)
    rows = db.execute(select(*columns).where(table.c.xid >= cursor.xmin).order_by(table.c.id)).all()
    fresh = [row for row in rows if row.id not in cursor.taken]
    if len(fresh) > limit:
        return None
    taken = {row.id: row.xid for row in rows}
    cursor.taken = {key: xid for key, xid in taken.items() if xid >= xmin}
    cursor.xmin = xmin
    return [Change(row.table_name, row.row_id, row.user_id, row.id, row.xid) for row in fresh]


def prune(db: Session, before: dt.datetime) -> int:
    """Delete the changes written before `before`, but never the newest (on SQLite the next
    id follows it). How many were deleted."""
    table = models.Base.metadata.tables["policy_change"]
    newest = select(func.max(table.c.id)).scalar_subquery()
    result = db.execute(delete(table).where(table.c.at < before, table.c.id < newest))
    return int(result.rowcount)  # type: ignore[attr-defined]
