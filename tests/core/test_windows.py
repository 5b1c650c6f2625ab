"""Profile-limitation windows with an explicit `now` (manual "Profile limitations": "time range
and weekdays when limitations are active"; research 1.5, 2.7 and 5 "Limitations, windows and
counters")."""

from __future__ import annotations

import contextlib
import datetime as dt
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from userman.core.errors import InvalidValueError
from userman.core.windows import (
    ALL_WEEKDAYS,
    DAY_SECONDS,
    Weekday,
    Window,
    contains,
    ends_at,
    format_weekdays,
    next_boundary,
    parse_time_zone,
    parse_weekdays,
    time_zone_name,
    to_instant,
)

UTC = dt.UTC
RIGA = zoneinfo.ZoneInfo("Europe/Riga")
LORD_HOWE = zoneinfo.ZoneInfo("Australia/Lord_Howe")  # a half-hour daylight saving shift
INDIA = dt.timezone(dt.timedelta(hours=5, minutes=30))
NEWFOUNDLAND_STD = dt.timezone(-dt.timedelta(hours=3, minutes=30))
MONDAY = dt.date(2026, 1, 5)  # weeks below count from this Monday
DAYS = tuple(Weekday)  # Sunday first, as RouterOS lists them


def hms(text: str) -> int:
    h, m, s = (int(x) for x in text.split(":"))
    return h * 3600 + m * 60 + s


def at(day: dt.date, clock: str, tz: dt.tzinfo = UTC) -> dt.datetime:
    """An aware UTC moment: `clock` on `day` read in `tz` (no DST days here)."""
    h, m, s = (int(x) for x in clock.split(":"))
    return dt.datetime(day.year, day.month, day.day, h, m, s, tzinfo=tz).astimezone(UTC)


def window(frm: str, till: str, *days: Weekday) -> Window:
    return Window(hms(frm), hms(till), frozenset(days) if days else ALL_WEEKDAYS)


def on(weekday: Weekday) -> dt.date:
    """The date of `weekday` in the week starting MONDAY."""
    return MONDAY + dt.timedelta(days=(DAYS.index(weekday) - 1) % 7)


WEEKEND_NIGHT = window("00:00:00", "05:59:59", Weekday.SATURDAY, Weekday.SUNDAY)  # research 5
OFFICE = window("07:00:00", "16:00:00")  # UKK guide: "time=07.00.00-16.00.00"
FRIDAY_NIGHT = window("22:00:00", "05:59:59", Weekday.FRIDAY)  # crosses midnight


# -- contains -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("win", "now", "expected"),
    [
        # The default row (00:00:00-23:59:59, all weekdays) is always open.
        (Window(), at(MONDAY, "00:00:00"), True),
        (Window(), at(MONDAY, "23:59:59"), True),
        # from-time inclusive, till-time inclusive to the end of its second.
        (OFFICE, at(MONDAY, "06:59:59"), False),
        (OFFICE, at(MONDAY, "07:00:00"), True),
        (OFFICE, at(MONDAY, "16:00:00"), True),
        (OFFICE, at(MONDAY, "16:00:00") + dt.timedelta(microseconds=999_999), True),
        (OFFICE, at(MONDAY, "16:00:01"), False),
        # Weekend night: Saturday and Sunday 00:00-06:00 only.
        (WEEKEND_NIGHT, at(on(Weekday.SATURDAY), "03:00:00"), True),
        (WEEKEND_NIGHT, at(on(Weekday.SUNDAY), "05:59:59"), True),
        (WEEKEND_NIGHT, at(on(Weekday.SUNDAY), "06:00:00"), False),
        (WEEKEND_NIGHT, at(on(Weekday.FRIDAY), "03:00:00"), False),
        # Across midnight: the weekday is the day the window starts on.
        (FRIDAY_NIGHT, at(on(Weekday.FRIDAY), "21:59:59"), False),
        (FRIDAY_NIGHT, at(on(Weekday.FRIDAY), "22:00:00"), True),
        (FRIDAY_NIGHT, at(on(Weekday.SATURDAY), "05:59:59"), True),
        (FRIDAY_NIGHT, at(on(Weekday.SATURDAY), "06:00:00"), False),
        (FRIDAY_NIGHT, at(on(Weekday.FRIDAY), "03:00:00"), False),  # Thursday night: not listed
        (FRIDAY_NIGHT, at(on(Weekday.SATURDAY), "22:30:00"), False),
        # A one-second window (from == till).
        (window("12:00:00", "12:00:00"), at(MONDAY, "12:00:00"), True),
        (window("12:00:00", "12:00:00"), at(MONDAY, "12:00:01"), False),
        # No weekdays: never open.
        (Window(0, DAY_SECONDS - 1, frozenset()), at(MONDAY, "12:00:00"), False),
    ],
)
def test_contains_in_utc(win: Window, now: dt.datetime, expected: bool) -> None:
    assert contains(win, now, UTC) is expected


