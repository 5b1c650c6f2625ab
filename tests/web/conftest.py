"""The web tests: the ASGI app in-process on a prepared database, with an HTTP client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from userman.services import Userman
from userman.web.app import create_app


@pytest.fixture(scope="module")
def userman(module_db_url: str) -> Iterator[Userman]:
    app = Userman(module_db_url)
    app.prepare()
    yield app
    app.close()


@pytest.fixture(scope="module")
def client(userman: Userman) -> Iterator[TestClient]:
    """A client logged in as the default customer admin (empty password, as the manual says)."""
    with logged_in(create_app(userman), "admin", "") as http:
        yield http


def logged_in(app: object, login: str, password: str) -> TestClient:
    """A client of `app` that sends these HTTP basic credentials with every request."""
    http = TestClient(app)  # type: ignore[arg-type]
    http.auth = (login, password)
    return http
