"""The limitation rules with an explicit `now` (manual "profile limitation"; research 1.4, 1.5,
2.5, 4.3-4.4 and 5 "Limitations, windows and counters")."""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from userman.core.errors import InvalidValueError
from userman.core.limits import (
    MAX_SESSION_TIMEOUT,
    Limit,
    LimitationFacts,
    Remaining,
    ResetInterval,
    Usage,
    applicable,
    applicable_until,
    counting_period_start,
    exhausted,
    next_counting_period_start,
    outside_windows,
    parse_reset_interval,
    remaining,
    reply_limits,
    seconds_until,
    session_timeout,
    strictest,
)
from userman.core.windows import Weekday, Window

UTC = dt.UTC
RIGA = zoneinfo.ZoneInfo("Europe/Riga")
PLUS2 = dt.timezone(dt.timedelta(hours=2))
GiB = 1024**3
NOW = dt.datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # a Monday, noon


def utc(year: int, month: int, day: int, *hms: int) -> dt.datetime:
    """An aware UTC moment: `utc(2026, 3, 29, 1, 30)`."""
    clock = (*hms, 0, 0, 0)
    return dt.datetime(year, month, day, clock[0], clock[1], clock[2], tzinfo=UTC)


DAY = Window(7 * 3600, 22 * 3600 - 1)  # 07:00:00-21:59:59 every day
NIGHT = Window(22 * 3600, 7 * 3600 - 1)  # 22:00:00-06:59:59 every day
WEEKEND = Window(weekdays=frozenset({Weekday.SATURDAY, Weekday.SUNDAY}))
FAST = LimitationFacts(name="fast", rate_limit_rx=2_000_000, windows=(DAY,))
SLOW = LimitationFacts(name="slow", rate_limit_rx=512_000, windows=(NIGHT,))
FREE = LimitationFacts(name="free", windows=(WEEKEND,))
UNBOUND = LimitationFacts(name="unbound")  # no profile-limitation row


# -- which limitations apply (research 1.5, 4.3 step 5, 5) ------------------------------------


@pytest.mark.parametrize(
    ("now", "tz", "expected"),
    [
        (NOW, UTC, ("fast",)),  # Monday noon
        (utc(2026, 1, 5, 23, 0), UTC, ("slow",)),
        (utc(2026, 1, 5, 21, 30), UTC, ("fast",)),
        (utc(2026, 1, 5, 21, 30), PLUS2, ("slow",)),  # 23:30 at +02:00
        (utc(2026, 1, 10, 12, 0), UTC, ("fast", "free")),  # Saturday: both, in order
        (utc(2026, 1, 10, 3, 0), UTC, ("slow", "free")),
    ],
)
def test_applicable(now: dt.datetime, tz: dt.tzinfo, expected: tuple[str, ...]) -> None:
    chosen = applicable((FAST, SLOW, FREE, UNBOUND), now, tz)
    assert tuple(lim.name for lim in chosen) == expected


def test_a_limitation_applies_only_through_profile_limitation_rows() -> None:
    assert applicable((UNBOUND,), NOW, UTC) == ()


def test_a_limitation_bound_by_several_rows_applies_in_any_of_them() -> None:
    both = LimitationFacts(windows=(DAY, NIGHT))
    assert applicable((both,), NOW, UTC) == (both,)
    assert applicable((both,), utc(2026, 1, 5, 3, 0), UTC) == (both,)


@pytest.mark.parametrize(
    ("limitations", "now", "refused"),
    [
        ((), NOW, False),  # no rows at all: no limits, always allowed
        ((UNBOUND,), NOW, False),
        ((FAST,), NOW, False),
        ((FAST,), utc(2026, 1, 5, 23, 0), True),  # "internet only 07:00-22:00"
        ((FAST, SLOW), utc(2026, 1, 5, 23, 0), False),
        ((FREE,), NOW, True),
        ((FREE,), utc(2026, 1, 11, 23, 59, 59), False),
    ],
)
def test_outside_windows(
    limitations: tuple[LimitationFacts, ...], now: dt.datetime, refused: bool
) -> None:
    assert outside_windows(limitations, now, UTC) is refused


