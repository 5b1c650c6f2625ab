"""The load generator: one process on one core, plain non-blocking UDP sockets and epoll.

`drive` sends a flow's requests with a fixed number in flight (closed loop) or at a fixed rate
(open loop), verifies every answer (its code, Response Authenticator, Message-Authenticator
when present, the MS-CHAP2-Success an MS-CHAPv2 Accept must carry, and every 1024th Accept's
reply attributes decoded by the codec) and times it. A request unanswered after `timeout`
seconds is counted and its identifier rested, so a late answer is never taken for another's.
No asyncio: against the null responder the bare loop spent 14 us of CPU per PAP request where
the same on an asyncio datagram endpoint spent 17 (2 cores, Python 3.11). `null_responder`, a
server that does nothing but answer correctly, shows the ceiling. Every wait is bounded.
"""

from __future__ import annotations

import argparse
import math
import select
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flows import Flow
from packets import D, Expect, Template, mschap_v2_login, sign_response, template
from population import INTERIM_SECONDS, RATE_LIMIT, SECRET, user_name

from userman.radius.errors import DecodeError
from userman.radius.packet import (
    Code,
    build,
    decode,
    encode,
    verify_message_authenticator,
    verify_response_authenticator,
)

IDENTIFIERS = 256
MAX_IN_FLIGHT = 192  # leaves 64 identifiers resting between uses
SAMPLE_EVERY = 1024  # every n-th Accept is decoded whole and its reply attributes checked
_clock = time.perf_counter


