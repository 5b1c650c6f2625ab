"""The routers' counters (`router monitor`) add up what every server counted: under `serve
--workers N` N processes, and nodes on one PostgreSQL, flush their counts at once. Each adds
`value + count` in the database, so none is lost (reading the total, adding here and writing
it back would overwrite another's count), and a counter another one inserted meanwhile is added
to, not inserted twice (a unique-key error that lost the flush)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from inmemory import do
from userman.services import Actor, Userman
from userman.services.aaa import find_router

ROUNDS = 40


@pytest.fixture
def apps(prepared_db_url: str) -> Iterator[tuple[Userman, Userman]]:
    """Two servers' services on one database."""
    first = Userman(prepared_db_url)
    first.prepare()
    do(first, "router add", name="r", **{"ip-address": "127.0.0.1", "shared-secret": "12345"})
    second = Userman(prepared_db_url)
    yield first, second
    first.close()
    second.close()


def test_two_servers_adding_at_once_lose_no_count(apps: tuple[Userman, Userman]) -> None:
    router = find_router(apps[0].database, "127.0.0.1")
    assert router is not None
    start = threading.Barrier(len(apps))

    def flush(app: Userman) -> None:
        start.wait()
        for _ in range(ROUNDS):  # a new counter at first, for both at once
            app.add_counters({(router.id, "access-requests"): 1, (router.id, "accepts"): 2})

    threads = [threading.Thread(target=flush, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shown = apps[0].execute(Actor.superuser(), ("router",), "monitor", ("r",)).message
    assert f"access-requests: {2 * ROUNDS}" in shown
    assert f"accepts: {4 * ROUNDS}" in shown
