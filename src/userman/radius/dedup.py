"""The duplicate detection cache of RFC 5080 section 2.2.2: a retransmission is decided once.

Owns what makes two requests the same (client address and port, Code, Identifier, Request
Authenticator), the replies kept for them, for how long and how many. It never reads the clock:
every call takes `now`, monotonic seconds chosen by the caller. Knows no sockets and no packets
beyond the header of the request it is given.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

__all__ = [
    "DEFAULT_CAPACITY",
    "DEFAULT_LIFETIME",
    "DuplicateCache",
    "RequestKey",
    "Seen",
    "Status",
    "request_key",
]

# RFC 5080 2.2.2: a reply is kept at least as long as the client may retransmit the request.
# The retransmission timers of RFC 5080 2.2.1 give up after a maximum duration of 30 seconds.
DEFAULT_LIFETIME = 30.0
DEFAULT_CAPACITY = 65536
_HEADER = 20  # RFC 2865 section 3: Code, Identifier, Length, Authenticator


class RequestKey(NamedTuple):
    """What identifies one request, and every retransmission of it.

    https://www.rfc-editor.org/rfc/rfc5080#section-2.2.2: source address, source port,
    Identifier and Request Authenticator, and the Code besides. A client picks a new random
    Request Authenticator for each new Access-Request (RFC 2865 3); that of an
    Accounting-Request is an MD5 over the packet (RFC 2866 3), so it tells requests apart too.
    `accounting`: which of the server's ports it reached. One cache serves both: a
    Status-Server to the accounting port is another request than the same to the
    authentication port, and gets its own reply (RFC 5997 3).
    """

    address: str
    port: int
    code: int
    identifier: int
    authenticator: bytes
    accounting: bool = False


def request_key(
    data: bytes, address: str, port: int, *, accounting: bool = False
) -> RequestKey | None:
    """The key of the request in `data` from `address`:`port` to the authentication port
    (`accounting`: the accounting port); None when it has no header."""
    if len(data) < _HEADER:
        return None
    return RequestKey(address, port, data[0], data[1], bytes(data[4:_HEADER]), accounting)


class Status(Enum):
    """What the cache knows of a request."""

    NEW = "new"  # not seen: decide it, then `finish` (or `forget`) it
    IN_PROGRESS = "in-progress"  # the first copy is still being decided: drop this one
    ANSWERED = "answered"  # already answered: send the same reply again


@dataclass(frozen=True, slots=True)
class Seen:
    """The answer of `DuplicateCache.check`: the status, and the reply when ANSWERED."""

    status: Status
    reply: bytes | None = None


_NEW = Seen(Status.NEW)
_IN_PROGRESS = Seen(Status.IN_PROGRESS)


@dataclass(slots=True)
class _Entry:
    expires: float
    reply: bytes | None  # None while the request is in progress


class DuplicateCache:
    """Requests in progress and the replies sent, each kept `lifetime` seconds after it was
    last touched, at most `capacity` of them (the oldest goes first).

    The caller `check`s every request before deciding it. On NEW the request is marked in
    progress, and the caller must `finish` it with the reply it sent, or `forget` it when it
    sent none (a request dropped for a bad authenticator is not remembered: a later copy is
    checked afresh). An entry in progress for longer than `lifetime` expires like any other,
    so a decision that never finishes cannot pin its key.
    """

    def __init__(
        self, lifetime: float = DEFAULT_LIFETIME, capacity: int = DEFAULT_CAPACITY
    ) -> None:
        if lifetime <= 0:
            raise ValueError(f"lifetime must be positive, not {lifetime}")
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self.lifetime = lifetime
        self.capacity = capacity
        # Ordered by expiry: every write moves its entry to the end with now + lifetime.
        self._entries: OrderedDict[RequestKey, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def check(self, key: RequestKey, now: float) -> Seen:
        """Whether `key` was seen; when not, it is now in progress."""
        self.expire(now)
        entry = self._entries.get(key)
        if entry is not None:
            if entry.reply is None:
                return _IN_PROGRESS
            return Seen(Status.ANSWERED, entry.reply)
        self._store(key, None, now)
        return _NEW

    def finish(self, key: RequestKey, reply: bytes, now: float) -> None:
        """Remember the `reply` sent to `key`, to send it again to a retransmission."""
        self.expire(now)
        entry = self._entries.get(key)
        if entry is None:
            self._store(key, reply, now)
        else:  # the usual case: the entry `check` made, kept and moved to the end
            entry.expires = now + self.lifetime
            entry.reply = reply
            self._entries.move_to_end(key)

    def forget(self, key: RequestKey, now: float) -> None:
        """Drop what is known of `key` (a request answered with nothing)."""
        self._entries.pop(key, None)
        self.expire(now)

    def expire(self, now: float) -> None:
        """Drop the entries whose time is up."""
        entries = self._entries
        while entries:
            key = next(iter(entries))
            if entries[key].expires > now:
                return
            del entries[key]

    def _store(self, key: RequestKey, reply: bytes | None, now: float) -> None:
        """Add `key`, which the cache does not hold: at the end, the last to expire."""
        self._entries[key] = _Entry(now + self.lifetime, reply)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
