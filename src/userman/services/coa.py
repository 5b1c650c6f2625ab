"""Disconnect- and CoA-Requests (RFC 5176) on their way to the routers: enqueue, claim, record.

A change that must end a user's session (an operator's close-session, a user disabled or
removed, limits used up on an Interim-Update) calls `disconnect()` inside its own transaction,
one that changes its limits `change()` (services/enforce.py decides which): for a router with
use-coa=yes, a `coa_request` row is written with the attributes to send. Any
server node `claim()`s pending rows, sends them, and `record()`s the answer on the row, the
session and the log. The rows are the queue, so a change made by another process or node is
sent too. No sockets and no clock here: the server sends, and passes `now`.

A request goes to the router's ip-address, which a tenant chooses: one of this host or its link
(loopback, link-local, ...: destinations.local_kind) is refused when it is given to a use-coa
router and is not sent to, unless the superuser allows it (settings.allow_local_coa).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from userman.core.accounting import CLOSE_ACKED
from userman.core.errors import InvalidValueError
from userman.services.destinations import local_kind
from userman.store import models
from userman.store.database import Database

if TYPE_CHECKING:
    from userman.services.menus import Menu

__all__ = [
    "ADMIN_REQUEST",
    "CLOSE_ACKED",
    "LIMITS_CHANGED",
    "LIMITS_REACHED",
    "USER_DELETED",
    "USER_DISABLED",
    "Answer",
    "CoaJob",
    "Result",
    "after_remove",
    "after_set",
    "before_remove",
    "change",
    "claim",
    "disconnect",
    "disconnect_user",
    "record",
]

# The terminate-causes userman gives (RouterOS v7 names them so).
ADMIN_REQUEST = "um-admin-request"
USER_DISABLED = "um-user-disabled"
CUSTOMER_DISABLED = "um-customer-disabled"
USER_DELETED = "um-user-deleted"
LIMITS_REACHED = "um-limits-reached"
# What the user may do changed: a CoA-Request brings the new limits; a Disconnect-Request when
# access ended (the last profile ran out, the time windows closed) or a CoA was refused.
LIMITS_CHANGED = "um-limits-changed"

DISCONNECT = "disconnect"
COA = "coa"
# A row a node claimed but never answered for (it died) is claimed again after this long.
RECLAIM_AFTER = dt.timedelta(seconds=60)


class Answer(Enum):
    """What became of a request: the row's final state is the value."""

    ACK = "acked"
    NAK = "naked"
    TIMEOUT = "failed"


@dataclass(frozen=True, slots=True)
class Result:
    """How a request went: the answer, after how many transmissions, and why not an ACK."""

    answer: Answer
    attempts: int
    error: str = ""  # e.g. the NAK's Error-Cause, or "no answer"


@dataclass(frozen=True, slots=True)
class CoaJob:
    """A claimed request, as plain values for the server: where to send what, with which secret."""

    id: int
    kind: str  # disconnect or coa
    cause: str
    router: str  # its name, for the log
    address: str
    port: int
    secret: bytes
    attributes: tuple[tuple[str, str], ...]
    router_id: int = 0


def _version(text: str) -> int:
    """4 or 6 for an IP address, 0 for anything else (an empty one)."""
    try:
        return ipaddress.ip_address(text).version
    except ValueError:
        return 0


def _identity(acct: models.UserSession, router: models.Router) -> list[list[str]]:
    """The attributes that name the session and the router (RFC 5176 3: session and NAS
    identification attributes), IPv6 ones (RFC 3162, RFC 6911) for IPv6 addresses."""
    attrs = [["User-Name", acct.username], ["Acct-Session-Id", acct.acct_session_id]]
    framed = {4: "Framed-IP-Address", 6: "Framed-IPv6-Address"}.get(_version(acct.user_ip))
    if framed:
        attrs.append([framed, acct.user_ip])
    nas = {4: "NAS-IP-Address", 6: "NAS-IPv6-Address"}.get(_version(router.ip_address))
    if nas:
        attrs.append([nas, router.ip_address])
    return attrs


def _waiting(db: Session, session_id: int, cause: str | None = None) -> bool:
    """Whether a Disconnect for the session is queued or in flight (with `cause`: ever made)."""
    request = models.CoaRequest
    stmt = select(request.id).where(request.session_id == session_id, request.kind == DISCONNECT)
    if cause is None:
        stmt = stmt.where(request.state.in_(("pending", "sent")))
    else:
        stmt = stmt.where(request.cause == cause)
    return db.scalar(stmt.limit(1)) is not None


def _coa_router(db: Session, acct: models.UserSession) -> models.Router | None:
    """The session's router when a request may be queued for it: it uses CoA and no
    Disconnect is already waiting for this session."""
    if acct.router_id is None or acct.id is None:
        return None
    router = db.get(models.Router, acct.router_id)
    if router is None or not router.use_coa or _waiting(db, acct.id):
        return None
    return router