@dataclass
class Result:
    """One run, as the generator saw it. `answered` and `latencies` count the correct answers
    received inside the measured window; `wrong` counts every wrong answer by its reason."""

    window: float = 0.0
    answered: int = 0
    latencies: list[float] = field(default_factory=list)
    sent: int = 0
    timeouts: int = 0
    late: int = 0
    behind: int = 0  # open loop: requests due that found no free identifier
    refused: int = 0  # ICMP port unreachable: nothing listens on the server's port
    wrong: Counter[str] = field(default_factory=Counter)
    probes: list[Any] = field(default_factory=list)  # `probe()` at the window's start and end
    finished: bool = True  # a finite flow was done before the limit

    @property
    def rate(self) -> float:
        return self.answered / self.window if self.window > 0 else 0.0

    def percentile(self, fraction: float) -> float | None:
        """The latency (seconds) below which `fraction` of the answers came; None if none."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def check(data: bytes, expect: Expect, sample: bool) -> str | None:
    """Why `data` is not the answer `expect` describes; None when it is."""
    if data[0] != expect.code:
        try:
            return Code(data[0]).name
        except ValueError:
            return f"code {data[0]}"
    if not verify_response_authenticator(data, SECRET, expect.authenticator):
        return "Response Authenticator"
    if verify_message_authenticator(data, SECRET, expect.authenticator) is False:
        return "Message-Authenticator"
    if expect.needle is not None and expect.needle not in data[20:]:
        return "MS-CHAP2-Success"
    if sample and expect.code == Code.ACCESS_ACCEPT:
        try:
            reply = decode(data, D, secret=SECRET, request_authenticator=expect.authenticator)
        except DecodeError:
            return "undecodable Accept"
        if reply.get("Mikrotik-Rate-Limit") != RATE_LIMIT:
            return "Mikrotik-Rate-Limit"
        if reply.get("Acct-Interim-Interval") != INTERIM_SECONDS:
            return "Acct-Interim-Interval"
    return None


def drive(
    flow: Flow,
    addresses: Sequence[tuple[str, int]],
    *,
    in_flight: int = 64,
    seconds: float | None = 8.0,
    warmup: float = 0.5,
    rate: float | None = None,
    timeout: float = 3.0,
    limit: float = 600.0,
    probe: Callable[[], Any] | None = None,
    sources: int = 1,
) -> Result:
    """Send `flow` to `addresses` (the auth and the accounting port) and verify the answers.

    Closed loop: `in_flight` requests always outstanding. Open loop (`rate`): requests sent at
    that rate whatever the answers; one due while MAX_IN_FLIGHT are outstanding is skipped and
    counted as `behind`. A steady flow runs `warmup`, then the measured `seconds`; a finite one
    (`seconds=None`) is measured from its first request to its last answer. Either stops at
    `limit` seconds. Answers still due at the end are awaited up to `timeout` seconds and
    verified, but not counted. `probe()` is called as the window opens and as it closes.
    `sources` sockets (source ports) send to each address, taking turns by identifier, as
    several routers would: `serve --workers N` spreads its load by source port.
    """
    if not 0 < in_flight <= MAX_IN_FLIGHT:
        raise ValueError(f"in_flight must be 1..{MAX_IN_FLIGHT}")
    run = _Run(flow, addresses, timeout, in_flight if rate is None else MAX_IN_FLIGHT, sources)
    result = run.result
    start = _clock()
    finite = seconds is None
    window_start = start if finite else start + warmup
    window_end = min(math.inf if seconds is None else window_start + seconds, start + limit)
    opened = False
    scheduled = 0
    try:
        while True:
            now = _clock()
            if not opened and now >= window_start:
                opened = True
                if probe is not None:
                    result.probes.append(probe())
            if now >= window_end or (finite and flow.done() and not run.outstanding):
                break
            if rate is None:
                while run.send(now):
                    pass
            else:
                # Answers first: after a stall they free the identifiers the due requests need.
                run.receive(0.0, window_start, window_end, refill=False)
                due = int((now - start) * rate) - scheduled
                scheduled += max(0, due)
                result.behind += sum(not run.send(now) for _ in range(due))
            run.sweep(now)
            wait = 0.02
            if rate is not None:  # until the next request is due (epoll counts milliseconds)
                wait = min(wait, max(0.0, start + (scheduled + 1) / rate - _clock() - 0.001))
            run.receive(wait, window_start, window_end, refill=rate is None)
        end = _clock()
        if probe is not None:
            result.probes.append(probe())
        result.finished = not finite or flow.done()
        result.window = run.last_answer if finite and result.finished else min(end, window_end)
        result.window -= window_start
        drain_until = end + timeout
        while run.outstanding and _clock() < drain_until:
            run.receive(0.02, window_start, window_end, refill=False)
            run.sweep(_clock())
    finally:
        run.close()
    result.timeouts += run.outstanding
    return result


class _Run:
    """The sockets, the identifiers in use and the counts of one `drive`."""

    def __init__(
        self,
        flow: Flow,
        addresses: Sequence[tuple[str, int]],
        timeout: float,
        in_flight: int,
        sources: int = 1,
    ) -> None:
        self.flow = flow
        self.timeout = timeout
        self.in_flight = in_flight
        self.result = Result()
        self.sockets: list[socket.socket] = []
        self.poller = select.epoll()
        self.channels: dict[int, tuple[socket.socket, int]] = {}
        self.senders: list[list[socket.socket]] = []  # per channel, its `sources` sockets
        for channel, address in enumerate(addresses):
            self.senders.append([])
            for _ in range(sources):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
                sock.connect(address)
                sock.setblocking(False)
                self.poller.register(sock.fileno(), select.EPOLLIN)
                self.sockets.append(sock)
                self.senders[channel].append(sock)
                self.channels[sock.fileno()] = (sock, channel)
        self.pending: list[tuple[float, Expect] | None] = [None] * IDENTIFIERS
        self.free = deque(range(IDENTIFIERS))
        self.resting: deque[tuple[float, int]] = deque()
        self.outstanding = 0
        self.accepts = 0
        self.last_answer = _clock()
        self.next_sweep = self.last_answer + 0.1

    def close(self) -> None:
        self.poller.close()
        for sock in self.sockets:
            sock.close()

    def send(self, now: float) -> bool:
        """Send the flow's next request; False if no identifier is free or nothing is due."""
        if not self.free or self.outstanding >= self.in_flight:
            return False
        ident = self.free[0]
        made = self.flow.next(ident, time.time())
        if made is None:
            return False
        self.free.popleft()
        data, expect = made
        try:
            senders = self.senders[expect.channel]
            senders[ident % len(senders)].send(data)
        except OSError:  # the server's port is closed (ICMP): the request will time out
            self.result.refused += 1
        self.pending[ident] = (now, expect)
        self.outstanding += 1
        self.result.sent += 1
        return True

    def sweep(self, now: float) -> None:
        """Count the requests unanswered for `timeout` seconds; rest their identifiers for as
        long again, so that a late answer is not taken for a newer request's."""
        if now < self.next_sweep:
            return
        self.next_sweep = now + 0.1
        for ident, entry in enumerate(self.pending):
            if entry is not None and now - entry[0] > self.timeout:
                self.pending[ident] = None
                self.outstanding -= 1
                self.result.timeouts += 1
                self.resting.append((now + self.timeout, ident))
                self.flow.answered(entry[1], False)
        while self.resting and self.resting[0][0] <= now:
            self.free.append(self.resting.popleft()[1])

    def receive(self, wait: float, window_start: float, window_end: float, refill: bool) -> None:
        """Take the answers that have arrived (waiting up to `wait` seconds for the first), at
        most IDENTIFIERS from each socket, so that the caller's clock checks come round."""
        result, pending, flow = self.result, self.pending, self.flow
        for fd, _ in self.poller.poll(wait):
            sock, channel = self.channels[fd]
            for _ in range(IDENTIFIERS):
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    break
                except OSError:  # an ICMP error for an earlier request: the server is gone
                    result.refused += 1
                    continue
                now = _clock()
                if len(data) < 20:
                    result.wrong["short packet"] += 1
                    continue
                entry = pending[data[1]]
                if entry is None or entry[1].channel != channel:
                    result.late += 1
                    continue
                pending[data[1]] = None
                self.free.append(data[1])
                self.outstanding -= 1
                sent_at, expect = entry
                sample = False
                if expect.code == Code.ACCESS_ACCEPT:
                    self.accepts += 1
                    sample = self.accepts % SAMPLE_EVERY == 1
                reason = check(data, expect, sample)
                flow.answered(expect, reason is None)
                if reason is not None:
                    result.wrong[reason] += 1
                elif window_start <= now <= window_end:
                    result.answered += 1
                    result.latencies.append(now - sent_at)
                    self.last_answer = now
                if refill and now < window_end:
                    self.send(now)


