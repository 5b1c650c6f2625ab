"""This process in the registry of serving processes (services/nodes.py), from the event loop:
`join` before the policy is loaded, `beat` every second in a thread of its own (a slow database
never delays a request), `leave` at a clean stop. A beat that fails is logged once, and its
recovery once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from userman.services.claims import Mode
from userman.services.nodes import BEAT_SECONDS, JOIN_WAIT, Registry

__all__ = ["Membership"]

log = logging.getLogger("userman.server")


class Membership:
    """The registry's calls, each in the one thread that makes them."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="userman-node")

    async def _run(self, func: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, func)

    async def join(self) -> None:
        """Register. A database that cannot be written (full, read-only) does not keep the
        server from answering from memory: it says so, claims shared-users places in the
        database (which decides those log-ons, or does not answer them) and `beat` registers
        it once it can."""
        try:
            await self._run(self.registry.join)
        except Exception as error:
            log.warning(
                "could not register this server node (%s): log-ons under a shared-users limit "
                "are decided by the database until it can",
                error.__class__.__name__,
            )
            return
        # Alone, the registry said so as it switched to memory (services/nodes.py `_alone`).
        registry = self.registry
        if registry.peers:
            log.info(
                "server node %s: %d peer(s): shared-users claims in the database",
                registry.node_id,
                len(registry.peers),
            )
        elif registry.claims.mode is not Mode.ALONE:
            log.info(
                "server node %s: no peer; shared-users claims in the database while a stopped "
                "node's claims there are live",
                registry.node_id,
            )

    async def ready(self) -> None:
        """Until every live peer acknowledged this node (JOIN_WAIT at most, then said)."""
        registry = self.registry
        if registry.ready():
            return
        log.info("waiting for %d peer(s) to acknowledge this node", len(registry.peers))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + JOIN_WAIT + 2 * BEAT_SECONDS
        while not registry.ready() and loop.time() < deadline:
            await asyncio.sleep(0.05)

    async def beat(self, stop: asyncio.Event) -> None:
        """Renew and switch every BEAT_SECONDS until `stop` is set."""
        failing = False
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=BEAT_SECONDS)
            if stop.is_set():
                break
            try:
                await self._run(self.registry.beat)
            except Exception:
                if not failing:
                    log.exception(
                        "could not renew this server node's registration; limited log-ons "
                        "are not answered until it is"
                    )
                failing = True
            else:
                if failing:
                    log.warning("this server node's registration is renewed again")
                failing = False

    async def leave(self) -> None:
        try:
            await self._run(self.registry.leave)
        except Exception:
            log.exception("could not delete this server node's registration")
        finally:
            self._executor.shutdown(wait=False)
