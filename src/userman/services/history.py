"""History: every command that changes data becomes one entry with its row-level sub-changes.

`recording()` wraps a command: it watches the unit of work's flushes and keeps, for every row
the command adds, changes or removes, its values before and after. At the end the command is
stored as one `HistoryEntry` (the manual's ACTION, SUB-CHANGES and TIME) whose changes undo and
redo can apply in reverse or again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from userman.services.actor import Actor
from userman.store import models

if TYPE_CHECKING:
    from userman.services.menus import Menu
    from userman.services.request import Context, Outcome, Request

__all__ = ["Recorder", "decode_value", "encode_value", "recording"]

UNRECORDED = frozenset({"history", "session", "log"})


def encode_value(value: object) -> object:
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    return value


def decode_value(value: object) -> object:
    if isinstance(value, dict):
        if "datetime" in value:
            return dt.datetime.fromisoformat(value["datetime"])
        if "decimal" in value:
            return Decimal(value["decimal"])
    return value


def _values(obj: Any, *, before: bool) -> dict[str, object]:
    state = inspect(obj)
    values: dict[str, object] = {}
    for column in state.mapper.columns:
        attr = state.attrs[column.key]
        value = attr.value
        if before:
            history = attr.history
            if history.deleted:
                value = history.deleted[0]
        values[column.name] = encode_value(value)
    return values


@dataclass
class Recorder:
    """The sub-changes of one command, keyed by (table, id), oldest `before` kept."""

    changes: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    outcome: object = None

    def note(self, table: str, row_id: int, before: object, after: object) -> None:
        key = (table, row_id)
        if key in self.changes:
            self.changes[key]["after"] = after
        else:
            self.changes[key] = {"table": table, "id": row_id, "before": before, "after": after}

    def before_flush(self, db: Session, *_: object) -> None:
        for obj in db.dirty:
            if db.is_modified(obj) and obj.__tablename__ not in UNRECORDED:
                key = (obj.__tablename__, obj.id)
                if key not in self.changes:
                    self.note(obj.__tablename__, obj.id, _values(obj, before=True), None)
        for obj in db.deleted:
            if obj.__tablename__ not in UNRECORDED:
                self.note(obj.__tablename__, obj.id, _values(obj, before=True), None)

    def after_flush(self, db: Session, *_: object) -> None:
        for obj in [*db.new, *db.dirty]:
            if obj.__tablename__ not in UNRECORDED and obj not in db.deleted:
                key = (obj.__tablename__, obj.id)
                if key in self.changes or obj in db.new:
                    if key not in self.changes:
                        self.note(obj.__tablename__, obj.id, None, None)
                    self.changes[key]["after"] = _values(obj, before=False)

    def sub_changes(self) -> list[dict[str, Any]]:
        """The changes that changed something, in the order they happened."""
        return [c for c in self.changes.values() if c["before"] != c["after"]]


def _subscriber(changes: list[dict[str, Any]], actor: Actor) -> int | None:
    if actor.subscriber_id is not None:
        return actor.subscriber_id
    found = {
        (c["after"] or c["before"]).get("subscriber_id")
        for c in changes
        if c["after"] or c["before"]
    }
    return found.pop() if len(found) == 1 else None


@contextmanager
def recording(db: Session, actor: Actor, action: str, now: dt.datetime) -> Iterator[Recorder]:
    """Record what the block changes as one history entry (when it changes anything)."""
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
    if changes:
        db.add(
            models.HistoryEntry(
                subscriber_id=_subscriber(changes, actor),
                actor=actor.login,
                action=action,
                changes=json.dumps(changes),
                sub_changes=len(changes),
                state="done",
                time=now,
            )
        )
        db.flush()


def undo(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """`history undo`: revert the newest undoable entry."""
    raise NotImplementedError("history undo is being written")


def redo(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """`history redo`: re-apply the newest undone entry."""
    raise NotImplementedError("history redo is being written")
