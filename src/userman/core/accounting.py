"""Accounting records and how each one changes a session, as a table; pure.

RFC 2866 5.1 gives Acct-Status-Type; a record changes the session that the router and its
Acct-Session-Id name. `apply()` returns the session's new state: Start opens it, Interim-Update
updates it (creating it when its Start was lost), Stop closes it for good. Counters are 64-bit:
octets plus 2**32 times the Gigawords (RFC 2869 5.1-5.2). Acct-Input is the user's upload.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from enum import Enum

from userman.core.context import RequestContext

__all__ = ["CLOSE_ACKED", "AccountingRecord", "AcctStatus", "SessionState", "apply", "octets"]


class AcctStatus(Enum):
    """Acct-Status-Type values, RFC 2866 5.1 and RFC 2866 Accounting-On/Off."""

    START = 1
    STOP = 2
    INTERIM_UPDATE = 3
    ACCOUNTING_ON = 7
    ACCOUNTING_OFF = 8


def octets(low: int | None, gigawords: int | None) -> int:
    return (gigawords or 0) * 2**32 + (low or 0)


@dataclass(frozen=True, slots=True)
class AccountingRecord:
    status: AcctStatus
    acct_session_id: str
    username: str
    session_time: int = 0  # Acct-Session-Time, seconds
    upload: int = 0  # Acct-Input-Octets (+ Gigawords): from the user
    download: int = 0  # Acct-Output-Octets (+ Gigawords): to the user
    terminate_cause: str = ""  # the Acct-Terminate-Cause VALUE name in lower case
    context: RequestContext = field(default_factory=RequestContext)
    delay: int = 0  # Acct-Delay-Time: seconds the router held the record (RFC 2866 5.2)
    event_time: dt.datetime | None = None  # Event-Timestamp (RFC 2869 5.3)
    user_id: int | None = None  # from the Class userman sent in the Access-Accept

    def occurred(self, received: dt.datetime) -> dt.datetime:
        """When the event happened: the router's Event-Timestamp, else the time the record
        arrived less its Acct-Delay-Time; never later than its arrival (a router's clock may
        run ahead)."""
        if self.event_time is not None:
            return min(self.event_time, received)
        return received - dt.timedelta(seconds=max(self.delay, 0))


@dataclass(frozen=True, slots=True)
class SessionState:
    """A session as stored: what the manual's `session print` shows."""

    acct_session_id: str
    username: str
    status: frozenset[str]
    from_time: dt.datetime
    till_time: dt.datetime
    uptime: int
    download: int
    upload: int
    active: bool
    terminate_cause: str = ""


# The status word of a session whose router acknowledged a Disconnect-Request (v7 shows it).
CLOSE_ACKED = "close-acked"

# (has an open session?, status) -> the status word the session's `status` set gains.
TRANSITIONS: dict[tuple[bool, AcctStatus], str] = {
    (False, AcctStatus.START): "start",
    (True, AcctStatus.START): "start",  # a repeated Start: the caller closed the old one
    (False, AcctStatus.INTERIM_UPDATE): "interim",  # its Start was lost: create it
    (True, AcctStatus.INTERIM_UPDATE): "interim",
    (False, AcctStatus.STOP): "stop",  # only a Stop arrived: record the whole session
    (True, AcctStatus.STOP): "stop",
}


def apply(current: SessionState | None, record: AccountingRecord, now: dt.datetime) -> SessionState:
    """The session after `record`; `current` is the open session it updates, if any."""
    word = TRANSITIONS[(current is not None, record.status)]
    if current is None or record.status is AcctStatus.START:
        start = now - dt.timedelta(seconds=record.session_time)
        current = SessionState(
            record.acct_session_id, record.username, frozenset(), start, now, 0, 0, 0, True
        )
    status = current.status | {word}
    # A session its router acknowledged ending (Disconnect-ACK, RFC 5176) stays closed, with
    # userman's terminate-cause, whatever the router reports of it afterwards.
    closed = CLOSE_ACKED in current.status
    # Counters only grow: a retransmitted or reordered older update never lowers them, and a
    # late Interim-Update after the Stop does not reopen the session.
    return replace(
        current,
        status=status,
        till_time=max(now, current.till_time),
        uptime=max(record.session_time, current.uptime),
        download=max(record.download, current.download),
        upload=max(record.upload, current.upload),
        active="stop" not in status and not closed,
        terminate_cause=current.terminate_cause
        if closed
        else record.terminate_cause or current.terminate_cause,
    )
