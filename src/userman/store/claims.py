"""What makes decisions and accounting exact when several processes or nodes share a database:
places claimed under a user's shared-users limit, and the locks that order them.

`claim` inserts a place for a new session and counts the user's open sessions and live claims
with it; over the limit, the caller rolls back. On PostgreSQL a transaction-level advisory lock
on the user comes first, so a second claim of the same user waits for the first transaction to
end and then counts its claim (under READ COMMITTED an insert-then-count or a conditional
INSERT ... SELECT alone lets two concurrent claims both pass: bench/nodes.py measures it). On
SQLite the INSERT takes the database's one write lock, which orders them the same way.
`claim_many` claims for a batch of decisions (of different users) in one statement: the locks
of all its users in one statement (in one order, so two batches never wait for each other in
a circle), then one INSERT ... SELECT whose condition counts each user's sessions and claims,
read after the locks were granted; `settle` then drops what the batch did not keep.
`lock_sessions` orders accounting batches of different nodes that touch the same session
(router, Acct-Session-Id): the second reads the session as the first left it, so a record that
a router retransmitted to another node adds nothing twice.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    delete,
    false,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from userman.store import models, nodes

__all__ = [
    "CLAIM_SECONDS",
    "Wanted",
    "any_live",
    "claim",
    "claim_many",
    "live_claims",
    "lock_sessions",
    "lock_user",
    "prune",
    "settle",
    "write",
]

# How long an Access-Accept's place is held for the session's first accounting record (a
# router sends Accounting-Start right after the Accept; a log-on that never starts frees it).
CLAIM_SECONDS = 60
# The first key of userman's two-key advisory locks: what the second one names.
USER_LOCK = 0x75730001  # a user's claims
SESSION_LOCK = 0x75730002  # a session's accounting, by (router id, Acct-Session-Id)

_CLAIM = models.Base.metadata.tables["session_claim"]
_SESSION = models.Base.metadata.tables["session"]


def _postgres(db: Session) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def _int4(value: int) -> int:
    """An id folded into PostgreSQL's int4 (the advisory lock's second key)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def lock_user(db: Session, user_id: int) -> None:
    """Until the transaction ends, be the only one claiming for this user (PostgreSQL)."""
    if _postgres(db):
        db.execute(
            text("SELECT pg_advisory_xact_lock(:space, :key)"),
            {"space": USER_LOCK, "key": _int4(user_id)},
        )


def lock_users(db: Session, user_ids: Collection[int]) -> None:
    """`lock_user` for each of `user_ids`, in one statement and in one order (PostgreSQL)."""
    if not user_ids or not _postgres(db):
        return
    db.execute(
        text(
            "SELECT pg_advisory_xact_lock(:space, key)"
            " FROM unnest(CAST(:keys AS integer[])) AS key ORDER BY key"
        ),
        {"space": USER_LOCK, "keys": sorted({_int4(user_id) for user_id in user_ids})},
    )


def lock_sessions(db: Session, keys: Collection[tuple[int, str]]) -> None:
    """Until the transaction ends, be the only one accounting for these sessions (PostgreSQL):
    locks taken in one order, so two batches never wait for each other in a circle."""
    if not keys or not _postgres(db):
        return
    hashed = sorted(
        {_int4(zlib.crc32(f"{router_id}:{session_id}".encode())) for router_id, session_id in keys}
    )
    db.execute(
        text(
            "SELECT pg_advisory_xact_lock(:space, key)"
            " FROM unnest(CAST(:keys AS integer[])) AS key ORDER BY key"
        ),
        {"space": SESSION_LOCK, "keys": hashed},
    )


def _made_for(router_id: int | None, station: str) -> ColumnElement[bool]:
    """The claims one device made (none when the request named no Calling-Station-Id)."""
    if not station or router_id is None:
        return false()
    return and_(_CLAIM.c.router_id == router_id, _CLAIM.c.calling_station_id == station)


def live_claims(
    db: Session, user_id: int, now: dt.datetime, router_id: int | None = None, station: str = ""
) -> int:
    """The user's claims not yet taken over by a session, nor lapsed, but for those of the
    device (`router_id`, `station`) asking again (it takes them over)."""
    since = now - dt.timedelta(seconds=CLAIM_SECONDS)
    found = db.scalar(
        select(func.count()).where(
            _CLAIM.c.user_id == user_id,
            _CLAIM.c.created >= since,
            not_(_made_for(router_id, station)),
        )
    )
    return int(found or 0)


