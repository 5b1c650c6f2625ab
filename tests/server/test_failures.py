"""The rate limit of dropped requests in the log (server/failures.py): one entry per router and
reason a window, the next saying how many were left out. Times are passed in, as the loop's."""

from __future__ import annotations

import datetime as dt

from userman.core.context import RequestContext
from userman.server.failures import FailureLog
from userman.services.routers import Drop, Failure, RouterInfo

WHEN = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def failure(router_id: int = 1, drop: Drop = Drop.NO_MESSAGE_AUTHENTICATOR) -> Failure:
    router = RouterInfo(router_id, f"r{router_id}", 1, 1, b"s", frozenset(), disabled=False)
    return Failure(router, drop, "test", RequestContext(), WHEN)


def test_the_first_drop_is_written_the_rest_of_the_window_counted() -> None:
    failures = FailureLog(window=60)
    assert failures.note(failure(), 0.0) == 0
    assert [failures.note(failure(), t) for t in (1.0, 30.0, 59.9)] == [None, None, None]
    assert failures.note(failure(), 60.0) == 3  # the next entry says how many were left out
    assert failures.note(failure(), 61.0) is None


def test_each_router_and_reason_has_its_own_window() -> None:
    failures = FailureLog(window=60)
    assert failures.note(failure(1), 0.0) == 0
    assert failures.note(failure(2), 1.0) == 0
    assert failures.note(failure(1, Drop.WRONG_MESSAGE_AUTHENTICATOR), 2.0) == 0
    assert failures.note(failure(1), 3.0) is None


def test_what_no_later_drop_reported_is_owed_once_the_window_ends() -> None:
    failures = FailureLog(window=60)
    failures.note(failure(), 0.0)
    latest = failure()
    failures.note(failure(), 10.0)
    failures.note(latest, 20.0)
    assert failures.due(59.0) == []
    assert failures.due(60.0) == [(latest, 1)]  # the latest, and one more before it
    assert failures.due(200.0) == []  # nothing since: forgotten
    assert failures.note(failure(), 201.0) == 0


def test_a_failure_describes_its_router_and_reason() -> None:
    assert failure().describe() == (
        "router r1: no Message-Authenticator; set require-message-authenticator=no for routers"
        " that cannot send one"
    )
    assert failure(drop=Drop.WRONG_MESSAGE_AUTHENTICATOR).describe(4) == (
        "router r1: Message-Authenticator does not match: wrong shared secret?"
        " (4 more dropped since the last entry)"
    )


def test_a_stopping_server_writes_all_it_owes() -> None:
    failures = FailureLog(window=60)
    failures.note(failure(), 0.0)
    latest = failure()
    failures.note(latest, 5.0)
    assert failures.due(6.0) == []
    assert failures.due(6.0, final=True) == [(latest, 0)]
