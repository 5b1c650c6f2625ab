"""The PEAP load: hostapd's eapol_test (Debian's `eapoltest`) as the access point and the peer.

One eapol_test process is one conversation: it sends the EAP start, carries the whole PEAP
exchange to the server as a router would (RADIUS Access-Requests with State, Message-
Authenticator), checks the Access-Accept's MS-MPPE keys against the MSK it derived, and with
`-r N` re-authenticates N times more on the same RADIUS socket, offering to resume the TLS
session (a TLS 1.2 session id: hostapd's peer turns session tickets off for PEAP). `drive` keeps
`concurrency` of them running for a fixed time and counts what the server did meanwhile: each
successful authentication (CTRL-EVENT-EAP-SUCCESS), each resumed handshake ("OpenSSL: Handshake
finished - resumed=1"), each MPPE key mismatch, and the server's CPU (/proc). Every process is
ours, waited for, and killed at its time limit.
"""

from __future__ import annotations

import itertools
import os
import re
import statistics
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from population import SECRET, password, user_name
from servers import Server, core_busy

EAPOL_TEST = "/usr/bin/eapol_test"
REAUTH_PAUSE = 0.1  # s eapol_test waits after each success before it re-authenticates
KEYS = re.compile(r"MPPE keys OK: (\d+)  mismatch: (\d+)")
REPLY_MESSAGE = re.compile(r"Attribute 18 \(Reply-Message\) length=\d+\n\s+Value: '([^']*)'")


def peer_conf(folder: Path, n: int, ca_pem: Path) -> Path:
    """The eapol_test network block of user `n`: PEAPv0, inner EAP-MSCHAPv2, an anonymous
    outer identity, the server's certificate checked against `ca_pem`, TLS 1.2."""
    conf = folder / f"peer-{n}.conf"
    conf.write_text(
        "network={\n"
        "  key_mgmt=WPA-EAP\n"
        "  eap=PEAP\n"
        f'  identity="{user_name(n)}"\n'
        '  anonymous_identity="anonymous@example.org"\n'
        f'  password="{password(n)}"\n'
        f'  ca_cert="{ca_pem}"\n'
        '  phase1="peapver=0 tls_disable_tlsv1_3=1"\n'
        '  phase2="auth=MSCHAPV2"\n'
        "}\n"
    )
    return conf


@dataclass
class Conversation:
    """What one eapol_test run did."""

    wanted: int  # authentications asked for: 1 + re-authentications
    succeeded: int = 0
    resumed: int = 0  # handshakes that resumed a session
    handshakes: int = 0
    mismatched: int = 0  # Accepts whose MPPE keys differ from the peer's MSK
    seconds: float = 0.0
    returncode: int | None = None  # None: killed at its time limit
    output: str = ""

    @property
    def failed(self) -> int:
        return self.wanted - self.succeeded

    def summary(self) -> str:
        """Why it failed, in a line: the exit, the last Reply-Message, the last lines."""
        exit_text = (
            "killed at its time limit" if self.returncode is None else (f"exit {self.returncode}")
        )
        replies = REPLY_MESSAGE.findall(self.output)
        reply = f", Reply-Message {replies[-1]!r}" if replies else ""
        tail = " | ".join(line.strip() for line in self.output.strip().splitlines()[-4:])
        return (
            f"{self.succeeded}/{self.wanted} succeeded, {self.mismatched} MPPE mismatches, "
            f"{exit_text}{reply}; last lines: {tail}"
        )


def converse(conf: Path, server: Server, reauths: int, limit: float) -> Conversation:
    """One eapol_test conversation against `server`, at most `limit` seconds."""
    argv = [
        EAPOL_TEST,
        "-c",
        str(conf),
        "-a",
        server.auth[0],
        "-p",
        str(server.auth[1]),
        "-s",
        SECRET.decode(),
        "-t",
        str(int(limit)),
        "-r",
        str(reauths),
    ]
    began = time.monotonic()
    found = Conversation(wanted=1 + reauths)
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=limit + 10,
            check=False,
        )
        found.returncode, found.output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as error:  # subprocess.run killed it and waited
        out = error.stdout or b""
        found.output = out.decode(errors="replace") if isinstance(out, bytes) else out
    found.seconds = time.monotonic() - began
    return parse(found)


