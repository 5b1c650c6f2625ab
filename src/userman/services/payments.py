"""Buying a profile: the payment row's states, and the one moment a profile is assigned.

A payment starts when a user asks to buy a profile its customer sells (status `started`), and
moves as the gateway reports (`TRANSITIONS`): `pending`, `approved` (paid: the profile is
queued and activated for the user, as `user create-and-activate-profile` does), `declined`,
`error`, `aborted`. A payment becomes approved in one conditional UPDATE
(`... WHERE id = ? AND trans-status IN (the states it may leave)`), the first statement of its
transaction, so that of two reports of the same payment (a repeated notification, or the
browser's return and the webhook at once, on any node) exactly one wins and assigns the profile.
A report with `pending` counts as approved where the gateway's customer says
paypal-accept-pending=yes (the manual). A report whose amount or currency differ from the
payment's is an error, never an approval.

This module knows no HTTP: the web adapter talks to PayPal and hands in `Report`s.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from sqlalchemy import update
from sqlalchemy.orm import Session

from userman.core.errors import InvalidValueError, NotFoundError, PermissionDeniedError
from userman.services import (
    history,
    profiles,
    selfservice,
    settings,
    subscriber_settings,
    verbs,
)
from userman.services.actor import Actor
from userman.services.menus import MENUS
from userman.store import models, queries
from userman.store.database import Database

__all__ = [
    "DEFAULT_API_BASE",
    "DEFAULT_IPN_URL",
    "REFERENCE_PREFIX",
    "TRANSITIONS",
    "Checkout",
    "PayPalSettings",
    "PaymentRow",
    "Payments",
    "Report",
    "Settled",
    "Status",
    "payment_of_reference",
    "paypal_settings",
    "reference_for",
]

# The subscriber's settings (services/subscriber_settings.py) hold the endpoints and credentials.
DEFAULT_API_BASE = subscriber_settings.BY_NAME["paypal-api-url"].default
DEFAULT_IPN_URL = subscriber_settings.BY_NAME["paypal-ipn-url"].default
# What PayPal carries back to us (custom_id, custom): which payment it is about.
REFERENCE_PREFIX = "userman-payment-"


class Status(Enum):
    STARTED = "started"
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    ERROR = "error"
    ABORTED = "aborted"


# {from: the states a report may move it to}. Approved and declined are final; an error (a
# capture that timed out) or an abort may still turn out paid when PayPal says so.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.STARTED: frozenset(
        {Status.PENDING, Status.APPROVED, Status.DECLINED, Status.ERROR, Status.ABORTED}
    ),
    Status.PENDING: frozenset({Status.APPROVED, Status.DECLINED, Status.ERROR}),
    Status.ERROR: frozenset({Status.PENDING, Status.APPROVED, Status.DECLINED}),
    Status.ABORTED: frozenset({Status.PENDING, Status.APPROVED}),
    Status.APPROVED: frozenset(),
    Status.DECLINED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class PayPalSettings:
    """Where PayPal is and who we are to it (the gateway settings of a subscriber)."""

    client_id: str = ""
    secret: str = ""
    api_base: str = DEFAULT_API_BASE
    ipn_url: str = DEFAULT_IPN_URL
    webhook_id: str = ""
    # Whether the URLs may be at non-public addresses (the superuser's
    # allow-private-destinations; services/destinations.py).
    allow_private: bool = False


@dataclass(frozen=True, slots=True)
class Checkout:
    """A payment as the gateway adapter needs it."""

    payment_id: int
    subscriber_id: int
    reference: str  # reference_for(): PayPal's custom_id / custom
    username: str
    profile: str
    price: Decimal
    currency: str
    status: Status
    business_id: str  # paypal-business-id of the gateway's customer
    accept_pending: bool
    callback_base: str  # scheme://public-host for return, cancel and notification URLs
    item: str = ""  # what the payer is told it buys: the profile's name for users


@dataclass(frozen=True, slots=True)
class Report:
    """What the gateway said about a payment."""

    status: Status
    message: str
    amount: Decimal | None = None  # None: the report carries no amount (a cancel)
    currency: str | None = None
    receiver: str | None = None  # IPN: the business that was paid


@dataclass(frozen=True, slots=True)
class Settled:
    status: Status  # what the payment is now
    activated: bool  # this report assigned the profile


@dataclass(frozen=True, slots=True)
class PaymentRow:
    id: int
    user: str
    profile: str
    price: Decimal
    currency: str
    method: str
    start: dt.datetime
    end: dt.datetime | None
    status: str
    result: str


def paypal_settings(db: Session, subscriber_id: int) -> PayPalSettings:
    """The subscriber's PayPal endpoints and credentials, from its settings."""
    found = subscriber_settings.read(db, subscriber_id)
    return PayPalSettings(
        client_id=str(found["paypal-client-id"]),
        secret=str(found["paypal-secret"]),
        api_base=str(found["paypal-api-url"]),
        ipn_url=str(found["paypal-ipn-url"]),
        webhook_id=str(found["paypal-webhook-id"]),
        allow_private=settings.allow_private_destinations(db),
    )