def test_applicable_until_is_the_next_window_change() -> None:
    assert applicable_until((FAST, SLOW), NOW, UTC) == utc(2026, 1, 5, 22, 0)
    assert applicable_until((FREE,), NOW, UTC) == utc(2026, 1, 10, 0, 0)
    assert applicable_until((LimitationFacts(windows=(Window(),)),), NOW, UTC) is None
    assert applicable_until((), NOW, UTC) is None


# -- reset-counters-interval (research 2.5) -----------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "start", "now", "expected"),
    [
        (ResetInterval.DISABLED, None, NOW, None),  # legacy: lifetime counters
        (ResetInterval.HOURLY, None, utc(2026, 1, 5, 12, 34, 56), utc(2026, 1, 5, 12, 0)),
        (
            ResetInterval.HOURLY,
            utc(2026, 1, 1, 0, 15),
            utc(2026, 1, 5, 12, 10),
            utc(2026, 1, 5, 11, 15),
        ),
        (
            ResetInterval.HOURLY,
            utc(2026, 1, 1, 0, 15),
            utc(2026, 1, 5, 12, 15),
            utc(2026, 1, 5, 12, 15),
        ),
        (ResetInterval.DAILY, None, NOW, utc(2026, 1, 5)),
        (
            ResetInterval.DAILY,
            utc(2025, 6, 1, 6, 0),
            utc(2026, 1, 5, 5, 59, 59),
            utc(2026, 1, 4, 6, 0),
        ),
        (ResetInterval.DAILY, utc(2025, 6, 1, 6, 0), utc(2026, 1, 5, 6, 0), utc(2026, 1, 5, 6, 0)),
        (
            ResetInterval.DAILY,
            utc(2025, 12, 31, 6, 0),
            utc(2026, 1, 1, 0, 0),
            utc(2025, 12, 31, 6, 0),
        ),
        # 1970-01-01 was a Thursday: weekly periods from the default start begin on Thursdays.
        (ResetInterval.WEEKLY, None, NOW, utc(2026, 1, 1)),
        (
            ResetInterval.WEEKLY,
            utc(2026, 1, 5, 8, 0),
            utc(2026, 1, 12, 7, 0),
            utc(2026, 1, 5, 8, 0),
        ),
        (ResetInterval.MONTHLY, None, NOW, utc(2026, 1, 1)),
        (
            ResetInterval.MONTHLY,
            utc(2025, 1, 15, 10, 0),
            utc(2026, 1, 15, 9, 59),
            utc(2025, 12, 15, 10, 0),
        ),
        # A start on the 31st resets on the last day of shorter months, and comes back to the 31st.
        (ResetInterval.MONTHLY, utc(2026, 1, 31), utc(2026, 2, 27, 23, 59), utc(2026, 1, 31)),
        (ResetInterval.MONTHLY, utc(2026, 1, 31), utc(2026, 2, 28), utc(2026, 2, 28)),
        (ResetInterval.MONTHLY, utc(2026, 1, 31), utc(2026, 3, 30), utc(2026, 2, 28)),
        (ResetInterval.MONTHLY, utc(2026, 1, 31), utc(2026, 3, 31), utc(2026, 3, 31)),
        (ResetInterval.MONTHLY, utc(2026, 1, 31), utc(2026, 4, 30, 1, 0), utc(2026, 4, 30)),
        # Leap years: Feb 29 in 2028, and a start on Feb 29 resets on the 28th of other Februaries.
        (ResetInterval.MONTHLY, utc(2026, 1, 31), utc(2028, 2, 28, 12, 0), utc(2028, 1, 31)),
        (ResetInterval.MONTHLY, utc(2026, 1, 31), utc(2028, 2, 29, 12, 0), utc(2028, 2, 29)),
        (ResetInterval.MONTHLY, utc(2024, 2, 29), utc(2025, 2, 28, 1, 0), utc(2025, 2, 28)),
        (ResetInterval.MONTHLY, utc(2024, 2, 29), utc(2025, 3, 29, 1, 0), utc(2025, 3, 29)),
        # Across the year's end.
        (ResetInterval.MONTHLY, utc(2025, 3, 31), utc(2026, 1, 2), utc(2025, 12, 31)),
        # A fixed period (v7 accepts any time).
        (dt.timedelta(hours=12), utc(2026, 1, 1, 6, 0), NOW, utc(2026, 1, 5, 6, 0)),
        # A start in the future: the grid reaches back.
        (ResetInterval.DAILY, utc(2027, 1, 1, 6, 0), NOW, utc(2026, 1, 5, 6, 0)),
    ],
)
def test_counting_period_start(
    interval: ResetInterval | dt.timedelta,
    start: dt.datetime | None,
    now: dt.datetime,
    expected: dt.datetime | None,
) -> None:
    assert counting_period_start(interval, start, now) == expected