@pytest.mark.parametrize("day", DAYS)
def test_every_weekday_opens_on_its_own_day_only(day: Weekday) -> None:
    win = window("08:00:00", "09:59:59", day)
    for other in DAYS:
        assert contains(win, at(on(other), "09:00:00"), UTC) is (other is day)


@pytest.mark.parametrize("day", DAYS)
def test_a_night_window_spills_into_the_day_after_it_starts(day: Weekday) -> None:
    win = window("23:00:00", "00:59:59", day)
    start = on(day)
    assert contains(win, at(start, "23:30:00"), UTC)
    assert contains(win, at(start + dt.timedelta(days=1), "00:30:00"), UTC)
    assert not contains(win, at(start, "00:30:00"), UTC)  # that belongs to the day before


@pytest.mark.parametrize(
    ("tz", "now", "expected"),
    [
        # 07:00 in the customer's zone, not in UTC.
        (
            dt.timezone(dt.timedelta(hours=2)),
            at(MONDAY, "07:00:00", dt.timezone(dt.timedelta(hours=2))),
            True,
        ),
        (dt.timezone(dt.timedelta(hours=2)), at(MONDAY, "06:30:00"), True),  # 08:30 local
        (dt.timezone(dt.timedelta(hours=2)), at(MONDAY, "14:30:00"), False),  # 16:30 local
        # Half-hour offsets both ways.
        (INDIA, at(MONDAY, "01:30:00"), True),  # 07:00 +05:30
        (INDIA, at(MONDAY, "01:29:59"), False),
        (NEWFOUNDLAND_STD, at(MONDAY, "10:30:00"), True),  # 07:00 -03:30
        (NEWFOUNDLAND_STD, at(MONDAY, "19:30:01"), False),  # 16:00:01 -03:30
    ],
)
def test_contains_reads_the_customer_clock(tz: dt.tzinfo, now: dt.datetime, expected: bool) -> None:
    assert contains(OFFICE, now, tz) is expected


def test_the_weekday_is_the_customers_not_utcs() -> None:
    # Monday 01:00 at +05:30 is still Sunday 19:30 UTC.
    monday_morning = window("00:00:00", "02:00:00", Weekday.MONDAY)
    now = at(MONDAY, "01:00:00", INDIA)
    assert now.date() == MONDAY - dt.timedelta(days=1)
    assert contains(monday_morning, now, INDIA)
    assert not contains(monday_morning, now, UTC)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        contains(OFFICE, dt.datetime(2026, 1, 5, 8), UTC)


# -- ends_at and next_boundary ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("win", "now", "expected"),
    [
        (OFFICE, at(MONDAY, "08:00:00"), at(MONDAY, "16:00:01")),
        (OFFICE, at(MONDAY, "16:30:00"), None),  # not open
        (Window(), at(MONDAY, "08:00:00"), None),  # never closes
        (window("06:00:00", "05:59:59"), at(MONDAY, "08:00:00"), None),  # shifted whole week
        (FRIDAY_NIGHT, at(on(Weekday.FRIDAY), "23:00:00"), at(on(Weekday.SATURDAY), "06:00:00")),
        (FRIDAY_NIGHT, at(on(Weekday.SATURDAY), "01:00:00"), at(on(Weekday.SATURDAY), "06:00:00")),
        # Whole days run on into each other: Saturday + Sunday close at Monday's midnight.
        (
            window("00:00:00", "23:59:59", Weekday.SATURDAY, Weekday.SUNDAY),
            at(on(Weekday.SATURDAY), "10:00:00"),
            at(MONDAY + dt.timedelta(days=7), "00:00:00"),
        ),
        # Six whole days: the run ends before the missing one.
        (
            Window(0, DAY_SECONDS - 1, ALL_WEEKDAYS - {Weekday.WEDNESDAY}),
            at(on(Weekday.THURSDAY), "10:00:00"),
            at(on(Weekday.WEDNESDAY) + dt.timedelta(days=7), "00:00:00"),
        ),
        # A night window every day does not run into the next night.
        (
            window("22:00:00", "05:59:59"),
            at(MONDAY, "23:00:00"),
            at(on(Weekday.TUESDAY), "06:00:00"),
        ),
    ],
)
def test_ends_at(win: Window, now: dt.datetime, expected: dt.datetime | None) -> None:
    assert ends_at(win, now, UTC) == expected


