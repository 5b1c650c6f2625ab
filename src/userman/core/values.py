"""The RouterOS value grammar, both ways: text as typed or exported <-> Python values.

Owns durations (`1d02:30:00`, `4w2d`), byte sizes (`1G`), bit rates (`512k`), yes/no, sets
(`monday,friday`), counts with `unlimited`, times of day and User Manager's printed date-time
(`may/23/2019 08:55:43`). Every parse error is an `InvalidValueError(prop, reason)`. Pure: knows
nothing of menus, properties' meaning, storage or the clock; `prop` is only used in messages.

Multipliers (decided here, the README repeats it):
- Sizes (download-limit, upload-limit, transfer-limit) are bytes with binary multipliers,
  k=1024, M=1024², G=1024³, T=1024⁴: User Manager's own documentation (wiki "User
  Manager/Limiting") gives "to allow download 1GB, download-limit must be 1073741824 (1024 x 1024
  x 1024 bytes)", and v6 exports print limits as plain byte counts with a `B` suffix, which is
  accepted here (`1073741824B`).
- Rates (rate-limit-*) are bits/s with decimal multipliers, k=1000, M=10⁶, G=10⁹, as in RouterOS
  queues and the Mikrotik-Rate-Limit attribute. A trailing `B` (v6 exports print
  `rate-limit-rx=6291456B`) is accepted and ignored: the number is taken as bits/s.

Durations are kept to the millisecond: `ms` is accepted (`1s500ms`) and printed when present;
`format_duration` drops anything finer. A bare number is seconds (`90` = 1m30s) and a two-part
clock is hours:minutes (`00:30` = 30m, `8:00` = 8h), as RouterOS reads them.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, time, timedelta, tzinfo

from userman.core.errors import InvalidValueError

__all__ = [
    "format_bool",
    "format_count",
    "format_datetime",
    "format_duration",
    "format_rate",
    "format_set",
    "format_size",
    "format_time_of_day",
    "parse_bool",
    "parse_count",
    "parse_datetime",
    "parse_duration",
    "parse_rate",
    "parse_set",
    "parse_size",
    "parse_time_of_day",
]

_MAX_DIGITS = 20  # more digits than any sane value has; keeps conversions far from overflow
_MAX_INT = 2**63 - 1  # sizes, rates and counts fit a signed 64-bit integer (SQL BIGINT)


def _shown(text: str) -> str:
    """`text` in double quotes for an error message, with quotes and backslashes escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- durations -------------------------------------------------------------------------------

_MS_PER_UNIT = {
    "w": 7 * 24 * 3_600_000,
    "d": 24 * 3_600_000,
    "h": 3_600_000,
    "m": 60_000,
    "s": 1000,
    "ms": 1,
}
# Units in the order they must appear (each at most once), also the order they are printed.
_UNIT_ORDER = ("w", "d", "h", "m", "s", "ms")

_UNITS_RE = re.compile(
    r"(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?"
    r"(?:(?P<m>\d+)m(?!s))?(?:(?P<s>\d+)s)?(?:(?P<ms>\d+)ms)?"
)
_CLOCK_RE = re.compile(
    r"(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?"
    r"(?P<h>\d+):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.(?P<frac>\d{1,3}))?)?"
)
_DURATION_EXAMPLES = "examples: 30m, 1h30m, 1d02:00:00"
# timedelta tops out just under a million days; say so instead of overflowing.
_MAX_DURATION_MS = (timedelta.max.days - 1) * _MS_PER_UNIT["d"]


def parse_duration(text: str, prop: str = "value") -> timedelta:
    """A RouterOS time: `30m`, `1h48m42s`, `4w2d`, `1d02:30:00`, `02:30:00`, `00:30`, `90`.

    Units w, d, h, m, s, ms come in that order, each at most once; a clock `H:MM[:SS[.fff]]`
    may follow w/d parts; a bare number is seconds. Case-insensitive; never negative.
    """
    raw = text.strip().lower()
    ms = _duration_ms(raw)
    if ms is None:
        raise InvalidValueError(prop, f"{_shown(text)} is not a time ({_DURATION_EXAMPLES})")
    if ms > _MAX_DURATION_MS:
        raise InvalidValueError(prop, f"{_shown(text)} is too long a time")
    return timedelta(milliseconds=ms)


