"""The queries of the RADIUS path; each takes the unit of work `db` and never commits."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from userman.core.profiles import ProfileState
from userman.store.models import Customer, Router, User, UserProfile, UserSession

__all__ = [
    "active_sessions",
    "customer",
    "latest_session",
    "latest_sessions",
    "router_by_address",
    "running_entries",
    "user_by_username",
    "users_by_username",
]


def router_by_address(db: Session, address: str) -> Router | None:
    return db.scalar(select(Router).where(Router.ip_address == address))


def customer(db: Session, customer_id: int) -> Customer | None:
    return db.get(Customer, customer_id)


def user_by_username(db: Session, subscriber_id: int, username: str) -> User | None:
    return db.scalar(
        select(User).where(User.subscriber_id == subscriber_id, User.username == username)
    )


def users_by_username(
    db: Session, subscriber_id: int, usernames: Collection[str]
) -> dict[str, User]:
    """The subscriber's users with these usernames, in one query."""
    rows = db.scalars(
        select(User).where(User.subscriber_id == subscriber_id, User.username.in_(usernames))
    )
    return {row.username: row for row in rows}


def latest_session(db: Session, router_id: int, acct_session_id: str) -> UserSession | None:
    """The newest session, open or closed, with that Acct-Session-Id from that router."""
    return db.scalar(
        select(UserSession)
        .where(
            UserSession.router_id == router_id,
            UserSession.acct_session_id == acct_session_id,
        )
        .order_by(UserSession.id.desc())
        .limit(1)
    )


def latest_sessions(
    db: Session, router_id: int, acct_session_ids: Collection[str]
) -> dict[str, UserSession]:
    """The newest session with each of these Acct-Session-Ids from that router, in one query."""
    rows = db.scalars(
        select(UserSession)
        .where(
            UserSession.router_id == router_id,
            UserSession.acct_session_id.in_(acct_session_ids),
        )
        .order_by(UserSession.id)
    )
    return {row.acct_session_id: row for row in rows}  # a newer row replaces an older one


def active_sessions(db: Session, user_id: int) -> int:
    return (
        db.scalar(
            select(func.count())
            .select_from(UserSession)
            .where(UserSession.user_id == user_id, UserSession.active.is_(True))
        )
        or 0
    )


def running_entries(db: Session, user_ids: Collection[int]) -> dict[int, UserProfile]:
    """The running user-profile entry of each of these users, by user id, in one query."""
    rows = db.scalars(
        select(UserProfile)
        .where(UserProfile.user_id.in_(user_ids), UserProfile.state == ProfileState.RUNNING)
        .order_by(UserProfile.id)
    )
    found: dict[int, UserProfile] = {}
    for row in rows:
        found.setdefault(row.user_id, row)  # only one runs; the oldest, as the queue reads
    return found
