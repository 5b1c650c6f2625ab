"""Limits during a session: what an open session must be told when time passes or limits change.

`fingerprint()` names what an access decision lets the user do (the running profile, its
limitations and their windows, the reply attributes that do not count down by themselves);
the services keep it on each open session and compare it with a fresh decision's: a change
calls for a CoA-Request with `coa_reply()`, a reject for a Disconnect-Request. `next_change()`
says when to ask again. Pure: no store, no clock, no sockets.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import json

from userman.core.authorize import CustomAttribute, Decision, UserFacts
from userman.core.limits import MAX_SESSION_TIMEOUT, applicable, applicable_until
from userman.core.profiles import select_profile

__all__ = ["COUNTING_DOWN", "coa_reply", "fingerprint", "next_change"]

# Reply attributes whose value is a count of what is left at the moment of the decision: a
# later decision differs in them without anything having changed. They are sent in a CoA, never
# compared. Class and the password method's attributes belong to the logon, not to a CoA.
COUNTING_DOWN = frozenset(
    {
        "Session-Timeout",
        "Mikrotik-Recv-Limit",
        "Mikrotik-Recv-Limit-Gigawords",
        "Mikrotik-Xmit-Limit",
        "Mikrotik-Xmit-Limit-Gigawords",
        "Mikrotik-Total-Limit",
        "Mikrotik-Total-Limit-Gigawords",
    }
)
NOT_IN_COA = frozenset(
    {
        "Class",
        "Framed-IP-Address",  # names the session in a CoA; an open session keeps its address
        "MS-CHAP-MPPE-Keys",
        "MS-CHAP2-Success",
        "MS-MPPE-Recv-Key",
        "MS-MPPE-Send-Key",
        "MS-MPPE-Encryption-Policy",
        "MS-MPPE-Encryption-Types",
    }
)


def _name(attribute: str | CustomAttribute) -> str:
    return attribute if isinstance(attribute, str) else attribute.name


def _plain(value: object) -> object:
    """`value` as JSON the same in every process (sets sorted, no hash order)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [_plain(getattr(value, f.name)) for f in dataclasses.fields(value)]
    if isinstance(value, frozenset | set):
        return sorted((_plain(item) for item in value), key=repr)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def fingerprint(facts: UserFacts, decision: Decision, now: dt.datetime) -> str:
    """What an accepting `decision` lets the user do, as a short digest; "" for a reject.

    Two decisions with the same fingerprint need no CoA between them: the same running profile
    entry, the same limitations (quotas, rates, windows) with the same ones applying, and the
    same reply attributes apart from those that count down (COUNTING_DOWN).
    """
    if not decision.accept:
        return ""
    running = select_profile(facts.profiles, now).running
    limitations = [limitation for limitation, _ in facts.limits]
    applying = applicable(limitations, now, facts.time_zone)
    stable = [
        [_plain(name), _plain(value)]
        for name, value in decision.reply
        if _name(name) not in COUNTING_DOWN | NOT_IN_COA
    ]
    what = [
        None if running is None else [running.id, _plain(running.end_time)],
        _plain(limitations),
        [limitation.name for limitation in applying],
        stable,
    ]
    text = json.dumps(what, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def coa_reply(decision: Decision, elapsed: int) -> list[tuple[str, str]]:
    """The attributes of a CoA-Request that brings an open session to `decision`, as
    (dictionary name, value text); the caller adds those naming the session (RFC 5176 3).

    Session-Timeout counts, as in the Access-Accept (RFC 2865 5.27), the whole session: the
    `elapsed` seconds since it started plus what the decision leaves from now. The attribute
    menu's custom attributes have no dictionary name and are left out.
    """
    pairs: list[tuple[str, str]] = []
    for name, value in decision.reply:
        if not isinstance(name, str) or name in NOT_IN_COA:
            continue
        if name == "Session-Timeout" and isinstance(value, int):
            pairs.append((name, str(min(value + max(elapsed, 0), MAX_SESSION_TIMEOUT))))
        else:
            pairs.append((name, str(_plain(value))))
    return pairs


def next_change(facts: UserFacts, now: dt.datetime) -> dt.datetime | None:
    """When the decision for the user may next change by time alone: the running profile's end
    or the next window boundary of its limitations. None: not by time."""
    running = select_profile(facts.profiles, now).running
    moments = [] if running is None or running.end_time is None else [running.end_time]
    limitations = [limitation for limitation, _ in facts.limits]
    boundary = applicable_until(limitations, now, facts.time_zone)
    if boundary is not None:
        moments.append(boundary)
    return min(moments, default=None)
