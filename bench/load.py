"""What the server benchmarks share: a transport that only counts the answers, and
Accounting-Requests for many sessions (each one's Start, then its Interim-Updates)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from userman.radius.dictionary import default_dictionary
from userman.radius.packet import Code, build, encode

SECRET = b"12345"
ROUNDS = 4  # a Start and three Interim-Updates per session
D = default_dictionary()


class CountingTransport(asyncio.DatagramTransport):
    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def sendto(self, data: bytes, addr: Any = None) -> None:
        self.sent += 1


def accounting_packets(count: int, users: int = 50) -> list[bytes]:
    """`count` Accounting-Requests of `users` users: each session's Start, then its
    Interim-Updates, interleaved."""
    prefix = uuid.uuid4().hex[:8]
    sessions = max(1, count // ROUNDS)
    out: list[bytes] = []
    for round_ in range(ROUNDS):
        for n in range(sessions):
            attributes: list[tuple[str, object]] = [
                ("User-Name", f"user{n % users}"),
                ("Acct-Session-Id", f"{prefix}-{n}"),
                ("Acct-Status-Type", "Start" if round_ == 0 else "Interim-Update"),
                ("Acct-Session-Time", 60 * round_),
                ("Acct-Input-Octets", 1000 * round_),
                ("Acct-Output-Octets", 2000 * round_),
            ]
            pkt = build(D, Code.ACCOUNTING_REQUEST, len(out) % 256, bytes(16), attributes)
            out.append(encode(pkt, SECRET))
    return out[:count]