def test_daily_resets_follow_the_customer_clock() -> None:
    # A naive start is a wall time in the customer's zone: midnight at +02:00 is 22:00 UTC.
    start = dt.datetime(2026, 1, 1)
    assert counting_period_start(ResetInterval.DAILY, start, NOW, PLUS2) == utc(2026, 1, 4, 22, 0)
    # An aware start is read in the zone too; a monthly reset keeps the local 1st.
    assert counting_period_start(
        ResetInterval.MONTHLY, utc(2025, 12, 31, 22, 0), utc(2026, 3, 1, 0, 0), PLUS2
    ) == utc(2026, 2, 28, 22, 0)


def test_daily_resets_keep_the_wall_time_across_dst() -> None:
    start = dt.datetime(2026, 3, 1, 0, 30)  # 00:30 in Riga
    # Sunday 00:30 EET is 22:30 UTC on Saturday; Monday 00:30 EEST is 21:30 UTC on Sunday.
    assert counting_period_start(ResetInterval.DAILY, start, utc(2026, 3, 28, 23, 0), RIGA) == (
        utc(2026, 3, 28, 22, 30)
    )
    assert next_counting_period_start(
        ResetInterval.DAILY, start, utc(2026, 3, 28, 23, 0), RIGA
    ) == (utc(2026, 3, 29, 21, 30))
    # Hourly is elapsed time: the skipped hour is simply not there.
    assert counting_period_start(ResetInterval.HOURLY, start, utc(2026, 3, 29, 1, 20), RIGA) == (
        utc(2026, 3, 29, 0, 30)
    )
    # A daily reset at a skipped wall time happens when the clock jumps.
    at_3_30 = dt.datetime(2026, 3, 1, 3, 30)
    assert counting_period_start(ResetInterval.DAILY, at_3_30, utc(2026, 3, 29, 1, 10), RIGA) == (
        utc(2026, 3, 29, 1, 0)
    )


def test_disabled_has_no_next_reset() -> None:
    assert next_counting_period_start(ResetInterval.DISABLED, None, NOW) is None
    assert next_counting_period_start(ResetInterval.MONTHLY, None, NOW) == utc(2026, 2, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("disabled", ResetInterval.DISABLED),
        ("Monthly", ResetInterval.MONTHLY),
        ("hourly", ResetInterval.HOURLY),
        ("12h", dt.timedelta(hours=12)),
        ("1d00:00:00", dt.timedelta(days=1)),
    ],
)
def test_parse_reset_interval(text: str, expected: ResetInterval | dt.timedelta) -> None:
    assert parse_reset_interval(text) == expected


