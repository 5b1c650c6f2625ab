"""Where `userman serve` writes its log: stderr as text or JSON lines, and syslog.

`configure(json_lines=..., syslog=...)` sets the root logger up once. With a syslog URL
(`udp://host[:514]`, `tcp://host[:601]` or `tls://host[:6514]`, `?facility=local0`), every
line of the server's own log and every row of User Manager's log (the logger `userman.log`:
decisions, accounting, dropped requests, CoA answers, once committed; store/logbook.py) also
goes to that collector as an RFC 5424 message: over UDP one datagram each (RFC 5426), over TCP
framed by octet counting (RFC 6587 3.4.1), over TLS framed the same way (RFC 5425 4.3) once the
collector's certificate is verified against the system's CAs or `?ca_file=PATH` and its name
against HOST (RFC 5425 5.2), reconnecting after a failure. The network is written from a
thread of its own (a QueueHandler in front), so the event loop never waits on a slow or dead
collector; a message that cannot be sent is dropped and counted, never retried.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import logging.handlers
import os
import queue
import socket
import ssl
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "FACILITIES",
    "JsonFormatter",
    "Rfc5424Formatter",
    "SyslogHandler",
    "SyslogTarget",
    "configure",
    "stop",
    "syslog_target",
]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(message)s"
# https://www.rfc-editor.org/rfc/rfc5424#section-6.2.1 (Table 1)
FACILITIES = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
    "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
    **{f"local{n}": 16 + n for n in range(8)},
}  # fmt: skip
# Table 2: severities by Python's levels.
SEVERITIES = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6}
DEBUG_SEVERITY = 7
# RFC 5426 3.3, RFC 6587 3.3 (IANA's syslog-conn), RFC 5425 4.1 (syslog-tls)
PORTS = {"udp": 514, "tcp": 601, "tls": 6514}
# The SD-ID of a log row's structured data: RFC 5612's number for documentation, as no
# enterprise number is registered for userman.
SD_ID = "userman@32473"
MAX_UDP = 2048  # octets a UDP message is cut to (RFC 5426 3.2: at least 480 must be taken)
QUEUE = 10_000  # messages waiting for the network at most; more are dropped


@dataclass(frozen=True, slots=True)
class SyslogTarget:
    transport: str  # udp, tcp or tls
    host: str
    port: int
    facility: int
    ca_file: str | None = None  # tls: the CAs that may sign the collector's certificate

    def tls_context(self) -> ssl.SSLContext:
        """RFC 5425 5.2: the collector's certificate verified against the CAs (`ca_file`, or
        the system's) and its name against the host the URL gives; TLS 1.2 at least."""
        context = ssl.create_default_context(cafile=self.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context


def syslog_target(url: str) -> SyslogTarget:
    """The collector a `--syslog` URL names; ValueError saying what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in PORTS or not parts.hostname:
        raise ValueError(
            f"--syslog {url}: give udp://HOST[:PORT], tcp://HOST[:PORT] or tls://HOST[:PORT]"
        )
    try:
        port = parts.port or PORTS[parts.scheme]
    except ValueError:
        raise ValueError(f"--syslog {url}: the port is not a number of 1-65535") from None
    query = parse_qs(parts.query)
    names = query.get("facility", ["daemon"])
    facility = FACILITIES.get(names[-1])
    if facility is None:
        raise ValueError(f"--syslog {url}: facility is one of {', '.join(FACILITIES)}")
    ca_file = query.get("ca_file", [None])[-1]
    if ca_file is not None and parts.scheme != "tls":
        raise ValueError(f"--syslog {url}: ca_file is for tls://")
    target = SyslogTarget(parts.scheme, parts.hostname, port, facility, ca_file)
    if parts.scheme == "tls":
        try:
            target.tls_context()  # a CA file that cannot be read is said now, not at each send
        except (OSError, ssl.SSLError) as error:
            raise ValueError(
                f"--syslog {url}: cannot read the CA file {ca_file}: {error}"
            ) from None
    return target


def _iso(created: float) -> str:
    return dt.datetime.fromtimestamp(created, dt.UTC).isoformat(timespec="microseconds")


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """A log row's columns (store/logbook.py), as text and numbers."""
    row = getattr(record, "row", None)
    if not isinstance(row, dict):
        return {}
    return {
        key: value.isoformat() if isinstance(value, dt.datetime) else value
        for key, value in row.items()
        if value not in (None, "")
    }


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, a log row's columns, and the
    exception when there is one; under `serve --workers N`, the worker's number too."""

    def __init__(self, worker: int | None = None) -> None:
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.worker is not None:
            out["worker"] = self.worker
        fields = _fields(record)
        if fields:
            out["row"] = fields
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def _sd_value(value: object) -> str:
    # https://www.rfc-editor.org/rfc/rfc5424#section-6.3.3: '"', '\' and ']' are escaped.
    text = str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _name(text: str, limit: int) -> str:
    """A header field (PRINTUSASCII, no space) of at most `limit` characters, or "-"."""
    kept = "".join(c for c in text if 33 <= ord(c) <= 126)[:limit]
    return kept or "-"


class Rfc5424Formatter(logging.Formatter):
    """`<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`
    (https://www.rfc-editor.org/rfc/rfc5424#section-6): MSGID is the logger's last name
    (`log` for User Manager's log, `server`, `web`...), a log row's columns its structured
    data, the message UTF-8 with a BOM as section 6.4 asks."""

    def __init__(self, facility: int, hostname: str | None = None) -> None:
        super().__init__()
        self.facility = facility
        self.hostname = _name(hostname or socket.gethostname(), 255)
        self.procid = _name(str(os.getpid()), 128)

    def format(self, record: logging.LogRecord) -> str:
        severity = SEVERITIES.get(record.levelno, DEBUG_SEVERITY)
        if record.levelno > logging.INFO and record.levelno not in SEVERITIES:
            severity = 4
        fields = _fields(record)
        data = "-"
        if fields:
            params = " ".join(f'{key}="{_sd_value(value)}"' for key, value in fields.items())
            data = f"[{SD_ID} {params}]"
        message = record.getMessage()  # with its traceback when queued (QueueHandler.prepare)
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        message = message.replace("\n", " | ")
        msgid = _name(record.name.rpartition(".")[2], 32)
        head = f"<{self.facility * 8 + severity}>1 {_iso(record.created)} {self.hostname}"
        return f"{head} userman {self.procid} {msgid} {data} \ufeff{message}"


def _read_pending(sock: socket.socket) -> None:
    """Read what the collector sent unasked (TLS 1.3's session tickets come after the
    handshake), without waiting: a socket closed with unread data resets the connection, and
    the collector may then lose the frames it had not read yet."""
    with contextlib.suppress(OSError):  # ssl.SSLWantReadError too: nothing more to read
        sock.setblocking(False)
        while sock.recv(4096):
            pass


class SyslogHandler(logging.Handler):
    """Sends each formatted record to a collector: a datagram over UDP, an octet-counted frame
    over TCP (reconnected on the next record after a failure). Runs in the queue's thread."""

    def __init__(self, target: SyslogTarget, timeout: float = 2.0) -> None:
        super().__init__()
        self.target = target
        self.timeout = timeout
        self.dropped = 0
        self._sock: socket.socket | None = None
        self._tls = target.tls_context() if target.transport == "tls" else None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = self.format(record).encode("utf-8", "backslashreplace")
            self._send(data)
        except OSError:
            self.dropped += 1
            self._close()

    def _send(self, data: bytes) -> None:
        address = (self.target.host, self.target.port)
        if self.target.transport == "udp":
            if self._sock is None:
                family = socket.getaddrinfo(*address, type=socket.SOCK_DGRAM)[0][0]
                self._sock = socket.socket(family, socket.SOCK_DGRAM)
            self._sock.sendto(data[:MAX_UDP], address)
            return
        if self._sock is None:
            sock = socket.create_connection(address, timeout=self.timeout)
            if self._tls is not None:
                try:  # the handshake verifies the certificate: ssl.SSLError, an OSError
                    sock = self._tls.wrap_socket(sock, server_hostname=self.target.host)
                except OSError:
                    sock.close()
                    raise
            self._sock = sock
        self._sock.sendall(b"%d " % len(data) + data)

    def _close(self) -> None:
        if self._sock is not None:
            if self._tls is not None:
                _read_pending(self._sock)
            self._sock.close()
            self._sock = None

    def close(self) -> None:
        self._close()
        super().close()


_configured: list[logging.handlers.QueueListener] = []


def configure(
    *, json_lines: bool = False, syslog: SyslogTarget | None = None, worker: int | None = None
) -> None:
    """The server's log on stderr (text with times, or JSON lines), and to `syslog` too: the
    server's own lines at INFO and above, and every row of User Manager's log. Once. The lines
    of a `serve --workers N` worker say its number on stderr (`[worker 1]`, `"worker": 1`)."""
    root = logging.getLogger()
    if root.handlers:
        return  # configured already (tests, or a second call)
    stderr = logging.StreamHandler(sys.stderr)
    text = TEXT_FORMAT
    if worker is not None:
        text = text.replace("%(message)s", f"[worker {worker}] %(message)s")
    stderr.setFormatter(JsonFormatter(worker) if json_lines else logging.Formatter(text))
    root.addHandler(stderr)
    root.setLevel(logging.INFO)
    if syslog is None:
        return
    network = SyslogHandler(syslog)
    network.setFormatter(Rfc5424Formatter(syslog.facility))
    waiting: queue.Queue[logging.LogRecord] = queue.Queue(QUEUE)
    front = _QueueHandler(waiting, network)
    listener = logging.handlers.QueueListener(waiting, network, respect_handler_level=False)
    listener.start()
    _configured.append(listener)
    root.addHandler(front)
    rows = logging.getLogger("userman.log")
    rows.setLevel(logging.INFO)
    rows.addHandler(front)


def stop() -> None:
    """Send what is queued and stop the syslog thread (on shutdown)."""
    while _configured:
        _configured.pop().stop()


class _QueueHandler(logging.handlers.QueueHandler):
    """A QueueHandler that drops (and counts on the network handler) what a full queue cannot
    take, rather than blocking the thread that logs."""

    def __init__(self, waiting: queue.Queue[logging.LogRecord], network: SyslogHandler) -> None:
        super().__init__(waiting)
        self.network = network

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.network.dropped += 1
