"""The statements of the accounting writer, in SQLAlchemy Core: a batch reads its rows in three
SELECTs and writes them with a few executemany INSERTs and UPDATEs, with no ORM object per record.

Rows come back as plain values (the core's `SessionState` for a session), so the caller works
on them in memory. Counters are written as `column + what the batch counted`, so two writers
(two server nodes) never lose each other's counts. Every function takes the caller's unit of
work `db` and never commits.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Select,
    Table,
    and_,
    bindparam,
    case,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from userman.core.accounting import CLOSE_ACKED, SessionState
from userman.core.context import RequestContext
from userman.store import logbook, models, rendered

__all__ = [
    "EntryRow",
    "SessionRow",
    "UserRow",
    "add_entry_usage",
    "add_user_usage",
    "close_open_sessions",
    "close_stale_sessions",
    "insert_log",
    "insert_sessions",
    "latest_sessions",
    "running_entries",
    "update_sessions",
    "users",
]

SESSION: Table = models.UserSession.__table__  # type: ignore[assignment]
USER: Table = models.User.__table__  # type: ignore[assignment]
USER_PROFILE: Table = models.UserProfile.__table__  # type: ignore[assignment]
LOG: Table = models.LogEntry.__table__  # type: ignore[assignment]

# Keys per IN list: well under the bound parameters any supported SQLite or PostgreSQL takes.
CHUNK = 400

# The words of a session's `status` column, in the order `session print` shows them.
STATUS_WORDS = ("start", "interim", "stop", CLOSE_ACKED)

T = TypeVar("T")


def _chunks(values: Collection[T]) -> Iterator[list[T]]:
    it = iter(values)
    while chunk := list(islice(it, CHUNK)):
        yield chunk


def status_text(words: Collection[str]) -> str:
    """A session's status set as its column holds it."""
    return ",".join(w for w in STATUS_WORDS if w in words)


@dataclass(slots=True)
class SessionRow:
    """A session row as the writer holds it: its id (None until inserted), what identifies it,
    its state and the request context it was last reported with."""

    id: int | None
    subscriber_id: int
    customer_id: int
    router_id: int
    user_id: int | None
    state: SessionState
    context: dict[str, Any]


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    subscriber_id: int
    customer_id: int
    username: str


@dataclass(frozen=True, slots=True)
class EntryRow:
    """A user's running user-profile entry: when it runs, to tell which records count for it."""

    id: int
    user_id: int
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    uptime_used: int = 0  # its counters as read (under the batch's lock)
    download_used: int = 0
    upload_used: int = 0


_SESSION_COLUMNS = (
    SESSION.c.id,
    SESSION.c.subscriber_id,
    SESSION.c.customer_id,
    SESSION.c.router_id,
    SESSION.c.user_id,
    SESSION.c.username,
    SESSION.c.status,
    SESSION.c.from_time,
    SESSION.c.till_time,
    SESSION.c.uptime,
    SESSION.c.download,
    SESSION.c.upload,
    SESSION.c.active,
    SESSION.c.terminate_cause,
    *(SESSION.c[column] for column in RequestContext.COLUMNS),
)


def _by_first(keys: Collection[tuple[int, T]]) -> Iterator[dict[int, list[T]]]:
    """Keys grouped by their first part (router, subscriber), at most CHUNK keys a group."""
    it = iter(keys)
    while chunk := list(islice(it, CHUNK)):
        groups: dict[int, list[T]] = {}
        for first, second in chunk:
            groups.setdefault(first, []).append(second)
        yield groups


@functools.cache
def _sessions_of(routers: int) -> Select[Any]:
    """The sessions with some Acct-Session-Ids from each of `routers` routers: an OR of one
    `router_id = ? AND acct_session_id IN (...)` per router, which SQLite answers from the
    index (a row value `(router_id, acct_session_id) IN (...)` it answers by a scan)."""
    return (
        select(*_SESSION_COLUMNS)
        .where(
            or_(
                *(
                    and_(
                        SESSION.c.router_id == bindparam(f"router{n}"),
                        SESSION.c.acct_session_id.in_(bindparam(f"ids{n}", expanding=True)),
                    )
                    for n in range(routers)
                )
            )
        )
        .order_by(SESSION.c.id)
    )


