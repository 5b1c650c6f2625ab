"""The policy in memory gives the facts the database gives (services/facts.py), on each back end:
after the first load, and after every kind of change, whoever makes it (a command, accounting,
undo, SQL typed by hand), once the change log is read."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from support import NOW, run
from userman.core.accounting import AccountingRecord, AcctStatus
from userman.core.authorize import AccessRequest, PapCredentials, RejectReason, authorize
from userman.core.context import RequestContext
from userman.core.policy import user_facts as memory_facts
from userman.services import Actor, Userman, policy, retention
from userman.services.access import Effects, decide
from userman.services.facts import user_facts as stored_facts
from userman.services.routers import RouterInfo
from userman.store import models

ROOT = Actor.superuser()
HOUR = dt.timedelta(hours=1)


def world(app: Userman) -> None:
    """Customers, profiles, limitations with windows and periods, groups, attributes, users in
    every state, sessions open and closed."""
    run(app, ROOT, "customer set", "admin", **{"time-zone": "+02:00"})
    run(app, ROOT, "router add", name="r1", **{"ip-address": "10.0.0.1", "shared-secret": "s"})
    run(app, ROOT, "profile add", name="day", validity="1d", **{"starts-at": "now"})
    run(app, ROOT, "profile add", name="hour", validity="1h", attributes="Idle-Timeout:60")
    run(app, ROOT, "profile add", name="free", **{"override-shared-users": "unlimited"})
    run(app, ROOT, "limitation add", name="total", **{"download-limit": "1G"})
    run(
        app,
        ROOT,
        "limitation add",
        name="daily",
        **{"uptime-limit": "1h", "reset-counters-interval": "daily"},
    )
    run(app, ROOT, "limitation add", name="rate", **{"rate-limit-rx": "1M", "rate-limit-tx": "2M"})
    run(
        app,
        ROOT,
        "profile-limitation add",
        profile="day",
        limitation="total",
        **{"from-time": "08:00:00", "till-time": "18:00:00", "weekdays": "monday,tuesday"},
    )
    run(app, ROOT, "profile-limitation add", profile="day", limitation="daily")
    run(app, ROOT, "profile-limitation add", profile="day", limitation="rate")
    run(app, ROOT, "profile-limitation add", profile="hour", limitation="rate")
    run(app, ROOT, "attribute add", name="Acme-Blob", **{"vendor-id": "9999", "type-id": "8"})
    run(app, ROOT, "user group add", name="g", attributes="Mikrotik-Group:gold,Acme-Blob:01")
    run(app, ROOT, "user add", username="u1", password="p1", **{"shared-users": "2"})
    run(app, ROOT, "user add", username="u2", password="p2", group="g", attributes="Class:x")
    run(app, ROOT, "user add", username="u3", password="p3", disabled="yes", **{"caller-id": "aa"})
    run(
        app,
        ROOT,
        "user add",
        username="u4",
        password="p4",
        **{"caller-id-bind-on-first-use": "yes"},
    )
    run(app, ROOT, "user create-and-activate-profile", "u1", profile="day")
    run(app, ROOT, "user create-and-activate-profile", "u1", profile="hour")
    run(app, ROOT, "user create-and-activate-profile", "u2", profile="hour")
    run(app, ROOT, "user create-and-activate-profile", "u3", profile="free")


def router(app: Userman) -> RouterInfo:
    found = app.find_router("10.0.0.1")
    assert found is not None
    return found


def account(
    app: Userman, status: AcctStatus, session: str, user: str, at: dt.datetime, **kw: int
) -> None:
    app.account(router(app), AccountingRecord(status, session, user, **kw), at)


def sessions(app: Userman) -> None:
    """u1: a session closed yesterday, one closed today, one open; u2: one open."""
    account(app, AcctStatus.START, "a", "u1", NOW - 30 * HOUR)
    account(app, AcctStatus.STOP, "a", "u1", NOW - 29 * HOUR, session_time=3600, upload=10)
    account(app, AcctStatus.START, "b", "u1", NOW - 2 * HOUR)
    account(app, AcctStatus.STOP, "b", "u1", NOW - HOUR, session_time=600, download=99)
    account(app, AcctStatus.START, "c", "u1", NOW)
    account(app, AcctStatus.INTERIM_UPDATE, "c", "u1", NOW, session_time=60, upload=5)
    account(app, AcctStatus.START, "d", "u2", NOW)


MOMENTS = (NOW - 40 * HOUR, NOW, NOW + 2 * HOUR, NOW + 30 * HOUR)


PASSWORDS = {"u1": "p1", "u2": "p2", "u3": "p3", "u4": "p4", "u5": "p5", "u6": "p5"}


def warm(app: Userman) -> None:
    """Decide for every user at NOW: the decision memo holds what it may of that moment."""
    for state in list(app.policy.policy.by_id.values()):
        request = AccessRequest(state.user.username, PapCredentials(b"p1"))
        decide(app.policy, router(app), request, NOW)


def assert_decided_afresh(app: Userman, moments: tuple[dt.datetime, ...] = MOMENTS) -> None:
    """Every user's decision from memory (the memo's, when it holds one: NOW's, asked first)
    equals the one made afresh from its facts, at each moment, for its password and another."""
    moments = (NOW, *moments)
    cache = app.policy
    for state in list(cache.policy.by_id.values()):
        name = state.user.username
        for password in (state.user.password, "other"):
            request = AccessRequest(name, PapCredentials(password.encode()))
            for now in moments:
                found = decide(cache, router(app), request, now)
                assert found is not None
                facts = memory_facts(cache.policy, state, now)
                fresh = authorize(request, facts, now)
                # `decide` claims the shared-users place (services/claims.py), or not for a
                # request that names no device: the field says where, not what is decided.
                assert replace(found[0], shared_users=None) == replace(fresh, shared_users=None), (
                    name,
                    password,
                    now,
                )


def assert_same(app: Userman, moments: tuple[dt.datetime, ...] = MOMENTS) -> None:
    """Every user's facts from memory equal the database's, at each moment."""
    cache = app.policy
    with app.database.session() as db:
        users = db.scalars(select(models.User).order_by(models.User.id)).all()
        assert len(cache.policy.by_id) == len(users)
        for user in users:
            state = cache.user(user.subscriber_id, user.username)
            assert state is not None, user.username
            for now in moments:
                held = memory_facts(cache.policy, state, now)
                assert held == stored_facts(db, user, now), (user.username, now)


@pytest.fixture
def loaded(app: Userman) -> Userman:
    world(app)
    sessions(app)
    # The periods reckoned from before every moment asked (the real clock is years later).
    app.policy.clock = lambda: MOMENTS[0] - HOUR
    app.policy.load()
    return app


def test_the_first_load_gives_the_database_facts(loaded: Userman) -> None:
    assert_same(loaded)
    assert loaded.policy.counters["loads"] == 1


def test_a_command_is_in_memory_as_it_commits(loaded: Userman) -> None:
    """Every menu a decision reads, changed through the commands: no watcher runs here, so
    what this process commits is taken in at the commit."""
    changes = [
        ("customer set", ("admin",), {"time-zone": "Europe/Riga"}),
        ("user set", ("u1",), {"password": "new", "shared-users": "1"}),
        ("user set", ("u2",), {"group": "default"}),
        ("user set", ("u3",), {"disabled": "no", "caller-id": ""}),
        ("profile set", ("hour",), {"validity": "2h", "attributes": "Idle-Timeout:5"}),
        ("limitation set", ("daily",), {"uptime-limit": "2h"}),
        ("limitation set", ("total",), {"reset-counters-interval": "weekly"}),
        ("profile-limitation set", ("*1",), {"till-time": "20:00:00"}),
        ("user group set", ("g",), {"attributes": "Mikrotik-Group:silver"}),
        ("user group set", ("g",), {"outer-auths": "chap,eap-mschap2"}),
        ("attribute set", ("Acme-Blob",), {"type-id": "9"}),
        ("user create-and-activate-profile", ("u4",), {"profile": "day"}),
        ("user add", (), {"username": "u5", "password": "p5"}),
        ("user set", ("u5",), {"username": "u6"}),
        ("profile-limitation remove", ("*2",), {}),
        ("user remove", ("u6",), {}),
        ("history undo", (), {}),
    ]
    for command, positional, args in changes:
        loads = loaded.policy.counters["loads"]
        warm(loaded)
        run(loaded, ROOT, command, *positional, **args)
        assert_same(loaded)
        assert_decided_afresh(loaded)
        # Only a change that makes a counting period reach further back than the sessions
        # held (a zone further west, a longer reset interval) reads everything again.
        reaches_back = "time-zone" in args or "reset-counters-interval" in args
        assert loaded.policy.counters["loads"] == loads + reaches_back, command


def test_accounting_is_in_memory_as_it_commits(loaded: Userman) -> None:
    warm(loaded)
    account(loaded, AcctStatus.INTERIM_UPDATE, "c", "u1", NOW + HOUR, session_time=4000)
    assert_same(loaded)
    assert_decided_afresh(loaded)
    warm(loaded)
    account(loaded, AcctStatus.STOP, "c", "u1", NOW + HOUR, session_time=4001)
    account(loaded, AcctStatus.ACCOUNTING_ON, "x", "", NOW + HOUR)
    assert_same(loaded)
    assert_decided_afresh(loaded)
    state = loaded.policy.user(1, "u1")
    assert state is not None
    assert not any(s.active for s in state.sessions)


def test_sql_typed_by_hand_is_read_from_the_change_log(loaded: Userman) -> None:
    """Another process's change (here: SQL on a connection of its own, which no commit hook
    sees) is in memory after the next `refresh`, which the server's watcher runs, and the
    decisions memory kept before it are made afresh."""
    warm(loaded)
    with loaded.database.engine.begin() as connection:
        connection.execute(text("UPDATE \"user\" SET password = 'typed' WHERE username = 'u1'"))
        connection.execute(text("UPDATE profile SET validity = 60 WHERE name = 'day'"))
        connection.execute(text("UPDATE user_profile SET download_used = 123"))
        connection.execute(text("DELETE FROM \"user\" WHERE username = 'u4'"))
    state = loaded.policy.user(1, "u1")
    assert state is not None
    assert state.user.password == "p1"
    assert loaded.policy.refresh() == 1 + 1 + 4 + 1  # u1, day, the 4 entries, u4
    assert_decided_afresh(loaded)
    state = loaded.policy.user(1, "u1")
    assert state is not None
    assert state.user.password == "typed"
    assert loaded.policy.user(1, "u4") is None
    assert_same(loaded)


def test_a_change_that_is_not_policy_writes_no_change(loaded: Userman) -> None:
    loaded.policy.refresh()
    with loaded.database.engine.begin() as connection:
        connection.execute(text("UPDATE \"user\" SET last_seen = '2024-01-01', email = 'a@b'"))
        connection.execute(text("UPDATE router SET comment = 'x'"))
    assert loaded.policy.refresh() == 0


def test_too_many_changes_read_everything_again(
    loaded: Userman, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(policy, "CHANGE_LIMIT", 2)
    run(loaded, ROOT, "user set", "u1", "u2", "u3", password="same")
    assert loaded.policy.counters["loads"] == 2
    assert_same(loaded)


def test_a_pruned_change_log_reads_everything_again(loaded: Userman) -> None:
    """SQLite numbers changes without gaps: a reader that finds the next one gone reads
    everything again (the prune's own commit made this process's reader find it)."""
    if not loaded.database.is_sqlite:
        pytest.skip("PostgreSQL's readers rely on STALE_AFTER < KEEP (the next test)")
    with loaded.database.engine.begin() as connection:
        connection.execute(text("UPDATE \"user\" SET password = 'x1' WHERE username = 'u1'"))
        connection.execute(text("UPDATE \"user\" SET password = 'x2' WHERE username = 'u2'"))
    assert loaded.policy.prune(NOW + dt.timedelta(days=3650)) >= 1  # all but the newest
    assert loaded.policy.counters["loads"] == 2
    assert_same(loaded)


def test_a_reader_that_could_not_read_for_long_reads_everything_again(loaded: Userman) -> None:
    """The change log keeps KEEP of changes; a reader whose last good read is older than
    STALE_AFTER (less than KEEP) may have missed some, and reads everything again."""
    assert policy.KEEP.total_seconds() > policy.STALE_AFTER
    assert loaded.policy.refreshed is not None
    loaded.policy.refreshed -= policy.STALE_AFTER + 1
    assert loaded.policy.refresh() == -1
    assert loaded.policy.counters["loads"] == 2


def test_a_period_that_reaches_back_further_reads_the_sessions_again(loaded: Userman) -> None:
    """A limitation whose period now begins before what memory holds: every user is read
    again, so no decision needs the database."""
    run(loaded, ROOT, "limitation set", "rate", **{"reset-counters-interval": "monthly"})
    assert loaded.policy.counters["loads"] == 2
    assert_same(loaded)


def _session_notes_after(app: Userman, last: int) -> int:
    change = models.PolicyChange
    with app.database.session() as db:
        found = db.scalar(
            select(func.count())
            .select_from(change)
            .where(change.id > last, change.table_name == "session")
        )
        return int(found or 0)


def _last_note(app: Userman) -> int:
    with app.database.session() as db:
        return int(db.scalar(select(func.max(models.PolicyChange.id))) or 0)


def test_pruning_keeps_what_a_period_counts(loaded: Userman) -> None:
    """An hour on, with sessions kept a day: the daily limitation's period (and a day more)
    holds u1's sessions of yesterday, so none is pruned, and memory is the database."""
    run(loaded, ROOT, "database set", **{"keep-sessions": "1d"})
    assert retention.prune(loaded.database, NOW + HOUR).sessions == 0
    assert_same(loaded)


