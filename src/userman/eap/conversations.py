"""The EAP conversations in progress, by State (RFC 2865 5.24), bounded in number and idle time.

A conversation lives from its first Access-Challenge until its Access-Accept or -Reject, or
until it was idle `idle` seconds (longer than the Session-Timeout hint of its Access-Challenges,
RFC 3579 2). At most `capacity` live at once: when that many are live after the idle ones are
gone, the new one is refused (the caller drops its request) and those in progress go on, so a
flood of EAP starts cannot push out conversations that are nearly done; it can only keep new
ones out until its own expire. No clock: every call takes `now`, monotonic seconds.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["DEFAULT_CAPACITY", "DEFAULT_IDLE", "Conversations"]

T = TypeVar("T")
Key = tuple[int, bytes]  # (router id, State): a router reaches only its own conversations

DEFAULT_CAPACITY = 4096
DEFAULT_IDLE = 60.0  # seconds


class Conversations(Generic[T]):
    """See the module."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, idle: float = DEFAULT_IDLE) -> None:
        self.capacity = capacity
        self.idle = idle
        self._live: OrderedDict[Key, tuple[float, T]] = OrderedDict()  # least recently used first

    def __len__(self) -> int:
        return len(self._live)

    def add(self, key: Key, value: T, now: float) -> bool:
        """Keep a new conversation; False: refused, as `capacity` are live."""
        self.expire(now)
        if len(self._live) >= self.capacity:
            return False
        self._live[key] = (now, value)
        return True

    def get(self, key: Key, now: float) -> T | None:
        """The conversation, now used again; None: none, or idle too long."""
        self.expire(now)
        found = self._live.get(key)
        if found is None:
            return None
        self._live[key] = (now, found[1])
        self._live.move_to_end(key)
        return found[1]

    def remove(self, key: Key) -> None:
        self._live.pop(key, None)

    def expire(self, now: float) -> None:
        """Forget the conversations idle `idle` seconds or more."""
        live = self._live
        while live:
            key, (used, _) = next(iter(live.items()))
            if now - used < self.idle:
                break
            del live[key]