def test_ends_at_in_a_half_hour_zone() -> None:
    assert ends_at(OFFICE, at(MONDAY, "08:00:00", INDIA), INDIA) == at(MONDAY, "16:00:01", INDIA)
    assert ends_at(OFFICE, at(MONDAY, "08:00:00", INDIA), INDIA) == at(MONDAY, "10:30:01")


@pytest.mark.parametrize(
    ("wins", "now", "expected"),
    [
        ((OFFICE,), at(MONDAY, "05:00:00"), at(MONDAY, "07:00:00")),  # opens
        ((OFFICE,), at(MONDAY, "07:00:00"), at(MONDAY, "16:00:01")),  # closes
        ((OFFICE,), at(MONDAY, "20:00:00"), at(on(Weekday.TUESDAY), "07:00:00")),
        (
            (OFFICE, FRIDAY_NIGHT),
            at(on(Weekday.FRIDAY), "17:00:00"),
            at(on(Weekday.FRIDAY), "22:00:00"),
        ),
        ((WEEKEND_NIGHT,), at(MONDAY, "12:00:00"), at(on(Weekday.SATURDAY), "00:00:00")),
        (
            (WEEKEND_NIGHT,),
            at(on(Weekday.SUNDAY), "07:00:00"),
            at(on(Weekday.SATURDAY) + dt.timedelta(days=7), "00:00:00"),
        ),
        ((Window(),), at(MONDAY, "12:00:00"), None),
        ((Window(0, 10, frozenset()),), at(MONDAY, "12:00:00"), None),
        ((), at(MONDAY, "12:00:00"), None),
    ],
)
def test_next_boundary(
    wins: tuple[Window, ...], now: dt.datetime, expected: dt.datetime | None
) -> None:
    assert next_boundary(wins, now, UTC) == expected


# -- daylight saving time (Europe/Riga: 2026-03-29 03:00 -> 04:00, 2026-10-25 04:00 -> 03:00) ----

SPRING = dt.date(2026, 3, 29)  # a Sunday
AUTUMN = dt.date(2026, 10, 25)  # a Sunday


def utc(year: int, month: int, day: int, *hms: int) -> dt.datetime:
    """An aware UTC moment: `utc(2026, 3, 29, 1, 30)`."""
    clock = (*hms, 0, 0, 0)
    return dt.datetime(year, month, day, clock[0], clock[1], clock[2], tzinfo=UTC)


def test_to_instant_in_the_skipped_and_repeated_hours() -> None:
    # Skipped: 03:00-03:59 does not exist; it "happens" when the clock jumps, 01:00 UTC.
    assert to_instant(dt.datetime(2026, 3, 29, 3, 30), RIGA) == utc(2026, 3, 29, 1, 0)
    assert to_instant(dt.datetime(2026, 3, 29, 2, 59, 59), RIGA) == utc(2026, 3, 29, 0, 59, 59)
    assert to_instant(dt.datetime(2026, 3, 29, 4, 0), RIGA) == utc(2026, 3, 29, 1, 0)
    # Repeated: 03:00-03:59 happens twice; the first time counts.
    assert to_instant(dt.datetime(2026, 10, 25, 3, 30), RIGA) == utc(2026, 10, 25, 0, 30)
    # Lord Howe skips half an hour, 02:00 -> 02:30, at 15:30 UTC.
    assert to_instant(dt.datetime(2026, 10, 4, 2, 15), LORD_HOWE) == utc(2026, 10, 3, 15, 30)


@pytest.mark.parametrize(
    ("win", "now", "expected"),
    [
        # 07:00 local is 05:00 UTC before the change and 04:00 UTC after.
        (OFFICE, utc(2026, 3, 28, 4, 59, 59), False),
        (OFFICE, utc(2026, 3, 28, 5, 0), True),
        (OFFICE, utc(2026, 3, 30, 3, 59, 59), False),  # 06:59:59 EEST
        (OFFICE, utc(2026, 3, 30, 4, 0), True),
        (OFFICE, utc(2026, 10, 26, 4, 59, 59), False),  # 06:59:59 EET
        (OFFICE, utc(2026, 10, 26, 5, 0), True),  # 07:00 EET
        # A window inside the skipped hour does not open that day.
        (window("03:00:00", "03:59:59", Weekday.SUNDAY), utc(2026, 3, 29, 1, 0), False),
        (window("03:00:00", "03:59:59", Weekday.SUNDAY), utc(2026, 3, 29, 0, 59, 59), False),
        # A window ending in the repeated hour ends at its first pass and stays shut.
        (window("00:00:00", "03:29:59", Weekday.SUNDAY), utc(2026, 10, 25, 0, 29, 59), True),
        (window("00:00:00", "03:29:59", Weekday.SUNDAY), utc(2026, 10, 25, 0, 30), False),
        (window("00:00:00", "03:29:59", Weekday.SUNDAY), utc(2026, 10, 25, 1, 15), False),
    ],
)
def test_contains_across_dst(win: Window, now: dt.datetime, expected: bool) -> None:
    assert contains(win, now, RIGA) is expected


