"""The customer's main flows in a real browser."""

from __future__ import annotations

import pytest

from browser.conftest import screenshot

pytestmark = pytest.mark.e2e


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
