"""Places under shared-users limits claimed by this process's Access-Accepts whose sessions have
not started yet: the in-memory twin of store/claims.py, and where a claim goes.

A process that serves alone (no live peer in `server_node`, services/nodes.py) claims here,
in memory, with no database write before the Accept: `take` counts the user's open sessions
(the caller's) and its live claims here, and adds one, atomically under a lock, so two log-ons
of a limit-1 user at once get one Accept. A claim names the device it was made for (the
router and the Calling-Station-Id, `device`): a new log-on of the same device (a user who
tries again because the first Accept was lost, or its session did not come up) takes that
claim's place instead of counting beside it, so it is never turned away by its own earlier
attempt. A request that names no device (no Calling-Station-Id: routers send one for their
users, a test client may not) claims nothing, since it cannot be told from its own retry: its
session counts once it starts, as User Manager and FreeRADIUS's Simultaneous-Use count (it
still sees the other devices' claims). A claim lapses after CLAIM_SECONDS; the session's
first accounting record takes it over (`started`, applied by the policy's next read, which
sees that session: `mark` before the read, `settle` after). With peers, claims go to the
database (store/claims.py); `claim` picks the place, and `shared`/`alone` switch between them
(the registry writes the claims held here into the database first, services/nodes.py).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import Enum

from sqlalchemy.orm import Session

from userman.store import claims as stored
from userman.store import queries
from userman.store.claims import CLAIM_SECONDS

__all__ = ["Claims", "Device", "Mode", "StaleError", "claim", "device"]

# What a claim was made for: (router id, Calling-Station-Id); None when the request names no
# device (its claims are never taken over by another log-on, only by a session or the time).
Device = tuple[int, str] | None


def device(router_id: int, calling_station_id: str) -> Device:
    """The device a log-on comes from, when the router says it (Calling-Station-Id)."""
    return (router_id, calling_station_id) if calling_station_id else None


SWITCH_WAIT = 5.0  # seconds a database claim waits for a switch of mode before it fails


class Mode(Enum):
    ALONE = "alone"  # claims in memory
    SWITCHING = "switching"  # neither: what waits, waits for the switch to end
    SHARED = "shared"  # claims in the database


class StaleError(Exception):
    """This process cannot tell whether it is alone (its registration was not renewed in time,
    or a switch took too long): a limited log-on is not answered (the router retransmits)."""


class Claims:
    """The claims held in memory by user id, the mode, and the database claims in flight.

    Mode.SHARED until the registry says otherwise: a process that does not serve (a test, a
    command) claims in the database, which is always exact."""

    def __init__(self) -> None:
        self.mode = Mode.SHARED
        self.lease_until = 0.0  # time.monotonic() before which ALONE holds (services/nodes.py)
        self._held: dict[int, deque[tuple[dt.datetime, Device]]] = {}
        self._started: list[int] = []  # user ids whose sessions started, not yet settled
        self._settled = 0  # how many of `_started` were applied (`mark` counts from here)
        self._in_flight = 0  # database claims under way (a switch to ALONE waits for them)
        self._lock = threading.Condition()

    def held(self, user_id: int, now: dt.datetime, device: Device = None) -> int:
        """The user's live claims held here, but for one `device` made (its own earlier
        attempt, which this one takes over)."""
        if user_id not in self._held:  # most users: no lock taken
            return 0
        since = now - dt.timedelta(seconds=CLAIM_SECONDS)
        with self._lock:
            return sum(
                1
                for created, made_for in self._held.get(user_id, ())
                if created >= since and (device is None or made_for != device)
            )

    def take(
        self,
        user_id: int,
        limit: int,
        sessions: int,
        now: dt.datetime,
        *,
        device: Device = None,
        wait: bool = False,
    ) -> bool | None:
        """Claim a place in memory when alone, for `device` (taking over its own earlier
        claim): False (nothing claimed) when the user's `sessions` and claims, this one
        included, would be more than `limit`; None when not alone (claim in the database), or
        while a switch is under way unless `wait` (in a thread, never on the event loop).
        StaleError: alone, but not sure of it any more."""
        with self._lock:
            if wait and not self._lock.wait_for(
                lambda: self.mode is not Mode.SWITCHING, SWITCH_WAIT
            ):
                raise StaleError("the switch between claims in memory and in the database lasts")
            if self.mode is not Mode.ALONE:
                return None
            if time.monotonic() >= self.lease_until:
                raise StaleError("this server's registration was not renewed in time")
            found = self._held.get(user_id)
            if found is not None:
                since = now - dt.timedelta(seconds=CLAIM_SECONDS)
                kept = [
                    claim
                    for claim in found
                    if claim[0] >= since and (device is None or claim[1] != device)
                ]
                if kept:
                    found = self._held[user_id] = deque(kept)
                else:
                    del self._held[user_id]
                    found = None
            if max(sessions, 0) + len(found or ()) + 1 > limit:
                return False
            self._held.setdefault(user_id, deque()).append((now, device))
            return True

    def started(self, user_ids: Iterable[int]) -> None:
        """Sessions of these users started (committed): each takes the user's oldest claim
        over at the policy's next read."""
        with self._lock:
            self._started.extend(user_ids)

    def mark(self) -> int:
        """Before the policy's read begins: which starts that read will see."""
        with self._lock:
            return self._settled + len(self._started)

    def settle(self, mark: int) -> None:
        """After the policy's read: the claims of the starts it saw are taken over."""
        with self._lock:
            self._settle(mark)

    def _settle(self, mark: int) -> None:
        count = mark - self._settled
        if count <= 0:
            return
        done, self._started = self._started[:count], self._started[count:]
        self._settled = mark
        for user_id in done:
            found = self._held.get(user_id)
            if found:
                found.popleft()
                if not found:
                    del self._held[user_id]

    def shared(self) -> list[tuple[int, dt.datetime]]:
        """Begin the switch to the database: no claim is taken anywhere until `switched`;
        the claims held here, to be written there (and forgotten here)."""
        with self._lock:
            self.mode = Mode.SWITCHING
            # Sessions committed already: the database counts them, so their claims are not
            # written there (its trigger took them over before they were).
            self._settle(self._settled + len(self._started))
            out = [
                (user_id, created) for user_id, found in self._held.items() for created, _ in found
            ]
            self._held.clear()
            return out

    def switched(self, mode: Mode, claims: Iterable[tuple[int, dt.datetime]] = ()) -> None:
        """End a switch in `mode`; `claims` back in memory (when ALONE)."""
        with self._lock:
            for user_id, created in claims:
                self._held.setdefault(user_id, deque()).append((created, None))
            self.mode = mode
            self._lock.notify_all()

    def alone(self) -> bool:
        """Begin the switch to memory, when no database claim of this process is under way."""
        with self._lock:
            if self.mode is not Mode.SHARED or self._in_flight:
                return False
            self.mode = Mode.SWITCHING
            return True

    @contextmanager
    def claiming(self) -> Iterator[None]:
        """Around a transaction that may claim in the database: it begins when no switch is
        under way, and a switch to memory waits for it to end (commit or roll back)."""
        with self._lock:
            if not self._lock.wait_for(lambda: self.mode is not Mode.SWITCHING, SWITCH_WAIT):
                raise StaleError("the switch between claims in memory and in the database lasts")
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                self._lock.notify_all()


def claim(
    db: Session,
    places: Claims,
    user_id: int,
    *,
    limit: int,
    now: dt.datetime,
    router_id: int,
    station: str,
    node_id: int | None = None,
) -> bool:
    """Claim a place for a new session of the user from the device (`router_id`, `station`:
    its Calling-Station-Id), in memory or in the database (see the module), inside the
    caller's transaction, itself inside `places.claiming()`; False, and nothing claimed, over
    the limit. The user's open sessions are counted in that transaction."""
    if places.mode is not Mode.SHARED:
        # Inside `claiming()` a process claiming in the database goes on doing so (a switch to
        # memory waits for the transaction): only otherwise are the sessions counted here.
        sessions = queries.active_sessions(db, user_id)
        made_for = device(router_id, station)
        taken = places.take(user_id, limit, sessions, now, device=made_for, wait=True)
        if taken is not None:
            return taken
    return stored.claim(db, user_id, limit, now, router_id, node_id=node_id, station=station)
