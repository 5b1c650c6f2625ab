"""Log-ins, tokens and sessions under attack (docs/security.md): password checks take turns
and refuse when full, a bad token locks out only its own prefix and address, the API never
challenges a browser for Basic credentials nor takes a change from another site, and log-out
ends a session on the server."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
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
        with _browser(userman) as browser:
            form = browser.get("/userman/login")
            data = {"login": "busy-one", "password": "right", "csrf": _csrf_of(form.text)}
            page = browser.post("/userman/login", data=data)
            assert page.status_code == 503
            assert "try again" in page.text
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


def _csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def _browser(userman: Userman, address: str = "198.51.100.7") -> TestClient:
    return TestClient(
        create_app(userman),
        follow_redirects=False,
        client=(address, 40000),
        headers={"User-Agent": f"TestBrowser/{address}"},
    )


def _log_in(browser: TestClient, login: str, password: str) -> str:
    """Log in through the form; the session's CSRF token."""
    form = browser.get("/userman/login")
    data = {"login": login, "password": password, "csrf": _csrf_of(form.text), "next": "/userman"}
    assert browser.post("/userman/login", data=data).status_code == 303
    return _csrf_of(browser.get("/userman/status").text)


def test_log_out_ends_every_copy_of_the_cookie(userman: Userman) -> None:
    with _browser(userman) as browser, _browser(userman, "203.0.113.9") as thief:
        csrf = _log_in(browser, "admin", "")
        thief.cookies.set("userman_session", browser.cookies["userman_session"])
        assert thief.get("/userman/status").status_code == 200
        assert browser.post("/userman/logout", data={"csrf": csrf}).status_code == 303
        assert thief.get("/userman/status").status_code == 303
        assert browser.get("/userman/status").status_code == 303


def test_a_customer_lists_and_revokes_its_sessions(userman: Userman) -> None:
    userman.execute(ROOT, ["customer"], "add", (), {"login": "many", "password": "many-pw"})
    userman.execute(ROOT, ["customer"], "add", (), {"login": "nosy", "password": "nosy-pw"})
    with (
        _browser(userman, "198.51.100.1") as one,
        _browser(userman, "198.51.100.2") as two,
        _browser(userman, "198.51.100.3") as three,
        TestClient(create_app(userman)) as api,
    ):
        for browser in (one, two, three):
            _log_in(browser, "many", "many-pw")
        listed = api.get("/api/v1/web-session", auth=("many", "many-pw")).json()
        assert [entry["address"] for entry in listed] == [
            "198.51.100.1",
            "198.51.100.2",
            "198.51.100.3",
        ]
        assert {entry["login"] for entry in listed} == {"many"}
        assert listed[1]["agent"] == "TestBrowser/198.51.100.2"
        assert "last-used" in listed[0]
        # Another customer neither sees them nor ends them.
        assert api.get("/api/v1/web-session", auth=("nosy", "nosy-pw")).json() == []
        foreign = api.delete(f"/api/v1/web-session/{listed[0]['id']}", auth=("nosy", "nosy-pw"))
        assert foreign.status_code == 404
        assert api.delete("/api/v1/web-session", auth=("nosy", "nosy-pw")).json()["count"] == 0
        assert one.get("/userman/status").status_code == 200
        # Its owner ends one, then the rest.
        ended = api.delete(f"/api/v1/web-session/{listed[0]['id']}", auth=("many", "many-pw"))
        assert ended.status_code == 204
        assert one.get("/userman/status").status_code == 303
        assert two.get("/userman/status").status_code == 200
        rest = api.delete("/api/v1/web-session", auth=("many", "many-pw"))
        assert rest.json()["count"] == 2
        assert two.get("/userman/status").status_code == 303
        assert three.get("/userman/status").status_code == 303
        assert api.get("/api/v1/web-session", auth=("many", "many-pw")).json() == []


def test_a_new_password_takes_its_sessions_off_the_list(userman: Userman) -> None:
    userman.execute(ROOT, ["customer"], "add", (), {"login": "changer", "password": "old-pw"})
    with _browser(userman) as browser, TestClient(create_app(userman)) as api:
        _log_in(browser, "changer", "old-pw")
        assert len(api.get("/api/v1/web-session", auth=("changer", "old-pw")).json()) == 1
        userman.execute(ROOT, ["customer"], "set", ["changer"], {"password": "new-pw"})
        assert browser.get("/userman/status").status_code == 303
        assert api.get("/api/v1/web-session", auth=("changer", "new-pw")).json() == []


def test_a_cookie_from_before_the_server_kept_sessions_is_no_session(userman: Userman) -> None:
    """A cookie signed with the right key but without a session id (as cookies were before the
    server recorded sessions) is no session: log in again."""
    with _browser(userman) as browser:
        _log_in(browser, "admin", "")
        payload, _, _signature = browser.cookies["userman_session"].partition(".")
        fields = json.loads(base64.urlsafe_b64decode(payload))
        del fields["sid"]
        old = base64.urlsafe_b64encode(json.dumps(fields).encode())
        key = userman.secret("web-session")
        signature = base64.urlsafe_b64encode(hmac.new(key, old, hashlib.sha256).digest())
        browser.cookies.clear()
        browser.cookies.set("userman_session", f"{old.decode()}.{signature.decode()}")
        assert browser.get("/userman/status").status_code == 303


def test_loading_a_backup_brings_back_no_session(userman: Userman) -> None:
    admin = userman.actor("admin")
    with _browser(userman) as browser, _browser(userman, "203.0.113.9") as thief:
        csrf = _log_in(browser, "admin", "")
        thief.cookies.set("userman_session", browser.cookies["userman_session"])
        userman.execute(
            admin, ["database"], "save", (), {"name": "with-session", "overwrite": "yes"}
        )
        assert browser.post("/userman/logout", data={"csrf": csrf}).status_code == 303
        userman.execute(admin, ["database"], "load", (), {"name": "with-session"})
        assert thief.get("/userman/status").status_code == 303
