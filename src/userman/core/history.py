"""The history change-set and its inverse; pure.

A command's change-set is the rows it changed, each with its values before and after (None: the
row did not exist, or no longer does). Undoing moves every row from its `after` back to its
`before`, redoing the other way; `plan()` orders those moves so the database accepts them: rows
that come back first (parents before children), then rows whose columns are restored, then rows
that go (children before parents). `order` ranks tables parents-first; this module knows no
database, only table names and values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

__all__ = ["Move", "Phase", "RowChange", "plan"]

Values = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class RowChange:
    """One row of a change-set as a command left it."""

    table: str
    row_id: int
    before: Values | None
    after: Values | None


class Phase(IntEnum):
    """The order moves happen in."""

    COME_BACK = 0  # the row is inserted again with its old values
    RESTORE = 1  # some of its columns get their old values
    GO = 2  # the row is deleted


@dataclass(frozen=True, slots=True)
class Move:
    """One row's move: from `source` (what it must be now; None: absent) to `target`."""

    table: str
    row_id: int
    source: Values | None
    target: Values | None

    @property
    def phase(self) -> Phase:
        if self.source is None:
            return Phase.COME_BACK
        return Phase.RESTORE if self.target is not None else Phase.GO

    def compared(self) -> list[str]:
        """The columns that must still hold the source values before the move: all of a row
        that goes; of a row restored, those the command changed, and its subscriber."""
        assert self.source is not None
        if self.target is None:
            return list(self.source)
        changed = [name for name, value in self.source.items() if self.target.get(name) != value]
        return ["subscriber_id", *changed] if "subscriber_id" in self.source else changed


def plan(changes: Sequence[RowChange], order: Mapping[str, int], *, backwards: bool) -> list[Move]:
    """The moves that undo (`backwards`) or redo `changes`, in an order the database accepts."""
    moves = [
        Move(c.table, c.row_id, c.after, c.before)
        if backwards
        else Move(c.table, c.row_id, c.before, c.after)
        for c in changes
    ]

    def key(move: Move) -> tuple[int, int, int]:
        rank, row_id = order[move.table], move.row_id
        if move.phase is Phase.GO:  # children first
            rank, row_id = -rank, -row_id
        return (move.phase, rank, row_id)

    return sorted(moves, key=key)