def test_pruned_sessions_leave_memory_and_database_alike(loaded: Userman) -> None:
    """Three days on, u1's closed sessions ended before every counting period and are pruned.
    The notes the triggers wrote of their deletion are taken out with them (no server reads
    u1 again for them); what memory still holds of them counts in no period, so its facts
    are the database's, as are those of a policy read afresh."""
    later = NOW + 72 * HOUR
    moments = (later, later + 2 * HOUR, later + 30 * HOUR)
    run(loaded, ROOT, "database set", **{"keep-sessions": "1d"})
    last = _last_note(loaded)
    assert retention.prune(loaded.database, later).sessions == 2
    assert _session_notes_after(loaded, last) == 0
    assert loaded.policy.refresh() == 0
    assert_same(loaded, moments)
    loaded.policy.clock = lambda: later
    loaded.policy.load()
    assert_same(loaded, moments)


def test_decisions_from_memory_match_the_database(loaded: Userman) -> None:
    for username, password in (("u1", "p1"), ("u1", "no"), ("u2", "p2"), ("u3", "p3"), ("zz", "")):
        request = AccessRequest(username, PapCredentials(password.encode()))
        found = decide(loaded.policy, router(loaded), request, NOW)
        assert found is not None
        decision, _ = found
        stored = loaded.authenticate(router(loaded), request, NOW)
        assert decision.accept == stored.accept, username
        assert decision.reason == stored.reason, username
        assert decision.reply == stored.reply, username


