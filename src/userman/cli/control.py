"""The server's end of the control socket (cli/remote.py says why and the protocol): runs the
menu commands that `userman` processes send it, in a worker thread, through the same
`run_words` as the command line.

One server owns a socket path: the one holding the lock `<socket>.lock` (flock, let go when the
process ends however it ends). `claim` takes it, or finds who has it without touching that
server's socket: `serve` then refuses to start a second server on an SQLite database, and on
PostgreSQL, where several nodes share one database, the later node answers no CLI commands.
Besides commands the socket answers `{"ping": true}` with the server's pid, so that the second
`serve` can name it; a connection that says nothing is closed without a word in the log.
Under `serve --workers N` the parent claims the socket and keeps its lock; worker 0 answers on
it (`Control.inherited`), naming the parent's pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import click

from userman.cli.main import run_words
from userman.cli.remote import allowed_peer, same_database, socket_path
from userman.services import Userman

__all__ = ["Control", "Owner", "claim"]

log = logging.getLogger("userman.server")

MAX_REQUEST = 1 << 20  # bytes in one command line
PING_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Owner:
    """The server that has the control socket of this database already (pid None: it does not
    answer yet, or no longer)."""

    path: str
    pid: int | None

    def say_so(self) -> None:
        """One line in the log: this server answers no CLI commands (a node beside another on
        one PostgreSQL database); the CLI reaches the one that does."""
        pid = f" (pid {self.pid})" if self.pid else ""
        log.info(
            "another server%s on this database answers CLI commands on %s; this one answers none",
            pid,
            self.path,
        )


class Control:
    """The control socket this server owns: bound, listening and locked from `claim` on;
    `close` lets it go, `task` is the coroutine that answers on it."""

    def __init__(self, path: str, listener: socket.socket, lock: int) -> None:
        self.path = path
        self.listener = listener
        self._lock = lock
        self.pid = os.getpid()  # the server's, as a ping answers

    @classmethod
    def inherited(cls, path: str, fd: int, pid: int) -> Control:
        """The listening socket `fd` that the parent `pid` claimed, for worker 0 to answer on;
        the path and the lock stay the parent's (`close` leaves them)."""
        control = cls(path, socket.socket(fileno=fd), -1)
        control.pid = pid
        return control

    def task(self, app: Userman, db_url: str) -> Callable[[asyncio.Event], Awaitable[None]]:
        log.info("CLI commands are answered on %s", self.path)

        async def answer(stop: asyncio.Event) -> None:
            try:
                await _serve(app, db_url, self.listener, stop, self.pid)
            finally:
                self.close()

        return answer

    def close(self) -> None:
        """Remove the socket (still under the lock, so never another server's) and unlock."""
        if self._lock < 0:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self.listener.close()
        os.close(self._lock)  # the lock goes with it
        self._lock = -1


def claim(db_url: str) -> Control | Owner | None:
    """The control socket of `db_url` for this server; the Owner when another server has it;
    None where there is no socket ($USERMAN_CONTROL=off, an in-memory database)."""
    path = socket_path(db_url)
    if path is None:
        return None
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    lock = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        return Owner(path, _ping(path))
    except BaseException:
        os.close(lock)
        raise
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # left by a server that is gone: the lock was free
        listener.bind(path)
        os.chmod(path, 0o600)
        listener.listen(16)
    except BaseException:
        listener.close()
        os.close(lock)
        raise
    return Control(path, listener, lock)


def _ping(path: str) -> int | None:
    """The pid of the server answering on `path`, or None when it does not answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(PING_SECONDS)
        try:
            probe.connect(path)
            probe.sendall(_line({"ping": True}))
            answer = json.loads(probe.makefile("rb").readline() or b"{}")
        except (OSError, ValueError):
            return None
    pid = answer.get("pid") if isinstance(answer, dict) else None
    return pid if isinstance(pid, int) else None


async def _serve(
    app: Userman, db_url: str, listener: socket.socket, stop: asyncio.Event, pid: int
) -> None:
    running: set[asyncio.Task[None]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        running.add(task)
        try:
            await _handle(app, db_url, reader, writer, pid)
        except Exception:
            log.exception("a command on the control socket failed")
        finally:
            running.discard(task)
            writer.close()

    # The path is `Control.close`'s to remove, under the lock: not asyncio's (3.13 removes it
    # when the server closes), which would take it from a parent whose worker 0 restarts.
    keep: dict[str, Any] = {"cleanup_socket": False} if sys.version_info >= (3, 13) else {}
    server = await asyncio.start_unix_server(on_connect, sock=listener, limit=MAX_REQUEST, **keep)
    try:
        await stop.wait()
    finally:
        server.close()
        await asyncio.gather(*running, return_exceptions=True)  # commands already taken


async def _handle(
    app: Userman,
    db_url: str,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    pid: int,
) -> None:
    peer = writer.get_extra_info("socket")
    if peer is None or not allowed_peer(peer):
        return
    line = await reader.readline()
    if not line.strip():
        return  # a client that went away, or looked only whether something answers
    try:
        request = json.loads(line)
    except ValueError:
        log.warning("a request on the control socket that is not JSON was ignored")
        return
    if not isinstance(request, dict):
        log.warning("a request on the control socket that is not an object was ignored")
        return
    if request.get("ping"):
        await _send(writer, {"pid": pid})
        return
    argv = request.get("argv")
    if not isinstance(argv, list):
        log.warning("a request on the control socket without a command line was ignored")
        return
    if not same_database(str(request.get("db", "")), db_url):
        await _send(writer, {"local": True})
        return
    loop = asyncio.get_running_loop()

    def progress(done: int, total: int) -> None:
        loop.call_soon_threadsafe(writer.write, _line({"progress": [done, total]}))

    def run() -> tuple[int, str, str] | None:
        try:
            return run_words(
                app,
                [str(word) for word in argv],
                request.get("as"),
                as_json=bool(request.get("json")),
                progress=progress,
            )
        except click.UsageError:
            return None  # the client runs it and click explains, as it always does

    result = await asyncio.to_thread(run)
    if result is None:
        await _send(writer, {"local": True})
        return
    code, out, err = result
    await _send(writer, {"code": code, "out": out, "err": err})


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


async def _send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    writer.write(_line(message))
    await writer.drain()
