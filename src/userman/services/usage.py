"""A user's usage over time, day by day, for the chart on the user's web page.

A session's traffic and uptime count on the day it was last reported (its till-time), in the
actor's time zone, as the status page's "today" does: the router reports running totals, not
their spread over the day. Pruned sessions count by their day totals (services/retention.py),
kept by the day in their customer's zone. The user is found as every verb finds it, so another
subscriber's user is "not found".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from userman.services import retention, verbs
from userman.services.actor import Actor
from userman.services.facts import actor_time_zone
from userman.services.menus import MENUS
from userman.store import models

__all__ = ["Day", "usage"]


@dataclass(frozen=True, slots=True)
class Day:
    day: dt.date
    download: int  # bytes
    upload: int
    uptime: int  # seconds
    sessions: int


def usage(db: Session, actor: Actor, user: str, now: dt.datetime, days: int) -> list[Day]:
    """The user's last `days` days, oldest first, today included, days without use as zeros."""
    row = verbs.find(db, actor, MENUS["user"], user)
    tz = actor_time_zone(db, actor)
    first = now.astimezone(tz).date() - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(first, dt.time(), tzinfo=tz).astimezone(dt.UTC)
    found = db.execute(
        select(
            models.UserSession.till_time,
            models.UserSession.download,
            models.UserSession.upload,
            models.UserSession.uptime,
        ).where(models.UserSession.user_id == row.id, models.UserSession.till_time >= since)
    ).all()
    pruned = db.execute(
        retention.day_scope(actor)
        .with_only_columns(
            models.SessionDay.day,
            models.SessionDay.download,
            models.SessionDay.upload,
            models.SessionDay.uptime,
            models.SessionDay.sessions,
        )
        .where(models.SessionDay.user_id == row.id, models.SessionDay.day >= first)
    ).all()
    totals = {first + dt.timedelta(days=n): [0, 0, 0, 0] for n in range(days)}
    for kept, download, upload, uptime, count in pruned:  # services/retention.py
        figures = totals.get(kept)
        if figures is not None:
            figures[0] += download
            figures[1] += upload
            figures[2] += uptime
            figures[3] += count
    for till, download, upload, uptime in found:
        day = totals.get(till.astimezone(tz).date())
        if day is not None:
            day[0] += download
            day[1] += upload
            day[2] += uptime
            day[3] += 1
    return [Day(day, *figures) for day, figures in totals.items()]
