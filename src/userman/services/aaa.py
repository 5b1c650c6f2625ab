"""The AAA use cases: load the facts, let core decide, store the outcome; one transaction each.

Accounting adds each record's usage to its session, its user's counters and the counters of the
user's running user-profile entry, in one transaction. The exception to one transaction per use
case is `account_many`, the server's group commit: many records, one transaction. The
server calls these from worker threads, never on its event loop. `RouterInfo` is a plain
value (no ORM objects leave this module), so the server can hold it in a cache.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, field, replace

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from userman.core.accounting import AccountingRecord, AcctStatus, SessionState, apply
from userman.core.authorize import AccessRequest, Decision, authorize, used_up
from userman.core.context import RequestContext
from userman.core.limits import Usage
from userman.services import coa, snapshot
from userman.services.enforce import remember
from userman.services.facts import user_facts
from userman.services.queue import store_slots
from userman.services.routers import ROUTER_FAILURE, Failure, Requirement, RouterInfo
from userman.store import models, queries
from userman.store.database import Database

__all__ = [
    "AccountingItem",
    "RouterInfo",
    "account",
    "account_many",
    "authenticate",
    "find_router",
    "log_failures",
    "note_signed",
    "store_records",
]


def find_router(database: Database, address: str) -> RouterInfo | None:
    with database.begin() as db:
        row = queries.router_by_address(db, address)
        return None if row is None else snapshot.info(row)


def _log(
    db: Session,
    router: RouterInfo,
    *,
    username: str,
    context: RequestContext,
    status: str,
    description: str,
    now: dt.datetime,
) -> None:
    entry = models.LogEntry(
        subscriber_id=router.subscriber_id,
        customer_id=router.customer_id,
        router_id=router.id,
        user_orig=username,
        status=status,
        time=now,
        description=description,
    )
    for column in RequestContext.COLUMNS:
        setattr(entry, column, getattr(context, column))
    db.add(entry)


def log_failures(database: Database, failures: Sequence[tuple[Failure, int]]) -> None:
    """Write dropped requests to their router's customer's log, whatever its `log` flags say:
    each with how many like it the server left unwritten before (server/failures.py)."""
    with database.begin() as db:
        for failure, dropped_since in failures:
            _log(
                db,
                failure.router,
                username=failure.username,
                context=failure.context,
                status=ROUTER_FAILURE,
                description=failure.describe(dropped_since),
                now=failure.time,
            )


def note_signed(database: Database, router_id: int, now: dt.datetime) -> bool:
    """Remember that a require-message-authenticator=auto router sent a signed Access-Request:
    from now on it must sign every one (FreeRADIUS 3.2.5's `auto`). False when it was known
    already, or the router is no longer `auto` (one conditional UPDATE, so any node may)."""
    table = models.Router
    with database.begin() as db:
        result = db.execute(
            update(table)
            .where(
                table.id == router_id,
                table.require_message_authenticator == Requirement.AUTO.value,
                table.message_authenticator_seen.is_(None),
            )
            .values(message_authenticator_seen=now)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def authenticate(
    database: Database, router: RouterInfo, request: AccessRequest, now: dt.datetime
) -> Decision:
    """Decide on an Access-Request and store what the decision changed (profile starts, log)."""
    with database.begin() as db:
        user = queries.user_by_username(db, router.subscriber_id, request.username)
        facts = None
        if user is not None:
            facts = replace(user_facts(db, user, now), coa=router.use_coa)
            # Only a user with open sessions can be at its limit: only then is it read.
            if facts.active_sessions:
                evict = router.evict_oldest
                if evict is None:
                    evict = _subscriber_evicts(db, router.subscriber_id)
                facts = replace(facts, evict_oldest=evict)
        decision = authorize(request, facts, now)
        store_slots(db, decision.profile_changes)
        if decision.accept and user is not None:
            user.last_seen = now
            if decision.bind_caller_id:
                user.caller_id = decision.bind_caller_id
            if decision.evict:
                _evict_oldest(db, user, decision.evict, now)
        if decision.reason is not None:
            wanted, status = "auth-fail", "authorization-failure"
            description = decision.reason.describe(request.username)
        else:
            wanted, status, description = "auth-ok", "authorization-ok", ""
        if wanted in router.log:  # the router's `log` flags choose what is written
            _log(
                db,
                router,
                username=request.username,
                context=request.context,
                status=status,
                description=description,
                now=now,
            )
        return decision


SIMULTANEOUS = "um-simultaneous-sessions"  # v7's terminate-cause


def _subscriber_evicts(db: Session, subscriber_id: int) -> bool:
    """The subscriber's own choice for its routers with on-shared-users-limit=default."""
    subscriber = queries.customer(db, subscriber_id)
    return subscriber is not None and subscriber.on_shared_users_limit == "disconnect-oldest"


def _evict_oldest(db: Session, user: models.User, count: int, now: dt.datetime) -> None:
    """End the user's `count` oldest open sessions to make room for a new one (v7): closed here
    at once, and a Disconnect-Request queued to their routers that use CoA."""
    acct = models.UserSession
    oldest = db.scalars(
        select(acct)
        .where(acct.user_id == user.id, acct.active.is_(True))
        .order_by(acct.from_time, acct.id)
        .limit(count)
    ).all()
    for row in oldest:
        row.active = False
        row.till_time = max(row.till_time, now)
        row.terminate_cause = SIMULTANEOUS
        coa.disconnect(db, row, SIMULTANEOUS, now)


def _state(row: models.UserSession) -> SessionState:
    return SessionState(
        row.acct_session_id,
        row.username,
        frozenset(filter(None, row.status.split(","))),
        row.from_time,
        row.till_time,
        row.uptime,
        row.download,
        row.upload,
        row.active,
        row.terminate_cause,
    )


# What the server hands over for each Accounting-Request: the router, the record, when it arrived.
AccountingItem = tuple[RouterInfo, AccountingRecord, dt.datetime]

# The records that change a session; Accounting-On/Off are acknowledged without one.
STORED = frozenset({AcctStatus.START, AcctStatus.INTERIM_UPDATE, AcctStatus.STOP})


def account(
    database: Database, router: RouterInfo, record: AccountingRecord, now: dt.datetime
) -> None:
    """Store an accounting record; returns only once it is committed (RFC 2866 2)."""
    with database.begin() as db:
        store_records(db, [(router, record, now)])


def account_many(database: Database, items: Sequence[AccountingItem]) -> list[SessionState | None]:
    """Store several records in one transaction (the server's group commit), in their order.

    Returns each record's session as stored (None for Accounting-On/Off) once all of them are
    committed; when one fails, none is stored and the error is raised.
    """
    with database.begin() as db:
        return store_records(db, items)


@dataclass(slots=True)
class _Rows:
    """The newest session of each (router, Acct-Session-Id) and the users a batch touches."""

    sessions: dict[tuple[int, str], models.UserSession] = field(default_factory=dict)
    users: dict[tuple[int, str], models.User] = field(default_factory=dict)
    # The running user-profile entry of each user the batch may touch, by user id.
    running: dict[int, models.UserProfile] = field(default_factory=dict)
    # What the batch adds to each entry's counters (uptime, download, upload), by entry id:
    # written at the end as one `column + total` each, so no concurrent writer's count is lost.
    counted: dict[int, list[int]] = field(default_factory=dict)
    # The same for the users' own counters (uptime-used, download-used, upload-used), by user.
    user_counted: dict[int, tuple[models.User, list[int]]] = field(default_factory=dict)
    # The open sessions an Interim-Update reported on a use-coa router: are the limits used up?
    to_check: dict[int, tuple[models.UserSession, models.User, dt.datetime]] = field(
        default_factory=dict
    )

    @classmethod
    def load(cls, db: Session, items: Sequence[AccountingItem]) -> _Rows:
        """One query per router for the sessions and one per subscriber for the users."""
        ids: dict[int, set[str]] = defaultdict(set)
        names: dict[int, set[str]] = defaultdict(set)
        for router, record, _ in items:
            if record.status in STORED:
                ids[router.id].add(record.acct_session_id)
                names[router.subscriber_id].add(record.username)
        rows = cls()
        for router_id, acct_session_ids in ids.items():
            found = queries.latest_sessions(db, router_id, acct_session_ids)
            rows.sessions.update(((router_id, key), row) for key, row in found.items())
        for subscriber_id, usernames in names.items():
            users = queries.users_by_username(db, subscriber_id, usernames)
            rows.users.update(((subscriber_id, key), user) for key, user in users.items())
        user_ids = {user.id for user in rows.users.values()}
        user_ids.update(record.user_id for _, record, _ in items if record.user_id is not None)
        if user_ids:
            rows.running = queries.running_entries(db, user_ids)
        return rows

    def count(self, user: models.User, used: Usage, now: dt.datetime) -> None:
        """Add what a record reported to the user's counters, and to its running profile's
        when that ran at `now`."""
        if any(astuple(used)):
            _, user_totals = self.user_counted.setdefault(user.id, (user, [0, 0, 0]))
            for i, value in enumerate(astuple(used)):
                user_totals[i] += value
        entry = self.running.get(user.id)
        if entry is None or not any(astuple(used)):
            return
        started = entry.start_time is None or entry.start_time <= now
        if started and (entry.end_time is None or now < entry.end_time):
            totals = self.counted.setdefault(entry.id, [0, 0, 0])
            for i, value in enumerate(astuple(used)):
                totals[i] += value

    def write_counts(self) -> None:
        entries = {entry.id: entry for entry in self.running.values()}
        table = models.UserProfile
        for entry_id, (uptime, download, upload) in self.counted.items():
            entry = entries[entry_id]
            entry.uptime_used = table.uptime_used + uptime
            entry.download_used = table.download_used + download
            entry.upload_used = table.upload_used + upload
        self.counted.clear()
        users = models.User
        for user, (uptime, download, upload) in self.user_counted.values():
            user.uptime_used = users.uptime_used + uptime
            user.download_used = users.download_used + download
            user.upload_used = users.upload_used + upload
        self.user_counted.clear()


# The words of a session's status, in the order `session print` shows them.
STATUS_WORDS = ("start", "interim", "stop", coa.CLOSE_ACKED)

NAS_REBOOT = "nas-reboot"  # Acct-Terminate-Cause NAS-Reboot (RFC 2866 5.10)


def _close_router_sessions(db: Session, rows: _Rows, router: RouterInfo, now: dt.datetime) -> None:
    stored = db.scalars(
        select(models.UserSession).where(
            models.UserSession.router_id == router.id, models.UserSession.active.is_(True)
        )
    )
    # And those this batch opened, not written yet.
    pending = [row for (router_id, _), row in rows.sessions.items() if router_id == router.id]
    for row in {*stored, *pending}:
        if not row.active:
            continue
        row.active = False
        row.till_time = max(row.till_time, now)
        row.terminate_cause = NAS_REBOOT


def store_records(db: Session, items: Sequence[AccountingItem]) -> list[SessionState | None]:
    """Apply records, in their order, inside the caller's transaction; each record's session.

    The rows they touch are read up front; a later record of a session sees what an earlier
    one of the same batch did to it.
    """
    rows = _Rows.load(db, items)
    with db.no_autoflush:  # everything is flushed once, at the commit
        stored = [_store(db, rows, router, record, now) for router, record, now in items]
    rows.write_counts()
    if rows.to_check:
        _end_used_up(db, rows.to_check.values())
    return stored


def _end_used_up(
    db: Session, sessions: Iterable[tuple[models.UserSession, models.User, dt.datetime]]
) -> None:
    """Queue a Disconnect (once per session) for each open session whose user has now used up
    a limit of its running profile: the rule that refuses a new session (`used_up`)."""
    db.flush()  # the usage just stored counts
    for acct, user, now in sessions:
        if not acct.active:
            continue
        facts = user_facts(db, user, now)
        if used_up(facts, now) is not None:
            coa.disconnect_once(db, acct, coa.LIMITS_REACHED, now)
        else:  # a new session: what its Access-Accept told the router, to send what changes
            remember(acct, facts, now)


def _store(
    db: Session, rows: _Rows, router: RouterInfo, record: AccountingRecord, now: dt.datetime
) -> SessionState | None:
    """Apply one record to its session and its user's counters (one row each, in `rows`)."""
    now = record.occurred(now)
    if record.status in (AcctStatus.ACCOUNTING_ON, AcctStatus.ACCOUNTING_OFF):
        # RFC 2866 5.1: the router (re)started or stops: none of its sessions go on.
        _close_router_sessions(db, rows, router, now)
        return None
    if record.status not in STORED:
        return None
    key = (router.id, record.acct_session_id)
    row = rows.sessions.get(key)
    if row is not None and record.status is AcctStatus.START:
        row.active = False  # a new Start with the same id closes the old session
        row = None
    before = _state(row) if row is not None else None
    after = apply(before, record, now)
    user = rows.users.get((router.subscriber_id, record.username))
    if record.user_id is not None:
        # The Class of our Access-Accept names the user, whatever User-Name the router sends.
        named = db.get(models.User, record.user_id)
        if named is not None and named.subscriber_id == router.subscriber_id:
            user = named
    if row is None:
        row = models.UserSession(
            subscriber_id=router.subscriber_id,
            customer_id=user.customer_id if user else router.customer_id,
            router_id=router.id,
            user_id=user.id if user else None,
            username=record.username,
            acct_session_id=record.acct_session_id,
            from_time=after.from_time,
            till_time=after.till_time,
        )
        db.add(row)
        rows.sessions[key] = row
    if user is not None:
        # Counters only grow (core/accounting.py), so a duplicate, an older update or one
        # after the Stop adds 0: each byte and second is counted once.
        used = Usage(
            after.uptime - (before.uptime if before else 0),
            after.download - (before.download if before else 0),
            after.upload - (before.upload if before else 0),
        )
        user.last_seen = now
        rows.count(user, used, now)  # written at the end of the batch, as `column + total`
    row.status = ",".join(w for w in STATUS_WORDS if w in after.status)
    row.till_time = after.till_time
    row.uptime = after.uptime
    row.download = after.download
    row.upload = after.upload
    row.active = after.active
    row.terminate_cause = after.terminate_cause
    for column in RequestContext.COLUMNS:
        value = getattr(record.context, column)
        if value not in (None, ""):  # an update that leaves a field out keeps what was there
            setattr(row, column, value)
    if router.use_coa and user is not None and record.status in CHECKED:
        rows.to_check[id(row)] = (row, user, now)
    if "acct-ok" in router.log:
        _log(
            db,
            router,
            username=record.username,
            context=record.context,
            status="accounting-ok",
            description="",
            now=now,
        )
    return after


# The records that, on a router that uses CoA, check the session's limits (services/enforce.py).
CHECKED = frozenset({AcctStatus.START, AcctStatus.INTERIM_UPDATE})

STALE = "stale"  # terminate-cause of a session closed for want of updates


def close_stale(database: Database, older_than: dt.datetime, now: dt.datetime) -> int:
    """Close the open sessions that no record has touched since `older_than` (the router was
    lost, or its Stop was): they no longer count against shared-users. How many closed."""
    with database.begin() as db:
        stale = db.scalars(
            select(models.UserSession).where(
                models.UserSession.active.is_(True), models.UserSession.till_time < older_than
            )
        ).all()
        for row in stale:
            row.active = False
            row.terminate_cause = STALE
        return len(stale)
