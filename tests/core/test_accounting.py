"""The accounting table (RFC 2866 5.1): every (open session?, status) pair, and counters that
never count a retransmission twice."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from userman.core.accounting import TRANSITIONS, AccountingRecord, AcctStatus, apply, octets

NOW = dt.datetime(2026, 5, 23, 8, 55, 43, tzinfo=dt.UTC)


def record(status: AcctStatus, time: int = 0, up: int = 0, down: int = 0) -> AccountingRecord:
    return AccountingRecord(status, "81d0009b", "test", time, up, down)


def test_gigawords_extend_the_octet_counters() -> None:
    # RFC 2869 5.1: Acct-Input-Gigawords counts how many times Acct-Input-Octets wrapped.
    assert octets(5, 2) == 2 * 2**32 + 5
    assert octets(None, None) == 0


def test_start_interim_stop() -> None:
    started = apply(None, record(AcctStatus.START), NOW)
    assert started.active
    assert started.status == {"start"}
    later = NOW + dt.timedelta(minutes=30)
    interim = apply(started, record(AcctStatus.INTERIM_UPDATE, 1800, 4533, 38), later)
    assert (interim.uptime, interim.upload, interim.download) == (1800, 4533, 38)
    assert interim.from_time == NOW
    assert interim.till_time == later
    stopped = apply(interim, record(AcctStatus.STOP, 1900, 5000, 40), later)
    assert not stopped.active
    assert stopped.status == {"start", "interim", "stop"}


def test_an_interim_without_a_start_creates_the_session() -> None:
    session = apply(None, record(AcctStatus.INTERIM_UPDATE, 600), NOW)
    assert session.active
    assert session.from_time == NOW - dt.timedelta(seconds=600)


@pytest.mark.parametrize("pair", sorted(TRANSITIONS, key=lambda p: (p[0], p[1].value)))
def test_every_pair_of_the_table_applies(pair: tuple[bool, AcctStatus]) -> None:
    has_open, status = pair
    current = apply(None, record(AcctStatus.START), NOW) if has_open else None
    after = apply(current, record(status, 10), NOW)
    assert TRANSITIONS[pair] in after.status
    assert after.active is (status is not AcctStatus.STOP)


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(st.integers(0, 10**6), st.integers(0, 2**40), st.integers(0, 2**40)),
        min_size=1,
        max_size=8,
    )
)
def test_repeated_or_reordered_updates_never_lower_counters(
    updates: list[tuple[int, int, int]],
) -> None:
    session = apply(None, record(AcctStatus.START), NOW)
    for time, up, down in updates + updates[::-1]:
        session = apply(session, record(AcctStatus.INTERIM_UPDATE, time, up, down), NOW)
    assert session.uptime == max(u[0] for u in updates)
    assert session.upload == max(u[1] for u in updates)
    assert session.download == max(u[2] for u in updates)


def test_a_late_interim_after_the_stop_does_not_reopen_the_session() -> None:
    stopped = apply(apply(None, record(AcctStatus.START), NOW), record(AcctStatus.STOP, 60), NOW)
    late = apply(stopped, record(AcctStatus.INTERIM_UPDATE, 30), NOW)
    assert not late.active
    assert late.uptime == 60


def test_a_repeated_stop_changes_nothing() -> None:
    stopped = apply(apply(None, record(AcctStatus.START), NOW), record(AcctStatus.STOP, 60), NOW)
    assert apply(stopped, record(AcctStatus.STOP, 60), NOW) == stopped


def test_a_record_is_dated_by_its_event_timestamp_or_its_delay() -> None:
    # RFC 2866 5.2 Acct-Delay-Time; RFC 2869 5.3 Event-Timestamp.
    base = record(AcctStatus.START)
    delayed = dataclasses.replace(base, delay=30)
    assert delayed.occurred(NOW) == NOW - dt.timedelta(seconds=30)
    stamped = dataclasses.replace(base, delay=30, event_time=NOW - dt.timedelta(hours=1))
    assert stamped.occurred(NOW) == NOW - dt.timedelta(hours=1)
    ahead = dataclasses.replace(base, event_time=NOW + dt.timedelta(hours=1))
    assert ahead.occurred(NOW) == NOW  # a router clock ahead of ours is not believed