def _queue(  # noqa: PLR0917 - the request's parts
    db: Session,
    acct: models.UserSession,
    router: models.Router,
    kind: str,
    cause: str,
    attributes: str,
    now: dt.datetime,
) -> None:
    db.add(
        models.CoaRequest(
            subscriber_id=acct.subscriber_id,
            router_id=router.id,
            session_id=acct.id,
            kind=kind,
            cause=cause,
            attributes=attributes,
            state="pending",
            attempts=0,
            last_error="",
            created=now,
            updated=now,
        )
    )


def disconnect(db: Session, acct: models.UserSession, cause: str, now: dt.datetime) -> bool:
    """Queue a Disconnect-Request for the session when its router uses CoA, unless one is
    already waiting; whether one was queued. `acct` must be flushed (have its id)."""
    router = _coa_router(db, acct)
    if router is None:
        return False
    _queue(db, acct, router, DISCONNECT, cause, json.dumps(_identity(acct, router)), now)
    return True


def change(
    db: Session,
    acct: models.UserSession,
    attributes: Iterable[tuple[str, str]],
    cause: str,
    now: dt.datetime,
) -> bool:
    """Queue a CoA-Request bringing the session the reply `attributes` (RFC 5176 3.1), when its
    router uses CoA and no Disconnect is waiting; one still queued gets the newer attributes
    instead of a second request. Whether one is queued."""
    router = _coa_router(db, acct)
    if router is None:
        return False
    text = json.dumps([*_identity(acct, router), *([n, v] for n, v in attributes)])
    request = models.CoaRequest
    queued = db.scalar(
        select(request).where(
            request.session_id == acct.id, request.kind == COA, request.state == "pending"
        )
    )
    if queued is not None:
        queued.attributes, queued.cause, queued.updated = text, cause, now
        return True
    _queue(db, acct, router, COA, cause, text, now)
    return True


def disconnect_once(db: Session, acct: models.UserSession, cause: str, now: dt.datetime) -> bool:
    """`disconnect`, unless the session was ever sent one for `cause` (limits: once each)."""
    if acct.id is None or _waiting(db, acct.id, cause):
        return False
    return disconnect(db, acct, cause, now)


def disconnect_user(db: Session, user: models.User, cause: str, now: dt.datetime) -> int:
    """Queue a Disconnect for each of the user's active sessions; how many were queued."""
    acct = models.UserSession
    rows = db.scalars(
        select(acct).where(acct.user_id == user.id, acct.active.is_(True)).order_by(acct.id)
    ).all()
    return sum(disconnect(db, row, cause, now) for row in rows)


# The generic verbs' hooks: what a change to an item of a menu asks of the routers.


def after_set(
    db: Session, menu: Menu, rows: Iterable[Any], changed: Collection[str], now: dt.datetime
) -> None:
    """After `add`, `set`, `enable` or `disable`: the users of an item disabled now (a user, a
    customer: `Menu.disabled_cause`) lose their sessions, as the logon refuses them too; the
    open sessions whose limits the change touched (`Menu.affects`) are asked again
    (services/enforce.py: CoA or Disconnect)."""
    from userman.services import enforce  # noqa: PLC0415 - enforce builds on this module

    rows = list(rows)
    if menu.name == "router":
        _check_addresses(db, rows, changed)
    if menu.disabled_cause and "disabled" in changed:
        disabled = [row for row in rows if row.disabled]
        _disconnect_users(db, enforce.users_of(db, menu, disabled), menu.disabled_cause, now)
    enforce.after_change(db, menu, rows, now)


# What a change names that may send requests to a router's address: the address, use-coa, and
# an add's copy-from (which may bring use-coa=yes).
_ADDRESS = ("ip-address", "address")
_ADDRESSING = frozenset({*_ADDRESS, "use-coa", "copy-from"})


def local_refusal(db: Session, address: str) -> str | None:
    """Why requests may not go to `address` (this host's or its link's, and the superuser has
    not allowed those), or None."""
    # settings builds on verbs, and verbs on menus, which builds on this module.
    from userman.services.settings import allow_local_coa  # noqa: PLC0415

    kind = local_kind(address)
    if kind is None or allow_local_coa(db):
        return None
    return (
        f"{address} is {kind}, where CoA/Disconnect requests (use-coa=yes) may not go (the"
        " superuser allows it with: userman database set allow-local-coa=yes)"
    )


def _check_addresses(db: Session, routers: list[Any], changed: Collection[str]) -> None:
    """A use-coa router added or changed to an address of this host or its link is refused,
    naming the property the change gave (its address, else use-coa)."""
    if not _ADDRESSING.intersection(changed):
        return
    prop = "ip-address" if any(name in changed for name in _ADDRESS) else "use-coa"
    for router in routers:
        reason = local_refusal(db, router.ip_address) if router.use_coa else None
        if reason is not None:
            raise InvalidValueError(prop, reason)


