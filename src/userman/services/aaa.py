"""The AAA use cases: load the facts, let core decide, store the outcome; one transaction each.

The server calls these from worker threads, never on its event loop. `RouterInfo` is a plain
value (no ORM objects leave this module), so the server can hold it in a cache.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from userman.core.accounting import AccountingRecord, AcctStatus, SessionState, apply
from userman.core.authorize import AccessRequest, Decision, UserFacts, authorize
from userman.core.context import RequestContext
from userman.services.profiles import profile_queue, store_slots
from userman.services.routers import RouterInfo
from userman.store import models, queries
from userman.store.database import Database

__all__ = ["RouterInfo", "account", "authenticate", "find_router"]


def find_router(database: Database, address: str) -> RouterInfo | None:
    with database.begin() as db:
        row = queries.router_by_address(db, address)
        if row is None:
            return None
        return RouterInfo(
            row.id,
            row.name,
            row.subscriber_id,
            row.customer_id,
            row.shared_secret.encode(),
            frozenset(filter(None, row.log.split(","))),
            row.disabled,
        )


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


def authenticate(
    database: Database, router: RouterInfo, request: AccessRequest, now: dt.datetime
) -> Decision:
    """Decide on an Access-Request and store what the decision changed (profile starts, log)."""
    with database.begin() as db:
        user = queries.user_by_username(db, router.subscriber_id, request.username)
        facts = None
        if user is not None:
            customer = queries.customer(db, user.customer_id)
            facts = UserFacts(
                user.username,
                user.password,
                user.disabled,
                profile_queue(db, user.id),
                user.ip_address,
                customer_disabled=customer is None or customer.disabled,
                caller_id=user.caller_id,
                caller_id_bind_on_first_use=user.caller_id_bind_on_first_use,
                shared_users=user.shared_users,
                active_sessions=queries.active_sessions(db, user.id),
            )
        decision = authorize(request, facts, now)
        store_slots(db, decision.profile_changes)
        if decision.accept and user is not None:
            user.last_seen = now
            if decision.bind_caller_id:
                user.caller_id = decision.bind_caller_id
        if decision.reason is not None and "auth-fail" in router.log:
            description = decision.reason.describe(request.username)
            _log(
                db,
                router,
                username=request.username,
                context=request.context,
                status="authorization-failure",
                description=description,
                now=now,
            )
        elif decision.accept and "auth-ok" in router.log:
            _log(
                db,
                router,
                username=request.username,
                context=request.context,
                status="authorization-ok",
                description="",
                now=now,
            )
        return decision


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


def account(
    database: Database, router: RouterInfo, record: AccountingRecord, now: dt.datetime
) -> None:
    """Store an accounting record; returns only once it is committed (RFC 2866 2)."""
    if record.status not in (AcctStatus.START, AcctStatus.INTERIM_UPDATE, AcctStatus.STOP):
        return  # Accounting-On/Off: acknowledged; closing the router's sessions comes later
    with database.begin() as db:
        row = queries.latest_session(db, router.id, record.acct_session_id)
        if row is not None and record.status is AcctStatus.START:
            row.active = False  # a new Start with the same id closes the old session
            row = None
        before = _state(row) if row is not None else None
        after = apply(before, record, now)
        user = queries.user_by_username(db, router.subscriber_id, record.username)
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
        if user is not None:
            user.uptime_used += after.uptime - (before.uptime if before else 0)
            user.download_used += after.download - (before.download if before else 0)
            user.upload_used += after.upload - (before.upload if before else 0)
            user.last_seen = now
        row.status = ",".join(w for w in ("start", "interim", "stop") if w in after.status)
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