def latest_sessions(
    db: Session, keys: Collection[tuple[int, str]]
) -> dict[tuple[int, str], SessionRow]:
    """The newest session, open or closed, of each (router id, Acct-Session-Id): one SELECT
    (per CHUNK keys)."""
    found: dict[tuple[int, str], SessionRow] = {}
    connection = db.connection()
    for groups in _by_first(keys):
        params: dict[str, Any] = {}
        for n, (router_id, ids) in enumerate(groups.items()):
            params[f"router{n}"], params[f"ids{n}"] = router_id, ids
        for row in connection.execute(_sessions_of(len(groups)), params).all():
            (row_id, subscriber_id, customer_id, router_id, user_id, username, status) = row[:7]
            (from_time, till_time, uptime, download, upload, active, cause) = row[7:14]
            context = dict(zip(RequestContext.COLUMNS, row[14:], strict=True))
            acct_session_id = context["acct_session_id"]
            words = frozenset(filter(None, status.split(",")))
            state = SessionState(
                acct_session_id, username, words, from_time, till_time, uptime, download,
                upload, active, cause,
            )  # fmt: skip
            # A newer row (a higher id) replaces an older one.
            found[(router_id, acct_session_id)] = SessionRow(
                row_id, subscriber_id, customer_id, router_id, user_id, state, context
            )
    return found


@functools.cache
def _users_named(subscribers: int) -> Select[Any]:
    """The users with some usernames in each of `subscribers` subscribers, or with some ids."""
    columns = (USER.c.id, USER.c.subscriber_id, USER.c.customer_id, USER.c.username)
    named = (
        and_(
            USER.c.subscriber_id == bindparam(f"subscriber{n}"),
            USER.c.username.in_(bindparam(f"names{n}", expanding=True)),
        )
        for n in range(subscribers)
    )
    return select(*columns).where(or_(*named, USER.c.id.in_(bindparam("ids", expanding=True))))


def users(db: Session, names: Collection[tuple[int, str]], ids: Collection[int]) -> list[UserRow]:
    """The users named by (subscriber id, username), and those with these ids: one SELECT
    (per CHUNK names)."""
    found: list[UserRow] = []
    connection = db.connection()
    chunks = list(_by_first(names)) or [{}]
    for n, groups in enumerate(chunks):
        params: dict[str, Any] = {"ids": list(ids) if n == 0 else []}
        for m, (subscriber_id, usernames) in enumerate(groups.items()):
            params[f"subscriber{m}"], params[f"names{m}"] = subscriber_id, usernames
        rows = connection.execute(_users_named(len(groups)), params).all()
        found.extend(UserRow(*row) for row in rows)
    return found


_ENTRY_COLUMNS = (
    "id",
    "user_id",
    "start_time",
    "end_time",
    "uptime_used",
    "download_used",
    "upload_used",
)
# On PostgreSQL the entries are locked until the batch commits: the counters read are those
# the batch adds to (SQLite's batch holds the database's write lock from its first statement).
_RUNNING = (
    select(*(USER_PROFILE.c[name] for name in _ENTRY_COLUMNS))
    .where(
        USER_PROFILE.c.user_id.in_(bindparam("users", expanding=True)),
        USER_PROFILE.c.state == "running",
    )
    .order_by(USER_PROFILE.c.id)
    .with_for_update()
)


def running_entries(db: Session, user_ids: Collection[int]) -> dict[int, EntryRow]:
    """The running user-profile entry of each of these users, by user id: one SELECT (per
    CHUNK users)."""
    found: dict[int, EntryRow] = {}
    connection = db.connection()
    for chunk in _chunks(user_ids):
        for row in connection.execute(_RUNNING, {"users": chunk}).all():
            found.setdefault(row[1], EntryRow(*row))  # only one runs; the oldest, as read
    return found


def close_open_sessions(db: Session, router_id: int, now: dt.datetime, cause: str) -> set[int]:
    """Close the router's open sessions as of `now` (their till-time at least `now`); the ids of
    their users."""
    connection = db.connection()
    user_ids = connection.scalars(
        select(SESSION.c.user_id)
        .distinct()
        .where(
            SESSION.c.router_id == router_id,
            SESSION.c.active.is_(True),
            SESSION.c.user_id.is_not(None),
        )
    )
    found = {user_id for user_id in user_ids if user_id is not None}
    at = literal(now, SESSION.c.till_time.type)  # stored as the column stores its times
    connection.execute(
        update(SESSION)
        .where(SESSION.c.router_id == router_id, SESSION.c.active.is_(True))
        .values(
            active=False,
            till_time=case((SESSION.c.till_time < at, at), else_=SESSION.c.till_time),
            terminate_cause=cause,
        )
    )
    return found


def close_stale_sessions(db: Session, older_than: dt.datetime, cause: str) -> list[int | None]:
    """Close the open sessions last reported before `older_than`; their users' ids, one per
    session closed (None for a session of no known user)."""
    connection = db.connection()
    stale = SESSION.c.active.is_(True), SESSION.c.till_time < older_than
    rows = connection.execute(select(SESSION.c.id, SESSION.c.user_id).where(*stale)).all()
    for chunk in _chunks([row.id for row in rows]):
        connection.execute(
            update(SESSION)
            .where(SESSION.c.id.in_(chunk), *stale)
            .values(active=False, terminate_cause=cause)
        )
    return [row.user_id for row in rows]


