"""Accounting rules on the wire (RFC 2866 5, RFC 2869 5.3): Accounting-On/Off, and the
time a record is dated to; through the server with an in-memory transport."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from inmemory import D, access_request, accounting, do, exchange
from userman.radius.packet import Code, decode
from userman.services import Actor, Userman
from userman.store import models

ROOT = Actor.superuser()


def test_accounting_on_closes_the_routers_open_sessions(app: Userman) -> None:
    # RFC 2866 5.1 Accounting-On: the router restarted, so none of its sessions goes on.
    exchange(app, accounting("test", "Start", "s1"), acct=True)
    exchange(app, accounting("test", "Start", "s2"), acct=True)
    _, [(reply, _, _)] = exchange(app, accounting("", "Accounting-On", ""), acct=True)
    assert decode(reply, D).code is Code.ACCOUNTING_RESPONSE
    sessions = [s.json for s in app.execute(ROOT, ("session",), "print").items]
    assert [(s["active"], s["terminate-cause"]) for s in sessions] == [(False, "nas-reboot")] * 2


def test_acct_delay_time_and_event_timestamp_date_the_record(app: Userman) -> None:
    exchange(app, accounting("test", "Start", "late", **{"Acct-Delay-Time": 600}), acct=True)
    stamp = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    exchange(app, accounting("test", "Start", "stamped", **{"Event-Timestamp": stamp}), acct=True)
    late, stamped = (s.json for s in app.execute(ROOT, ("session",), "print").items)
    started = dt.datetime.strptime(str(late["from-time"]), "%b/%d/%Y %H:%M:%S")
    assert dt.datetime.now(dt.UTC).replace(tzinfo=None) - started >= dt.timedelta(seconds=590)
    assert stamped["from-time"] == "jan/02/2026 03:04:05"


def test_sessions_without_updates_are_closed_as_stale(app: Userman) -> None:
    # The manual's FAQ: sessions without a Stop stay active; here they close once they missed
    # three interim updates (serve sweeps them once a minute).
    exchange(app, accounting("test", "Start", "old"), acct=True)
    now = dt.datetime.now(dt.UTC)
    assert app.close_stale(now - dt.timedelta(minutes=15), now) == 0
    later = now + dt.timedelta(minutes=16)
    assert app.close_stale(later - dt.timedelta(minutes=15), later) == 1
    [session] = app.execute(ROOT, ("session",), "print").items
    assert (session.json["active"], session.json["terminate-cause"]) == (False, "stale")


def test_disconnect_oldest_makes_room_for_a_new_logon(app: Userman) -> None:
    do(app, "router set", "r", **{"on-shared-users-limit": "disconnect-oldest", "use-coa": "yes"})
    do(app, "user set", "test", **{"shared-users": "1"})
    do(app, "user create-and-activate-profile", "test", profile="p")
    exchange(app, accounting("test", "Start", "first"), acct=True)
    _, data = access_request("test", "test")
    _, [(reply, _, _)] = exchange(app, data)
    assert decode(reply, D).code is Code.ACCESS_ACCEPT
    [session] = (s.json for s in app.execute(ROOT, ("session",), "print").items)
    assert (session["active"], session["terminate-cause"]) == (False, "um-simultaneous-sessions")
    with app.database.begin() as db:
        [queued] = db.scalars(select(models.CoaRequest)).all()
        assert (queued.kind, queued.cause) == ("disconnect", "um-simultaneous-sessions")


def test_reject_at_the_limit_stays_the_default(app: Userman) -> None:
    do(app, "user set", "test", **{"shared-users": "1"})
    do(app, "user create-and-activate-profile", "test", profile="p")
    exchange(app, accounting("test", "Start", "first"), acct=True)
    _, data = access_request("test", "test")
    _, [(reply, _, _)] = exchange(app, data)
    assert decode(reply, D).code is Code.ACCESS_REJECT


def test_the_class_of_the_accept_ties_accounting_to_the_user(app: Userman) -> None:
    # RFC 2865 5.25: the router echoes the Access-Accept's Class in its accounting, so the usage
    # reaches the user even when the router reports another User-Name (a realm added, say).
    do(app, "user create-and-activate-profile", "test", profile="p")
    _, data = access_request("test", "test")
    _, [(reply, _, _)] = exchange(app, data)
    klass = decode(reply, D).get("Class")
    assert isinstance(klass, bytes)
    exchange(
        app,
        accounting("test@realm", "Stop", "s1", Class=klass, **{"Acct-Input-Octets": 1000}),
        acct=True,
    )
    [user] = (u.json for u in app.execute(ROOT, ("user",), "print").items)
    assert user["upload-used"] == 1000
