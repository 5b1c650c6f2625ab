"""Shared-users places claimed for a whole batch of decisions at once (store/claims.py
`claim_many`, services/access.py `store_effects_many`), on SQLite and PostgreSQL: the answers
one claim at a time gives, in a fixed number of statements, and exact when two batches (two
nodes) race for the same users: never two places under a limit of 1 (manual: shared-users,
"how many sessions a user may have at once")."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import delete, event, select, update

from support import NOW, run
from userman.core.accounting import AccountingRecord, AcctStatus
from userman.core.authorize import AccessRequest, PapCredentials
from userman.core.context import RequestContext
from userman.services import Actor, Userman
from userman.services.access import Effects, decide, store_effects_many
from userman.services.claims import Claims
from userman.services.routers import RouterInfo
from userman.store import claims as stored
from userman.store import models

ROOT = Actor.superuser()
USERS = 8
ROUNDS = 12  # races of two batches


@pytest.fixture
def limited(app: Userman) -> Userman:
    """USERS users at shared-users=1 (b0, b1, ...), each with a running profile."""
    run(app, ROOT, "router add", name="r1", **{"ip-address": "10.0.0.1", "shared-secret": "s"})
    run(app, ROOT, "profile add", name="open")
    for n in range(USERS):
        run(app, ROOT, "user add", username=f"b{n}", password="pw", **{"shared-users": "1"})
        run(app, ROOT, "user create-and-activate-profile", f"b{n}", profile="open")
    app.policy.refresh()
    return app


def router(app: Userman) -> RouterInfo:
    found = app.find_router("10.0.0.1")
    assert found is not None
    return found


def effects(app: Userman, username: str, station: str) -> Effects:
    """A decision from memory to log `username` on from the device `station`, as a node with
    peers makes it: accepted, its place to be claimed in the database."""
    context = RequestContext(calling_station_id=station)
    request = AccessRequest(username, PapCredentials(b"pw"), context)
    found = decide(app.policy, router(app), request, NOW)
    assert found is not None
    decision, user_id = found
    assert decision.accept
    assert decision.shared_users == 1
    assert user_id is not None
    return Effects(router(app), request, decision, user_id, NOW)


def claims_held(app: Userman) -> list[tuple[str, str]]:
    with app.database.session() as db:
        rows = db.execute(
            select(models.User.username, models.SessionClaim.calling_station_id)
            .join(models.User, models.User.id == models.SessionClaim.user_id)
            .order_by(models.User.username, models.SessionClaim.id)
        )
        return [(username, station) for username, station in rows]


@contextmanager
def statements(app: Userman) -> Iterator[list[str]]:
    """The SQL statements the database is sent meanwhile."""
    sent: list[str] = []

    def seen(*args: Any) -> None:
        sent.append(str(args[2]))

    engine = app.database.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def test_a_batch_is_claimed_as_one_at_a_time_would_in_two_statements(limited: Userman) -> None:
    """Meanwhile, on other nodes: b1 was given a place from another device (refused), b2 one
    from the same device (taken over), b3's session started (refused); the others are free.
    The claims of all eight take one INSERT and one DELETE (and on PostgreSQL one statement
    of locks), not a few statements each."""
    batch = [effects(limited, f"b{n}", f"d{n}") for n in range(USERS)]
    with limited.database.begin() as db:
        ids = dict(db.execute(select(models.User.username, models.User.id)).all())
        assert stored.claim(db, ids["b1"], 1, NOW, router(limited).id, station="other")
        assert stored.claim(db, ids["b2"], 1, NOW, router(limited).id, station="d2")
    limited.account(router(limited), AccountingRecord(AcctStatus.START, "s3", "b3"), NOW)
    with statements(limited) as sent:
        stored_ = store_effects_many(limited.database, batch, claims=Claims())
    assert stored_ == [True, False, True, False, True, True, True, True]
    touching = [sql for sql in sent if "session_claim" in sql]
    assert len(touching) == 2, touching
    # In all about four a decision (its savepoint, the user's row, its last-seen, the
    # savepoint's release); one claim at a time took 71 statements for these eight.
    assert len(sent) <= 5 * len(batch), sent
    assert claims_held(limited) == [
        ("b0", "d0"),
        ("b1", "other"),
        ("b2", "d2"),  # the new one: the device's earlier claim was taken over
        ("b4", "d4"),
        ("b5", "d5"),
        ("b6", "d6"),
        ("b7", "d7"),
    ]


def test_a_decision_undone_after_its_claim_gives_the_place_back(limited: Userman) -> None:
    """b0's caller-id is bound on first use, and another node bound it first: the decision
    is undone (False: the database decides again), and its claim with it."""
    run(limited, ROOT, "user set", "b0", **{"caller-id-bind-on-first-use": "yes"})
    limited.policy.refresh()
    batch = [effects(limited, "b0", "d0"), effects(limited, "b1", "d1")]
    assert batch[0].decision.bind_caller_id == "d0"
    with limited.database.begin() as db:
        db.execute(update(models.User).where(models.User.username == "b0").values(caller_id="x"))
    assert store_effects_many(limited.database, batch, claims=Claims()) == [False, True]
    assert claims_held(limited) == [("b1", "d1")]


def _race(app: Userman, batches: Sequence[Sequence[Effects]]) -> list[list[bool]]:
    """The batches stored at once, each in a thread of its own (as on two nodes)."""
    gate = threading.Barrier(len(batches))
    results: list[list[bool]] = [[] for _ in batches]
    failures: list[BaseException] = []

    def one(n: int) -> None:
        try:
            gate.wait(timeout=10)
            results[n] = store_effects_many(app.database, batches[n], claims=Claims())
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    return results


def test_two_batches_racing_for_the_same_users_get_one_place_each(limited: Userman) -> None:
    """Two nodes' batches with the same users from other devices, in opposite orders (their
    locks are taken in one order: neither waits for the other in a circle): each user passes
    in exactly one of them, every round."""
    names = [f"b{n}" for n in range(USERS)]
    # Each user logged on once before: its profile runs, so what the racing decisions store
    # is the claim alone (a profile that starts is itself stored once: services/access.py).
    store_effects_many(limited.database, [effects(limited, name, "AA-00") for name in names])
    limited.policy.refresh()
    first = [effects(limited, name, "AA-01") for name in names]
    second = [effects(limited, name, "AA-02") for name in reversed(names)]
    assert not any(one.decision.profile_changes for one in first + second)
    for _ in range(ROUNDS):
        with limited.database.begin() as db:
            db.execute(delete(models.SessionClaim))
        one, other = _race(limited, [first, second])
        assert [a + b for a, b in zip(one, reversed(other), strict=True)] == [1] * USERS
        assert len(claims_held(limited)) == USERS
