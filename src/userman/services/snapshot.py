"""What the server's snapshot cache reads: every router at once, and a stamp that says when to.

The stamp is a digest of the router rows' own data (every column, length-prefixed, in id order),
computed by the database in one cheap query. It changes with any change to a router, whoever
makes it: a command (recorded in history), undo/redo and `database load` (not recorded), or SQL
typed by hand. `router_snapshot` reads the rows and their stamp in one statement, so the copy is
consistent with its stamp. Plain values out (`RouterInfo`), no ORM objects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, String, cast, func, literal, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from userman.services.routers import Requirement, RouterInfo
from userman.store import models
from userman.store.database import Database

__all__ = ["RouterSnapshot", "info", "router_snapshot", "router_stamp"]

SEPARATOR = "\n"


@dataclass(frozen=True, slots=True)
class RouterSnapshot:
    """Every router by address, and the stamp of the rows it was made from."""

    stamp: str
    routers: Mapping[str, RouterInfo]


def info(row: Any) -> RouterInfo:
    """The packet path's view of a router row (an ORM row or a Core row with its columns)."""
    return RouterInfo(
        row.id,
        row.name,
        row.subscriber_id,
        row.customer_id,
        row.shared_secret.encode(),
        frozenset(filter(None, row.log.split(","))),
        row.disabled,
        require_message_authenticator=Requirement(row.require_message_authenticator),
        use_coa=row.use_coa,
        evict_oldest=EVICT_OLDEST[row.on_shared_users_limit],
        message_authenticator_seen=row.message_authenticator_seen is not None,
    )


# The router's on-shared-users-limit as RouterInfo.evict_oldest; `default` is its subscriber's.
EVICT_OLDEST = {"reject": False, "disconnect-oldest": True, "default": None}


def _row_text() -> ColumnElement[str]:
    """One router row as text: each column as `length:value`, so no two rows read alike."""
    text: ColumnElement[str] = literal("", String)
    for column in models.Router.__table__.columns:
        value = func.coalesce(cast(column, String), "")
        text = text + cast(func.length(value), String) + ":" + value + ";"
    return text


def _digest(texts: str) -> str:
    return hashlib.md5(texts.encode(), usedforsecurity=False).hexdigest()


def _stamp(db: Session) -> str:
    row_text = _row_text()
    if db.get_bind().dialect.name == "postgresql":
        ordered = aggregate_order_by(literal(SEPARATOR, String), models.Router.id)
        found = db.scalar(select(func.md5(func.string_agg(row_text, ordered))))
        return found if found is not None else _digest("")
    # SQLite: the rows in id order, joined by the database, hashed here like md5() above.
    rows = select(row_text.label("text")).order_by(models.Router.id).subquery()
    joined = db.scalar(select(func.group_concat(rows.c.text, SEPARATOR)))
    return _digest(joined or "")


def router_stamp(database: Database) -> str:
    """The digest of every router row: equal stamps, equal routers."""
    with database.begin() as db:
        return _stamp(db)


def router_snapshot(database: Database) -> RouterSnapshot:
    """Every router and the stamp of exactly those rows (one statement: one consistent read)."""
    with database.begin() as db:
        rows = db.execute(
            select(models.Router.__table__, _row_text().label("row_text")).order_by(
                models.Router.id
            )
        ).all()
    stamp = _digest(SEPARATOR.join(row.row_text for row in rows))
    return RouterSnapshot(stamp, {row.ip_address: info(row) for row in rows})
