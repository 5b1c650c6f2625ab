"""The user page (/user, web/user_page.py and services/selfservice.py), in process: log-in with
the RADIUS username and password within a subscriber, the status with what is used and left,
sessions, profiles for sale, payments, settings; CSRF, the log-in brake, a new password ending
the other sessions, and a user never seeing another user's (or subscriber's) data."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from userman.services import Actor, Userman
from userman.store import models
from userman.web.app import create_app

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def do(app: Userman, command: str, *positional: str, **args: str) -> None:
    *path, verb = command.split()
    app.execute(Actor.superuser(), tuple(path), verb, positional, args)


def add_session(app: Userman, username: str, subscriber: str, **values: object) -> None:
    """A finished (or, with active=True, an open) session of the user, as accounting leaves it."""
    with app.database.begin() as db:
        customer = db.query(models.Customer).filter_by(login=subscriber).one()
        user = db.query(models.User).filter_by(username=username, subscriber_id=customer.id).one()
        row = models.UserSession(
            subscriber_id=customer.id,
            customer_id=customer.id,
            user_id=user.id,
            username=username,
            acct_session_id=f"s{values.get('uptime', 0)}{username}",
            from_time=NOW - dt.timedelta(hours=2),
            till_time=NOW - dt.timedelta(hours=1),
            active=False,
            status="start,stop",
        )
        for name, value in values.items():
            setattr(row, name, value)
        db.add(row)
        user.uptime_used += int(str(values.get("uptime", 0)))


def build_world(app: Userman) -> None:
    """Subscriber admin (public-id isp-a, EUR) with users alice and bob, a 10-hour profile
    alice runs, two profiles for sale and a free one; subscriber other (isp-b) with its own
    alice and a profile for sale."""
    do(app, "customer set", "admin", **{"public-id": "isp-a", "currency": "EUR"})
    do(app, "profile limitation add", name="ten-hours", **{"uptime-limit": "10h"})
    do(app, "profile add", name="hours", validity="30d", **{"starts-at": "now"})
    do(app, "profile profile-limitation add", profile="hours", limitation="ten-hours")
    do(app, "profile add", name="month", price="10", validity="30d",
       **{"name-for-users": "One month", "starts-at": "now"})  # fmt: skip
    do(app, "profile add", name="week", price="3.50", validity="7d")
    do(app, "profile add", name="free", validity="1d")
    do(app, "user add", username="alice", password="alice-pass", email="alice@example.org")
    do(app, "user add", username="bob", password="bob-pass")
    do(app, "user add", username="carol", password="carol-pass", disabled="yes")
    do(app, "user create-and-activate-profile", "alice", customer="admin", profile="hours")
    add_session(app, "alice", "admin", uptime=3600, download=5_000_000, upload=1_000_000,
                calling_station_id="AA:AA:AA:00:00:01")  # fmt: skip
    add_session(app, "alice", "admin", uptime=600, active=True, till_time=NOW,
                user_ip="10.5.0.7", calling_station_id="AA:AA:AA:00:00:02")  # fmt: skip
    with app.database.begin() as db:  # what accounting counted on her running profile
        entry = db.query(models.UserProfile).one()
        entry.uptime_used = 3600 + 600
    add_session(app, "bob", "admin", uptime=7200, calling_station_id="BB:BB:BB:00:00:01")
    do(app, "customer add", login="other", **{"public-id": "isp-b"})
    do(app, "profile add", name="other-plan", price="99", owner="other")
    do(app, "user add", username="alice", password="other-pass", customer="other")
    add_session(app, "alice", "other", uptime=1234, calling_station_id="CC:CC:CC:00:00:01")
    with app.database.begin() as db:
        other = db.query(models.Customer).filter_by(login="other").one()
        user = db.query(models.User).filter_by(subscriber_id=other.id).one()
        db.add(
            models.Payment(
                subscriber_id=other.id, customer_id=other.id, user_id=user.id, username="alice",
                profile_name="other-plan", price=Decimal(99), currency="USD", method="paypal",
                trans_start=NOW, trans_status="approved", result_msg="OTHER-SUBSCRIBER-PAYMENT",
            )
        )  # fmt: skip


@pytest.fixture(scope="module")
def world(module_db_url: str) -> Iterator[Userman]:
    app = Userman(module_db_url)
    app.prepare()
    build_world(app)
    yield app
    app.close()


@pytest.fixture
def browser(world: Userman) -> Iterator[TestClient]:
    with TestClient(create_app(world), follow_redirects=False) as http:
        yield http


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def log_in(http: TestClient, username: str, password: str, subs: str = "isp-a") -> str:
    form = http.get(f"/user?subs={subs}")
    answer = http.post(
        "/user/login",
        data={"username": username, "password": password, "subs": subs, "csrf": csrf_of(form.text)},
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(http.get("/user").text)


def test_the_log_in_form_and_a_refusal_that_tells_nothing(browser: TestClient) -> None:
    form = browser.get("/user?subs=isp-a")
    assert form.status_code == 200
    assert 'name="username"' in form.text
    assert 'value="isp-a"' in form.text
    token = csrf_of(form.text)
    texts = set()
    for username, password in (
        ("alice", "wrong"),
        ("nobody", "alice-pass"),
        ("carol", "carol-pass"),
    ):
        refused = browser.post(
            "/user/login",
            data={"username": username, "password": password, "subs": "isp-a", "csrf": token},
        )
        assert refused.status_code == 401
        assert "userman_user_session" not in refused.headers.get("set-cookie", "")
        texts.add(re.search(r'role="alert">([^<]*)<', refused.text).group(1))  # type: ignore[union-attr]
    assert texts == {"not permitted: needs a valid username and password"}


def test_several_subscribers_need_subs(browser: TestClient) -> None:
    token = csrf_of(browser.get("/user").text)
    answer = browser.post(
        "/user/login", data={"username": "alice", "password": "alice-pass", "csrf": token}
    )
    assert answer.status_code == 400
    assert "subs" in answer.text
    unknown = browser.post(
        "/user/login",
        data={"username": "alice", "password": "alice-pass", "subs": "nope", "csrf": token},
    )
    assert unknown.status_code == 400


def test_log_in_needs_the_forms_token(browser: TestClient) -> None:
    browser.get("/user")
    forged = browser.post(
        "/user/login", data={"username": "alice", "password": "alice-pass", "subs": "isp-a"}
    )
    assert forged.status_code == 403


def test_a_user_logs_in_and_sees_its_status(browser: TestClient) -> None:
    form = browser.get("/user?subs=isp-a")
    answer = browser.post(
        "/user/login",
        data={"username": "alice", "password": "alice-pass", "subs": "isp-a",
              "csrf": csrf_of(form.text)},
    )  # fmt: skip
    assert answer.status_code == 303
    assert answer.headers["location"] == "/user?subs=isp-a"
    cookie = answer.headers["set-cookie"]
    assert "userman_user_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    page = browser.get("/user").text
    assert "hours" in page  # the actual profile
    # 10 h of uptime, of which the two sessions used 1 h and 10 min.
    assert re.search(r'id="time-left">\s*8h50m\s*<', page), page
    assert "10.5.0.7" in page  # the active session
    assert "AA:AA:AA:00:00:02" in page
    assert "alice-pass" not in page


def test_the_session_history_is_the_users_own(browser: TestClient) -> None:
    log_in(browser, "alice", "alice-pass")
    page = browser.get("/user/sessions").text
    assert "AA:AA:AA:00:00:01" in page
    assert "AA:AA:AA:00:00:02" in page
    assert "BB:BB:BB" not in page  # bob's
    assert "CC:CC:CC" not in page  # the other subscriber's alice


def test_the_other_subscribers_alice_sees_only_her_own(browser: TestClient) -> None:
    log_in(browser, "alice", "other-pass", subs="isp-b")
    assert "CC:CC:CC:00:00:01" in browser.get("/user/sessions").text
    assert "AA:AA:AA" not in browser.get("/user/sessions").text
    payments = browser.get("/user/payments").text
    assert "OTHER-SUBSCRIBER-PAYMENT" in payments
    offers = browser.get("/user/profiles").text
    assert "other-plan" in offers
    assert "One month" not in offers
    # Her password does not open the first subscriber's alice, nor the reverse.
    browser.cookies.clear()
    token = csrf_of(browser.get("/user?subs=isp-a").text)
    refused = browser.post(
        "/user/login",
        data={"username": "alice", "password": "other-pass", "subs": "isp-a", "csrf": token},
    )
    assert refused.status_code == 401


def test_payments_of_others_never_show(browser: TestClient) -> None:
    log_in(browser, "alice", "alice-pass")
    assert "OTHER-SUBSCRIBER-PAYMENT" not in browser.get("/user/payments").text


def test_the_profiles_for_sale_have_a_price_and_the_currency(browser: TestClient) -> None:
    log_in(browser, "bob", "bob-pass")
    page = browser.get("/user/profiles").text
    assert "One month" in page
    assert "10.00" in page
    assert "EUR" in page
    assert "week" in page
    assert "3.50" in page
    assert "free" not in page  # no price: not for sale
    assert "other-plan" not in page
    assert page.index("week") < page.index("One month")  # cheapest first


def test_pages_need_a_logged_in_user(browser: TestClient) -> None:
    for path in ("/user/sessions", "/user/profiles", "/user/payments", "/user/settings"):
        answer = browser.get(f"{path}?subs=isp-a")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/user?subs=isp-a"
    assert browser.get("/user/payments", headers={"HX-Request": "true"}).headers["HX-Redirect"]


def test_a_change_needs_the_sessions_token(browser: TestClient) -> None:
    log_in(browser, "bob", "bob-pass")
    forged = browser.post("/user/settings/details", data={"first_name": "Mallory"})
    assert forged.status_code == 403


def test_personal_data(browser: TestClient, world: Userman) -> None:
    token = log_in(browser, "bob", "bob-pass")
    answer = browser.post(
        "/user/settings/details",
        data={"csrf": token, "first_name": "Bob", "last_name": "Builder",
              "email": "bob@example.org", "phone": "+1 555 0100", "location": "Shed 2"},
    )  # fmt: skip
    assert answer.status_code == 303
    page = browser.get("/user/settings").text
    assert 'value="Builder"' in page
    assert 'value="Shed 2"' in page
    [bob] = world.execute(
        Actor.superuser(), ("user",), "print", ("where",), {"username": "bob"}
    ).items
    assert bob.json["last-name"] == "Builder"
    assert bob.json["email"] == "bob@example.org"
    bad = browser.post("/user/settings/details", data={"csrf": token, "email": "not an address"})
    assert bad.status_code == 400
    assert "e-mail" in bad.text
    history = world.execute(Actor.superuser(), ("history",), "print").items
    assert any(item.json.get("by") == "user bob" for item in history)


def test_a_new_password_ends_the_other_sessions(world: Userman) -> None:
    do(world, "user add", username="dave", password="dave-old", customer="admin")
    with (
        TestClient(create_app(world), follow_redirects=False) as first,
        TestClient(create_app(world), follow_redirects=False) as second,
    ):
        token = log_in(first, "dave", "dave-old")
        log_in(second, "dave", "dave-old")
        wrong = first.post(
            "/user/settings/password",
            data={"csrf": token, "current": "nope", "new": "dave-new", "again": "dave-new"},
        )
        assert wrong.status_code == 401
        differ = first.post(
            "/user/settings/password",
            data={"csrf": token, "current": "dave-old", "new": "dave-new", "again": "other"},
        )
        assert differ.status_code == 400
        changed = first.post(
            "/user/settings/password",
            data={"csrf": token, "current": "dave-old", "new": "dave-new", "again": "dave-new"},
        )
        assert changed.status_code == 303
        assert first.get("/user/settings").status_code == 200  # this session goes on
        assert second.get("/user/settings").status_code == 303  # the other one ended
    [dave] = world.execute(
        Actor.superuser(), ("user",), "print", ("show-sensitive", "where"), {"username": "dave"}
    ).items
    assert dave.json["password"] == "dave-new"  # what RADIUS checks from now on


def test_log_out(browser: TestClient, world: Userman) -> None:
    token = log_in(browser, "bob", "bob-pass")
    with TestClient(create_app(world), follow_redirects=False) as thief:
        thief.cookies.set("userman_user_session", browser.cookies["userman_user_session"])
        assert thief.get("/user/settings").status_code == 200  # a copy of the cookie works ...
        answer = browser.post("/user/logout", data={"csrf": token})
        assert answer.status_code == 303
        assert browser.get("/user/settings").status_code == 303
        assert thief.get("/user/settings").status_code == 303  # ... until the log-out


def test_failed_log_ins_are_braked(world: Userman) -> None:
    do(world, "user add", username="erin", password="erin-pass", customer="admin")
    with TestClient(create_app(world), follow_redirects=False) as http:
        token = csrf_of(http.get("/user").text)
        statuses = [
            http.post(
                "/user/login",
                data={"username": "erin", "password": f"guess{n}", "subs": "isp-a", "csrf": token},
            ).status_code
            for n in range(11)
        ]
        assert statuses[:10] == [401] * 10
        assert statuses[10] == 429
        right = http.post(
            "/user/login",
            data={"username": "erin", "password": "erin-pass", "subs": "isp-a", "csrf": token},
        )
        assert right.status_code == 429  # even the right password, until the window passes


def test_a_profile_that_starts_at_logon_has_not_started(world: Userman) -> None:
    do(world, "user add", username="fred", password="fred-pw", customer="admin")
    do(world, "user create-and-activate-profile", "fred", customer="admin", profile="week")
    with TestClient(create_app(world), follow_redirects=False) as http:
        log_in(http, "fred", "fred-pw")
        page = http.get("/user").text
    assert "starts at the first log-on" in page
    assert "next profile" in page
    # The manual: "validity" counts from the first logon; until then all of it is left.
    assert re.search(r'id="time-left">\s*1w\s*<', page), page
    assert "waiting</span></td><td>starts at the first log-on</td><td></td>" in page


def test_the_log_in_form_names_the_company_never_the_login(world: Userman) -> None:
    with TestClient(create_app(world), follow_redirects=False) as http:
        assert 'class="provider"' not in http.get("/user?subs=isp-a").text
        do(world, "customer set", "admin", company="Corner Café Wi-Fi")
        try:
            page = http.get("/user?subs=isp-a").text
        finally:
            do(world, "customer set", "admin", company="")
    assert "Corner Café Wi-Fi" in page
    assert "admin" not in page


def test_without_paypal_the_profiles_have_no_buy_button(browser: TestClient) -> None:
    """The world's customer does not take PayPal: the offers show, the buttons do not."""
    token = log_in(browser, "bob", "bob-pass")
    page = browser.get("/user/profiles").text
    assert "One month" in page
    assert "/user/buy" not in page
    assert "not available" in page
    refused = browser.post("/user/buy", data={"csrf": token, "profile": "1"})
    assert refused.status_code in {403, 404}
