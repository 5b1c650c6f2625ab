"""The limitation rules: which limitations apply now, counter periods, what is left, the reply.

Owns `LimitationFacts` (a limitation's columns plus the windows its profile-limitation rows
give it), `Usage`, `Remaining`, the `Limit` that ran out, the reset-counters periods, the
Mikrotik-*-Limit reply attributes and the Session-Timeout choice. Pure: the caller loads the
facts and the usage counted since `counting_period_start`, passes `now`, and builds the reply.
Knows nothing of storage, profiles' queue or passwords.

Rules (manual "Profile limitations"; research 1.4, 1.5, 2.5, 4.3-4.4 and 5):
- A limitation applies to a profile only through profile-limitation rows, so facts with no
  `windows` never apply; a profile with no rows at all has no limits and is always allowed; a
  profile with rows of which none is open now refuses access (research 4.3 step 5, "internet
  only 07:00-16:00"; `outside_windows`).
- All applicable limitations must hold at once (research 5): every quota is checked and the
  least remaining of each kind is what the reply carries (`strictest`).
- Quantities are bytes and seconds; 0 in a limit column means "no limit" (None here).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from userman.core.errors import InvalidValueError
from userman.core.values import parse_duration
from userman.core.windows import Window, contains, next_boundary, to_instant

__all__ = [
    "MAX_SESSION_TIMEOUT",
    "Limit",
    "LimitationFacts",
    "Remaining",
    "ResetInterval",
    "Usage",
    "applicable",
    "applicable_until",
    "counting_period_start",
    "covered_until",
    "exhausted",
    "next_counting_period_start",
    "outside_windows",
    "parse_reset_interval",
    "remaining",
    "reply_limits",
    "seconds_until",
    "session_timeout",
    "strictest",
]

# RouterOS v7 caps Session-Timeout at 21474720 s (about 248 days, research 4.4 [S2]); a longer
# session simply re-authenticates then, so the cap only ever shortens a session.
MAX_SESSION_TIMEOUT = 21_474_720
_GIGAWORD = 2**32
_UTC = dt.UTC
# v7's reset-counters-start-time default (research 2.5).
_EPOCH = dt.datetime(1970, 1, 1)


class ResetInterval(Enum):
    """reset-counters-interval (v7 limitation; research 2.5). Legacy User Manager has no reset:
    its quotas are lifetime ones, as DISABLED is."""

    DISABLED = "disabled"
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


def parse_reset_interval(
    text: str, prop: str = "reset-counters-interval"
) -> ResetInterval | dt.timedelta:
    """`disabled|hourly|daily|weekly|monthly`, or any RouterOS time (`12h`, `3d`), which v7's
    CLI also accepts (research 2.5 [S3]) and which counts as a fixed period."""
    raw = text.strip().lower()
    try:
        return ResetInterval(raw)
    except ValueError:
        period = parse_duration(raw, prop)
    if period <= dt.timedelta(0):
        raise InvalidValueError(prop, f'"{text}" is not a period longer than 0s')
    return period


class Limit(Enum):
    """The quota that ran out, for the reject reason and the log; checked in this order."""

    UPTIME = "uptime"
    DOWNLOAD = "download"
    UPLOAD = "upload"
    TRANSFER = "transfer"


@dataclass(frozen=True, slots=True)
class LimitationFacts:
    """One limitation of the running profile: the `limitation` columns (bytes, seconds, bits/s;
    0 = none) and the windows of the profile-limitation rows that bind it to the profile."""

    name: str = ""
    download_limit: int = 0  # bytes the user may download (the NAS transmits)
    upload_limit: int = 0  # bytes the user may upload (the NAS receives)
    transfer_limit: int = 0  # download + upload
    uptime_limit: int = 0  # seconds online
    # Rates from the NAS's point of view: rx is the user's upload, tx the user's download.
    rate_limit_rx: int = 0
    rate_limit_tx: int = 0
    rate_limit_burst_rx: int = 0
    rate_limit_burst_tx: int = 0
    rate_limit_burst_threshold_rx: int = 0
    rate_limit_burst_threshold_tx: int = 0
    rate_limit_burst_time_rx: int = 0  # seconds
    rate_limit_burst_time_tx: int = 0
    rate_limit_min_rx: int = 0
    rate_limit_min_tx: int = 0
    rate_limit_priority: int = 0  # 1..8; 0: not set
    group_name: str = ""
    ip_pool: str = ""
    ip_pool6: str = ""
    address_list: str = ""
    reset_counters_interval: ResetInterval | dt.timedelta = ResetInterval.DISABLED
    reset_counters_start_time: dt.datetime | None = None
    windows: tuple[Window, ...] = ()


@dataclass(frozen=True, slots=True)
class Usage:
    """What counts against a limitation: seconds online and bytes the user moved, since the
    limitation's `counting_period_start` (the caller's to sum; lifetime when it is None)."""

    uptime: int = 0
    download: int = 0
    upload: int = 0


@dataclass(frozen=True, slots=True)
class Remaining:
    """What is left of each quota (>= 0); None: unlimited."""

    uptime: int | None = None
    download: int | None = None
    upload: int | None = None
    transfer: int | None = None


# -- which limitations apply ------------------------------------------------------------------


def applicable(
    limitations: Iterable[LimitationFacts], now: dt.datetime, tz: dt.tzinfo
) -> tuple[LimitationFacts, ...]:
    """The limitations whose profile-limitation windows contain `now`, in the given order.

    Facts without windows never apply: in User Manager a limitation reaches a profile only
    through profile-limitation rows (research 1.5).
    """
    return tuple(lim for lim in limitations if any(contains(w, now, tz) for w in lim.windows))


def outside_windows(
    limitations: Sequence[LimitationFacts], now: dt.datetime, tz: dt.tzinfo
) -> bool:
    """Whether access is refused for the time of day: the profile has profile-limitation rows
    but none is open at `now` (research 4.3 step 5 [INF]). No rows at all: never refused."""
    if not any(lim.windows for lim in limitations):
        return False
    return not applicable(limitations, now, tz)


def applicable_until(
    limitations: Iterable[LimitationFacts], now: dt.datetime, tz: dt.tzinfo
) -> dt.datetime | None:
    """The first moment after `now` when the set of applicable limitations may change (a window
    opens or closes): a Session-Timeout candidate and the next CoA time. None: never."""
    return next_boundary((w for lim in limitations for w in lim.windows), now, tz)


# Windows repeat weekly: past a week of boundaries that all stay covered, they stay covered.
_COVER_AHEAD = dt.timedelta(days=8)


def covered_until(
    limitations: Sequence[LimitationFacts], now: dt.datetime, tz: dt.tzinfo
) -> dt.datetime | None:
    """The first moment after `now` when none of the windows is open any more: where access
    ends, whichever limitation applies until then (a day window handing over to a night window
    is no end). None: no windows at all, or covered for the week ahead."""
    windows = [w for lim in limitations for w in lim.windows]
    moment: dt.datetime | None = now
    while windows and moment is not None and moment < now + _COVER_AHEAD:
        moment = next_boundary(windows, moment, tz)
        if moment is not None and not applicable(limitations, moment, tz):
            return moment
    return None


# -- counter periods ----------------------------------------------------------------------------


def _local_start(start_time: dt.datetime | None, tz: dt.tzinfo) -> dt.datetime:
    """reset-counters-start-time as a naive wall time in `tz` (a naive value is already one)."""
    if start_time is None:
        return _EPOCH
    if start_time.tzinfo is None:
        return start_time
    return start_time.astimezone(tz).replace(tzinfo=None)


def _add_months(wall: dt.datetime, months: int) -> dt.datetime:
    """`wall` moved by whole months, its day clamped to the month's length (31 -> 30, 28, 29)."""
    index = wall.year * 12 + wall.month - 1 + months
    year, month = divmod(index, 12)
    day = min(wall.day, calendar.monthrange(year, month + 1)[1])
    return wall.replace(year=year, month=month + 1, day=day)


