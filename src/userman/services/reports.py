"""Reports for customers (the legacy customer page's Reports): time, traffic and money per user
over a period, within what the actor may see.

A period is whole days in the customer's time zone, `first` to `last` inclusive. A session
counts in the period when it overlaps it, whole (the router reports totals per session, not
per day); money is the price of the approved payments that ended in the period. Summed by the
database, so a report costs three queries however many sessions there are. Sessions that were
pruned count by their day totals (services/retention.py), which say the days they began and
ended on in their customer's zone: the same as before pruning when that is the actor's zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from userman.core.errors import InvalidValueError
from userman.services import retention, verbs
from userman.services.actor import Actor
from userman.services.facts import actor_time_zone
from userman.services.menus import MENUS
from userman.store import models, queries
from userman.store.database import Database

__all__ = ["MAX_DAYS", "Report", "ReportLine", "report"]

MAX_DAYS = 3660


@dataclass(frozen=True, slots=True)
class ReportLine:
    user: str
    sessions: int
    uptime: int  # seconds
    download: int  # bytes
    upload: int
    paid: Decimal  # approved payments, in the customer's currency


@dataclass(frozen=True, slots=True)
class Report:
    first: dt.date
    last: dt.date
    currency: str
    lines: tuple[ReportLine, ...]
    total: ReportLine = field(default_factory=lambda: ReportLine("", 0, 0, 0, 0, Decimal(0)))
    user: str = ""  # the part of usernames it is narrowed to; "" all


def _bounds(db: Session, actor: Actor, first: dt.date, last: dt.date) -> tuple[dt.datetime, ...]:
    if last < first:
        raise InvalidValueError("till", "the period ends before it begins")
    if (last - first).days > MAX_DAYS:
        raise InvalidValueError("till", f"a report covers at most {MAX_DAYS} days")
    tz = actor_time_zone(db, actor)
    start = dt.datetime.combine(first, dt.time(), tz).astimezone(dt.UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC)
    return start, end


def _like(text: str) -> str:
    """A part of a username to look for, with the LIKE wildcards taken as text."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def report(
    database: Database, actor: Actor, first: dt.date, last: dt.date, user: str = ""
) -> Report:
    """Time, traffic and money per user from `first` to `last` (inclusive); with `user`, only
    of the users whose name contains it (the legacy single-user report)."""
    with database.begin() as db:
        start, end = _bounds(db, actor, first, last)
        visible = verbs.scope(actor, MENUS["session"]).order_by(None)
        if user:
            visible = visible.where(models.UserSession.username.ilike(_like(user), escape="\\"))
        sessions = visible.where(
            models.UserSession.from_time < end, models.UserSession.till_time >= start
        ).subquery()
        usage = db.execute(
            select(
                sessions.c.username,
                func.count(),
                func.coalesce(func.sum(sessions.c.uptime), 0),
                func.coalesce(func.sum(sessions.c.download), 0),
                func.coalesce(func.sum(sessions.c.upload), 0),
            )
            .group_by(sessions.c.username)
            .order_by(sessions.c.username)
        ).all()
        # The sessions pruned (services/retention.py), by the days their totals are kept for.
        days = retention.day_scope(actor)
        if user:
            days = days.where(models.SessionDay.username.ilike(_like(user), escape="\\"))
        pruned = days.where(
            models.SessionDay.first_day <= last, models.SessionDay.day >= first
        ).subquery()
        usage = [
            *usage,
            *db.execute(
                select(
                    pruned.c.username,
                    func.sum(pruned.c.sessions),
                    func.sum(pruned.c.uptime),
                    func.sum(pruned.c.download),
                    func.sum(pruned.c.upload),
                ).group_by(pruned.c.username)
            ).all(),
        ]
        bought = verbs.scope(actor, MENUS["payment"]).order_by(None)
        if user:
            bought = bought.where(models.Payment.username.ilike(_like(user), escape="\\"))
        payments = bought.where(
            models.Payment.trans_status == "approved",
            models.Payment.trans_end >= start,
            models.Payment.trans_end < end,
        ).subquery()
        paid = {
            name: Decimal(total)
            for name, total in db.execute(
                select(payments.c.username, func.sum(payments.c.price)).group_by(
                    payments.c.username
                )
            ).all()
        }
        customer = queries.customer(db, actor.customer_id) if actor.customer_id else None
    sums: dict[str, list[int]] = {}
    for name, count, uptime, down, up in usage:
        figures = sums.setdefault(str(name), [0, 0, 0, 0])
        for index, value in enumerate((count, uptime, down, up)):
            figures[index] += int(value)
    lines = {
        name: ReportLine(name, count, uptime, down, up, paid.pop(name, Decimal(0)))
        for name, (count, uptime, down, up) in sums.items()
    }
    for name, money in paid.items():
        lines[name] = ReportLine(name, 0, 0, 0, 0, money)
    ordered = tuple(sorted(lines.values(), key=lambda line: line.user))
    total = ReportLine(
        "",
        sum(line.sessions for line in ordered),
        sum(line.uptime for line in ordered),
        sum(line.download for line in ordered),
        sum(line.upload for line in ordered),
        sum((line.paid for line in ordered), Decimal(0)),
    )
    currency = customer.currency if customer is not None else ""
    return Report(first, last, currency, ordered, total, user)
