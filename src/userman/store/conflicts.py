"""Which unique constraint a write broke, read from the database's own error: the columns of the
index or constraint, in the words each back end uses (SQLite's message, PostgreSQL's detail).

Two transactions that add the same value at once both pass the checks made before the write;
the database's unique index stops the second, and this names what it stopped it for, so the
caller can answer as its own check would have. Knows nothing of menus or messages.
"""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError

__all__ = ["unique_columns"]

# SQLite: "UNIQUE constraint failed: customer.subscriber_id, customer.login"
_SQLITE = re.compile(r"UNIQUE constraint failed: (?P<columns>[\w., ]+)$")
# PostgreSQL (SQLSTATE 23505), its detail: "Key (subscriber_id, login)=(3, x) already exists."
_POSTGRES = re.compile(r"Key \((?P<columns>[\w, ]+)\)=")
UNIQUE_VIOLATION = "23505"


def unique_columns(error: IntegrityError) -> tuple[str, frozenset[str]] | None:
    """(table, columns) of the unique index or constraint `error` reports broken, or None when
    it is another integrity error (a foreign key, NOT NULL) or the back end does not say."""
    orig = error.orig
    diag = getattr(orig, "diag", None)
    if diag is not None:  # psycopg
        if getattr(orig, "sqlstate", None) != UNIQUE_VIOLATION:
            return None
        found = _POSTGRES.match(diag.message_detail or "")
        if found is None or not diag.table_name:
            return None
        return diag.table_name, frozenset(c.strip() for c in found["columns"].split(","))
    found = _SQLITE.search(str(orig))
    if found is None:
        return None
    qualified = [c.strip().partition(".") for c in found["columns"].split(",")]
    tables = {table for table, _, _ in qualified}
    if len(tables) != 1:
        return None
    return tables.pop(), frozenset(column for _, _, column in qualified)
