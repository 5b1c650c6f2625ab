"""Batch add, CSV and printable vouchers (/userman/users/batch, /vouchers, /vouchers.csv)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from userman.services import Actor, Userman
from userman.web.app import create_app
from web.test_customer_pages import log_in

ROOT = Actor.superuser()


@pytest.fixture(scope="module", autouse=True)
def world(userman: Userman) -> None:
    userman.execute(ROOT, ["profile"], "add", (), {"name": "week", "validity": "1w", "price": "5"})
    userman.execute(ROOT, ["limitation"], "add", (), {"name": "q", "uptime-limit": "10h"})
    userman.execute(
        ROOT, ["profile", "profile-limitation"], "add", (), {"profile": "week", "limitation": "q"}
    )
    userman.execute(
        ROOT,
        ["customer"],
        "add",
        (),
        {"login": "looker", "password": "pw", "parent": "admin", "permissions": "read-only"},
    )
    userman.execute(ROOT, ["customer"], "add", (), {"login": "elsewhere", "password": "pw"})
    userman.execute(
        ROOT, ["user"], "add", (), {"username": "theirs", "customer": "elsewhere", "password": "x"}
    )


@pytest.fixture
def browser(userman: Userman) -> Iterator[TestClient]:
    with TestClient(create_app(userman), follow_redirects=False) as http:
        yield http


def made_users(page: str) -> list[tuple[str, str]]:
    return re.findall(r"<td><code>([^<]+)</code></td><td><code>([^<]+)</code></td>", page)


def test_a_batch_is_made_and_listed_with_its_passwords(
    browser: TestClient, userman: Userman
) -> None:
    csrf = log_in(browser)
    form = browser.get("/userman/users/batch")
    assert form.status_code == 200
    assert "<option>week</option>" in form.text
    made = browser.post(
        "/userman/users/batch",
        data={
            "csrf": csrf,
            "number-of-users": "4",
            "username-prefix": "card-",
            "username-length": "5",
            "password-length": "8",
            "characters": ["numbers"],
            "profile": "week",
            "comment": "batch one",
        },
    )
    assert made.status_code == 200, made.text
    users = made_users(made.text)
    assert len(users) == 4
    for username, password in users:
        assert re.fullmatch(r"card-\d{5}", username)
        assert re.fullmatch(r"\d{8}", password)
    assert "4 users made" in made.text
    assert made.text.count('name="users"') == 8  # in the vouchers form and in the CSV form
    stored = userman.execute(ROOT, ["user"], "print", ("where", "username~^card-")).items
    assert {i.json["username"] for i in stored} == {u for u, _ in users}
    queued = userman.execute(ROOT, ["user-profile"], "print").items
    assert {i.json["user"] for i in queued if i.json["profile"] == "week"} >= {u for u, _ in users}


def test_a_bad_batch_says_why(browser: TestClient) -> None:
    csrf = log_in(browser)
    bad = browser.post(
        "/userman/users/batch",
        data={"csrf": csrf, "number-of-users": "0", "characters": ["numbers"]},
    )
    assert bad.status_code == 400
    assert "number-of-users" in bad.text
    assert 'name="number-of-users" type="number" min="1" max="100000" value="0"' in bad.text


def batch(browser: TestClient, csrf: str, count: int = 3) -> list[tuple[str, str]]:
    made = browser.post(
        "/userman/users/batch",
        data={
            "csrf": csrf,
            "number-of-users": str(count),
            "username-prefix": "v-",
            "characters": ["lowercase", "numbers"],
            "profile": "week",
        },
    )
    return made_users(made.text)


def test_vouchers_fill_the_template_and_run_no_script_but_their_own(
    browser: TestClient, userman: Userman
) -> None:
    csrf = log_in(browser)
    users = batch(browser, csrf)
    page = browser.post(
        "/userman/users/vouchers", data={"csrf": csrf, "users": [u for u, _ in users]}
    )
    assert page.status_code == 200
    for username, password in users:
        assert f"<code>{username}</code>" in page.text
        assert f"<code>{password}</code>" in page.text
    assert page.text.count('<section class="voucher">') == 3
    assert "<dd>week</dd>" in page.text
    assert "<dd>1w</dd>" in page.text
    assert "<dd>5.00 USD</dd>" in page.text or "<dd>5 USD</dd>" in page.text
    # The customer's template may style inline; no script runs but the site's own.
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "style-src 'self' 'unsafe-inline';" in policy
    assert '<script src="/static/userman.js" defer></script>' in page.text
    assert "<script>" not in page.text


def test_the_subscribers_template_and_escaped_values(browser: TestClient, userman: Userman) -> None:
    csrf = log_in(browser)
    userman.execute(
        ROOT,
        ["user"],
        "add",
        (),
        {"username": "odd", "customer": "admin", "password": "p", "first-name": "<b>x</b>"},
    )
    admin = userman.actor("admin")
    userman.change_settings(
        admin,
        {
            "voucher-header": "<div id=mine>",
            "voucher-row": "<p>%u_username%/%u_firstName%/%u_limitUptime%/%u_unknown%</p>",
            "voucher-footer": "</div>",
        },
    )
    try:
        page = browser.post("/userman/users/vouchers", data={"csrf": csrf, "users": ["odd"]})
    finally:
        userman.change_settings(
            admin, {"voucher-header": "", "voucher-row": "", "voucher-footer": ""}
        )
    assert "<div id=mine>" in page.text
    assert "<p>odd/&lt;b&gt;x&lt;/b&gt;//%u_unknown%</p>" in page.text


def test_the_csv_of_a_selection(browser: TestClient) -> None:
    csrf = log_in(browser)
    users = batch(browser, csrf, 2)
    answer = browser.post(
        "/userman/users/vouchers.csv",
        data={"csrf": csrf, "users": [u for u, _ in users], "name": "batch-v-"},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="batch-v-.csv"' in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["username", "password", "profile", "customer"]
    assert [tuple(r[:2]) for r in rows[1:]] == users
    assert {r[2] for r in rows[1:]} == {"week"}
    assert {r[3] for r in rows[1:]} == {"admin"}


def test_what_a_read_only_customer_and_another_subscriber_get(
    browser: TestClient, userman: Userman
) -> None:
    csrf = log_in(browser)
    theirs = browser.post("/userman/users/vouchers", data={"csrf": csrf, "users": ["theirs"]})
    assert theirs.status_code == 404  # another subscriber's user does not exist here
    as_csv = browser.post("/userman/users/vouchers.csv", data={"csrf": csrf, "users": ["theirs"]})
    assert as_csv.status_code == 404
    with TestClient(create_app(userman), follow_redirects=False) as looker:
        csrf = log_in(looker, "looker", "pw")
        form = looker.get("/userman/users/batch")
        assert "do not let you add users" in form.text
        assert "Add the users" not in form.text
        refused = looker.post(
            "/userman/users/batch",
            data={"csrf": csrf, "number-of-users": "1", "characters": ["numbers"]},
        )
        assert refused.status_code == 400
        assert "not permitted" in refused.text
        secret = looker.post("/userman/users/vouchers", data={"csrf": csrf, "users": ["odd"]})
        assert secret.status_code == 403  # a voucher shows the password


def test_the_forms_need_the_token(browser: TestClient) -> None:
    log_in(browser)
    for path in ("/userman/users/batch", "/userman/users/vouchers", "/userman/users/vouchers.csv"):
        assert (
            browser.post(path, data={"users": ["odd"], "number-of-users": "1"}).status_code == 403
        )


def test_a_page_holds_a_limited_number_the_csv_any(
    browser: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from userman.services import vouchers

    csrf = log_in(browser)
    users = [u for u, _ in batch(browser, csrf, 3)]
    monkeypatch.setattr(vouchers, "LIMIT", 2)
    page = browser.post("/userman/users/vouchers", data={"csrf": csrf, "users": users})
    assert page.status_code == 400
    assert "at most 2 vouchers on a page" in page.text
    as_csv = browser.post("/userman/users/vouchers.csv", data={"csrf": csrf, "users": users})
    assert len(as_csv.text.splitlines()) == 4
