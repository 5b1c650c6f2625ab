"""Retention (services/retention.py): `database set keep-sessions= keep-log=`, `database prune`
and `database optimize`, on SQLite and PostgreSQL. Pruned sessions are added up per user and
pair of days first, so that reports and usage days show the same totals after pruning; what a
limitation or a running profile still counts is never pruned. `now` is a parameter."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from support import run
from userman.core.errors import InvalidValueError, PermissionDeniedError, UnknownPropertyError
from userman.core.profiles import ProfileState
from userman.services import Actor, Userman, retention
from userman.services.request import Request
from userman.services.usage import usage
from userman.store import models

ROOT = Actor.superuser()
UTC = dt.UTC


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2024, 4, day, hour, minute, tzinfo=UTC)


def session(
    db: object,
    user: models.User,
    name: str,
    began: dt.datetime,
    ended: dt.datetime,
    *,
    active: bool = False,
    download: int = 0,
) -> None:
    db.add(  # type: ignore[attr-defined]
        models.UserSession(
            subscriber_id=user.subscriber_id, customer_id=user.customer_id, user_id=user.id,
            username=user.username, acct_session_id=name, from_time=began, till_time=ended,
            active=active, status="start" if active else "start,stop", download=download,
            upload=download // 10, uptime=int((ended - began).total_seconds()),
        )
    )  # fmt: skip


def log_entry(db: object, user: models.User, written: dt.datetime) -> None:
    db.add(  # type: ignore[attr-defined]
        models.LogEntry(
            subscriber_id=user.subscriber_id, customer_id=user.customer_id,
            user_orig=user.username, status="auth-ok", time=written,
        )
    )  # fmt: skip


def world(app: Userman) -> Actor:
    """admin in UTC+02:00; ann and bob with old closed sessions (one across midnight in the
    zone, two on one day), one open for weeks; cid whose running profile began before its
    session ended; and log entries old and new."""
    run(app, ROOT, "customer set", "admin", **{"time-zone": "+02:00"})
    run(app, ROOT, "profile add", name="p", **{"starts-at": "now"})
    for name in ("ann", "bob", "cid"):
        run(app, ROOT, "user add", username=name, password="x")
    run(app, ROOT, "user create-and-activate-profile", "cid", profile="p")
    with app.database.begin() as db:
        users = {u.username: u for u in db.scalars(select(models.User))}
        ann, bob, cid = users["ann"], users["bob"], users["cid"]
        session(db, ann, "a1", at(10, 8), at(10, 9), download=1000)
        session(db, ann, "a2", at(10, 12), at(10, 13), download=2000)
        session(db, ann, "a3", at(11, 21, 30), at(11, 22, 30), download=4000)  # 23:30-00:30
        session(db, ann, "a4", at(1, 0), at(20, 0), active=True, download=8000)
        session(db, bob, "b1", at(12, 10), at(12, 11), download=16000)
        session(db, cid, "c1", at(12, 10), at(12, 11), download=32000)
        for day in (1, 2, 3, 28):
            log_entry(db, ann, at(day, 12))
        entry = db.scalars(select(models.UserProfile).where(models.UserProfile.user_id == cid.id))
        [running] = entry.all()
        assert running.state is ProfileState.RUNNING
        running.start_time = at(1, 0)
    return app.actor("admin")


NOW = at(30, 12)  # April 30th, 12:00 UTC


def keep(app: Userman, **settings: str) -> None:
    run(app, ROOT, "database set", **settings)


def prune(app: Userman, **kw: object) -> retention.Pruned:
    return retention.prune(app.database, NOW, **kw)  # type: ignore[arg-type]


def count(app: Userman, model: type[models.Base]) -> int:
    with app.database.session() as db:
        return int(db.scalar(select(func.count()).select_from(model)) or 0)


def names(app: Userman) -> set[str]:
    with app.database.session() as db:
        return set(db.scalars(select(models.UserSession.acct_session_id)))


def test_nothing_is_pruned_unless_asked(app: Userman) -> None:
    world(app)
    assert run(app, ROOT, "database print").items[0].fields == (
        ("allow-private-destinations", "no"),
        ("allow-local-coa", "no"),
        ("certificate", "none"),
        ("radsec-certificate", "none"),
        ("trusted-ca", "none"),
        ("eap-fragment-size", "1024"),
        ("keep-sessions", "forever"),
        ("keep-log", "forever"),
    )
    assert prune(app) == retention.Pruned()
    assert len(names(app)) == 6


def test_the_settings_are_the_superusers_and_say_what_is_wrong(app: Userman) -> None:
    actor = world(app)
    keep(app, **{"keep-sessions": "52w", "keep-log": "90d"})
    assert run(app, ROOT, "database print").items[0].fields == (
        ("allow-private-destinations", "no"),
        ("allow-local-coa", "no"),
        ("certificate", "none"),
        ("radsec-certificate", "none"),
        ("trusted-ca", "none"),
        ("eap-fragment-size", "1024"),
        ("keep-sessions", "52w"),
        ("keep-log", "12w6d"),
    )
    with pytest.raises(InvalidValueError, match="keep-log: keep at least 1d"):
        keep(app, **{"keep-log": "1h"})
    with pytest.raises(InvalidValueError, match=r"keep-sessions: .*is not a time"):
        keep(app, **{"keep-sessions": "a year"})
    with pytest.raises(UnknownPropertyError, match="keep-all"):
        keep(app, **{"keep-all": "1d"})
    with pytest.raises(PermissionDeniedError, match="the superuser"):
        run(app, actor, "database set", **{"keep-log": "forever"})
    with pytest.raises(PermissionDeniedError, match="the superuser"):
        run(app, actor, "database prune")
    keep(app, **{"keep-sessions": "forever", "keep-log": "0"})
    with app.database.session() as db:
        assert retention.read(db) == retention.Retention()


def test_pruning_keeps_the_totals_of_reports_and_usage_days(app: Userman) -> None:
    actor = world(app)
    periods: list[tuple[object, ...]] = [(at(d, 0).date(), at(d, 0).date()) for d in range(9, 14)]
    periods += [(at(1, 0).date(), at(30, 0).date()), (at(11, 0).date(), at(12, 0).date())]
    periods += [(at(1, 0).date(), at(30, 0).date(), "an"), (at(1, 0).date(), at(30, 0).date(), "b")]
    reports = [app.report(actor, *period) for period in periods]
    with app.database.session() as db:
        days = {name: usage(db, actor, name, NOW, 25) for name in ("ann", "bob")}
    keep(app, **{"keep-sessions": "7d", "keep-log": "14d"})
    pruned = prune(app, batch=2)  # several batches, each its own transaction
    # The open session and cid's, which its running profile counts, stay.
    assert names(app) == {"a4", "c1"}
    assert (pruned.sessions, pruned.log, pruned.more) == (4, 3, False)
    # ann: (10th, 10th) twice, merged across batches; (11th, 12th) in the zone; bob: one.
    assert pruned.days == count(app, models.SessionDay) == 3
    assert [app.report(actor, *period) for period in periods] == reports
    with app.database.session() as db:
        assert {name: usage(db, actor, name, NOW, 25) for name in ("ann", "bob")} == days
    assert prune(app) == retention.Pruned()  # nothing more is due


def test_a_session_a_limitation_still_counts_is_kept(app: Userman) -> None:
    world(app)
    # A monthly reset: the period began on April 1st 00:00 in +02:00 (March 31st, 22:00 UTC).
    run(app, ROOT, "limitation add", name="month", **{"reset-counters-interval": "monthly"})
    keep(app, **{"keep-sessions": "1d"})
    with app.database.session() as db:
        cutoff = retention.session_cutoff(db, NOW, dt.timedelta(days=1))
    assert cutoff == at(1, 0) - dt.timedelta(hours=2) - retention.MARGIN
    assert prune(app).sessions == 0
    assert len(names(app)) == 6


def test_user_removed_and_other_subscribers_are_kept_apart(app: Userman) -> None:
    actor = world(app)
    first, last = at(1, 0).date(), at(30, 0).date()
    before = app.report(actor, first, last)
    run(app, ROOT, "customer add", login="other", password="x")
    other = app.actor("other")
    keep(app, **{"keep-sessions": "7d"})
    prune(app)
    assert app.report(other, first, last).lines == ()  # another subscriber's days are not seen
    run(app, ROOT, "user remove", "bob")
    after = app.report(actor, first, last)  # bob's totals stay, by name, as his sessions would
    assert after == before


def day_rows(app: Userman) -> list[tuple[object, ...]]:
    day = models.SessionDay
    with app.database.session() as db:
        return sorted(
            tuple(row)
            for row in db.execute(
                select(day.username, day.first_day, day.day, day.sessions, day.download)
            )
        )


def test_a_backup_holds_the_day_totals(app: Userman, tmp_path: Path) -> None:
    world(app)
    keep(app, **{"keep-sessions": "7d"})
    prune(app)
    saved = day_rows(app)
    run(app, ROOT, "database save", name=str(tmp_path / "all"))
    run(app, ROOT, "database load", name=str(tmp_path / "all"))
    assert day_rows(app) == saved
    with app.database.session() as db:  # the users' new ids
        assert None not in set(db.scalars(select(models.SessionDay.user_id)))


def test_the_sweep_prunes_at_most_hourly_once_caught_up(app: Userman) -> None:
    world(app)
    keep(app, **{"keep-sessions": "7d", "keep-log": "14d"})
    assert app.retain(NOW) == 7
    with app.database.begin() as db:
        log_entry(db, db.scalars(select(models.User)).first(), at(1, 0))  # type: ignore[arg-type]
    assert app.retain(NOW + dt.timedelta(minutes=59)) == 0  # not due yet
    assert app.retain(NOW + dt.timedelta(hours=1)) == 1


def test_maintenance_runs_on_its_own(app: Userman) -> None:
    requests = [Request(("database",), "prune"), Request(("database",), "print")]
    with pytest.raises(InvalidValueError, match="database prune: runs on its own"):
        app.execute_many(ROOT, requests)
    with pytest.raises(UnknownPropertyError, match="now"):
        run(app, ROOT, "database prune", now="yes")


def test_optimize_runs_outside_a_transaction(app: Userman) -> None:
    world(app)
    keep(app, **{"keep-sessions": "7d"})
    prune(app)
    outcome = run(app, ROOT, "database optimize")
    assert "VACUUM" in outcome.message
    assert len(names(app)) == 2  # nothing lost
    with pytest.raises(PermissionDeniedError, match="the superuser"):
        run(app, app.actor("admin"), "database optimize")
