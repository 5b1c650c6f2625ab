"""Retention: `database set keep-sessions=365d keep-log=90d`, and `database prune`, which the
server also runs from its sweep (`Userman.retain`).

Both settings are the installation's (models.ServerSetting), a RouterOS time of at least a day
or `forever` (also `0`), the default: nothing is deleted unless the operator asks. Pruning
deletes, in batches of BATCH rows and one transaction per batch, the log entries older than
keep-log and the sessions last reported before keep-sessions ago, after adding them up per
user and pair of days (began, last reported, in their customer's time zone) in
models.SessionDay, which the reports and usage pages add to the sessions kept (`day_scope`:
as the actor sees the sessions). A session is
kept, whatever its age, while it is open, while it may count against a limitation (it ended
after the earliest moment any limitation's current counting period began, less MARGIN), and
while it belongs to its user's running profile (it ended after that profile started).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from userman.core.errors import InvalidValueError, PermissionDeniedError, UnknownPropertyError
from userman.core.limits import ResetInterval, counting_period_start, parse_reset_interval
from userman.core.values import format_duration, parse_duration
from userman.services import settings
from userman.services.actor import Actor
from userman.services.facts import zone
from userman.services.menus import MENUS
from userman.services.request import Outcome, Request
from userman.store import models
from userman.store import retention as store
from userman.store.database import Database

__all__ = [
    "BATCH",
    "MARGIN",
    "SETTINGS",
    "Pruned",
    "Retention",
    "day_scope",
    "no_arguments",
    "parse_keep",
    "prune",
    "prune_command",
    "read",
    "session_cutoff",
    "superuser",
]

SETTINGS = ("keep-sessions", "keep-log")
FOREVER = "forever"
SHORTEST = dt.timedelta(days=1)
# How much earlier than any counting period's start a pruned session must have ended: room for
# the clocks of several server nodes, and for a period reckoned in another zone.
MARGIN = dt.timedelta(days=1)
BATCH = 1000  # rows per transaction


@dataclass(frozen=True, slots=True)
class Retention:
    """How long sessions and log entries are kept; None: forever."""

    sessions: dt.timedelta | None = None
    log: dt.timedelta | None = None


@dataclass(slots=True)
class Pruned:
    sessions: int = 0  # deleted
    days: int = 0  # day rows made for them
    log: int = 0  # log entries deleted
    more: bool = False  # stopped by the time budget with more to prune


def parse_keep(text: str, prop: str) -> dt.timedelta | None:
    """`forever`, `0` or empty: None; otherwise a RouterOS time of at least SHORTEST."""
    raw = text.strip().lower()
    if raw in ("", "0", FOREVER):
        return None
    keep = parse_duration(raw, prop)
    if keep == dt.timedelta(0):
        return None
    if keep < SHORTEST:
        raise InvalidValueError(prop, f"keep at least {format_duration(SHORTEST)}, or {FOREVER}")
    return keep


def _show(keep: dt.timedelta | None) -> str:
    return FOREVER if keep is None else format_duration(keep)


def read(db: Session) -> Retention:
    """The retention set (an unreadable value, typed into the table by hand: forever)."""
    found: list[dt.timedelta | None] = []
    for name in SETTINGS:
        try:
            found.append(parse_keep(settings.value(db, name) or "", name))
        except InvalidValueError:
            found.append(None)
    return Retention(*found)


def period_floor(db: Session, now: dt.datetime) -> dt.datetime:
    """The earliest moment any limitation's current counting period began (`now` if none
    resets), as the policy in memory reckons it (core/policy.py `period_floor`)."""
    floor = now
    for interval, start_time, time_zone in store.limitation_periods(db):
        try:
            period = parse_reset_interval(interval or "disabled")
        except InvalidValueError:
            continue
        if period is ResetInterval.DISABLED:
            continue
        start = counting_period_start(period, start_time, now, zone(time_zone or ""))
        if start is not None and start < floor:
            floor = start
    return floor


def session_cutoff(db: Session, now: dt.datetime, keep: dt.timedelta) -> dt.datetime:
    """Sessions last reported before this may be pruned (when closed and not their running
    profile's)."""
    return min(now - keep, period_floor(db, now) - MARGIN)


def _totals(db: Session, rows: Iterable[Any]) -> dict[store.DayKey, tuple[int, int, int, int]]:
    """The deleted sessions added up per user and pair of days in their customer's zone."""
    rows = list(rows)
    zones = {
        customer_id: zone(text or "")
        for customer_id, text in store.time_zones(db, {row.customer_id for row in rows}).items()
    }
    sums: dict[store.DayKey, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in rows:
        tz = zones.get(row.customer_id, dt.UTC)
        key = store.DayKey(
            row.subscriber_id,
            row.customer_id,
            row.user_id,
            row.username,
            row.from_time.astimezone(tz).date(),
            row.till_time.astimezone(tz).date(),
        )
        total = sums[key]
        total[0] += 1
        total[1] += row.uptime
        total[2] += row.download
        total[3] += row.upload
    return {key: (n, t, d, u) for key, (n, t, d, u) in sums.items()}


def prune(
    database: Database,
    now: dt.datetime,
    *,
    budget: float | None = None,
    batch: int = BATCH,
    clock: Callable[[], float] = time.monotonic,
) -> Pruned:
    """Prune what the retention settings say, a batch per transaction; with `budget`, stop
    after about that many seconds (`more` says there is more)."""
    began = clock()
    pruned = Pruned()
    with database.begin() as db:
        keep = read(db)

    def out_of_time() -> bool:
        pruned.more = budget is not None and clock() - began > budget
        return pruned.more

    if keep.sessions is not None:
        while not out_of_time():
            with database.begin() as db:
                rows = store.delete_sessions(db, session_cutoff(db, now, keep.sessions), batch)
                pruned.days += store.add_days(db, _totals(db, rows))
            pruned.sessions += len(rows)
            if len(rows) < batch:
                break
    if keep.log is not None:
        while not out_of_time():
            with database.begin() as db:
                deleted = store.delete_logs(db, now - keep.log, batch)
            pruned.log += deleted
            if deleted < batch:
                break
    return pruned


def day_scope(actor: Actor) -> Select[Any]:
    """The day totals of pruned sessions the actor may see: those of the sessions it could."""
    day = models.SessionDay
    stmt = select(day)
    if actor.subscriber_id is not None:
        stmt = stmt.where(day.subscriber_id == actor.subscriber_id)
    if not actor.sees_everything:
        reach = actor.reach.get(MENUS["session"].area, frozenset())
        stmt = stmt.where(day.customer_id.in_(reach))
    return stmt


# -- the `database` commands --------------------------------------------------------------------


def superuser(actor: Actor, what: str) -> None:
    """Only the local superuser, who runs the installation, may `what`."""
    if not actor.is_superuser:
        raise PermissionDeniedError("the superuser", what)


def no_arguments(request: Request) -> None:
    if request.positional or request.args:
        unknown = next(iter(request.args), None) or request.positional[0]
        raise UnknownPropertyError(unknown, " ".join((*request.path, request.verb)))


def _stored(text: str, name: str) -> str | None:
    """What `database set` keeps of a retention (None: forever, the default)."""
    keep = parse_keep(text, name)
    return None if keep is None else format_duration(keep)


def _shown(stored: str | None) -> str:
    try:
        return _show(parse_keep(stored or "", "keep"))
    except InvalidValueError:
        return FOREVER  # typed into the table by hand: read as forever


# `database set keep-sessions=365d keep-log=90d`, `database print` (services/settings.py).
settings.declare(*(settings.InstallationSetting(name, _stored, _shown) for name in SETTINGS))


def prune_command(database: Database, actor: Actor, request: Request, now: dt.datetime) -> Outcome:
    """`database prune`: prune what is due now, all of it, a batch per transaction."""
    superuser(actor, "to prune the database")
    no_arguments(request)
    with database.begin() as db:
        if read(db) == Retention():
            message = "nothing to prune: keep-sessions and keep-log are forever (database set)"
            return Outcome(None, count=0, message=message)
    pruned = prune(database, now)
    message = (
        f"pruned {pruned.sessions} sessions (into {pruned.days} new day totals) and"
        f" {pruned.log} log entries"
    )
    return Outcome(None, count=pruned.sessions + pruned.log, message=message)
