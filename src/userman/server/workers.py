"""`userman serve --workers N`: the parent that runs N worker processes and keeps them running.

The parent binds every port before it says it listens: per worker its own sockets of the RADIUS
ports, joined with SO_REUSEPORT so that the kernel spreads datagrams among them by a hash of
their source and destination (one router's source port always reaches the same socket, so one
worker's RFC 5080 duplicate cache sees every retransmission of a request, and one EAP
conversation's requests, sent from one port as routers do, reach the worker that holds it:
server/eap.py), the web port and the control socket. It keeps them all open while it runs and
hands each worker its own (pass_fds): the sockets outlive a worker, what arrives while it
restarts waits in them for the next one, and the hash never changes. Worker 0 is the primary: it
serves the web port and the control socket too, and runs the tasks that must run once
(server/main.py `Role`). A worker that ends unasked is retired from the metrics directory
(server/metrics.py `retire`) and started again after a back-off that grows while it keeps
failing; SIGTERM or SIGINT to the parent stops every worker (each drains: its accounting
committed before it exits), then the parent, which removes the metrics directory. The parent
opens no database and runs no thread of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import subprocess
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from userman.server import metrics, notify

__all__ = [
    "MAX_WORKERS",
    "Inherited",
    "Plan",
    "bind_shared",
    "cores",
    "orphaned",
    "ready_signal",
    "supervise",
]

log = logging.getLogger("userman.server")

T = TypeVar("T")

MAX_WORKERS = 64
READY = b"ready\n"  # what a worker writes on its pipe once it answers
STOP_SECONDS = 30.0  # after SIGTERM, a worker still running is killed
BACKOFF_FIRST = 0.5  # seconds before a worker that ended is started again
BACKOFF_MOST = 30.0  # the longest wait, for a worker that keeps ending
STEADY_SECONDS = 30.0  # a worker that ran this long starts again after BACKOFF_FIRST
ORPHAN_CHECK = 1.0  # seconds between a worker's looks whether its parent is still there


def cores() -> int:
    """The cores this process may run on (`--workers auto`)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def bind_shared(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` UDP sockets bound to `host` and `port` with SO_REUSEPORT (port 0: one the system
    picks, the same for all); OSError as server/main.py `bind_udp` when they cannot be. A port
    in use is refused even when its owner set SO_REUSEPORT too (a probe without it binds
    first): a second server would otherwise join the first one's group, taking some of its
    routers' datagrams."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE
    )[0]
    if port:
        with socket.socket(family, kind, proto) as probe:
            probe.bind(address)
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
            address = sock.getsockname()  # the port the system picked, for the others
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


@dataclass(frozen=True, slots=True)
class Inherited:
    """What a worker gets from its parent, as `serve --worker SPEC` (a hidden option): its
    number and how many there are, the descriptors of its sockets (-1: none), the pipe it says
    it is ready on, and the parent's pid."""

    index: int
    workers: int
    auth: int
    acct: int
    web: int
    metrics: int
    control: int
    ready: int
    parent: int
    radsec: int = -1  # worker 0's, like the web port: a router keeps one connection

    def spec(self) -> str:
        return ",".join(str(value) for value in dataclasses.astuple(self))

    @classmethod
    def parse(cls, spec: str) -> Inherited:
        """ValueError for anything but a `spec()`'s text."""
        values = [int(word) for word in spec.split(",")]
        if len(values) != len(dataclasses.fields(cls)):
            raise ValueError(f"not a worker's spec: {spec!r}")
        return cls(*values)

    @property
    def fds(self) -> tuple[int, ...]:
        fds = (self.auth, self.acct, self.web, self.metrics, self.control, self.radsec)
        return tuple(fd for fd in fds if fd >= 0)


@dataclass(frozen=True, slots=True)
class Plan:
    """The workers the parent runs: the command of one (its `--worker SPEC` added per worker)
    with its environment, each one's sockets of the RADIUS ports, and the web port and control
    socket of worker 0; `where` names the ports in the line that says userman listens."""

    argv: Sequence[str]
    env: Mapping[str, str]
    sockets: Sequence[tuple[socket.socket, socket.socket]]
    web: socket.socket | None
    control: socket.socket | None
    where: str
    metrics: socket.socket | None = None  # --metrics-port, worker 0's like the web port
    radsec: socket.socket | None = None  # --radsec-port, worker 0's like the web port
    # Where the workers publish their counters (server/metrics.py): a worker that ended is
    # retired from it, its counters kept and its gauges gone.
    metrics_dir: Path | None = None


def supervise(plan: Plan) -> int:
    """Run the workers until SIGTERM or SIGINT; the exit status (1: a worker did not start,
    or one did not stop cleanly)."""
    return asyncio.run(_supervise(plan))


async def _supervise(plan: Plan) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    workers = [_Worker(plan, index) for index in range(len(plan.sockets))]
    started = await _either(asyncio.gather(*(worker.start() for worker in workers)), stop)
    keepers: list[asyncio.Future[None]] = []
    status = 0
    if started is None:
        log.info("userman is stopping before its workers answered")
    elif not all(started):
        failed = ", ".join(
            str(worker.index) for worker, ok in zip(workers, started, strict=True) if not ok
        )
        log.error("worker %s did not start; stopping", failed)
        status = 1
    else:
        pids = ", ".join(str(worker.pid) for worker in workers)
        log.info(
            "userman is listening on %s, with %d workers (pids %s)", plan.where, len(workers), pids
        )
        notify.notify("READY=1\nSTATUS=answering RADIUS")  # systemd's Type=notify: the parent
        keepers = [asyncio.ensure_future(worker.keep(stop)) for worker in workers]
        await stop.wait()
        notify.notify("STOPPING=1")
        log.info("userman is stopping its %d workers", len(workers))
    stop.set()
    await asyncio.gather(*keepers)
    ended = await asyncio.gather(*(worker.stop() for worker in workers))
    return status or int(not all(ended))


async def _either(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """What `work` gives, or None (and `work` cancelled) when `stop` is set first."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


class _Worker:
    """One worker process, started again whenever it ends unasked."""

    def __init__(self, plan: Plan, index: int) -> None:
        self.plan = plan
        self.index = index
        self.process: asyncio.subprocess.Process | None = None
        self.started = 0.0
        self.delay = 0.0  # the back-off before the next start

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0

    async def start(self) -> bool:
        """Start the process and wait until it answers; False when it ended before."""
        auth, acct = self.plan.sockets[self.index]
        primary = self.index == 0
        web, metrics, control, radsec = (
            (self.plan.web, self.plan.metrics, self.plan.control, self.plan.radsec)
            if primary
            else (None,) * 4
        )
        read, write = os.pipe()
        inherited = Inherited(
            self.index,
            len(self.plan.sockets),
            auth.fileno(),
            acct.fileno(),
            web.fileno() if web is not None else -1,
            metrics.fileno() if metrics is not None else -1,
            control.fileno() if control is not None else -1,
            write,
            os.getpid(),
            radsec.fileno() if radsec is not None else -1,
        )
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.plan.argv,
                "--worker",
                inherited.spec(),
                pass_fds=(*inherited.fds, write),
                env=dict(self.plan.env),
                stdin=subprocess.DEVNULL,
                # Its own process group: a Ctrl-C reaches the parent alone, which stops the
                # workers in order.
                process_group=0,
            )
        except BaseException:
            os.close(read)
            raise
        finally:
            os.close(write)
        self.started = asyncio.get_running_loop().time()
        log.info("worker %d started (pid %d)", self.index, self.process.pid)
        return await _ready(read)

    async def keep(self, stop: asyncio.Event) -> None:
        """Start the worker again, after the back-off, whenever it ends, until `stop`."""
        loop = asyncio.get_running_loop()
        while self.process is not None:
            status = await _either(self.process.wait(), stop)
            if status is None or stop.is_set():
                return
            lived = loop.time() - self.started
            if self.plan.metrics_dir is not None:
                metrics.retire(self.plan.metrics_dir, str(self.process.pid))
            if lived >= STEADY_SECONDS:
                self.delay = BACKOFF_FIRST
            else:
                self.delay = min(max(2 * self.delay, BACKOFF_FIRST), BACKOFF_MOST)
            log.warning(
                "worker %d (pid %d) %s after %.1f s; starting it again in %.1f s",
                self.index,
                self.process.pid,
                _how(status),
                lived,
                self.delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.delay)
            if stop.is_set():
                return
            if await _either(self.start(), stop):
                log.info("worker %d answers again (pid %d)", self.index, self.process.pid)

    async def stop(self) -> bool:
        """SIGTERM, and wait for it to end (killed after STOP_SECONDS); True when it drained
        and ended cleanly, or was not running."""
        process = self.process
        if process is None or process.returncode is not None:
            return True
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            status = await asyncio.wait_for(process.wait(), timeout=STOP_SECONDS)
        except TimeoutError:
            log.error("worker %d (pid %d) did not stop; killed", self.index, process.pid)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            return False
        # A worker told to stop while it starts ends by the signal: nothing to drain yet.
        if status not in (0, -signal.SIGTERM):
            log.error("worker %d (pid %d) %s", self.index, process.pid, _how(status))
            return False
        return True


def _how(status: int) -> str:
    if status < 0:
        return f"was killed by {signal.Signals(-status).name}"
    return f"exited with status {status}"


async def _ready(fd: int) -> bool:
    """Whether READY comes on the pipe `fd` before its end (the worker's exit); closes it."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    pipe = os.fdopen(fd, "rb", buffering=0)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        return await reader.readline() == READY
    finally:
        transport.close()


def ready_signal(fd: int) -> Callable[[], None]:
    """For a worker: what tells its parent, on the pipe `fd`, that it answers."""

    def ready() -> None:
        try:
            os.write(fd, READY)
        finally:
            os.close(fd)

    return ready


def orphaned(parent: int) -> Callable[[asyncio.Event], Awaitable[None]]:
    """For a worker: the task that stops it when its parent is gone (killed without a chance
    to stop its workers), so that no worker is left holding the ports."""

    async def watch(stop: asyncio.Event) -> None:
        while not stop.is_set():
            if os.getppid() != parent:
                log.warning("the parent process (pid %d) is gone; stopping", parent)
                stop.set()
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=ORPHAN_CHECK)

    return watch