def test_a_group_s_outer_auths_refuse_from_memory_as_the_database(loaded: Userman) -> None:
    # v7: a user may log on only with the methods its group's outer-auths name.
    run(loaded, ROOT, "user group set", "g", **{"outer-auths": "chap,eap-mschap2"})
    request = AccessRequest("u2", PapCredentials(b"p2"))
    found = decide(loaded.policy, router(loaded), request, NOW)
    assert found is not None
    assert found[0].reason is RejectReason.METHOD_NOT_ALLOWED
    assert (
        loaded.authenticate(router(loaded), request, NOW).reason is RejectReason.METHOD_NOT_ALLOWED
    )
    run(loaded, ROOT, "user group set", "g", **{"outer-auths": "pap"})
    found = decide(loaded.policy, router(loaded), request, NOW)
    assert found is not None
    assert found[0].reason is not RejectReason.METHOD_NOT_ALLOWED


def test_a_profile_start_another_node_made_first_is_not_made_twice(loaded: Userman) -> None:
    """u2's profile waits for its first log-on. This node decides to start it; another node
    started it in the meantime: nothing is stored, and the database decides instead."""
    request = AccessRequest("u2", PapCredentials(b"p2"))
    found = decide(loaded.policy, router(loaded), request, NOW)
    assert found is not None
    decision, user_id = found
    assert decision.accept
    assert decision.profile_changes
    assert user_id is not None
    with loaded.database.engine.begin() as connection:  # the other node, first
        connection.execute(text("UPDATE user_profile SET state = 'running' WHERE user_id = 2"))
    stored = loaded.store_effects(router(loaded), request, decision, user_id, NOW)
    assert not stored
    assert loaded.authenticate(router(loaded), request, NOW).accept