_CHANGING = ("status", "till_time", "uptime", "download", "upload", "active", "terminate_cause")
_CONTEXT = RequestContext.COLUMNS


def _changing(row: SessionRow) -> tuple[Any, ...]:
    """The values of _CHANGING and the request context, in that order."""
    state, context = row.state, row.context
    return (
        status_text(state.status),
        state.till_time,
        state.uptime,
        state.download,
        state.upload,
        state.active,
        state.terminate_cause,
        *(context[column] for column in _CONTEXT),
    )


_INSERT = insert(SESSION)
_INSERT_SESSIONS = _INSERT.returning(SESSION.c.id)
_INSERTED = (
    "subscriber_id",
    "customer_id",
    "router_id",
    "user_id",
    "username",
    "from_time",
    *_CHANGING,
    *_CONTEXT,
)
# Rows a multi-row INSERT holds: a batch's new sessions go in a few statements of these sizes
# (200 = 128 + 64 + 8), so that only these few shapes are ever rendered.
_INSERT_SIZES = (256, 128, 64, 32, 16, 8, 4, 2, 1)


def _insert_one(connection: Connection, value: dict[str, Any]) -> int:
    key = connection.execute(_INSERT, value).inserted_primary_key
    assert key is not None
    return int(key[0])


def insert_sessions(db: Session, rows: Sequence[SessionRow]) -> None:
    """Insert new sessions (multi-row INSERTs ... RETURNING id) and give each its id."""
    if not rows:
        return
    values = [
        (
            row.subscriber_id,
            row.customer_id,
            row.router_id,
            row.user_id,
            row.state.username,
            row.state.from_time,
            *_changing(row),
        )
        for row in rows
    ]
    ids: list[int] = []
    if db.get_bind().dialect.insert_returning:
        at = 0
        for size in _INSERT_SIZES:
            while len(values) - at >= size:
                ids += rendered.insert_returning_ids(
                    db, _INSERT_SESSIONS, _INSERTED, values[at : at + size]
                )
                at += size
    else:  # SQLite before 3.35 has no RETURNING: one INSERT each
        connection = db.connection()
        ids = [
            _insert_one(connection, dict(zip(_INSERTED, value, strict=True))) for value in values
        ]
    for row, new_id in zip(rows, ids, strict=True):
        row.id = new_id


_UPDATED = ("row_id", *_CHANGING, *_CONTEXT)
_UPDATE_SESSIONS = (
    update(SESSION)
    .where(SESSION.c.id == bindparam("row_id"))
    .values({name: bindparam(name) for name in (*_CHANGING, *_CONTEXT)})
)


def update_sessions(db: Session, rows: Sequence[SessionRow]) -> None:
    """Write the new state of stored sessions: one executemany UPDATE by id."""
    rendered.executemany(
        db, _UPDATE_SESSIONS, _UPDATED, [(row.id, *_changing(row)) for row in rows]
    )


_USAGE = ("uptime", "download", "upload")
# Each counter as `column + what was counted`: no concurrent writer's count is lost.
_ADD_USER_USAGE = (
    update(USER)
    .where(USER.c.id == bindparam("row_id"))
    .values(
        last_seen=bindparam("seen"),
        **{f"{name}_used": USER.c[f"{name}_used"] + bindparam(name) for name in _USAGE},
    )
)
_ADD_ENTRY_USAGE = (
    update(USER_PROFILE)
    .where(USER_PROFILE.c.id == bindparam("row_id"))
    .values(**{f"{name}_used": USER_PROFILE.c[f"{name}_used"] + bindparam(name) for name in _USAGE})
)


def add_user_usage(db: Session, counted: Mapping[int, tuple[dt.datetime, Sequence[int]]]) -> None:
    """Add to each user's counters what the batch counted, and set when it was last seen:
    {user id: (last seen, (uptime, download, upload))}, one executemany UPDATE."""
    values = [(user_id, seen, *used) for user_id, (seen, used) in counted.items()]
    rendered.executemany(db, _ADD_USER_USAGE, ("row_id", "seen", *_USAGE), values)


def add_entry_usage(db: Session, counted: Mapping[int, Sequence[int]]) -> None:
    """Add to each user-profile entry's counters what the batch counted: {entry id: (uptime,
    download, upload)}, one executemany UPDATE."""
    values = [(entry_id, *used) for entry_id, used in counted.items()]
    rendered.executemany(db, _ADD_ENTRY_USAGE, ("row_id", *_USAGE), values)


_INSERT_LOG = insert(LOG)


def insert_log(db: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert log rows (each with every column of the log's accounting rows, the same keys in
    each): one executemany INSERT."""
    if rows:
        names = tuple(rows[0])
        rendered.executemany(db, _INSERT_LOG, names, [tuple(row[n] for n in names) for row in rows])
        logbook.note(db, rows)