def status_server(address: tuple[str, int], *, wait: float) -> bool:
    """Whether the server at `address` answers a Status-Server (RFC 5997, with its
    Message-Authenticator) within `wait` seconds; asks again every 0.2 s."""
    deadline = _clock() + wait
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        ident = 0
        while _clock() < deadline:
            ident = (ident + 1) % 256
            authenticator = bytes((ident + i) % 256 for i in range(16))
            pkt = build(D, Code.STATUS_SERVER, ident, authenticator, [("NAS-Identifier", "bench")])
            try:
                sock.send(encode(pkt, SECRET, message_authenticator=True))
                sock.settimeout(max(0.01, min(0.2, deadline - _clock())))
                data = sock.recv(4096)
            except (TimeoutError, ConnectionRefusedError):
                time.sleep(max(0.0, min(0.2, deadline - _clock())))
                continue
            if len(data) >= 20 and data[1] == ident:
                return verify_response_authenticator(data, SECRET, authenticator)
    return False


# --- the null responder --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NullReplies:
    """The null responder's answers: an Accept like userman's (its reply attributes and a
    Message-Authenticator), an Accounting-Response, and per user name an Accept that also
    carries that user's MS-CHAP2-Success (MS-CHAPv2 requests are recognised by it)."""

    accept: Template
    accounting: Template
    mschap: dict[bytes, Template]


def null_replies(successes: dict[bytes, bytes]) -> NullReplies:
    """From `successes` (user name -> the MS-CHAP2-Success value the Accept must carry)."""
    reply = [("Mikrotik-Rate-Limit", RATE_LIMIT), ("Acct-Interim-Interval", INTERIM_SECONDS)]
    accept = template(Code.ACCESS_ACCEPT, reply, message_authenticator=True)
    mschap = {
        name: template(
            Code.ACCESS_ACCEPT, [*reply, ("MS-CHAP2-Success", value)], message_authenticator=True
        )
        for name, value in successes.items()
    }
    return NullReplies(accept, template(Code.ACCOUNTING_RESPONSE, []), mschap)


def null_responder(
    sockets: Sequence[socket.socket],
    replies: NullReplies,
    running: Callable[[], bool] = lambda: True,
) -> None:
    """Answer every request on `sockets` correctly and do nothing else, while `running()`."""
    poller = select.epoll()
    by_fd = {sock.fileno(): sock for sock in sockets}
    for sock in sockets:
        sock.setblocking(False)
        poller.register(sock.fileno(), select.EPOLLIN)
    with poller:
        while running():
            for fd, _ in poller.poll(0.05):
                _answer_all(by_fd[fd], replies)


def _answer_all(sock: socket.socket, replies: NullReplies) -> None:
    while True:
        try:
            data, peer = sock.recvfrom(4096)
        except BlockingIOError:
            return
        if len(data) < 20:
            continue
        if data[0] == Code.ACCOUNTING_REQUEST:
            tpl = replies.accounting
        else:
            tpl = replies.mschap.get(_user_name(data), replies.accept)
        buf = bytearray(tpl.data)
        buf[1] = data[1]
        sock.sendto(sign_response(buf, tpl, data[4:20]), peer)


def _user_name(data: bytes) -> bytes:
    at = 20
    while at + 2 <= len(data):
        if data[at] == 1:
            return data[at + 2 : at + data[at + 1]]
        at += max(2, data[at + 1])
    return b""


def main() -> None:
    """`python bench/loadgen.py null --auth-port A --acct-port B --users N`: the null
    responder as a process of its own, knowing the users' MS-CHAP2-Success values."""
    parser = argparse.ArgumentParser(description="The null responder")
    parser.add_argument("role", choices=["null"])
    parser.add_argument("--auth-port", type=int, required=True)
    parser.add_argument("--acct-port", type=int, required=True)
    parser.add_argument("--users", type=int, required=True)
    args = parser.parse_args()
    logins = {user_name(n).encode(): mschap_v2_login(n).success[2:] for n in range(args.users)}
    sockets = []
    for port in (args.auth_port, args.acct_port):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", port))
        sockets.append(sock)
    null_responder(sockets, null_replies(logins))


if __name__ == "__main__":
    main()
