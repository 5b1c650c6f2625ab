"""The many lines of an operator's import, written in bulk: `user add`, `user-profile add` and
`user create-and-activate-profile`.

Run one by one (commands.run), each such line costs a flush, a query per reference, and a
history entry read back through the ORM's events: 5.6 ms a line, 112 s for 10,000 users with
their profiles. A `Batch` checks each line by the same rules, in the same order, with the same
errors as those handlers (verbs.add, profiles.add_user_profile and
profiles.create_and_activate_profile: parse, place, defaults, permissions, references, unique
names), but looks references up in maps it fills once and queues the row with its history
entry; `flush()` writes the queue with one executemany per table and one for history, in line
order, so that ids, print order and history (one entry per line, as before) are what running
the lines one by one gives. Any other command runs the ordinary way after a flush, and the maps
are read again after it when it changed anything (once a stretch of lines is long enough to be
worth it: a few lines between other commands ask the database per line). A new user has no
sessions, so the CoA/Disconnect hook of `add` has nothing to do here. Should the database still
refuse a flush, its lines run again one by one, which names the line and the reason.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from userman.core.errors import (
    ConflictError,
    InvalidValueError,
    UnknownPropertyError,
    UsermanError,
)
from userman.core.profiles import ProfileState, end_time_for
from userman.services import permissions, verbs
from userman.services.actor import Actor
from userman.services.commands import describe
from userman.services.history import encode_value
from userman.services.menus import MENU_ALIASES, PROFILE, USER, USER_PROFILE, Menu, Prop
from userman.services.request import Request
from userman.store import bulk as store
from userman.store import models

__all__ = ["TAKEN", "Batch"]

# (menu, verb): the lines a Batch takes; every other command runs through commands.run.
TAKEN = frozenset(
    {("user", "add"), ("user-profile", "add"), ("user", "create-and-activate-profile")}
)
TABLES = models.Base.metadata.tables

Replay = Callable[[Request, dt.datetime], object]
FLUSH_EVERY = 10_000  # lines queued at most: the memory of an import stays bounded
# Lines taken since the maps were last dropped before the users are read into them: a short
# stretch between other commands asks the database per line, as those commands would, rather
# than reading every user again each time.
LOAD_AFTER = 64
# json.dumps(changes) as history.recording writes it, times and decimals by encode_value; one
# encoder for every entry rather than one made per call.
_CHANGES = json.JSONEncoder(default=encode_value)


@dataclass(slots=True)
class _User:
    """A user a line may name, as much of it as the checks need; `id` is None until flushed."""

    id: int | None
    username: str
    subscriber_id: int
    customer_id: int

    def row(self) -> SimpleNamespace:
        """What permissions.check_change reads of a user."""
        return SimpleNamespace(
            id=self.id, subscriber_id=self.subscriber_id, customer_id=self.customer_id
        )


@dataclass(frozen=True, slots=True)
class _Profile:
    id: int
    starts_at: str
    validity: dt.timedelta | None


@dataclass(slots=True)
class _Line:
    """A queued line: its row, and what its history entry needs."""

    index: int
    request: Request
    now: dt.datetime
    table: str
    row: dict[str, Any]
    action: str
    subscriber_id: int | None  # the history entry's
    user: _User | None = None  # the user a `user add` makes, to learn its id


def _default_values(menu: Menu) -> dict[Prop, object]:
    """Every default of the menu, parsed once (verbs.add parses them on each add)."""
    return verbs.default_values(menu, {})


class Batch:
    """The queue of one import's transaction; `take()` each command, `flush()` at the end."""

    def __init__(self, db: Session, actor: Actor, replay: Replay) -> None:
        self.db = db
        self.actor = actor
        self._replay = replay
        self._pending: list[_Line] = []
        self._defaults = _default_values(USER)
        self.forget()

    def forget(self) -> None:
        """Drop what was read from the database: another command may have changed it."""
        assert not getattr(self, "_pending", None), "flush before forgetting"
        self._customers: dict[str, tuple[int, int | None]] = {}
        self._refs: dict[tuple[str, str, int | None], int | None] = {}
        self._profiles: dict[tuple[str, int | None], _Profile] = {}
        self._users: dict[str, list[_User]] | None = None  # by username, what find() sees
        self._names: dict[int, set[str]] = {}  # usernames taken, by subscriber
        self._added: dict[int, set[str]] = {}  # usernames this batch took, by subscriber
        self._stretch = 0  # lines taken since
        self._fresh: set[int] = set()  # users this batch made: no profile but what it queued
        self._running: set[int] = set()  # users known to have a running profile

    # The commands.

    def take(self, request: Request, index: int, now: dt.datetime) -> bool:
        """Check and queue one command; False for a command to run the ordinary way. Raises
        what commands.run would raise for it, having queued nothing."""
        name = " ".join(request.path)
        menu_name = MENU_ALIASES.get(name, name)
        if (menu_name, request.verb) not in TAKEN:
            return False
        if request.verb == "add" and menu_name == "user" and "copy-from" in request.args:
            return False
        permissions.check_level(self.actor, menu_name, request.verb)
        self._stretch += 1
        action = describe(name, request)
        if menu_name == "user":
            if request.verb == "add":
                self._add_user(request, index, now, action)
            else:
                self._create_and_activate(request, index, now, action)
        else:
            self._add_user_profile(request, index, now, action)
        if len(self._pending) >= FLUSH_EVERY:
            self.flush()
        return True

    def _add_user(self, request: Request, index: int, now: dt.datetime, action: str) -> None:
        """verbs.add for the user menu (commands._add), without copy-from."""
        menu, actor = USER, self.actor
        if request.positional:
            raise InvalidValueError(request.positional[0], "add takes only name=value pairs")
        args = dict(request.args)
        parsed = verbs.parse_values(menu, args)
        owner = menu.by_name[menu.owner]
        text = args.get(owner.name) or next((args[a] for a in owner.aliases if a in args), "")
        customer_id, subscriber_id = self._customer(text)
        assert subscriber_id is not None
        row: dict[str, Any] = {owner.column: customer_id, "subscriber_id": subscriber_id}
        columns = {p.column for p in parsed}
        defaults = {p: v for p, v in self._defaults.items() if p.column not in columns}
        parsed = {**defaults, **parsed}
        permissions.check_change(self.db, actor, menu, SimpleNamespace(id=None, **row), "add")
        for prop, value in parsed.items():
            for column in prop.clears:
                row[column] = None
            if prop.ref is None:
                row[prop.column] = value
            elif prop.name == menu.owner:
                continue  # placed already
            elif prop.ref == "customer":
                row[prop.column] = self._reference(prop, str(value), subscriber_id, needed=True)
            else:
                row[prop.column] = self._reference(prop, str(value), subscriber_id, needed=False)
        username = self._check_user(row)
        user = _User(None, username, subscriber_id, customer_id)
        self._added.setdefault(subscriber_id, set()).add(username)
        if subscriber_id in self._names:
            self._names[subscriber_id].add(username)
        if self._users is not None:
            self._users.setdefault(username, []).append(user)
        subscriber = actor.subscriber_id if actor.subscriber_id is not None else subscriber_id
        self._pending.append(_Line(index, request, now, "user", row, action, subscriber, user))

    def _check_user(self, row: dict[str, Any]) -> str:
        """verbs._check_row for a new user: its name, unique in its subscriber; the references
        it must have; the names in its `attributes=`."""
        menu = USER
        assert menu.key is not None
        username = row.get(menu.by_name[menu.key].column)
        if not username:
            raise InvalidValueError(menu.key, "required")
        if self._taken(row["subscriber_id"], username):
            raise ConflictError(menu.key, f'an item named "{username}" already exists')
        for prop in menu.props:
            missing = prop.ref is not None and row.get(prop.column) is None
            if missing and prop.writable and (prop.required or prop.name == menu.owner):
                raise InvalidValueError(prop.name, "required")
        if row.get("attributes"):
            verbs.check_attribute_names(self.db, SimpleNamespace(**row))
        return str(username)

    def _create_and_activate(
        self, request: Request, index: int, now: dt.datetime, action: str
    ) -> None:
        """profiles.create_and_activate_profile."""
        for name in request.args:
            if name not in ("customer", "profile"):
                raise UnknownPropertyError(name, "user create-and-activate-profile")
        if len(request.positional) != 1:
            raise InvalidValueError("numbers", "say which one user (its username or *ID)")
        if not request.args.get("profile"):
            raise InvalidValueError("profile", "required")
        _, subscriber_id = self._customer(request.args.get("customer") or "")
        user = self._user(request.positional[0], subscriber_id)
        permissions.check_change(self.db, self.actor, USER, user.row(), request.verb)
        profile = self._profile(request.args["profile"], subscriber_id)
        self._activate(user, profile, request, index, now, action)

    def _add_user_profile(
        self, request: Request, index: int, now: dt.datetime, action: str
    ) -> None:
        """profiles.add_user_profile: activate, or store the entry as given (an export)."""
        if request.positional:
            raise InvalidValueError(request.positional[0], "add takes only name=value pairs")
        args = dict(request.args)
        for name in ("user", "profile"):
            if not args.get(name):
                raise InvalidValueError(name, "required")
        user = self._user(args.pop("user"), None)
        permissions.check_change(self.db, self.actor, USER, user.row(), request.verb)
        profile = self._profile(args.pop("profile"), user.subscriber_id)
        stored = {}
        for name, text in args.items():
            prop = USER_PROFILE.by_name.get(name)
            if prop is None or prop.ref is not None:
                raise UnknownPropertyError(name, "user-profile add")
            stored[prop.column] = prop.kind.parse(text, name)
        if not stored:
            self._activate(user, profile, request, index, now, action)
            return
        row = self._entry(user, profile, now)
        row.update(stored)
        self._queue_entry(row, request, index, now, action)

    def _entry(self, user: _User, profile: _Profile, now: dt.datetime) -> dict[str, Any]:
        return {
            "subscriber_id": user.subscriber_id,
            "user_id": user.id,
            "profile_id": profile.id,
            "state": ProfileState.WAITING,
            "assigned_at": now,
        }

    def _activate(  # noqa: PLR0917 - the line and what it names
        self,
        user: _User,
        profile: _Profile,
        request: Request,
        index: int,
        now: dt.datetime,
        action: str,
    ) -> None:
        """profiles.activate: queued, and running at once when it starts when assigned and
        the user has none running."""
        row = self._entry(user, profile, now)
        if profile.starts_at == "now" and not self._has_running(user):
            row["state"] = ProfileState.RUNNING
            row["start_time"] = now
            row["end_time"] = end_time_for(now, profile.validity)
        self._queue_entry(row, request, index, now, action)

    def _queue_entry(
        self, row: dict[str, Any], request: Request, index: int, now: dt.datetime, action: str
    ) -> None:
        row["state"] = ProfileState(row["state"])  # `state=` as given is text
        if row["state"] is ProfileState.RUNNING:
            self._running.add(row["user_id"])
        actor = self.actor
        subscriber = (
            actor.subscriber_id if actor.subscriber_id is not None else row["subscriber_id"]
        )
        self._pending.append(_Line(index, request, now, "user_profile", row, action, subscriber))

    # What lines name, looked up once.

    def _customer(self, text: str) -> tuple[int, int | None]:
        """verbs.resolve_customer: (id, subscriber) of the customer `text` names, or the
        actor's own."""
        found = self._customers.get(text)
        if found is None:
            customer = verbs.resolve_customer(self.db, self.actor, text or None)
            found = self._customers[text] = (customer.id, customer.subscriber_id)
        return found

    def _reference(self, prop: Prop, text: str, subscriber_id: int, *, needed: bool) -> int | None:
        """verbs._apply's lookup of another item a property names."""
        key = (prop.name, text, subscriber_id)
        if key not in self._refs:
            db, actor = self.db, self.actor
            if needed:
                target = verbs.resolve(db, actor, prop, text, subscriber_id)
            else:
                target = verbs.resolve_optional(db, actor, prop, text, subscriber_id)
            self._refs[key] = None if target is None else target.id
        return self._refs[key]

    def _profile(self, text: str, subscriber_id: int | None) -> _Profile:
        key = (text, subscriber_id)
        found = self._profiles.get(key)
        if found is None:
            row = verbs.find(self.db, self.actor, PROFILE, text, subscriber_id)
            validity = dt.timedelta(seconds=row.validity) if row.validity else None
            found = self._profiles[key] = _Profile(row.id, row.starts_at, validity)
        return found

    def _user(self, key: str, subscriber_id: int | None) -> _User:
        """verbs.find(USER, key, subscriber_id), from the map of the users the actor sees; a
        `*ID`, a print number or a name it lacks asks the database (which raises as find
        does)."""
        if self._users is None and self._stretch < LOAD_AFTER:
            self.flush()
            row = verbs.find(self.db, self.actor, USER, key, subscriber_id)
            return _User(row.id, row.username, row.subscriber_id, row.customer_id)
        users = self._user_map()
        found = [] if key.startswith("*") else users.get(key, [])
        if subscriber_id is not None:
            found = [user for user in found if user.subscriber_id == subscriber_id]
        if len(found) > 1:
            assert USER.key is not None
            raise ConflictError(USER.key, f'"{key}" names several items; use *ID')
        if not found:
            self.flush()
            row = verbs.find(self.db, self.actor, USER, key, subscriber_id)
            return _User(row.id, row.username, row.subscriber_id, row.customer_id)
        if found[0].id is None:
            self.flush()  # its id, for the rows that name it
            if found[0].id is None:  # written one by one after all (_run_again)
                return self._user(key, subscriber_id)
        return found[0]

    def _user_map(self) -> dict[str, list[_User]]:
        if self._users is None:
            self.flush()
            self._users = {}
            for user_id, username, subscriber_id, customer_id in store.users(
                self.db, verbs.scope(self.actor, USER)
            ):
                user = _User(user_id, username, subscriber_id, customer_id)
                self._users.setdefault(username, []).append(user)
        return self._users

    def _taken(self, subscriber_id: int, username: str) -> bool:
        """Whether a user of the subscriber has that name already (verbs._check_key)."""
        names = self._names.get(subscriber_id)
        if names is not None:
            return username in names
        added = self._added.get(subscriber_id, set())
        if username in added:
            return True
        if self._stretch < LOAD_AFTER:
            return store.username_taken(self.db, subscriber_id, username)
        names = self._names[subscriber_id] = store.usernames(self.db, subscriber_id) | added
        return username in names

    def _has_running(self, user: _User) -> bool:
        assert user.id is not None
        if user.id in self._running:
            return True
        if user.id in self._fresh:
            return False
        if store.has_running_profile(self.db, user.id):
            self._running.add(user.id)
            return True
        return False

    # Writing.

    def flush(self) -> None:
        """Write the queued lines: rows in line order, then one history entry per line."""
        if not self._pending:
            return
        lines, self._pending = self._pending, []
        db = self.db
        db.flush()
        # A write before the SAVEPOINT, as history's undo does: the sqlite3 driver opens the
        # outer transaction only before a write, and releasing a savepoint must not commit.
        for subscriber_id in dict.fromkeys(line.subscriber_id for line in lines):
            store.discard_undone(db, subscriber_id)
        savepoint = db.begin_nested()
        try:
            entries = self._write(lines)
        except (IntegrityError, store.OrderError):
            savepoint.rollback()
            self._run_again(lines)
            return
        savepoint.commit()
        for line, entry in zip(lines, entries, strict=True):
            if line.user is not None:
                line.user.id = entry
                self._fresh.add(entry)

    def _write(self, lines: list[_Line]) -> list[int]:
        """Insert the rows and their history entries; each line's new id."""
        for table in dict.fromkeys(line.table for line in lines):
            mine = [line for line in lines if line.table == table]
            rows = store.insert_rows(self.db, TABLES[table], [line.row for line in mine])
            for line, row in zip(mine, rows, strict=True):
                line.row = dict(row)  # as the database holds it, with its id
        entries = []
        for line in lines:
            change = {"table": line.table, "id": line.row["id"], "before": None, "after": line.row}
            entries.append(
                {
                    "subscriber_id": line.subscriber_id,
                    "actor": self.actor.login,
                    "action": line.action,
                    "changes": _CHANGES.encode([change]),
                    "sub_changes": 1,
                    "state": "done",
                    "time": line.now,
                }
            )
        store.insert_history(self.db, entries)
        return [line.row["id"] for line in lines]

    def _run_again(self, lines: list[_Line]) -> None:
        """The database refused what the checks let through (or gave rows back in an order
        that cannot be trusted): run the lines one by one, so that the one it refuses fails
        with its own error and line."""
        self._pending = []
        self.forget()
        for line in lines:
            try:
                self._replay(line.request, line.now)
            except UsermanError as error:
                error.request_index = line.index
                raise
