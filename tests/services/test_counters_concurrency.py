"""Two server nodes add to one user's counters at once (PostgreSQL, where nodes share the
database): each adds `column + what it counted`, so neither count is lost, as it would be by
reading the counter, adding in Python and writing the sum back. The second node's batch waits
for the first one's row lock, then adds to what the first one committed."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest

from inmemory import do
from userman.core.accounting import AccountingRecord, AcctStatus
from userman.services import Actor, Userman
from userman.services.aaa import find_router, store_records


@pytest.fixture
def app(db_url: str) -> Iterator[Userman]:
    userman = Userman(db_url)
    userman.prepare()
    do(userman, "router add", name="r", **{"ip-address": "127.0.0.1", "shared-secret": "12345"})
    do(userman, "profile add", name="p", validity="1d", **{"starts-at": "now"})
    do(userman, "user add", username="test", password="test", **{"shared-users": "2"})
    do(userman, "user create-and-activate-profile", "test", profile="p")
    yield userman
    userman.close()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_nodes_add_to_one_user_without_losing_a_count(app: Userman) -> None:
    router = find_router(app.database, "127.0.0.1")
    assert router is not None

    def record(session: str, uptime: int, download: int) -> AccountingRecord:
        return AccountingRecord(
            AcctStatus.INTERIM_UPDATE, session, "test", session_time=uptime, download=download
        )

    now = dt.datetime.now(dt.UTC)  # while the profile runs, so its counters count too
    # Node one has stored its batch and not committed yet when node two stores its own.
    with app.database.begin() as first:
        store_records(first, [(router, record("a", 50, 5_000), now)])
        second = threading.Thread(
            target=app.account_many, args=([(router, record("b", 100, 10_000), now)],)
        )
        second.start()
        second.join(0.5)
        assert second.is_alive()  # it cannot finish while node one holds the user's row
    second.join()
    user = app.execute(Actor.superuser(), ("user",), "get", ("test",)).items[0].json
    assert (user["uptime-used"], user["download-used"]) == ("2m30s", 15_000)
    [entry] = app.execute(Actor.superuser(), ("user-profile",), "print").items
    assert (entry.json["uptime-used"], entry.json["download-used"]) == ("2m30s", 15_000)
