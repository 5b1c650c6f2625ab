"""packaging/userman.service: a unit systemd accepts as written, of Type=notify (the server
sends READY=1 itself: server/notify.py, tests/e2e/test_metrics_served.py)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).parents[1] / "packaging" / "userman.service"


def test_the_unit_is_of_type_notify_and_runs_serve() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(UNIT.read_text())
    assert unit["Service"]["Type"] == "notify"
    assert unit["Service"]["NotifyAccess"] == "main"
    assert " serve " in unit["Service"]["ExecStart"] + " "
    assert unit["Service"]["KillSignal"] == "SIGTERM"  # what `serve` stops cleanly on


def test_systemd_analyze_verify_finds_nothing_to_say(tmp_path: Path) -> None:
    """`systemd-analyze verify` on the unit, its ExecStart pointed at this checkout's
    `userman` (verify checks that the program exists): no warning about the unit."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    program = Path(sys.executable).parent / "userman"
    assert program.exists()
    unit = tmp_path / "userman.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/userman", str(program)))
    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    said = [line for line in (done.stdout + done.stderr).splitlines() if "userman" in line]
    assert done.returncode == 0, done.stderr
    assert said == []
