"""The watcher that keeps the policy in memory current with what other processes commit.

Every POLL_INTERVAL it reads the change log (services/policy.py `refresh`) in a thread of its
own, so a busy worker pool cannot delay a change made by another process or node, or by SQL
typed by hand: such a change is in effect within one interval plus the read. What this process
commits is read at its commit already. When the database does not answer, decisions go on from
the policy as it was last read (a router's users are not turned away because the database is
down for a moment); the outage is logged once, and its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from userman.services.policy import PolicyCache

__all__ = ["POLL_INTERVAL", "watch"]

log = logging.getLogger("userman.server")

POLL_INTERVAL = 0.2  # seconds between two reads of the change log


async def watch(cache: PolicyCache, stop: asyncio.Event, interval: float = POLL_INTERVAL) -> None:
    """Read the change log every `interval` seconds until `stop` is set."""
    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="userman-policy")
    failing = False
    try:
        while not stop.is_set():
            try:
                await loop.run_in_executor(executor, cache.refresh)
                if failing:
                    log.info("the policy's changes are read again")
                failing = False
            except Exception:
                cache.counters["failed-refreshes"] += 1
                if not failing:  # once per outage
                    log.exception(
                        "could not read the policy's changes; deciding from the policy as read"
                    )
                failing = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
    finally:
        executor.shutdown(wait=False)
