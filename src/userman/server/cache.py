"""The snapshot cache of the packet path: every router by source address, kept in step with the
database by a watcher, so a request finds its router without a query.

`watch` reads the routers' stamp (services/snapshot.py: a digest of the router rows' own data)
every POLL_INTERVAL in its own thread, and loads a new snapshot, in one statement, only when the
stamp changed: a router added, changed or removed by any process or node, through a command,
undo/redo, `database load` or SQL by hand, is in effect for requests within one interval (plus
the query). The copy is trusted only while its last good check began at most MAX_AGE ago:
before the first check, or when the watcher stalls or the database does not answer it, the
server reads each router from the database as it did without a cache. The snapshot holds the
router table (one small row per NAS), never users, sessions or usage, and it grows only with
the routers an operator configures, never with the traffic: a flood from unknown addresses
costs a dictionary miss. This module decides what to trust; it knows nothing of SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from userman.services import RouterInfo, Userman
    from userman.services.snapshot import RouterSnapshot

__all__ = ["MAX_AGE", "POLL_INTERVAL", "RouterCache", "watch"]

log = logging.getLogger("userman.server")

POLL_INTERVAL = 0.2  # seconds between two reads of the routers' stamp
MAX_AGE = 1.0  # seconds after its last good check that the copy stops being trusted


class RouterCache:
    """The routers by address as of the last snapshot, and when the database last confirmed
    them (on the event loop's clock)."""

    def __init__(self, max_age: float = MAX_AGE) -> None:
        self.max_age = max_age
        self.stamp: str | None = None
        self.routers: Mapping[str, RouterInfo] = {}
        self.checked: float | None = None  # when the last check that confirmed them began
        self.counters: Counter[str] = Counter()

    def fresh(self, now: float) -> bool:
        """Whether the copy may answer now: confirmed by a check that began <= max_age ago."""
        return self.checked is not None and now - self.checked <= self.max_age

    def get(self, address: str) -> RouterInfo | None:
        """The router with this address in the copy (only meaningful while `fresh`)."""
        return self.routers.get(address)

    def confirm(self, stamp: str, began: float) -> bool:
        """Note a stamp read by a check that began at `began`; False when the copy is not of
        those rows any more (a new snapshot must be loaded), True when it still is."""
        if stamp != self.stamp:
            return False
        self.checked = began
        return True

    def replace(self, snapshot: RouterSnapshot, began: float) -> None:
        """Take a snapshot read by a load that began at `began`."""
        self.stamp = snapshot.stamp
        self.routers = snapshot.routers
        self.checked = began
        self.counters["snapshots"] += 1


async def check(cache: RouterCache, app: Userman, executor: ThreadPoolExecutor) -> None:
    """One check: read the stamp, and load a new snapshot when it changed."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    stamp = await loop.run_in_executor(executor, app.router_stamp)
    if cache.confirm(stamp, began):
        return
    began = loop.time()
    snapshot = await loop.run_in_executor(executor, app.router_snapshot)
    cache.replace(snapshot, began)
    log.info("router snapshot: %d routers", len(snapshot.routers))


async def watch(
    cache: RouterCache, app: Userman, stop: asyncio.Event, interval: float = POLL_INTERVAL
) -> None:
    """Check every `interval` seconds until `stop` is set, in a thread of its own, so that a
    busy worker pool cannot delay a change."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="userman-snapshot")
    failing = False
    try:
        while not stop.is_set():
            try:
                await check(cache, app, executor)
                failing = False
            except Exception:
                cache.counters["failed-checks"] += 1
                if not failing:  # once per outage; the copy goes untrusted after max_age
                    log.exception("could not check the routers for changes")
                failing = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
    finally:
        executor.shutdown(wait=False)
