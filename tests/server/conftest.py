"""The server's tests: by default a database with router r, profile p and user test
(`inmemory.make_app`); a module with other needs defines its own `app`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from inmemory import make_app
from userman.services import Userman


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Userman]:
    userman = make_app(tmp_path, sqlite_template)
    yield userman
    userman.close()