def _period_bounds(
    interval: ResetInterval | dt.timedelta,
    start_time: dt.datetime | None,
    now: dt.datetime,
    tz: dt.tzinfo,
) -> tuple[dt.datetime, dt.datetime] | None:
    if now.tzinfo is None:
        raise ValueError(f"now must be an aware datetime, got {now!r}")
    if interval is ResetInterval.DISABLED:
        return None
    start = _local_start(start_time, tz)
    if isinstance(interval, dt.timedelta) or interval is ResetInterval.HOURLY:
        # Elapsed time, not the wall clock: every period is exactly as long.
        period = interval if isinstance(interval, dt.timedelta) else dt.timedelta(hours=1)
        origin = to_instant(start, tz)
        begin = origin + ((now - origin) // period) * period
        return begin, begin + period

    local_now = now.astimezone(tz).replace(tzinfo=None)

    def boundary(k: int) -> dt.datetime:
        if interval is ResetInterval.MONTHLY:
            # Always counted from the start, so a start on the 31st comes back to the 31st.
            return to_instant(_add_months(start, k), tz)
        days = 7 if interval is ResetInterval.WEEKLY else 1
        return to_instant(start + dt.timedelta(days=days * k), tz)

    if interval is ResetInterval.MONTHLY:
        k = (local_now.year - start.year) * 12 + local_now.month - start.month
    elif interval is ResetInterval.WEEKLY:
        k = (local_now.date() - start.date()).days // 7
    else:
        k = (local_now.date() - start.date()).days
    # The estimate is off by at most one; a DST change at midnight may need one more step.
    while boundary(k) > now:
        k -= 1
    while boundary(k + 1) <= now:
        k += 1
    return boundary(k), boundary(k + 1)


def counting_period_start(
    interval: ResetInterval | dt.timedelta,
    start_time: dt.datetime | None,
    now: dt.datetime,
    tz: dt.tzinfo = _UTC,
) -> dt.datetime | None:
    """When the counters of the period containing `now` were last reset (research 2.5: "clears
    all associated user statistics every interval counted from reset-counters-start-time").

    None for DISABLED: usage is counted over the whole lifetime. Otherwise an aware UTC moment
    `<= now`. The periods are a grid anchored at `start_time` (None: v7's default 1970-01-01
    00:00:00; a naive value is a wall time in `tz`, the customer's zone) reaching both ways, so
    a start in the future still answers. Daily, weekly and monthly resets happen at the start's
    wall-clock time in `tz`, also across daylight saving changes; hourly and fixed periods are
    elapsed time. Monthly: a start on the 29th-31st resets on the last day of shorter months
    (Jan 31 -> Feb 28/29 -> Mar 31) and never drifts.
    """
    bounds = _period_bounds(interval, start_time, now, tz)
    return None if bounds is None else bounds[0]


def next_counting_period_start(
    interval: ResetInterval | dt.timedelta,
    start_time: dt.datetime | None,
    now: dt.datetime,
    tz: dt.tzinfo = _UTC,
) -> dt.datetime | None:
    """The next reset after `now` (when an exhausted user may come back); None: never."""
    bounds = _period_bounds(interval, start_time, now, tz)
    return None if bounds is None else bounds[1]


# -- what is left -------------------------------------------------------------------------------


def _left(limit: int, used: int) -> int | None:
    return None if limit <= 0 else max(limit - used, 0)


def remaining(limitation: LimitationFacts, usage: Usage) -> Remaining:
    """limit - used for each quota the limitation sets, never below 0 (research 4.3 step 6,
    wiki "Limiting": "uptime-left = allowed - used"). `usage` is what the caller counted since
    `counting_period_start` of this limitation."""
    return Remaining(
        uptime=_left(limitation.uptime_limit, usage.uptime),
        download=_left(limitation.download_limit, usage.download),
        upload=_left(limitation.upload_limit, usage.upload),
        transfer=_left(limitation.transfer_limit, usage.download + usage.upload),
    )


def _least(values: Iterable[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def strictest(remainings: Iterable[Remaining]) -> Remaining:
    """All applicable limitations must hold (research 5): the least of each quota; none: all
    unlimited."""
    items = tuple(remainings)
    if len(items) == 1:
        return items[0]  # the common case: one limitation applies
    return Remaining(
        uptime=_least(r.uptime for r in items),
        download=_least(r.download for r in items),
        upload=_least(r.upload for r in items),
        transfer=_least(r.transfer for r in items),
    )


def exhausted(left: Remaining) -> Limit | None:
    """The first used-up quota in `Limit` order (uptime, download, upload, transfer), or None."""
    for limit, value in (
        (Limit.UPTIME, left.uptime),
        (Limit.DOWNLOAD, left.download),
        (Limit.UPLOAD, left.upload),
        (Limit.TRANSFER, left.transfer),
    ):
        if value is not None and value <= 0:
            return limit
    return None


def reply_limits(left: Remaining) -> list[tuple[str, int]]:
    """The byte quotas left as MikroTik reply attributes (research 4.4).

    RouterOS names directions from the NAS's side: Mikrotik-Recv-Limit is what the NAS may
    receive from the user = the user's UPLOAD; Mikrotik-Xmit-Limit is what it may transmit to
    the user = the user's DOWNLOAD; Mikrotik-Total-Limit is both. A value of 2**32 or more is
    split into its low 32 bits and the -Gigawords attribute (sent only when not 0). Unlimited
    quotas send nothing. A used-up quota must be refused with `exhausted` first: 0 would read
    as "no limit" on the NAS, so it is a caller's bug here.
    """
    out: list[tuple[str, int]] = []
    for name, value in (
        ("Mikrotik-Recv-Limit", left.upload),
        ("Mikrotik-Xmit-Limit", left.download),
        ("Mikrotik-Total-Limit", left.transfer),
    ):
        if value is None:
            continue
        if value <= 0:
            raise ValueError(f"{name}: quota used up, refuse the user instead of replying 0")
        gigawords, low = divmod(value, _GIGAWORD)
        out.append((name, low))
        if gigawords:
            out.append((f"{name}-Gigawords", gigawords))
    return out


def seconds_until(moment: dt.datetime, now: dt.datetime) -> int:
    """Whole seconds from `now` to `moment`, rounded up so a session never ends early."""
    delta = moment - now
    whole = delta // dt.timedelta(seconds=1)
    return whole + (1 if delta % dt.timedelta(seconds=1) else 0)


def session_timeout(candidates: Iterable[int | None]) -> int | None:
    """Session-Timeout: the least of the candidates (remaining uptime, seconds to the profile's
    end, seconds until the applicable limitations change; research 4.4 "min of the
    candidates"). None candidates are ignored; all None -> None (no attribute). A candidate
    <= 0 counts as 1 s, the shortest session the NAS can be told; the result is capped at
    MAX_SESSION_TIMEOUT."""
    present = [max(c, 1) for c in candidates if c is not None]
    return min(*present, MAX_SESSION_TIMEOUT) if present else None
