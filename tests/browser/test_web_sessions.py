"""The customer's web sessions page (/userman/web-sessions) in a real browser: two browsers
logged in as one customer each see both sessions, one ends the other's (which is then sent to
log in again), and ending its own logs it out. Plain forms, no script: nothing the page's
Content-Security-Policy blocks (issue 11: "sessions listed and revocable")."""

from __future__ import annotations

from typing import Any

import pytest

from browser.conftest import blocked_by_policy, screenshot
from browser.test_customer_flow import log_in
from served import Server

pytestmark = pytest.mark.e2e

expect = pytest.importorskip("playwright.sync_api").expect

LOGIN, PASSWORD = "sessions-owner", "sessions-pw"


def test_a_customer_lists_and_ends_its_web_sessions(browser: Any, web_server: Server) -> None:
    web_server.cli(
        "customer", "add", f"login={LOGIN}", f"password={PASSWORD}", "parent=admin",
        "permissions=read-only",
    )  # fmt: skip
    contexts = [browser.new_context(base_url=web_server.http_url) for _ in range(2)]
    first, second = (context.new_page() for context in contexts)
    blocked = [blocked_by_policy(first), blocked_by_policy(second)]
    for page in (first, second):
        log_in(page, LOGIN, PASSWORD)
        page.wait_for_url("**/userman")
    first.click("a[href='/userman/web-sessions'] >> nth=0")
    first.wait_for_url("**/userman/web-sessions")
    rows = first.locator("#web-sessions tbody tr")
    expect(rows).to_have_count(2)
    expect(first.locator("tr[aria-current=true]")).to_have_count(1)
    screenshot(first, "web-sessions")
    # The first ends the second's session: the second is asked to log in again.
    first.locator("tbody tr:not([aria-current]) button").click()
    expect(first.locator("[role=status]")).to_have_text("1 session ended.")
    expect(rows).to_have_count(1)
    second.goto("/userman/status")
    assert "/userman/login" in second.url
    # Logged in again, then ended with every other one.
    log_in(second, LOGIN, PASSWORD)
    second.wait_for_url("**/userman")
    first.reload()
    expect(rows).to_have_count(2)
    first.click("text=End every session but this one")
    expect(first.locator("[role=status]")).to_have_text("1 session ended.")
    second.goto("/userman/status")
    assert "/userman/login" in second.url
    # Its own: logged out.
    first.locator("tr[aria-current=true] button").click()
    first.wait_for_url("**/userman/login")
    first.goto("/userman/web-sessions")
    assert "/userman/login" in first.url
    for context in contexts:
        context.close()
    assert blocked == [[], []]
