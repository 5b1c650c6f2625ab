"""The Mikrotik-Rate-Limit string (research 4.5 [S2,S8]; the limitation's rate-limit-* fields,
research 1.4 and 2.5)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from userman.core.limits import LimitationFacts
from userman.core.ratelimit import RateLimit, combine, format_rate_limit, rate_limit, rates_of
from userman.core.values import parse_rate

k = 1000
M = 1000 * k


@pytest.mark.parametrize(
    ("rates", "text"),
    [
        (RateLimit(), None),  # no rate set: no attribute
        # Research 4.5 examples, each direction written out (tx would default to rx).
        (RateLimit(rx=128 * k, tx=128 * k), "128k/128k"),
        (RateLimit(rx=64 * k, tx=128 * M), "64k/128M"),
        (RateLimit(64 * k, 64 * k, 256 * k, 256 * k), "64k/64k 256k/256k"),
        (
            RateLimit(64 * k, 64 * k, 256 * k, 256 * k, 128 * k, 128 * k, 10, 10),
            "64k/64k 256k/256k 128k/128k 10/10",
        ),
        # DESIGN.md's example, every group.
        (
            RateLimit(10 * M, 2 * M, 20 * M, 4 * M, 8 * M, 1 * M, 10, 10, 8, 1 * M, 256 * k),
            "10M/2M 20M/4M 8M/1M 10/10 8 1M/256k",
        ),
        # Zeros before a set group are written as 0.
        (RateLimit(rx=1 * M, tx=2 * M, priority=8), "1M/2M 0/0 0/0 0/0 8"),
        (RateLimit(min_rx=512 * k, min_tx=512 * k), "0/0 0/0 0/0 0/0 0 512k/512k"),
        (RateLimit(tx=4 * M), "0/4M"),
        (RateLimit(rx=1 * M, burst_tx=3 * M), "1M/0 0/3M"),
        # k and M only, when exact; plain bits/s otherwise.
        (RateLimit(rx=1500, tx=1_500_000), "1500/1500k"),
        (RateLimit(rx=1_000_000_000, tx=999), "1000M/999"),
        (RateLimit(rx=6 * 2**20, tx=6 * 2**20), "6291456/6291456"),  # v6 export's 6291456B
    ],
)
def test_format_rate_limit(rates: RateLimit, text: str | None) -> None:
    assert format_rate_limit(rates) == text


def test_rx_is_the_users_upload() -> None:
    # rate-limit-rx is what the NAS receives, the user's upload; it comes first in the string.
    lim = LimitationFacts(rate_limit_rx=512 * k, rate_limit_tx=4 * M)
    assert rate_limit(lim) == "512k/4M"


def test_rates_of_maps_every_column() -> None:
    lim = LimitationFacts(
        rate_limit_rx=1,
        rate_limit_tx=2,
        rate_limit_burst_rx=3,
        rate_limit_burst_tx=4,
        rate_limit_burst_threshold_rx=5,
        rate_limit_burst_threshold_tx=6,
        rate_limit_burst_time_rx=7,
        rate_limit_burst_time_tx=8,
        rate_limit_priority=9,
        rate_limit_min_rx=10,
        rate_limit_min_tx=11,
    )
    assert rates_of(lim) == RateLimit(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
    assert rate_limit(lim) == "1/2 3/4 5/6 7/8 9 10/11"
    assert rate_limit(LimitationFacts(uptime_limit=60)) is None


def test_negative_rates_are_a_bug() -> None:
    with pytest.raises(ValueError, match="rx"):
        RateLimit(rx=-1)


# -- several limitations at once (research 5: all must be satisfied) ----------------------------

DAY = RateLimit(rx=2 * M, tx=8 * M, burst_rx=4 * M, burst_tx=16 * M, burst_time_rx=10, priority=2)
CAP = RateLimit(rx=1 * M, tx=10 * M, min_rx=256 * k, priority=5)


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ((), RateLimit()),
        ((DAY,), DAY),
        # Per direction the lowest non-zero rate wins, with its own burst and minimum.
        (
            (DAY, CAP),
            RateLimit(rx=1 * M, tx=8 * M, burst_tx=16 * M, min_rx=256 * k, priority=5),
        ),
        ((CAP, DAY), RateLimit(rx=1 * M, tx=8 * M, burst_tx=16 * M, min_rx=256 * k, priority=5)),
        # 0 means unlimited, never the lowest.
        ((RateLimit(), DAY), DAY),
        ((RateLimit(rx=0, tx=1 * M), RateLimit(rx=3 * M, tx=0)), RateLimit(rx=3 * M, tx=1 * M)),
        # Equal rates: the first one's burst.
        (
            (RateLimit(rx=M, burst_rx=2 * M), RateLimit(rx=M, burst_rx=5 * M)),
            RateLimit(rx=M, burst_rx=2 * M),
        ),
        # A direction nobody caps keeps the first setting for it (a minimum alone).
        ((RateLimit(min_tx=M), RateLimit(min_tx=2 * M)), RateLimit(min_tx=M)),
        # Priority: the lowest (largest number) set.
        ((RateLimit(priority=3), RateLimit(), RateLimit(priority=1)), RateLimit(priority=3)),
    ],
)
def test_combine(items: tuple[RateLimit, ...], expected: RateLimit) -> None:
    assert combine(items) == expected


def test_combine_takes_limitations() -> None:
    fast = LimitationFacts(rate_limit_rx=2 * M, rate_limit_tx=2 * M)
    slow = LimitationFacts(rate_limit_rx=512 * k, rate_limit_tx=4 * M)
    assert format_rate_limit(combine([fast, slow])) == "512k/2M"
    assert format_rate_limit(combine([])) is None


rates = st.integers(0, 10**10)
rate_limits = st.builds(
    RateLimit,
    rates,
    rates,
    rates,
    rates,
    rates,
    rates,
    st.integers(0, 3600),
    st.integers(0, 3600),
    st.integers(0, 8),
    rates,
    rates,
)


@given(rate_limits)
def test_the_text_reads_back_as_the_fields(original: RateLimit) -> None:
    text = format_rate_limit(original)
    if text is None:
        assert original == RateLimit()
        return
    groups = text.split(" ")
    values: list[int] = []
    for index, group in enumerate(groups):
        if index == 4:
            values.append(int(group))
        elif index == 3:
            values.extend(int(part) for part in group.split("/"))
        else:
            values.extend(parse_rate(part) for part in group.split("/"))
    values += [0] * (11 - len(values))
    assert RateLimit(*values) == original
    assert set(groups[-1]) - set("0/")  # the last group written is never all zero


@given(st.lists(rate_limits, max_size=4))
def test_combine_is_never_looser_than_any_cap(items: list[RateLimit]) -> None:
    result = combine(items)
    for direction in ("rx", "tx"):
        caps = [getattr(r, direction) for r in items if getattr(r, direction) > 0]
        assert getattr(result, direction) == min(caps, default=0)
