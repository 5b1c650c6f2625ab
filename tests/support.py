"""Helpers the tests share: outside programs that may be missing on a developer's machine.

A missing program or service skips its tests with the reason, unless USERMAN_REQUIRE_ALL=1 (as
.ci/run sets), where it fails them instead, so CI never passes by skipping.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest


def missing(reason: str) -> NoReturn:
    """Skip for `reason`, or fail when every outside dependency is required."""
    if os.environ.get("USERMAN_REQUIRE_ALL") == "1":
        pytest.fail(f"{reason} (USERMAN_REQUIRE_ALL=1)")
    pytest.skip(reason)


def require_program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed")
    return path
