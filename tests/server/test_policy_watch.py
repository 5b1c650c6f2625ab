"""The policy's watcher: it reads the change log in a thread of its own, and when the database
does not answer, decisions go on from the policy as last read, with one log line per outage."""

from __future__ import annotations

import asyncio
import logging

import pytest

from support import run
from userman.core.authorize import AccessRequest, PapCredentials
from userman.server import policy
from userman.services import Actor, RouterInfo, Userman

ROOT = Actor.superuser()


@pytest.fixture
def served(app: Userman) -> tuple[Userman, RouterInfo]:
    """make_app's router, profile p and user test, the profile running."""
    run(app, ROOT, "user create-and-activate-profile", "test", profile="p")
    app.policy.load()
    router = app.find_router("127.0.0.1")  # read first: a transaction of this process refreshes
    assert router is not None
    return app, router


def watch_briefly(app: Userman, seconds: float) -> None:
    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(policy.watch(app.policy, stop, interval=0.01))
        await asyncio.sleep(seconds)
        stop.set()
        await task

    asyncio.run(go())


def decide(app: Userman, router: RouterInfo) -> bool:
    found = app.decide(router, AccessRequest("test", PapCredentials(b"test")), app.policy.clock())
    assert found is not None
    return found[0].accept


def test_the_watcher_reads_what_another_process_wrote(served: tuple[Userman, RouterInfo]) -> None:
    app, router = served
    with app.database.engine.begin() as connection:  # no commit hook of this process
        connection.exec_driver_sql("UPDATE \"user\" SET disabled = TRUE WHERE username = 'test'")
    assert decide(app, router)
    assert decide(app, router)
    assert app.policy.policy.memo  # the decision kept (core/policy.py decision_facts)
    watch_briefly(app, 0.2)
    assert not decide(app, router)


def test_a_command_is_in_effect_for_the_next_request(served: tuple[Userman, RouterInfo]) -> None:
    """A decision kept, then a command of this process: its commit reads the change in."""
    app, router = served
    assert decide(app, router)
    assert app.policy.policy.memo
    run(app, ROOT, "user set", "test", password="changed")
    assert not decide(app, router)


def test_decisions_go_on_from_memory_while_the_database_does_not_answer(
    served: tuple[Userman, RouterInfo],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, router = served

    def unreachable() -> int:
        raise ConnectionError("the database does not answer")

    monkeypatch.setattr(app.policy, "refresh", unreachable)
    with caplog.at_level(logging.ERROR, logger="userman.server"):
        watch_briefly(app, 0.2)
    assert app.policy.counters["failed-refreshes"] > 1
    assert len([r for r in caplog.records if "policy's changes" in r.message]) == 1
    assert decide(app, router)
