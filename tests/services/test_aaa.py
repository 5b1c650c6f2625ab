"""The AAA use cases on each back end: what happens at the shared-users limit (the router's
choice or its subscriber's), and the running profile's usage counters."""

from __future__ import annotations

import datetime as dt

import pytest

from support import NOW, run
from userman.core.accounting import AccountingRecord, AcctStatus
from userman.core.authorize import AccessRequest, PapCredentials, RejectReason
from userman.core.errors import InvalidValueError
from userman.services import Actor, Userman
from userman.services.routers import RouterInfo

ROOT = Actor.superuser()


def setup(app: Userman, *, shared_users: str = "1", validity: str = "0s") -> None:
    run(app, ROOT, "router add", name="r1", **{"ip-address": "10.0.0.1", "shared-secret": "s"})
    run(app, ROOT, "profile add", name="p", validity=validity, **{"starts-at": "now"})
    run(app, ROOT, "user add", username="u", password="pw", **{"shared-users": shared_users})
    run(app, ROOT, "user create-and-activate-profile", "u", profile="p")


def router(app: Userman, address: str = "10.0.0.1") -> RouterInfo:
    found = app.find_router(address)
    assert found is not None
    return found


def logon(app: Userman, now: dt.datetime = NOW) -> RejectReason | None:
    request = AccessRequest("u", PapCredentials(b"pw"))
    return app.authenticate(router(app), request, now).reason


def start(app: Userman, session: str, now: dt.datetime = NOW) -> None:
    app.account(router(app), AccountingRecord(AcctStatus.START, session, "u"), now)


def sessions(app: Userman) -> dict[str, tuple[object, object]]:
    items = (s.json for s in app.execute(ROOT, ("session",), "print").items)
    return {str(s["acct-session-id"]): (s["active"], s["terminate-cause"]) for s in items}


# -- on-shared-users-limit: the router's, or its subscriber's ---------------------------------


def test_a_new_router_follows_its_subscriber_which_rejects_by_default(app: Userman) -> None:
    setup(app)
    [r1] = (r.json for r in app.execute(ROOT, ("router",), "print").items)
    assert r1["on-shared-users-limit"] == "default"
    [admin] = (c.json for c in app.execute(ROOT, ("customer",), "print").items)
    assert admin["on-shared-users-limit"] == "reject"
    start(app, "s1")
    assert logon(app) is RejectReason.TOO_MANY_SESSIONS


@pytest.mark.parametrize(
    ("subscriber", "router_choice", "evicts"),
    [
        ("reject", "default", False),
        ("disconnect-oldest", "default", True),
        ("disconnect-oldest", "reject", False),  # the router says otherwise
        ("reject", "disconnect-oldest", True),
    ],
)
def test_the_router_decides_unless_it_leaves_it_to_the_subscriber(
    app: Userman, subscriber: str, router_choice: str, evicts: bool
) -> None:
    setup(app)
    run(app, ROOT, "customer set", "admin", **{"on-shared-users-limit": subscriber})
    run(app, ROOT, "router set", "r1", **{"on-shared-users-limit": router_choice})
    start(app, "s1")
    assert logon(app) is (None if evicts else RejectReason.TOO_MANY_SESSIONS)
    expected = (False, "um-simultaneous-sessions") if evicts else (True, "")
    assert sessions(app)["s1"] == expected


def test_a_subscriber_choice_stays_in_its_domain(app: Userman) -> None:
    setup(app)
    run(app, ROOT, "customer add", login="isp2")
    run(app, ROOT, "customer set", "isp2", **{"on-shared-users-limit": "disconnect-oldest"})
    start(app, "s1")
    assert logon(app) is RejectReason.TOO_MANY_SESSIONS  # admin's routers still reject


def test_only_the_subscriber_makes_the_choice_its_customers_show_it(app: Userman) -> None:
    setup(app)
    run(app, ROOT, "customer add", login="shop", parent="admin", permissions="full")
    run(app, ROOT, "customer set", "admin", **{"on-shared-users-limit": "disconnect-oldest"})
    shown = {
        c.json["login"]: c.json["on-shared-users-limit"]
        for c in app.execute(ROOT, ("customer",), "print").items
    }
    assert shown == {"admin": "disconnect-oldest", "shop": "disconnect-oldest"}
    with pytest.raises(InvalidValueError, match="set it on admin"):
        run(app, ROOT, "customer set", "shop", **{"on-shared-users-limit": "reject"})
    # Its subscriber's own value (as copy-from would bring it) is taken, and no choice of its own.
    run(app, ROOT, "customer set", "shop", **{"on-shared-users-limit": "disconnect-oldest"})
    run(app, ROOT, "customer set", "admin", **{"on-shared-users-limit": "reject"})
    shown = {
        c.json["login"]: c.json["on-shared-users-limit"]
        for c in app.execute(ROOT, ("customer",), "print").items
    }
    assert set(shown.values()) == {"reject"}


