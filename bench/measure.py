"""One measured run turned into the figures of a table row, and medians over runs.

A `Measurement` is what one `drive` against one server gave: answers per second inside the
window, latency percentiles, the server's CPU per answer (utime + stime over the window, /proc),
its memory at the window's end, how busy the generator was (near 100 %: the row shows the
generator's ceiling, not the server's), and how much of each pinned core other processes took
meanwhile (the machine's noise).
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flows import Flow
from loadgen import Result, drive
from servers import Server, Usage, core_busy


@dataclass
class Measurement:
    rate: float
    p50: float | None  # seconds
    p99: float | None
    cpu: float | None  # server CPU seconds per answer
    rss: int
    hwm: int
    generator_busy: float | None  # share of its core the generator used
    server_core_others: float | None  # share of the server's core other processes used
    generator_core_others: float | None
    timeouts: int
    late: int
    behind: int
    refused: int
    wrong: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    answered: int = 0
    window: float = 0.0
    finished: bool = True
    alive: bool = True
    errors: int = 0  # lines the server logged as errors meanwhile
    error_example: str = ""


@dataclass(frozen=True, slots=True)
class Probe:
    at: float
    server: Usage
    generator: float  # this process's CPU seconds
    cores: tuple[float, float] | None  # busy seconds of (generator core, server core)


class Prober:
    """Takes a `Probe` of `server` and of the pinned `cores` when called."""

    def __init__(self, server: Server, cores: tuple[int, int] | None) -> None:
        self.server = server
        self.cores = cores

    def __call__(self) -> Probe:
        busy = None
        if self.cores is not None:
            times = core_busy()
            busy = (times.get(self.cores[0], 0.0), times.get(self.cores[1], 0.0))
        return Probe(time.monotonic(), self.server.usage(), time.process_time(), busy)


def measure(
    server: Server, flow: Flow, cores: tuple[int, int] | None, **options: Any
) -> Measurement:
    """Drive `flow` against `server` (see loadgen.drive for `options`) and take its figures."""
    errors = server.errors()
    result = drive(flow, [server.auth, server.acct], probe=Prober(server, cores), **options)
    m = figures(result, alive=server.alive())
    m.errors = server.errors() - errors
    if m.errors:
        m.error_example = server.last_error
    return m


def _share(part: float, whole: float) -> float:
    return max(0.0, min(1.0, part / whole)) if whole > 0 else 0.0


def figures(result: Result, *, alive: bool = True) -> Measurement:
    m = Measurement(
        rate=result.rate,
        p50=result.percentile(0.50),
        p99=result.percentile(0.99),
        cpu=None,
        rss=0,
        hwm=0,
        generator_busy=None,
        server_core_others=None,
        generator_core_others=None,
        timeouts=result.timeouts,
        late=result.late,
        behind=result.behind,
        refused=result.refused,
        wrong=result.wrong,
        sent=result.sent,
        answered=result.answered,
        window=result.window,
        finished=result.finished,
        alive=alive,
    )
    if len(result.probes) < 2:
        return m
    first, last = result.probes[0], result.probes[-1]
    elapsed = last.at - first.at
    server_cpu = last.server.cpu - first.server.cpu
    generator_cpu = last.generator - first.generator
    if result.answered:
        m.cpu = server_cpu / result.answered
    m.rss, m.hwm = last.server.rss, last.server.hwm
    m.generator_busy = _share(generator_cpu, elapsed)
    if first.cores is not None and last.cores is not None:
        m.generator_core_others = _share(last.cores[0] - first.cores[0] - generator_cpu, elapsed)
        m.server_core_others = _share(last.cores[1] - first.cores[1] - server_cpu, elapsed)
    return m


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def median(runs: Sequence[Measurement]) -> Measurement:
    """The median of each figure over `runs`; counts of failures are summed, not averaged."""
    wrong: Counter[str] = Counter()
    for run in runs:
        wrong.update(run.wrong)
    return Measurement(
        rate=statistics.median(run.rate for run in runs),
        p50=_median([run.p50 for run in runs]),
        p99=_median([run.p99 for run in runs]),
        cpu=_median([run.cpu for run in runs]),
        rss=runs[-1].rss,
        hwm=max(run.hwm for run in runs),
        generator_busy=_median([run.generator_busy for run in runs]),
        server_core_others=_median([run.server_core_others for run in runs]),
        generator_core_others=_median([run.generator_core_others for run in runs]),
        timeouts=sum(run.timeouts for run in runs),
        late=sum(run.late for run in runs),
        behind=sum(run.behind for run in runs),
        refused=sum(run.refused for run in runs),
        wrong=wrong,
        sent=sum(run.sent for run in runs),
        answered=sum(run.answered for run in runs),
        window=sum(run.window for run in runs),
        finished=all(run.finished for run in runs),
        alive=all(run.alive for run in runs),
        errors=sum(run.errors for run in runs),
        error_example=next((run.error_example for run in runs if run.error_example), ""),
    )
