"""History: every command that changes data becomes one entry; `history undo` and `redo`.

`recording()` keeps, for each row a command adds, changes or removes through the ORM, its values
before and after as the database holds them, with the rows the database removes or unlinks by
itself (ON DELETE CASCADE / SET NULL: a removed user's `user_profile` rows); sealed values
(passwords, shared secrets: store/secrets.py) are kept sealed, as stored. Sessions, logs,
CoA requests and history are not recorded. A new entry discards the undone entries of its
subscriber (and the superuser's cross-subscriber ones): as in an editor, they can no longer be
redone.

Undo takes the newest "done" entry the actor sees, redo the one undone last (the oldest
"undone"); both need owner level and are not recorded themselves. The change-set is applied with
SQLAlchemy Core in a SAVEPOINT (removed rows back with their old ids, parents first; then changed
columns; then added rows go, children first), once every row is checked to be as the entry left
it (a changed row: the columns it changed; a row to delete: all of it, so a user that has logged
on since is not dropped). When one differs or the database refuses (in use, address taken),
nothing changes: the entry keeps its state, `reason` says why (flag F, cleared by a later
success), the Outcome carries the error, and the transaction commits. This module knows tables
and columns, not what menus mean (it borrows their names for messages).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Column, Connection, Table, event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from userman.core.errors import ConflictError, InvalidValueError
from userman.core.history import Move, Phase, RowChange, plan
from userman.services import permissions, verbs
from userman.services.actor import Actor
from userman.services.menus import MENUS, Menu
from userman.services.request import Context, Outcome, Request
from userman.store import models
from userman.store.bulk import discard_undone
from userman.store.secrets import stored_columns, unreadable

__all__ = ["Recorder", "decode_value", "encode_value", "recording", "redo", "undo", "upcoming"]

UNRECORDED = frozenset(
    {"history", "session", "session_day", "log", "coa_request", "router_counter", "policy_change"}
)
TABLES: dict[str, Table] = dict(models.Base.metadata.tables)
# Parents before children: the order rows may be inserted in.
ORDER = {table.name: i for i, table in enumerate(models.Base.metadata.sorted_tables)}
MENU_OF_TABLE: dict[str, Menu] = {m.model.__tablename__: m for m in MENUS.values()}
CHUNK = 500  # ids per `IN (...)`, well under every database's limit on parameters

Values = dict[str, Any]
Change = dict[str, Any]  # {"table", "id", "before": Values | None, "after": Values | None}


def encode_value(value: object) -> object:
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):  # a pruned session's day (models.SessionDay)
        return {"date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, Enum):  # a user-profile's state: recorded as the column holds it
        return value.value
    return value


def decode_value(value: object) -> object:
    if isinstance(value, dict):
        if "datetime" in value:
            return dt.datetime.fromisoformat(value["datetime"])
        if "date" in value:
            return dt.date.fromisoformat(value["date"])
        if "decimal" in value:
            return Decimal(value["decimal"])
    return value


def _decode(column: Column[Any], value: object) -> object:
    """A recorded value as the column's Python type."""
    value = decode_value(value)
    if value is None:
        return None
    try:
        kind = column.type.python_type
    except NotImplementedError:  # pragma: no cover - every column of ours has one
        return value
    if kind is Decimal and not isinstance(value, Decimal):
        return Decimal(str(value))
    if kind is dt.datetime and isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    if kind is bool and isinstance(value, int):
        return bool(value)
    if issubclass(kind, Enum):
        return kind(value)
    return value


def _encode_row(row: Any) -> Values:
    return {name: encode_value(value) for name, value in row.items()}


def _read(conn: Connection, table: Table, ids: Iterable[int]) -> dict[int, Values]:
    """The rows of `table` with these ids, as the database holds them, encoded for JSON."""
    wanted = sorted(set(ids))
    found: dict[int, Values] = {}
    for start in range(0, len(wanted), CHUNK):
        stmt = select(*stored_columns(table)).where(table.c.id.in_(wanted[start : start + CHUNK]))
        for row in conn.execute(stmt).mappings():
            found[row["id"]] = _encode_row(row)
    return found


def _dependents() -> dict[str, list[tuple[Table, Column[Any], str]]]:
    """For each table, the recorded rows the database deletes (CASCADE) or unlinks (SET NULL)
    when one of its rows is removed."""
    found: dict[str, list[tuple[Table, Column[Any], str]]] = {}
    for table in models.Base.metadata.sorted_tables:
        if table.name in UNRECORDED:
            continue
        for fk in table.foreign_keys:
            rule = (fk.ondelete or "").upper()
            if rule in ("CASCADE", "SET NULL"):
                found.setdefault(fk.column.table.name, []).append((table, fk.parent, rule))
    return found


DEPENDENTS = _dependents()


def _recorded(obj: object) -> bool:
    return getattr(obj, "__tablename__", "history") not in UNRECORDED


