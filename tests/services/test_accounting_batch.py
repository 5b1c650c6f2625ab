"""A batch of accounting records (the group-commit writer's, services/accounting.py) stores what
the same records store one by one, each in its own transaction: sessions of several routers and
subscribers, repeated Starts, duplicates, late records, Accounting-On/Off, Event-Timestamp,
Class, context left out; and it names the users whose usage or open sessions changed."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from prepared import copy_sqlite
from support import run
from userman.core.accounting import AccountingRecord, AcctStatus
from userman.core.context import RequestContext
from userman.services import Actor, Userman
from userman.services.accounting import AccountingItem
from userman.services.routers import RouterInfo
from userman.store import models

ROOT = Actor.superuser()
# Routers: (address, subscriber, log flags). isp2's users have the same names as admin's.
ROUTERS = [
    ("10.0.0.1", "admin", "acct-ok"),
    ("10.0.0.2", "admin", "auth-fail"),
    ("10.0.1.1", "isp2", "acct-ok,auth-fail"),
]
USERNAMES = ["u0", "u1", "u2", "u3"]


def build(url: str) -> Userman:
    """Two subscribers, three routers, four users each with a running profile, on `url`."""
    app = Userman(url)
    app.prepare()
    run(app, ROOT, "customer add", login="isp2", password="pw")
    for subscriber in ("admin", "isp2"):
        owner = app.actor(subscriber)
        run(app, owner, "profile add", name="p", validity="30d", **{"starts-at": "now"})
        for username in USERNAMES:
            run(app, owner, "user add", username=username, password="pw")
            run(app, owner, "user create-and-activate-profile", username, profile="p")
    for n, (address, subscriber, log) in enumerate(ROUTERS):
        settings = {"ip-address": address, "shared-secret": "s", "log": log}
        run(app, app.actor(subscriber), "router add", name=f"r{n}", **settings)
    return app


@pytest.fixture
def apps(
    prepared_db_url: str, tmp_path: Path, sqlite_template: Path
) -> Iterator[tuple[Userman, Userman]]:
    """The database under test (each back end) and a reference on SQLite, built alike."""
    (tmp_path / "reference").mkdir()
    reference = copy_sqlite(sqlite_template, tmp_path / "reference" / "userman.db")
    pair = build(prepared_db_url), build(reference)
    yield pair
    for app in pair:
        app.close()


def routers(app: Userman) -> list[RouterInfo]:
    found = [app.find_router(address) for address, _, _ in ROUTERS]
    assert all(router is not None for router in found)
    return [router for router in found if router is not None]


def user_ids(app: Userman) -> list[int]:
    with app.database.begin() as db:
        return list(db.scalars(select(models.User.id).order_by(models.User.id)))


def records(
    seed: int, routers: list[RouterInfo], ids: list[int], count: int
) -> list[AccountingItem]:
    """`count` records in arrival order, a second apart: few sessions, so that many records
    meet the same one, with every kind of record and of oddity."""
    rng = random.Random(seed)
    start = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    items: list[AccountingItem] = []
    for n in range(count):
        now = start + dt.timedelta(seconds=n)
        router = rng.choice(routers)
        if rng.random() < 0.03:
            status = rng.choice([AcctStatus.ACCOUNTING_ON, AcctStatus.ACCOUNTING_OFF])
            items.append((router, AccountingRecord(status, "", ""), now))
            continue
        if items and rng.random() < 0.05:  # a duplicate the duplicate cache did not catch
            items.append(rng.choice(items))
            continue
        status = rng.choice(
            [AcctStatus.START] + [AcctStatus.INTERIM_UPDATE] * 3 + [AcctStatus.STOP]
        )
        context = RequestContext(
            nas_port=rng.choice([None, rng.randrange(100)]),
            calling_station_id=rng.choice(["", f"AA:BB:{rng.randrange(99):02d}"]),
            user_ip=rng.choice(["", "", f"10.9.0.{rng.randrange(250)}"]),
        )
        uptime = rng.randrange(2000)
        record = AccountingRecord(
            status,
            f"sess{rng.randrange(8)}",
            rng.choice([*USERNAMES, "ghost"]),  # ghost is nobody's
            session_time=uptime,
            upload=uptime * rng.randrange(50),
            download=uptime * rng.randrange(500),
            terminate_cause=rng.choice(["", "user-request"]) if status is AcctStatus.STOP else "",
            context=context,
            delay=rng.choice([0, 0, 30]),
            # Before the profiles started: usage of the user alone, not of the running entry.
            event_time=rng.choice([None, None, None, start - dt.timedelta(hours=2)]),
            # The Class of an Access-Accept: a user of this subscriber, or of another (ignored).
            user_id=rng.choice([None, None, None, rng.choice(ids)]),
        )
        items.append((router, record, now))
    return items


def stored(app: Userman) -> dict[str, list[tuple[Any, ...]]]:
    """The rows accounting writes, in id order: every column of the sessions, the log and the
    CoA requests; the counters (and last-seen) of the users and their profile entries."""
    user, entry = models.User, models.UserProfile
    counters = ("uptime_used", "download_used", "upload_used")
    statements = {
        "session": select(models.UserSession.__table__),
        "log": select(models.LogEntry.__table__),
        "coa_request": select(models.CoaRequest.__table__),
        "user": select(
            user.id, user.username, user.last_seen, *map(user.__table__.c.get, counters)
        ),
        "user_profile": select(entry.id, entry.state, *map(entry.__table__.c.get, counters)),
    }
    with app.database.begin() as db:
        return {
            name: [tuple(row) for row in db.execute(statement.order_by("id"))]
            for name, statement in statements.items()
        }


@pytest.mark.parametrize(("seed", "batches"), [(1, "one"), (2, "random")])
def test_a_batch_stores_what_the_records_store_one_by_one(
    apps: tuple[Userman, Userman], seed: int, batches: str
) -> None:
    app, reference = apps
    items = records(seed, routers(app), user_ids(app), 360)
    assert routers(app) == routers(reference)
    assert user_ids(app) == user_ids(reference)
    # The first records one by one in both, so the batch meets stored sessions too.
    for item in items[:60]:
        app.account_many([item])
        reference.account_many([item])
    rest = items[60:]
    expected, expected_users = [], set()
    for item in rest:
        result = reference.account_batch([item])
        expected += result.sessions
        expected_users |= result.users
    got, got_users = [], set()
    sizes = random.Random(seed)
    while rest:
        size = len(rest) if batches == "one" else sizes.randrange(1, 80)
        result = app.account_batch(rest[:size])
        rest = rest[size:]
        got += result.sessions
        got_users |= result.users
    assert got == expected
    assert stored(app) == stored(reference)
    assert got_users == expected_users
    # Something of each kind happened.
    acct = models.UserSession
    with app.database.begin() as db:
        ended = set(db.execute(select(acct.active, acct.terminate_cause).distinct()))
        logged = db.scalar(select(func.count()).select_from(models.LogEntry))
    assert {(True, ""), (False, "nas-reboot"), (False, "user-request")} <= ended
    assert logged


def test_the_batch_names_the_users_whose_usage_or_sessions_changed(
    apps: tuple[Userman, Userman],
) -> None:
    app, _ = apps
    r0, r1, r2 = routers(app)
    ids = dict(
        zip(
            [f"admin/{u}" for u in USERNAMES] + [f"isp2/{u}" for u in USERNAMES],
            user_ids(app),
            strict=True,
        )
    )
    now = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)

    def record(
        status: AcctStatus, session: str, username: str, uptime: int = 0
    ) -> AccountingRecord:
        return AccountingRecord(status, session, username, session_time=uptime, download=uptime)

    interim = record(AcctStatus.INTERIM_UPDATE, "a", "u0", 10)
    app.account_batch([(r0, record(AcctStatus.START, "a", "u0"), now), (r0, interim, now)])
    app.account_batch([(r1, record(AcctStatus.START, "b", "u1"), now)])
    result = app.account_batch(
        [
            (r0, interim, now),  # a duplicate: nothing changes for admin's u0
            (r2, record(AcctStatus.START, "c", "u2"), now),  # opens isp2's u2's session
            (r2, record(AcctStatus.INTERIM_UPDATE, "d", "u3", 5), now),  # isp2's u3's usage
            (r0, record(AcctStatus.INTERIM_UPDATE, "e", "ghost", 5), now),  # nobody's
            # admin's u1's session (stored) is closed by its router's Accounting-On.
            (r1, AccountingRecord(AcctStatus.ACCOUNTING_ON, "", ""), now),
        ]
    )
    assert result.users == {ids["isp2/u2"], ids["isp2/u3"], ids["admin/u1"]}
    assert len(result.sessions) == 5
    assert result.sessions[-1] is None
    # A Start closing and opening the same user's session, and a Stop, change it too.
    again = app.account_batch([(r0, record(AcctStatus.START, "a", "u0"), now)])
    assert again.users == {ids["admin/u0"]}
    stop = app.account_batch([(r2, record(AcctStatus.STOP, "c", "u2"), now)])
    assert stop.users == {ids["isp2/u2"]}


@pytest.mark.parametrize("returning", [True, False], ids=["returning", "no-returning"])
def test_a_batch_on_a_coa_router_disconnects_the_session_it_opened_and_used_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, returning: bool
) -> None:
    # The new sessions' ids come from INSERT ... RETURNING, or one INSERT each where the
    # database has no RETURNING (SQLite before 3.35): the Disconnect names the right one.
    app = Userman(f"sqlite:///{tmp_path / 'userman.db'}")
    app.prepare()
    settings = {"ip-address": "10.0.0.1", "shared-secret": "s", "use-coa": "yes"}
    run(app, ROOT, "router add", name="r", **settings)
    run(app, ROOT, "profile add", name="p", validity="1d", **{"starts-at": "now"})
    run(app, ROOT, "profile limitation add", name="l", **{"download-limit": "1000"})
    run(app, ROOT, "profile profile-limitation add", profile="p", limitation="l")
    for username in ("full", "light"):
        run(app, ROOT, "user add", username=username, password="pw")
        run(app, ROOT, "user create-and-activate-profile", username, profile="p")
    monkeypatch.setattr(app.database.engine.dialect, "insert_returning", returning)
    [router] = [app.find_router("10.0.0.1")]
    assert router is not None
    now = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    start, interim = AcctStatus.START, AcctStatus.INTERIM_UPDATE
    try:
        app.account_many(
            [
                (router, AccountingRecord(start, "s0", "light"), now),
                (router, AccountingRecord(start, "s1", "full"), now),
                (router, AccountingRecord(interim, "s1", "full", download=1500), now),
                (router, AccountingRecord(interim, "s0", "light", download=10), now),
            ]
        )
        acct, coa = models.UserSession, models.CoaRequest
        with app.database.begin() as db:
            ids = dict(db.execute(select(acct.acct_session_id, acct.id)).all())
            digests = dict(db.execute(select(acct.acct_session_id, acct.reply_digest)).all())
            requests = db.execute(select(coa.session_id, coa.cause)).all()
    finally:
        app.close()
    assert [tuple(r) for r in requests] == [(ids["s1"], "um-limits-reached")]
    assert digests["s0"]  # the light user's session: what its Access-Accept said, noted