def parse(found: Conversation) -> Conversation:
    """Count in eapol_test's output (its debug log) what the conversation did."""
    text = found.output
    found.succeeded = text.count("CTRL-EVENT-EAP-SUCCESS")
    found.handshakes = text.count("OpenSSL: Handshake finished - resumed=")
    found.resumed = text.count("OpenSSL: Handshake finished - resumed=1")
    keys = KEYS.findall(text)  # printed once, at the end, over every Accept
    found.mismatched = int(keys[-1][1]) if keys else 0
    return found


@dataclass
class Run:
    """One case on one server for a fixed time: its figures."""

    conversations: int = 0
    succeeded: int = 0
    failed: int = 0
    resumed: int = 0
    handshakes: int = 0
    mismatched: int = 0
    elapsed: float = 0.0
    server_cpu: float = 0.0
    generator_cpu: float = 0.0
    rss: int = 0
    hwm: int = 0
    per_auth: float | None = None  # median seconds of a conversation / its authentications
    server_core_others: float | None = None
    generator_core_others: float | None = None
    alive: bool = True
    failures: list[str] = field(default_factory=list)  # a few, spelt out

    @property
    def rate(self) -> float:
        return self.succeeded / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def cpu(self) -> float | None:
        """The server's CPU seconds per successful authentication."""
        return self.server_cpu / self.succeeded if self.succeeded else None

    @property
    def resumed_share(self) -> float | None:
        return self.resumed / self.handshakes if self.handshakes else None

    @property
    def generator_busy(self) -> float | None:
        return min(1.0, self.generator_cpu / self.elapsed) if self.elapsed > 0 else None


def _own_cpu() -> float:
    """This process's CPU and its waited-for children's (every eapol_test that ended)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def drive(
    server: Server,
    confs: Sequence[Path],
    *,
    reauths: int,
    concurrency: int,
    seconds: float,
    limit: float,
    cores: tuple[int, int] | None,
    keep: Path | None = None,
) -> Run:
    """`concurrency` eapol_test conversations at a time, new ones begun for `seconds`, each
    with the next user in `confs`; every one begun is waited for and counted, and the rate
    is over the time until the last one ended. Failed conversations' output goes to `keep`."""
    users = itertools.count()
    lock = threading.Lock()
    done: list[Conversation] = []
    deadline = time.monotonic() + seconds

    def worker() -> None:
        while time.monotonic() < deadline:
            with lock:
                conf = confs[next(users) % len(confs)]
            found = converse(conf, server, reauths, limit)
            with lock:
                done.append(found)

    busy0 = core_busy() if cores else None
    usage0, cpu0, began = server.usage(), _own_cpu(), time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + limit + 30)  # each conversation is bounded by `limit`
    run = Run(elapsed=time.monotonic() - began)
    usage1, cpu1 = server.usage(), _own_cpu()
    busy1 = core_busy() if cores else None
    run.server_cpu = usage1.cpu - usage0.cpu
    run.generator_cpu = cpu1 - cpu0
    run.rss, run.hwm = usage1.rss, usage1.hwm
    run.alive = server.alive()
    with lock:
        finished = list(done)
    run.conversations = len(finished)
    for found in finished:
        run.succeeded += found.succeeded
        run.failed += found.failed
        run.resumed += found.resumed
        run.handshakes += found.handshakes
        run.mismatched += found.mismatched
        if (found.failed or found.mismatched) and len(run.failures) < 3:
            run.failures.append(found.summary())
            if keep is not None:
                out = keep.with_name(f"{keep.name}-{len(run.failures)}.txt")
                out.write_text(found.output)
    per = [f.seconds / f.wanted for f in finished if f.succeeded == f.wanted]
    run.per_auth = statistics.median(per) if per else None
    if cores and busy0 is not None and busy1 is not None and run.elapsed > 0:
        generator, serving = cores
        others = busy1[generator] - busy0[generator] - run.generator_cpu
        run.generator_core_others = max(0.0, min(1.0, others / run.elapsed))
        others = busy1[serving] - busy0[serving] - run.server_cpu
        run.server_core_others = max(0.0, min(1.0, others / run.elapsed))
    return run


def version() -> str:
    try:
        out = subprocess.run(
            [EAPOL_TEST, "-v"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0] if text else "unknown"
