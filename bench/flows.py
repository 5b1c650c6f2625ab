"""The load generator's flows: what to send next, and what to do with each answer.

Steady access (every user in turn, without end), accounting sessions (Start, Interim-Updates,
Stop, session after session) and the log-on storm (a router's Accounting-On, then all its users
at once, each Accept followed by an Accounting-Start). They know no sockets and no clock: the
generator passes the wall-clock time for Event-Timestamp.
"""

from __future__ import annotations

import os
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from packets import STATUS_ROUNDS, AccessRequests, AccountingRequests, Expect, Usage


class Flow:
    """What to send next. `next` returns None when nothing is to be sent now; `answered` hears
    each answer (ok or not); `done` says a finite flow has nothing left."""

    def next(self, ident: int, now: float) -> tuple[bytes, Expect] | None:
        raise NotImplementedError

    def answered(self, expect: Expect, ok: bool) -> None:
        return None

    def done(self) -> bool:
        return False


def shuffled(users: int, seed: int) -> list[int]:
    """Every user once, in an order that favours no cache."""
    order = list(range(users))
    random.Random(seed).shuffle(order)
    return order


class SteadyAccess(Flow):
    """Access-Requests without end, every user in turn (a shuffled order, then again)."""

    def __init__(self, requests: AccessRequests, order: Sequence[int], start: int = 0) -> None:
        self.requests = requests
        self.order = order
        self.at = start % len(order)

    def next(self, ident: int, now: float) -> tuple[bytes, Expect] | None:
        n = self.order[self.at]
        self.at = (self.at + 1) % len(self.order)
        return self.requests.make(ident, n)


@dataclass(slots=True)
class _Session:
    user: int
    id: str
    address: int  # its Framed-IP-Address
    round: int = 0


class AccountingSessions(Flow):
    """Accounting without end: `open_sessions` sessions at a time, each sending Start, two
    Interim-Updates and Stop (25/50/25 % once all have started), then replaced by a new one
    of the next user. Sessions take turns, so a session's requests are `open_sessions`
    requests apart: never in flight together, always in order."""

    def __init__(
        self,
        requests: AccountingRequests,
        order: Sequence[int],
        start: int = 0,
        open_sessions: int = 256,
    ) -> None:
        self.requests = requests
        self.order = order
        self.prefix = os.urandom(4).hex()  # a run's sessions are new to the server
        self.count = start
        self.sessions: deque[_Session] = deque(self._new() for _ in range(open_sessions))

    def _new(self) -> _Session:
        user = self.order[self.count % len(self.order)]
        self.count += 1
        return _Session(user, f"{self.prefix}{self.count:08x}", 0x0A000000 + self.count % 0xFFFFFF)

    def next(self, ident: int, now: float) -> tuple[bytes, Expect] | None:
        session = self.sessions.popleft()
        status = STATUS_ROUNDS[session.round]
        seconds = 60 * session.round
        usage = Usage(
            port=session.user % 65536,
            address=session.address,
            timestamp=int(now),
            session_time=seconds,
            input_octets=1_000_000 * session.round,
            output_octets=9_000_000 * session.round,
            input_packets=1_000 * session.round,
            output_packets=7_000 * session.round,
        )
        made = self.requests.make(ident, status, session.user, session.id, usage)
        session.round += 1
        self.sessions.append(session if session.round < len(STATUS_ROUNDS) else self._new())
        return made


@dataclass
class LogOnStorm(Flow):
    """All users of the router at once after it restarts: its Accounting-On first (answered
    before anything else), then every user's Access-Request, and each Accept followed by that
    user's Accounting-Start. Done when every user has been answered both, or has failed."""

    access: AccessRequests
    accounting: AccountingRequests
    order: Sequence[int]
    at: int = -1  # -1: the Accounting-On is yet to be sent
    on_answered: bool = False
    starts: deque[int] = field(default_factory=deque)
    outstanding: int = 0
    logged_on: int = 0
    failed: int = 0  # users whose Access-Request or Start got no right answer
    prefix: str = field(default_factory=lambda: os.urandom(4).hex())

    def next(self, ident: int, now: float) -> tuple[bytes, Expect] | None:
        usage = Usage(port=0, address=0x0A000000, timestamp=int(now))
        if self.at < 0:
            self.at = 0
            self.outstanding += 1
            return self.accounting.make(ident, "Accounting-On", -1, f"{self.prefix}-on-0000", usage)
        if not self.on_answered:
            return None
        if self.starts:
            n = self.starts.popleft()
            self.outstanding += 1
            usage = Usage(port=n % 65536, address=0x0A000000 + n, timestamp=int(now))
            return self.accounting.make(ident, "Start", n, f"{self.prefix}{n:08x}", usage)
        if self.at < len(self.order):
            n = self.order[self.at]
            self.at += 1
            self.outstanding += 1
            data, expect = self.access.make(ident, n)
            expect.follow = True
            return data, expect
        return None

    def answered(self, expect: Expect, ok: bool) -> None:
        self.outstanding -= 1
        if expect.user < 0:  # the Accounting-On
            self.on_answered = True
        elif expect.follow and ok:
            self.starts.append(expect.user)
        elif ok:
            self.logged_on += 1
        else:
            self.failed += 1

    def done(self) -> bool:
        return (
            self.on_answered
            and self.at >= len(self.order)
            and not self.starts
            and not self.outstanding
        )