# -- the running profile's usage counters ------------------------------------------------------


def record(status: str, session: str = "s1", **kw: object) -> AccountingRecord:
    return AccountingRecord(AcctStatus[status], session, "u", **kw)  # type: ignore[arg-type]


def entries(app: Userman) -> list[tuple[object, ...]]:
    items = (e.json for e in app.execute(ROOT, ("user-profile",), "print").items)
    return [
        (e["profile"], e["state"], e["uptime-used"], e["download-used"], e["upload-used"])
        for e in items
    ]


def user_used(app: Userman) -> tuple[object, ...]:
    [user] = (u.json for u in app.execute(ROOT, ("user",), "print").items)
    return (user["uptime-used"], user["download-used"], user["upload-used"])


def test_usage_counts_once_on_the_running_entry_and_the_user(app: Userman) -> None:
    setup(app, shared_users="unlimited")
    r1, now = router(app), dt.datetime.now(dt.UTC)
    interim = record("INTERIM_UPDATE", session_time=60, download=1000, upload=500)
    for rec in (
        record("START"),
        interim,
        interim,  # a duplicate the cache did not catch (another node, a restart)
        record("STOP", session_time=120, download=3000, upload=700),
        record("INTERIM_UPDATE", session_time=100, download=2000),  # late, after the Stop
    ):
        app.account(r1, rec, now)
    # One batch (the writer's group commit) with two records of one session and another one.
    app.account_many(
        [
            (r1, record("START", "s2"), now),
            (r1, record("INTERIM_UPDATE", "s2", session_time=10, download=5), now),
            (r1, record("STOP", "s2", session_time=20, download=8, upload=1), now),
            (r1, record("STOP", "s3", session_time=30, upload=9), now),  # only its Stop came
        ]
    )
    assert entries(app) == [("p", "running", "2m50s", 3008, 710)]
    assert user_used(app) == ("2m50s", 3008, 710)


def test_the_counters_give_what_the_sessions_sum_gave(app: Userman) -> None:
    from userman.services.facts import _usage  # the sum, still used for reset periods

    setup(app, shared_users="unlimited")
    r1, now = router(app), dt.datetime.now(dt.UTC)
    app.account(r1, record("START"), now)
    app.account(r1, record("INTERIM_UPDATE", session_time=5, download=50, upload=7), now)
    app.account(r1, record("STOP", "s2", session_time=9, download=1, upload=2), now)
    with app.database.begin() as db:
        from userman.store import models

        [entry] = db.query(models.UserProfile).all()
        assert entry.start_time is not None
        summed = _usage(db, entry.user_id, entry.start_time)
        counted = (entry.uptime_used, entry.download_used, entry.upload_used)
    assert counted == (summed.uptime, summed.download, summed.upload) == (14, 51, 9)


def test_a_record_from_before_the_entry_started_is_not_its_usage(app: Userman) -> None:
    setup(app, shared_users="unlimited")
    r1, now = router(app), dt.datetime.now(dt.UTC)
    before = now - dt.timedelta(hours=1)
    app.account(r1, record("STOP", session_time=60, download=10, event_time=before), now)
    assert entries(app) == [("p", "running", "0s", 0, 0)]
    assert user_used(app) == ("1m", 10, 0)


def test_the_download_limit_holds_on_the_counters(app: Userman) -> None:
    setup(app, shared_users="unlimited")
    run(app, ROOT, "profile limitation add", name="l", **{"download-limit": "1000"})
    run(app, ROOT, "profile profile-limitation add", profile="p", limitation="l")
    r1, now = router(app), dt.datetime.now(dt.UTC)
    app.account(r1, record("INTERIM_UPDATE", download=999), now)
    assert logon(app, now) is None
    app.account(r1, record("INTERIM_UPDATE", download=999), now)  # a duplicate adds nothing
    assert logon(app, now) is None
    app.account(r1, record("STOP", download=1000), now)
    assert logon(app, now) is RejectReason.DOWNLOAD_LIMIT_REACHED


def test_the_next_profile_starts_its_own_counters(app: Userman) -> None:
    setup(app, shared_users="unlimited", validity="1h")
    run(app, ROOT, "profile add", name="q")
    run(app, ROOT, "user create-and-activate-profile", "u", profile="q")
    r1, now = router(app), dt.datetime.now(dt.UTC)
    app.account(r1, record("START"), now)
    app.account(r1, record("INTERIM_UPDATE", download=100), now + dt.timedelta(minutes=30))
    later = now + dt.timedelta(hours=2)
    assert logon(app, later) is None  # p ran out, q starts
    app.account(r1, record("INTERIM_UPDATE", download=250), later + dt.timedelta(minutes=1))
    assert entries(app) == [("p", "used", "0s", 100, 0), ("q", "running-active", "0s", 150, 0)]
