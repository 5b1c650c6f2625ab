"""The customer's main flows in a real browser."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from browser.conftest import screenshot
from inmemory import accounting, exchange
from served import Server
from userman.services import Userman

pytestmark = pytest.mark.e2e

# Waits for the page to come round (a form posted, a list swapped by htmx) before it fails.
expect = pytest.importorskip("playwright.sync_api").expect


def log_in(page: object, login: str = "admin", password: str = "") -> None:
    page.goto("/userman")  # type: ignore[attr-defined]
    page.fill("input[name=login]", login)  # type: ignore[attr-defined]
    page.fill("input[name=password]", password)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]


def test_an_admin_logs_in_and_sees_the_status_page(page: object) -> None:
    page.goto("/userman")  # type: ignore[attr-defined]
    assert page.url.endswith("/userman/login?next=/userman")  # type: ignore[attr-defined]
    screenshot(page, "login")
    page.fill("input[name=login]", "admin")  # type: ignore[attr-defined]
    page.fill("input[name=password]", "wrong")  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    assert "a valid login and password" in page.inner_text("[role=alert]")  # type: ignore[attr-defined]
    log_in(page)
    page.wait_for_url("**/userman")  # type: ignore[attr-defined]
    assert page.inner_text("h1") == "Status"  # type: ignore[attr-defined]
    screenshot(page, "status")
    page.click("text=Log out")  # type: ignore[attr-defined]
    page.wait_for_url("**/userman/login")  # type: ignore[attr-defined]


def report_session(web_server: Server, username: str, source: tuple[str, int]) -> None:
    """The router's accounting for a session of `username`, with some traffic (in a thread of
    its own: Playwright's sync API keeps an event loop in this one)."""

    def send() -> None:
        router = Userman(web_server.db_url)
        try:
            exchange(router, accounting(username, "Start", "flow-1"), source=source, acct=True)
            octets = {"Acct-Input-Octets": 52_000_000, "Acct-Output-Octets": 730_000_000}
            interim = accounting(username, "Interim-Update", "flow-1", **octets)
            exchange(router, interim, source=source, acct=True)
        finally:
            router.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(send).result()


def accept_dialogs(page: object) -> None:
    page.on("dialog", lambda dialog: dialog.accept())  # type: ignore[attr-defined]


def test_an_admin_sets_up_a_router_a_profile_and_a_user(page: object, web_server: Server) -> None:
    """The issue's main flow: a router, a limitation in a time window of a profile, a user,
    and the profile activated; a session and a search on the way."""
    p: Any = page
    accept_dialogs(p)
    log_in(p)
    p.wait_for_url("**/userman")

    # A router; its shared secret is shown only on request.
    p.click("header >> text=Routers")
    p.click("text=Add router")
    p.fill("input[name=name]", "flow-router")
    p.fill("input[name=ip-address]", "10.77.0.1")
    p.fill("input[name=shared-secret]", "12345")
    p.check("input[name=log][value=auth-ok]")
    p.click("button:has-text('Add router')")
    assert p.inner_text("[role=status]") == "Added."
    assert "12345" not in p.content()
    p.click("text=Show the shared secret")
    assert p.inner_text("code.revealed") == "12345"
    screenshot(p, "router")

    # A limitation, with a bad value first: the error names the property.
    p.click("header >> text=Limitations")
    p.click("text=Add limitation")
    p.fill("input[name=name]", "flow-day")
    p.fill("input[name=rate-limit-rx]", "2M")
    p.fill("input[name=rate-limit-tx]", "10M")
    p.fill("input[name=uptime-limit]", "soon")
    p.click("button:has-text('Add limitation')")
    assert "uptime-limit" in p.inner_text("small.error")
    screenshot(p, "limitation-error")
    p.fill("input[name=uptime-limit]", "10h")
    p.fill("input[name=download-limit]", "2G")
    p.click("button:has-text('Add limitation')")
    assert p.inner_text("[role=status]") == "Added."
    screenshot(p, "limitation")

    # A profile, and the limitation in a working-day window.
    p.click("header >> text=Profiles")
    p.click("text=Add profile")
    p.fill("input[name=name]", "flow-month")
    p.fill("input[name=name-for-users]", "A month, working days")
    p.fill("input[name=validity]", "30d")
    p.select_option("select[name=starts-at]", "now")
    p.fill("input[name=price]", "9.90")
    p.click("button:has-text('Add profile')")
    form = p.locator("form.window")
    form.locator("select[name=limitation]").select_option("flow-day")
    form.locator("input[name=from-time]").fill("08:00:00")
    form.locator("input[name=till-time]").fill("18:00:00")
    form.locator("input[value=saturday]").uncheck()
    form.locator("input[value=sunday]").uncheck()
    form.locator("button").click()
    row = p.locator("td.days").first
    expect(row.locator(".day.on")).to_have_count(5)
    screenshot(p, "profile")

    # A user, activated with the profile.
    p.click("header >> text=Users")
    p.click("text=Add user")
    p.fill("input[name=username]", "flow-alice")
    p.fill("input[name=password]", "secret")
    p.fill("input[name=first-name]", "Alice")
    p.fill("input[name=shared-users]", "1")
    p.click("button:has-text('Add user')")
    assert p.inner_text("[role=status]") == "Added."
    p.select_option("form.activate select[name=profile]", "flow-month")
    p.click("text=Create and activate")
    assert p.inner_text("[role=status]") == "Profile activated."
    assert p.inner_text("span.state") == "running"

    # The router reports a session: it shows on the user's page, its chart and the sessions.
    report_session(web_server, "flow-alice", ("10.77.0.1", 40000))
    p.reload()
    assert p.inner_text("span.state") == "running-active"
    expect(p.locator("svg.chart g.day")).to_have_count(30)
    screenshot(p, "user")

    p.click("header >> text=Users")
    p.fill("input[name=q]", "flow-_lice")
    p.wait_for_url("**q=flow-_lice**")
    expect(p.locator("tbody tr")).to_have_count(1)
    screenshot(p, "users")

    p.click("header >> text=Sessions")
    assert "flow-alice" in p.inner_text("tbody")
    screenshot(p, "sessions")
    p.check("tbody input[name=id]")
    p.click("button[value=close-session]")
    expect(p.locator("tbody .flag-A")).to_have_count(0)

    for section, name in (("Customers", "customers"), ("Logs", "logs"), ("History", "history")):
        p.click(f"header >> text={section}")
        screenshot(p, name)
    # The newest change is the activation; Undo names it and asks first. The session's
    # counters changed its row since, so undoing it is refused, says why, and marks the entry
    # failed.
    p.click("a:has-text('Undo')")
    p.wait_for_url("**/userman/history/undo")
    assert "create-and-activate-profile flow-alice" in p.inner_text("#entry-action")
    screenshot(p, "history-undo-confirm")
    p.click("button:has-text('Undo “')")
    assert "cannot undo" in p.inner_text("[role=alert]")
    expect(p.locator("tbody tr").first.locator(".flag-F")).to_have_count(1)
    screenshot(p, "history-undo-refused")
