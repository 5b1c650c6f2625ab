"""Menu commands through a running `userman serve`, so that a command answers at once.

Loading the database layer costs a new process most of half a second; a running server has it
loaded. So when `userman serve` runs on the same database, `userman user print` (any menu
command) connects to the server's control socket, the server runs the command exactly as the
CLI would (same parser, services, permissions, history and output) and sends back what the
CLI would have printed and its exit status. When no server answers, the command runs in this
process as before. `serve`, `console`, `import` and `export` always run here.

The socket is a Unix-domain socket that only the server's own user and root may use, checked
on both ends with the peer's credentials (SO_PEERCRED): the same trust as the database file
itself. Its path is `$USERMAN_CONTROL` when set (`off` turns forwarding off), otherwise
`<database file>.sock` beside an SQLite database, otherwise a file named after a hash of the
database URL in $XDG_RUNTIME_DIR (or /tmp/userman-UID).

The protocol is one JSON line from the client (`argv`, `db`, `as`, `json`) and JSON lines back:
`{"progress": [done, total]}` any number of times, then `{"code": N, "out": ..., "err": ...}`,
or `{"local": true}` when the server will not run it (a usage error, another database) and
the client should run it itself. This module imports nothing heavy: it runs before the rest
of the CLI is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import struct
import sys
from collections.abc import Sequence
from typing import Any

from userman.cli.argv import hoist

__all__ = [
    "DEFAULT_URL",
    "ENV",
    "LOCAL_COMMANDS",
    "ProgressBar",
    "allowed_peer",
    "database_key",
    "forward",
    "same_database",
    "socket_path",
]

ENV = "USERMAN_CONTROL"
DEFAULT_URL = "sqlite:///userman-data/userman.db"  # services.default_url(); a test keeps them equal
LOCAL_COMMANDS = frozenset({"serve", "console", "import", "export", "help"})
CONNECT_SECONDS = 1.0
MAX_PATH = 100  # bytes; sun_path holds 108 on Linux


def database_key(db_url: str) -> str | None:
    """The URL in one spelling for both ends, or None for a database only one process sees."""
    url = db_url.split("?", 1)[0]
    if url.startswith("sqlite:"):
        path = url.removeprefix("sqlite:").removeprefix("//").removeprefix("/")
        if path in ("", ":memory:") or not url.startswith("sqlite:///"):
            return None
        return "sqlite:///" + os.path.abspath(url.removeprefix("sqlite:///"))
    for prefix in ("postgres://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql://" + url.removeprefix(prefix)
    return url


def same_database(first: str, second: str) -> bool:
    key = database_key(first)
    return key is not None and key == database_key(second)


def socket_path(db_url: str) -> str | None:
    """Where the server for `db_url` listens, or None when there is no such place."""
    setting = os.environ.get(ENV)
    if setting is not None:
        return None if setting.lower() in ("", "off", "no") else setting
    if not hasattr(socket, "SO_PEERCRED"):
        return None  # the peer's credentials cannot be checked on this platform
    key = database_key(db_url)
    if key is None:
        return None
    if key.startswith("sqlite:///"):
        beside = key.removeprefix("sqlite:///") + ".sock"
        if len(os.fsencode(beside)) <= MAX_PATH:
            return beside
    folder = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/userman-{os.getuid()}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return os.path.join(folder, f"userman-{digest}.sock")


def allowed_peer(sock: socket.socket) -> bool:
    """The other end runs as this process's user or as root."""
    credentials = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", credentials)
    return uid in (os.getuid(), 0)


class ProgressBar:
    """A progress bar on stderr for verbs that report progress (add-batch-users), shown only
    on a terminal and only once the work is long enough to want one."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._done = 0

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            if total < 50 or not sys.stderr.isatty():
                return
            import click  # noqa: PLC0415 - only a long command on a terminal draws a bar

            self._bar = click.progressbar(length=total, label="adding", file=sys.stderr)
            self._bar.__enter__()
        self._bar.update(done - self._done)
        self._done = done

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


def _split_options(argv: Sequence[str]) -> tuple[dict[str, Any], list[str]] | None:
    """The global options and the command words, or None for anything but a menu command."""
    options: dict[str, Any] = {"db": None, "key-file": None, "as": None, "json": False}
    words = hoist(argv)
    while words and words[0].startswith("-"):
        option, _, value = words.pop(0).partition("=")
        if option == "--json" and not value:
            options["json"] = True
        elif option in ("--db", "--as", "--key-file"):
            if not value:
                if not words:
                    return None
                value = words.pop(0)
            # The running server has its key file: a command it answers uses that one, as
            # with ?key_file= in the URL (database_key leaves the query out).
            options[option[2:]] = value
        else:
            return None  # --help, --version, or a mistake for click to explain
    if not words or words[0] in LOCAL_COMMANDS or "--help" in words:
        return None
    return options, words


# Properties that name a file the command reads (`certificate import file= key-file=`): the
# server runs in its own folder, so a relative path is made absolute here, where it was meant.
FILE_PROPERTIES = ("file=", "key-file=")


def _absolute(word: str) -> str:
    for prefix in FILE_PROPERTIES:
        if word.startswith(prefix) and len(word) > len(prefix):
            return prefix + os.path.abspath(word[len(prefix) :])
    return word


def forward(argv: Sequence[str]) -> int | None:
    """Run a menu command through the running server: its exit status, or None to run it here."""
    split = _split_options(argv)
    if split is None:
        return None
    options, words = split
    db_url = options["db"] or os.environ.get("USERMAN_DB") or DEFAULT_URL
    path = socket_path(db_url)
    if path is None or not os.path.exists(path):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_SECONDS)
        try:
            sock.connect(path)
        except OSError:
            return None  # a socket left by a server that is gone, or not ours to use
        if not allowed_peer(sock):
            return None
        sock.settimeout(None)  # a command may take long (add-batch-users)
        words = [_absolute(word) for word in words]
        request = {"argv": words, "db": db_url, "as": options["as"], "json": options["json"]}
        sock.sendall(json.dumps(request).encode() + b"\n")
        return _answer(sock.makefile("rb"), path)
    finally:
        sock.close()


def _answer(stream: Any, path: str) -> int | None:
    with ProgressBar() as progress:
        for line in stream:
            message = json.loads(line)
            if "progress" in message:
                progress(*message["progress"])
            elif message.get("local"):
                return None
            else:
                sys.stdout.write(message["out"])
                sys.stderr.write(message["err"])
                return int(message["code"])
    # The server went away after taking the command: it may or may not have been applied, so
    # running it again here could apply it twice.
    sys.stderr.write(
        f"failure: the server at {path} stopped before answering; "
        "the command may or may not have been applied (see `history print`)\n"
    )
    return 1
