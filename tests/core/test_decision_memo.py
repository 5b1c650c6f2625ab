"""The decision memo (core/policy.py `decision_facts`): a decision made with a user's facts and
terms kept from an earlier moment is the decision made afresh (`user_facts` + `authorize`),
at every moment, across every time boundary (a profile's end, a window's edges, a daily counter
reset, a daylight saving change), and the state or rows changed make it afresh."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from userman.core.authorize import AccessRequest, Decision, PapCredentials, authorize, terms
from userman.core.context import RequestContext
from userman.core.limits import LimitationFacts, ResetInterval, Usage
from userman.core.policy import (
    Binding,
    CustomerRecord,
    Entry,
    LimitationRecord,
    Policy,
    ProfileRecord,
    SessionUsage,
    UserRecord,
    UserState,
    decision_facts,
    user_facts,
)
from userman.core.profiles import ProfileState
from userman.core.windows import Weekday, Window

RIGA = ZoneInfo("Europe/Riga")  # +03:00 until 2026-10-25 01:00 UTC, then +02:00
T0 = dt.datetime(2026, 10, 24, 0, 0, tzinfo=dt.UTC)  # a Saturday
HOUR = dt.timedelta(hours=1)
SPAN = 72  # hours: the weekend, the clocks going back, a Monday
CALLER = "02-00-00-00-00-01"


def _user(user_id: int, name: str, **columns: object) -> UserRecord:
    values: dict[str, object] = {
        "id": user_id,
        "subscriber_id": 1,
        "customer_id": 1,
        "username": name,
        "password": "pw",
        "disabled": False,
        "shared_users": 1,
        "caller_id": "",
        "caller_id_bind_on_first_use": False,
        "ip_address": "",
        "ipv6_dns": "",
        "wireless_enc_algo": "none",
        "wireless_enc_key": "",
        "wireless_psk": "",
        "group_id": None,
        "attributes": "",
        "otp_secret": "",
        "otp_step": None,
    }
    values.update(columns)
    return UserRecord(**values)  # type: ignore[arg-type]


def _policy() -> Policy:
    policy = Policy()
    policy.customers[1] = CustomerRecord(1, False, RIGA, evicts=False)
    policy.profiles.update(
        {
            1: ProfileRecord(1, "two-days", dt.timedelta(days=2), "off", "Idle-Timeout:60"),
            2: ProfileRecord(2, "next", dt.timedelta(hours=5), "off", ""),
            3: ProfileRecord(3, "free", None, "unlimited", ""),
        }
    )
    daily = LimitationFacts(
        name="daily",
        uptime_limit=3600,
        rate_limit_rx=1_000_000,
        reset_counters_interval=ResetInterval.DAILY,
    )
    night = LimitationFacts(name="night", rate_limit_rx=500_000, group_name="night")
    total = LimitationFacts(name="total", download_limit=10**9)
    policy.limitations.update(
        {
            1: LimitationRecord(1, 1, daily),
            2: LimitationRecord(2, 1, night),
            3: LimitationRecord(3, 1, total),
        }
    )
    weekend = frozenset({Weekday.SATURDAY, Weekday.SUNDAY})
    policy.bindings.update(
        {
            # The day 07:00-21:59:59 and the night 22:00-06:59:59, the profile's hand-over.
            1: Binding(1, 1, 1, Window(7 * 3600, 22 * 3600 - 1)),
            2: Binding(2, 1, 2, Window(22 * 3600, 7 * 3600 - 1)),
            # Only on weekend afternoons, and outside them refused.
            3: Binding(3, 2, 1, Window(12 * 3600, 18 * 3600 - 1, weekend)),
            4: Binding(4, 3, 3, Window()),
        }
    )
    since = T0 - dt.timedelta(days=10)
    running = Entry(1, 1, ProfileState.RUNNING, T0 - dt.timedelta(days=1), T0 + 25 * HOUR, Usage())
    states = [
        # Runs "two-days" until T0+25h, then "next" waits for the next log-on.
        UserState(
            _user(1, "u1", shared_users=2, caller_id=CALLER),
            (running, Entry(2, 2, ProfileState.WAITING, None, None, Usage())),
            (
                SessionUsage(1, T0 - 2 * HOUR, False, Usage(1800, 10, 10)),
                SessionUsage(2, T0, True, Usage(60, 1, 1)),
            ),
            since,
        ),
        # Its day's hour used up yesterday: refused until the counters reset at local midnight.
        UserState(
            _user(2, "u2", group_id=None, attributes="Class:x"),
            (dataclasses.replace(running, id=3),),
            (SessionUsage(3, T0 - 3 * HOUR, False, Usage(3600, 0, 0)),),
            since,
        ),
        # The free profile: no end, a lifetime quota, unlimited sessions.
        UserState(
            _user(3, "u3", ip_address="10.1.1.1", ipv6_dns="2001:db8::1"),
            (Entry(4, 3, ProfileState.RUNNING, T0 - HOUR, None, Usage(0, 5, 0)),),
            (SessionUsage(4, T0, True, Usage()), SessionUsage(5, T0, True, Usage())),
            since,
        ),
        # Only "next" waiting: a log-on starts it (a change to store: never kept).
        UserState(
            _user(4, "u4"),
            (Entry(5, 2, ProfileState.WAITING, None, None, Usage()),),
            (),
            since,
        ),
        # A running entry with no start: its daily period counts from the log-on's moment.
        UserState(
            _user(5, "u5"),
            (Entry(6, 1, ProfileState.RUNNING, None, T0 + 40 * HOUR, Usage()),),
            (),
            since,
        ),
        UserState(_user(6, "u6", disabled=True), (dataclasses.replace(running, id=7),), (), since),
    ]
    for state in states:
        policy.put_user(state)
    return policy


def _requests(name: str) -> list[AccessRequest]:
    here = RequestContext(calling_station_id=CALLER)
    return [
        AccessRequest(name, PapCredentials(b"pw"), here),
        AccessRequest(name, PapCredentials(b"wrong"), here),
        AccessRequest(name, PapCredentials(b"pw"), RequestContext(calling_station_id="other")),
    ]


def _moments() -> list[dt.datetime]:
    """Every 25 minutes, and each whole hour (where every boundary here falls) with the
    microsecond either side of it."""
    out = {T0 + dt.timedelta(minutes=25 * k) for k in range(SPAN * 60 // 25)}
    for hour in range(SPAN):
        at = T0 + hour * HOUR
        for delta in (-1, 0, 1):
            out.add(at + dt.timedelta(microseconds=delta))
    return sorted(out)


def _fresh(policy: Policy, state: UserState, request: AccessRequest, now: dt.datetime) -> Decision:
    return authorize(request, user_facts(policy, state, now), now)


def _memoised(
    policy: Policy, state: UserState, request: AccessRequest, now: dt.datetime, **router: bool
) -> Decision:
    found = decision_facts(policy, state, now, **router)
    assert found is not None
    facts, held = found
    return authorize(request, facts, now, held)


@pytest.mark.parametrize("stride", [1, 5, 17])
def test_a_kept_decision_is_the_fresh_one_at_every_moment(stride: int) -> None:
    """Made at one moment and kept (every `stride`-th moment asked, so kept ones are made at
    many different moments), each decision equals the one made afresh."""
    policy = _policy()
    reused = 0
    for now in _moments()[::stride]:
        for state in policy.by_id.values():
            kept = policy.memo.get(state.user.id)
            for request in _requests(state.user.username):
                assert _memoised(policy, state, request, now) == _fresh(
                    policy, state, request, now
                ), (state.user.username, request, now)
            if kept is not None and policy.memo.get(state.user.id) is kept:
                reused += 1
    assert reused > len(_moments()[::stride])  # the memo was used, not only made


def test_kept_facts_are_the_fresh_facts_while_they_hold() -> None:
    """Each memo's facts and terms are those made afresh at every moment before `until`."""
    policy = _policy()
    moments = _moments()
    for state in policy.by_id.values():
        for index in range(0, len(moments), 7):
            made = moments[index]
            policy.memo = {}
            decision_facts(policy, state, made)
            memo = policy.memo.get(state.user.id)
            if memo is None:
                continue  # held for no later moment (u4's start, u5's period)
            for now in moments[index:]:
                if memo.until is not None and now >= memo.until:
                    break
                facts = user_facts(policy, state, now)
                assert memo.facts == facts, (state.user.username, made, now)
                assert facts is not None
                fresh = terms(facts, now)
                assert dataclasses.replace(memo.terms, until=None) == dataclasses.replace(
                    fresh, until=None
                ), (state.user.username, made, now)


