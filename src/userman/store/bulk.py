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

from sqlalchemy import Select, Table, insert, select, update
from sqlalchemy.orm import Session

from userman.core.profiles import ProfileState
from userman.store import models

__all__ = [
    "discard_undone",
    "has_running_profile",
    "insert_history",
    "insert_rows",
    "usernames",
    "users",
]

CHUNK = 5_000  # rows per statement: a bounded memory for RETURNING on 100,000 rows


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


def insert_rows(
    db: Session, table: Table, rows: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """Insert `rows` into `table` in their order; each as stored, its id among its columns."""
    base = _DEFAULTS.get(table.name)
    if base is None:
        base = _DEFAULTS[table.name] = _defaults(table)
    stmt = insert(table).returning(*table.columns, sort_by_parameter_order=True)
    stored: list[Mapping[str, Any]] = []
    for start in range(0, len(rows), CHUNK):
        chunk = [{**base, **row} for row in rows[start : start + CHUNK]]
        stored.extend(db.execute(stmt, chunk).mappings())
    return stored


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


def has_running_profile(db: Session, user_id: int) -> bool:
    stmt = select(models.UserProfile.id).where(
        models.UserProfile.user_id == user_id, models.UserProfile.state == ProfileState.RUNNING.value
    )
    return db.scalar(stmt.limit(1)) is not None