def test_a_caller_id_bound_by_another_node_first_is_kept(loaded: Userman) -> None:
    run(loaded, ROOT, "user create-and-activate-profile", "u4", profile="day")
    request = AccessRequest("u4", PapCredentials(b"p4"), RequestContext(calling_station_id="aa"))
    found = decide(loaded.policy, router(loaded), request, NOW)
    assert found is not None
    decision, user_id = found
    assert decision.bind_caller_id == "aa"
    assert user_id is not None
    with loaded.database.engine.begin() as connection:
        connection.execute(text("UPDATE \"user\" SET caller_id = 'bb' WHERE username = 'u4'"))
    assert not loaded.store_effects(router(loaded), request, decision, user_id, NOW)
    assert not loaded.authenticate(router(loaded), request, NOW).accept  # bb is bound


def test_a_batch_of_effects_undoes_only_the_one_whose_place_was_taken(loaded: Userman) -> None:
    """The server commits decisions' effects in batches, each in a savepoint: two log-ons of a
    shared-users=1 user from two devices decided at once from memory (claims in the database,
    as with peers) get one place; the other's undoing leaves a third decision of the batch."""
    run(loaded, ROOT, "user add", username="s1", password="p1", **{"shared-users": "1"})
    run(loaded, ROOT, "user create-and-activate-profile", "s1", profile="day")
    run(loaded, ROOT, "user create-and-activate-profile", "u4", profile="day")
    loaded.policy.refresh()
    batch = []
    for username, password, station in (
        ("s1", b"p1", "aa"),
        ("s1", b"p1", "bb"),
        ("u4", b"p4", "cc"),
    ):
        request = AccessRequest(
            username, PapCredentials(password), RequestContext(calling_station_id=station)
        )
        found = decide(loaded.policy, router(loaded), request, NOW)
        assert found is not None
        decision, user_id = found
        assert decision.accept
        assert user_id is not None
        batch.append(Effects(router(loaded), request, decision, user_id, NOW))
    assert [effects.decision.shared_users for effects in batch] == [1, 1, None]
    assert loaded.store_effects_many(batch) == [True, False, True]
    with loaded.database.session() as db:
        assert db.scalar(select(func.count()).select_from(models.SessionClaim)) == 1
        u4 = db.scalar(select(models.User).where(models.User.username == "u4"))
        assert u4 is not None
        assert u4.caller_id == "cc"


