"""The code's own checks, so that a green test run means all of them hold: ruff (lint and
format), mypy --strict on the package, and the import-linter contracts of DESIGN.md's layers."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = BIN / name if (BIN / name).exists() else shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed in the project's environment")
    return subprocess.run(
        [str(path), *args], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )


def test_ruff_lint() -> None:
    result = tool("ruff", "check", "src", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = tool("ruff", "format", "--check", "src", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict() -> None:
    result = tool("mypy", "--strict", "src/userman")
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_layers() -> None:
    result = tool("lint-imports")
    assert result.returncode == 0, result.stdout + result.stderr