@dataclass
class Recorder:
    """The sub-changes of one command, keyed by (table, id): the oldest `before`, the newest
    `after`, in the order the rows were first touched."""

    changes: dict[tuple[str, int], Change] = field(default_factory=dict)
    outcome: object = None
    touched: set[tuple[str, int]] = field(default_factory=set)  # in the flush under way

    def _before(self, table: str, row_id: int, before: Values | None) -> None:
        self.touched.add((table, row_id))
        if (table, row_id) not in self.changes:
            self.changes[table, row_id] = {
                "table": table,
                "id": row_id,
                "before": before,
                "after": None,
            }

    def _dependents(self, conn: Connection, table: str, ids: list[int]) -> None:
        """Note, children first, the rows the database will remove or unlink with these."""
        for child, column, rule in DEPENDENTS.get(table, ()):
            rows: list[Any] = []
            for start in range(0, len(ids), CHUNK):
                stmt = select(*stored_columns(child)).where(column.in_(ids[start : start + CHUNK]))
                rows.extend(conn.execute(stmt.order_by(child.c.id)).mappings())
            if rule == "CASCADE" and rows:
                self._dependents(conn, child.name, [row["id"] for row in rows])
            for row in rows:
                self._before(child.name, row["id"], _encode_row(row))

    def before_flush(self, db: Session, *_: object) -> None:
        conn = db.connection()
        changed: dict[str, list[int]] = {}
        for obj in db.dirty:
            if _recorded(obj) and db.is_modified(obj):
                changed.setdefault(obj.__tablename__, []).append(obj.id)
        removed: dict[str, list[int]] = {}
        for obj in db.deleted:
            if _recorded(obj):
                removed.setdefault(obj.__tablename__, []).append(obj.id)
        for table, ids in changed.items():
            rows = _read(conn, TABLES[table], ids)
            for row_id in ids:
                self._before(table, row_id, rows.get(row_id))
        for table, ids in removed.items():
            self._dependents(conn, table, ids)
            rows = _read(conn, TABLES[table], ids)
            for row_id in ids:
                self._before(table, row_id, rows.get(row_id))

    def after_flush(self, db: Session, *_: object) -> None:
        for obj in db.new:
            if _recorded(obj):
                self._before(obj.__tablename__, obj.id, None)
        by_table: dict[str, list[int]] = {}
        for table, row_id in self.touched:
            by_table.setdefault(table, []).append(row_id)
        conn = db.connection()
        for table, ids in by_table.items():
            rows = _read(conn, TABLES[table], ids)
            for row_id in ids:
                self.changes[table, row_id]["after"] = rows.get(row_id)
        self.touched.clear()

    def sub_changes(self) -> list[Change]:
        """The changes that changed something, in the order the rows were first touched."""
        return [c for c in self.changes.values() if c["before"] != c["after"]]


def _subscriber(changes: list[Change], actor: Actor) -> int | None:
    """Whose entry this is: the actor's subscriber, or the one subscriber the local superuser
    changed; None (the superuser's alone) for several, and for making or removing a subscriber
    (an entry naming it would keep it from being removed)."""
    if actor.subscriber_id is not None:
        return actor.subscriber_id
    found = {(c["after"] or c["before"]).get("subscriber_id") for c in changes}
    subscriber = found.pop() if len(found) == 1 else None
    made_or_removed = any(
        c["table"] == "customer" and c["id"] == subscriber and None in (c["before"], c["after"])
        for c in changes
    )
    return None if made_or_removed else subscriber


HISTORY = TABLES["history"]


@contextmanager
def recording(db: Session, actor: Actor, action: str, now: dt.datetime) -> Iterator[Recorder]:
    """Record what the block changes as one history entry (when it changes anything)."""
    db.flush()  # what came before (an earlier command of the same script) is not ours
    recorder = Recorder()
    event.listen(db, "before_flush", recorder.before_flush)
    event.listen(db, "after_flush", recorder.after_flush)
    try:
        yield recorder
        db.flush()
    finally:
        event.remove(db, "before_flush", recorder.before_flush)
        event.remove(db, "after_flush", recorder.after_flush)
    changes = recorder.sub_changes()
    if not changes:
        return
    subscriber = _subscriber(changes, actor)
    discard_undone(db, subscriber)
    db.add(
        models.HistoryEntry(
            subscriber_id=subscriber,
            actor=actor.login,
            action=action,
            changes=json.dumps(changes),
            sub_changes=len(changes),
            state="done",
            time=now,
        )
    )
    db.flush()


# Undo and redo.


class _RefusedError(Exception):
    """Why a change-set cannot be applied now; the entry gets it as its reason."""


def _label(move: Move) -> str:
    """The row as an operator names it: `user u1`, `profile profile-limitation *3`."""
    values = move.source or move.target or {}
    menu = MENU_OF_TABLE.get(move.table)
    name = menu.name if menu is not None else move.table
    if menu is not None and menu.key is not None:
        key = values.get(menu.by_name[menu.key].column)
        if key:
            return f"{name} {key}"
    return f"{name} *{move.row_id:X}"


def _property_names(move: Move, columns: Sequence[str]) -> str:
    menu = MENU_OF_TABLE.get(move.table)
    names = {p.column: p.name for p in menu.props} if menu is not None else {}
    return ", ".join(names.get(c, c.replace("_", "-")) for c in columns)


