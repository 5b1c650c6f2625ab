"""Log-ins, tokens and sessions under attack (docs/security.md): password checks take turns
and refuse when full, a bad token locks out only its own prefix and address, the API never
challenges a browser for Basic credentials nor takes a change from another site, and log-out
ends a session on the server."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from userman.services import Actor, Userman, passwords
from userman.web.app import create_app
from userman.web.auth import Guard

ROOT = Actor.superuser()


@pytest.fixture
def anonymous(userman: Userman) -> Iterator[TestClient]:
    with TestClient(create_app(userman, guard=Guard(limit=2, window=60))) as http:
        yield http


@contextlib.contextmanager
def hashes_busy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every argon2 slot taken, as by a flood of wrong passwords, and a short wait for one."""
    with monkeypatch.context() as patch:
        patch.setattr(passwords, "WAIT", 0.05)
        taken = [passwords._slots.acquire(timeout=5) for _ in range(passwords.SLOTS)]
        try:
            yield
        finally:
            for _ in taken:
                passwords._slots.release()


def test_busy_password_checks_are_refused_not_queued(
    userman: Userman, anonymous: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    userman.execute(ROOT, ["customer"], "add", (), {"login": "busy-one", "password": "right"})
    with hashes_busy(monkeypatch):
        for _ in range(3):  # more than the guard's limit: a busy refusal is no failed log-in
            busy = anonymous.get("/api/v1/user", auth=("busy-one", "wrong"))
            assert busy.status_code == 503
            assert busy.headers["Retry-After"] == str(passwords.RETRY_AFTER)
            assert "try again" in busy.json()["error"]
    assert anonymous.get("/api/v1/user", auth=("busy-one", "right")).status_code == 200


def test_a_new_password_waits_for_a_slot_too(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.get("/api/v1/customer").status_code == 200  # its own log-in is remembered
    with hashes_busy(monkeypatch):
        refused = client.post("/api/v1/customer", json={"login": "busy-two", "password": "x"})
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == str(passwords.RETRY_AFTER)
    assert client.get("/api/v1/customer/busy-two").status_code == 404  # nothing changed
