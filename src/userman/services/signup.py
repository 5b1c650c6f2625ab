"""Sign-up (legacy User Manager): a user makes its own account where the customer allows it.

The customer is the one whose public-id `subs` names (without `subs`, the only subscriber), and
it must have `signup-allowed=yes`. The user is a disabled user of that customer with a random
`reg-key`: `prepare()` checks the form and builds the activation mail from the
subscriber's settings (signup-subject, signup-body with the %u_...% constants, SMTP), the caller
sends it (outside any transaction), and only then `create()` adds the user, so a mail that
could not be sent leaves nothing behind. `activate()` enables the user a key names and sets its
registration-date, once: a user activated before (an operator may have disabled it since) is
not enabled again. Both changes are recorded in history, by the actor `sign-up`.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from userman.core.errors import (
    ConflictError,
    InvalidValueError,
    NotFoundError,
    PermissionDeniedError,
)
from userman.services import history, subscriber_settings, verbs
from userman.services.actor import Actor
from userman.services.mail import MailError, SmtpConfig, message
from userman.services.menus import USER
from userman.services.permissions import make_actor
from userman.services.settings import allow_private_destinations
from userman.store import models

__all__ = [
    "ACTOR",
    "PASSWORD_LENGTH",
    "Pending",
    "SignUpForm",
    "activate",
    "create",
    "fill",
    "prepare",
    "signup_customer",
]

# Who sign-ups and activations are by, in history: it adds users to any customer that allows
# sign-up, so it acts with the superuser's reach, within what this module does.
ACTOR = Actor("sign-up", None)
PASSWORD_LENGTH = 6
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
USERNAME = re.compile(r"[A-Za-z0-9._@+-]{1,64}")


@dataclass(frozen=True, slots=True)
class SignUpForm:
    username: str
    password: str
    email: str
    first_name: str = ""
    last_name: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class Pending:
    """A sign-up whose activation mail is to be sent before the user is added."""

    customer_id: int
    key: str
    form: SignUpForm
    smtp: SmtpConfig
    mail: EmailMessage


def signup_customer(db: Session, subs: str | None) -> models.Customer:
    """The customer users sign up with: the one with public-id `subs`, or the only subscriber;
    refused unless it allows sign-up and it (and every customer above it) is enabled."""
    if subs:
        customer = db.scalar(select(models.Customer).where(models.Customer.public_id == subs))
        if customer is None:
            raise NotFoundError("subscriber", subs)
    else:
        subscribers = db.scalars(
            select(models.Customer)
            .where(models.Customer.subscriber_id == models.Customer.id)
            .limit(2)
        ).all()
        if len(subscribers) != 1:
            raise InvalidValueError("subs", "there are several subscribers: add ?subs=PUBLIC-ID")
        customer = subscribers[0]
    if not customer.signup_allowed:
        raise PermissionDeniedError("signup-allowed", "sign-up is not open here")
    make_actor(db, customer)  # refuses a disabled customer, or one below a disabled one
    return customer


def _check(form: SignUpForm) -> None:
    if not USERNAME.fullmatch(form.username):
        raise InvalidValueError("username", "1 to 64 letters, digits and . _ @ + - (no spaces)")
    if len(form.password) < PASSWORD_LENGTH:
        raise InvalidValueError("password", f"at least {PASSWORD_LENGTH} characters")
    if not EMAIL.fullmatch(form.email) or len(form.email) > 254:
        raise InvalidValueError("email", "an e-mail address, like name@example.com")
    for name, value in (
        ("first-name", form.first_name),
        ("last-name", form.last_name),
        ("phone", form.phone),
    ):
        if len(value) > 100 or any(c in value for c in "\r\n\x00"):
            raise InvalidValueError(name, "one line of at most 100 characters")


def fill(text: str, constants: dict[str, str]) -> str:
    """Replace the %name% constants that are known; leave any other text as it is."""
    return re.sub(r"%(\w+)%", lambda m: constants.get(m.group(1), m.group(0)), text)


def prepare(db: Session, subs: str | None, form: SignUpForm, link_base: str) -> Pending:
    """Check the form and build the activation mail (`link_base`: the scheme and host the link
    points to when the customer has no public-host); nothing is written yet."""
    customer = signup_customer(db, subs)
    _check(form)
    assert customer.subscriber_id is not None
    _check_free(db, customer.subscriber_id, form.username)
    settings = subscriber_settings.read(db, customer.subscriber_id)
    subscriber = db.get(models.Customer, customer.subscriber_id)
    sender = customer.email or (subscriber.email if subscriber is not None else "")
    smtp = SmtpConfig.from_settings(
        settings, fallback_sender=sender, allow_private=allow_private_destinations(db)
    )
    if not smtp.server or not smtp.sender:
        raise MailError("sign-up needs the settings smtp-server and smtp-from (or an e-mail)")
    key = secrets.token_urlsafe(24)
    host = customer.public_host.strip().rstrip("/")
    if host and "://" not in host:
        host = f"{link_base.partition('://')[0]}://{host}"
    link = f"{host or link_base.rstrip('/')}/user/activate?key={key}"
    constants = {
        "u_username": form.username,
        "u_firstName": form.first_name,
        "u_lastName": form.last_name,
        "u_email": form.email,
        "u_activation_link": link,
    }
    mail = message(
        smtp,
        form.email,
        fill(str(settings["signup-subject"]), constants),
        fill(str(settings["signup-body"]), constants),
        reply_to=sender,
    )
    return Pending(customer.id, key, form, smtp, mail)


def _check_free(db: Session, subscriber_id: int, username: str) -> None:
    taken = db.scalar(
        select(models.User.id).where(
            models.User.subscriber_id == subscriber_id, models.User.username == username
        )
    )
    if taken is not None:
        raise ConflictError("username", "this username is taken; choose another")


def create(db: Session, pending: Pending, now: dt.datetime) -> int:
    """Add the disabled user, once its activation mail went out."""
    form = pending.form
    args = {
        "customer": f"*{pending.customer_id:X}",
        "username": form.username,
        "password": form.password,
        "email": form.email,
        "first-name": form.first_name,
        "last-name": form.last_name,
        "phone": form.phone,
        "disabled": "yes",
        "reg-key": pending.key,
        "comment": "sign-up",
    }
    with history.recording(db, ACTOR, f"UMS user {form.username} added", now):
        try:
            user = verbs.add(db, ACTOR, USER, args)
        except ConflictError:  # taken since prepare(): the mail's link leads nowhere
            raise ConflictError("username", "this username is taken; choose another") from None
    return int(user.id)


def activate(db: Session, key: str, now: dt.datetime) -> tuple[str, str]:
    """Enable the user `key` names and set its registration-date: (username, the public-id of
    its customer, for the log-in link)."""
    user = None
    if len(key) >= 16:
        user = db.scalar(select(models.User).where(models.User.reg_key == key).limit(1))
    if user is None:
        raise NotFoundError("activation key", "this link is not valid (any more)")
    customer = db.get(models.Customer, user.customer_id)
    assert customer is not None
    if user.registration_date is not None:
        return user.username, customer.public_id  # activated before: change nothing
    with history.recording(db, ACTOR, f"UMS user {user.username} activated", now):
        user.disabled = False
        user.registration_date = now
    return user.username, customer.public_id