def _duration_ms(raw: str) -> int | None:
    """Milliseconds in `raw` (stripped, lowercase), or None when it is not a RouterOS time."""
    if not raw or len(raw) > 64:
        return None
    if raw.isascii() and raw.isdigit():
        return int(raw) * 1000 if len(raw) <= _MAX_DIGITS else None
    if match := _CLOCK_RE.fullmatch(raw):
        parts = match.groupdict()
        minutes, seconds = int(parts["m"]), int(parts["s"] or 0)
        if minutes >= 60 or seconds >= 60:
            return None
        frac = (parts["frac"] or "").ljust(3, "0")
        return (
            int(parts["w"] or 0) * _MS_PER_UNIT["w"]
            + int(parts["d"] or 0) * _MS_PER_UNIT["d"]
            + int(parts["h"]) * _MS_PER_UNIT["h"]
            + minutes * _MS_PER_UNIT["m"]
            + seconds * 1000
            + int(frac)
        )
    match = _UNITS_RE.fullmatch(raw)
    if match is None:
        return None
    found = {unit: int(n) for unit, n in match.groupdict().items() if n is not None}
    return sum(n * _MS_PER_UNIT[unit] for unit, n in found.items())


def format_duration(td: timedelta) -> str:
    """RouterOS print style: `1h48m42s`, `4w2d`, `1d2h30m`, `1s500ms`, `0s`.

    Whole milliseconds are kept, anything finer is dropped. Negative times are a caller's bug.
    """
    if td < timedelta(0):
        raise ValueError(f"a RouterOS time is never negative: {td!r}")
    rest = td // timedelta(milliseconds=1)
    out = []
    for unit in _UNIT_ORDER:
        n, rest = divmod(rest, _MS_PER_UNIT[unit])
        if n:
            out.append(f"{n}{unit}")
    return "".join(out) or "0s"


# -- sizes and rates -------------------------------------------------------------------------

_SIZE_MULTIPLIER = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_RATE_MULTIPLIER = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3}
_SIZE_RE = re.compile(r"(?P<n>\d+)(?P<mult>[kmgt]?)(?:i?b)?")
_RATE_RE = re.compile(r"(?P<n>\d+)(?P<mult>[kmg]?)(?:b|bps)?")


def _scaled(
    text: str, prop: str, pattern: re.Pattern[str], multipliers: dict[str, int], what: str
) -> int:
    raw = text.strip().lower()
    match = pattern.fullmatch(raw)
    if match is None or len(match["n"]) > _MAX_DIGITS:
        raise InvalidValueError(prop, f"{_shown(text)} is not {what}")
    n = int(match["n"]) * multipliers[match["mult"]]
    if n > _MAX_INT:
        raise InvalidValueError(prop, f"{_shown(text)} is too large (at most {_MAX_INT})")
    return n


def _format_scaled(n: int, multipliers: dict[str, int], suffixes: dict[str, str]) -> str:
    if n < 0:
        raise ValueError(f"a RouterOS size or rate is never negative: {n}")
    for key, factor in sorted(multipliers.items(), key=lambda kv: -kv[1]):
        if factor > 1 and n and n % factor == 0:
            return f"{n // factor}{suffixes[key]}"
    return str(n)


def parse_size(text: str, prop: str = "value") -> int:
    """Bytes: `1073741824`, `512k`, `10M`, `1G`, `2T` (k=1024); a trailing `B`/`iB` is allowed."""
    return _scaled(
        text, prop, _SIZE_RE, _SIZE_MULTIPLIER, "a size in bytes (examples: 0, 512k, 10M, 1G)"
    )


def format_size(n: int) -> str:
    """Bytes in the largest binary multiplier that is exact: `1G`, `1536M`, `1000`, `0`."""
    return _format_scaled(n, _SIZE_MULTIPLIER, {"k": "k", "m": "M", "g": "G", "t": "T"})


def parse_rate(text: str, prop: str = "value") -> int:
    """Bits/s: `0`, `64000`, `512k`, `10M`, `1G` (k=1000); a trailing `B` or `bps` is allowed."""
    return _scaled(
        text, prop, _RATE_RE, _RATE_MULTIPLIER, "a rate in bits/s (examples: 0, 512k, 10M, 1G)"
    )


def format_rate(n: int) -> str:
    """Bits/s in the largest decimal multiplier that is exact: `512k`, `10M`, `1500k`, `0`."""
    return _format_scaled(n, _RATE_MULTIPLIER, {"k": "k", "m": "M", "g": "G"})


# -- yes/no, sets, counts --------------------------------------------------------------------

_BOOLS = {"yes": True, "true": True, "no": False, "false": False}


def parse_bool(text: str, prop: str = "value") -> bool:
    """`yes`/`no` (also `true`/`false`), case-insensitive."""
    value = _BOOLS.get(text.strip().lower())
    if value is None:
        raise InvalidValueError(prop, f"{_shown(text)} is not yes or no")
    return value


def format_bool(value: bool) -> str:
    return "yes" if value else "no"


