"""What pruning old sessions and log entries reads and writes (services/retention.py).

A batch of sessions is deleted with RETURNING, so that what is added up is exactly what this
transaction deleted, even when several server nodes prune at once; the day totals are added
with `column + n`, never read and written back, for the same reason. The change-log rows the
deletion made (migration 0014's triggers) are taken out again in the same transaction: a pruned
session ended before every counting period (the caller's cutoff), so no decision reads it, and
the servers' policies in memory need not read its user again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, exists, func, insert, select, update
from sqlalchemy.orm import Session

from userman.core.profiles import ProfileState
from userman.store import models

__all__ = [
    "DayKey",
    "add_days",
    "delete_logs",
    "delete_sessions",
    "limitation_periods",
    "time_zones",
]

CHUNK = 500  # ids per `IN (...)`

TABLES = models.Base.metadata.tables
SESSION, ENTRY, LOG = TABLES["session"], TABLES["user_profile"], TABLES["log"]
DAY, CHANGE, CUSTOMER = TABLES["session_day"], TABLES["policy_change"], TABLES["customer"]
LIMITATION = TABLES["limitation"]


class DayKey(NamedTuple):
    """Whose sessions, began and last reported on which days: one row of session_day."""

    subscriber_id: int
    customer_id: int
    user_id: int | None
    username: str
    first_day: dt.date
    day: dt.date


def _chunks(ids: Collection[int]) -> list[list[int]]:
    ordered = sorted(ids)
    return [ordered[start : start + CHUNK] for start in range(0, len(ordered), CHUNK)]


def delete_sessions(db: Session, before: dt.datetime, limit: int) -> Sequence[Any]:
    """Delete up to `limit` of the oldest closed sessions last reported before `before`,
    except those of a user's running or waiting profile that had started by their end; the
    deleted rows (their owner, user, times and totals). Their change-log rows go with them."""
    kept_for_entry = exists().where(
        ENTRY.c.user_id == SESSION.c.user_id,
        ENTRY.c.state.in_([ProfileState.RUNNING, ProfileState.WAITING]),
        ENTRY.c.start_time.is_not(None),
        ENTRY.c.start_time <= SESSION.c.till_time,
    )
    oldest = (
        select(SESSION.c.id)
        .where(SESSION.c.active.is_(False), SESSION.c.till_time < before, ~kept_for_entry)
        .order_by(SESSION.c.id)
        .limit(limit)
    )
    noted = db.scalar(select(func.coalesce(func.max(CHANGE.c.id), 0)))
    rows = db.execute(
        delete(SESSION)
        .where(SESSION.c.id.in_(oldest.scalar_subquery()))
        .returning(
            SESSION.c.id,
            SESSION.c.subscriber_id,
            SESSION.c.customer_id,
            SESSION.c.user_id,
            SESSION.c.username,
            SESSION.c.from_time,
            SESSION.c.till_time,
            SESSION.c.uptime,
            SESSION.c.download,
            SESSION.c.upload,
        )
    ).all()
    for chunk in _chunks([row.id for row in rows]):
        db.execute(
            delete(CHANGE).where(
                CHANGE.c.id > noted, CHANGE.c.table_name == "session", CHANGE.c.row_id.in_(chunk)
            )
        )
    return rows


def add_days(db: Session, totals: Mapping[DayKey, tuple[int, int, int, int]]) -> int:
    """Add (sessions, uptime, download, upload) to each key's day row, making the rows not
    there yet; how many rows were made."""
    if not totals:
        return 0
    days = [key.day for key in totals]
    customers = {key.customer_id for key in totals}
    found: dict[DayKey, int] = {}
    for chunk in _chunks(customers):
        stmt = select(DAY).where(
            DAY.c.customer_id.in_(chunk), DAY.c.day.between(min(days), max(days))
        )
        for row in db.execute(stmt):
            key = DayKey(
                row.subscriber_id,
                row.customer_id,
                row.user_id,
                row.username,
                row.first_day,
                row.day,
            )
            found.setdefault(key, row.id)
    more = [
        {"row_id": found[key], "n": n, "t": uptime, "d": down, "u": up}
        for key, (n, uptime, down, up) in totals.items()
        if key in found
    ]
    if more:
        db.execute(
            update(DAY)
            .where(DAY.c.id == bindparam("row_id"))
            .values(
                sessions=DAY.c.sessions + bindparam("n"),
                uptime=DAY.c.uptime + bindparam("t"),
                download=DAY.c.download + bindparam("d"),
                upload=DAY.c.upload + bindparam("u"),
            )
            .execution_options(synchronize_session=False),
            more,
        )
    new = [
        {
            **key._asdict(),
            "sessions": n,
            "uptime": uptime,
            "download": down,
            "upload": up,
        }
        for key, (n, uptime, down, up) in totals.items()
        if key not in found
    ]
    if new:
        db.execute(insert(DAY), new)
    return len(new)


def delete_logs(db: Session, before: dt.datetime, limit: int) -> int:
    """Delete up to `limit` of the oldest log entries written before `before`; how many."""
    oldest = select(LOG.c.id).where(LOG.c.time < before).order_by(LOG.c.id).limit(limit)
    result = db.execute(delete(LOG).where(LOG.c.id.in_(oldest.scalar_subquery())))
    return int(result.rowcount)  # type: ignore[attr-defined]


def time_zones(db: Session, customer_ids: Collection[int]) -> dict[int, str]:
    """The `time-zone` texts of these customers."""
    found: dict[int, str] = {}
    for chunk in _chunks(customer_ids):
        stmt = select(CUSTOMER.c.id, CUSTOMER.c.time_zone).where(CUSTOMER.c.id.in_(chunk))
        found.update((row.id, row.time_zone) for row in db.execute(stmt))
    return found


def limitation_periods(db: Session) -> list[tuple[str, dt.datetime | None, str]]:
    """Each limitation's reset-counters interval and start time, and its subscriber's
    `time-zone`."""
    stmt = select(
        LIMITATION.c.reset_counters_interval,
        LIMITATION.c.reset_counters_start_time,
        CUSTOMER.c.time_zone,
    ).join(CUSTOMER, CUSTOMER.c.id == LIMITATION.c.subscriber_id)
    return [(row[0], row[1], row[2]) for row in db.execute(stmt)]
