"""The services' tests: a prepared `Userman` on each back end (see tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from userman.services import Userman


@pytest.fixture
def app(db_url: str) -> Iterator[Userman]:
    userman = Userman(db_url)
    userman.prepare()
    yield userman
    userman.close()
