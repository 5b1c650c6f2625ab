"""The services' tests: a prepared `Userman` on each back end (see tests/conftest.py; the
database is a prepared copy, tests/prepared.py, not migrated again for each test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from userman.services import Userman


@pytest.fixture
def app(prepared_db_url: str) -> Iterator[Userman]:
    userman = Userman(prepared_db_url)
    userman.prepare()
    yield userman
    userman.close()
