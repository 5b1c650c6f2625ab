"""The policy in memory (core/policy.py), loaded once and kept current from the change log.

`PolicyCache.load` reads everything a decision needs in a few statements per table. From then
on `refresh` reads only the changes that the database's triggers noted (store/policy.py):
rows of the small tables (customers, profiles, limitations, profile-limitations, groups,
attributes) are read again by id, and users whose own rows changed (the user, its user-profile
entries, its sessions) are read again whole. It runs after every transaction this process
commits (`Database.after_commit`: a command, a web form, an accounting batch is in effect for
the next request) and every POLL_INTERVAL for what other processes commit (server/policy.py).
Too many changes at once, or a reader that could not read for STALE_AFTER, reads everything
again: the change log keeps KEEP of changes.

Readers (the server's event loop) only look records up; a refresh replaces records and, for
the small tables, whole dictionaries, so a reader never sees a dictionary change under it.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import gc
import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from userman.core.authorize import CustomAttribute, auth_methods, inner_methods
from userman.core.limits import LimitationFacts, Usage, parse_reset_interval
from userman.core.policy import (
    AttributeRecord,
    Binding,
    CustomerRecord,
    Entry,
    GroupRecord,
    LimitationRecord,
    Policy,
    ProfileRecord,
    SessionUsage,
    UsageChange,
    UserRecord,
    UserState,
    with_usage,
)
from userman.core.windows import Window, parse_weekdays
from userman.services.claims import Claims
from userman.services.facts import LIMITATION_COLUMNS, zone
from userman.store import claims, notify
from userman.store import policy as store
from userman.store.database import Database

__all__ = ["COMMIT_WAIT", "KEEP", "PolicyCache"]

log = logging.getLogger("userman.policy")

CHANGE_LIMIT = 20_000  # more changes than this at once: read everything again
KEEP = dt.timedelta(minutes=10)  # how long the change log keeps a change (`prune`)
STALE_AFTER = 300.0  # seconds without a good read after which a reader reads everything again
COMMIT_WAIT = 1.0  # seconds a commit of this process waits for another read of the policy


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _customer(row: Row[Any]) -> CustomerRecord:
    return CustomerRecord(
        row.id, row.disabled, zone(row.time_zone), row.on_shared_users_limit == "disconnect-oldest"
    )


def _profile(row: Row[Any]) -> ProfileRecord:
    validity = dt.timedelta(seconds=row.validity) if row.validity else None
    return ProfileRecord(row.id, row.name, validity, row.override_shared_users, row.attributes)


def _limitation(row: Row[Any]) -> LimitationRecord:
    facts = LimitationFacts(
        **{column: getattr(row, column) for column in LIMITATION_COLUMNS},
        reset_counters_interval=parse_reset_interval(row.reset_counters_interval),
        reset_counters_start_time=row.reset_counters_start_time,
        windows=(),
    )
    return LimitationRecord(row.id, row.subscriber_id, facts)


def _binding(row: Row[Any]) -> Binding:
    window = Window(row.from_time, row.till_time, parse_weekdays(row.weekdays))
    return Binding(row.id, row.profile_id, row.limitation_id, window)


def _group(row: Row[Any]) -> GroupRecord:
    outer, inner = auth_methods(row.outer_auths), inner_methods(row.inner_auths)
    return GroupRecord(row.id, row.attributes, outer, inner)


def _attribute(row: Row[Any]) -> AttributeRecord:
    definition = CustomAttribute(row.name, row.vendor_id, row.type_id, row.value_type)
    return AttributeRecord(row.id, row.subscriber_id, definition)


# Each small table: the Policy attribute that holds it, and its record of a row.
TABLES: dict[str, tuple[str, Any]] = {
    "customer": ("customers", _customer),
    "profile": ("profiles", _profile),
    "limitation": ("limitations", _limitation),
    "profile_limitation": ("bindings", _binding),
    "user_group": ("groups", _group),
    "attribute": ("attributes", _attribute),
}
assert set(TABLES) == set(store.CONFIG_TABLES)


NOTHING_USED = Usage()
# The user's columns (store.USER_COLUMNS positions) that most users share a value of: one
# string object per value, not one per user (caller-id, addresses, wireless, attributes).
SHARED = (7, 9, 10, 11, 12, 13, 15)


def _states(rows: store.UserRows, since: dt.datetime) -> list[UserState]:
    """The users' states from their rows (as positional tuples: a million users load in
    seconds, not minutes)."""
    entries: dict[int, list[Entry]] = defaultdict(list)
    for entry_id, user_id, profile_id, state, start, end, uptime, down, up in rows.entries:
        used = Usage(uptime, down, up) if uptime or down or up else NOTHING_USED
        entries[user_id].append(Entry(entry_id, profile_id, state, start, end, used))
    sessions: dict[int, list[SessionUsage]] = defaultdict(list)
    for session_id, user_id, till_time, active, uptime, down, up in rows.sessions:
        used = Usage(uptime, down, up) if uptime or down or up else NOTHING_USED
        sessions[user_id].append(SessionUsage(session_id, till_time, active, used))
    values: dict[object, object] = {}
    states = []
    for row in rows.users:
        columns = list(row)
        for index in SHARED:
            columns[index] = values.setdefault(columns[index], columns[index])
        user_id = columns[0]
        states.append(
            UserState(
                UserRecord(*columns),
                tuple(entries.get(user_id, ())),
                tuple(sessions.get(user_id, ())),
                since,
            )
        )
    return states


class PolicyCache:
    """The policy of this process, and how far the change log has been read into it."""

    def __init__(
        self,
        database: Database,
        clock: Callable[[], dt.datetime] = utcnow,
        *,
        remember: bool = True,
    ) -> None:
        self.database = database
        self.clock = clock  # what the counting periods are reckoned from
        # Whether decisions keep users' facts and terms (core/policy.py decision_facts);
        # bench/decision.py compares.
        self.remember = remember
        self.policy = Policy()
        self.loaded = False
        self.counters: Counter[str] = Counter()
        # When the last good read of the change log began (time.monotonic()); None: never.
        self.refreshed: float | None = None
        self._cursor: store.Cursor | None = None
        self._lock = threading.Lock()
        self._listening = False
        # Accounting batches of this process, committing or committed, whose changes are not
        # read yet: what each wrote, by user, to put in memory in place of reading those users
        # again (`expect`). Replaced whole under `_expecting`, never changed in place.
        self._expected: tuple[tuple[store.Mark, Mapping[int, UsageChange]], ...] = ()
        self._expecting = threading.Lock()
        self._listener: notify.Listener | None = None
        # The places this process's Accepts claimed under shared-users limits while it serves
        # alone, until their sessions start (services/claims.py): counted by its decisions.
        self.claims = Claims()

    def load(self) -> None:
        """Read everything, and from now on follow what this process commits."""
        with self._lock:
            self._load()
        if not self._listening:
            self._listening = True
            self.database.after_commit.append(self.refresh_quietly)

    def _load(self) -> None:
        began, now = time.monotonic(), self.clock()
        policy = Policy()
        policy.remember = self.remember
        mark = self.claims.mark()  # the sessions started before this read are in it
        with self._read() as db:
            cursor = store.start_cursor(db)  # before the tables: nothing falls in between
            for table, (name, record) in TABLES.items():
                getattr(policy, name).update(
                    (row.id, record(row)) for row in store.config_rows(db, table)
                )
            since = policy.period_floor(now)
            after = 0
            while True:  # a part at a time: the rows of a million users are never all held
                states = _states(store.user_rows(db, None, since, after=after), since)
                if not states:
                    break
                for state in states:
                    policy.put_user(state)
                after = states[-1].user.id
        self.policy, self._cursor, self.loaded = policy, cursor, True
        self._forget_passed(cursor)
        self.claims.settle(mark)
        self.refreshed = began
        self.counters["loads"] += 1
        # The policy's objects live until the next load and hold no cycles: out of the
        # collector's sight, a full collection does not walk a million users (a pause of a
        # second in the middle of the requests). What they replace is freed by its counts.
        gc.freeze()

    def _read(self) -> Session:
        """A unit of work of its own: not `Database.begin`, whose commit refreshes."""
        return self.database.session()

    def refresh(self, wait: float | None = None) -> int:
        """Take in what was committed since the last read; how many changes (-1: everything
        was read again). With `wait`, give up after that many seconds if another read holds
        the policy (a full load takes seconds at a million users) and return 0: that read or
        the watcher's next one takes the changes in."""
        if not self._lock.acquire(timeout=-1 if wait is None else wait):
            self.counters["refreshes-left-to-the-next"] += 1
            return 0
        try:
            return self._refresh()
        finally:
            self._lock.release()

    def _refresh(self) -> int:
        began = time.monotonic()
        cursor = self._cursor
        if cursor is None or self.refreshed is None or began - self.refreshed > STALE_AFTER:
            self._load()
            return -1
        cursor = copy.deepcopy(cursor)  # moved only once the changes are in
        mark = self.claims.mark()
        with self._read() as db:
            changes = store.read_changes(db, cursor, CHANGE_LIMIT)
            if changes is not None and changes:
                changes_taken = self._apply(db, changes)
            else:
                changes_taken = changes is not None
        if not changes_taken:
            self._load()
            return -1
        self._cursor, self.refreshed = cursor, began
        self._forget_passed(cursor)
        self.claims.settle(mark)  # the sessions this read saw start take their claims over
        if changes:
            self.counters["changes"] += len(changes)
        return len(changes or ())

    def refresh_quietly(self) -> None:
        """`refresh` after a commit of this process (waiting at most COMMIT_WAIT for another
        read, so that an accounting batch is not answered seconds late while everything is
        read again): an error is logged, never raised (the commit stands; the server's watcher
        reads the change again)."""
        try:
            self.refresh(wait=COMMIT_WAIT)
        except Exception:
            self.counters["failed-refreshes"] += 1
            log.exception("could not read the policy's changes")

    def expect(self, mark: store.Mark, users: Mapping[int, UsageChange]) -> None:
        """Before an accounting batch of this process commits: its changes (`mark`) are, for
        these users, what `users` says; a read of the change log that meets them puts that in
        memory rather than reading those users again (unless a change made by someone else
        touches them too). Its other users' changes are read as any others are."""
        with self._expecting:
            self._expected = (*self._expected, (mark, users))

    @property
    def expecting(self) -> int:
        """How many accounting batches' changes are expected and not read yet."""
        return len(self._expected)

    def withdraw(self, mark: store.Mark) -> None:
        """The batch of `mark` did not commit: nothing is to be expected of it."""
        with self._expecting:
            self._expected = tuple(held for held in self._expected if held[0] != mark)

    def _forget_passed(self, cursor: store.Cursor) -> None:
        """Forget the batches whose changes the cursor has gone past (a load read them)."""
        with self._expecting:
            self._expected = tuple(held for held in self._expected if not held[0].passed(cursor))

    def _apply(self, db: Session, changes: list[store.Change]) -> bool:
        """Read again what the changes touched; False when everything must be read again."""
        rows: dict[str, set[int]] = defaultdict(set)
        users: set[int] = set()
        # Read after the changes: a batch whose changes are among them was expected before.
        expected = self._expected
        met: dict[int, Mapping[int, UsageChange]] = {}  # by position in `expected`
        for change in changes:
            if change.table in TABLES:
                rows[change.table].add(change.row_id)
            elif change.user_id is not None:
                for at, (mark, wrote) in enumerate(expected):
                    if mark.holds(change):
                        if change.user_id in wrote:
                            met[at] = wrote
                            break
                        users.add(change.user_id)  # a row of the batch's it did not hold
                        break
                else:
                    users.add(change.user_id)
        policy, now = self.policy, self.clock()
        if rows:
            floor = policy.period_floor(now)
            for table, ids in rows.items():
                name, record = TABLES[table]
                held = dict(getattr(policy, name))  # a new dict: readers keep the old one
                for row_id in ids:
                    held.pop(row_id, None)
                held.update((row.id, record(row)) for row in store.config_rows(db, table, ids))
                setattr(policy, name, held)
            policy.rows_changed()
            if policy.period_floor(now) < floor:
                return False  # a period reaches further back than the sessions held
        if met:
            done = [expected[at] for at in met]
            with self._expecting:
                self._expected = tuple(
                    held for held in self._expected if not any(held is d for d in done)
                )
        for at in sorted(met):  # in the order the batches committed
            for user_id, written in met[at].items():
                state = policy.by_id.get(user_id)
                if user_id in users or state is None:
                    users.add(user_id)  # someone else changed it too: read it whole
                else:
                    policy.put_user(with_usage(state, written))
                    self.counters["users-from-accounting"] += 1
        if users:
            self.counters["users-read"] += len(users)
            since = policy.period_floor(now)
            states = _states(store.user_rows(db, users, since), since)
            for state in states:
                policy.put_user(state)
            for user_id in users - {state.user.id for state in states}:
                policy.drop_user(user_id)
        return True

    def remembering(self, on: bool) -> None:
        """Whether decisions keep users' facts and terms from now on; forgets those kept."""
        self.remember = self.policy.remember = on
        self.policy.memo = {}

    def prune(self, now: dt.datetime) -> int:
        """Delete the changes older than KEEP, and the shared-users claims that lapsed (every
        server may; the server's sweeper does)."""
        with self.database.begin() as db:
            claims.prune(db, now)
            return store.prune(db, now - KEEP)

    @property
    def notified(self) -> bool:
        """Whether other processes' commits are notified (PostgreSQL's LISTEN/NOTIFY), not
        only found by polling the change log."""
        return not self.database.is_sqlite

    def wait_for_changes(self, timeout: float) -> bool:
        """Wait at most `timeout` seconds for a commit of another process to be notified:
        True when one was, or when listening (re)starts (what was committed before is read
        next: a node whose connection was lost catches up); False after the timeout. A lost
        connection raises, and the next call listens anew."""
        if self._listener is None:
            self._listener = notify.Listener(self.database.engine)
            self.counters["listens"] += 1
            return True
        try:
            came = self._listener.wait(timeout)
        except Exception:
            self.stop_listening()
            raise
        if came:
            self.counters["notifications"] += 1
        return came

    def stop_listening(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                listener.close()

    def user(self, subscriber_id: int, username: str) -> UserState | None:
        return self.policy.user(subscriber_id, username)
