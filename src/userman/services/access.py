"""Access decisions from the policy in memory, and storing what they change.

`decide` runs on the server's event loop: the user's facts come from the `PolicyCache`
(core/policy.py builds them as services/facts.py reads them, and keeps them with the terms
they grant until they may change), `authorize` decides, and no database is asked; a process
that serves alone claims a shared-users place in memory there (services/claims.py). What a
decision changes is stored in two ways:

- `store_effects`: what the router relies on, committed before the Access-Accept is sent (a
  profile that starts or ends at this log-on, a caller-id bound on first use, the step of a
  one-time code used (a code works once: core/totp.py), the oldest
  sessions ended to make room, the place claimed under a shared-users limit when this process
  is not alone: store/claims.py, exact across processes and nodes, one statement for a batch),
  in one transaction with the decision's log row and the user's last-seen. Each change is
  conditional on the row being as the decision saw it; when another process changed it
  first, nothing is stored and False tells the caller to let the database decide
  (services/aaa.py `authenticate`).
- `log_decisions` and `store_last_seen`: the log rows of the router's `log` flags and the
  users' last-seen, written in batches after the replies (a crash loses at most a batch).

`decide` returns None when the memory cannot decide alone: no policy loaded yet, or a limitation
counts sessions from before what it holds; the caller then asks the database as before.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from userman.core.authorize import AccessRequest, AuthMethod, Decision, RejectReason, authorize
from userman.core.context import RequestContext
from userman.core.policy import decision_facts, group_auths
from userman.core.profiles import ProfileState
from userman.services import claims as places
from userman.services.aaa import evict_oldest, log_decision, log_row, outcome, use_otp_step
from userman.services.policy import PolicyCache
from userman.services.routers import RouterInfo
from userman.store import claims as stored
from userman.store import models, nodes
from userman.store.database import Database
from userman.store.policy import begin_written

__all__ = [
    "Effects",
    "LogItem",
    "decide",
    "durable",
    "log_decisions",
    "log_item",
    "outer_auths",
    "store_effects",
    "store_effects_many",
    "store_last_seen",
]


def decide(
    cache: PolicyCache, router: RouterInfo, request: AccessRequest, now: dt.datetime
) -> tuple[Decision, int | None] | None:
    """The decision and the user's id (None: no such user), from memory; None: ask the
    database."""
    if not cache.loaded:
        return None
    policy = cache.policy
    state = policy.user(router.subscriber_id, request.username)
    if state is None:
        return authorize(request, None, now), None
    evict = router.evict_oldest
    if evict is None:
        evict = policy.evicts(router.subscriber_id)
    found = decision_facts(policy, state, now, coa=router.use_coa, evict_oldest=evict)
    if found is None:
        return None
    facts, terms = found
    user_id = state.user.id
    sessions = facts.active_sessions
    memory = cache.claims
    # Accepts of this process whose sessions did not start, but for this device's own.
    made_for = places.device(router.id, request.context.calling_station_id)
    held = memory.held(user_id, now, made_for)
    if held:
        facts = replace(facts, active_sessions=sessions + held, evict_oldest=bool(evict))
    decision = authorize(request, facts, now, terms)
    limit = decision.shared_users
    if decision.accept and limit is not None and made_for is None:
        # A request that names no device claims nothing: it cannot be told from the same
        # device trying again; its session counts once it starts (services/claims.py).
        decision = replace(decision, shared_users=None)
    elif decision.accept and limit is not None:
        # Alone, the place is claimed here, at once (services/claims.py); else in the
        # database, before the Accept (`store_effects`).
        try:
            taken = memory.take(user_id, limit, sessions - decision.evict, now, device=made_for)
        except places.StaleError:
            return None  # not sure to be alone: the database decides, or says why not
        if taken is False:
            decision = Decision(False, RejectReason.TOO_MANY_SESSIONS)
        elif taken:
            decision = replace(decision, shared_users=None)
    return decision, user_id


def outer_auths(
    cache: PolicyCache, router: RouterInfo, username: str
) -> frozenset[AuthMethod] | None:
    """The outer methods the user's group allows (v7 `outer-auths`), from memory; None: any
    (no group), or not known (no such user, no policy loaded yet)."""
    if not cache.loaded:
        return None
    state = cache.policy.user(router.subscriber_id, username)
    return None if state is None else group_auths(cache.policy, state.user)


def durable(decision: Decision) -> bool:
    """Whether the decision changes what must be stored before the router is answered."""
    return bool(decision.profile_changes) or (
        decision.accept
        and bool(
            decision.bind_caller_id
            or decision.evict
            or decision.shared_users is not None
            or decision.otp_step is not None
        )
    )


# A profile entry's state before `select_profile` moved it to the state it has now.
BEFORE = {ProfileState.USED: ProfileState.RUNNING, ProfileState.RUNNING: ProfileState.WAITING}


class _Changed(Exception):
    """A row the decision relied on is not as it was: nothing is stored."""


@dataclass(frozen=True, slots=True)
class Effects:
    """A decision from memory whose changes the router relies on (`durable`), to be stored."""

    router: RouterInfo
    request: AccessRequest
    decision: Decision
    user_id: int
    now: dt.datetime


def store_effects(
    database: Database,
    router: RouterInfo,
    request: AccessRequest,
    decision: Decision,
    *,
    user_id: int,
    now: dt.datetime,
    claims: places.Claims | None = None,
    node_id: int | None = None,
) -> bool:
    """Commit what the decision changes (see the module); False: nothing was, because a row
    changed since the policy read it. A shared-users place goes where `claims` says."""
    effects = Effects(router, request, decision, user_id, now)
    [stored] = store_effects_many(database, [effects], claims=claims, node_id=node_id)
    return stored


def store_effects_many(
    database: Database,
    batch: Sequence[Effects],
    *,
    claims: places.Claims | None = None,
    node_id: int | None = None,
) -> list[bool]:
    """`store_effects` for each of a batch, in one transaction (one commit, one fsync, one
    read of the policy's changes after it: the server's group-commit writer hands them over),
    each in a savepoint of its own: one whose row changed first (False) is undone alone, and
    a later one of the same user sees what an earlier one claimed."""
    held = claims or places.Claims()
    out: list[bool] = []
    with held.claiming(), database.begin() as db:
        begin_written(db)  # the savepoints nest in a transaction that holds the write lock
        node = node_id
        claiming = any(effects.decision.shared_users is not None for effects in batch)
        wanted: dict[int, stored.Wanted] = {}
        claimed: dict[int, int | None] = {}
        if claiming and held.mode is places.Mode.SHARED:
            # The batch's claims go to the database (inside `claiming()` that holds): the
            # node's registration held once for all of them, until the commit, and one
            # statement claims for all that it can (`_wanted`).
            if node_id is not None:
                nodes.hold(db, node_id)
                node = None
            wanted = _wanted(batch)
            if wanted:
                now = max(batch[index].now for index in wanted)  # decided milliseconds apart
                ids = stored.claim_many(db, list(wanted.values()), now)
                claimed = dict(zip(wanted, ids, strict=True))
        for index, effects in enumerate(batch):
            try:
                with db.begin_nested():
                    if index in claimed and claimed[index] is None:
                        raise _Changed  # another log-on took the place first
                    _store(db, effects, held, node, claimed=index in claimed)
            except _Changed:
                out.append(False)
            else:
                out.append(True)
        if wanted:
            kept = [
                (wanted[index], claim_id)
                for index, claim_id in claimed.items()
                if claim_id is not None and out[index]
            ]
            dropped = [
                claim_id
                for index, claim_id in claimed.items()
                if claim_id is not None and not out[index]
            ]
            stored.settle(db, kept, dropped)
    return out


def _wanted(batch: Sequence[Effects]) -> dict[int, stored.Wanted]:
    """The claims `store_effects_many` makes in one statement, by position in the batch: an
    Accept under a shared-users limit from a device (its Calling-Station-Id), that ends no
    session to make room (those are counted after `evict_oldest`), of a user no other
    decision of the batch names (those are claimed one by one, in order, each seeing the
    one before)."""
    users = Counter(effects.user_id for effects in batch)
    out = {}
    for index, effects in enumerate(batch):
        decision, station = effects.decision, effects.request.context.calling_station_id
        limit = decision.shared_users
        if (
            decision.accept
            and limit is not None
            and station
            and not decision.evict
            and users[effects.user_id] == 1
        ):
            out[index] = stored.Wanted(effects.user_id, limit, effects.router.id, station)
    return out


def _store(
    db: Session,
    effects: Effects,
    held: places.Claims,
    node_id: int | None,
    *,
    claimed: bool = False,
) -> None:
    """One decision's changes, inside the caller's savepoint (`claimed`: its place claimed
    already, for the batch); _Changed: a row it relied on changed first."""
    router, request, decision, now = effects.router, effects.request, effects.decision, effects.now
    entries = models.UserProfile
    for slot in decision.profile_changes:
        result = db.execute(
            update(entries)
            .where(entries.id == slot.id, entries.state == BEFORE[slot.state])
            .values(state=slot.state, start_time=slot.start_time, end_time=slot.end_time)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise _Changed
    step = decision.otp_step
    if decision.accept and step is not None and not use_otp_step(db, effects.user_id, step):
        raise _Changed  # the code was used meanwhile: the database decides, and says so
    if decision.accept:
        user = db.get(models.User, effects.user_id)
        if user is None:
            raise _Changed
        user.last_seen = now
        if decision.bind_caller_id:
            if user.caller_id:
                raise _Changed
            user.caller_id = decision.bind_caller_id
        if decision.evict:
            evict_oldest(db, user, decision.evict, now)
        limit = decision.shared_users
        if (
            limit is not None
            and not claimed
            and not places.claim(
                db,
                held,
                effects.user_id,
                limit=limit,
                now=now,
                router_id=router.id,
                station=request.context.calling_station_id,
                node_id=node_id,
            )
        ):
            raise _Changed  # another log-on took the place first: the database decides
    log_decision(db, router, request, decision, now)


@dataclass(frozen=True, slots=True)
class LogItem:
    """A decision's log row, to be written after the reply."""

    router: RouterInfo
    username: str
    context: RequestContext
    status: str
    description: str
    time: dt.datetime


