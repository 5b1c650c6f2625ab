"""The RouterOS value grammar: tables of forms (the manual's examples first), errors, round trips.

Sources: the manual beside DESIGN.md, wiki "User Manager/Character constants" and "/Limiting".
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, time, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from userman.core import values
from userman.core.errors import InvalidValueError
from userman.core.values import (
    format_bool,
    format_count,
    format_datetime,
    format_duration,
    format_rate,
    format_set,
    format_size,
    format_time_of_day,
    parse_bool,
    parse_count,
    parse_datetime,
    parse_duration,
    parse_rate,
    parse_set,
    parse_size,
    parse_time_of_day,
)

WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
LOG = ("auth-ok", "auth-fail", "acct-ok", "acct-fail")


def test_all_is_pinned() -> None:
    kinds = ("bool", "count", "datetime", "duration", "rate", "set", "size", "time_of_day")
    assert sorted(values.__all__) == sorted(
        f"{way}_{kind}" for way in ("parse", "format") for kind in kinds
    )


# -- durations -------------------------------------------------------------------------------

DURATIONS = [
    # the manual and wiki "User Manager/Character constants"
    ("1d02:30:00", timedelta(days=1, hours=2, minutes=30)),
    ("4w2d", timedelta(days=30)),
    ("30d", timedelta(days=30)),
    ("30m", timedelta(minutes=30)),
    ("1h48m42s", timedelta(hours=1, minutes=48, seconds=42)),
    ("2d2h", timedelta(hours=50)),
    ("2w30m", timedelta(minutes=20190)),
    ("3h", timedelta(hours=3)),
    # exports (research notes: `0s`, `23h59m59s`)
    ("0s", timedelta(0)),
    ("23h59m59s", timedelta(hours=23, minutes=59, seconds=59)),
    # clocks
    ("02:30:00", timedelta(hours=2, minutes=30)),
    ("00:30", timedelta(minutes=30)),
    ("8:00", timedelta(hours=8)),
    ("25:00:00", timedelta(hours=25)),
    ("1w2d03:04:05", timedelta(days=9, hours=3, minutes=4, seconds=5)),
    ("00:00:01.5", timedelta(milliseconds=1500)),
    # bare seconds, milliseconds, case and spaces
    ("90", timedelta(seconds=90)),
    ("0", timedelta(0)),
    ("500ms", timedelta(milliseconds=500)),
    ("1s500ms", timedelta(milliseconds=1500)),
    ("1m500ms", timedelta(minutes=1, milliseconds=500)),
    ("1D", timedelta(days=1)),
    (" 10m ", timedelta(minutes=10)),
    ("90m", timedelta(minutes=90)),
]


@pytest.mark.parametrize(("text", "expected"), DURATIONS)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(hours=1, minutes=48, seconds=42), "1h48m42s"),
        (timedelta(days=30), "4w2d"),
        (timedelta(days=1, hours=2, minutes=30), "1d2h30m"),
        (timedelta(minutes=30), "30m"),
        (timedelta(hours=23, minutes=59, seconds=59), "23h59m59s"),
        (timedelta(milliseconds=1500), "1s500ms"),
        (timedelta(seconds=1, microseconds=999), "1s"),
    ],
)
def test_format_duration(td: timedelta, text: str) -> None:
    assert format_duration(td) == text


@pytest.mark.parametrize(
    "text",
    ["", "1x", "1h1h", "30s1m", "1.5h", "-1h", "h", "1d 2h", "02:60:00", "02:30:60", "1h02:00:00"],
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        parse_duration(text, "uptime-limit")
    assert info.value.prop == "uptime-limit"
    assert "is not a time (examples: 30m, 1h30m, 1d02:00:00)" in info.value.reason


def test_parse_duration_message_is_for_a_person() -> None:
    with pytest.raises(InvalidValueError) as info:
        parse_duration("1x", "uptime-limit")
    assert str(info.value) == 'uptime-limit: "1x" is not a time (examples: 30m, 1h30m, 1d02:00:00)'


def test_parse_duration_too_long() -> None:
    with pytest.raises(InvalidValueError, match="too long"):
        parse_duration("99999999999w")


def test_format_duration_rejects_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_duration(timedelta(seconds=-1))


@given(st.integers(min_value=0, max_value=10**13).map(lambda ms: timedelta(milliseconds=ms)))
def test_duration_round_trip(td: timedelta) -> None:
    assert parse_duration(format_duration(td)) == td


@given(st.text(max_size=20))
def test_parse_duration_only_raises_invalid_value(text: str) -> None:
    with contextlib.suppress(InvalidValueError):
        parse_duration(text)


# -- sizes and rates -------------------------------------------------------------------------

SIZES = [
    ("0", 0),
    ("1073741824", 1024**3),
    ("1G", 1024**3),  # wiki "User Manager/Limiting": 1GB = 1073741824 bytes
    ("10M", 10 * 1024**2),
    ("512k", 512 * 1024),
    ("512K", 512 * 1024),
    ("2T", 2 * 1024**4),
    ("0B", 0),  # v6 exports
    ("6291456B", 6291456),
    ("1GiB", 1024**3),
    ("1gb", 1024**3),
]


@pytest.mark.parametrize(("text", "expected"), SIZES)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0"), (1024**3, "1G"), (1536 * 1024**2, "1536M"), (1000, "1000"), (512 * 1024, "512k")],
)
def test_format_size(n: int, text: str) -> None:
    assert format_size(n) == text


@pytest.mark.parametrize("text", ["", "1.5G", "-1", "1P", "G", "10 M", "1x"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(InvalidValueError, match=r"^download-limit: .* is not a size in bytes"):
        parse_size(text, "download-limit")


RATES = [
    ("0", 0),
    ("512k", 512_000),
    ("10M", 10_000_000),
    ("1G", 1_000_000_000),
    ("64000", 64_000),
    ("10m", 10_000_000),
    ("6291456B", 6291456),
    ("2Mbps", 2_000_000),
]


@pytest.mark.parametrize(("text", "expected"), RATES)
def test_parse_rate(text: str, expected: int) -> None:
    assert parse_rate(text) == expected


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0"), (512_000, "512k"), (10_000_000, "10M"), (10**9, "1G"), (1_500_000, "1500k")],
)
def test_format_rate(n: int, text: str) -> None:
    assert format_rate(n) == text


@pytest.mark.parametrize("text", ["", "1T", "1.5M", "fast", "-5k"])
def test_parse_rate_rejects(text: str) -> None:
    with pytest.raises(InvalidValueError, match=r"^rate-limit-rx: .* is not a rate in bits/s"):
        parse_rate(text, "rate-limit-rx")


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_size_round_trip(n: int) -> None:
    assert parse_size(format_size(n)) == n


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_rate_round_trip(n: int) -> None:
    assert parse_rate(format_rate(n)) == n


@pytest.mark.parametrize("text", ["9223372036854775808", "8589934592G", "99999999999999999999999"])
def test_parse_size_too_large(text: str) -> None:
    with pytest.raises(InvalidValueError, match=r"too large|is not a size"):
        parse_size(text, "transfer-limit")


def test_format_size_rejects_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_size(-1)


# -- yes/no, sets, counts --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("yes", True), ("no", False), ("true", True), ("false", False), ("YES", True)],
)
def test_parse_bool(text: str, expected: bool) -> None:
    assert parse_bool(text) is expected
    assert parse_bool(format_bool(expected)) is expected


@pytest.mark.parametrize("text", ["", "y", "1", "on"])
def test_parse_bool_rejects(text: str) -> None:
    with pytest.raises(InvalidValueError, match=r"^disabled: .* is not yes or no$"):
        parse_bool(text, "disabled")


def test_format_bool() -> None:
    assert (format_bool(True), format_bool(False)) == ("yes", "no")


@pytest.mark.parametrize(
    ("text", "allowed", "expected"),
    [
        ("monday,friday", WEEKDAYS, {"monday", "friday"}),  # the manual's weekdays
        ("auth-fail,acct-ok", LOG, {"auth-fail", "acct-ok"}),
        ("auth-fail", LOG, {"auth-fail"}),
        ("", WEEKDAYS, set()),
        ("monday,monday", WEEKDAYS, {"monday"}),
        (
            "own-routers,own-users",
            {"own-routers", "own-users", "own-limits"},
            {"own-routers", "own-users"},
        ),
    ],
)
def test_parse_set(text: str, allowed: tuple[str, ...], expected: set[str]) -> None:
    assert parse_set(text, "weekdays", allowed) == frozenset(expected)


def test_parse_set_names_the_unknown_member_and_lists_allowed() -> None:
    with pytest.raises(InvalidValueError) as info:
        parse_set("monday,funday", "weekdays", WEEKDAYS)
    assert str(info.value) == (
        'weekdays: "funday" is not one of: '
        "sunday, monday, tuesday, wednesday, thursday, friday, saturday"
    )


def test_parse_set_lists_an_unordered_allowed_set_sorted() -> None:
    with pytest.raises(InvalidValueError, match=r"is not one of: a, b, c$"):
        parse_set("d", "x", {"c", "a", "b"})


def test_parse_set_rejects_an_empty_member() -> None:
    with pytest.raises(InvalidValueError, match="empty member"):
        parse_set("monday,,friday", "weekdays", WEEKDAYS)


def test_format_set_uses_the_given_order() -> None:
    assert format_set({"friday", "monday"}, WEEKDAYS) == "monday,friday"
    assert format_set(frozenset(), WEEKDAYS) == ""
    with pytest.raises(ValueError, match="funday"):
        format_set({"funday"}, WEEKDAYS)


@given(st.sets(st.sampled_from(WEEKDAYS)))
def test_set_round_trip(days: set[str]) -> None:
    assert parse_set(format_set(days, WEEKDAYS), "weekdays", WEEKDAYS) == days


@pytest.mark.parametrize(
    ("text", "expected"), [("1", 1), ("0", 0), ("unlimited", None), ("Unlimited", None), ("25", 25)]
)
def test_parse_count(text: str, expected: int | None) -> None:
    assert parse_count(text, "shared-users") == expected
    assert parse_count(format_count(expected), "shared-users") == expected


def test_parse_count_rejects() -> None:
    with pytest.raises(
        InvalidValueError, match=r'^shared-users: "many" is not a number or unlimited'
    ):
        parse_count("many", "shared-users")
    with pytest.raises(InvalidValueError, match=r'^priority: "unlimited" is not a whole number$'):
        parse_count("unlimited", "priority", allow_unlimited=False)
    with pytest.raises(InvalidValueError, match=r"^shared-users: 0 is less than the minimum 1$"):
        parse_count("0", "shared-users", minimum=1)
    with pytest.raises(InvalidValueError):
        parse_count("-1", "shared-users")


def test_format_count() -> None:
    assert (format_count(None), format_count(3)) == ("unlimited", "3")


# -- time of day and date-time ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("08:00:00", time(8)),
        ("8:00", time(8)),
        ("23:59:59", time(23, 59, 59)),
        ("00:00:00", time(0)),
        ("0s", time(0)),  # exports print from-time/till-time as times since midnight
        ("6h", time(6)),
        ("23h59m59s", time(23, 59, 59)),
        ("8", time(0, 0, 8)),  # a bare number is seconds, as in every RouterOS time
    ],
)
def test_parse_time_of_day(text: str, expected: time) -> None:
    assert parse_time_of_day(text) == expected


@pytest.mark.parametrize("text", ["24:00:00", "8:60", "12:00:60", "1d", "noon", "", "1s500ms"])
def test_parse_time_of_day_rejects(text: str) -> None:
    with pytest.raises(InvalidValueError, match=r"^from-time: .* is not a time of day"):
        parse_time_of_day(text, "from-time")


@given(st.times().map(lambda t: t.replace(microsecond=0)))
def test_time_of_day_round_trip(value: time) -> None:
    assert parse_time_of_day(format_time_of_day(value)) == value


def test_format_time_of_day() -> None:
    assert format_time_of_day(time(8, 5, 3)) == "08:05:03"


def test_datetime_as_the_manual_prints_it() -> None:
    dt = datetime(2019, 5, 23, 8, 55, 43)
    assert format_datetime(dt) == "may/23/2019 08:55:43"
    assert parse_datetime("may/23/2019 08:55:43") == dt
    assert parse_datetime("May/23/2019 08:55:43") == dt
    assert parse_datetime("may/23/2019") == datetime(2019, 5, 23)


def test_parse_datetime_iso_and_time_zone() -> None:
    utc = UTC
    assert parse_datetime("2019-05-23T08:55:43") == datetime(2019, 5, 23, 8, 55, 43)
    assert parse_datetime("2019-05-23T08:55:43+00:00") == datetime(
        2019, 5, 23, 8, 55, 43, tzinfo=utc
    )
    assert parse_datetime("may/23/2019 08:55:43", tz=utc) == datetime(
        2019, 5, 23, 8, 55, 43, tzinfo=utc
    )
    plus2 = timezone(timedelta(hours=2))
    assert parse_datetime("2019-05-23T08:55:43+02:00", tz=utc).tzinfo == plus2


@pytest.mark.parametrize(
    "text",
    ["", "mai/23/2019 08:55:43", "feb/30/2019 00:00:00", "may/23/2019 25:00:00", "yesterday"],
)
def test_parse_datetime_rejects(text: str) -> None:
    with pytest.raises(InvalidValueError, match=r"^till-time: .* is not a date and time"):
        parse_datetime(text, "till-time")


@given(st.datetimes(min_value=datetime(1000, 1, 1)).map(lambda d: d.replace(microsecond=0)))
def test_datetime_round_trip(dt: datetime) -> None:
    assert parse_datetime(format_datetime(dt)) == dt
