"""The benchmark's printed table and its targets, from the measurements. Text only.

One row per case and server: medians of the runs (answers per second, latency at 64 in flight,
CPU per request), the latency at half that peak rate, the server's RSS, and every timeout and
wrong answer summed, never averaged away. userman's row carries its ratios to FreeRADIUS.
The report's header (the machine, its load, the pinning, the versions) and the line on other
processes' share of the pinned cores serve bench/eap.py's report too.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
import textwrap
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from loadgen import MAX_IN_FLIGHT
from measure import Measurement, median

HERE = Path(__file__).resolve().parent
WRAP = textwrap.TextWrapper(width=100, initial_indent="  ", subsequent_indent="    ")
CASE_NAMES = {"pap": "PAP", "chap": "CHAP", "mschapv2": "MS-CHAPv2", "accounting": "accounting"}
GENERATOR_BOUND = 0.85  # the generator this busy: the rate is its ceiling, not the server's
MIB = 1 << 20


@dataclass
class Row:
    """One case on one server: its runs, the half-rate run, or why it was not run."""

    case: str
    server: str
    label: str
    runs: list[Measurement] = field(default_factory=list)
    half: Measurement | None = None
    note: str = ""

    @property
    def median(self) -> Measurement | None:
        return median(self.runs) if self.runs else None


def header(
    title: str,
    workload: str,
    *,
    pinned: tuple[int, int] | None,
    generator: str,
    software: str,
    servers: str,
    described: Iterable[tuple[str, str]],
) -> str:
    """The report's first lines: `title`, when, on what machine and how busy it was at the start;
    the `workload` and where `generator` and the servers were pinned; userman's commit and Python
    beside the other `software`; `servers` (what they share) and each one (label, description)."""
    load = os.getloadavg()[0]
    busy = " (machine busy: figures are noisy)" if load > 0.5 else ""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    try:
        commit = subprocess.run(
            ["git", "-C", str(HERE), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    cores_text = (
        f"{generator} on core {pinned[0]}, each server on core {pinned[1]}"
        if pinned
        else "NOT pinned (fewer than two cores to use)"
    )
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            f"{title}, {now}, {platform.node()}: {os.cpu_count()} cores ({model}), "
            f"load average {load:.1f} at start{busy}",
            f"{workload}; {cores_text}",
            f"userman {commit or '?'} on Python {platform.python_version()}; {software}",
            servers,
            *(WRAP.fill(f"{label}: {text}") for label, text in described),
        ]
    )


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def _rate(value: float) -> str:
    return f"{value:,.0f}"


def ratio(rows: Mapping[tuple[str, str], Row], case: str, against: str) -> float | None:
    mine, theirs = rows.get((case, "userman")), rows.get((case, against))
    if mine is None or theirs is None or mine.median is None or theirs.median is None:
        return None
    if theirs.median.rate <= 0:
        return None
    return mine.median.rate / theirs.median.rate


def bounded(row: Row | None) -> bool:
    """Whether `row`'s rate is the generator's ceiling (the server's is at least that)."""
    m = row.median if row is not None else None
    return m is not None and (m.generator_busy or 0) >= GENERATOR_BOUND


def ratio_text(rows: Mapping[tuple[str, str], Row], case: str, against: str) -> str:
    """userman's ratio to `against`; `<=` when FreeRADIUS's rate was the generator's ceiling
    (its own is higher, so the true ratio is lower)."""
    value = ratio(rows, case, against)
    if value is None:
        return "-"
    return ("<=" if bounded(rows.get((case, against))) else "") + f"{value:.3g}x"


HEADINGS = (
    "case",
    "server",
    "req/s",
    "vs files/detail",
    "vs rlm_sql",
    "p50 ms",
    "p99 ms",
    "p99 @half",
    "CPU us/req",
    "RSS MiB (peak)",
    "timeouts",
    "wrong",
    "gen busy",
)


def table(rows: Mapping[tuple[str, str], Row], cases: Sequence[str]) -> str:
    """The table, its footnotes, and every row's failures spelt out below it."""
    lines: list[list[str]] = []
    notes: list[str] = []
    for case in cases:
        for (row_case, _), row in rows.items():
            if row_case == case:
                lines.append(_cells(rows, row))
                notes += _notes(row)
    out = grid(HEADINGS, lines)
    if any(line[2].endswith("*") for line in lines):
        out.append(
            f"* the generator was busy {GENERATOR_BOUND:.0%} of the time or more: the rate is "
            "its ceiling, the server's is at least that, and a ratio to it (<=) at most that"
        )
    out += [
        "vs: userman's rate / FreeRADIUS's in the same case; p99 @half: the p99 latency when "
        "sent at half that server's median rate (open loop); CPU: the server's utime + stime "
        "per answer; RSS: at the end of the case, peak in parentheses",
        *notes,
        ceiling(rows, cases),
        noise(m for row in rows.values() for m in row.runs),
    ]
    return "\n".join(out)


def _cells(rows: Mapping[tuple[str, str], Row], row: Row) -> list[str]:
    m = row.median
    if m is None:
        return [CASE_NAMES[row.case], row.label, "not run", *[""] * (len(HEADINGS) - 3)]
    rate = _rate(m.rate)
    if row.server != "null" and bounded(row):
        rate += "*"
    ratios = ["", ""]
    if row.server == "userman":
        for at, against in enumerate(("files", "sql")):
            ratios[at] = ratio_text(rows, row.case, against)
    wrong, timeouts = _failures(row)
    flag = " !" if wrong or timeouts or not m.alive or m.errors else ""
    return [
        CASE_NAMES[row.case],
        row.label + flag,
        rate,
        *ratios,
        _ms(m.p50),
        _ms(m.p99),
        "-" if row.half is None else _ms(row.half.p99),
        "-" if m.cpu is None else f"{m.cpu * 1e6:,.0f}",
        f"{m.rss / MIB:,.0f} ({m.hwm / MIB:,.0f})" if m.rss else "-",
        f"{timeouts:,}",
        f"{wrong:,}",
        "-" if m.generator_busy is None else f"{m.generator_busy:.0%}",
    ]


def _failures(row: Row) -> tuple[int, int]:
    """(wrong answers, timeouts) over the runs and the half-rate run."""
    runs = [*row.runs, *([row.half] if row.half else [])]
    return sum(sum(m.wrong.values()) for m in runs), sum(m.timeouts for m in runs)


def _notes(row: Row) -> list[str]:
    where = f"{CASE_NAMES[row.case]}, {row.label}"
    runs = [*row.runs, *([row.half] if row.half else [])]
    notes = []
    wrong: Counter[str] = Counter()
    for m in runs:
        wrong.update(m.wrong)
    if wrong:
        listed = ", ".join(f"{n:,} {why}" for why, n in wrong.most_common())
        notes.append(f"! {where}: WRONG ANSWERS: {listed}")
    timeouts = sum(m.timeouts for m in runs)
    if timeouts:
        notes.append(f"! {where}: {timeouts:,} requests unanswered (timeouts)")
    late, refused = sum(m.late for m in runs), sum(m.refused for m in runs)
    if late:
        notes.append(f"! {where}: {late:,} answers came after their request timed out")
    if refused:
        notes.append(f"! {where}: {refused:,} ICMP errors: nothing listened on the port")
    behind = sum(m.behind for m in runs)
    if behind:
        notes.append(
            f"  {where}: at half the peak rate, {behind:,} requests fell due while "
            f"{MAX_IN_FLIGHT} were outstanding, and were not sent"
        )
    errors = sum(m.errors for m in runs)
    if errors:
        example = next((m.error_example for m in runs if m.error_example), "")
        notes.append(f"! {where}: the server logged {errors:,} errors, e.g. {example}")
    if any(not m.alive for m in runs):
        notes.append(f"! {where}: the server exited during the runs")
    if row.note:
        notes.append(f"  {where}: {row.note}")
    return notes


def ceiling(rows: Mapping[tuple[str, str], Row], cases: Sequence[str]) -> str:
    """The generator's CPU per request against the null responder, and the rate that would
    take a whole core: its ceiling."""
    parts = []
    for case in cases:
        row = rows.get((case, "null"))
        m = row.median if row else None
        if m is not None and m.rate > 0 and m.generator_busy:
            cost = m.generator_busy / m.rate
            parts.append(f"{CASE_NAMES[case]} {cost * 1e6:.0f} us ({1 / cost:,.0f}/s)")
    if not parts:
        return "The generator's ceiling: not measured (no null responder row)"
    return (
        "The generator's CPU per request against the null responder, and the rate at which it "
        "would fill its core: " + ", ".join(parts)
    )


class Pinned(Protocol):
    """A run's share of each pinned core that other processes took (None: not pinned)."""

    @property
    def server_core_others(self) -> float | None: ...

    @property
    def generator_core_others(self) -> float | None: ...


def noise(runs: Iterable[Pinned], generator: str = "the generator's") -> str:
    """How much of the two pinned cores other processes took during `runs`; `generator` names
    the load's core."""
    runs = list(runs)
    server = sorted(m.server_core_others for m in runs if m.server_core_others is not None)
    generator_core = sorted(
        m.generator_core_others for m in runs if m.generator_core_others is not None
    )
    if not server or not generator_core:
        return "Other processes' share of the cores: not measured (not pinned)"
    return (
        f"Other processes (and the hypervisor) took {statistics.median(server):.0%} of the "
        f"server's core (at most {server[-1]:.0%}) and {statistics.median(generator_core):.0%} "
        f"of {generator} (at most {generator_core[-1]:.0%}) during the runs, median over runs"
    )


def grid(headings: Sequence[str], lines: Sequence[Sequence[str]]) -> list[str]:
    """`headings`, a rule, and `lines` in columns as wide as their widest cell: the first two
    (case, server) to the left, the figures to the right."""
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headings)]

    def join(cells: Iterable[str]) -> str:
        parts = []
        for at, (cell, width) in enumerate(zip(cells, widths, strict=True)):
            parts.append(cell.ljust(width) if at < 2 else cell.rjust(width))
        return "  ".join(parts).rstrip()

    return [join(headings), join(["-" * w for w in widths]), *(join(line) for line in lines)]


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    measured: str
    goal: str
    verdict: str  # met, NOT met, unsure (why), not run


