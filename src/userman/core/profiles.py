"""Which of a user's profiles runs now, following the manual's profile rules; pure, takes `now`.

The manual: a profile with `starts-at=logon` waits until the user logs on, then its end time is
fixed at start + validity and never changes; `starts-at=now` starts when assigned. Only one
profile runs at a time; when it ends the next waiting one starts, at the next logon. A user with
no running or startable profile is refused ("no valid profile found for user <name>").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

__all__ = ["ProfileSlot", "ProfileState", "Selection", "StartsAt", "end_time_for", "select_profile"]


class ProfileState(Enum):
    WAITING = "waiting"
    RUNNING = "running"
    USED = "used"


class StartsAt(Enum):
    LOGON = "logon"
    NOW = "now"


@dataclass(frozen=True, slots=True)
class ProfileSlot:
    """One entry of a user's profile queue, oldest assignment first."""

    id: int
    name: str
    state: ProfileState
    validity: dt.timedelta | None  # None: valid without end
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    override_shared_users: str = "off"  # the profile's: off, unlimited, or a count
    profile_id: int = 0  # the profile this entry of the queue is of


@dataclass(frozen=True, slots=True)
class Selection:
    """The outcome: the slot that runs now (None: no valid profile) and what changed."""

    running: ProfileSlot | None
    # Slots whose state or times changed and must be stored, in queue order.
    changed: tuple[ProfileSlot, ...]


def end_time_for(start: dt.datetime, validity: dt.timedelta | None) -> dt.datetime | None:
    return None if validity is None else start + validity


def _expired(slot: ProfileSlot, now: dt.datetime) -> bool:
    return slot.end_time is not None and slot.end_time <= now


def select_profile(queue: Sequence[ProfileSlot], now: dt.datetime) -> Selection:
    """The running profile at `now`, starting the next waiting one when the running one ended.

    A logon calls this; the manual's rule that a waiting profile starts "only when the user logs
    on again after the end time of the earlier profile" follows from calling it only then.
    """
    changed: list[ProfileSlot] = []
    running: ProfileSlot | None = None
    for slot in queue:
        if slot.state is ProfileState.RUNNING:
            if _expired(slot, now):
                changed.append(replace(slot, state=ProfileState.USED))
                continue
            running = slot
            break
    if running is None:
        for slot in queue:
            if slot.state is ProfileState.WAITING:
                running = replace(
                    slot,
                    state=ProfileState.RUNNING,
                    start_time=now,
                    end_time=end_time_for(now, slot.validity),
                )
                changed.append(running)
                break
    return Selection(running, tuple(changed))
