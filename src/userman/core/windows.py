"""Time windows of profile-limitations, read in the customer's time zone; pure, takes `now`.

Owns `Weekday`, `Window` (a profile-limitation's from-time, till-time and weekdays), the
customer's `time-zone` text -> tzinfo, and the questions "is the window open at `now`", "when
does it close" and "when does any window next open or close". Knows nothing of limitations,
quotas or storage; `now` is an aware datetime and every moment returned is aware UTC.

Rules (manual "Profile limitations", research 1.5, 2.7 and 5 "Limitations, windows and counters"):
- from-time and till-time are seconds after local midnight; till-time is inclusive, as
  RouterOS's default 23:59:59 shows, so a window covers [from, till + 1s) of the day.
- from-time > till-time crosses midnight (research 5 leaves it open; we allow it): the window
  opens on a listed weekday at from-time and closes the next day after till-time. The weekday
  is the day it STARTS on, so `22:00:00-05:59:59 friday` covers Friday night into Saturday.
- Times are wall-clock times in the zone. With an IANA zone (daylight saving time), a boundary
  that falls in the skipped hour happens when the clock jumps past it, and a boundary in the
  repeated hour happens at its first occurrence; a window wholly inside the skipped hour does
  not open that day. Fixed offsets ("+02:00") have no such days.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum

from userman.core.errors import InvalidValueError

__all__ = [
    "ALL_WEEKDAYS",
    "DAY_SECONDS",
    "Weekday",
    "Window",
    "check_time_zone",
    "contains",
    "ends_at",
    "format_weekdays",
    "next_boundary",
    "parse_time_zone",
    "parse_weekdays",
    "time_zone_name",
    "to_instant",
]

DAY_SECONDS = 86_400
_UTC = dt.UTC
_DAY = dt.timedelta(days=1)
# The local dates searched around `now`: two days back (a window crossing midnight that started
# yesterday, shifted by a DST change) and, ahead, one day to answer `contains`, nine for
# `ends_at` (a week of windows chained end to end plus the night into the eighth day) and
# sixteen for `next_boundary` (a weekly window skipped by DST this week opens next week).
_BACK_DAYS = 2
_AHEAD_CONTAINS = 1
_AHEAD_ENDS = 9
_AHEAD_NEXT = 16


class Weekday(Enum):
    """A day of the week as the `weekdays` property spells it, Sunday first like RouterOS."""

    SUNDAY = "sunday"
    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"

    @classmethod
    def of(cls, day: dt.date) -> Weekday:
        """The weekday of a (local) date."""
        return _BY_ISO[day.isoweekday()]


_BY_ISO = {
    7: Weekday.SUNDAY,
    1: Weekday.MONDAY,
    2: Weekday.TUESDAY,
    3: Weekday.WEDNESDAY,
    4: Weekday.THURSDAY,
    5: Weekday.FRIDAY,
    6: Weekday.SATURDAY,
}
ALL_WEEKDAYS = frozenset(Weekday)


def parse_weekdays(text: str, prop: str = "weekdays") -> frozenset[Weekday]:
    """The stored comma text (`sunday,monday`) as a set; `""` is the empty set (never open)."""
    out: set[Weekday] = set()
    for part in text.split(","):
        name = part.strip().lower()
        if not name:
            continue
        try:
            out.add(Weekday(name))
        except ValueError:
            listed = ", ".join(day.value for day in Weekday)
            raise InvalidValueError(prop, f'"{part.strip()}" is not one of: {listed}') from None
    return frozenset(out)


def format_weekdays(days: Iterable[Weekday]) -> str:
    """Comma text in RouterOS order, Sunday first: `sunday,monday,friday`."""
    chosen = set(days)
    return ",".join(day.value for day in Weekday if day in chosen)


_OFFSET_RE = re.compile(r"(?P<sign>[+-])(?P<h>[0-9]{1,2}):(?P<m>[0-9]{2})")


def parse_time_zone(text: str, prop: str = "time-zone") -> dt.tzinfo:
    """The customer's `time-zone`: a fixed offset (`+02:00`, `-05:30`, `-00:00` = UTC) or an IANA
    name (`Europe/Riga`, whose daylight saving time the module docstring describes)."""
    raw = text.strip()
    match = _OFFSET_RE.fullmatch(raw)
    if match is not None:
        hours, minutes = int(match["h"]), int(match["m"])
        if hours >= 24 or minutes >= 60:
            raise InvalidValueError(prop, f'"{raw}" is not a UTC offset (-23:59 to +23:59)')
        offset = dt.timedelta(hours=hours, minutes=minutes)
        return dt.timezone(-offset if match["sign"] == "-" else offset)
    try:
        return zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidValueError(
            prop, f'"{raw}" is not a time zone (examples: +02:00, -05:30, Europe/Riga)'
        ) from None


# The widest offsets in use (UTC-12:00 to UTC+14:00, Kiribati's), with room on the west.
MAX_OFFSET = dt.timedelta(hours=14)


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_time_zone(text: str, prop: str = "time-zone") -> str:
    """A `time-zone` as it may be written: an offset within ±14:00 or an IANA name that
    zoneinfo knows (`parse_time_zone`, which reads it, is wider: a zone stored before this rule
    still reads). Empty is UTC. Returns the text without surrounding blanks."""
    raw = text.strip()
    if not raw:
        return raw
    match = _OFFSET_RE.fullmatch(raw)
    if match is not None:
        offset = dt.timedelta(hours=int(match["h"]), minutes=int(match["m"]))
        if int(match["m"]) >= 60 or offset > MAX_OFFSET:
            raise InvalidValueError(prop, f'"{raw}" is not a UTC offset (-14:00 to +14:00)')
        return raw
    if raw not in _zone_names():
        raise InvalidValueError(
            prop, f'"{raw}" is not a time zone (examples: +02:00, -05:30, Europe/Riga, UTC)'
        )
    return raw


def time_zone_name(tz: dt.tzinfo) -> str:
    """A zone as the pages name it: its IANA name (`Europe/Riga`), `UTC+02:00` for an offset,
    and `UTC` for UTC however it was written (`-00:00`, `+00:00`, `UTC`)."""
    key = getattr(tz, "key", None)
    if isinstance(key, str):
        return key
    if tz.utcoffset(None) == dt.timedelta(0):
        return "UTC"
    return tz.tzname(None) or str(tz)


@dataclass(frozen=True, slots=True)
class Window:
    """When a profile-limitation applies: [from_time, till_time] seconds of the local day,
    till inclusive, on the weekdays it starts on; from_time > till_time crosses midnight. No
    weekdays: never open. The defaults are RouterOS's: 00:00:00-23:59:59 every day."""

    from_time: int = 0
    till_time: int = DAY_SECONDS - 1
    weekdays: frozenset[Weekday] = ALL_WEEKDAYS

    def __post_init__(self) -> None:
        for prop, value in (("from-time", self.from_time), ("till-time", self.till_time)):
            if not 0 <= value < DAY_SECONDS:
                raise InvalidValueError(prop, f"{value} is not 0..{DAY_SECONDS - 1} seconds")

    @property
    def crosses_midnight(self) -> bool:
        return self.from_time > self.till_time

    @property
    def always(self) -> bool:
        """Open the whole week without a break: every day, each day's window ending where the
        next one starts (00:00:00-23:59:59, or e.g. 06:00:00-05:59:59)."""
        seamless = self.from_time == (self.till_time + 1) % DAY_SECONDS
        return seamless and self.weekdays == ALL_WEEKDAYS


