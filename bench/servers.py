"""The servers under test as processes: started pinned to one core, probed through /proc,
stopped by their own PID. Knows nothing of RADIUS but the readiness check it is handed.

CPU is utime + stime of the server and every process below it (/proc/PID/stat), RSS their
VmRSS and peak VmHWM (/proc/PID/status). Every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A UDP port free on loopback now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cores() -> tuple[int, int] | None:
    """(the generator's core, the server's core), or None with fewer than two to use."""
    allowed = sorted(os.sched_getaffinity(0))
    return (allowed[0], allowed[1]) if len(allowed) >= 2 else None


@dataclass(frozen=True, slots=True)
class Usage:
    """A process tree at one moment: CPU seconds used so far, resident and peak memory."""

    cpu: float
    rss: int
    hwm: int


def _descendants(pid: int) -> list[int]:
    """`pid` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


def usage(pid: int) -> Usage:
    cpu = 0.0
    rss = hwm = 0
    for member in _descendants(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        cpu += (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14, 15)
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                hwm += int(line.split()[1]) * 1024
    return Usage(cpu, rss, hwm)


def core_busy() -> dict[int, float]:
    """Seconds each core has run processes (user, nice, system) or lost to the hypervisor
    (steal), from /proc/stat. Interrupts and softirqs are left out: on loopback they are
    mostly the benchmark's own packets."""
    busy: dict[int, float] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            user, nice, system, _idle, _iowait, _irq, _softirq, steal = map(int, values[:8])
            busy[int(name[3:])] = (user + nice + system + steal) / TICKS
    return busy


@dataclass
class Server:
    """One running server: its process, ports, logs, and how long it took to answer."""

    label: str
    process: subprocess.Popen[bytes]
    auth: tuple[str, int]
    acct: tuple[str, int]
    log: Path
    started_in: float = 0.0
    logs: list[Path] = field(default_factory=list)  # more logs of its own (FreeRADIUS's)
    last_error: str = ""
    _errors: int = 0
    _read: dict[Path, int] = field(default_factory=dict)

    def errors(self) -> int:
        """How many lines with ERROR the server has logged so far."""
        for path in [self.log, *self.logs]:
            try:
                with path.open("rb") as text:
                    text.seek(self._read.get(path, 0))
                    chunk = text.read()
            except OSError:
                continue
            end = chunk.rfind(b"\n") + 1
            self._read[path] = self._read.get(path, 0) + end
            for line in chunk[:end].splitlines():
                if b"ERROR" in line:
                    self._errors += 1
                    self.last_error = line.decode(errors="replace").strip()[-120:]
        return self._errors

    @property
    def pid(self) -> int:
        return self.process.pid

    def usage(self) -> Usage:
        return usage(self.pid)

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        """SIGTERM to our own PID, SIGKILL after 10 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start(
    label: str,
    argv: Sequence[str],
    *,
    core: int | None,
    log: Path,
    auth_port: int,
    acct_port: int,
    ready: Callable[[tuple[str, int]], bool],
    limit: float,
    env: dict[str, str] | None = None,
    logs: Sequence[Path] = (),
) -> tuple[Server, str | None]:
    """Start `argv` pinned to `core` and wait until `ready(auth address)` (at most `limit`
    seconds). Returns the server and None, or the server (stopped) and why it is not ready."""

    began = time.monotonic()
    mine = os.sched_getaffinity(0)
    with log.open("ab") as out:
        # The child inherits the affinity it is forked with: set it for that moment only.
        if core is not None:
            os.sched_setaffinity(0, {core})
        try:
            process = subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env
            )
        finally:
            os.sched_setaffinity(0, mine)
    server = Server(label, process, ("127.0.0.1", auth_port), ("127.0.0.1", acct_port), log)
    server.logs = list(logs)
    deadline = began + limit
    while time.monotonic() < deadline:
        if not server.alive():
            return server, f"exited with {process.returncode}: {server.log_tail(3)}"
        if ready(server.auth):
            server.started_in = time.monotonic() - began
            return server, None
    server.stop()
    return server, f"did not answer a Status-Server within {limit:.0f} s"