def test_ends_at_and_next_boundary_across_dst() -> None:
    night = window("22:00:00", "05:59:59", Weekday.SATURDAY)
    # Saturday 22:00 EET = 20:00 UTC; Sunday 06:00 EEST = 03:00 UTC: seven hours, not eight.
    assert next_boundary([night], utc(2026, 3, 28, 12, 0), RIGA) == utc(2026, 3, 28, 20, 0)
    assert ends_at(night, utc(2026, 3, 28, 21, 0), RIGA) == utc(2026, 3, 29, 3, 0)
    # In autumn the same night lasts nine hours: 19:00 UTC to 04:00 UTC.
    assert ends_at(night, utc(2026, 10, 24, 20, 0), RIGA) == utc(2026, 10, 25, 4, 0)
    # A window ending inside the skipped hour closes when the clock jumps.
    early = window("01:00:00", "03:29:59", Weekday.SUNDAY)
    assert ends_at(early, utc(2026, 3, 28, 23, 30), RIGA) == utc(2026, 3, 29, 1, 0)
    # Lord Howe: the 02:00-02:29:59 window does not open on the day of the half-hour skip.
    skipped = window("02:00:00", "02:29:59", Weekday.SUNDAY)
    assert next_boundary([skipped], utc(2026, 10, 3, 12, 0), LORD_HOWE) == utc(2026, 10, 10, 15, 0)
    # A weekly window skipped this Sunday next opens the Sunday after, two weeks ahead.
    sunday_3am = window("03:00:00", "03:59:59", Weekday.SUNDAY)
    assert next_boundary([sunday_3am], utc(2026, 3, 23, 12, 0), RIGA) == utc(2026, 4, 5, 0, 0)


# -- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("+02:00", dt.timedelta(hours=2)),
        ("-05:30", -dt.timedelta(hours=5, minutes=30)),
        ("+05:30", dt.timedelta(hours=5, minutes=30)),
        ("-00:00", dt.timedelta(0)),  # the customer's default
        ("+14:00", dt.timedelta(hours=14)),
    ],
)
def test_parse_time_zone_offsets(text: str, offset: dt.timedelta) -> None:
    assert parse_time_zone(text).utcoffset(None) == offset


def test_parse_time_zone_names() -> None:
    assert parse_time_zone("Europe/Riga") == RIGA
    assert parse_time_zone(" UTC ").utcoffset(dt.datetime(2026, 1, 1)) == dt.timedelta(0)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("-00:00", "UTC"),  # the customer's default: UTC, not a bare "-00:00"
        ("+00:00", "UTC"),
        ("+02:00", "UTC+02:00"),
        ("-05:30", "UTC-05:30"),
        ("Europe/Riga", "Europe/Riga"),
    ],
)
def test_a_zone_is_named_for_the_pages(text: str, name: str) -> None:
    assert time_zone_name(parse_time_zone(text)) == name


@pytest.mark.parametrize("text", ["", "+24:00", "+02:60", "Mars/Olympus", "../etc/passwd", "2"])
def test_parse_time_zone_rejects(text: str) -> None:
    with pytest.raises(InvalidValueError, match="time-zone"):
        parse_time_zone(text)


@given(st.text(max_size=40))
def test_parse_time_zone_only_raises_invalid_value(text: str) -> None:
    with contextlib.suppress(InvalidValueError):
        parse_time_zone(text)


def test_weekdays_text() -> None:
    assert (
        parse_weekdays("sunday,monday,tuesday,wednesday,thursday,friday,saturday") == ALL_WEEKDAYS
    )
    assert parse_weekdays("") == frozenset()
    assert parse_weekdays("Friday, monday") == {Weekday.MONDAY, Weekday.FRIDAY}
    assert format_weekdays({Weekday.SATURDAY, Weekday.SUNDAY, Weekday.MONDAY}) == (
        "sunday,monday,saturday"
    )
    with pytest.raises(InvalidValueError, match="weekdays"):
        parse_weekdays("funday")


