"""Disconnect-Requests are queued (services/coa.py) in the transaction of the change that calls
for them: a session closed by hand, a user disabled or removed, limits used up by an
Interim-Update; and only for routers with use-coa=yes."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from inmemory import accounting, do, exchange, make_app
from userman.services import Userman
from userman.store import models


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Userman]:
    userman = make_app(tmp_path, sqlite_template)
    do(userman, "router set", "r", **{"use-coa": "yes", "coa-port": "3799"})
    do(userman, "user create-and-activate-profile", "test", profile="p")
    yield userman
    userman.close()


def start(app: Userman, session: str = "81d0009b") -> None:
    exchange(
        app, accounting("test", "Start", session, **{"Framed-IP-Address": "10.5.0.7"}), acct=True
    )


def queued(app: Userman) -> list[tuple[str, str, str, list[list[str]]]]:
    """(kind, cause, state, attributes) of every queued request, oldest first."""
    with app.database.begin() as db:
        rows = db.scalars(select(models.CoaRequest).order_by(models.CoaRequest.id))
        return [(r.kind, r.cause, r.state, json.loads(r.attributes)) for r in rows]


def causes(app: Userman) -> list[str]:
    return [cause for _, cause, _, _ in queued(app)]


def test_close_session_queues_a_disconnect_naming_the_session(app: Userman) -> None:
    start(app)
    do(app, "session close-session", "0")
    assert queued(app) == [
        (
            "disconnect",
            "um-admin-request",
            "pending",
            [
                ["User-Name", "test"],
                ["Acct-Session-Id", "81d0009b"],
                ["Framed-IP-Address", "10.5.0.7"],
                ["NAS-IP-Address", "127.0.0.1"],
            ],
        )
    ]
    do(app, "session close-session", "0")  # already closed: nothing more
    assert len(queued(app)) == 1


def test_nothing_is_queued_for_a_router_without_coa(app: Userman) -> None:
    do(app, "router set", "r", **{"use-coa": "no"})
    start(app)
    do(app, "session close-session", "0")
    do(app, "user disable", "test")
    do(app, "user remove", "test")
    assert queued(app) == []


@pytest.mark.parametrize(
    ("command", "args"),
    [("user disable", {}), ("user set", {"disabled": "yes"})],
)
def test_disabling_a_user_disconnects_each_active_session(
    app: Userman, command: str, args: dict[str, str]
) -> None:
    start(app, "s1")
    start(app, "s2")
    exchange(app, accounting("test", "Stop", "s2"), acct=True)  # no longer active
    do(app, command, "test", **args)
    assert [(cause, attrs[1][1]) for _, cause, _, attrs in queued(app)] == [
        ("um-user-disabled", "s1")
    ]
    do(app, "user set", "test", comment="still disabled")  # no new request for that
    assert len(queued(app)) == 1


def test_enabling_or_changing_a_user_queues_nothing(app: Userman) -> None:
    start(app)
    do(app, "user enable", "test")
    do(app, "user set", "test", disabled="no", comment="x")
    assert queued(app) == []


def test_removing_a_user_disconnects_its_sessions_first(app: Userman) -> None:
    start(app)
    do(app, "user remove", "test")
    assert causes(app) == ["um-user-deleted"]
    with app.database.begin() as db:
        acct = db.scalars(select(models.UserSession)).one()
        request = db.scalars(select(models.CoaRequest)).one()
        assert (acct.user_id, request.session_id) == (None, acct.id)


def test_an_interim_update_that_uses_up_a_limit_queues_one_disconnect(app: Userman) -> None:
    do(app, "profile limitation add", name="l", **{"download-limit": "1000"})
    do(app, "profile profile-limitation add", profile="p", limitation="l")
    do(app, "user create-and-activate-profile", "test", profile="p")
    start(app)
    interim = "Interim-Update"
    exchange(app, accounting("test", interim, **{"Acct-Output-Octets": 600}), acct=True)
    assert queued(app) == []
    exchange(app, accounting("test", interim, **{"Acct-Output-Octets": 1000}), acct=True)
    assert causes(app) == ["um-limits-reached"]
    exchange(app, accounting("test", interim, **{"Acct-Output-Octets": 1500}), acct=True)
    assert causes(app) == ["um-limits-reached"]  # once per session


def test_limits_queue_nothing_for_a_router_without_coa(app: Userman) -> None:
    do(app, "router set", "r", **{"use-coa": "no"})
    do(app, "profile limitation add", name="l", **{"uptime-limit": "10s"})
    do(app, "profile profile-limitation add", profile="p", limitation="l")
    do(app, "user create-and-activate-profile", "test", profile="p")
    start(app)
    exchange(app, accounting("test", "Interim-Update", **{"Acct-Session-Time": 60}), acct=True)
    assert queued(app) == []


def test_disabling_a_customer_disconnects_its_users(app: Userman) -> None:
    # The logon refuses the users of a disabled customer; their open sessions end too.
    do(app, "customer add", login="shop", parent="admin", permissions="read-write")
    do(app, "user set", "test", customer="shop")
    start(app, "s1")
    do(app, "customer disable", "shop")
    assert causes(app) == ["um-customer-disabled"]


def test_answered_requests_are_pruned_after_a_week(app: Userman) -> None:
    start(app, "s1")
    start(app, "s2")
    do(app, "session close-session", "0,1")
    now = dt.datetime.now(dt.UTC)
    with app.database.begin() as db:
        first, second = db.scalars(select(models.CoaRequest).order_by(models.CoaRequest.id))
        first.state, first.updated = "acked", now - dt.timedelta(days=8)
        second.updated = now - dt.timedelta(days=8)  # still pending: kept
    assert app.prune_coa(now) == 1
    assert len(queued(app)) == 1
