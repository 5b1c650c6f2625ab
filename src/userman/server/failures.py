"""How often a router's dropped requests reach the log, so that a flood cannot fill it.

At most one entry per router and reason (services.routers.Drop) per WINDOW: the first drop is
written at once, the others only counted, and the next entry says how many went unwritten
since; `due` gives those owed when no further drop came. Every drop is counted for `router
monitor` all the same (server/endpoint.py). Times are the event loop's clock, passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from userman.services.routers import Drop, Failure

__all__ = ["KEYS", "WINDOW", "FailureLog", "Throttle"]

WINDOW = 60.0  # seconds between two entries of one router and reason


@dataclass(slots=True)
class _Entry:
    written: float  # when the last entry was written
    unwritten: int = 0  # drops since, not written
    latest: Failure | None = None  # the newest of those, for the entry that reports them


class FailureLog:
    """Which drops to write, per (router id, reason)."""

    def __init__(self, window: float = WINDOW) -> None:
        self.window = window
        self._entries: dict[tuple[int, Drop], _Entry] = {}

    def note(self, failure: Failure, now: float) -> int | None:
        """None: only count this one; else write it now, saying this many were not written."""
        key = (failure.router.id, failure.drop)
        entry = self._entries.get(key)
        if entry is not None and now - entry.written < self.window:
            entry.unwritten += 1
            entry.latest = failure
            return None
        self._entries[key] = _Entry(now)
        return entry.unwritten if entry is not None else 0

    def due(self, now: float, *, final: bool = False) -> list[tuple[Failure, int]]:
        """The entries owed for drops that no later entry reported once their window ended
        (`final`: all of them, as the server stops): the newest of each, with how many others
        it reports. Quiet keys are forgotten."""
        owed: list[tuple[Failure, int]] = []
        for key, entry in list(self._entries.items()):
            if now - entry.written < self.window and not final:
                continue
            if entry.latest is not None:  # it stands for itself and the others
                owed.append((entry.latest, entry.unwritten - 1))
                self._entries[key] = _Entry(now)
            else:
                del self._entries[key]
        return owed


KEYS = 10_000  # (source, reason) pairs followed at once; past it, all others share one


class Throttle:
    """At most one log line per key (a source address and a reason, say) per WINDOW: the
    first at once, the others counted and reported by the next line that is written. For the
    drops that no router can be charged with (an unknown address, a malformed datagram); a
    flood of spoofed addresses is followed by at most KEYS keys, the rest under one."""

    def __init__(self, window: float = WINDOW, keys: int = KEYS) -> None:
        self.window = window
        self.keys = keys
        self._entries: dict[object, _Entry] = {}
        self._forgot = -WINDOW  # when quiet keys were last looked for (once a second at most)

    def note(self, key: object, now: float) -> int | None:
        """None: only count this one; else write it now, saying this many were not written."""
        entry = self._entries.get(key)
        if entry is None and len(self._entries) >= self.keys:
            if now - self._forgot >= 1.0:  # not a scan of every key for each spoofed source
                self._forgot = now
                self._forget(now)
            if len(self._entries) >= self.keys:
                key = _OTHERS
                entry = self._entries.get(key)
        if entry is not None and now - entry.written < self.window:
            entry.unwritten += 1
            return None
        self._entries[key] = _Entry(now)
        return entry.unwritten if entry is not None else 0

    def _forget(self, now: float) -> None:
        """Drop the keys whose window has passed with nothing left unwritten."""
        for key, entry in list(self._entries.items()):
            if now - entry.written >= self.window and not entry.unwritten:
                del self._entries[key]


_OTHERS = object()  # the key of every drop past the KEYS followed
