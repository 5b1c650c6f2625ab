"""What a customer's status page shows (the legacy customer page's Status): active sessions,
users, recent failures (the users', and apart the routers' dropped requests) and today's
traffic (since midnight in the customer's time zone), counted by the database within what the
actor may see, so that the page costs a few queries however many sessions there are."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from userman.services import verbs
from userman.services.actor import Actor
from userman.services.facts import actor_time_zone
from userman.services.menus import MENUS
from userman.services.routers import ROUTER_FAILURE
from userman.services.verbs import Item
from userman.store import models

__all__ = ["Dashboard", "dashboard"]

SHOWN = 10  # sessions and failures listed


@dataclass(frozen=True, slots=True)
class Dashboard:
    users: int
    users_disabled: int
    routers: int
    active_sessions: int
    sessions: tuple[Item, ...]  # the newest active ones
    failures: tuple[Item, ...]  # the newest failed requests in the log
    download_today: int  # bytes, of sessions seen since midnight in the customer's zone
    upload_today: int
    # The newest requests dropped for their router's Message-Authenticator or shared secret.
    router_failures: tuple[Item, ...] = ()


def _count(db: Session, stmt: Select[Any]) -> int:
    return int(db.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def dashboard(db: Session, actor: Actor, now: dt.datetime) -> Dashboard:
    user_menu, session_menu, log_menu = MENUS["user"], MENUS["session"], MENUS["log"]
    users = verbs.scope(actor, user_menu).order_by(None)
    sessions = verbs.scope(actor, session_menu).order_by(None)
    active = sessions.where(models.UserSession.active.is_(True))
    newest = db.scalars(active.order_by(models.UserSession.from_time.desc()).limit(SHOWN))
    logged = verbs.scope(actor, log_menu).order_by(None)
    newest_first = models.LogEntry.time.desc(), models.LogEntry.id.desc()
    failed = (
        logged.where(
            models.LogEntry.status.like("%fail%"), models.LogEntry.status != ROUTER_FAILURE
        )
        .order_by(*newest_first)
        .limit(SHOWN)
    )
    dropped = logged.where(models.LogEntry.status == ROUTER_FAILURE).order_by(*newest_first)
    local = now.astimezone(actor_time_zone(db, actor))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)
    today = sessions.where(models.UserSession.till_time >= midnight).subquery()
    download, upload = db.execute(
        select(
            func.coalesce(func.sum(today.c.download), 0), func.coalesce(func.sum(today.c.upload), 0)
        )
    ).one()
    return Dashboard(
        users=_count(db, users),
        users_disabled=_count(db, users.where(models.User.disabled.is_(True))),
        routers=_count(db, verbs.scope(actor, MENUS["router"]).order_by(None)),
        active_sessions=_count(db, active),
        sessions=tuple(verbs.render(db, session_menu, row, show_sensitive=False) for row in newest),
        failures=tuple(
            verbs.render(db, log_menu, row, show_sensitive=False) for row in db.scalars(failed)
        ),
        download_today=int(download),
        upload_today=int(upload),
        router_failures=tuple(
            verbs.render(db, log_menu, row, show_sensitive=False)
            for row in db.scalars(dropped.limit(SHOWN))
        ),
    )
