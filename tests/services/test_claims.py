"""shared-users claims in memory while a process serves alone, in the database with peers, and
the switch between them (services/claims.py, services/nodes.py, store/claims.py,
store/nodes.py), on each back end.

The manual's example (`user add ... shared-users=1`): "shared-users - how many sessions can be
active for this user at once"; two log-ons at once get one Accept, wherever they are decided.
"""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import threading
import time

import pytest
from sqlalchemy import func, select, text

from support import run
from userman.services import Actor, Userman
from userman.services.claims import Claims, Mode, StaleError
from userman.services.nodes import LEASE_SECONDS, Registry
from userman.store import claims as stored
from userman.store import models, nodes

ROOT = Actor.superuser()
NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(seconds=stored.CLAIM_SECONDS + 1)


def alone() -> Claims:
    places = Claims()
    places.switched(Mode.ALONE)
    places.lease_until = time.monotonic() + LEASE_SECONDS
    return places


# In memory, alone.


def test_a_limit_of_one_takes_one_place_until_it_lapses() -> None:
    places = alone()
    assert places.take(1, 1, 0, NOW) is True
    assert places.take(1, 1, 0, NOW) is False
    assert places.take(2, 1, 0, NOW) is True  # another user
    assert places.held(1, NOW) == 1
    assert places.take(1, 2, 1, NOW) is False  # an open session and the claim fill 2
    assert places.held(1, LATER) == 0
    assert places.take(1, 1, 0, LATER) is True  # the claim lapsed: no session started


def test_a_device_trying_again_takes_its_own_claim_over() -> None:
    """A log-on whose Accept was lost, or whose session did not come up, is tried again by the
    same device: it is not turned away by its own claim; another device is."""
    places = alone()
    phone, laptop = (1, "AA:BB:CC:00:00:01"), (1, "AA:BB:CC:00:00:02")
    assert places.take(1, 1, 0, NOW, device=phone) is True
    assert places.held(1, NOW, phone) == 0  # its own claim does not count against it
    assert places.held(1, NOW, laptop) == 1
    assert places.take(1, 1, 0, NOW, device=phone) is True  # in place of the first
    assert places.held(1, NOW) == 1
    assert places.take(1, 1, 0, NOW, device=laptop) is False
    assert places.take(1, 1, 0, NOW) is False  # a request that names no device
    assert places.take(1, 1, 0, NOW, device=(2, phone[1])) is False  # through another router


def test_two_decisions_at_once_get_one_place() -> None:
    places = alone()
    results: list[bool | None] = []
    start = threading.Barrier(8)

    def log_on() -> None:
        start.wait()
        results.append(places.take(7, 1, 0, NOW))

    threads = [threading.Thread(target=log_on) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=bool) == [False] * 7 + [True]


def test_a_start_takes_its_claim_over_at_the_read_that_sees_it() -> None:
    places = alone()
    assert places.take(1, 2, 0, NOW)
    assert places.take(1, 2, 0, NOW)
    before = places.mark()  # a read that began before the session was committed
    places.started([1])
    places.settle(before)
    assert places.held(1, NOW) == 2  # that read did not see the session: the claim holds
    places.settle(places.mark())
    assert places.held(1, NOW) == 1  # this one did: the session counts, not the claim


def test_a_claim_whose_session_started_is_not_written_to_the_database() -> None:
    """The session is committed (the database counts it): at the switch its claim, not yet
    taken over by a read, is not written as well."""
    places = alone()
    assert places.take(1, 2, 0, NOW)
    assert places.take(2, 2, 0, NOW)
    places.started([1])
    assert places.shared() == [(2, NOW)]
    places.settle(places.mark())  # the read that follows takes nothing more over
    places.switched(Mode.ALONE, [(2, NOW)])
    assert places.held(2, NOW) == 1


def test_not_alone_claims_go_to_the_database() -> None:
    places = Claims()
    assert places.mode is Mode.SHARED
    assert places.take(1, 1, 0, NOW) is None
    places.shared()
    assert places.take(1, 1, 0, NOW) is None  # switching: the loop does not wait


def test_alone_without_a_renewed_registration_claims_nothing() -> None:
    places = alone()
    places.lease_until = time.monotonic() - 0.1
    with pytest.raises(StaleError):
        places.take(1, 1, 0, NOW)


# The registry and the switch, on SQLite and PostgreSQL.


@pytest.fixture
def user_id(app: Userman) -> int:
    run(app, ROOT, "user add", username="one", password="p", **{"shared-users": "1"})
    with app.database.session() as db:
        found = db.scalar(select(models.User.id).where(models.User.username == "one"))
    assert found is not None
    return found


def claims_stored(app: Userman) -> int:
    with app.database.session() as db:
        return int(db.scalar(select(func.count()).select_from(models.SessionClaim)) or 0)


def test_a_process_alone_claims_in_memory(app: Userman, user_id: int) -> None:
    now = dt.datetime.now(dt.UTC)  # the registry reckons with the real clock
    first = Registry(app.database, Claims())
    first.join()
    assert first.ready()
    assert first.claims.mode is Mode.ALONE
    assert first.claims.take(user_id, 1, 0, now) is True
    assert claims_stored(app) == 0
    first.leave()
    with app.database.session() as db:
        assert nodes.count(db) == 0


