"""The subscriber's settings: the page /userman/settings, the REST API /api/v1/settings, their
permissions and tenancy, history and backups, and the test mail through a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from smtpbox import smtp_server
from support import allow_private_destinations
from userman.services import Actor, Userman
from userman.services.backup import TABLES
from userman.web.app import create_app
from web.test_customer_pages import csrf_of, log_in

ROOT = Actor.superuser()


@pytest.fixture(scope="module", autouse=True)
def customers(userman: Userman) -> None:
    """admin (owner) with customers of each level below it; another subscriber, other."""
    for login, level in (("st-full", "full"), ("st-rw", "read-write"), ("st-ro", "read-only")):
        userman.execute(
            ROOT,
            ["customer"],
            "add",
            (),
            {"login": login, "password": "pw", "parent": "admin", "permissions": level},
        )
    userman.execute(ROOT, ["customer"], "add", (), {"login": "other", "password": "pw"})
    allow_private_destinations(userman)  # the test mail goes to 127.0.0.1


@pytest.fixture
def browser(userman: Userman) -> Iterator[TestClient]:
    with TestClient(create_app(userman), follow_redirects=False) as http:
        yield http


def settings_of(userman: Userman, login: str) -> dict[str, str]:
    actor = userman.actor(login)
    return {v.setting.name: v.text for v in userman.settings(actor, show_sensitive=True)}


def test_the_page_shows_every_group_with_the_defaults(browser: TestClient) -> None:
    log_in(browser)
    page = browser.get("/userman/settings")
    assert page.status_code == 200
    for heading in ("Mail (SMTP)", "Sign-up e-mail", "Voucher template", "Send a test mail"):
        assert heading in page.text
    assert "%u_activation_link%" in page.text  # in the default body and in its help
    assert 'href="/userman/settings" aria-current="page"' in page.text  # the nav entry
    assert "Save settings" in page.text


def test_saving_changes_only_what_changed_and_never_echoes_the_password(
    browser: TestClient, userman: Userman
) -> None:
    csrf = log_in(browser)
    form = {
        "csrf": csrf,
        "smtp-server": "mail.example.com",
        "smtp-port": "587",
        "smtp-security": "starttls",
        "smtp-user": "um",
        "smtp-password": "pa55word",
        "smtp-from": "um@example.com",
        "signup-subject": "Welcome",
    }
    saved = browser.post("/userman/settings", data=form)
    assert saved.status_code == 303
    page = browser.get(saved.headers["location"]).text
    assert "Settings saved." in page
    assert 'value="mail.example.com"' in page
    assert "pa55word" not in page
    assert "set (type a new one to change it)" in page
    values = settings_of(userman, "admin")
    assert values["smtp-password"] == "pa55word"
    assert values["smtp-port"] == "587"
    # An empty password field keeps the password; the tick box clears it.
    browser.post("/userman/settings", data={"csrf": csrf, "smtp-password": ""})
    assert settings_of(userman, "admin")["smtp-password"] == "pa55word"
    browser.post("/userman/settings", data={"csrf": csrf, "clear:smtp-password": "1"})
    assert settings_of(userman, "admin")["smtp-password"] == ""


def test_a_bad_value_says_which_and_changes_nothing(browser: TestClient, userman: Userman) -> None:
    csrf = log_in(browser)
    before = settings_of(userman, "admin")
    bad = browser.post(
        "/userman/settings",
        data={"csrf": csrf, "smtp-server": "changed.example", "smtp-port": "99999"},
    )
    assert bad.status_code == 400
    assert "smtp-port" in bad.text
    assert settings_of(userman, "admin") == before


def test_saving_needs_the_form_token(browser: TestClient, userman: Userman) -> None:
    log_in(browser)
    forged = browser.post("/userman/settings", data={"smtp-server": "evil.example"})
    assert forged.status_code == 403
    assert settings_of(userman, "admin")["smtp-server"] != "evil.example"


def test_who_sees_and_who_changes(userman: Userman) -> None:
    for login, status in (("st-full", 200), ("st-rw", 403), ("st-ro", 403)):
        with TestClient(create_app(userman), follow_redirects=False) as browser:
            log_in(browser, login, "pw")
            page = browser.get("/userman/settings")
            assert page.status_code == status, login
            nav = browser.get("/userman/status").text
            assert ('href="/userman/settings"' in nav) == (status == 200), login
    with TestClient(create_app(userman)) as api:
        api.auth = ("st-rw", "pw")
        refused = api.patch("/api/v1/settings", json={"smtp-server": "x.example"})
        assert refused.status_code == 403
        assert "full permissions" in refused.json()["error"]


def test_each_subscriber_has_its_own(userman: Userman) -> None:
    userman.change_settings(userman.actor("other"), {"voucher-header": "<h1>Other's</h1>"})
    assert settings_of(userman, "other")["voucher-header"] == "<h1>Other's</h1>"
    assert settings_of(userman, "admin")["voucher-header"] != "<h1>Other's</h1>"
    # A sub-customer with full permissions works on its subscriber's settings.
    userman.change_settings(userman.actor("st-full"), {"smtp-from": "full@example.com"})
    assert settings_of(userman, "admin")["smtp-from"] == "full@example.com"


def test_the_api_prints_and_sets_them(userman: Userman) -> None:
    with TestClient(create_app(userman)) as api:
        api.auth = ("other", "pw")
        changed = api.patch(
            "/api/v1/settings", json={"smtp-server": "smtp.other.example", "smtp-port": 465}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["smtp-port"] == "465"
        assert "smtp-password" not in changed.json()
        assert api.get("/api/v1/settings").json()["smtp-server"] == "smtp.other.example"
        shown = api.get("/api/v1/settings?show-sensitive=true").json()
        assert shown["smtp-password"] == ""
        unknown = api.patch("/api/v1/settings", json={"smtp-servr": "x"})
        assert unknown.status_code == 400
        assert unknown.json()["property"] == "smtp-servr"
        assert "/api/v1/settings" in api.get("/api/openapi.json").json()["paths"]


def test_a_change_is_one_history_entry_that_undo_reverts(userman: Userman) -> None:
    other = userman.actor("other")
    userman.change_settings(other, {"signup-subject": "One"})
    userman.change_settings(other, {"signup-subject": "Two", "smtp-user": "u2"})
    history = userman.execute(other, ["history"], "print")
    assert history.items[-1].json["action"] == "UMS settings changed"
    assert history.items[-1].json["sub-changes"] == 2
    userman.execute(other, ["history"], "undo")
    values = settings_of(userman, "other")
    assert (values["signup-subject"], values["smtp-user"]) == ("One", "")


def test_backups_keep_them(userman: Userman, tmp_path: Path) -> None:
    assert "subscriber_setting" in {table.name for table in TABLES}
    other = userman.actor("other")
    userman.change_settings(other, {"voucher-footer": "<p>saved</p>"})
    backups = Userman(userman.database.url, backup_dir=tmp_path)
    backups.execute(other, ["database"], "save", (), {"name": "settings"})
    userman.change_settings(other, {"voucher-footer": "<p>changed</p>"})
    backups.execute(other, ["database"], "load", (), {"name": "settings"})
    backups.close()
    assert settings_of(userman, "other")["voucher-footer"] == "<p>saved</p>"


def test_the_test_mail_goes_through_the_saved_settings(
    browser: TestClient, userman: Userman
) -> None:
    csrf = log_in(browser)
    with smtp_server() as mailbox:
        userman.change_settings(
            userman.actor("admin"),
            {
                "smtp-server": "127.0.0.1",
                "smtp-port": str(mailbox.port),
                "smtp-security": "none",
                "smtp-user": "",
                "smtp-from": "um@example.com",
            },
        )
        sent = browser.post(
            "/userman/settings/test-mail",
            data={"csrf": csrf, "to": "me@example.net"},
            headers={"HX-Request": "true"},
        )
        assert sent.status_code == 200
        assert "A test mail went to me@example.net." in sent.text
        [got] = mailbox.wait()
    assert got.recipients == ["me@example.net"]
    assert got.message["From"] == "um@example.com"
    # With the server gone, the page says why.
    failed = browser.post("/userman/settings/test-mail", data={"csrf": csrf, "to": "me@x.net"})
    assert failed.status_code == 200
    assert "could not be sent" in failed.text
    assert csrf_of(failed.text) == csrf


def test_the_payment_gateway_needs_its_access_flag(userman: Userman) -> None:
    with TestClient(create_app(userman)) as api:
        api.auth = ("st-full", "pw")
        refused = api.patch("/api/v1/settings", json={"paypal-client-id": "abc"})
        assert refused.status_code == 403
        assert "config-payment-gw" in refused.json()["error"]
        assert api.patch("/api/v1/settings", json={"smtp-user": "full"}).status_code == 200
        userman.execute(ROOT, ["customer"], "set", ["st-full"], {"access": "config-payment-gw"})
        try:
            allowed = api.patch("/api/v1/settings", json={"paypal-client-id": "abc"})
            assert allowed.status_code == 200, allowed.text
        finally:
            userman.execute(ROOT, ["customer"], "set", ["st-full"], {"access": ""})
    with TestClient(create_app(userman), follow_redirects=False) as browser:
        csrf = log_in(browser, "st-full", "pw")
        page = browser.get("/userman/settings").text
        assert "Only an owner, or a customer with config-payment-gw access" in page
        assert 'name="paypal-client-id" value="abc" readonly' in page
        saved = browser.post(
            "/userman/settings",
            data={"csrf": csrf, "paypal-client-id": "abc", "smtp-user": "again"},
        )
        assert saved.status_code == 303  # the unchanged payment field is not a change
    assert settings_of(userman, "admin")["smtp-user"] == "again"
