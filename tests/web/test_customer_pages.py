"""The customer pages' log-in, session and status page (web/customer.py, web/session.py), in
process: CSRF on every form, the session cookie's flags, log-out, and a new password ending the
sessions logged in before it."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from inmemory import accounting, exchange
from userman.services import Actor, Userman
from userman.web.app import create_app
from userman.web.serve import warn_if_open


@pytest.fixture
def browser(userman: Userman) -> Iterator[TestClient]:
    """A client with no log-in, that does not follow redirects (to see them)."""
    with TestClient(create_app(userman), follow_redirects=False) as http:
        yield http


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def log_in(browser: TestClient, login: str = "admin", password: str = "") -> str:
    """Log in through the form; the session's CSRF token (from the next page)."""
    form = browser.get("/userman/login")
    response = browser.post(
        "/userman/login",
        data={"login": login, "password": password, "csrf": csrf_of(form.text), "next": "/userman"},
    )
    assert response.status_code == 303, response.text
    return csrf_of(browser.get("/userman/status").text)


def test_a_page_sends_the_browser_to_log_in_first(browser: TestClient) -> None:
    response = browser.get("/userman/status")
    assert response.status_code == 303
    assert response.headers["location"] == "/userman/login?next=/userman/status"
    assert browser.get("/").headers["location"] == "/userman"
    htmx = browser.get("/userman/status", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"].startswith("/userman/login")


def test_log_in_sets_a_private_session_cookie(browser: TestClient) -> None:
    form = browser.get("/userman/login")
    assert form.status_code == 200
    response = browser.post(
        "/userman/login",
        data={"login": "admin", "password": "", "csrf": csrf_of(form.text), "next": "/userman"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/userman"
    cookie = response.headers["set-cookie"]
    assert "userman_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    page = browser.get("/userman")
    assert page.status_code == 200
    assert "active sessions" in page.text


def test_the_log_in_form_needs_its_csrf_token(browser: TestClient) -> None:
    browser.get("/userman/login")
    forged = browser.post("/userman/login", data={"login": "admin", "password": ""})
    assert forged.status_code == 403
    assert "userman_session" not in forged.headers.get("set-cookie", "")


def test_a_wrong_password_is_refused_without_saying_which_part(browser: TestClient) -> None:
    form = browser.get("/userman/login")
    for login in ("admin", "nobody"):
        wrong = browser.post(
            "/userman/login",
            data={"login": login, "password": "x", "csrf": csrf_of(form.text), "next": "/userman"},
        )
        assert wrong.status_code == 401
        assert "a valid login and password" in wrong.text
        assert 'name="password"' in wrong.text
        assert 'value="x"' not in wrong.text  # the password is never echoed


def test_only_a_page_of_userman_comes_after_log_in(browser: TestClient) -> None:
    form = browser.get("/userman/login?next=https://evil.example/")
    assert 'name="next" value="/userman"' in form.text
    response = browser.post(
        "/userman/login",
        data={"login": "admin", "csrf": csrf_of(form.text), "next": "//evil.example/x"},
    )
    assert response.headers["location"] == "/userman"


def test_log_out_needs_the_token_and_ends_the_session(browser: TestClient) -> None:
    csrf = log_in(browser)
    assert browser.post("/userman/logout").status_code == 403
    assert browser.get("/userman/status").status_code == 200
    out = browser.post("/userman/logout", data={"csrf": csrf})
    assert out.status_code == 303
    assert browser.get("/userman/status").status_code == 303


def test_a_tampered_cookie_is_not_a_session(browser: TestClient) -> None:
    log_in(browser)
    value = browser.cookies["userman_session"]
    payload, signature = value.split(".")
    browser.cookies.clear()
    browser.cookies.set("userman_session", payload + "." + signature[::-1])
    assert browser.get("/userman/status").status_code == 303


def test_a_new_password_ends_the_sessions_before_it(userman: Userman) -> None:
    root = Actor.superuser()
    userman.execute(root, ["customer"], "add", (), {"login": "pw-owner", "password": "one"})
    with TestClient(create_app(userman), follow_redirects=False) as browser:
        log_in(browser, "pw-owner", "one")
        assert browser.get("/userman/status").status_code == 200
        userman.execute(root, ["customer"], "set", ["pw-owner"], {"password": "two"})
        assert browser.get("/userman/status").status_code == 303


def test_the_status_page_shows_what_is_going_on(browser: TestClient, userman: Userman) -> None:
    root = Actor.superuser()
    userman.execute(
        root,
        ["router"],
        "add",
        (),
        {
            "name": "status-r",
            "customer": "admin",
            "ip-address": "127.0.0.1",
            "shared-secret": "12345",
            "require-message-authenticator": "no",
            "log": "auth-fail",
        },
    )
    userman.execute(
        root, ["user"], "add", (), {"username": "online", "password": "p", "customer": "admin"}
    )
    exchange(userman, accounting("online", "Start", "st-1"), acct=True)
    log_in(browser)
    page = browser.get("/userman/status").text
    assert "online" in page
    assert re.search(r"<h2>1</h2><p>active session<", page)
    assert 'hx-trigger="every 10s"' in page
    # Everything it loads comes from this server.
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert all(source.startswith("/") for source in sources)


def test_every_answer_carries_the_security_headers(browser: TestClient) -> None:
    for path in ("/userman/login", "/api/v1/user", "/static/userman.css"):
        headers = browser.get(path).headers
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
    assert browser.get("/userman/login").headers["cache-control"] == "no-store"
    assert "no-store" not in browser.get("/static/userman.css").headers.get("cache-control", "")


def test_an_empty_password_is_warned_about(
    userman: Userman, caplog: pytest.LogCaptureFixture
) -> None:
    root = Actor.superuser()
    userman.execute(root, ["customer"], "add", (), {"login": "bare"})
    userman.execute(root, ["customer"], "add", (), {"login": "guarded", "password": "g"})
    with TestClient(create_app(userman), follow_redirects=False) as browser:
        log_in(browser, "bare", "")
        assert "Your password is empty" in browser.get("/userman/status").text
    with TestClient(create_app(userman), follow_redirects=False) as browser:
        log_in(browser, "guarded", "g")
        assert "Your password is empty" not in browser.get("/userman/status").text
    # serve warns while the default admin's password is empty and the web port is open.
    caplog.set_level(logging.WARNING, logger="userman.server")
    warn_if_open(userman, "127.0.0.1")
    assert "empty password" not in caplog.text
    warn_if_open(userman, "0.0.0.0")
    assert "customer admin has an empty password" in caplog.text
