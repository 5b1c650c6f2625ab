"""Sign-up in a real browser, through to the activation mail and the user's log-in; and the
settings and vouchers pages, kept as screenshots."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from browser.conftest import screenshot
from browser.test_customer_flow import log_in
from served import Server
from smtpbox import Mailbox, smtp_server
from support import allow_private_destinations
from userman.services import Actor, Userman

pytestmark = pytest.mark.e2e
ROOT = Actor.superuser()


@pytest.fixture(scope="module")
def mailbox(web_server: Server) -> Iterator[Mailbox]:
    """The served database's admin allows sign-up and mails through a test SMTP server."""
    with smtp_server() as box:
        userman = Userman(web_server.db_url)
        allow_private_destinations(userman)
        userman.execute(
            ROOT,
            ["customer"],
            "set",
            ["admin"],
            {"signup-allowed": "yes", "email": "desk@isp.example", "company": "Isp Ltd"},
        )
        userman.change_settings(
            ROOT,
            {"smtp-server": "127.0.0.1", "smtp-port": str(box.port)},
            subscriber="admin",
        )
        userman.close()
        yield box


def public_id(web_server: Server) -> str:
    [admin] = web_server.json("customer", "print", "where", "login=admin")
    return str(admin["public-id"])


def test_a_user_signs_up_activates_from_the_mail_and_logs_in(
    page: object, web_server: Server, mailbox: Mailbox
) -> None:
    subs = public_id(web_server)
    page.goto(f"/user/signup?subs={subs}")  # type: ignore[attr-defined]
    page.fill("input[name=username]", "surfer1")  # type: ignore[attr-defined]
    page.fill("input[name=password]", "wave-rider")  # type: ignore[attr-defined]
    page.fill("input[name=password2]", "wave-rider")  # type: ignore[attr-defined]
    page.fill("input[name=email]", "surfer1@example.net")  # type: ignore[attr-defined]
    page.fill("input[name=first-name]", "Sam")  # type: ignore[attr-defined]
    page.fill("input[name=last-name]", "Reef")  # type: ignore[attr-defined]
    screenshot(page, "signup")
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    assert page.inner_text("h1") == "Check your mail"  # type: ignore[attr-defined]
    screenshot(page, "signup-sent")

    [mail] = mailbox.wait()
    assert mail.recipients == ["surfer1@example.net"]
    [link] = re.findall(r"http://\S+/user/activate\?key=\S+", mail.message.get_content())
    assert link.startswith(web_server.http_url)  # the host the form was asked for
    [user] = web_server.json("user", "print", "where", "username=surfer1")
    assert user["disabled"] is True

    page.goto(link)  # type: ignore[attr-defined]
    assert page.inner_text("h1") == "Your account is active"  # type: ignore[attr-defined]
    screenshot(page, "signup-activated")
    [user] = web_server.json("user", "print", "where", "username=surfer1")
    assert user["disabled"] is False
    assert user["registration-date"]

    page.click("a[role=button]:has-text('Log in')")  # type: ignore[attr-defined]
    page.fill("input[name=username]", "surfer1")  # type: ignore[attr-defined]
    page.fill("input[name=password]", "wave-rider")  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_load_state()  # type: ignore[attr-defined]
    assert "surfer1" in page.inner_text("body")  # type: ignore[attr-defined]
    assert page.locator("input[name=password]").count() == 0  # type: ignore[attr-defined]


def test_the_settings_page(page: object, mailbox: Mailbox) -> None:
    log_in(page)
    page.goto("/userman/settings")  # type: ignore[attr-defined]
    assert page.inner_text("h1") == "Settings"  # type: ignore[attr-defined]
    page.fill("input[name=to]", "me@example.net")  # type: ignore[attr-defined]
    page.click("#test-mail button")  # type: ignore[attr-defined]
    page.wait_for_selector("#test-result [role=status]")  # type: ignore[attr-defined]
    assert "went to me@example.net" in page.inner_text("#test-result")  # type: ignore[attr-defined]
    assert any(m.recipients == ["me@example.net"] for m in mailbox.messages)
    screenshot(page, "settings")


def test_a_batch_and_its_vouchers(page: object, web_server: Server) -> None:
    web_server.cli("profile", "add", "name=day-pass", "validity=1d", "price=3.50")
    log_in(page)
    page.goto("/userman/users/batch")  # type: ignore[attr-defined]
    page.select_option("select[name=profile]", "day-pass")  # type: ignore[attr-defined]
    page.fill("input[name=number-of-users]", "9")  # type: ignore[attr-defined]
    page.fill("input[name=username-prefix]", "wifi-")  # type: ignore[attr-defined]
    page.click("button:has-text('Add the users')")  # type: ignore[attr-defined]
    assert "9 users made" in page.inner_text("#made")  # type: ignore[attr-defined]
    screenshot(page, "batch")
    with page.expect_popup() as popup:  # type: ignore[attr-defined]
        page.click("button:has-text('Print vouchers')")  # type: ignore[attr-defined]
    vouchers = popup.value
    vouchers.wait_for_load_state()
    assert vouchers.locator(".voucher").count() == 9
    assert "day-pass" in vouchers.inner_text(".voucher")
    screenshot(vouchers, "vouchers")
    vouchers.emulate_media(media="print")
    assert not vouchers.is_visible(".toolbar")
    screenshot(vouchers, "vouchers-print")
