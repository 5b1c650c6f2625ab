"""The front door of the services for the adapters (CLI, server, web): `Userman`.

It owns the `Database`, brings the schema up to date, makes the default customer `admin` with an
empty password on first start (as the manual says), and runs each command as one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from userman.core.accounting import AccountingRecord
from userman.core.authorize import AccessRequest, Decision
from userman.core.errors import InvalidValueError, NotFoundError
from userman.services import aaa, verbs
from userman.services.actor import Actor
from userman.services.menus import MENUS, Menu
from userman.services.profiles import create_and_activate_profile
from userman.store import models
from userman.store.database import Database, default_url

__all__ = ["Outcome", "Userman", "default_url"]

PRINT_OPTIONS = ("detail", "terse", "show-sensitive", "without-paging")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command gives back: the menu, and the items to print (for `print` and `add`)."""

    menu: Menu
    items: tuple[verbs.Item, ...] = ()
    options: frozenset[str] = field(default_factory=frozenset)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Userman:
    def __init__(self, url: str) -> None:
        self.database = Database(url)

    def prepare(self) -> None:
        """Migrate the schema and create the default customer on an empty database."""
        self.database.migrate()
        with self.database.begin() as db:
            if db.scalar(select(models.Customer.id).limit(1)) is None:
                verbs.add(db, Actor.superuser(), MENUS["customer"], {"login": "admin"})

    def close(self) -> None:
        self.database.dispose()

    def execute(
        self,
        actor: Actor,
        path: Sequence[str],
        verb: str,
        positional: Sequence[str] = (),
        args: Mapping[str, str] | None = None,
    ) -> Outcome:
        """Run `<menu> <verb> ...` as one transaction; on any error nothing is written."""
        args = dict(args or {})
        menu = MENUS.get(" ".join(path))
        if menu is None:
            raise NotFoundError("menu", " ".join(path) or "(none)")
        with self.database.begin() as db:
            if verb == "print":
                unknown = [p for p in positional if p not in PRINT_OPTIONS]
                if unknown or args:
                    raise InvalidValueError((unknown or list(args))[0], "unknown print option")
                options = frozenset(positional)
                shown = verbs.items(db, actor, menu, show_sensitive="show-sensitive" in options)
                return Outcome(menu, tuple(shown), options)
            if verb == "add":
                if positional:
                    raise InvalidValueError(positional[0], "add takes only name=value pairs")
                return Outcome(menu, (verbs.add(db, actor, menu, args),))
            if verb == "set":
                verbs.set_(db, actor, menu, positional, args)
            elif verb == "remove":
                verbs.remove(db, actor, menu, positional)
            elif menu.name == "user" and verb == "create-and-activate-profile":
                create_and_activate_profile(db, actor, positional, args, utcnow())
            else:
                raise NotFoundError(f"{menu.name} command", verb)
            return Outcome(menu)

    # The RADIUS use cases; the server calls them from worker threads.

    def find_router(self, address: str) -> aaa.RouterInfo | None:
        return aaa.find_router(self.database, address)

    def authenticate(
        self,
        router: aaa.RouterInfo,
        request: AccessRequest,
        now: dt.datetime,
    ) -> Decision:
        return aaa.authenticate(self.database, router, request, now)

    def account(self, router: aaa.RouterInfo, record: AccountingRecord, now: dt.datetime) -> None:
        aaa.account(self.database, router, record, now)
