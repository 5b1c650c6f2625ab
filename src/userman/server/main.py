"""`userman serve`: the RADIUS ports, bound by `bind_udp` before anything says it listens, and
the tasks beside them, run until SIGINT or SIGTERM.

Under `serve --workers N` (server/workers.py) this runs in each worker, its `Role` saying which:
every worker answers on its own sockets of the shared ports, with its own accounting writer,
policy and router snapshots and per-router counters (added to the database's totals, so N
flushes add up); the primary (worker 0) alone sends the queued Disconnect/CoA requests,
rechecks the open sessions (enforce), closes stale sessions and prunes (CoA rows, policy, the
retention settings), tasks that would only conflict or repeat if run N times. The RadSec port
(server/radsec.py), when there is one, is the primary's too: a router keeps its one connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import gc
import logging
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from userman.radius.dictionary import default_dictionary
from userman.server import cache, coa, logs, metrics, nodes, notify, policy, tlscontexts
from userman.server.endpoint import RadiusProtocol, RadiusServer
from userman.server.radsec import Radsec
from userman.services import Userman

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = [
    "LOOPS",
    "Role",
    "Task",
    "bind_udp",
    "configure_logging",
    "event_loop",
    "run_server",
    "serve",
    "syslog_target",
    "tune_interpreter",
]

syslog_target = logs.syslog_target  # for the CLI: `serve --syslog` checked before binding

# A coroutine the server runs beside the RADIUS ports until `stop` is set (the CLI's control
# socket is one); it must return soon after `stop` is set.
Task = Callable[[asyncio.Event], Awaitable[None]]

log = logging.getLogger("userman.server")


@dataclass(frozen=True, slots=True)
class Role:
    """Which process of `serve` this is: the one process (the default), or worker `index` of
    `workers` (server/workers.py), which calls `ready` once it answers instead of saying it
    listens (its parent says so once every worker answers)."""

    index: int = 0
    workers: int = 1
    ready: Callable[[], None] | None = None
    # Where each worker publishes its counters for /metrics, which worker 0 sums when scraped
    # (server/metrics.py `publish`, `gather`); None for the one process.
    metrics_dir: Path | None = None

    @property
    def primary(self) -> bool:
        """The process that runs what must run once: CoA/Disconnect, enforce, the sweeper."""
        return self.index == 0


def bind_udp(host: str, port: int) -> socket.socket:
    """A UDP socket bound to `host` (an address or a name of this host) and `port` (0: one the
    system picks); OSError when it cannot be, for `serve` to say before it listens anywhere."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