def test_a_commit_does_not_wait_long_for_a_read_in_progress(loaded: Userman) -> None:
    """While another thread reads the policy (a full load takes seconds at a million users),
    a commit of this process leaves its changes to that read or the watcher's next one."""
    lock = loaded.policy._lock  # what a read in progress holds
    with lock:
        assert loaded.policy.refresh(wait=0.01) == 0
        run(loaded, ROOT, "user set", "u1", password="later")  # its commit does not block
    assert loaded.policy.counters["refreshes-left-to-the-next"] == 2
    loaded.policy.refresh()
    state = loaded.policy.user(1, "u1")
    assert state is not None
    assert state.user.password == "later"


def test_a_change_by_another_process_is_in_effect_for_the_next_request(loaded: Userman) -> None:
    """u1 accepted and its decision kept; another process renames a limitation (all kept
    decisions are forgotten), then disables u1: the next request after the watcher's read
    (server/policy.py, every 0.2 s) is refused."""
    request = AccessRequest("u1", PapCredentials(b"p1"))
    for _ in range(2):
        found = decide(loaded.policy, router(loaded), request, NOW)
        assert found is not None
        assert found[0].accept
    assert loaded.policy.policy.memo  # kept
    with loaded.database.engine.begin() as connection:
        connection.execute(text("UPDATE limitation SET name = 'renamed' WHERE name = 'rate'"))
    loaded.policy.refresh()
    assert not loaded.policy.policy.memo  # a row changed: all forgotten
    decide(loaded.policy, router(loaded), request, NOW)
    with loaded.database.engine.begin() as connection:
        connection.execute(text("UPDATE \"user\" SET disabled = true WHERE username = 'u1'"))
    loaded.policy.refresh()
    found = decide(loaded.policy, router(loaded), request, NOW)
    assert found is not None
    assert not found[0].accept
    assert found[0] == loaded.authenticate(router(loaded), request, NOW)


