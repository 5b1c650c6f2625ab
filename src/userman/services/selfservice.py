"""What a user sees and changes on the user page (/user): the user's own data, nothing else.

A user logs in with the RADIUS username and password, within the subscriber that `subs` (a
customer's public-id) names, found as RADIUS finds it (`queries.user_by_username`); with `subs`
naming a sub-customer, only users of that customer and those below it. Every use case takes the
logged-in user's id from the caller's session and reads or changes rows of that user only: its
profile queue, sessions and payments, the profiles its customer sells, its password and contact
details. A change is one history entry, by the actor `user <username>`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from userman.core.authorize import standing
from userman.core.errors import InvalidValueError, NotFoundError, PermissionDeniedError
from userman.core.limits import Remaining
from userman.services import history, web_sessions
from userman.services.actor import Actor
from userman.services.facts import user_facts
from userman.services.menus import USER
from userman.services.permissions import make_actor
from userman.services.queue import profile_queue
from userman.store import models, queries
from userman.store.database import Database

__all__ = [
    "BAD_LOGIN",
    "DETAILS",
    "Offer",
    "PaymentLine",
    "QueueEntry",
    "SelfService",
    "SessionLine",
    "UserStatus",
    "fingerprint",
    "offer",
    "subscriber_customer",
    "user_in",
]

BAD_LOGIN = "a valid username and password"
# The personal data a user may change itself (the manual's informational user properties).
DETAILS = ("email", "first_name", "last_name", "phone", "location")
SESSIONS_SHOWN = 50


@dataclass(frozen=True, slots=True)
class QueueEntry:
    profile: str  # as the user sees it: name-for-users, else the name
    state: str  # waiting, running, used
    start: dt.datetime | None
    end: dt.datetime | None


@dataclass(frozen=True, slots=True)
class SessionLine:
    start: dt.datetime
    end: dt.datetime
    active: bool
    address: str
    caller: str
    uptime: int
    download: int
    upload: int


@dataclass(frozen=True, slots=True)
class UserStatus:
    user_id: int
    username: str
    first_name: str
    last_name: str
    email: str
    phone: str
    location: str
    customer_public_id: str
    actual_profile: str  # "" without one
    validity_end: dt.datetime | None  # of the actual profile; None: no end
    queue: tuple[QueueEntry, ...]
    uptime_used: int  # lifetime counters
    download_used: int
    upload_used: int
    left: Remaining  # of the limits that apply now; None in a field: unlimited
    # Seconds online left: the uptime left or the profile's end, the nearer (core's `standing`,
    # the rules of the Access-Accept's Session-Timeout); None: unlimited.
    time_left: int | None
    active: tuple[SessionLine, ...]
    currency: str
    time_zone: dt.tzinfo  # the user's customer's, which its windows and resets follow
    # The actual profile has not started: it is the next waiting one, which starts (and its
    # validity runs) from the user's next logon; `left` is what it will allow.
    starts_at_logon: bool = False


@dataclass(frozen=True, slots=True)
class Offer:
    profile_id: int
    name: str  # name-for-users, else the name
    validity: int  # seconds; 0: unlimited
    price: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class PaymentLine:
    id: int
    profile: str
    price: Decimal
    currency: str
    method: str
    start: dt.datetime
    end: dt.datetime | None
    status: str
    message: str


def fingerprint(user: models.User) -> str:
    """What a user's web session remembers of the password it logged in with: a new password
    (or username) ends every session logged in before it."""
    seed = f"userman-user-session\0{user.id}\0{user.username}\0{user.password}".encode()
    return hashlib.sha256(seed).hexdigest()[:32]


def subscriber_customer(db: Session, subs: str | None) -> models.Customer:
    """The customer whose users may log in: the one with public-id `subs`, or, without it, the
    only subscriber (several need `?subs=`, as the manual's user page does)."""
    if subs:
        customer = db.scalar(select(models.Customer).where(models.Customer.public_id == subs))
        if customer is None:
            raise NotFoundError("subscriber", subs)
        return customer
    subscribers = db.scalars(
        select(models.Customer).where(models.Customer.subscriber_id == models.Customer.id).limit(2)
    ).all()
    if len(subscribers) != 1:
        raise InvalidValueError("subs", "this server has several subscribers: add ?subs=PUBLIC-ID")
    return subscribers[0]


def user_in(db: Session, user_id: int, seen: str) -> models.User:
    """The user of a web session, refused when its password changed since it logged in."""
    user = db.get(models.User, user_id)
    if user is None or not hmac.compare_digest(fingerprint(user), seen):
        raise PermissionDeniedError("a valid session", "log in again")
    return user


def _tree(db: Session, customer: models.Customer) -> frozenset[int]:
    return make_actor(db, customer).tree


def _shown_name(profile: models.Profile) -> str:
    return profile.name_for_users or profile.name


def _session_line(row: models.UserSession) -> SessionLine:
    return SessionLine(
        row.from_time,
        row.till_time,
        row.active,
        row.user_ip,
        row.calling_station_id,
        row.uptime,
        row.download,
        row.upload,
    )


def _actor(user: models.User) -> Actor:
    """Who a user's own change is by, in history."""
    return Actor(f"user {user.username}", user.subscriber_id)


class SelfService:
    """The user page's use cases; each method is one transaction."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def log_in(self, subs: str | None, username: str, password: str) -> tuple[int, str]:
        """The user's id and its session fingerprint, refused alike for a wrong username,
        password, a disabled user or customer, so a refusal does not tell which."""
        with self.database.begin() as db:
            customer = subscriber_customer(db, subs)
            assert customer.subscriber_id is not None
            user = queries.user_by_username(db, customer.subscriber_id, username)
            if user is None or not hmac.compare_digest(user.password.encode(), password.encode()):
                raise PermissionDeniedError(BAD_LOGIN)
            if customer.subscriber_id != customer.id and user.customer_id not in _tree(
                db, customer
            ):
                raise PermissionDeniedError(BAD_LOGIN)
            owner = queries.customer(db, user.customer_id)
            if user.disabled or owner is None or owner.disabled:
                raise PermissionDeniedError(BAD_LOGIN)
            return user.id, fingerprint(user)

    def provider(self, subs: str | None) -> str:
        """Whose user page this is, for its log-in form: the customer's company; "" without
        one, or when `subs` names none. Never its login, which the manual keeps secret."""
        with self.database.begin() as db:
            try:
                customer = subscriber_customer(db, subs)
            except (NotFoundError, InvalidValueError):
                return ""
            return customer.company

    def resume(self, user_id: int, seen: str, sid: str, now: dt.datetime) -> None:
        """Refuse a web session whose user is gone or whose password changed since, or that
        has ended on the server (logged out)."""
        with self.database.begin() as db:
            user_in(db, user_id, seen)
            web_sessions.check(db, web_sessions.Who.USER, user_id, sid, seen, now=now)

    def status(self, user_id: int, seen: str, now: dt.datetime) -> UserStatus:
        """The user's status page: actual profile, its end, what is used and left, sessions."""
        with self.database.begin() as db:
            user = user_in(db, user_id, seen)
            customer = queries.customer(db, user.customer_id)
            facts = user_facts(db, user, now)
            stands = standing(facts, now)  # as an Access-Request now would find it
            running, waiting = stands.running, stands.starts_at_logon
            names = {
                p.id: _shown_name(p)
                for p in db.scalars(
                    select(models.Profile).where(
                        models.Profile.id.in_({slot.profile_id for slot in facts.profiles})
                    )
                )
            }
            queue = tuple(
                QueueEntry(names.get(s.profile_id, s.name), s.state.value, s.start_time, s.end_time)
                for s in profile_queue(db, user.id)
            )
            active = db.scalars(
                select(models.UserSession)
                .where(models.UserSession.user_id == user.id, models.UserSession.active.is_(True))
                .order_by(models.UserSession.from_time.desc())
            )
            return UserStatus(
                user.id,
                user.username,
                user.first_name,
                user.last_name,
                user.email,
                user.phone,
                user.location,
                customer.public_id if customer is not None else "",
                names.get(running.profile_id, running.name) if running is not None else "",
                running.end_time if running is not None and not waiting else None,
                queue,
                user.uptime_used,
                user.download_used,
                user.upload_used,
                stands.left,
                stands.time_left,
                tuple(_session_line(row) for row in active),
                customer.currency if customer is not None else "",
                facts.time_zone,
                waiting,
            )

    def sessions(self, user_id: int, seen: str, limit: int = SESSIONS_SHOWN) -> list[SessionLine]:
        """The user's sessions, newest first."""
        with self.database.begin() as db:
            user = user_in(db, user_id, seen)
            rows = db.scalars(
                select(models.UserSession)
                .where(models.UserSession.user_id == user.id)
                .order_by(models.UserSession.from_time.desc(), models.UserSession.id.desc())
                .limit(limit)
            )
            return [_session_line(row) for row in rows]

    def offers(self, user_id: int, seen: str) -> list[Offer]:
        """The profiles the user's customer sells: a price above 0, owned by that customer or
        reachable by it (its profile access flags; an owner: every profile of its domain)."""
        with self.database.begin() as db:
            user = user_in(db, user_id, seen)
            return _offers(db, user)

    def payments(self, user_id: int, seen: str) -> list[PaymentLine]:
        """The user's payments, newest first."""
        with self.database.begin() as db:
            user = user_in(db, user_id, seen)
            rows = db.execute(
                select(models.Payment, models.Profile)
                .outerjoin(models.Profile, models.Profile.id == models.Payment.profile_id)
                .where(models.Payment.user_id == user.id)
                .order_by(models.Payment.trans_start.desc(), models.Payment.id.desc())
            ).all()
            return [
                PaymentLine(
                    row.id,
                    _shown_name(profile) if profile is not None else row.profile_name,
                    row.price,
                    row.currency,
                    row.method,
                    row.trans_start,
                    row.trans_end,
                    row.trans_status,
                    row.user_message or row.result_msg,
                )
                for row, profile in rows
            ]

    def change_password(self, user_id: int, seen: str, old: str, new: str, now: dt.datetime) -> str:
        """Set a new password after checking the old one; the session's new fingerprint (the
        user's other sessions end)."""
        if not new:
            raise InvalidValueError("password", "the new password must not be empty")
        if any(ord(c) < 32 for c in new):
            raise InvalidValueError("password", "must not contain control characters")
        USER.by_name["password"].kind.parse(new, "password")  # the property's own rules
        with self.database.begin() as db:
            user = user_in(db, user_id, seen)
            if not hmac.compare_digest(user.password.encode(), old.encode()):
                raise PermissionDeniedError("the current password", "it does not match")
            with history.recording(db, _actor(user), f"UMS user {user.username} changed", now):
                user.password = new
            return fingerprint(user)

    def set_details(
        self, user_id: int, seen: str, details: dict[str, str], now: dt.datetime
    ) -> None:
        """Change the user's contact details (email, names, phone, location)."""
        for name, value in details.items():
            if name not in DETAILS:
                raise InvalidValueError(name.replace("_", "-"), "not a detail a user may change")
            prop = name.replace("_", "-")
            if any(ord(c) < 32 for c in value):  # one line each, on the user's page
                raise InvalidValueError(prop, "must not contain control characters")
            USER.by_name[prop].kind.parse(value.strip(), prop)  # the property's own rules
        email = details.get("email", "")
        if email and ("@" not in email or " " in email):
            raise InvalidValueError("email", "not an e-mail address")
        with self.database.begin() as db:
            user = user_in(db, user_id, seen)
            with history.recording(db, _actor(user), f"UMS user {user.username} changed", now):
                for name, value in details.items():
                    setattr(user, name, value.strip())


def _offers(db: Session, user: models.User) -> list[Offer]:
    customer = queries.customer(db, user.customer_id)
    if customer is None:
        return []
    stmt = select(models.Profile).where(
        models.Profile.subscriber_id == user.subscriber_id, models.Profile.price > 0
    )
    if customer.permissions != "owner":
        reach = set(make_actor(db, customer).reach.get("profiles", frozenset())) | {customer.id}
        stmt = stmt.where(models.Profile.owner_id.in_(reach))
    rows = db.scalars(stmt.order_by(models.Profile.price, models.Profile.name))
    return [
        Offer(row.id, _shown_name(row), row.validity, row.price, customer.currency) for row in rows
    ]


def offer(db: Session, user: models.User, profile_id: int) -> Offer:
    """One profile the user may buy, or NotFoundError (also for another customer's)."""
    for item in _offers(db, user):
        if item.profile_id == profile_id:
            return item
    raise NotFoundError("profile", f"*{profile_id:X}")