async def serve(
    app: Userman,
    *,
    bind: str,
    sockets: tuple[socket.socket, socket.socket],
    interim_interval: int = 0,
    tasks: Sequence[Task] = (),
    role: Role = Role(),
    registry: CollectorRegistry | None = None,
    radsec: socket.socket | None = None,
    radsec_off: str = "",
) -> None:
    """Answer on `sockets`, the bound authentication and accounting ports, and on `radsec`, the
    bound RadSec port (None: why is `radsec_off`), until stopped; `registry` (/metrics') reads
    the server's counters when scraped (server/metrics.py)."""
    loop = asyncio.get_running_loop()
    server = RadiusServer(app, default_dictionary(), interim_interval=interim_interval)
    source = metrics.server_source(server)
    directory = role.metrics_dir
    if registry is not None:
        if directory is None:
            registry.register(metrics.Collector(source))
        else:  # every worker's counters, summed (each publishes its own, below)
            registry.register(
                metrics.Collector(lambda: metrics.merge(metrics.gather(directory).values()))
            )
    transports: list[asyncio.DatagramTransport] = []
    protocols: list[RadiusProtocol] = []
    sender: coa.CoaSender | None = None
    tls: Radsec | None = None
    membership = nodes.Membership(app.nodes)
    stop = asyncio.Event()
    beats: asyncio.Future[None] | None = None
    try:
        # Registered first (services/nodes.py: alone, shared-users claims are kept in memory),
        # then the policy: no request is answered before it is in memory (the ports queue
        # what arrives meanwhile; routers retransmit), none by the database for want of it.
        # Meanwhile the peers acknowledge this node (they write their claims in memory to
        # the database): the ports open when they have, or JOIN_WAIT passed.
        await membership.join()
        beats = asyncio.ensure_future(membership.beat(stop))
        await _load_policy(app)
        with contextlib.suppress(Exception):  # else the watch below says why, and tries again
            await tlscontexts.check(server.eap.contexts, app)
        await membership.ready()
        for sock, accounting in zip(sockets, (False, True), strict=True):
            transport, protocol = await loop.create_datagram_endpoint(
                functools.partial(RadiusProtocol, server, accounting=accounting), sock=sock
            )
            transports.append(transport)
            protocols.append(protocol)
        if radsec is not None:
            tls = Radsec(server)
            await tls.start(radsec)
        elif radsec_off and role.primary:
            log.info("RadSec is off: %s", radsec_off)
        if role.primary:
            # Disconnect/CoA-Requests (RFC 5176) queued by any process, sent from their own port.
            sender = await coa.start_sender(server, bind)
            if tls is not None:  # to a router with an open RadSec connection, over it
                sender.streams = tls.stream
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        ports = f"authentication {sockets[0].getsockname()[1]}/udp, accounting "
        ports += f"{sockets[1].getsockname()[1]}/udp"
        if radsec is not None:
            ports += f", RadSec {radsec.getsockname()[1]}/tcp"
        if role.ready is None:
            log.info("userman is listening on %s: %s", bind, ports)
        else:
            log.info("answering on %s: %s (worker %d of %d)", bind, ports, role.index, role.workers)
            role.ready()
        if role.ready is None:  # systemd's Type=notify (under --workers the parent says it)
            notify.notify("READY=1\nSTATUS=answering RADIUS")
        running = [
            # The routers' snapshot, checked against the database every few hundred ms.
            cache.watch(server.routers, app, stop),
            # The policy in memory, following what other processes change.
            policy.watch(app.policy, stop),
            # The EAP certificate and trusted CAs, rebuilt into TLS contexts when changed.
            tlscontexts.watch(server.eap.contexts, app, stop),
        ]
        if tls is not None:  # the RadSec certificates, followed
            running.append(tls.watch(stop))
        if sender is not None:  # the primary's, once for all workers
            running += [
                _sweep_stale(server, interim_interval, stop),
                coa.poll(server, sender, stop),
                coa.enforce(server, stop),  # limits during sessions
            ]
        # Last, so its final flush counts what the others did: added to the database's totals,
        # each worker its own.
        running.append(_flush_counters(server, stop))
        if directory is not None:
            running.append(metrics.publishing(source, directory, stop))
        started = [asyncio.ensure_future(work) for work in running]
        extra = [asyncio.ensure_future(task(stop)) for task in tasks]
        await stop.wait()
        # Told to stop: nothing more is taken (the routers retransmit to another server)
        # while the tasks end and what was received is answered.
        for protocol in protocols:
            protocol.refuse()
        if tls is not None:
            tls.refuse()
        if role.ready is None:
            notify.notify("STOPPING=1")
        for task in started:
            await task
        await asyncio.gather(*extra, return_exceptions=True)
        log.info("userman is stopping")
        # Answer what was received (its accounting committed first); `close()` below stores
        # whatever is still queued once the ports are closed.
        await server.drain()
        if tls is not None:
            await tls.close()  # the answers written, the connections closed
        with contextlib.suppress(Exception):
            await server.flush_counters(final=True)  # what the last answers counted
        log.info(
            "answered %d access and %d accounting requests since it started",
            server.counters["access-requests"],
            server.counters["accounting-requests"],
        )
    finally:
        stop.set()
        for transport in transports:
            transport.close()
        if tls is not None:
            await tls.close()
        if sender is not None:
            sender.close()
        server.close()
        if beats is not None:
            await asyncio.gather(beats, return_exceptions=True)
        await membership.leave()  # peers alone again decide from memory


async def _load_policy(app: Userman) -> None:
    """Read the policy into memory before the first request, in a thread."""
    began = time.monotonic()
    await asyncio.get_running_loop().run_in_executor(None, app.policy.load)
    held = app.policy.policy
    log.info(
        "policy in memory: %d users, %d profiles, %d limitations, read in %.1f s",
        len(held.by_id),
        len(held.profiles),
        len(held.limitations),
        time.monotonic() - began,
    )


COUNTERS_EVERY = 10  # seconds between writes of the per-router counters


async def _flush_counters(server: RadiusServer, stop: asyncio.Event) -> None:
    """Write the per-router counters for `router monitor` every few seconds, and once more on
    the way out."""
    while True:
        stopping = stop.is_set()
        try:
            await server.flush_counters()
        except Exception:
            log.exception("could not write the routers' counters")
        if stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=COUNTERS_EVERY)


# A session is stale when this many interim intervals passed without a record for it.
STALE_INTERVALS = 3


