"""Web sessions on the server: each log-in to the web pages is a row (store: WebSession), which
every page request checks, log-out deletes, and a customer lists and revokes.

The cookie (web/session.py) carries the session's random id; only its SHA-256 digest is kept, so
the table does not hold cookies. A row ends when its session expires, is logged out or revoked,
or its password changes (the fingerprint); expired rows are removed at the next log-in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from userman.core.errors import NotFoundError, PermissionDeniedError
from userman.services.actor import Actor
from userman.services.login import fingerprint
from userman.store import models

__all__ = ["SessionInfo", "Who", "check", "end", "revoke", "sessions", "start"]

TOUCH_EVERY = dt.timedelta(minutes=1)  # how stale `last_used` may be, to spare a write a request
AGENT_KEPT = 200  # characters of the browser's User-Agent kept, to tell sessions apart
ENDED = PermissionDeniedError("a valid session", "log in again")


class Who(Enum):
    """Whose session: a customer's (on /userman) or a user's (on /user)."""

    CUSTOMER = "customer"
    USER = "user"


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A live web session as its customer sees it (never its id's digest)."""

    id: int
    login: str  # the customer it is of
    created: dt.datetime
    last_used: dt.datetime
    expires: dt.datetime
    address: str
    agent: str
    current: bool = False  # the session of the request that asks


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def start(  # noqa: PLR0917 - what a session row holds
    db: Session,
    who: Who,
    subject: int,
    fingerprint: str,
    expires: dt.datetime,
    address: str,
    agent: str,
    now: dt.datetime,
) -> str:
    """A new session of the customer or user `subject` (just logged in): the id its cookie
    carries. Sessions expired by now are removed on the way."""
    db.execute(delete(models.WebSession).where(models.WebSession.expires <= now))
    owner = (
        db.get(models.Customer, subject) if who is Who.CUSTOMER else db.get(models.User, subject)
    )
    if owner is None or owner.subscriber_id is None:
        raise ENDED
    sid = secrets.token_urlsafe(32)
    db.add(
        models.WebSession(
            subscriber_id=owner.subscriber_id,
            customer_id=subject if who is Who.CUSTOMER else None,
            user_id=subject if who is Who.USER else None,
            digest=_digest(sid),
            fingerprint=fingerprint,
            created=now,
            last_used=now,
            expires=expires,
            address=address[:45],
            agent=agent[:AGENT_KEPT],
        )
    )
    return sid


def check(
    db: Session, who: Who, subject: int, sid: str, fingerprint: str, *, now: dt.datetime
) -> None:
    """Refuse (PermissionDeniedError) a session that has ended: no row for its id (logged out,
    revoked), another owner's, expired, or logged in with a password that has changed since."""
    row = db.scalar(select(models.WebSession).where(models.WebSession.digest == _digest(sid)))
    if row is None or row.expires <= now:
        raise ENDED
    owner = row.customer_id if who is Who.CUSTOMER else row.user_id
    if owner != subject or row.fingerprint != fingerprint:
        raise ENDED
    if now - row.last_used >= TOUCH_EVERY:
        row.last_used = now


def end(db: Session, sid: str) -> None:
    """Log out: the session with this id ends (nothing when it had ended already)."""
    db.execute(delete(models.WebSession).where(models.WebSession.digest == _digest(sid)))


def _live(
    db: Session, actor: Actor, now: dt.datetime
) -> list[tuple[models.WebSession, models.Customer]]:
    """The customers' live sessions an actor sees: its own (a customer), or every one (the
    superuser); a session whose password has changed since is not live."""
    query = (
        select(models.WebSession, models.Customer)
        .join(models.Customer, models.Customer.id == models.WebSession.customer_id)
        .where(models.WebSession.expires > now)
        .order_by(models.WebSession.id)
    )
    if actor.customer_id is not None:
        query = query.where(models.WebSession.customer_id == actor.customer_id)
    return [
        (row, customer)
        for row, customer in db.execute(query)
        if row.fingerprint == fingerprint(customer)
    ]


def sessions(
    db: Session, actor: Actor, now: dt.datetime, current: str | None = None
) -> list[SessionInfo]:
    """The actor's live web sessions, oldest first (the superuser: every customer's); the one
    whose id is `current` (the asking page's) is marked so."""
    mine = None if current is None else _digest(current)
    return [
        SessionInfo(
            row.id,
            customer.login,
            row.created,
            row.last_used,
            row.expires,
            row.address,
            row.agent,
            row.digest == mine,
        )
        for row, customer in _live(db, actor, now)
    ]


def revoke(
    db: Session, actor: Actor, session_id: int | None, now: dt.datetime, keep: str | None = None
) -> int:
    """End one of the actor's live sessions (by its id as `sessions` shows it), or every one
    (None) but the one whose id is `keep` (the asking page's): how many ended. Another
    customer's session is no such item."""
    kept = None if keep is None else _digest(keep)
    rows = [
        row
        for row, _ in _live(db, actor, now)
        if session_id in (None, row.id) and (session_id is not None or row.digest != kept)
    ]
    if session_id is not None and not rows:
        raise NotFoundError("web-session", str(session_id))
    for row in rows:
        db.delete(row)
    return len(rows)