@pytest.mark.parametrize("text", ["never", "0s", ""])
def test_parse_reset_interval_rejects(text: str) -> None:
    with pytest.raises(InvalidValueError, match="reset-counters-interval"):
        parse_reset_interval(text)


intervals = st.sampled_from(
    [*(i for i in ResetInterval if i is not ResetInterval.DISABLED), dt.timedelta(minutes=90)]
)
moments = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2040, 12, 31), timezones=st.just(UTC)
)
walls = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2040, 12, 31))
zones = st.sampled_from(
    [
        UTC,
        PLUS2,
        dt.timezone(-dt.timedelta(hours=5, minutes=30)),
        RIGA,
        zoneinfo.ZoneInfo("America/New_York"),
    ]
)


@settings(max_examples=100, deadline=None)
@given(intervals, walls, moments, zones)
def test_now_lies_in_its_counting_period(
    interval: ResetInterval | dt.timedelta, start: dt.datetime, now: dt.datetime, tz: dt.tzinfo
) -> None:
    begin = counting_period_start(interval, start, now, tz)
    end = next_counting_period_start(interval, start, now, tz)
    assert begin is not None
    assert end is not None
    assert begin <= now < end
    # The grid is the same seen from its own boundaries.
    assert counting_period_start(interval, start, end, tz) == end
    assert next_counting_period_start(interval, start, begin, tz) == end


@settings(max_examples=100, deadline=None)
@given(walls, moments)
def test_monthly_resets_on_the_start_day_or_the_month_end(
    start: dt.datetime, now: dt.datetime
) -> None:
    begin = counting_period_start(ResetInterval.MONTHLY, start, now)
    assert begin is not None
    last = calendar.monthrange(begin.year, begin.month)[1]
    assert begin.day == min(start.day, last)
    assert (begin.hour, begin.minute, begin.second) == (start.hour, start.minute, start.second)


# -- remaining, exhausted, reply (research 4.3 step 6, 4.4) -------------------------------------

QUOTA = LimitationFacts(
    download_limit=10 * GiB, upload_limit=GiB, transfer_limit=10 * GiB, uptime_limit=3600
)