def before_remove(db: Session, menu: Menu, row: Any, now: dt.datetime) -> set[int]:
    """Before `remove` (which unlinks the user's sessions): the users of an item whose removal
    ends their sessions (a user: `Menu.removed_cause`) lose them. Otherwise the users whose
    limits the removal may change, for `after_remove`."""
    from userman.services import enforce  # noqa: PLC0415 - enforce builds on this module

    users = enforce.users_of(db, menu, [row])
    if menu.removed_cause:
        _disconnect_users(db, users, menu.removed_cause, now)
        return set()
    return users


def _disconnect_users(db: Session, user_ids: set[int], cause: str, now: dt.datetime) -> None:
    for user_id in sorted(user_ids):
        user = db.get(models.User, user_id)
        if user is not None:
            disconnect_user(db, user, cause, now)


def after_remove(db: Session, users: set[int], now: dt.datetime) -> None:
    """After `remove`: the open sessions of the users it touched are asked again."""
    from userman.services import enforce  # noqa: PLC0415

    enforce.recheck_users(db, users, now)


# The server's side: claim what is due, record what the router answered.


def claim(database: Database, now: dt.datetime, limit: int) -> list[CoaJob]:
    """Take up to `limit` due requests for this node, oldest first, marking them sent.

    On PostgreSQL, FOR UPDATE SKIP LOCKED lets several nodes claim at once, each its own rows;
    SQLite has one writer at a time, which serializes the claims.
    """
    request = models.CoaRequest
    with database.begin() as db:
        due = db.scalars(
            select(request)
            .where(
                or_(
                    request.state == "pending",
                    and_(request.state == "sent", request.updated < now - RECLAIM_AFTER),
                )
            )
            .order_by(request.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        jobs = []
        for row in due:
            row.updated = now
            router = db.get(models.Router, row.router_id)
            if router is None or not router.use_coa:
                row.state = Answer.TIMEOUT.value
                row.last_error = "the router no longer uses CoA"
                continue
            # Set before the rule, or allowed then: not sent while it is not allowed now.
            refused = local_refusal(db, router.ip_address)
            if refused is not None:
                row.state = Answer.TIMEOUT.value
                row.last_error = f"not sent: {refused}"
                continue
            row.state = "sent"
            jobs.append(
                CoaJob(
                    row.id,
                    row.kind,
                    row.cause,
                    router.name,
                    router.ip_address,
                    router.coa_port,
                    router.shared_secret.encode(),
                    tuple((str(name), str(value)) for name, value in json.loads(row.attributes)),
                    router.id,
                )
            )
        return jobs


def record(database: Database, job: CoaJob, result: Result, now: dt.datetime) -> None:
    """Store the router's answer: on the request, on its session (an acknowledged Disconnect
    closes it with the request's cause, status `close-acked`) and in the log."""
    with database.begin() as db:
        row = db.get(models.CoaRequest, job.id)
        if row is None:
            return  # its router, session or subscriber was removed meanwhile
        answer, attempts, error = result.answer, result.attempts, result.error
        row.state = answer.value
        row.attempts += attempts
        row.last_error = error
        row.updated = now
        acct = None if row.session_id is None else db.get(models.UserSession, row.session_id)
        if acct is None:
            return
        if answer is Answer.ACK and row.kind == DISCONNECT:
            words = [word for word in acct.status.split(",") if word and word != CLOSE_ACKED]
            acct.status = ",".join([*words, CLOSE_ACKED])
            if acct.active:
                acct.till_time = max(acct.till_time, now)
            acct.active = False
            acct.terminate_cause = row.cause
        if answer is Answer.NAK and row.kind == COA and acct.active:
            # The router cannot apply the new limits to the session: end it, so they hold
            # from its next logon.
            disconnect(db, acct, LIMITS_CHANGED, now)
        outcome = "timeout" if answer is Answer.TIMEOUT else answer.name.lower()
        description = f"{row.cause}: {attempts} attempt{'s' if attempts != 1 else ''}"
        db.add(
            models.LogEntry(
                subscriber_id=row.subscriber_id,
                customer_id=acct.customer_id,
                router_id=row.router_id,
                user_orig=acct.username,
                acct_session_id=acct.acct_session_id,
                user_ip=acct.user_ip,
                status=f"{row.kind}-{outcome}",
                time=now,
                description=f"{description}; {error}" if error else description,
            )
        )


# How long answered and failed requests stay for `log print`-style inspection before pruning.
KEEP = dt.timedelta(days=7)


def prune(database: Database, now: dt.datetime) -> int:
    """Delete requests answered or given up on more than KEEP ago; how many. Their outcome
    stays in the log and on the session."""
    request = models.CoaRequest
    with database.begin() as db:
        done = db.scalars(
            select(request).where(
                request.state.in_([answer.value for answer in Answer]),
                request.updated < now - KEEP,
            )
        ).all()
        for row in done:
            db.delete(row)
        return len(done)
