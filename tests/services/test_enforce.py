"""Limits during a session on a use-coa router (services/enforce.py): a window boundary, the end
of the running profile and an edit of limits are asked again at a chosen `now`, and queue a
CoA-Request with the new reply attributes, or a Disconnect-Request when access ended."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from inmemory import accounting, do, exchange, make_app
from userman.services import Actor, Userman, enforce
from userman.services.coa import Answer, CoaJob, Result
from userman.store import models

DAY = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)  # a Monday noon, UTC (the customer's zone)


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Userman]:
    userman = make_app(tmp_path, sqlite_template)
    do(userman, "router set", "r", **{"use-coa": "yes", "coa-port": "3799"})
    do(userman, "profile add", name="open", validity="0s", **{"starts-at": "now"})
    do(userman, "limitation add", name="day", **{"rate-limit-rx": "10M", "rate-limit-tx": "20M"})
    do(userman, "limitation add", name="night", **{"rate-limit-rx": "1M", "rate-limit-tx": "2M"})
    yield userman
    userman.close()


def bind(app: Userman, profile: str, limitation: str, since: str, till: str) -> None:
    args = {"from-time": since, "till-time": till}
    do(app, "profile-limitation add", profile=profile, limitation=limitation, **args)


def start(app: Userman, at: dt.datetime | None = None, session: str = "s1") -> None:
    """An Accounting-Start dated `at` (Event-Timestamp), or now."""
    extra: dict[str, object] = {"Framed-IP-Address": "10.5.0.7"}
    if at is not None:
        extra["Event-Timestamp"] = at
    exchange(app, accounting("test", "Start", session, **extra), acct=True)


def queued(app: Userman) -> list[tuple[str, str, dict[str, str]]]:
    """(kind, cause, attributes by name) of every request, oldest first."""
    with app.database.begin() as db:
        rows = db.scalars(select(models.CoaRequest).order_by(models.CoaRequest.id))
        return [(r.kind, r.cause, dict(json.loads(r.attributes))) for r in rows]


def sweep(app: Userman, at: dt.datetime) -> dt.datetime | None:
    return enforce.sweep(app.database, at)


def day_and_night(app: Userman) -> None:
    bind(app, "open", "day", "08:00:00", "19:59:59")
    bind(app, "open", "night", "20:00:00", "07:59:59")
    do(app, "user create-and-activate-profile", "test", profile="open")


def test_a_window_boundary_into_another_limitation_sends_its_rate_as_a_coa(app: Userman) -> None:
    day_and_night(app)
    start(app, DAY)
    assert sweep(app, DAY + dt.timedelta(hours=1)) == DAY.replace(hour=20)
    assert queued(app) == []  # nothing changed yet
    evening = DAY.replace(hour=20, second=5)
    assert sweep(app, evening) == DAY.replace(hour=8) + dt.timedelta(days=1)
    [(kind, cause, attrs)] = queued(app)
    assert (kind, cause) == ("coa", "um-limits-changed")
    assert attrs["Mikrotik-Rate-Limit"] == "1M/2M"
    # The session is named as in a Disconnect (RFC 5176 3).
    assert (attrs["User-Name"], attrs["Acct-Session-Id"]) == ("test", "s1")
    assert (attrs["Framed-IP-Address"], attrs["NAS-IP-Address"]) == ("10.5.0.7", "127.0.0.1")
    # Covered day and night: the windows never end the session, so no Session-Timeout.
    assert "Session-Timeout" not in attrs
    sweep(app, evening + dt.timedelta(minutes=1))
    assert len(queued(app)) == 1  # told once
    [job] = app.claim_coa(evening, 10)
    app.record_coa(job, Result(Answer.ACK, 1), evening)
    sweep(app, DAY.replace(hour=8, second=1) + dt.timedelta(days=1))
    assert [a["Mikrotik-Rate-Limit"] for _, _, a in queued(app)] == ["1M/2M", "10M/20M"]


def test_the_window_closing_with_none_after_it_disconnects(app: Userman) -> None:
    bind(app, "open", "day", "08:00:00", "19:59:59")
    do(app, "user create-and-activate-profile", "test", profile="open")
    start(app, DAY)
    sweep(app, DAY.replace(hour=19, minute=59))
    assert queued(app) == []
    sweep(app, DAY.replace(hour=20, second=1))
    [(kind, cause, attrs)] = queued(app)
    assert (kind, cause, attrs["Acct-Session-Id"]) == ("disconnect", "um-limits-changed", "s1")
    sweep(app, DAY.replace(hour=20, minute=1))
    assert len(queued(app)) == 1


def test_the_running_profile_ending_with_none_next_disconnects(app: Userman) -> None:
    do(app, "user create-and-activate-profile", "test", profile="p")  # 1d from now
    start(app)
    now = dt.datetime.now(dt.UTC)
    sweep(app, now + dt.timedelta(hours=23))
    assert queued(app) == []
    sweep(app, now + dt.timedelta(days=1, seconds=1))
    assert [(kind, cause) for kind, cause, _ in queued(app)] == [
        ("disconnect", "um-limits-changed")
    ]


def test_the_next_profile_takes_over_the_open_session_with_a_coa(app: Userman) -> None:
    bind(app, "p", "day", "00:00:00", "23:59:59")
    bind(app, "open", "night", "00:00:00", "23:59:59")
    do(app, "user create-and-activate-profile", "test", profile="p")  # 1d from now
    do(app, "user create-and-activate-profile", "test", profile="open")  # waits
    start(app)
    now = dt.datetime.now(dt.UTC)
    later = now + dt.timedelta(days=1, seconds=1)
    sweep(app, later)
    [(kind, cause, attrs)] = queued(app)
    assert (kind, cause, attrs["Mikrotik-Rate-Limit"]) == ("coa", "um-limits-changed", "1M/2M")
    states = app.execute(Actor.superuser(), ("user-profile",), "print").items
    assert [item.json["state"] for item in states] == ["used", "running-active"]


@pytest.mark.parametrize(
    ("command", "key", "args", "rate"),
    [
        ("limitation set", "day", {"rate-limit-rx": "5M"}, "5M/20M"),
        ("profile-limitation set", "0", {"limitation": "night"}, "1M/2M"),
        ("user-profile set", "0", {"profile": "p"}, None),
    ],
)
def test_an_edit_of_the_limits_sends_a_coa_in_its_own_transaction(
    app: Userman, command: str, key: str, args: dict[str, str], rate: str | None
) -> None:
    bind(app, "open", "day", "00:00:00", "23:59:59")
    do(app, "user create-and-activate-profile", "test", profile="open")
    start(app)
    do(app, "limitation set", "day", comment="nothing the router sees")
    assert queued(app) == []
    do(app, command, key, **args)
    [(kind, _, attrs)] = queued(app)
    assert kind == "coa"
    assert attrs.get("Mikrotik-Rate-Limit") == rate


def test_adding_and_removing_a_profile_limitation_send_a_coa_at_once(app: Userman) -> None:
    bind(app, "open", "day", "00:00:00", "23:59:59")
    do(app, "user create-and-activate-profile", "test", profile="open")
    start(app)
    bind(app, "open", "night", "00:00:00", "23:59:59")  # now both apply
    [(kind, _, attrs)] = queued(app)
    assert (kind, attrs["Mikrotik-Rate-Limit"]) == ("coa", "1M/2M")
    do(app, "profile-limitation remove", "1")  # the night one again
    # The CoA still waiting takes the newer attributes rather than queueing a second one.
    [(kind, _, attrs)] = queued(app)
    assert (kind, attrs["Mikrotik-Rate-Limit"]) == ("coa", "10M/20M")


def test_a_coa_carries_the_whole_session_s_timeout(app: Userman) -> None:
    do(app, "limitation set", "day", **{"uptime-limit": "2h"})
    bind(app, "open", "day", "00:00:00", "23:59:59")
    do(app, "user create-and-activate-profile", "test", profile="open")
    start(app, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10))
    do(app, "limitation set", "day", **{"rate-limit-rx": "5M"})
    # Session-Timeout counts from the session's start (RFC 2865 5.27): the 10 minutes gone,
    # and the 2 hours left (the session has not reported uptime yet).
    [(_, _, attrs)] = queued(app)
    assert abs(int(attrs["Session-Timeout"]) - (600 + 7200)) <= 5


def test_a_router_without_coa_is_left_alone(app: Userman) -> None:
    do(app, "router set", "r", **{"use-coa": "no"})
    day_and_night(app)
    start(app, DAY)
    assert sweep(app, DAY.replace(hour=21)) is None
    do(app, "limitation set", "night", **{"rate-limit-rx": "5M"})
    assert queued(app) == []


def test_a_pending_coa_takes_the_newer_attributes(app: Userman) -> None:
    bind(app, "open", "day", "00:00:00", "23:59:59")
    do(app, "user create-and-activate-profile", "test", profile="open")
    start(app)
    do(app, "limitation set", "day", **{"rate-limit-rx": "5M"})
    do(app, "limitation set", "day", **{"rate-limit-rx": "6M"})
    assert [a["Mikrotik-Rate-Limit"] for _, _, a in queued(app)] == ["6M/20M"]


def test_a_nak_to_a_coa_falls_back_to_a_disconnect(app: Userman) -> None:
    bind(app, "open", "day", "00:00:00", "23:59:59")
    do(app, "user create-and-activate-profile", "test", profile="open")
    start(app)
    do(app, "limitation set", "day", **{"rate-limit-rx": "5M"})
    now = dt.datetime.now(dt.UTC)
    [job] = app.claim_coa(now, 10)
    assert isinstance(job, CoaJob)
    app.record_coa(job, Result(Answer.NAK, 1, "NAK"), now)
    assert [(kind, cause) for kind, cause, _ in queued(app)] == [
        ("coa", "um-limits-changed"),
        ("disconnect", "um-limits-changed"),
    ]


def test_a_session_open_before_the_upgrade_gets_a_fingerprint_without_a_coa(
    app: Userman,
) -> None:
    day_and_night(app)
    start(app, DAY)
    with app.database.begin() as db:
        db.scalars(select(models.UserSession)).one().reply_digest = ""
    sweep(app, DAY.replace(hour=21))
    assert queued(app) == []
    sweep(app, DAY.replace(hour=8) + dt.timedelta(days=1))
    assert [kind for kind, _, _ in queued(app)] == ["coa"]
