"""The values a command is made of and gives back, shared by the verbs' handlers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from userman.services.actor import Actor
from userman.services.menus import Menu
from userman.services.verbs import ExportItem, Item

__all__ = ["Context", "Handler", "Outcome", "Request"]


@dataclass(frozen=True, slots=True)
class Request:
    path: tuple[str, ...]
    verb: str
    positional: tuple[str, ...] = ()
    args: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command gives back: items to print, lines to export, a count, a message."""

    menu: Menu | None
    items: tuple[Item, ...] = ()
    numbers: tuple[int, ...] = ()  # the print numbers of `items`
    options: frozenset[str] = frozenset()
    exported: tuple[ExportItem, ...] = ()
    count: int | None = None
    message: str = ""
    # A `print` or `find`: shown as a list, with its flags' legend, even when nothing matched.
    # Other verbs show their items, their message or nothing (RouterOS's `set` prints nothing).
    listing: bool = False
    # A refusal that is itself recorded (a failed undo marks its entry F): the transaction
    # commits, and the interface reports `failure: <error>` with a non-zero exit.
    error: str = ""


@dataclass(frozen=True, slots=True)
class Context:
    db: Session
    actor: Actor
    now: dt.datetime
    # Long verbs (add-batch-users) report (done, total) here, for a progress bar.
    progress: Callable[[int, int], None] | None = None
    # Where `database save` writes backups: one folder per subscriber below it.
    backup_dir: Path = Path("userman-data/backups")


Handler = Callable[[Context, Menu, Request], Outcome]
