"""The accounting use case: each record changes its session, its user's counters and the
counters of the user's running user-profile entry; one transaction for a batch of records.

A batch is the group-commit writer's (server/writer.py): its rows are read in three SELECTs
(sessions, users, running entries; store/accounting.py), its records applied in their order in
memory with core/accounting.apply (a later record of a session sees what an earlier one did),
and what changed is written with a few executemany INSERTs and UPDATEs: no ORM object per
record. Counters are added as `column + total`, so concurrent writers lose no count. Only the
sessions of routers that use CoA, whose limits are checked after each Start or Interim-Update,
are read as ORM objects, to queue a Disconnect (services/coa.py, services/enforce.py).

`account_batch` also says which users' usage or open sessions the batch changed. Given the
server's policy in memory (services/policy.py), it tells it, before the commit, what the batch
wrote for each user as plain values (`UsageChange`): the policy puts that in memory when it
reads the batch's changes, instead of reading those users again. Only users whose rows the batch
wrote in full are told so; those an Accounting-On/Off closed sessions of, and those whose limits
a use-coa router's record checked, are read again.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from userman.core.accounting import AccountingRecord, AcctStatus, SessionState, apply
from userman.core.authorize import used_up
from userman.core.context import RequestContext
from userman.core.limits import Usage
from userman.core.policy import SessionUsage, UsageChange
from userman.services import coa
from userman.services.enforce import remember
from userman.services.facts import user_facts
from userman.services.routers import RouterInfo
from userman.store import accounting as rows
from userman.store import claims, models
from userman.store import policy as changes
from userman.store.database import Database

if TYPE_CHECKING:
    from userman.services.policy import PolicyCache

__all__ = [
    "CHECKED",
    "NAS_REBOOT",
    "STALE",
    "STORED",
    "Accounted",
    "AccountingItem",
    "account_batch",
    "account_many",
    "close_stale",
    "store_batch",
    "store_records",
]

# What the server hands over for each Accounting-Request: the router, the record, when it arrived.
AccountingItem = tuple[RouterInfo, AccountingRecord, dt.datetime]

# The records that change a session; Accounting-On/Off are acknowledged without one.
STORED = frozenset({AcctStatus.START, AcctStatus.INTERIM_UPDATE, AcctStatus.STOP})

# The records that, on a router that uses CoA, check the session's limits (services/enforce.py).
CHECKED = frozenset({AcctStatus.START, AcctStatus.INTERIM_UPDATE})

NAS_REBOOT = "nas-reboot"  # Acct-Terminate-Cause NAS-Reboot (RFC 2866 5.10)
STALE = "stale"  # terminate-cause of a session closed for want of updates

# The request context of a new session row before its first record fills it in.
EMPTY_CONTEXT: dict[str, Any] = {
    column: getattr(RequestContext(), column) for column in RequestContext.COLUMNS
}


# A Start for an open session that has heard nothing but its Start, begun at most this long
# before this one says it began, is that Start again (a router's retransmission, perhaps to
# another server); later, it is a new session that reuses the id.
REPEATED_START = dt.timedelta(seconds=60)


def _repeated(state: SessionState, began: dt.datetime) -> bool:
    """Whether a Start that says it began at `began` repeats the one that opened `state`."""
    return (
        state.active
        and state.status == {"start"}
        and abs(began - state.from_time) <= REPEATED_START
    )


@dataclass(frozen=True, slots=True)
class Accounted:
    """What a batch stored: each record's session as stored (None for Accounting-On/Off), in
    the records' order, and the ids of the users whose usage counters or open sessions it
    changed (a session opened or closed, or usage counted): the users a copy of the policy
    held in memory must read again once the batch is committed."""

    sessions: list[SessionState | None]
    users: frozenset[int]
    # With `marked`: which rows of the change log the batch wrote, and what it wrote for each
    # user whose rows it wrote in full (the others among `users` are to be read again).
    mark: changes.Mark | None = None
    usage: dict[int, UsageChange] = field(default_factory=dict)
    # The users of the session rows it inserted: each takes a claim over (services/claims.py).
    started: tuple[int, ...] = ()


def account_many(
    database: Database,
    items: Sequence[AccountingItem],
    policy: PolicyCache | None = None,
    started: Callable[[tuple[int, ...]], None] | None = None,
) -> list[SessionState | None]:
    """Store several records in one transaction (the server's group commit), in their order.

    Returns each record's session as stored (None for Accounting-On/Off) once all of them are
    committed; when one fails, none is stored and the error is raised. `started` is told, at
    the commit, before the policy in memory reads it, whose sessions it inserted.
    """
    return account_batch(database, items, policy, started).sessions


def account_batch(
    database: Database,
    items: Sequence[AccountingItem],
    policy: PolicyCache | None = None,
    started: Callable[[tuple[int, ...]], None] | None = None,
) -> Accounted:
    """`account_many`, and which users the batch changed: returns once it is committed.
    A loaded `policy` is told what the batch wrote before it commits (`PolicyCache.expect`);
    `started`, at the commit, the users whose sessions it inserted."""
    expecting = policy is not None and policy.loaded
    mark = None
    try:
        with database.begin() as db:
            accounted = store_batch(db, items, marked=expecting)
            mark = accounted.mark
            if policy is not None and mark is not None and accounted.usage:
                policy.expect(mark, accounted.usage)
            if started is not None and accounted.started:
                db.info.setdefault("committed", []).append(
                    functools.partial(started, accounted.started)
                )
    except BaseException:
        if policy is not None and mark is not None:
            policy.withdraw(mark)
        raise
    return accounted


def store_records(db: Session, items: Sequence[AccountingItem]) -> list[SessionState | None]:
    """`store_batch`'s sessions: the records applied inside the caller's transaction."""
    return store_batch(db, items).sessions


def store_batch(db: Session, items: Sequence[AccountingItem], *, marked: bool = False) -> Accounted:
    """Apply records, in their order, inside the caller's transaction.

    The rows they touch are read up front; a later record of a session sees what an earlier
    one of the same batch did to it. Everything is written at the end, in a few statements.
    `marked`: also say which changes of the change log the batch wrote, and what it wrote for
    each user (its transaction then begins here, with SQLite's write lock taken first).
    """
    began = changes.begin_marked(db) if marked else 0
    batch = _Batch.load(db, items)
    stored = [batch.store(db, router, record, now) for router, record, now in items]
    batch.write(db)
    started = tuple(row.user_id for row in batch.new if row.user_id is not None)
    if not marked:
        return Accounted(stored, frozenset(batch.changed), started=started)
    mark = changes.mark(db, began)
    return Accounted(stored, frozenset(batch.changed), mark, batch.usage(), started)


@dataclass(slots=True)
class _Batch:
    """The rows a batch touches, as plain values, and what it changed in them."""

    # The newest session of each (router id, Acct-Session-Id).
    sessions: dict[tuple[int, str], rows.SessionRow]
    by_name: dict[tuple[int, str], rows.UserRow]
    by_id: dict[int, rows.UserRow]
    # The running user-profile entry of each user the batch may count for, by user id.
    running: dict[int, rows.EntryRow]
    # Every session row held: the newest of each key, and those a Start made older.
    held: list[rows.SessionRow] = field(default_factory=list)
    new: list[rows.SessionRow] = field(default_factory=list)
    dirty: dict[int, rows.SessionRow] = field(default_factory=dict)  # stored rows, by id()
    # What the batch adds to each user's counters (uptime, download, upload), and when the user
    # was last seen; the same for the running entries' counters, by entry id.
    user_counted: dict[int, tuple[dt.datetime, list[int]]] = field(default_factory=dict)
    entry_counted: dict[int, list[int]] = field(default_factory=dict)
    # The open sessions a Start or Interim-Update reported on a use-coa router, by id(): their
    # user's id and the record's time, to check the limits once the usage is written.
    to_check: dict[int, tuple[rows.SessionRow, int, dt.datetime]] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    changed: set[int] = field(default_factory=set)
    # Users some of whose rows the batch wrote without holding them (an Accounting-On closes
    # the router's sessions in one UPDATE; a limits check writes ORM objects).
    unheld: set[int] = field(default_factory=set)

    @classmethod
    def load(cls, db: Session, items: Sequence[AccountingItem]) -> _Batch:
        """One SELECT for the sessions, one for the users, one for their running entries."""
        keys: set[tuple[int, str]] = set()
        names: set[tuple[int, str]] = set()
        named: set[int] = set()
        for router, record, _ in items:
            if record.status in STORED:
                keys.add((router.id, record.acct_session_id))
                names.add((router.subscriber_id, record.username))
                if record.user_id is not None:
                    named.add(record.user_id)
        # Another node's batch with the same sessions commits first (store/claims.py).
        claims.lock_sessions(db, keys)
        sessions = rows.latest_sessions(db, keys) if keys else {}
        users = rows.users(db, names, named) if names or named else []
        by_name = {(user.subscriber_id, user.username): user for user in users}
        by_id = {user.id: user for user in users}
        running = rows.running_entries(db, by_id.keys()) if by_id else {}
        return cls(sessions, by_name, by_id, running, held=list(sessions.values()))

    def store(
        self, db: Session, router: RouterInfo, record: AccountingRecord, now: dt.datetime
    ) -> SessionState | None:
        """Apply one record to its session and its user's counters, in memory."""
        now = record.occurred(now)
        if record.status in (AcctStatus.ACCOUNTING_ON, AcctStatus.ACCOUNTING_OFF):
            # RFC 2866 5.1: the router (re)started or stops: none of its sessions go on.
            self._close_router_sessions(db, router, now)
            return None
        if record.status not in STORED:
            return None
        key = (router.id, record.acct_session_id)
        row = self.sessions.get(key)
        if row is not None and record.status is AcctStatus.START and _repeated(row.state, now):
            # The same Start again, sent to another node after a timeout (README "Nodes on one
            # PostgreSQL"): the session's natural key decides, and it is there already.
            return row.state
        if row is not None and record.status is AcctStatus.START:
            # A new Start with the same id closes the old session (and starts another).
            self._set(row, replace(row.state, active=False))
            row = None
        before = row.state if row is not None else None
        after = apply(before, record, now)
        user = self.by_name.get((router.subscriber_id, record.username))
        if record.user_id is not None:
            # The Class of our Access-Accept names the user, whatever User-Name the router sends.
            named = self.by_id.get(record.user_id)
            if named is not None and named.subscriber_id == router.subscriber_id:
                user = named
        if row is None:
            row = rows.SessionRow(
                None,
                router.subscriber_id,
                user.customer_id if user else router.customer_id,
                router.id,
                user.id if user else None,
                after,
                {**EMPTY_CONTEXT, "acct_session_id": record.acct_session_id},
            )
            self.sessions[key] = row
            self.held.append(row)
            self.new.append(row)
            if after.active and row.user_id is not None:
                self.changed.add(row.user_id)
        if user is not None:
            # Counters only grow (core/accounting.py), so a duplicate, an older update or one
            # after the Stop adds 0: each byte and second is counted once.
            self._count(
                user.id,
                (
                    after.uptime - (before.uptime if before else 0),
                    after.download - (before.download if before else 0),
                    after.upload - (before.upload if before else 0),
                ),
                now,
            )
        for column in RequestContext.COLUMNS:
            value = getattr(record.context, column)
            if value not in (None, ""):  # an update that leaves a field out keeps what was there
                row.context[column] = value
        self._set(row, after)
        if router.use_coa and user is not None and record.status in CHECKED:
            self.to_check[id(row)] = (row, user.id, now)
        if "acct-ok" in router.log:
            self.log.append(
                {
                    "subscriber_id": router.subscriber_id,
                    "customer_id": router.customer_id,
                    "router_id": router.id,
                    "user_orig": record.username,
                    "status": "accounting-ok",
                    "time": now,
                    "description": "",
                    **{c: getattr(record.context, c) for c in RequestContext.COLUMNS},
                }
            )
        return after

    def _set(self, row: rows.SessionRow, state: SessionState) -> None:
        """Give a held session its new state; a session opened or closed changes its user."""
        if state.active != row.state.active and row.user_id is not None:
            self.changed.add(row.user_id)
        row.state = state
        if row.id is not None:
            self.dirty[id(row)] = row

    def _count(self, user_id: int, used: tuple[int, int, int], now: dt.datetime) -> None:
        """Add what a record reported to the user's counters, and to its running profile's
        when that ran at `now`; the user was seen at `now`."""
        _, totals = self.user_counted.get(user_id, (now, [0, 0, 0]))
        self.user_counted[user_id] = (now, totals)
        if not any(used):
            return
        self.changed.add(user_id)
        for i, value in enumerate(used):
            totals[i] += value
        entry = self.running.get(user_id)
        if entry is None:
            return
        started = entry.start_time is None or entry.start_time <= now
        if started and (entry.end_time is None or now < entry.end_time):
            entry_totals = self.entry_counted.setdefault(entry.id, [0, 0, 0])
            for i, value in enumerate(used):
                entry_totals[i] += value

    def _close_router_sessions(self, db: Session, router: RouterInfo, now: dt.datetime) -> None:
        # Those stored (written now; the ones this batch holds are written again at the end)...
        closed = rows.close_open_sessions(db, router.id, now, NAS_REBOOT)
        self.changed |= closed
        self.unheld |= closed
        # ... and those this batch holds, opened by it or not.
        for row in self.held:
            if row.router_id == router.id and row.state.active:
                self._set(
                    row,
                    replace(
                        row.state,
                        active=False,
                        till_time=max(row.state.till_time, now),
                        terminate_cause=NAS_REBOOT,
                    ),
                )

    def write(self, db: Session) -> None:
        """Write what the batch changed: its new sessions, the stored ones it changed, the
        counters, the log; then check the limits of the use-coa routers' sessions."""
        rows.insert_sessions(db, self.new)
        rows.update_sessions(db, list(self.dirty.values()))
        rows.add_user_usage(db, self.user_counted)
        rows.add_entry_usage(db, self.entry_counted)
        rows.insert_log(db, self.log)
        if self.to_check:
            _end_used_up(db, self.to_check.values())
            self.unheld.update(user_id for _, user_id, _ in self.to_check.values())

    def usage(self) -> dict[int, UsageChange]:
        """Once written: what the batch wrote for each user whose rows it wrote in full, as
        the policy in memory holds it (each session it wrote, its entry's counters)."""
        sessions: dict[int, dict[int, SessionUsage]] = {}
        for row in (*self.new, *self.dirty.values()):
            if row.user_id is None or row.id is None:
                continue
            state = row.state
            used = Usage(state.uptime, state.download, state.upload)
            written = SessionUsage(row.id, state.till_time, state.active, used)
            sessions.setdefault(row.user_id, {})[row.id] = written
        entries: dict[int, dict[int, Usage]] = {}
        for entry in self.running.values():
            counted = self.entry_counted.get(entry.id)
            if counted is not None:
                uptime, download, upload = counted
                stored = Usage(
                    entry.uptime_used + uptime,
                    entry.download_used + download,
                    entry.upload_used + upload,
                )
                entries.setdefault(entry.user_id, {})[entry.id] = stored
        return {
            user_id: UsageChange(sessions.get(user_id, {}), entries.get(user_id, {}))
            for user_id in (sessions.keys() | entries.keys()) - self.unheld
        }


def _end_used_up(db: Session, sessions: Iterable[tuple[rows.SessionRow, int, dt.datetime]]) -> None:
    """Queue a Disconnect (once per session) for each open session whose user has now used up
    a limit of its running profile: the rule that refuses a new session (`used_up`). These few
    rows are read as ORM objects after the batch's own statements, so its usage counts."""
    checked = [(row.id, user_id, now) for row, user_id, now in sessions if row.state.active]
    if not checked:
        return
    acct_table, user_table = models.UserSession, models.User
    accts = db.scalars(
        select(acct_table)
        .where(acct_table.id.in_({acct_id for acct_id, _, _ in checked}))
        .execution_options(populate_existing=True)
    )
    users = db.scalars(
        select(user_table)
        .where(user_table.id.in_({user_id for _, user_id, _ in checked}))
        .execution_options(populate_existing=True)
    )
    acct_by_id = {acct.id: acct for acct in accts}
    user_by_id = {user.id: user for user in users}
    for acct_id, user_id, now in checked:
        acct, user = acct_by_id.get(acct_id or 0), user_by_id.get(user_id)
        if acct is None or user is None:
            continue
        facts = user_facts(db, user, now)
        if used_up(facts, now) is not None:
            coa.disconnect_once(db, acct, coa.LIMITS_REACHED, now)
        else:  # a new session: what its Access-Accept told the router, to send what changes
            remember(acct, facts, now)


def close_stale(database: Database, older_than: dt.datetime, now: dt.datetime) -> int:
    """Close the open sessions that no record has touched since `older_than` (the router was
    lost, or its Stop was): they no longer count against shared-users. How many closed."""
    with database.begin() as db:
        return len(rows.close_stale_sessions(db, older_than, STALE))