def test_what_must_be_stored_or_counted_from_now_is_never_kept() -> None:
    policy = _policy()
    for user_id in (4, 5):  # a profile that starts now; a period counted from now
        state = policy.by_id[user_id]
        decision_facts(policy, state, T0)
        assert user_id not in policy.memo


def test_a_new_state_or_a_row_changed_makes_the_decision_afresh() -> None:
    policy = _policy()
    state = policy.by_id[1]
    request = _requests("u1")[0]
    assert _memoised(policy, state, request, T0).accept
    # The user's state replaced (here: another session opened, as accounting would).
    more = dataclasses.replace(
        state, sessions=(*state.sessions, SessionUsage(6, T0, True, Usage()))
    )
    policy.put_user(more)
    assert 1 not in policy.memo
    decision = _memoised(policy, more, request, T0)
    assert decision == _fresh(policy, more, request, T0)
    assert decision.reason is not None  # shared-users=2, two open
    # A memo of the old state, written late by a reader that read it before the change, is
    # not the new state's.
    old = decision_facts(policy, state, T0)
    assert old is not None
    assert policy.memo[1].state is state
    assert _memoised(policy, more, request, T0) == decision
    # Another row (the profile's attributes): all memos forgotten.
    policy.profiles = {**policy.profiles, 1: dataclasses.replace(policy.profiles[1], attributes="")}
    policy.rows_changed()
    assert not policy.memo
    assert _memoised(policy, more, _requests("u1")[0], T0 - HOUR) == _fresh(
        policy, more, _requests("u1")[0], T0 - HOUR
    )


@pytest.mark.parametrize(("coa", "evict"), [(False, False), (True, False), (True, True)])
def test_each_router_kind_gets_its_own_decision(coa: bool, evict: bool) -> None:
    """Routers that take CoA end sessions at other moments (no hand-over end); those that evict
    make room: a memo made for one kind is not another's."""
    policy = _policy()
    for now in _moments()[::9]:
        for state in policy.by_id.values():
            request = _requests(state.user.username)[0]
            _memoised(policy, state, request, now)  # for the plain router
            kept = _memoised(policy, state, request, now, coa=coa, evict_oldest=evict)
            facts = user_facts(policy, state, now, coa=coa, evict_oldest=evict)
            assert kept == authorize(request, facts, now)


def test_a_clock_turned_back_decides_afresh() -> None:
    policy = _policy()
    state = policy.by_id[1]
    request = _requests("u1")[0]
    _memoised(policy, state, request, T0 + 24 * HOUR)
    earlier = T0 - 30 * HOUR
    assert _memoised(policy, state, request, earlier) == _fresh(policy, state, request, earlier)


def test_a_policy_that_does_not_remember_keeps_nothing() -> None:
    policy = _policy()
    policy.remember = False
    decision_facts(policy, policy.by_id[1], T0)
    assert not policy.memo
