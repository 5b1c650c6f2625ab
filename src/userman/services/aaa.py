"""The AAA use cases on the database: load the facts, let core decide, store the outcome; one
transaction each.

The server decides from its policy in memory (services/access.py); `authenticate` here is the
decision the database makes when memory cannot (no policy loaded, a counting period older than
the sessions held, a row changed under a decision from memory), and the reference that memory is
tested against. Accounting lives in services/accounting.py (its names are imported here too).
The server calls these from worker threads, never on its event loop. `RouterInfo` is a plain
value (no ORM objects leave this module), so the server can hold it in a cache.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from userman.core.authorize import AccessRequest, Decision, RejectReason, authorize
from userman.core.context import RequestContext
from userman.services import claims as places
from userman.services import coa, snapshot
from userman.services.accounting import (
    AccountingItem,
    account_many,
    close_stale,
    store_records,
)
from userman.services.facts import user_facts
from userman.services.queue import store_slots
from userman.services.routers import ROUTER_FAILURE, Failure, Requirement, RouterInfo
from userman.store import claims as stored_claims
from userman.store import models, queries
from userman.store.database import Database

__all__ = [
    "AccountingItem",
    "RouterInfo",
    "account_many",
    "authenticate",
    "close_stale",
    "evict_oldest",
    "find_router",
    "log_failures",
    "log_row",
    "note_signed",
    "outcome",
    "store_records",
    "use_otp_step",
]


def find_router(database: Database, address: str) -> RouterInfo | None:
    with database.begin() as db:
        row = queries.router_by_address(db, address)
        return None if row is None else snapshot.info(row)


def log_row(
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


def log_decision(
    db: Session, router: RouterInfo, request: AccessRequest, decision: Decision, now: dt.datetime
) -> None:
    """The decision's log row, when the router's `log` flags want it."""
    wanted, status, description = outcome(decision, request.username)
    if wanted in router.log:
        log_row(
            db,
            router,
            username=request.username,
            context=request.context,
            status=status,
            description=description,
            now=now,
        )


def log_failures(database: Database, failures: Sequence[tuple[Failure, int]]) -> None:
    """Write dropped requests to their router's customer's log, whatever its `log` flags say:
    each with how many like it the server left unwritten before (server/failures.py)."""
    with database.begin() as db:
        for failure, dropped_since in failures:
            log_row(
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
    database: Database,
    router: RouterInfo,
    request: AccessRequest,
    now: dt.datetime,
    *,
    claims: places.Claims | None = None,
    node_id: int | None = None,
) -> Decision:
    """Decide on an Access-Request and store what the decision changed (profile starts, log);
    a shared-users place is claimed where `claims` says (services/claims.py)."""
    held = claims or places.Claims()
    with held.claiming(), database.begin() as db:
        user = queries.user_by_username(db, router.subscriber_id, request.username)
        facts = None
        if user is not None:
            facts = replace(user_facts(db, user, now), coa=router.use_coa)
            # Places claimed by Accepts whose sessions have not started count as sessions.
            made_for = places.device(router.id, request.context.calling_station_id)
            station = request.context.calling_station_id
            claimed = stored_claims.live_claims(db, user.id, now, router.id, station)
            claimed += held.held(user.id, now, made_for)
            if claimed:
                facts = replace(facts, active_sessions=facts.active_sessions + claimed)
            # Only a user with open sessions can be at its limit: only then is it read.
            if facts.active_sessions:
                evict = router.evict_oldest
                if evict is None:
                    evict = _subscriber_evicts(db, router.subscriber_id)
                facts = replace(facts, evict_oldest=evict)
        decision = authorize(request, facts, now)
        # First: a code another process accepted meanwhile is refused here (once per user).
        step = decision.otp_step
        if decision.accept and user is not None and step is not None:
            used = use_otp_step(db, user.id, step)
            decision = decision if used else Decision(False, RejectReason.OTP_REPLAYED)
        limit = decision.shared_users
        if decision.accept and user is not None and limit is not None and decision.evict:
            evict_oldest(db, user, decision.evict, now)
            decision = replace(decision, evict=0)
        # A request that names no device claims nothing (services/claims.py).
        station = request.context.calling_station_id
        if decision.accept and user is not None and limit is not None and station:
            # Exact across nodes (store/claims.py): another log-on may have claimed meanwhile.
            claimed = places.claim(
                db,
                held,
                user.id,
                limit=limit,
                now=now,
                router_id=router.id,
                station=station,
                node_id=node_id,
            )
            if not claimed:
                decision = Decision(False, RejectReason.TOO_MANY_SESSIONS)
        store_slots(db, decision.profile_changes)
        if decision.accept and user is not None:
            user.last_seen = now
            if decision.bind_caller_id:
                user.caller_id = decision.bind_caller_id
            if decision.evict:
                evict_oldest(db, user, decision.evict, now)
        log_decision(db, router, request, decision, now)
        return decision


def outcome(decision: Decision, username: str) -> tuple[str, str, str]:
    """The router `log` flag a decision falls under, its log status and description."""
    if decision.reason is not None:
        return "auth-fail", "authorization-failure", decision.reason.describe(username)
    return "auth-ok", "authorization-ok", ""


def use_otp_step(db: Session, user_id: int, step: int) -> bool:
    """Store `step` as the user's last one-time code used, unless that or a later step is
    stored already: False then (the code was used, by another request, process or node). One
    conditional UPDATE: on PostgreSQL a second one waits for the first's commit and then
    finds the row changed."""
    users = models.User
    result = db.execute(
        update(users)
        .where(users.id == user_id, or_(users.otp_step.is_(None), users.otp_step < step))
        .values(otp_step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


SIMULTANEOUS = "um-simultaneous-sessions"  # v7's terminate-cause


def _subscriber_evicts(db: Session, subscriber_id: int) -> bool:
    """The subscriber's own choice for its routers with on-shared-users-limit=default."""
    subscriber = queries.customer(db, subscriber_id)
    return subscriber is not None and subscriber.on_shared_users_limit == "disconnect-oldest"


def evict_oldest(db: Session, user: models.User, count: int, now: dt.datetime) -> None:
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
