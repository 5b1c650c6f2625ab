"""Shared fixtures: database URLs for both back ends, and outside programs that may be missing.

An outside program or service (radclient, PostgreSQL, pyrad2) that is missing skips its tests
with the reason, unless USERMAN_REQUIRE_ALL=1 (as .ci/run sets), where it fails them instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from prepared import PostgresTemplate, copy_sqlite, make_sqlite_template
from support import missing

POSTGRES_ADMIN_URL = os.environ.get(
    "USERMAN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    yield from _postgres_database()


def _postgres_database() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    admin = POSTGRES_ADMIN_URL
    name = f"userman_test_{uuid.uuid4().hex[:12]}"
    try:
        connection = psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        missing(f"PostgreSQL is not reachable at {admin}: {error}")
    with connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    from userman.store.database import normalize_url

    engine = create_engine(normalize_url(url))
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _url(request: pytest.FixtureRequest, folder: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{folder / 'userman.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database on each back end; the PostgreSQL one is emptied after use."""
    yield _url(request, tmp_path)
    if request.param == "postgresql":
        _empty_postgres(_url(request, tmp_path))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Like `db_url`, for a world a whole module builds once per back end."""
    url = _url(request, tmp_path_factory.mktemp("module-db"))
    yield url
    if request.param == "postgresql":
        _empty_postgres(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite database prepared once (tests/prepared.py); `copy_sqlite` gives a test its own."""
    return make_sqlite_template(tmp_path_factory.mktemp("template") / "userman.db")


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[PostgresTemplate]:
    """A PostgreSQL database of its own, prepared once and put back after each test using it."""
    for url in _postgres_database():
        template = PostgresTemplate(url)
        yield template
        template.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def prepared_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of a database as `Userman.prepare` leaves an empty one (the schema at the newest
    revision, the default customer admin), on each back end, without running the migrations
    again: a copy of one prepared once (SQLite), or one put back after use (PostgreSQL)."""
    if request.param == "sqlite":
        yield copy_sqlite(request.getfixturevalue("sqlite_template"), tmp_path / "userman.db")
        return
    template: PostgresTemplate = request.getfixturevalue("postgres_template")
    try:
        yield template.url
    finally:
        template.reset()