def test_a_second_node_makes_the_first_write_its_claims(app: Userman, user_id: int) -> None:
    now = dt.datetime.now(dt.UTC)  # the registry reckons with the real clock
    later = now + dt.timedelta(seconds=stored.CLAIM_SECONDS + 1)
    first = Registry(app.database, Claims())
    first.join()
    assert first.claims.take(user_id, 1, 0, now) is True  # an Accept, its session not started
    second = Registry(app.database, Claims())
    second.join()
    assert second.node_id is not None
    assert first.node_id is not None
    assert second.node_id > first.node_id
    assert not second.ready()  # it claims nowhere until the first acknowledged it
    assert second.claims.mode is Mode.SWITCHING
    first.beat()  # sees the peer: writes its claim, then acknowledges
    assert first.claims.mode is Mode.SHARED
    assert first.acknowledged == second.node_id
    assert claims_stored(app) == 1
    assert first.claims.held(user_id, now) == 0
    second.beat()
    assert second.ready()
    assert second.claims.mode is Mode.SHARED
    # The second node's log-on of the same user is refused: the first's claim counts.
    with app.database.begin() as db:
        assert not stored.claim(db, user_id, 1, now, node_id=second.node_id)
    # The first node's claims now go to the database too.
    assert first.claims.take(user_id, 1, 0, now) is None
    second.leave()
    first.beat()  # alone again, but a live claim in the database keeps it there
    assert first.claims.mode is Mode.SHARED
    with app.database.begin() as db:
        stored.prune(db, later)
    first.beat()
    assert first.claims.mode is Mode.ALONE


def test_a_node_not_seen_for_long_is_forgotten_and_registers_again(
    app: Userman, user_id: int
) -> None:
    now = dt.datetime.now(dt.UTC)  # the registry reckons with the real clock
    first = Registry(app.database, Claims())
    first.join()
    second = Registry(app.database, Claims())
    second.join()
    first.beat()
    second.beat()
    old = second.node_id
    assert old is not None
    with app.database.begin() as db:  # the second stalled: not seen for PEER_SECONDS
        db.execute(
            text("UPDATE server_node SET seen = :then WHERE id = :id"),
            {"then": dt.datetime(2000, 1, 1), "id": old},
        )
    first.beat()  # forgets it
    with app.database.begin() as db, pytest.raises(nodes.Unregistered):
        stored.claim(db, user_id, 1, now, node_id=old)  # its claims would not be seen
    second.beat()  # registers again, and waits for the first's acknowledgement
    assert second.node_id is not None
    assert second.node_id > old
    assert not second.ready()
    first.beat()
    second.beat()
    assert second.ready()


def test_a_process_of_this_host_that_was_killed_is_no_peer(app: Userman) -> None:
    """A `serve` killed and started again at once does not wait for its former self."""
    ended = subprocess.Popen(["true"])
    ended.wait()
    with app.database.begin() as db:
        nodes.register(db, socket.gethostname(), ended.pid)
    again = Registry(app.database, Claims())
    again.join()
    assert again.peers == []
    assert again.ready()
    assert again.claims.mode is Mode.ALONE


def test_in_the_database_a_device_trying_again_takes_its_own_claim_over(
    app: Userman, user_id: int
) -> None:
    """With peers, the same rule in session_claim: the device's earlier claim does not count
    against it and is gone once the new one is kept; another device is refused."""
    with app.database.begin() as db:
        assert stored.claim(db, user_id, 1, NOW, 1, station="AA:01")
    with app.database.begin() as db:
        assert stored.live_claims(db, user_id, NOW, 1, "AA:01") == 0
        assert stored.live_claims(db, user_id, NOW, 1, "AA:02") == 1
        assert stored.claim(db, user_id, 1, NOW, 1, station="AA:01")
    with app.database.begin() as db:
        assert stored.live_claims(db, user_id, NOW) == 1
        assert not stored.claim(db, user_id, 1, NOW, 1, station="AA:02")
        assert not stored.claim(db, user_id, 1, NOW, 2, station="AA:01")  # another router
        assert not stored.claim(db, user_id, 1, NOW, 1)  # no device named
        assert stored.live_claims(db, user_id, NOW) == 1


def test_in_the_database_a_lapsed_claim_counts_no_more(app: Userman, user_id: int) -> None:
    """A claim whose session never started holds its place CLAIM_SECONDS, no longer: it is
    not counted after that, though its row stays until the server's prune."""
    with app.database.begin() as db:
        assert stored.claim(db, user_id, 1, NOW, 1, station="AA:01")
    with app.database.begin() as db:
        assert not stored.claim(db, user_id, 1, LATER - dt.timedelta(seconds=2), 1, station="AA:02")
        assert stored.claim(db, user_id, 1, LATER, 1, station="AA:02")
    assert claims_stored(app) == 2
    with app.database.begin() as db:
        assert stored.prune(db, LATER + dt.timedelta(seconds=1)) == 1
