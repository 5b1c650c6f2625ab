"""Statements rendered once into the driver's own SQL and run with the driver's `executemany`.

A Core statement run with many parameter sets costs SQLAlchemy's work for every row (its
parameter dictionaries, the compiled cache lookup, each value's processing through the
execution context): a third of an accounting batch's time. Here a statement is compiled once per
(statement, back end, columns), with each parameter's bind processor (the column type's own: a
UTC datetime made naive, SQLite's text form of a time, a sealed secret), and the rows go to the
DBAPI cursor as tuples (named, for a driver whose parameters are named). Only the store uses it;
it runs inside the caller's unit of work `db`, on its connection, and never commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert, Update, bindparam
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

__all__ = ["executemany", "insert_returning_ids"]

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Rendered:
    """A statement in the driver's SQL; `plan` gives, for each parameter in the order the
    driver takes them, its position in the caller's row (-1 for a column's default, whose
    value is `constant`) and its bind processor."""

    sql: str
    names: tuple[str, ...]
    plan: tuple[tuple[int, Processor | None, Any], ...]
    positional: bool

    def row(self, values: Sequence[Any]) -> Any:
        converted = [
            constant if at < 0 else values[at] if processor is None else processor(values[at])
            for at, processor, constant in self.plan
        ]
        return converted if self.positional else dict(zip(self.names, converted, strict=True))

    def rows(self, values: Sequence[Sequence[Any]]) -> list[Any]:
        plain = all(at == i and processor is None for i, (at, processor, _) in enumerate(self.plan))
        if self.positional and plain and len(values[0]) == len(self.plan):
            return list(values)  # the caller's rows as they are
        return [self.row(value) for value in values]


# (statement, back end, the caller's parameter names, how many rows a VALUES list holds)
_RENDERED: dict[tuple[int, str, tuple[str, ...], int], _Rendered] = {}
_HELD: dict[int, Insert | Update] = {}  # the statements rendered: their ids stay theirs


def _render(db: Session, stmt: Insert | Update, names: tuple[str, ...], rows: int) -> _Rendered:
    """`stmt` for rows of `names`; with `rows`, an INSERT of that many rows at once."""
    dialect = db.get_bind().dialect
    key = (id(stmt), dialect.name, names, rows)
    found = _RENDERED.get(key)
    if found is not None:
        return found
    # The columns an INSERT's rows leave out that have a Python default (SQLAlchemy fills
    # those in at execution, not in the SQL): their default is written as a constant.
    defaults = _defaults(stmt, names) if isinstance(stmt, Insert) else {}
    every = (*names, *defaults)
    if rows:
        assert isinstance(stmt, Insert)
        # Each parameter typed as its column, so its bind processor is the column type's (a
        # bare bindparam would hand datetimes to the driver's own, deprecated, adapter).
        columns = stmt.table.columns
        many: list[dict[str, Any]] = [
            {name: bindparam(f"r{n}_{name}", type_=columns[name].type) for name in every}
            for n in range(rows)
        ]
        compiled = stmt.values(many).compile(dialect=dialect)
        index = {
            f"r{n}_{name}": n * len(names) + i for n in range(rows) for i, name in enumerate(names)
        }
        constants = {f"r{n}_{name}": value for n in range(rows) for name, value in defaults.items()}
    else:
        compiled = stmt.compile(dialect=dialect, column_keys=list(every))
        index = {name: i for i, name in enumerate(names)}
        constants = defaults
    order = compiled.positiontup if compiled.positional else list(compiled.binds)
    assert order is not None
    plan: list[tuple[int, Processor | None, Any]] = []
    for name in order:
        # The back end's own implementation of the type: a generic DateTime's processor is
        # None, SQLite's DATETIME's writes the text SQLAlchemy reads back.
        processor = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if name in index:
            plan.append((index[name], processor, None))
        else:  # a column the rows leave to its default
            constant = constants[name]
            plan.append((-1, None, constant if processor is None else processor(constant)))
    found = _Rendered(compiled.string, tuple(order), tuple(plan), compiled.positional)
    _RENDERED[key], _HELD[id(stmt)] = found, stmt
    return found


@contextmanager
def _cursor(db: Session, sql: str) -> Iterator[Any]:
    """A DBAPI cursor on `db`'s connection; the driver's errors raised as SQLAlchemy raises
    them (IntegrityError, OperationalError, ...), a lost connection invalidated."""
    connection = db.connection()
    dialect = connection.dialect
    cursor = connection.connection.cursor()
    try:
        yield cursor
    except dialect.loaded_dbapi.Error as error:
        lost = dialect.is_disconnect(error, connection.connection.dbapi_connection, cursor)
        if lost:
            connection.invalidate(error)
        raise DBAPIError.instance(
            sql, None, error, dialect.loaded_dbapi.Error, connection_invalidated=lost
        ) from error
    finally:
        cursor.close()


def _defaults(stmt: Insert, names: tuple[str, ...]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for column in stmt.table.columns:
        default = column.default
        if column.key in names or default is None:
            continue
        if not default.is_scalar:
            raise ValueError(f"{column.key}: a default computed at execution; give its value")
        found[column.key] = default.arg  # type: ignore[attr-defined]
    return found


def executemany(
    db: Session, stmt: Insert | Update, names: tuple[str, ...], rows: Sequence[Sequence[Any]]
) -> None:
    """Run `stmt` once per row; each row holds the values of the parameters `names`, in that
    order (an INSERT's columns, or an UPDATE's bound parameters)."""
    if not rows:
        return
    rendered = _render(db, stmt, names, 0)
    with _cursor(db, rendered.sql) as cursor:
        cursor.executemany(rendered.sql, rendered.rows(rows))


def insert_returning_ids(
    db: Session, stmt: Insert, names: tuple[str, ...], rows: Sequence[Sequence[Any]]
) -> list[int]:
    """Insert the rows with one multi-row INSERT ... RETURNING id; their ids, in the rows'
    order. The ids come back sorted: one statement takes its ids from the table's sequence
    (PostgreSQL) or as max(rowid) + 1 (SQLite) row after row, so ascending ids are the rows'
    order (what SQLAlchemy's own insertmanyvalues relies on for an autoincrement key)."""
    if not rows:
        return []
    rendered = _render(db, stmt, names, len(rows))
    flat = [value for row in rows for value in row]
    with _cursor(db, rendered.sql) as cursor:
        cursor.execute(rendered.sql, rendered.row(flat))
        return sorted(int(found[0]) for found in cursor.fetchall())