async def _sweep_stale(server: RadiusServer, interim_interval: int, stop: asyncio.Event) -> None:
    """Once a minute until stopped: close sessions that missed STALE_INTERVALS interim updates
    (not without an interim interval, when a quiet session cannot be told from a lost one),
    prune old answered Disconnect/CoA requests, and old sessions and log entries."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        now = dt.datetime.now(dt.UTC)
        try:
            if interim_interval > 0:
                older_than = now - dt.timedelta(seconds=STALE_INTERVALS * interim_interval)
                closed = await loop.run_in_executor(
                    server.pool, server.app.close_stale, older_than, now
                )
                if closed:
                    log.info("closed %d stale sessions", closed)
            await loop.run_in_executor(server.pool, server.app.prune_coa, now)
            await loop.run_in_executor(server.pool, server.app.policy.prune, now)
            # Old sessions and log entries, as `database set keep-...` says (hourly, in batches).
            pruned = await loop.run_in_executor(None, server.app.retain, now)
            if pruned:
                log.info("pruned %d old sessions and log entries", pruned)
        except Exception:
            log.exception("could not sweep stale sessions and old requests")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=60)


def configure_logging(
    *, json_lines: bool = False, syslog: str | None = None, worker: int | None = None
) -> None:
    """The server's log on stderr, with times or as JSON lines, and to a syslog collector
    (server/logs.py; a no-op once configured), tagged with `worker`'s number under
    `serve --workers N`. ValueError for a `syslog` URL that is wrong."""
    target = logs.syslog_target(syslog) if syslog else None
    logs.configure(json_lines=json_lines, syslog=target, worker=worker)


# `serve --loop`: auto is uvloop when it can be imported (a dependency on Linux), else asyncio.
LOOPS = ("auto", "asyncio", "uvloop")


def event_loop(choice: str) -> tuple[str, Callable[[], asyncio.AbstractEventLoop]]:
    """The event loop `choice` (one of LOOPS) names, and what makes one; ValueError, saying
    why in one line, for another name or a uvloop that cannot be imported."""
    if choice not in LOOPS:
        raise ValueError(f"--loop {choice}: no such event loop (one of {', '.join(LOOPS)})")
    if choice != "asyncio":
        try:
            import uvloop  # noqa: PLC0415 - only when chosen, and it may be missing
        except ImportError:
            if choice == "uvloop":
                raise ValueError("--loop uvloop: uvloop is not installed") from None
        else:
            return "uvloop", uvloop.new_event_loop
    return "asyncio", asyncio.new_event_loop


SWITCH_INTERVAL = 0.001  # seconds a thread holds the GIL while another waits for it
# Allocations (of container objects, net of those freed) between two collections of the
# youngest generation: Python's default is 700.
GC_YOUNG = 10_000


def tune_interpreter() -> None:
    """The interpreter as `serve` runs it (bench/accounting_served.py runs it so too).

    A thread beside the loop (the writers, the watchers, the web) that wants the GIL gets it
    after 1 ms of the loop's work, not 5, and gives it back as soon: at half the peak rate the
    p99 of PAP fell from about 33 ms to 14 ms here, at the same throughput (bench/).

    The cyclic collector looks at the young objects every GC_YOUNG allocations, not 700: a
    request's objects and an accounting batch's rows, freed by their counts a moment later,
    were caught alive and moved to the older generations, whose collections (up to 100 ms at
    the policy of 2,000 users) they then made more frequent. Accounting in one process
    (bench/accounting_served.py) spent 15-35 us of its CPU per record in the collector, 3-5
    after; the policy itself is out of its sight (`gc.freeze` after a load)."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])


def run_server(
    app: Userman,
    *,
    bind: str,
    sockets: tuple[socket.socket, socket.socket],
    interim_interval: int = 0,
    tasks: Sequence[Task] = (),
    loop: str = "auto",
    role: Role = Role(),
    registry: CollectorRegistry | None = None,
    radsec: socket.socket | None = None,
    radsec_off: str = "",
) -> None:
    """`serve` on the event loop `loop` names (see `event_loop`), until it stops."""
    name, factory = event_loop(loop)
    configure_logging()
    if role.primary:
        log.info("event loop: %s", name)
    tune_interpreter()  # the GIL's switch interval, the collector's young generation
    # asyncio.Runner rather than asyncio.run, whose loop_factory is Python 3.12's.
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(
                serve(
                    app,
                    bind=bind,
                    sockets=sockets,
                    interim_interval=interim_interval,
                    tasks=tasks,
                    role=role,
                    registry=registry,
                    radsec=radsec,
                    radsec_off=radsec_off,
                )
            )
    finally:
        logs.stop()  # what waits for the syslog collector is sent
