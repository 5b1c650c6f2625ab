"""Limits during a session, pure (core/enforce.py, `reauthorize`, `covered_until`), with an
explicit `now`: what an open session is told when windows hand over, profiles run out or hand
over, and what does not count as a change."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import sys

import pytest

from userman.core.authorize import (
    AccessRequest,
    PapCredentials,
    RejectReason,
    UserFacts,
    authorize,
    reauthorize,
)
from userman.core.enforce import coa_reply, fingerprint, next_change
from userman.core.limits import LimitationFacts, Usage, covered_until
from userman.core.profiles import ProfileSlot, ProfileState
from userman.core.windows import Weekday, Window

NOON = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)  # a Monday
HOUR = 3600
DAY_WINDOW = Window(8 * HOUR, 20 * HOUR - 1)  # 08:00:00-19:59:59
NIGHT_WINDOW = Window(20 * HOUR, 8 * HOUR - 1)  # 20:00:00-07:59:59, across midnight
DAY = LimitationFacts(name="day", rate_limit_rx=10_000_000, windows=(DAY_WINDOW,))
NIGHT = LimitationFacts(name="night", rate_limit_rx=1_000_000, windows=(NIGHT_WINDOW,))
RUNNING = ProfileSlot(
    1, "p", ProfileState.RUNNING, dt.timedelta(days=1), NOON, NOON + dt.timedelta(days=1)
)
WORKDAYS = frozenset(Weekday) - {Weekday.SATURDAY, Weekday.SUNDAY}
NEXT = ProfileSlot(2, "q", ProfileState.WAITING, dt.timedelta(days=1), profile_id=2)


def facts(*limitations: LimitationFacts, **changes: object) -> UserFacts:
    base = UserFacts(
        "test",
        "test",
        disabled=False,
        profiles=(RUNNING,),
        user_id=7,
        limits=tuple((lim, Usage(0, 0, 0)) for lim in limitations),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def accept(user: UserFacts, now: dt.datetime = NOON) -> dict[str, object]:
    decision = authorize(AccessRequest("test", PapCredentials(b"test")), user, now)
    assert decision.accept
    return {str(name): value for name, value in decision.reply}


# -- covered_until: where the windows stop covering, not where they hand over -------------------


@pytest.mark.parametrize(
    ("limitations", "now", "expected"),
    [
        ((DAY,), NOON, NOON.replace(hour=20)),
        ((DAY, NIGHT), NOON, None),  # covered day and night
        ((NIGHT,), NOON.replace(hour=23), NOON.replace(hour=8) + dt.timedelta(days=1)),
        ((), NOON, None),
        (  # Monday to Friday, all day: covered until Saturday begins
            (dataclasses.replace(DAY, windows=(Window(0, 24 * HOUR - 1, WORKDAYS),)),),
            NOON,
            dt.datetime(2026, 3, 7, tzinfo=dt.UTC),
        ),
    ],
)
def test_covered_until(
    limitations: tuple[LimitationFacts, ...], now: dt.datetime, expected: dt.datetime | None
) -> None:
    assert covered_until(limitations, now, dt.UTC) == expected


# -- Session-Timeout for routers that take CoA -------------------------------------------------


def test_without_coa_a_window_hand_over_ends_the_session() -> None:
    assert accept(facts(DAY, NIGHT))["Session-Timeout"] == 8 * HOUR


def test_with_coa_a_window_hand_over_does_not_end_the_session() -> None:
    reply = accept(facts(DAY, NIGHT, coa=True))
    assert reply["Session-Timeout"] == 24 * HOUR  # the profile's end, not 20:00
    assert accept(facts(DAY, coa=True))["Session-Timeout"] == 8 * HOUR  # the windows' end


def test_with_coa_a_profile_hand_over_does_not_end_the_session() -> None:
    assert accept(facts(profiles=(RUNNING, NEXT)))["Session-Timeout"] == 24 * HOUR
    assert "Session-Timeout" not in accept(facts(profiles=(RUNNING, NEXT), coa=True))


# -- reauthorize: an open session asked again --------------------------------------------------


def test_reauthorize_does_not_count_the_session_against_shared_users() -> None:
    user = facts(DAY, shared_users=1, active_sessions=1)
    assert reauthorize(user, NOON).accept
    refused = authorize(AccessRequest("test", PapCredentials(b"test")), user, NOON)
    assert refused.reason is RejectReason.TOO_MANY_SESSIONS


@pytest.mark.parametrize(
    ("changes", "now", "reason"),
    [
        ({"disabled": True}, NOON, RejectReason.USER_DISABLED),
        ({"customer_disabled": True}, NOON, RejectReason.CUSTOMER_DISABLED),
        ({}, NOON.replace(hour=20, second=1), RejectReason.OUTSIDE_TIME_WINDOW),
        ({}, NOON + dt.timedelta(days=1), RejectReason.NO_VALID_PROFILE),
    ],
)
def test_reauthorize_refuses_when_access_ended(
    changes: dict[str, object], now: dt.datetime, reason: RejectReason
) -> None:
    assert reauthorize(facts(DAY, **changes), now).reason is reason


def test_reauthorize_starts_the_next_profile_when_the_running_one_ends() -> None:
    later = NOON + dt.timedelta(days=1, seconds=1)
    decision = reauthorize(facts(profiles=(RUNNING, NEXT)), later)
    assert decision.accept
    assert [(s.id, s.state) for s in decision.profile_changes] == [
        (1, ProfileState.USED),
        (2, ProfileState.RUNNING),
    ]


# -- fingerprint: what a CoA must bring, and what is no change ---------------------------------


def digest(user: UserFacts, now: dt.datetime) -> str:
    return fingerprint(user, reauthorize(user, now), now)


def test_the_fingerprint_ignores_what_counts_down() -> None:
    quota = dataclasses.replace(DAY, uptime_limit=4 * HOUR, transfer_limit=10**9)
    user = facts(quota)
    used = facts(quota, limits=((quota, Usage(HOUR, 10**6, 10**6)),))
    assert digest(user, NOON) == digest(used, NOON + dt.timedelta(minutes=30))


def test_the_fingerprint_changes_with_the_limits_that_apply() -> None:
    user = facts(DAY, NIGHT)
    assert digest(user, NOON) != digest(user, NOON.replace(hour=21))
    faster = dataclasses.replace(DAY, rate_limit_rx=20_000_000)
    assert digest(user, NOON) != digest(facts(faster, NIGHT), NOON)
    later = dataclasses.replace(DAY, windows=(Window(9 * HOUR, 20 * HOUR - 1),))
    assert digest(user, NOON) != digest(facts(later, NIGHT), NOON)  # a window edited
    assert digest(facts(DAY, disabled=True), NOON) == ""  # a reject has none


def test_the_fingerprint_is_the_same_in_every_process() -> None:
    # Weekdays are a frozenset: its order depends on the process's hash seed.
    code = (
        "import sys; sys.path.insert(0, 'tests/core'); import test_enforce as t; "
        "print(t.digest(t.facts(t.DAY, t.NIGHT), t.NOON))"
    )
    seen = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert seen == {digest(facts(DAY, NIGHT), NOON) + "\n"}


# -- coa_reply and next_change -------------------------------------------------------------------


def test_a_coa_brings_the_new_reply_with_the_whole_session_s_timeout() -> None:
    evening = NOON.replace(hour=21)
    pairs = dict(coa_reply(reauthorize(facts(DAY, NIGHT, coa=True), evening), elapsed=600))
    assert pairs["Mikrotik-Rate-Limit"] == "1M/0"
    assert pairs["Session-Timeout"] == str(15 * HOUR + 600)  # the profile ends at noon
    assert "Class" not in pairs


def test_next_change_is_the_next_window_boundary_or_the_profile_s_end() -> None:
    assert next_change(facts(DAY, NIGHT), NOON) == NOON.replace(hour=20)
    assert next_change(facts(), NOON) == NOON + dt.timedelta(days=1)
    assert next_change(facts(profiles=()), NOON) is None