@pytest.mark.parametrize(("frm", "till"), [(-1, 10), (0, DAY_SECONDS), (DAY_SECONDS, 0)])
def test_window_times_are_within_a_day(frm: int, till: int) -> None:
    with pytest.raises(InvalidValueError):
        Window(frm, till)


def test_weekday_of_a_date() -> None:
    assert [Weekday.of(MONDAY + dt.timedelta(days=i)) for i in range(-1, 6)] == list(DAYS)


# -- properties -------------------------------------------------------------------------------

ZONES = [UTC, INDIA, NEWFOUNDLAND_STD, RIGA, LORD_HOWE, zoneinfo.ZoneInfo("America/New_York")]
# Times of day on the half hour are likelier to meet a DST change's skipped or repeated hour.
times_of_day = st.integers(0, DAY_SECONDS - 1) | st.integers(0, 47).map(lambda n: n * 1800)
windows_st = st.builds(Window, times_of_day, times_of_day, st.frozensets(st.sampled_from(DAYS)))
moments = st.datetimes(
    min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 12, 31), timezones=st.just(UTC)
)
# Moments within two days of a DST change, with its zone.
DST_CHANGES = [
    (RIGA, utc(2026, 3, 29, 1, 0)),
    (RIGA, utc(2026, 10, 25, 1, 0)),
    (zoneinfo.ZoneInfo("America/New_York"), utc(2026, 3, 8, 7, 0)),
    (zoneinfo.ZoneInfo("America/New_York"), utc(2026, 11, 1, 6, 0)),
    (LORD_HOWE, utc(2026, 4, 4, 15, 0)),
    (LORD_HOWE, utc(2026, 10, 3, 15, 30)),
]
near_dst = st.sampled_from(DST_CHANGES).flatmap(
    lambda change: st.tuples(
        st.timedeltas(-dt.timedelta(days=2), dt.timedelta(days=2)).map(lambda d: change[1] + d),
        st.just(change[0]),
    )
)
moments_and_zones = st.tuples(moments, st.sampled_from(ZONES)) | near_dst
TICK = dt.timedelta(microseconds=1)


@settings(max_examples=100, deadline=None)
@given(windows_st, moments_and_zones)
def test_an_open_window_closes_later_and_is_open_until_then(
    win: Window, now_tz: tuple[dt.datetime, dt.tzinfo]
) -> None:
    now, tz = now_tz
    end = ends_at(win, now, tz)
    if not contains(win, now, tz):
        assert end is None
        return
    if end is None:
        assert win.always
        return
    assert end > now
    assert contains(win, end - TICK, tz)
    assert not contains(win, end, tz)


@settings(max_examples=100, deadline=None)
@given(st.lists(windows_st, max_size=3), moments_and_zones)
def test_nothing_changes_before_the_next_boundary(
    wins: list[Window], now_tz: tuple[dt.datetime, dt.tzinfo]
) -> None:
    now, tz = now_tz
    boundary = next_boundary(wins, now, tz)
    states = [contains(w, now, tz) for w in wins]
    if boundary is None:
        assert all(w.always or not w.weekdays for w in wins)
        return
    assert boundary > now
    middle = now + (boundary - now) / 2
    assert [contains(w, middle, tz) for w in wins] == states
    assert [contains(w, boundary - TICK, tz) for w in wins] == states
    assert [contains(w, boundary, tz) for w in wins] != states


def wall_clock_oracle(win: Window, now: dt.datetime, tz: dt.tzinfo) -> bool:
    """The rule read straight off a clock without daylight saving time."""
    local = now.astimezone(tz)
    seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    today = Weekday.of(local.date()) in win.weekdays
    yesterday = Weekday.of(local.date() - dt.timedelta(days=1)) in win.weekdays
    if win.from_time <= win.till_time:
        return today and win.from_time <= seconds < win.till_time + 1
    return (today and seconds >= win.from_time) or (yesterday and seconds < win.till_time + 1)


@settings(max_examples=100, deadline=None)
@given(windows_st, moments, st.sampled_from([UTC, INDIA, NEWFOUNDLAND_STD]))
def test_fixed_offsets_follow_the_wall_clock(win: Window, now: dt.datetime, tz: dt.tzinfo) -> None:
    assert contains(win, now, tz) is wall_clock_oracle(win, now, tz)
