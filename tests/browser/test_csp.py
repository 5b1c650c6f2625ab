"""The Content-Security-Policy in a real browser: a script slipped into a page does not run, and
the pages' own behaviour (static/userman.js, in place of inline handlers) does."""

from __future__ import annotations

from typing import Any

import pytest

from browser.conftest import blocked_by_policy
from browser.test_customer_flow import log_in
from served import Server

pytestmark = pytest.mark.e2e

expect = pytest.importorskip("playwright.sync_api").expect

INJECTED = (
    "<script>window.injected = 'script'</script>"
    "<img src=/static/nowhere.png onerror=\"window.injected = 'handler'\">"
    "<a id=evil href=\"javascript:window.injected = 'link'\">x</a>"
)


def test_a_script_slipped_into_a_page_does_not_run(browser: Any, web_server: Server) -> None:
    # The login page as the server sends it (its headers too), with markup injected into it,
    # as a value that escaped escaping would be.
    context = browser.new_context(base_url=web_server.http_url)
    page = context.new_page()
    blocked = blocked_by_policy(page)

    def inject(route: Any) -> None:
        answer = route.fetch()
        html = answer.text().replace("</main>", INJECTED + "</main>")
        route.fulfill(response=answer, body=html)

    page.route("**/userman/login*", inject)
    page.goto("/userman/login")
    page.click("#evil")
    assert page.evaluate("window.injected") is None
    assert len(blocked) >= 3  # each refused, and said so
    # The page's own scripts (from files of the site) still run: htmx is there.
    assert page.evaluate("typeof window.htmx") == "object"
    context.close()


def test_the_pages_own_behaviour_runs_from_its_script(page: Any, web_server: Server) -> None:
    web_server.cli("limitation", "add", "owner=admin", "name=csp-a")
    web_server.cli("limitation", "add", "owner=admin", "name=csp-b")
    log_in(page)
    page.wait_for_url("**/userman")
    page.goto("/userman/limitations")
    # Tick all: every box of the table.
    page.check("th.tick input")
    expect(page.locator("tbody input[name=id]:not(:checked)")).to_have_count(0)
    page.uncheck("th.tick input")
    expect(page.locator("tbody input[name=id]:checked")).to_have_count(0)
    # Remove asks first: declined, nothing is removed; accepted, it is.
    page.click("tbody a:has-text('csp-a')")
    asked: list[str] = []

    def answer(dialog: Any, accept: bool) -> None:
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, accept=False))
    page.click("button:has-text('Remove')")
    assert asked == ["Remove this limitation?"]
    assert "csp-a" in page.inner_text("h1")
    page.once("dialog", lambda dialog: answer(dialog, accept=True))
    page.click("button:has-text('Remove')")
    page.wait_for_url("**/userman/limitations")
    assert "csp-a" not in page.inner_text("tbody")
    assert "csp-b" in page.inner_text("tbody")


def test_the_api_documentation_starts_under_the_policy(page: Any) -> None:
    page.goto("/api/docs")
    expect(page.locator(".opblock").first).to_be_visible()  # Swagger UI read the document
