"""The log's rows as Python log records once they are committed, for whoever forwards them.

Every row of the `log` table (decisions, accounting, dropped requests, CoA answers), whether it
was added as an ORM object or inserted in bulk (`note`), becomes one record of the logger
`userman.log` after its transaction commits (none when it rolls back). Nothing is collected
while that logger has no handler: `userman serve --syslog` (server/logs.py) gives it one.
The record's message is the row in one line; its `row` attribute holds the columns.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from userman.store import models

__all__ = ["LOGGER", "line", "note"]

LOGGER = logging.getLogger("userman.log")
LOGGER.propagate = False  # the server's own log (stderr) does not repeat every decision
_PENDING = "userman.log.pending"  # Session.info: the rows of the transaction, not yet committed
_COLUMNS = tuple(column.name for column in models.LogEntry.__table__.columns if column.name != "id")


def _listening() -> bool:
    return bool(LOGGER.handlers) and LOGGER.isEnabledFor(logging.INFO)


def note(db: Session, rows: Iterable[Mapping[str, Any]]) -> None:
    """Rows inserted without the ORM in `db`'s transaction: forwarded when it commits."""
    if _listening():
        db.info.setdefault(_PENDING, []).extend(dict(row) for row in rows)


def line(row: Mapping[str, Any]) -> str:
    """A row in one line, as `log print` would say it."""
    parts = [str(row.get("status") or "")]
    if row.get("user_orig"):
        parts.append(f"user={row['user_orig']}")
    for name in ("calling_station_id", "user_ip", "host_ip", "acct_session_id"):
        if row.get(name):
            parts.append(f"{name.replace('_', '-')}={row[name]}")
    if row.get("description"):
        parts.append(f"- {row['description']}")
    return " ".join(parts)


@event.listens_for(Session, "after_flush")
def _collect(db: Session, _context: object) -> None:
    if not _listening():
        return
    added = [obj for obj in db.new if isinstance(obj, models.LogEntry)]
    if added:
        pending = db.info.setdefault(_PENDING, [])
        pending.extend({name: getattr(obj, name) for name in _COLUMNS} for obj in added)


@event.listens_for(Session, "after_commit")
def _forward(db: Session) -> None:
    rows = db.info.pop(_PENDING, None)
    for row in rows or ():
        LOGGER.info(line(row), extra={"row": row})


@event.listens_for(Session, "after_rollback")
def _drop(db: Session) -> None:
    db.info.pop(_PENDING, None)