def to_instant(wall: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The aware UTC moment when the clock in `tz` first shows the naive wall time `wall`.

    In a repeated hour that is its first occurrence; in a skipped hour it is the moment the clock
    jumps past it. Never earlier for a later wall time.
    """
    first = wall.replace(tzinfo=tz, fold=0).astimezone(_UTC)
    if _wall(first, tz) == wall:
        return first
    # `wall` does not exist: between the moment read with the later offset and the one read with
    # the earlier offset the clock jumps; find that jump, to the second (transitions are whole).
    lo = int(wall.replace(tzinfo=tz, fold=1).astimezone(_UTC).timestamp() // 1)
    hi = -int(-first.timestamp() // 1)
    if lo > hi:
        lo, hi = hi, lo
    # The clock shows less than `wall` at `lo` and at least `wall` at `hi`.
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _wall(dt.datetime.fromtimestamp(mid, _UTC), tz) >= wall:
            hi = mid
        else:
            lo = mid
    return dt.datetime.fromtimestamp(hi, _UTC)


def _wall(moment: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


def _require_aware(now: dt.datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be an aware datetime, got {now!r}")


def _instances(
    window: Window, first: dt.date, last: dt.date, tz: dt.tzinfo
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """[open, close) in UTC for each listed local date from `first` to `last`, in order."""
    day = first
    length = (window.till_time + 1 - window.from_time) % DAY_SECONDS or DAY_SECONDS
    while day <= last:
        if Weekday.of(day) in window.weekdays:
            midnight = dt.datetime(day.year, day.month, day.day)
            opens = midnight + dt.timedelta(seconds=window.from_time)
            closes = opens + dt.timedelta(seconds=length)
            start, end = to_instant(opens, tz), to_instant(closes, tz)
            if start < end:  # empty when it lies wholly in a skipped hour
                yield start, end
        day += _DAY


def _spans(
    window: Window, now: dt.datetime, tz: dt.tzinfo, ahead: int
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The window's open spans from two local days before `now` to `ahead` days after, touching
    instances merged into one span."""
    today = now.astimezone(tz).date()
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    first, last = today - _BACK_DAYS * _DAY, today + ahead * _DAY
    for start, end in _instances(window, first, last, tz):
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def contains(window: Window, now: dt.datetime, tz: dt.tzinfo) -> bool:
    """Whether the window is open at `now` (open at from-time, still open through till-time)."""
    _require_aware(now)
    if window.always:
        return True
    return any(start <= now < end for start, end in _spans(window, now, tz, _AHEAD_CONTAINS))


def ends_at(window: Window, now: dt.datetime, tz: dt.tzinfo) -> dt.datetime | None:
    """When the window open at `now` closes (the first moment it is shut), for Session-Timeout.

    None when it never closes (`Window.always`) or is not open at `now`; a window that runs on
    into the next day's window (Monday and Tuesday 00:00:00-23:59:59) closes at the end of the
    last day in the run.
    """
    _require_aware(now)
    if window.always:
        return None
    for start, end in _spans(window, now, tz, _AHEAD_ENDS):
        if start <= now < end:
            return end
    return None


def next_boundary(windows: Iterable[Window], now: dt.datetime, tz: dt.tzinfo) -> dt.datetime | None:
    """The first moment after `now` when any of `windows` opens or closes (for CoA scheduling);
    None when none of them ever changes (always open, or never)."""
    _require_aware(now)
    best: dt.datetime | None = None
    for window in windows:
        if window.always:
            continue
        for start, end in _spans(window, now, tz, _AHEAD_NEXT):
            moment = start if start > now else end if end > now else None
            if moment is not None:
                if best is None or moment < best:
                    best = moment
                break
    return best