def met(ok: bool | None) -> str:
    return "not run" if ok is None else "met" if ok else "NOT met"


def targets_text(targets: Sequence[Target]) -> str:
    width = max(len(t.name) for t in targets)
    measured = max(len(t.measured) for t in targets)
    goal = max(len(t.goal) for t in targets)
    return "\n".join(
        f"{t.name.ljust(width)}  {t.measured.rjust(measured)}  {t.goal.ljust(goal)}  {t.verdict}"
        for t in targets
    )


def ratio_target(
    rows: Mapping[tuple[str, str], Row], case: str, against: str, name: str, goal: float
) -> Target:
    """userman's ratio to FreeRADIUS against `goal`; unsure when the ratio is only an upper
    bound (FreeRADIUS at the generator's ceiling) that reaches the goal."""
    value = ratio(rows, case, against)
    mine = rows.get((case, "userman"))
    text, wanted = ratio_text(rows, case, against), f">= {goal}x"
    if value is None or mine is None or mine.median is None:
        return Target(name, text, wanted, met(None))
    if mine.median.wrong:
        return Target(name, text, wanted, "NOT met (wrong answers)")
    if value >= goal and bounded(rows.get((case, against))):
        return Target(name, text, wanted, "unsure: FreeRADIUS ran at the generator's ceiling")
    return Target(name, text, wanted, met(value >= goal))
