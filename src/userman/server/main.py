"""`userman serve`: the RADIUS ports, bound by `bind_udp` before anything says it listens, and
the tasks beside them, run until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Sequence

from userman.radius.dictionary import default_dictionary
from userman.server import cache, coa, logs, nodes, policy
from userman.server.endpoint import RadiusProtocol, RadiusServer
from userman.services import Userman

__all__ = [
    "LOOPS",
    "Task",
    "bind_udp",
    "configure_logging",
    "event_loop",
    "run_server",
    "serve",
    "syslog_target",
]

syslog_target = logs.syslog_target  # for the CLI: `serve --syslog` checked before binding

# A coroutine the server runs beside the RADIUS ports until `stop` is set (the CLI's control
# socket is one); it must return soon after `stop` is set.
Task = Callable[[asyncio.Event], Awaitable[None]]

log = logging.getLogger("userman.server")


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
) -> None:
    """Answer on `sockets`, the bound authentication and accounting ports, until stopped."""
    loop = asyncio.get_running_loop()
    server = RadiusServer(app, default_dictionary(), interim_interval=interim_interval)
    transports: list[asyncio.DatagramTransport] = []
    sender: coa.CoaSender | None = None
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
        await membership.ready()
        for sock, accounting in zip(sockets, (False, True), strict=True):
            transport, _ = await loop.create_datagram_endpoint(
                functools.partial(RadiusProtocol, server, accounting=accounting), sock=sock
            )
            transports.append(transport)
        # Disconnect/CoA-Requests (RFC 5176) queued by any process, sent from their own port.
        sender = await coa.start_sender(server, bind)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info(
            "userman is listening on %s: authentication %d/udp, accounting %d/udp",
            bind,
            sockets[0].getsockname()[1],
            sockets[1].getsockname()[1],
        )
        # The routers' snapshot, checked against the database every few hundred milliseconds.
        watcher = asyncio.ensure_future(cache.watch(server.routers, app, stop))
        # The policy in memory, following what other processes change.
        follower = asyncio.ensure_future(policy.watch(app.policy, stop))
        sweeper = asyncio.ensure_future(_sweep_stale(server, interim_interval, stop))
        flusher = asyncio.ensure_future(_flush_counters(server, stop))
        coa_poller = asyncio.ensure_future(coa.poll(server, sender, stop))
        enforcer = asyncio.ensure_future(coa.enforce(server, stop))  # limits during sessions
        extra = [asyncio.ensure_future(task(stop)) for task in tasks]
        await stop.wait()
        await watcher
        await follower
        await sweeper
        await coa_poller
        await enforcer
        await flusher
        await asyncio.gather(*extra, return_exceptions=True)
        log.info("userman is stopping")
        # Answer what was received (its accounting committed first); `close()` below stores
        # whatever is still queued once the ports are closed.
        await server.drain()
        with contextlib.suppress(Exception):
            await server.flush_counters(final=True)  # what the last answers counted
    finally:
        stop.set()
        for transport in transports:
            transport.close()
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


def configure_logging(*, json_lines: bool = False, syslog: str | None = None) -> None:
    """The server's log on stderr, with times or as JSON lines, and to a syslog collector
    (server/logs.py; a no-op once configured). ValueError for a `syslog` URL that is wrong."""
    target = logs.syslog_target(syslog) if syslog else None
    logs.configure(json_lines=json_lines, syslog=target)


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


def run_server(
    app: Userman,
    *,
    bind: str,
    sockets: tuple[socket.socket, socket.socket],
    interim_interval: int = 0,
    tasks: Sequence[Task] = (),
    loop: str = "auto",
) -> None:
    """`serve` on the event loop `loop` names (see `event_loop`), until it stops."""
    name, factory = event_loop(loop)
    configure_logging()
    log.info("event loop: %s", name)
    # A thread beside the loop (the writers, the watchers, the web) that wants the GIL gets it
    # after 1 ms of the loop's work, not 5, and gives it back as soon: at half the peak rate the
    # p99 of PAP fell from about 33 ms to 14 ms here, at the same throughput (bench/).
    sys.setswitchinterval(SWITCH_INTERVAL)
    # asyncio.Runner rather than asyncio.run, whose loop_factory is Python 3.12's.
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(
                serve(
                    app, bind=bind, sockets=sockets, interim_interval=interim_interval, tasks=tasks
                )
            )
    finally:
        logs.stop()  # what waits for the syslog collector is sent