def claim(
    db: Session,
    user_id: int,
    limit: int,
    now: dt.datetime,
    router_id: int | None = None,
    *,
    node_id: int | None = None,
    station: str = "",
) -> bool:
    """Claim a place for a new session of the user; False, and nothing claimed, when its open
    sessions and live claims, this one included, would be more than `limit`. A device (the
    router and Calling-Station-Id `station`) asking again takes its earlier claims over: they
    do not count, and go when this one is kept. With `node_id`,
    only while that node is registered (nodes.Unregistered: a peer found it gone and may be
    deciding alone, from memory, where it would not see this claim)."""
    lock_user(db, user_id)
    since = now - dt.timedelta(seconds=CLAIM_SECONDS)  # older claims lapsed (`prune` goes)
    if node_id is not None:
        nodes.hold(db, node_id)
    # The INSERT first: on SQLite it takes the write lock before the count is read.
    row = {"user_id": user_id, "router_id": router_id, "created": now}
    inserted = db.execute(insert(_CLAIM).values(**row, calling_station_id=station))
    this = inserted.inserted_primary_key[0]  # type: ignore[attr-defined]
    earlier = and_(_made_for(router_id, station), _CLAIM.c.id != this)
    sessions = (
        select(func.count())
        .where(_SESSION.c.user_id == user_id, _SESSION.c.active.is_(True))
        .scalar_subquery()
    )
    claims = (
        select(func.count())
        .where(_CLAIM.c.user_id == user_id, _CLAIM.c.created >= since, not_(earlier))
        .scalar_subquery()
    )
    held = db.scalar(select(sessions + claims))  # one statement: one snapshot
    if int(held or 0) <= limit:
        db.execute(delete(_CLAIM).where(_CLAIM.c.user_id == user_id, earlier))
        return True
    # The lock (or SQLite's write lock) is still held: nobody saw this claim.
    db.execute(delete(_CLAIM).where(_CLAIM.c.id == this))
    return False


@dataclass(frozen=True, slots=True)
class Wanted:
    """A place `claim_many` claims: for the user, under `limit`, from the device (the router
    and its Calling-Station-Id `station`, not empty)."""

    user_id: int
    limit: int
    router_id: int
    station: str


def claim_many(db: Session, wanted: Sequence[Wanted], now: dt.datetime) -> list[int | None]:
    """`claim` for each of `wanted` (each user once), at `now`, in two statements whatever
    their number: each claim's id, or None where the user's open sessions and live claims,
    this one included, would be more than its limit (nothing claimed). The device's earlier
    claims still count for the others until `settle`. On SQLite the caller's transaction
    holds the write lock already (store/policy.py `begin_written`); with a node, the caller
    holds its registration (nodes.hold)."""
    if not wanted:
        return []
    if len({one.user_id for one in wanted}) != len(wanted):
        raise ValueError("claim_many claims for each user once")
    lock_users(db, [one.user_id for one in wanted])
    since = now - dt.timedelta(seconds=CLAIM_SECONDS)
    rows = [
        select(
            literal(one.user_id, Integer).label("user_id"),
            literal(one.limit, Integer).label("cap"),
            literal(one.router_id, Integer).label("router_id"),
            literal(one.station, String).label("station"),
        )
        for one in wanted
    ]
    asked = (union_all(*rows) if len(rows) > 1 else rows[0]).cte("asked")
    sessions = (
        select(func.count())
        .where(_SESSION.c.user_id == asked.c.user_id, _SESSION.c.active.is_(True))
        .scalar_subquery()
    )
    device = and_(
        _CLAIM.c.router_id == asked.c.router_id,
        _CLAIM.c.calling_station_id == asked.c.station,
    )
    claims = (
        select(func.count())
        .where(_CLAIM.c.user_id == asked.c.user_id, _CLAIM.c.created >= since, not_(device))
        .scalar_subquery()
    )
    chosen = select(
        asked.c.user_id, asked.c.router_id, asked.c.station, literal(now, _CLAIM.c.created.type)
    ).where(sessions + claims < asked.c.cap)
    made = db.execute(
        insert(_CLAIM)
        .from_select(["user_id", "router_id", "calling_station_id", "created"], chosen)
        .returning(_CLAIM.c.id, _CLAIM.c.user_id)
    )
    ids = {user_id: claim_id for claim_id, user_id in made}
    return [ids.get(one.user_id) for one in wanted]


def settle(db: Session, kept: Sequence[tuple[Wanted, int]], dropped: Collection[int]) -> None:
    """After `claim_many`: the claims its caller kept take their devices' earlier claims over
    (those are deleted), and the `dropped` ones (their decisions undone) are deleted."""
    earlier = [
        and_(
            _CLAIM.c.user_id == one.user_id,
            _CLAIM.c.router_id == one.router_id,
            _CLAIM.c.calling_station_id == one.station,
            _CLAIM.c.id < claim_id,  # ids grow: later claims of the device are not taken over
        )
        for one, claim_id in kept
    ]
    if dropped:
        earlier.append(_CLAIM.c.id.in_(dropped))
    if earlier:
        db.execute(delete(_CLAIM).where(or_(*earlier)))


def write(db: Session, held: Collection[tuple[int, dt.datetime]]) -> None:
    """Store claims held in memory until now (services/nodes.py: a peer came)."""
    users = models.Base.metadata.tables["user"]
    ids = {user_id for user_id, _ in held}
    if ids:  # a user removed meanwhile has nothing to claim
        ids = set(db.scalars(select(users.c.id).where(users.c.id.in_(ids))))
    rows = [{"user_id": user_id, "created": created} for user_id, created in held if user_id in ids]
    if rows:
        db.execute(insert(_CLAIM), rows)


def any_live(db: Session, now: dt.datetime) -> bool:
    """Whether any claim has neither lapsed nor been taken over."""
    since = now - dt.timedelta(seconds=CLAIM_SECONDS)
    return db.scalar(select(_CLAIM.c.id).where(_CLAIM.c.created >= since).limit(1)) is not None


def prune(db: Session, now: dt.datetime) -> int:
    """Delete the claims that lapsed; how many."""
    since = now - dt.timedelta(seconds=CLAIM_SECONDS)
    result = db.execute(delete(_CLAIM).where(_CLAIM.c.created < since))
    return int(result.rowcount)  # type: ignore[attr-defined]