GIGAWORD = 2**32  # RFC 2869 5.1-5.2: the counters past 4 GiB, as the record holds them


def batch(app: Userman, *records: tuple[AcctStatus, str, str, dt.datetime, dict[str, int]]) -> None:
    """One accounting batch (the server's group commit) of these records."""
    r1 = router(app)
    app.account_batch(
        [
            (r1, AccountingRecord(status, session, user, **kw), at)
            for status, session, user, at, kw in records
        ]
    )


START, INTERIM, STOP = AcctStatus.START, AcctStatus.INTERIM_UPDATE, AcctStatus.STOP
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def live(loaded: Userman) -> dt.datetime:
    """The present: records of it count on u1's profile "day", which `world` activated with
    the real clock, and their facts are compared at moments of it as well as at MOMENTS."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=1)


def assert_live(app: Userman, live: dt.datetime) -> None:
    assert_same(app, (live + 4 * MINUTE, live + HOUR, live + 20 * HOUR))
    assert_same(app)


def test_an_accounting_batch_is_put_in_memory_without_reading_its_users(
    loaded: Userman, live: dt.datetime
) -> None:
    """What a batch of this process wrote (sessions opened, updated, closed; the running
    entry's counters) goes into memory as the batch commits: no user is read again, and every
    user's facts (counters, limits, open sessions against shared-users) are the database's."""
    cache = loaded.policy
    read, loads = cache.counters["users-read"], cache.counters["loads"]
    batches = [
        # u1 (shared-users 2) opens a second session beside "c"; u2 and u4 open theirs.
        [
            (START, "e", "u1", live + MINUTE, {}),
            (START, "f", "u2", live + MINUTE, {}),
            (START, "g", "u4", live + MINUTE, {}),
        ],
        # Interim-Updates, one past 4 GiB, and "c" again within the same batch.
        [
            (
                INTERIM,
                "c",
                "u1",
                live + MINUTE,
                {"session_time": 900, "download": 3 * GIGAWORD + 5},
            ),
            (INTERIM, "e", "u1", live + MINUTE, {"session_time": 60, "upload": GIGAWORD}),
            (INTERIM, "c", "u1", live + MINUTE, {"session_time": 960, "download": 4 * GIGAWORD}),
            (INTERIM, "f", "u2", live + MINUTE, {"session_time": 30, "download": 70}),
        ],
        # A Stop, a duplicate (counts nothing), a Start again of a closed session's id.
        [
            (STOP, "e", "u1", live + 2 * MINUTE, {"session_time": 3600, "upload": GIGAWORD + 1}),
            (STOP, "e", "u1", live + 2 * MINUTE, {"session_time": 3600, "upload": GIGAWORD + 1}),
            (START, "f", "u2", live + 2 * MINUTE, {}),
            (INTERIM, "h", "nobody", live + 2 * MINUTE, {"session_time": 5}),
        ],
        # An Interim-Update whose Start was lost; a Stop that alone records a whole session.
        [
            (INTERIM, "i", "u2", live + 3 * MINUTE, {"session_time": 20, "download": 9}),
            (STOP, "j", "u3", live + 3 * MINUTE, {"session_time": 40, "upload": 8}),
        ],
    ]
    for records in batches:
        batch(loaded, *records)
        assert cache.expecting == 0
        assert_live(loaded, live)
    assert cache.counters["users-read"] == read
    assert cache.counters["loads"] == loads
    assert cache.counters["users-from-accounting"] >= 9
    state = cache.user(1, "u1")
    assert state is not None
    assert sum(session.active for session in state.sessions) == 1  # "c"; "e" stopped


def test_a_batch_and_another_process_change_of_one_user_read_it_again(
    loaded: Userman, live: dt.datetime
) -> None:
    """Someone else changed u1 too (here SQL typed by hand): u1 is read whole, u2 comes from
    the batch, and memory is the database."""
    cache = loaded.policy
    read = cache.counters["users-read"]
    with loaded.database.engine.begin() as connection:
        connection.execute(text("UPDATE user_profile SET download_used = 7 WHERE user_id = 1"))
    batch(
        loaded,
        (INTERIM, "c", "u1", live + MINUTE, {"session_time": 90, "download": 1000}),
        (INTERIM, "d", "u2", live + MINUTE, {"session_time": 90, "download": 2000}),
    )
    assert cache.counters["users-read"] == read + 1
    assert_live(loaded, live)


def test_a_batch_that_closes_a_routers_sessions_reads_their_users_again(
    loaded: Userman, live: dt.datetime
) -> None:
    """An Accounting-On closes the router's sessions in one statement, rows the batch does
    not hold: their users are read again."""
    cache = loaded.policy
    read = cache.counters["users-read"]
    batch(
        loaded,
        (INTERIM, "c", "u1", live + MINUTE, {"session_time": 90}),
        (AcctStatus.ACCOUNTING_ON, "x", "", live + MINUTE, {}),
    )
    assert cache.counters["users-read"] == read + 2  # u1, u2
    assert_live(loaded, live)


def test_a_batch_that_does_not_commit_leaves_nothing_expected(
    loaded: Userman, live: dt.datetime
) -> None:
    poisoned = AccountingRecord(START, None, "u1")  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):
        loaded.account_batch(
            [
                (router(loaded), AccountingRecord(START, "k", "u1"), live),
                (router(loaded), poisoned, live),
            ]
        )
    assert loaded.policy.expecting == 0
    batch(loaded, (START, "k", "u1", live + MINUTE, {}))
    assert_live(loaded, live)


def test_a_batch_committed_while_a_read_is_in_progress_is_taken_by_the_next(
    loaded: Userman, live: dt.datetime
) -> None:
    """The batch's commit leaves its changes to the read in progress (or the next): that read
    puts what the batch wrote in memory."""
    with loaded.policy._lock:
        batch(loaded, (INTERIM, "c", "u1", live + MINUTE, {"session_time": 120, "upload": 6}))
        assert loaded.policy.expecting == 1
    read = loaded.policy.counters["users-read"]
    loaded.policy.refresh()
    assert loaded.policy.expecting == 0
    assert loaded.policy.counters["users-read"] == read
    assert_live(loaded, live)
