"""Logging in as a customer, for the web pages and the REST API.

A customer logs in with its login and password (the default `admin` with an empty password
until one is set, as the manual says). A login is unique across the installation (the
database's index on customer.login, migration 0019), so it names one customer of one
subscriber; it is compared exactly, as it is stored.

argon2 is slow on purpose, which an API client sending HTTP basic credentials with every
request would pay every time: a successful check is remembered, keyed by the stored hash and a
digest of the password, so it holds only until either changes. The checks themselves take
turns (services/passwords.py): BusyError when too many run at once.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from userman.core.errors import PermissionDeniedError
from userman.services import passwords
from userman.services.actor import Actor
from userman.services.permissions import make_actor
from userman.store import models

__all__ = ["BAD_LOGIN", "fingerprint", "log_in", "password_matches", "resume", "without_password"]

BAD_LOGIN = "a valid login and password"
_REMEMBERED = 512
_remembered: OrderedDict[tuple[str, bytes], None] = OrderedDict()
_lock = threading.Lock()


def password_matches(stored_hash: str, password: str) -> bool:
    """Does `password` match a customer's stored argon2 hash ("" is the empty password)?"""
    if not stored_hash:
        return password == ""
    key = (stored_hash, hashlib.sha256(password.encode()).digest())
    with _lock:
        if key in _remembered:
            _remembered.move_to_end(key)
            return True
    if not passwords.verify(stored_hash, password):
        return False
    with _lock:
        _remembered[key] = None
        while len(_remembered) > _REMEMBERED:
            _remembered.popitem(last=False)
    return True


DEFAULT_LOGIN = "admin"  # the customer made on first start, with an empty password


def without_password(db: Session) -> list[str]:
    """Whether the default customer `admin` still logs in with an empty password: its login,
    or nothing. (Only it is checked: an argon2 check per customer would not scale.)"""
    stored = db.scalar(
        select(models.Customer.password_hash).where(models.Customer.login == DEFAULT_LOGIN)
    )
    return [DEFAULT_LOGIN] if stored is not None and password_matches(stored, "") else []


def fingerprint(customer: models.Customer) -> str:
    """What a web session remembers of the password it logged in with: a change of password
    (or of the login) ends every session logged in before it."""
    seed = f"userman-session\0{customer.login}\0{customer.password_hash}".encode()
    return hashlib.sha256(seed).hexdigest()[:32]


def resume(db: Session, customer_id: int, seen: str) -> Actor:
    """The actor of a web session that logged in as `customer_id` with this fingerprint."""
    customer = db.get(models.Customer, customer_id)
    if customer is None or fingerprint(customer) != seen:
        raise PermissionDeniedError("a valid session", "log in again")
    return make_actor(db, customer)


def log_in(db: Session, login: str, password: str) -> Actor:
    """The actor of the customer with this login and password; refused the same way whether
    the login or the password is wrong, so that a refusal does not tell which."""
    customer = db.scalar(select(models.Customer).where(models.Customer.login == login))
    if customer is None:
        password_matches(passwords.decoy(), password)
        raise PermissionDeniedError(BAD_LOGIN)
    if not password_matches(customer.password_hash, password):
        raise PermissionDeniedError(BAD_LOGIN)
    return make_actor(db, customer)
