"""Times as the pages show them: in the viewer's time zone, named.

A customer's pages use its `time-zone`, a user's page its customer's (the zone its windows and
counter resets follow); `-00:00`, the default, is UTC. The services give aware UTC datetimes,
or `print`'s text (`dec/05/2026 17:39:51`, UTC); the templates turn either into the zone's wall
time with the filters `when` (the user page: `2026-12-05 19:39`) and `stamp` (the customer
pages: print's form), and name the zone (`zone_name`) beside them. A form's date and time is
typed in the same zone (`to_utc_text`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request
from jinja2 import pass_context
from jinja2.runtime import Context

from userman.core.errors import InvalidValueError
from userman.core.values import format_datetime, parse_datetime
from userman.core.windows import parse_time_zone, time_zone_name

__all__ = [
    "local",
    "remember_zone",
    "shown_zone",
    "stamp",
    "to_utc_text",
    "when",
    "zone_of",
]


def remember_zone(request: Request, tz: dt.tzinfo) -> None:
    """The zone of whoever looks at this page (a customer's; the user page passes its own)."""
    request.state.zone = tz


def zone_of(request: Request) -> dt.tzinfo:
    zone: dt.tzinfo = getattr(request.state, "zone", dt.UTC)
    return zone


def local(value: object, tz: dt.tzinfo) -> dt.datetime | None:
    """An aware datetime, or print's text of one (UTC), as the wall time in `tz`."""
    if isinstance(value, str) and value:
        try:
            value = parse_datetime(value, tz=dt.UTC)
        except InvalidValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    if value.tzinfo is None:  # stored without a zone: UTC, as the manual's "stored as GMT"
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(tz)


def _zone(context: Context) -> dt.tzinfo:
    zone = context.get("zone")
    return zone if isinstance(zone, dt.tzinfo) else dt.UTC


@pass_context
def when(context: Context, value: object, part: str = "") -> str:
    """The user page's form, minutes (`part`: only the "date" or the "time")."""
    moment = local(value, _zone(context))
    if moment is None:
        return "" if not isinstance(value, str) else value
    shown = {"date": "%Y-%m-%d", "time": "%H:%M"}.get(part, "%Y-%m-%d %H:%M")
    return moment.strftime(shown)


@pass_context
def stamp(context: Context, value: object) -> str:
    """The customer pages' form, print's `dec/05/2026 19:39:51`, in the viewer's zone."""
    moment = local(value, _zone(context))
    if moment is None:
        return "" if not isinstance(value, str) else value
    return format_datetime(moment)


def to_utc_text(text: str, tz: dt.tzinfo, prop: str) -> str:
    """A date and time typed in `tz` as the services take it: ISO 8601 with its offset (an
    offset typed wins). Text that is no date is passed on, for the services to refuse."""
    try:
        moment = parse_datetime(text, prop, tz=tz)
    except InvalidValueError:
        return text
    return moment.isoformat()


def shown_zone(text: str) -> str:
    """A `time-zone` property as the pages show it: UTC however it is written (`-00:00`, the
    default, or `+00:00`), any other as written (a form sends it back as it is)."""
    if not text.strip():
        return "UTC"
    try:
        zone = parse_time_zone(text)
    except InvalidValueError:
        return text
    return "UTC" if zone.utcoffset(None) == dt.timedelta(0) else text.strip()


def install(env: Any) -> None:
    """The filters on the templates' Jinja environment: `when`, `stamp`, `zone_name`."""
    env.filters.update(when=when, stamp=stamp, zone_name=time_zone_name)