def _tag(db: Session, payment_id: int) -> str:
    """The reference's signature: an HMAC of the payment id under a key of this installation,
    so that a reference of another installation (sharing the PayPal app) or a guessed one is
    not taken for one of ours."""
    key = settings.secret(db, "payment-reference")
    return hmac.new(key, str(payment_id).encode(), hashlib.sha256).hexdigest()[:16]


def reference_for(db: Session, payment_id: int) -> str:
    """What goes to PayPal (custom_id, custom) and comes back: REFERENCE_PREFIX, id, tag."""
    return f"{REFERENCE_PREFIX}{payment_id}-{_tag(db, payment_id)}"


def payment_of_reference(db: Session, reference: str) -> int:
    """The payment id in a reference PayPal carried back; NotFoundError for anything that is
    not a reference this installation made."""
    number, _, tag = reference.removeprefix(REFERENCE_PREFIX).partition("-")
    if (
        not reference.startswith(REFERENCE_PREFIX)
        or not number.isascii()
        or not number.isdigit()
        or len(number) > 18
        or not hmac.compare_digest(tag, _tag(db, int(number)))
    ):
        raise NotFoundError("payment", reference[:80] or "(none)")
    return int(number)


def gateway_customer(db: Session, customer: models.Customer) -> models.Customer | None:
    """The customer whose PayPal account takes the money: the user's customer when it allows
    PayPal, else, with `parent-payment-gw` access, its parent's (and so on up)."""
    node: models.Customer | None = customer
    while node is not None:
        if node.paypal_allowed:
            return node
        if "parent-payment-gw" not in node.access.split(",") or node.parent_id in (None, node.id):
            return None
        node = db.get(models.Customer, node.parent_id)
    return None


def _callback_base(gateway: models.Customer, host: str) -> str:
    scheme = "https" if gateway.paypal_secure_response else "http"
    return f"{scheme}://{gateway.public_host.strip() or host}"


def _checkout(db: Session, row: models.Payment, host: str = "") -> Checkout:
    customer = queries.customer(db, row.customer_id)
    gateway = gateway_customer(db, customer) if customer is not None else None
    profile = db.get(models.Profile, row.profile_id) if row.profile_id is not None else None
    return Checkout(
        row.id,
        row.subscriber_id,
        reference_for(db, row.id),
        row.username,
        row.profile_name,
        row.price,
        row.currency,
        Status(row.trans_status),
        gateway.paypal_business_id if gateway is not None else "",
        gateway.paypal_accept_pending if gateway is not None else False,
        _callback_base(gateway, host) if gateway is not None else "",
        (profile.name_for_users or profile.name) if profile is not None else row.profile_name,
    )


def decide(checkout: Checkout, report: Report) -> tuple[Status, str]:
    """The state a report moves the payment to, and the result message: pure."""
    if report.amount is not None and (
        report.amount != checkout.price or (report.currency or "") != checkout.currency
    ):
        paid = f"{report.amount} {report.currency}"
        return (
            Status.ERROR,
            f"{report.message}; paid {paid}, not {checkout.price} {checkout.currency}",
        )
    if report.receiver is not None and (
        report.receiver.casefold() != checkout.business_id.casefold()
    ):
        return Status.ERROR, f"{report.message}; paid to {report.receiver}, not our business id"
    if report.status is Status.PENDING and checkout.accept_pending:
        return Status.APPROVED, f"{report.message} (pending, accepted: paypal-accept-pending)"
    return report.status, report.message


