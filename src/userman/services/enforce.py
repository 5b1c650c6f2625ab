"""Limits that hold during a session, on routers with use-coa=yes: ask again, send what changed.

Each open session of such a router keeps the fingerprint (core/enforce.py) of what its router
was told: at its Accounting-Start, and with each CoA-Request. `recheck()` asks the decision
again for a user's open sessions (`reauthorize`, at `now`): a reject queues a Disconnect-Request
(the last profile ran out, the time windows closed, a quota is used up), a different fingerprint
a CoA-Request with the new reply attributes (a window handing over to another limitation, the
next profile taking over, an edited limitation or profile). `sweep()` does so for every open
session (the server calls it when time may have changed a decision), `after_change()` for the
users an edit touched, in the edit's own transaction.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from userman.core.authorize import RejectReason, UserFacts, reauthorize
from userman.core.enforce import coa_reply, fingerprint, next_change
from userman.services import coa
from userman.services.facts import user_facts
from userman.services.queue import store_slots
from userman.store import models
from userman.store.database import Database

if TYPE_CHECKING:
    from userman.services.menus import Menu

__all__ = ["CAUSES", "after_change", "recheck", "recheck_users", "remember", "sweep", "users_of"]

# The terminate-cause of a session a reject ends (RouterOS v7 names); any other reject (no
# valid profile: the last one ran out; outside the time windows) is um-limits-changed.
CAUSES = {
    RejectReason.USER_DISABLED: coa.USER_DISABLED,
    RejectReason.CUSTOMER_DISABLED: coa.CUSTOMER_DISABLED,
    RejectReason.UPTIME_LIMIT_REACHED: coa.LIMITS_REACHED,
    RejectReason.DOWNLOAD_LIMIT_REACHED: coa.LIMITS_REACHED,
    RejectReason.UPLOAD_LIMIT_REACHED: coa.LIMITS_REACHED,
    RejectReason.TRANSFER_LIMIT_REACHED: coa.LIMITS_REACHED,
}

# Users rechecked per transaction by `sweep`, so a long sweep never holds the writer back long.
CHUNK = 100


def _facts(db: Session, user: models.User, now: dt.datetime) -> UserFacts:
    return replace(user_facts(db, user, now), coa=True)


def remember(acct: models.UserSession, facts: UserFacts, now: dt.datetime) -> None:
    """Note on a new session what its Access-Accept told the router (the decision asked again
    at `now`, the session's start), unless already noted."""
    if not acct.reply_digest:
        acct.reply_digest = fingerprint(facts, reauthorize(facts, now), now)


def recheck(
    db: Session, user: models.User, sessions: Sequence[models.UserSession], now: dt.datetime
) -> dt.datetime | None:
    """Ask the decision again for `user`'s open `sessions` (of routers that use CoA) and queue
    what each needs; when the decision may next change by time alone."""
    facts = _facts(db, user, now)
    decision = reauthorize(facts, now)
    # The manual: when the running profile ends the next waiting one starts, session or not.
    store_slots(db, decision.profile_changes)
    digest = fingerprint(facts, decision, now)
    for acct in sessions:
        if not acct.active:
            continue
        if decision.reason is not None:
            coa.disconnect_once(db, acct, CAUSES.get(decision.reason, coa.LIMITS_CHANGED), now)
        elif not acct.reply_digest:
            acct.reply_digest = digest  # opened before fingerprints were kept: note it only
        elif acct.reply_digest != digest:
            elapsed = int((now - acct.from_time).total_seconds())
            if coa.change(db, acct, coa_reply(decision, elapsed), coa.LIMITS_CHANGED, now):
                acct.reply_digest = digest
    return next_change(facts, now) if decision.accept else None


def _open_sessions(
    db: Session, user_ids: Iterable[int] | None
) -> dict[int, list[models.UserSession]]:
    """The open sessions of routers with use-coa=yes, by user (of `user_ids`; None: all)."""
    acct = models.UserSession
    stmt = (
        select(acct)
        .join(models.Router, models.Router.id == acct.router_id)
        .where(acct.active.is_(True), acct.user_id.is_not(None), models.Router.use_coa.is_(True))
        .order_by(acct.id)
    )
    if user_ids is not None:
        stmt = stmt.where(acct.user_id.in_(list(user_ids)))
    found: dict[int, list[models.UserSession]] = defaultdict(list)
    for row in db.scalars(stmt):
        assert row.user_id is not None
        found[row.user_id].append(row)
    return found


def _recheck_users(
    db: Session, user_ids: Iterable[int] | None, now: dt.datetime
) -> list[dt.datetime | None]:
    changes = []
    for user_id, sessions in _open_sessions(db, user_ids).items():
        user = db.get(models.User, user_id)
        if user is not None:
            changes.append(recheck(db, user, sessions, now))
    return changes


def sweep(database: Database, now: dt.datetime) -> dt.datetime | None:
    """Recheck every open session of the routers that use CoA, CHUNK users per transaction;
    the earliest moment one of their decisions may change by time (None: none will)."""
    with database.begin() as db:
        user_ids = sorted(_open_sessions(db, None))
    soonest: dt.datetime | None = None
    for first in range(0, len(user_ids), CHUNK):
        with database.begin() as db:
            changes = _recheck_users(db, user_ids[first : first + CHUNK], now)
        for moment in changes:
            if moment is not None and (soonest is None or moment < soonest):
                soonest = moment
    return soonest


def users_of(db: Session, menu: Menu, rows: Sequence[Any]) -> set[int]:
    """The users whose decision an edit of `rows` of `menu` may change (`Menu.affects`)."""
    if not rows or menu.affects is None:
        return set()
    return menu.affects(db, rows)


def after_change(db: Session, menu: Menu, rows: Sequence[Any], now: dt.datetime) -> None:
    """After an edit of `rows` of `menu` (inside its transaction): recheck the open sessions of
    the users whose limits it may change."""
    recheck_users(db, users_of(db, menu, rows), now)


def recheck_users(db: Session, users: set[int], now: dt.datetime) -> None:
    """Recheck the open sessions of these users (inside the edit's transaction)."""
    if users:
        db.flush()
        _recheck_users(db, users, now)
