"""The watcher that keeps the policy in memory current with what other processes commit.

It reads the change log (services/policy.py `refresh`) in a thread of its own, so a busy worker
pool cannot delay a change made by another process or node, or by SQL typed by hand. On SQLite
it reads every POLL_INTERVAL: such a change is in effect within one interval plus the read. On
PostgreSQL it reads as soon as the commit is notified (LISTEN/NOTIFY, store/notify.py), and at
least every NOTIFIED_POLL_INTERVAL, in case a notification is missed; a lost LISTEN connection
is opened again and followed by a read that catches up (its loss is logged once, and
when it is heard again). What this process commits is read at
its commit already. When the database does not answer, decisions go on from
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

__all__ = ["NOTIFIED_POLL_INTERVAL", "POLL_INTERVAL", "watch"]

log = logging.getLogger("userman.server")

POLL_INTERVAL = 0.2  # seconds between two reads of the change log
NOTIFIED_POLL_INTERVAL = 0.5  # the same where commits are notified: for a missed notification


async def watch(cache: PolicyCache, stop: asyncio.Event, interval: float | None = None) -> None:
    """Read the change log when a commit is notified, and every `interval` seconds (None:
    POLL_INTERVAL, or NOTIFIED_POLL_INTERVAL where commits are notified), until `stop` is set."""
    notified = cache.notified
    if interval is None:
        interval = NOTIFIED_POLL_INTERVAL if notified else POLL_INTERVAL
    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="userman-policy")
    failing = False
    deaf = False  # the LISTEN connection was lost, and not yet opened again
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
            if notified and not failing:
                heard = await _notified(cache, stop, interval, loop, executor)
                if heard and deaf:
                    log.info("the database's notifications of changes are heard again")
                elif not heard:
                    cache.counters["lost-listens"] += 1
                    if not deaf:  # once per outage
                        log.warning(
                            "lost the database's notifications of changes; reading the change "
                            "log every %.1f s until they are heard again",
                            interval,
                        )
                deaf = not heard
                if heard:
                    continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
    finally:
        executor.shutdown(wait=False)
        if notified:
            cache.stop_listening()


async def _notified(
    cache: PolicyCache,
    stop: asyncio.Event,
    interval: float,
    loop: asyncio.AbstractEventLoop,
    executor: ThreadPoolExecutor,
) -> bool:
    """Wait for a notified commit, at most `interval` seconds (less when `stop` is set);
    False when the LISTEN connection was lost, or could not be opened again (the next call
    tries again)."""
    step = min(interval, 0.25)  # how soon a stop is seen
    deadline = loop.time() + interval
    while not stop.is_set() and loop.time() < deadline:
        try:
            came = await loop.run_in_executor(executor, cache.wait_for_changes, step)
        except Exception:
            return False  # read the change log now: what the lost connection missed
        if came:
            return True
    return True
