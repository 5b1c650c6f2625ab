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


def test_bad_tokens_lock_out_their_prefix_and_address_only(
    client: TestClient, userman: Userman
) -> None:
    made = client.post("/api/v1/token", json={"name": "lockout"})
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    good = {"Authorization": f"Bearer {token}"}
    guard = Guard(limit=2, window=60)
    app = create_app(userman, guard=guard)
    with (
        TestClient(app, client=("192.0.2.1", 50000)) as noisy,
        TestClient(app, client=("192.0.2.2", 50000)) as other,
    ):
        for _ in range(3):
            noisy.get("/api/v1/user", headers={"Authorization": "Bearer umt_wrongwrongwrong"})
        assert noisy.get("/api/v1/user", headers=good).status_code == 429  # its own address
        # Another address, with its own token or a bad one of another prefix, is not locked out.
        assert other.get("/api/v1/user", headers=good).status_code == 200
        wrong = other.get("/api/v1/user", headers={"Authorization": "Bearer umt_wrongwrongwrong"})
        assert wrong.status_code == 401
        assert other.get("/api/v1/user", headers=good).status_code == 200
    assert client.delete("/api/v1/token/lockout").status_code == 204


BROWSERS = [
    {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin"},
    {"Origin": "http://testserver"},
    {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
]


@pytest.mark.parametrize("headers", BROWSERS)
def test_a_browser_is_never_asked_for_basic_credentials(
    anonymous: TestClient, headers: dict[str, str]
) -> None:
    refused = anonymous.get("/api/v1/user", headers=headers)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="userman"'
    wrong = anonymous.get("/api/v1/user", headers=headers, auth=("nobody", "x"))
    assert wrong.headers["WWW-Authenticate"] == 'Bearer realm="userman"'


def test_a_program_is_asked_for_basic_credentials(anonymous: TestClient) -> None:
    refused = anonymous.get("/api/v1/user", headers={"Accept": "application/json"})
    assert refused.headers["WWW-Authenticate"] == 'Basic realm="userman"'


CROSS_SITE = [
    {"Sec-Fetch-Site": "cross-site"},
    {"Origin": "https://evil.example"},
    {"Origin": "http://testserver.evil.example"},
    {"Origin": "null"},
]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_a_change_from_another_site_is_refused(client: TestClient, headers: dict[str, str]) -> None:
    made = client.post("/api/v1/profile", json={"name": "csrf-made"}, headers=headers)
    assert made.status_code == 403
    assert "another site" in made.json()["error"]
    assert client.get("/api/v1/profile/csrf-made").status_code == 404
    assert client.post("/api/v1/profile", json={"name": "csrf-ok"}).status_code == 201
    for method in ("PATCH", "DELETE"):
        body = {"name-for-users": "x"} if method == "PATCH" else None
        changed = client.request(method, "/api/v1/profile/csrf-ok", json=body, headers=headers)
        assert changed.status_code == 403
    assert client.patch("/api/v1/settings", json={}, headers=headers).status_code == 403
    assert client.get("/api/v1/profile/csrf-ok", headers=headers).status_code == 200  # a read
    assert client.delete("/api/v1/profile/csrf-ok").status_code == 204


def test_a_change_from_the_same_site_goes_through(client: TestClient) -> None:
    same = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    assert (
        client.post("/api/v1/profile", json={"name": "same-site"}, headers=same).status_code == 201
    )
    assert client.delete("/api/v1/profile/same-site", headers=same).status_code == 204
