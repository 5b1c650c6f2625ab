"""A user's profile queue as the AAA path reads and writes it: the entries not used up, as core's
`ProfileSlot`s, and the slots a decision moved (a profile started, one used up) stored back.

The admin verbs that queue profiles (services/profiles.py) build on the menus and permissions;
the packet path, accounting and CoA need none of that, so they import this module instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from userman.core.profiles import ProfileSlot, ProfileState
from userman.store import models

__all__ = ["profile_queue", "store_slots", "validity"]


def validity(profile: models.Profile) -> dt.timedelta | None:
    """How long the profile runs once started; None: without end."""
    return dt.timedelta(seconds=profile.validity) if profile.validity else None


def profile_queue(db: Session, user_id: int) -> tuple[ProfileSlot, ...]:
    """The user's profiles that are not used up, oldest assignment first."""
    rows = db.execute(
        select(models.UserProfile, models.Profile)
        .join(models.Profile, models.Profile.id == models.UserProfile.profile_id)
        .where(
            models.UserProfile.user_id == user_id,
            models.UserProfile.state != ProfileState.USED,
        )
        .order_by(models.UserProfile.id)
    ).all()
    return tuple(
        ProfileSlot(
            entry.id,
            profile.name,
            entry.state,
            validity(profile),
            entry.start_time,
            entry.end_time,
            profile.override_shared_users,
            profile.id,
        )
        for entry, profile in rows
    )


def store_slots(db: Session, slots: Sequence[ProfileSlot]) -> None:
    """Store what a decision moved: each slot's state and times on its entry."""
    for slot in slots:
        entry = db.get(models.UserProfile, slot.id)
        if entry is not None:
            entry.state = slot.state
            entry.start_time = slot.start_time
            entry.end_time = slot.end_time
