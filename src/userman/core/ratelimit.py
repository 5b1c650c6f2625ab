"""The Mikrotik-Rate-Limit reply string, from one limitation or from several at once; pure.

Owns `RateLimit` (the rate-limit-* columns of a limitation), its RouterOS text and the rule
for several applicable limitations. Knows nothing of windows, quotas or storage.

Format (research 4.5 [S2,S8]): `rx/tx burst-rx/burst-tx threshold-rx/threshold-tx
burst-time-rx/burst-time-tx priority min-rx/min-tx`, from the NAS's point of view: rx is the
user's UPLOAD, tx the user's DOWNLOAD. Rates are bits/s written with k (x1000) or M (x1000000)
when exact, burst times in whole seconds, priority 1..8. Trailing groups that are all zero
are left out; a zero group before a non-zero one is written `0/0` (a lone `0` for priority).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

from userman.core.limits import LimitationFacts

__all__ = ["RateLimit", "combine", "format_rate_limit", "rate_limit", "rates_of"]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A limitation's rate fields: bits/s, seconds for burst times; 0 = not set."""

    rx: int = 0
    tx: int = 0
    burst_rx: int = 0
    burst_tx: int = 0
    burst_threshold_rx: int = 0
    burst_threshold_tx: int = 0
    burst_time_rx: int = 0
    burst_time_tx: int = 0
    priority: int = 0
    min_rx: int = 0
    min_tx: int = 0

    def __post_init__(self) -> None:
        for field in fields(self):
            if getattr(self, field.name) < 0:
                raise ValueError(f"rate-limit {field.name} is negative")


def rates_of(lim: LimitationFacts) -> RateLimit:
    return RateLimit(
        rx=lim.rate_limit_rx,
        tx=lim.rate_limit_tx,
        burst_rx=lim.rate_limit_burst_rx,
        burst_tx=lim.rate_limit_burst_tx,
        burst_threshold_rx=lim.rate_limit_burst_threshold_rx,
        burst_threshold_tx=lim.rate_limit_burst_threshold_tx,
        burst_time_rx=lim.rate_limit_burst_time_rx,
        burst_time_tx=lim.rate_limit_burst_time_tx,
        priority=lim.rate_limit_priority,
        min_rx=lim.rate_limit_min_rx,
        min_tx=lim.rate_limit_min_tx,
    )


def _rate(bits: int) -> str:
    """k and M only, as the attribute's grammar names them (so 1 Gbit/s is `1000M`)."""
    for factor, suffix in ((1_000_000, "M"), (1000, "k")):
        if bits and bits % factor == 0:
            return f"{bits // factor}{suffix}"
    return str(bits)


def format_rate_limit(rates: RateLimit) -> str | None:
    """The Mikrotik-Rate-Limit text; None when no field is set (send no attribute)."""
    groups = [
        f"{_rate(rates.rx)}/{_rate(rates.tx)}",
        f"{_rate(rates.burst_rx)}/{_rate(rates.burst_tx)}",
        f"{_rate(rates.burst_threshold_rx)}/{_rate(rates.burst_threshold_tx)}",
        f"{rates.burst_time_rx}/{rates.burst_time_tx}",
        str(rates.priority),
        f"{_rate(rates.min_rx)}/{_rate(rates.min_tx)}",
    ]
    values = [
        (rates.rx, rates.tx),
        (rates.burst_rx, rates.burst_tx),
        (rates.burst_threshold_rx, rates.burst_threshold_tx),
        (rates.burst_time_rx, rates.burst_time_tx),
        (rates.priority,),
        (rates.min_rx, rates.min_tx),
    ]
    used = [i for i, group in enumerate(values) if any(group)]
    if not used:
        return None
    return " ".join(groups[: used[-1] + 1])


def rate_limit(lim: LimitationFacts) -> str | None:
    """One limitation's Mikrotik-Rate-Limit text; None when it sets no rate."""
    return format_rate_limit(rates_of(lim))


_RX = ("rx", "burst_rx", "burst_threshold_rx", "burst_time_rx", "min_rx")
_TX = ("tx", "burst_tx", "burst_threshold_tx", "burst_time_tx", "min_tx")


def _direction(items: tuple[RateLimit, ...], names: tuple[str, ...]) -> dict[str, int]:
    """One direction's fields, all from the one limitation that wins it (a burst or minimum of
    one limitation never mixes with another's rate, which could make an invalid queue)."""
    rate = names[0]
    limited = [r for r in items if getattr(r, rate) > 0]
    if limited:
        winner = min(limited, key=lambda r: int(getattr(r, rate)))  # first of equals
    else:
        others = [r for r in items if any(getattr(r, n) for n in names)]
        if not others:
            return {}
        winner = others[0]
    return {n: int(getattr(winner, n)) for n in names}


def combine(limitations: Iterable[LimitationFacts | RateLimit]) -> RateLimit:
    """The rates when several limitations apply at once.

    All applicable limitations must be satisfied (research 5), so per direction (upload = rx,
    download = tx) the limitation with the lowest non-zero rate wins and brings that direction's
    burst, threshold, burst time and minimum along; equal rates: the first in order. A direction
    no limitation caps comes from the first one that sets anything for it (e.g. a minimum
    alone). Priority: the largest set number, 8 being the lowest priority.
    """
    items = tuple(x if isinstance(x, RateLimit) else rates_of(x) for x in limitations)
    priorities = [r.priority for r in items if r.priority > 0]
    return RateLimit(
        **_direction(items, _RX),
        **_direction(items, _TX),
        priority=max(priorities, default=0),
    )
