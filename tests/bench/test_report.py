"""The benchmark's table says what its figures are worth: a ratio to a FreeRADIUS rate that was
the generator's ceiling is an upper bound, and a target it reaches is unsure, not met; wrong
answers and timeouts are shown with the row, never averaged away."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from measure import Measurement
from report import Row, ratio_target, table


def measured(rate: float, *, busy: float = 0.3, wrong: int = 0, timeouts: int = 0) -> Measurement:
    return Measurement(
        rate=rate,
        p50=0.001,
        p99=0.002,
        cpu=0.00001,
        rss=1 << 26,
        hwm=1 << 26,
        generator_busy=busy,
        server_core_others=0.0,
        generator_core_others=0.0,
        timeouts=timeouts,
        late=0,
        behind=0,
        refused=0,
        wrong=Counter({"ACCESS_REJECT": wrong}) if wrong else Counter(),
    )


def rows(userman: Measurement, files: Measurement) -> dict[tuple[str, str], Row]:
    return {
        ("pap", "userman"): Row("pap", "userman", "userman serve", [userman]),
        ("pap", "files"): Row("pap", "files", "FreeRADIUS files", [files]),
    }


def test_a_ratio_to_a_generator_bound_rate_is_an_upper_bound() -> None:
    bound = rows(measured(40_000), measured(100_000, busy=0.95))
    target = ratio_target(bound, "pap", "files", "PAP", 0.35)
    assert (target.measured, target.verdict.split(":")[0]) == ("<=0.4x", "unsure")
    assert "<=0.4x" in table(bound, ["pap"])
    below = rows(measured(20_000), measured(100_000, busy=0.95))
    assert ratio_target(below, "pap", "files", "PAP", 0.35).verdict == "NOT met"


def test_a_ratio_to_a_server_bound_rate_is_measured() -> None:
    target = ratio_target(rows(measured(40_000), measured(100_000)), "pap", "files", "PAP", 0.35)
    assert (target.measured, target.verdict) == ("0.4x", "met")


def test_wrong_answers_and_timeouts_are_shown_and_fail_the_target() -> None:
    wrong = rows(measured(40_000, wrong=3, timeouts=2), measured(100_000))
    text = table(wrong, ["pap"])
    assert "userman serve !" in text
    assert "WRONG ANSWERS: 3 ACCESS_REJECT" in text
    assert "2 requests unanswered" in text
    assert ratio_target(wrong, "pap", "files", "PAP", 0.35).verdict == "NOT met (wrong answers)"
