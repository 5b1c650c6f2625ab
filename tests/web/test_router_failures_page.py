"""The status page's router failures (templates/_router_failures.html): requests a router sent
that were dropped for their Message-Authenticator or shared secret, apart from the users'
failed log-ons, with the router and the reason."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from inmemory import SECRET, D, access_request, do, exchange
from userman.radius.packet import Code, build, encode
from userman.services import Userman
from userman.web.app import create_app
from web.test_customer_pages import log_in

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def browser(userman: Userman) -> Iterator[TestClient]:
    with TestClient(create_app(userman), follow_redirects=False) as http:
        yield http


def test_the_status_page_names_the_router_and_why_its_requests_were_dropped(
    browser: TestClient, userman: Userman
) -> None:
    log_in(browser)
    assert "No request was dropped" in browser.get("/userman/status").text
    do(
        userman,
        "router add",
        name="strict-r",
        log="auth-fail",
        **{
            "ip-address": "127.0.0.1",
            "shared-secret": "12345",
            "require-message-authenticator": "yes",
        },
    )
    do(userman, "user add", username="test", password="test")
    unsigned = build(
        D, Code.ACCESS_REQUEST, 7, os.urandom(16), [("User-Name", "test"), ("User-Password", "x")]
    )
    exchange(userman, encode(unsigned, SECRET))
    exchange(userman, access_request("test", "wrong")[1])  # a user's failure, signed
    page = browser.get("/userman/status").text
    users, routers = page.split("<h2>Recent failures</h2>")[1].split("<h2>Router failures</h2>")
    assert (
        "router strict-r: no Message-Authenticator; set require-message-authenticator=no for"
        " routers that cannot send one"
    ) in routers
    assert "wrong password for user &lt;test&gt;" in users
    assert "Message-Authenticator" not in users


def test_the_router_page_says_whether_auto_has_seen_a_message_authenticator(
    browser: TestClient, userman: Userman
) -> None:
    """After the test above: strict-r, set to auto (which forgets what it saw), is strict again
    once it has sent a signed request, and its page says since when."""
    log_in(browser)
    do(userman, "router set", "strict-r", **{"require-message-authenticator": "auto"})
    [router] = userman.execute(userman.actor(None), ("router",), "print", (), {}).items
    page = f"/userman/routers/{router.id.lstrip('*')}"
    assert "Has sent no Message-Authenticator yet" in browser.get(page).text
    userman.note_signed(int(router.id.lstrip("*"), 16), NOW)  # what a signed request does
    text = browser.get(page).text
    assert "Sends a Message-Authenticator since" in text
    assert "Has sent no Message-Authenticator yet" not in text
