"""Many rows of one table at once, for an import at operator scale (services/bulk.py).

`insert_rows` writes rows with one executemany and gives each back as the database holds it
(RETURNING, in the rows' order), so that the caller learns their ids and can record them in
history exactly as a flush read back would. Each row gets, for the columns it does not give,
the column's own default, as the ORM's INSERT would: every row then has the same columns, which
one executemany needs. Never begins or commits a transaction itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import RowMapping, Select, Table, insert, select, update
from sqlalchemy.orm import Session

from userman.core.profiles import ProfileState
from userman.store import models
from userman.store.secrets import sealed_columns, stored_columns

__all__ = [
    "OrderError",
    "discard_undone",
    "has_running_profile",
    "insert_history",
    "insert_rows",
    "username_taken",
    "usernames",
    "users",
]

CHUNK = 5_000  # rows per call (SQLAlchemy pages them further): bounded memory for RETURNING


def _defaults(table: Table) -> dict[str, Any]:
    """Each column's value when a row does not give one (ids come from the database)."""
    found: dict[str, Any] = {}
    for column in table.columns:
        if column.primary_key:
            continue
        default = column.default
        if default is None:
            found[column.name] = None
        elif default.is_scalar:
            found[column.name] = default.arg  # type: ignore[attr-defined]
        else:  # pragma: no cover - no table of ours has a computed default
            raise ValueError(f"{table.name}.{column.name} has a default only the ORM computes")
    return found


_DEFAULTS: dict[str, dict[str, Any]] = {}


class OrderError(Exception):
    """The rows a statement gave back do not line up with the rows given: the caller writes
    them another way."""


def insert_rows(db: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> list[RowMapping]:
    """Insert `rows` into `table` in their order; each as stored, its id among its columns.

    One multi-row INSERT ... RETURNING per page of rows. RETURNING's order is not promised
    (SQLAlchemy's sort_by_parameter_order falls back to a statement per row on SQLite), but the
    ids are given in the order of the VALUES, on SQLite (rowid) and PostgreSQL (the sequence)
    alike: the rows back sorted by id are the rows given, in order. Each is checked against its
    row's text and numbers all the same, and `OrderError` is raised when one differs (the
    caller's savepoint then undoes them).
    """
    base = _DEFAULTS.get(table.name)
    if base is None:
        base = _DEFAULTS[table.name] = _defaults(table)
    # Sealed values (passwords, secrets) come back as stored, for the history, as the ORM's
    # path keeps them (services/history.py); they are left out of the check of the order.
    stmt = insert(table).returning(*stored_columns(table))
    sealed = {column.name for column in sealed_columns(table)}
    stored: list[RowMapping] = []
    for start in range(0, len(rows), CHUNK):
        given = rows[start : start + CHUNK]
        back = sorted(db.execute(stmt, [{**base, **row} for row in given]).mappings(), key=_id)
        if len(back) != len(given) or any(
            _differs(row, got, sealed) for row, got in zip(given, back, strict=True)
        ):
            raise OrderError(table.name)
        stored.extend(back)
    return stored


def _id(row: RowMapping) -> int:
    return int(row["id"])


def _differs(given: Mapping[str, Any], back: RowMapping, sealed: set[str]) -> bool:
    """Whether a row given and a row stored differ in a text or a number (other values may
    come back in another type: times, decimals; sealed ones as stored, not given)."""
    return any(
        type(value) in (str, int) and name not in sealed and back[name] != value
        for name, value in given.items()
    )


HISTORY: Table = models.HistoryEntry.__table__  # type: ignore[assignment]


def discard_undone(db: Session, subscriber_id: int | None) -> None:
    """The undone entries a new entry of `subscriber_id` makes impossible to redo (its own and
    the superuser's cross-subscriber ones; every one, for a superuser's entry)."""
    ended = HISTORY.c.state == "undone"
    if subscriber_id is not None:
        ended &= (HISTORY.c.subscriber_id == subscriber_id) | HISTORY.c.subscriber_id.is_(None)
    db.execute(update(HISTORY).where(ended).values(state="discarded"))


def insert_history(db: Session, entries: Sequence[Mapping[str, Any]]) -> None:
    """History entries, in their order (their ids are the order undo takes them back in)."""
    base = _DEFAULTS.get(HISTORY.name)
    if base is None:
        base = _DEFAULTS[HISTORY.name] = _defaults(HISTORY)
    for start in range(0, len(entries), CHUNK):
        db.execute(insert(HISTORY), [{**base, **entry} for entry in entries[start : start + CHUNK]])


# What an import's checks look up once rather than per line.


def users(db: Session, scope: Select[Any]) -> list[tuple[int, str, int, int]]:
    """(id, username, subscriber, customer) of the users `scope` (a select of users) finds."""
    user = models.User
    stmt = scope.with_only_columns(user.id, user.username, user.subscriber_id, user.customer_id)
    return [(row[0], row[1], row[2], row[3]) for row in db.execute(stmt)]


def usernames(db: Session, subscriber_id: int) -> set[str]:
    """Every username of a subscriber (they are unique within it)."""
    stmt = select(models.User.username).where(models.User.subscriber_id == subscriber_id)
    return set(db.scalars(stmt))


def username_taken(db: Session, subscriber_id: int, username: str) -> bool:
    stmt = select(models.User.id).where(
        models.User.subscriber_id == subscriber_id, models.User.username == username
    )
    return db.scalar(stmt.limit(1)) is not None


def has_running_profile(db: Session, user_id: int) -> bool:
    stmt = select(models.UserProfile.id).where(
        models.UserProfile.user_id == user_id,
        models.UserProfile.state == ProfileState.RUNNING,
    )
    return db.scalar(stmt.limit(1)) is not None
