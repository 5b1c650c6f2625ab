"""The fuzz harness cannot rot: each target of bench/fuzz.py runs a few hundred inputs (its
seeds, then the random engine's mutations of them) through the same check functions atheris
drives, and finds nothing. Its figures are never asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from fuzz import TARGETS, Findings, Runner, mutate, run_random


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_target_runs_clean(name: str, tmp_path: Path) -> None:
    check, seeds, tokens = TARGETS[name]()
    assert seeds
    assert tokens
    findings = Findings(tmp_path, hang_seconds=None)
    runner = Runner(name, check, findings, runs=len(seeds) + 300, seconds=60)
    run_random(runner, seeds, tokens, seed=1, max_len=1024)
    assert findings.places == {}
    assert runner.done == len(seeds) + 300
    # The seeds are what their parsers take: most of them parse.
    parsed = [seed for seed in seeds if check(seed).startswith(("ok", "open", "shut"))]
    assert len(parsed) > len(seeds) // 2


def test_a_finding_is_kept_with_its_input(tmp_path: Path) -> None:
    def check(data: bytes) -> str:
        if data.startswith(b"x"):
            raise KeyError(data)
        return "ok"

    findings = Findings(tmp_path, hang_seconds=None)
    runner = Runner("test", check, findings, runs=2, seconds=60)
    runner.one(b"a")
    runner.one(b"x1")
    runner.one(b"x2")
    assert findings.count == 2
    ((place, (count, _, path)),) = findings.places.items()
    assert place.startswith("KeyError at ")
    assert count == 2
    assert path.read_bytes() == b"x1"
    assert runner.summary("test") == 1


def test_mutations_stay_bytes() -> None:
    import random

    rng = random.Random(3)
    pool = [b"abc", bytes(30)]
    for _ in range(200):
        assert isinstance(mutate(rng.choice(pool), rng, pool, [b"tok"]), bytes)