@pytest.mark.parametrize(
    ("lim", "usage", "expected"),
    [
        (LimitationFacts(), Usage(100, 100, 100), Remaining()),  # 0 = no limit
        (QUOTA, Usage(), Remaining(3600, 10 * GiB, GiB, 10 * GiB)),
        (
            QUOTA,
            Usage(600, 2 * GiB, GiB // 2),
            Remaining(3000, 8 * GiB, GiB // 2, 7 * GiB + GiB // 2),
        ),
        (QUOTA, Usage(7200, 11 * GiB, 2 * GiB), Remaining(0, 0, 0, 0)),  # never below 0
        (LimitationFacts(uptime_limit=60), Usage(uptime=59), Remaining(uptime=1)),
    ],
)
def test_remaining(lim: LimitationFacts, usage: Usage, expected: Remaining) -> None:
    assert remaining(lim, usage) == expected


def test_strictest_takes_the_least_of_each_quota() -> None:
    # "separate monthly and daily bandwidth limits": both must hold.
    monthly = Remaining(download=30 * GiB, transfer=None, uptime=None)
    daily = Remaining(download=GiB, upload=5 * GiB, uptime=None)
    assert strictest([monthly, daily]) == Remaining(None, GiB, 5 * GiB, None)
    assert strictest([]) == Remaining()


@pytest.mark.parametrize(
    ("left", "expected"),
    [
        (Remaining(), None),
        (Remaining(1, 1, 1, 1), None),
        (Remaining(uptime=0), Limit.UPTIME),
        (Remaining(download=0), Limit.DOWNLOAD),
        (Remaining(upload=0), Limit.UPLOAD),
        (Remaining(transfer=0), Limit.TRANSFER),
        (Remaining(uptime=0, transfer=0), Limit.UPTIME),  # in Limit order
        (Remaining(upload=0, download=0), Limit.DOWNLOAD),
    ],
)
def test_exhausted(left: Remaining, expected: Limit | None) -> None:
    assert exhausted(left) is expected


@pytest.mark.parametrize(
    ("left", "expected"),
    [
        (Remaining(), []),
        # Direction (research 4.4): Recv is what the NAS receives = the user's upload; Xmit is
        # what the NAS transmits = the user's download.
        (Remaining(upload=1000), [("Mikrotik-Recv-Limit", 1000)]),
        (Remaining(download=2000), [("Mikrotik-Xmit-Limit", 2000)]),
        (Remaining(transfer=3000), [("Mikrotik-Total-Limit", 3000)]),
        (
            Remaining(uptime=10, download=2000, upload=1000, transfer=3000),
            [
                ("Mikrotik-Recv-Limit", 1000),
                ("Mikrotik-Xmit-Limit", 2000),
                ("Mikrotik-Total-Limit", 3000),
            ],
        ),
        # 2**32 and more: the low 32 bits plus -Gigawords.
        (Remaining(download=2**32 - 1), [("Mikrotik-Xmit-Limit", 2**32 - 1)]),
        (
            Remaining(download=2**32),
            [("Mikrotik-Xmit-Limit", 0), ("Mikrotik-Xmit-Limit-Gigawords", 1)],
        ),
        (
            Remaining(upload=5 * GiB, transfer=10 * 2**32 + 7),
            [
                ("Mikrotik-Recv-Limit", GiB),
                ("Mikrotik-Recv-Limit-Gigawords", 1),
                ("Mikrotik-Total-Limit", 7),
                ("Mikrotik-Total-Limit-Gigawords", 10),
            ],
        ),
    ],
)
def test_reply_limits(left: Remaining, expected: list[tuple[str, int]]) -> None:
    assert reply_limits(left) == expected


def test_reply_limits_refuses_a_used_up_quota() -> None:
    with pytest.raises(ValueError, match="Mikrotik-Xmit-Limit"):
        reply_limits(Remaining(download=0))


@given(st.integers(1, 2**63 - 1))
def test_gigawords_put_the_value_back_together(value: int) -> None:
    attrs = dict(reply_limits(Remaining(transfer=value)))
    low = attrs["Mikrotik-Total-Limit"]
    assert 0 <= low < 2**32
    assert attrs.get("Mikrotik-Total-Limit-Gigawords", 0) * 2**32 + low == value


# -- Session-Timeout (research 4.4: "min of the candidates") ----------------------------------


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        ((), None),
        ((None, None), None),
        ((3600,), 3600),
        ((3600, None, 600, 86400), 600),
        ((0, 600), 1),  # at least 1 s
        ((-5,), 1),
        ((10**9,), MAX_SESSION_TIMEOUT),  # capped
        ((None, MAX_SESSION_TIMEOUT + 1), MAX_SESSION_TIMEOUT),
    ],
)
def test_session_timeout(candidates: tuple[int | None, ...], expected: int | None) -> None:
    assert session_timeout(candidates) == expected


def test_session_timeout_from_every_source() -> None:
    used = Usage(uptime=3000)
    left = remaining(LimitationFacts(uptime_limit=3600, windows=(DAY,)), used)
    profile_end = utc(2026, 1, 5, 12, 20)
    window_change = applicable_until((FAST, SLOW), NOW, UTC)
    assert window_change is not None
    timeout = session_timeout(
        [left.uptime, seconds_until(profile_end, NOW), seconds_until(window_change, NOW)]
    )
    assert timeout == 600


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (NOW, 0),
        (NOW + dt.timedelta(seconds=90), 90),
        (NOW + dt.timedelta(seconds=90, microseconds=1), 91),  # never early
        (NOW - dt.timedelta(seconds=5), -5),
    ],
)
def test_seconds_until(moment: dt.datetime, expected: int) -> None:
    assert seconds_until(moment, NOW) == expected
