"""Helpers the tests share: outside programs that may be missing on a developer's machine, and
commands run as an actor, dry runs, and snapshots of every row.

A missing program or service skips its tests with the reason, unless USERMAN_REQUIRE_ALL=1 (as
.ci/run sets), where it fails them instead, so CI never passes by skipping.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import pytest
from sqlalchemy import select

from userman.services import Actor, Outcome, Request, Userman
from userman.services import commands as commands_module
from userman.store import models

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def missing(reason: str) -> NoReturn:
    """Skip for `reason`, or fail when every outside dependency is required."""
    if os.environ.get("USERMAN_REQUIRE_ALL") == "1":
        pytest.fail(f"{reason} (USERMAN_REQUIRE_ALL=1)")
    pytest.skip(reason)


def require_program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed")
    return path


def run(app: Userman, actor: Actor, command: str, *positional: str, **args: str) -> Outcome:
    """`command` is `<menu words> <verb>`, e.g. "profile limitation add"."""
    *path, verb = command.split()
    return app.execute(actor, tuple(path), verb, positional, args)


def allow_private_destinations(app: Userman) -> None:
    """The test SMTP server and the PayPal stand-in listen on 127.0.0.1, which a subscriber's
    settings may name only once the superuser allows private destinations."""
    run(app, Actor.superuser(), "database set", **{"allow-private-destinations": "yes"})


def dry_run(app: Userman, actor: Actor, request: Request) -> Outcome:
    """Run a command as it would run, then roll it back."""
    with app.database.session() as db:
        db.begin()
        try:
            return commands_module.run(db, actor, request, NOW)
        finally:
            db.rollback()


def snapshot(app: Userman) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show that a refusal changed nothing."""
    with app.database.begin() as db:
        return {
            table.name: [
                tuple(row) for row in db.execute(select(table).order_by(*table.primary_key))
            ]
            for table in models.Base.metadata.sorted_tables
        }


@contextmanager
def unchanged(app: Userman) -> Iterator[None]:
    """The block changes no row of any table."""
    before = snapshot(app)
    yield
    assert snapshot(app) == before
