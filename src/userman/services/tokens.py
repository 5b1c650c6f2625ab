"""API tokens: a customer makes one for an API client, which sends it as `Authorization: Bearer
TOKEN` and acts as that customer. Only the token's SHA-256 digest is stored, so the token is
shown once, when it is made; a customer sees and revokes only its own. A token stops working
when it is revoked, or when its customer is removed or disabled (as a log-in would)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from userman.core.errors import (
    ConflictError,
    InvalidValueError,
    NotFoundError,
    PermissionDeniedError,
)
from userman.services.actor import Actor
from userman.services.permissions import make_actor
from userman.store import models

__all__ = ["BAD_TOKEN", "TokenInfo", "actor_for", "make", "revoke", "tokens"]

PREFIX = "umt_"
BAD_TOKEN = "a valid API token"
TOUCH_EVERY = dt.timedelta(minutes=1)  # how stale `last_used` may be, to spare a write a request


@dataclass(frozen=True, slots=True)
class TokenInfo:
    name: str
    created: dt.datetime
    last_used: dt.datetime | None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _own(actor: Actor) -> int:
    if actor.customer_id is None:
        raise PermissionDeniedError("a customer", "the local superuser uses the command line")
    return actor.customer_id


def make(db: Session, actor: Actor, name: str, now: dt.datetime) -> str:
    """A new token named `name` for the actor; the only time the token itself is seen."""
    customer_id = _own(actor)
    if not name or len(name) > 64 or not name.isprintable():
        raise InvalidValueError("name", "required: up to 64 printable characters")
    token = PREFIX + secrets.token_urlsafe(32)
    assert actor.subscriber_id is not None
    row = models.ApiToken(
        subscriber_id=actor.subscriber_id,
        customer_id=customer_id,
        name=name,
        digest=_digest(token),
        created=now,
        last_used=None,
    )
    try:
        with db.begin_nested():
            db.add(row)
    except IntegrityError:
        raise ConflictError("name", f'you have a token named "{name}" already') from None
    return token


def tokens(db: Session, actor: Actor) -> list[TokenInfo]:
    rows = db.scalars(
        select(models.ApiToken)
        .where(models.ApiToken.customer_id == _own(actor))
        .order_by(models.ApiToken.id)
    )
    return [TokenInfo(row.name, row.created, row.last_used) for row in rows]


def revoke(db: Session, actor: Actor, name: str) -> None:
    row = db.scalar(
        select(models.ApiToken).where(
            models.ApiToken.customer_id == _own(actor), models.ApiToken.name == name
        )
    )
    if row is None:
        raise NotFoundError("token", name)
    db.delete(row)


def actor_for(db: Session, token: str, now: dt.datetime) -> Actor:
    """The actor a token acts as; refused alike for any token that is not valid."""
    if not token.startswith(PREFIX):
        raise PermissionDeniedError(BAD_TOKEN)
    row = db.scalar(select(models.ApiToken).where(models.ApiToken.digest == _digest(token)))
    if row is None:
        raise PermissionDeniedError(BAD_TOKEN)
    customer = db.get(models.Customer, row.customer_id)
    assert customer is not None  # the token goes with its customer
    actor = make_actor(db, customer)
    if row.last_used is None or now - row.last_used >= TOUCH_EVERY:
        row.last_used = now
    return actor
