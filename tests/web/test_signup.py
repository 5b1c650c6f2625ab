"""Sign-up (/user/signup, /user/activate) in process, with a real SMTP server on 127.0.0.1
(aiosmtpd) receiving the activation mail, and the link taken from the mail that arrived."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from inmemory import access_request, exchange
from smtpbox import Mailbox, smtp_server
from support import allow_private_destinations
from userman.services import Actor, Userman
from userman.web.app import create_app
from userman.web.auth import Guard

ROOT = Actor.superuser()
ACCEPT, REJECT = 2, 3


@pytest.fixture(scope="module")
def mailbox(userman: Userman) -> Iterator[Mailbox]:
    """admin allows sign-up and sends through the test SMTP server."""
    with smtp_server() as box:
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
            {
                "smtp-server": "127.0.0.1",
                "smtp-port": str(box.port),
                "signup-subject": "Activate %u_username%",
            },
        )
        userman.execute(
            ROOT,
            ["router"],
            "add",
            (),
            {"name": "r", "ip-address": "127.0.0.1", "shared-secret": "12345"},
        )
        userman.execute(ROOT, ["profile"], "add", (), {"name": "day", "validity": "1d"})
        yield box


@pytest.fixture
def browser(userman: Userman, mailbox: Mailbox) -> Iterator[TestClient]:
    with TestClient(create_app(userman), follow_redirects=False) as http:
        yield http


def token_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def sign_up(browser: TestClient, subs: str = "", **fields: str) -> object:
    form = browser.get(f"/user/signup?subs={subs}" if subs else "/user/signup")
    data = {
        "csrf": token_of(form.text),
        "subs": subs,
        "password": "secret-1",
        "password2": "secret-1",
        **fields,
    }
    return browser.post("/user/signup", data=data)


def radius(userman: Userman, username: str, password: str) -> int:
    _, sent = exchange(userman, access_request(username, password)[1])
    return sent[0][0][0]


def user(userman: Userman, username: str) -> dict[str, object]:
    [item] = userman.execute(ROOT, ["user"], "print", ("where",), {"username": username}).items
    return item.json


def test_sign_up_mails_a_link_that_activates_the_user(
    browser: TestClient, userman: Userman, mailbox: Mailbox
) -> None:
    form = browser.get("/user/signup")
    assert form.status_code == 200
    assert "Isp Ltd" in form.text
    sent = sign_up(browser, username="newbie", email="newbie@example.net", **{"first-name": "Nia"})
    assert sent.status_code == 200, sent.text
    assert "newbie@example.net" in sent.text
    [mail] = mailbox.wait()
    assert mail.recipients == ["newbie@example.net"]
    assert mail.message["Subject"] == "Activate newbie"
    assert mail.message["From"] == "desk@isp.example"  # no smtp-from: the customer's e-mail
    waiting = user(userman, "newbie")
    assert waiting["disabled"] is True
    assert waiting["registration-date"] == ""
    assert waiting["first-name"] == "Nia"
    assert len(str(waiting["reg-key"])) >= 32
    assert radius(userman, "newbie", "secret-1") == REJECT  # not before the activation

    body = mail.message.get_content()
    [link] = re.findall(r"http://\S+", body)
    assert link.startswith("http://testserver/user/activate?key=")
    activated = browser.get(link.removeprefix("http://testserver"))
    assert activated.status_code == 200
    assert "Your account is active" in activated.text
    assert 'href="/user?subs=' in activated.text
    active = user(userman, "newbie")
    assert active["disabled"] is False
    assert active["registration-date"] != ""
    # It can log in: with a profile, the router's Access-Request is accepted.
    userman.execute(ROOT, ["user"], "create-and-activate-profile", ("newbie",), {"profile": "day"})
    assert radius(userman, "newbie", "secret-1") == ACCEPT
    actions = [i.json["action"] for i in userman.execute(ROOT, ["history"], "print").items]
    assert "UMS user newbie added" in actions
    assert "UMS user newbie activated" in actions


def test_a_link_works_once_and_a_wrong_one_not_at_all(
    browser: TestClient, userman: Userman, mailbox: Mailbox
) -> None:
    sign_up(browser, username="twice", email="twice@example.net")
    link = re.findall(r"/user/activate\?key=\S+", mailbox.wait(2)[-1].message.get_content())[0]
    assert browser.get(link).status_code == 200
    userman.execute(ROOT, ["user"], "disable", ("twice",))
    again = browser.get(link)  # an operator disabled it since: the old link does not undo that
    assert again.status_code == 200
    assert user(userman, "twice")["disabled"] is True
    for wrong in ("/user/activate?key=nope", "/user/activate", link[:-3] + "xyz"):
        refused = browser.get(wrong)
        assert refused.status_code == 404
        assert "not valid" in refused.text


def test_the_link_uses_the_public_host(
    browser: TestClient, userman: Userman, mailbox: Mailbox
) -> None:
    userman.execute(ROOT, ["customer"], "set", ["admin"], {"public-host": "hotspot.isp.example"})
    try:
        sign_up(browser, username="hosted", email="h@example.net")
        body = mailbox.wait(3)[-1].message.get_content()
    finally:
        userman.execute(ROOT, ["customer"], "set", ["admin"], {"public-host": ""})
    assert "http://hotspot.isp.example/user/activate?key=" in body


def test_bad_forms_add_no_one_and_send_nothing(
    browser: TestClient, userman: Userman, mailbox: Mailbox
) -> None:
    before = len(mailbox.messages)
    userman.execute(ROOT, ["user"], "add", (), {"username": "taken", "customer": "admin"})
    cases = [
        ({"username": "taken", "email": "t@example.net"}, "taken"),
        ({"username": "has space", "email": "t@example.net"}, "username"),
        ({"username": "okname", "email": "not-an-address"}, "e-mail address"),
        ({"username": "okname", "email": "a@b.example\r\nBcc: x@y.example"}, "e-mail"),
        ({"username": "okname", "email": "t@example.net", "password2": "other"}, "differ"),
        ({"username": "okname", "email": "t@example.net", "password": "short",
          "password2": "short"}, "at least 6"),
    ]  # fmt: skip
    for fields, why in cases:
        refused = sign_up(browser, **fields)
        assert refused.status_code == 400, fields
        assert why in refused.text, fields
        assert "secret-1" not in refused.text  # passwords are never echoed
    assert len(mailbox.messages) == before
    names = {i.json["username"] for i in userman.execute(ROOT, ["user"], "print").items}
    assert "okname" not in names


def test_the_form_needs_its_token(browser: TestClient, userman: Userman) -> None:
    browser.get("/user/signup")
    forged = browser.post(
        "/user/signup",
        data={"username": "forged", "password": "secret-1", "password2": "secret-1",
              "email": "f@example.net"},
    )  # fmt: skip
    assert forged.status_code == 403


def test_sign_ups_from_one_address_are_limited(userman: Userman, mailbox: Mailbox) -> None:
    app = create_app(userman)
    app.state.signup_guard = Guard(limit=2, window=600)
    with TestClient(app, follow_redirects=False) as browser:
        for n in range(2):
            sign_up(browser, username=f"burst{n}", email=f"b{n}@example.net")
        third = sign_up(browser, username="burst2", email="b2@example.net")
    assert third.status_code == 429
    assert "Retry-After" in third.headers


def test_when_the_mail_cannot_go_no_user_is_added(
    browser: TestClient, userman: Userman, mailbox: Mailbox
) -> None:
    userman.change_settings(ROOT, {"smtp-port": "1"})
    try:
        failed = sign_up(browser, username="unmailed", email="u@example.net")
    finally:
        userman.change_settings(ROOT, {"smtp-port": str(mailbox.port)})
    assert failed.status_code == 503
    assert "could not be sent" in failed.text
    names = {i.json["username"] for i in userman.execute(ROOT, ["user"], "print").items}
    assert "unmailed" not in names


def test_only_where_the_customer_allows_it(userman: Userman, mailbox: Mailbox) -> None:
    # A second subscriber: the form now needs ?subs=, and its customers decide for themselves.
    userman.execute(ROOT, ["customer"], "add", (), {"login": "shop", "email": "s@shop.example"})
    userman.execute(
        ROOT, ["customer"], "add", (), {"login": "branch", "parent": "shop", "public-id": "br1"}
    )
    userman.change_settings(
        ROOT,
        {"smtp-server": "127.0.0.1", "smtp-port": str(mailbox.port)},
        subscriber="shop",
    )
    with TestClient(create_app(userman), follow_redirects=False) as browser:
        assert browser.get("/user/signup").status_code == 404  # which subscriber?
        assert browser.get("/user/signup?subs=br1").status_code == 404  # not allowed there
        userman.execute(ROOT, ["customer"], "set", ["branch"], {"signup-allowed": "yes"})
        form = browser.get("/user/signup?subs=br1")
        assert form.status_code == 200
        assert "branch" not in form.text  # a customer's login is kept secret (the manual)
        done = sign_up(browser, subs="br1", username="newbie", email="n2@example.net")
        assert done.status_code == 200, done.text  # the same name as admin's user: another domain
        made = userman.execute(
            userman.actor("shop"), ["user"], "print", ("where",), {"username": "newbie"}
        ).items
        assert [i.json["customer"] for i in made] == ["branch"]
        userman.execute(ROOT, ["customer"], "disable", ("shop",))
        assert browser.get("/user/signup?subs=br1").status_code == 404  # above it, disabled


def test_the_user_log_in_page_leads_to_sign_up_where_it_is_open(
    browser: TestClient, userman: Userman
) -> None:
    public_id = userman.execute(ROOT, ["customer"], "get", ["admin"]).items[0].json["public-id"]
    page = f"/user?subs={public_id}"
    assert f'href="/user/signup?subs={public_id}">Sign up</a>' in browser.get(page).text
    userman.execute(ROOT, ["customer"], "set", ["admin"], {"signup-allowed": "no"})
    try:
        assert "Sign up" not in browser.get(page).text
    finally:
        userman.execute(ROOT, ["customer"], "set", ["admin"], {"signup-allowed": "yes"})