def parse_set(text: str, prop: str, allowed: Collection[str]) -> frozenset[str]:
    """A comma-separated set such as `monday,friday`; `""` is the empty set.

    Members must be spelled exactly as in `allowed`; repeats are harmless.
    """
    if not text.strip():
        return frozenset()
    members = [part.strip() for part in text.split(",")]
    listed = ", ".join(allowed if isinstance(allowed, Sequence) else sorted(allowed))
    for member in members:
        if not member:
            raise InvalidValueError(prop, f"{_shown(text)} has an empty member (allowed: {listed})")
        if member not in allowed:
            raise InvalidValueError(prop, f"{_shown(member)} is not one of: {listed}")
    return frozenset(members)


def format_set(values: Iterable[str], order: Sequence[str]) -> str:
    """Members joined by commas in `order`'s order: `monday,friday`; empty set -> `""`."""
    chosen = set(values)
    unknown = chosen.difference(order)
    if unknown:
        raise ValueError(f"members not in the given order: {sorted(unknown)}")
    return ",".join(member for member in order if member in chosen)


def parse_count(
    text: str, prop: str = "value", allow_unlimited: bool = True, *, minimum: int = 0
) -> int | None:
    """A whole number >= `minimum`, or `unlimited` (-> None) when `allow_unlimited`."""
    raw = text.strip().lower()
    if raw == "unlimited" and allow_unlimited:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > _MAX_DIGITS:
        expected = "a number or unlimited" if allow_unlimited else "a whole number"
        raise InvalidValueError(prop, f"{_shown(text)} is not {expected}")
    n = int(raw)
    if n > _MAX_INT:
        raise InvalidValueError(prop, f"{_shown(text)} is too large (at most {_MAX_INT})")
    if n < minimum:
        raise InvalidValueError(prop, f"{n} is less than the minimum {minimum}")
    return n


def format_count(value: int | None) -> str:
    return "unlimited" if value is None else str(value)


# -- time of day and date-time ---------------------------------------------------------------

_TIME_OF_DAY_RE = re.compile(r"(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?")
_DAY = timedelta(days=1)


def parse_time_of_day(text: str, prop: str = "value") -> time:
    """`08:00:00`, `8:00`, `23:59:59`; also a time since midnight as exported (`0s`, `6h`,
    `23h59m59s`). Seconds are the finest step."""
    raw = text.strip().lower()
    match = _TIME_OF_DAY_RE.fullmatch(raw)
    if match is not None:
        hour, minute, second = int(match["h"]), int(match["m"]), int(match["s"] or 0)
        if hour < 24 and minute < 60 and second < 60:
            return time(hour, minute, second)
    else:
        ms = _duration_ms(raw)
        if ms is not None and ms % 1000 == 0 and ms < _DAY // timedelta(milliseconds=1):
            seconds = ms // 1000
            return time(seconds // 3600, seconds // 60 % 60, seconds % 60)
    raise InvalidValueError(
        prop, f"{_shown(text)} is not a time of day (examples: 08:00:00, 8:00, 23:59:59)"
    )


def format_time_of_day(value: time) -> str:
    """`08:00:00`; fractions of a second are dropped."""
    return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_ROUTEROS_DT_RE = re.compile(
    r"(?P<mon>[a-z]{3})/(?P<day>\d{1,2})/(?P<year>\d{4})"
    r"(?:\s+(?P<h>\d{1,2}):(?P<m>\d{2}):(?P<s>\d{2}))?"
)


def format_datetime(dt: datetime) -> str:
    """User Manager's print form: `may/23/2019 08:55:43`, in `dt`'s own time zone."""
    return (
        f"{_MONTHS[dt.month - 1]}/{dt.day:02d}/{dt.year:04d} "
        f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    )


def parse_datetime(text: str, prop: str = "value", *, tz: tzinfo | None = None) -> datetime:
    """`may/23/2019 08:55:43` (or the date alone, meaning midnight) or ISO 8601.

    A result without a time zone gets `tz` (left naive when `tz` is None); an ISO offset wins.
    """
    raw = text.strip()
    match = _ROUTEROS_DT_RE.fullmatch(raw.lower())
    try:
        if match is not None:
            if match["mon"] not in _MONTHS:
                raise ValueError
            result = datetime(
                int(match["year"]),
                _MONTHS.index(match["mon"]) + 1,
                int(match["day"]),
                int(match["h"] or 0),
                int(match["m"] or 0),
                int(match["s"] or 0),
            )
        elif raw[:4].isascii() and raw[:4].isdigit():
            result = datetime.fromisoformat(raw)
        else:
            raise ValueError
    except ValueError:
        raise InvalidValueError(
            prop,
            f"{_shown(text)} is not a date and time "
            "(examples: may/23/2019 08:55:43, 2019-05-23T08:55:43)",
        ) from None
    if result.tzinfo is None and tz is not None:
        result = result.replace(tzinfo=tz)
    return result