def log_item(
    router: RouterInfo, request: AccessRequest, decision: Decision, now: dt.datetime
) -> LogItem | None:
    """The log row the router's `log` flags want for this decision; None: none."""
    wanted, status, description = outcome(decision, request.username)
    if wanted not in router.log:
        return None
    return LogItem(router, request.username, request.context, status, description, now)


def log_decisions(database: Database, items: Sequence[LogItem]) -> list[None]:
    """Write decisions' log rows in one transaction (the server's batch writer)."""
    with database.begin() as db:
        for item in items:
            log_row(
                db,
                item.router,
                username=item.username,
                context=item.context,
                status=item.status,
                description=item.description,
                now=item.time,
            )
    return [None] * len(items)


def store_last_seen(database: Database, seen: Mapping[int, dt.datetime]) -> None:
    """Set the users' last-seen (by user id), never back in time."""
    if not seen:
        return
    users = models.Base.metadata.tables["user"]
    with database.begin() as db:
        db.execute(
            update(users)
            .where(users.c.id == bindparam("uid"))
            .where((users.c.last_seen.is_(None)) | (users.c.last_seen < bindparam("seen")))
            .values(last_seen=bindparam("seen")),
            [{"uid": user_id, "seen": time} for user_id, time in seen.items()],
        )