class Payments:
    """The payment use cases; each method is one transaction."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def start(  # noqa: PLR0917 - who, what, how, and where the callbacks go
        self, user_id: int, seen: str, profile_id: int, method: str, host: str, now: dt.datetime
    ) -> Checkout:
        """A user starts buying a profile: a `started` payment row at the profile's price."""
        with self.database.begin() as db:
            user = selfservice.user_in(db, user_id, seen)
            offer = selfservice.offer(db, user, profile_id)
            customer = queries.customer(db, user.customer_id)
            gateway = gateway_customer(db, customer) if customer is not None else None
            if gateway is None or not gateway.paypal_business_id.strip():
                raise PermissionDeniedError("a customer that takes PayPal", "not set up")
            profile = db.get(models.Profile, profile_id)
            assert profile is not None
            row = models.Payment(
                subscriber_id=user.subscriber_id,
                customer_id=user.customer_id,
                user_id=user.id,
                username=user.username,
                profile_id=profile.id,
                profile_name=profile.name,
                price=offer.price,
                currency=offer.currency,
                method=method,
                trans_start=now,
                trans_status=Status.STARTED.value,
            )
            db.add(row)
            db.flush()
            return _checkout(db, row, host)

    def payment_of(self, reference: str) -> int:
        """The payment a reference PayPal carried back names (NotFoundError: not ours)."""
        with self.database.begin() as db:
            return payment_of_reference(db, reference)

    def settings(self, subscriber_id: int) -> PayPalSettings:
        with self.database.begin() as db:
            return paypal_settings(db, subscriber_id)

    def methods(self, user_id: int, seen: str) -> tuple[str, ...]:
        """How the user can pay: "paypal" (Orders v2: the gateway customer takes PayPal and the
        subscriber's REST app is set), "paypal-ipn" (the classic button: the customer alone)."""
        with self.database.begin() as db:
            user = selfservice.user_in(db, user_id, seen)
            customer = queries.customer(db, user.customer_id)
            gateway = gateway_customer(db, customer) if customer is not None else None
            if gateway is None or not gateway.paypal_business_id.strip():
                return ()
            found = paypal_settings(db, user.subscriber_id)
            rest = ("paypal",) if found.client_id and found.secret else ()
            return (*rest, "paypal-ipn")

    def checkout(self, payment_id: int) -> Checkout:
        with self.database.begin() as db:
            row = db.get(models.Payment, payment_id)
            if row is None:
                raise NotFoundError("payment", f"*{payment_id:X}")
            return _checkout(db, row)

    def abort(self, user_id: int, seen: str, payment_id: int, now: dt.datetime) -> Settled:
        """The user cancelled at the gateway: its own payment, if still open, is aborted."""
        with self.database.begin() as db:
            user = selfservice.user_in(db, user_id, seen)
            row = db.get(models.Payment, payment_id)
            if row is None or row.user_id != user.id:
                raise NotFoundError("payment", f"*{payment_id:X}")
        return self.settle(payment_id, Report(Status.ABORTED, "cancelled by the user"), now)

    def note(self, payment_id: int, message: str) -> None:
        """Keep what the gateway said (an order id) without changing the state."""
        with self.database.begin() as db:
            db.execute(
                update(models.Payment)
                .where(models.Payment.id == payment_id)
                .values(result_msg=message[:2000])
            )

    def settle(self, payment_id: int, report: Report, now: dt.datetime) -> Settled:
        """Apply a gateway's report; assign and activate the profile when it makes the payment
        approved, at most once however often and wherever the report comes."""
        checkout = self.checkout(payment_id)
        target, message = decide(checkout, report)
        sources = [s.value for s, targets in TRANSITIONS.items() if target in targets]
        with self.database.begin() as db:
            # The first statement: on SQLite it takes the write lock before anything is read, on
            # PostgreSQL the row lock; a second report waits, then finds the state moved on.
            done = db.execute(
                update(models.Payment)
                .where(models.Payment.id == payment_id, models.Payment.trans_status.in_(sources))
                .values(trans_status=target.value, trans_end=now, result_msg=message[:2000])
            )
            row = db.get(models.Payment, payment_id)
            if row is None:  # removed since the gateway was asked
                raise NotFoundError("payment", f"*{payment_id:X}")
            if done.rowcount != 1:  # type: ignore[attr-defined]
                return Settled(Status(row.trans_status), activated=False)
            activated = target is Status.APPROVED and self._activate(db, row, now)
            return Settled(target, activated)

    def _activate(self, db: Session, row: models.Payment, now: dt.datetime) -> bool:
        user = db.get(models.User, row.user_id) if row.user_id is not None else None
        profile = db.get(models.Profile, row.profile_id) if row.profile_id is not None else None
        if user is None or profile is None:
            row.result_msg = f"{row.result_msg}; the user or the profile is gone"
            return False
        actor = Actor(f"user {user.username}", user.subscriber_id)
        action = f"UMS user {user.username} create-and-activate-profile (payment *{row.id:X})"
        with history.recording(db, actor, action, now):
            profiles.activate(db, user, profile, now)
        row.user_message = f"{profile.name_for_users or profile.name} is yours"
        return True

    def rows(
        self, actor: Actor, *, status: str = "", user: str = "", limit: int = 500
    ) -> list[PaymentRow]:
        """The payments the actor may see (its subscriber's, narrowed by its permissions),
        newest first; `status` and `user` (a case-insensitive part of the username) filter."""
        if status and status not in {s.value for s in Status}:
            raise InvalidValueError("trans-status", f"one of {', '.join(s.value for s in Status)}")
        with self.database.begin() as db:
            stmt = verbs.scope(actor, MENUS["payment"]).order_by(None)
            if status:
                stmt = stmt.where(models.Payment.trans_status == status)
            if user:
                escaped = user.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                stmt = stmt.where(models.Payment.username.ilike(f"%{escaped}%", escape="\\"))
            stmt = stmt.order_by(models.Payment.trans_start.desc(), models.Payment.id.desc())
            return [
                PaymentRow(
                    row.id,
                    row.username,
                    row.profile_name,
                    row.price,
                    row.currency,
                    row.method,
                    row.trans_start,
                    row.trans_end,
                    row.trans_status,
                    row.result_msg,
                )
                for row in db.scalars(stmt.limit(limit))
            ]
