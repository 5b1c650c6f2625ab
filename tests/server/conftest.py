"""The server's tests: by default a database with router r, profile p and user test
(`inmemory.make_app`); a module with other needs defines its own `app`. A server on it is
built, drained and closed by `inmemory.serving` (in a running loop) or `inmemory.run_server`
(in a loop of its own), which the test modules import: they are not fixtures, a module's own
helpers call them with the `app` it has."""

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