def _moves(entry: models.HistoryEntry, *, backwards: bool) -> list[Move]:
    changes = [
        RowChange(c["table"], c["id"], c["before"], c["after"]) for c in json.loads(entry.changes)
    ]
    return plan(changes, ORDER, backwards=backwards)


def _check(db: Session, moves: Sequence[Move]) -> None:
    """Every row must be as the entry left it (undo) or found it (redo)."""
    conn = db.connection()
    for move in moves:
        table = TABLES[move.table]
        current = conn.execute(
            select(*stored_columns(table)).where(table.c.id == move.row_id)
        ).first()
        if move.source is None:
            if current is not None:
                raise _RefusedError(f"{_label(move)} exists again")
            continue
        if current is None:
            raise _RefusedError(f"{_label(move)} was removed since")
        now = current._mapping
        differ = [
            name
            for name in move.compared()
            if _decode(table.c[name], move.source[name]) != now[name]
        ]
        if differ:
            raise _RefusedError(f"{_label(move)} changed since ({_property_names(move, differ)})")
    for move in moves:  # a password sealed with a key since forgotten cannot be put back
        if move.target is not None:
            table = TABLES[move.table]
            for why in unreadable(conn.dialect, table, _values(move, move.target)):
                raise _RefusedError(why)


def _values(move: Move, names: Iterable[str]) -> dict[str, object]:
    assert move.target is not None
    table = TABLES[move.table]
    return {name: _decode(table.c[name], move.target[name]) for name in names}


def _apply(db: Session, move: Move) -> None:
    table = TABLES[move.table]
    where = table.c.id == move.row_id
    try:
        if move.phase is Phase.COME_BACK:
            assert move.target is not None
            db.execute(table.insert().values(_values(move, move.target)))
        elif move.phase is Phase.RESTORE:
            db.execute(table.update().where(where).values(_values(move, move.compared())))
        else:
            db.execute(table.delete().where(where))
    except IntegrityError:
        why = {
            Phase.COME_BACK: "cannot come back: its name or address is taken, or an item it "
            "needs is gone",
            Phase.RESTORE: "cannot be restored: its values clash with another item's",
            Phase.GO: "is still in use",
        }[move.phase]
        raise _RefusedError(f"{_label(move)} {why}") from None


def _newest(
    db: Session, actor: Actor, menu: Menu, state: str, *, lock: bool = True
) -> models.HistoryEntry | None:
    stmt = verbs.scope(actor, menu).where(models.HistoryEntry.state == state)
    # Undo takes the newest done entry; redo the one undone last, the oldest undone.
    order = models.HistoryEntry.id.desc() if state == "done" else models.HistoryEntry.id
    stmt = stmt.order_by(None).order_by(order).limit(1)
    entry: models.HistoryEntry | None = db.scalars(stmt.with_for_update() if lock else stmt).first()
    return entry


def upcoming(db: Session, actor: Actor, verb: str) -> verbs.Item | None:
    """The entry `history undo` (verb "undo") or `redo` would take now, as `print` shows it,
    for a confirmation that names it; None: nothing to take."""
    menu = MENUS["history"]
    entry = _newest(db, actor, menu, "done" if verb == "undo" else "undone", lock=False)
    return None if entry is None else verbs.render(db, menu, entry, show_sensitive=False)


def _replay(ctx: Context, menu: Menu, request: Request, *, backwards: bool) -> Outcome:
    verb = request.verb
    if request.positional or request.args:
        word = request.positional[0] if request.positional else next(iter(request.args))
        raise InvalidValueError(word, f"{verb} takes no values")
    permissions.check_level(ctx.actor, menu, verb)
    db = ctx.db
    db.flush()
    entry = _newest(db, ctx.actor, menu, "done" if backwards else "undone")
    if entry is None:
        raise ConflictError("history", f"nothing to {verb}")
    moves = _moves(entry, backwards=backwards)
    # A write before the SAVEPOINT: it clears an earlier failure's reason, and it makes the
    # sqlite3 driver open the outer transaction (it begins one only before a write), so that
    # releasing the savepoint cannot commit on its own.
    db.execute(update(HISTORY).where(HISTORY.c.id == entry.id).values(reason=""))
    savepoint = db.begin_nested()
    try:
        _check(db, moves)
        for move in moves:
            _apply(db, move)
    except _RefusedError as refused:
        savepoint.rollback()
        db.expire(entry)
        entry.reason = str(refused)
        db.flush()
        return Outcome(menu, error=f'cannot {verb} "{entry.action}": {refused}')
    savepoint.commit()
    db.expire_all()  # rows changed under the ORM's feet
    entry.state = "undone" if backwards else "done"
    db.flush()
    return Outcome(menu, message=f"{'undone' if backwards else 'redone'}: {entry.action}")


def undo(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """`history undo`: revert the newest undoable entry the actor may see."""
    return _replay(ctx, menu, request, backwards=True)


def redo(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """`history redo`: re-apply the entry undone last."""
    return _replay(ctx, menu, request, backwards=False)
