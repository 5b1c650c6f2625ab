"""Assigning profiles to users: `user create-and-activate-profile` and `user-profile add`.

The queue as the AAA path reads and writes it is services/queue.py's (no menus there).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from userman.core.errors import InvalidValueError, UnknownPropertyError
from userman.core.profiles import ProfileState, end_time_for
from userman.services import permissions
from userman.services.menus import PROFILE, USER, Menu
from userman.services.queue import validity
from userman.services.request import Context, Outcome, Request
from userman.services.verbs import find, resolve_customer
from userman.store import models

__all__ = ["activate", "add_user_profile", "create_and_activate_profile"]


def create_and_activate_profile(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """`user create-and-activate-profile USER customer=C profile=P`: queue P for USER.

    A profile with `starts-at=now` starts at once when nothing else runs; one with
    `starts-at=logon` waits for the user's next logon (the manual's profile rules).
    """
    db, actor, now = ctx.db, ctx.actor, ctx.now
    for name in request.args:
        if name not in ("customer", "profile"):
            raise UnknownPropertyError(name, "user create-and-activate-profile")
    if len(request.positional) != 1:
        raise InvalidValueError("numbers", "say which one user (its username or *ID)")
    if not request.args.get("profile"):
        raise InvalidValueError("profile", "required")
    customer = resolve_customer(db, actor, request.args.get("customer") or None)
    user = find(db, actor, USER, request.positional[0], subscriber_id=customer.subscriber_id)
    permissions.check_change(db, actor, USER, user, request.verb)
    profile = find(db, actor, PROFILE, request.args["profile"], customer.subscriber_id)
    activate(db, user, profile, now)
    return Outcome(menu)


def add_user_profile(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """v7 `user-profile add user=U profile=P`: what create-and-activate-profile does. With
    `state=` (and assigned, start-time, end-time), the entry is stored as given: how an export
    brings a queue back."""
    if request.positional:
        raise InvalidValueError(request.positional[0], "add takes only name=value pairs")
    args = dict(request.args)
    for name in ("user", "profile"):
        if not args.get(name):
            raise InvalidValueError(name, "required")
    user = find(ctx.db, ctx.actor, USER, args.pop("user"))
    permissions.check_change(ctx.db, ctx.actor, USER, user, request.verb)
    profile = find(ctx.db, ctx.actor, PROFILE, args.pop("profile"), user.subscriber_id)
    stored = {}
    for name, text in args.items():
        prop = menu.by_name.get(name)
        if prop is None or prop.ref is not None:
            raise UnknownPropertyError(name, "user-profile add")
        stored[prop.column] = prop.kind.parse(text, name)
    if not stored:
        activate(ctx.db, user, profile, ctx.now)
        return Outcome(menu)
    ctx.db.add(
        models.UserProfile(
            subscriber_id=user.subscriber_id,
            user_id=user.id,
            profile_id=profile.id,
            **{"state": ProfileState.WAITING, "assigned_at": ctx.now, **stored},
        )
    )
    ctx.db.flush()
    return Outcome(menu)


def activate(db: Session, user: models.User, profile: models.Profile, now: dt.datetime) -> None:
    """Queue `profile` for `user`, starting it now if it starts when assigned and none runs."""
    entry = models.UserProfile(
        subscriber_id=user.subscriber_id,
        user_id=user.id,
        profile_id=profile.id,
        state=ProfileState.WAITING,
        assigned_at=now,
    )
    running = db.scalar(
        select(models.UserProfile.id).where(
            models.UserProfile.user_id == user.id,
            models.UserProfile.state == ProfileState.RUNNING,
        )
    )
    if profile.starts_at == "now" and running is None:
        entry.state = ProfileState.RUNNING
        entry.start_time = now
        entry.end_time = end_time_for(now, validity(profile))
    db.add(entry)
    db.flush()
