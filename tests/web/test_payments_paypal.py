"""Buying a profile with PayPal (web/paypal.py, services/payments.py), in process against the
PayPal stand-in on 127.0.0.1 (tests/paypal_standin.py): the Orders v2 flow with its return and
webhook, the classic IPN with its post-back, paypal-accept-pending, declines, cancels, forged
and mismatched notifications, and the profile assigned exactly once however often, and however
concurrently, the payment is reported."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient

from paypal_standin import BUSINESS, CLIENT_ID, SECRET, WEBHOOK_ID, PayPal, running_paypal
from support import allow_private_destinations
from userman.services import Actor, Userman
from userman.services.payments import Report, Status
from userman.store import models
from userman.web.app import create_app


def do(app: Userman, command: str, *positional: str, **args: str) -> None:
    *path, verb = command.split()
    app.execute(Actor.superuser(), tuple(path), verb, positional, args)


@pytest.fixture(scope="module")
def paypal() -> Iterator[PayPal]:
    with running_paypal() as standin:
        yield standin


@pytest.fixture(scope="module")
def world(module_db_url: str, paypal: PayPal) -> Iterator[Userman]:
    app = Userman(module_db_url)
    app.prepare()
    allow_private_destinations(app)
    app.change_settings(Actor.superuser(), {
        "paypal-client-id": CLIENT_ID, "paypal-secret": SECRET, "paypal-webhook-id": WEBHOOK_ID,
        "paypal-api-url": paypal.api_base, "paypal-ipn-url": paypal.ipn_url,
    }, subscriber="admin")  # fmt: skip
    do(app, "customer set", "admin", currency="EUR", **{
        "public-id": "isp-a", "public-host": "hotspot.example.net:8443",
        "paypal-allowed": "yes", "paypal-business-id": BUSINESS,
        "paypal-secure-response": "yes",
    })  # fmt: skip
    do(app, "profile add", name="month", price="10", validity="30d",
       **{"name-for-users": "One month", "starts-at": "now"})  # fmt: skip
    do(app, "profile add", name="week", price="3.50", validity="7d")
    yield app
    app.close()


@pytest.fixture(scope="module")
def web(world: Userman) -> object:
    return create_app(world)


@pytest.fixture
def browser(web: object, paypal: PayPal) -> Iterator[TestClient]:
    """A browser of its own (cookies) on the module's app."""
    paypal.capture_status = "COMPLETED"
    paypal.webhook_url = ""
    with TestClient(web, follow_redirects=False) as http:  # type: ignore[arg-type]
        yield http


_users = iter(range(1, 10_000))


@pytest.fixture
def buyer(world: Userman, browser: TestClient) -> tuple[str, str]:
    """A new user, logged in on `browser`: its username and the session's CSRF token."""
    name = f"buyer{next(_users)}"
    do(world, "user add", username=name, password="pw")
    form = browser.get("/user?subs=isp-a")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    answer = browser.post(
        "/user/login", data={"username": name, "password": "pw", "subs": "isp-a", "csrf": token}
    )
    assert answer.status_code == 303
    page = browser.get("/user").text
    return name, re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def profile_id(world: Userman, name: str) -> int:
    with world.database.begin() as db:
        return db.query(models.Profile).filter_by(name=name).one().id


def payment(world: Userman, username: str) -> models.Payment:
    with world.database.begin() as db:
        return db.query(models.Payment).filter_by(username=username).one()


def queue(world: Userman, username: str) -> list[tuple[str, str]]:
    with world.database.begin() as db:
        user = db.query(models.User).filter_by(username=username).one()
        rows = (
            db.query(models.UserProfile, models.Profile)
            .join(models.Profile, models.Profile.id == models.UserProfile.profile_id)
            .filter(models.UserProfile.user_id == user.id)
            .all()
        )
        return [(profile.name, entry.state.value) for entry, profile in rows]


def buy(browser: TestClient, world: Userman, token: str, method: str = "paypal") -> str:
    answer = browser.post(
        "/user/buy", data={"csrf": token, "profile": profile_id(world, "month"), "method": method}
    )
    assert answer.status_code in (200, 303), answer.text
    return answer.headers.get("location", answer.text)


def order_of(approve_url: str) -> str:
    return parse_qs(urlsplit(approve_url).query)["token"][0]


def back_from_paypal(browser: TestClient, world: Userman, username: str, order: str) -> str:
    """The browser comes back from PayPal to the return URL we gave it."""
    row = payment(world, username)
    answer = browser.get(f"/user/paypal/return?payment={row.id}&token={order}&PayerID=P7")
    assert answer.status_code == 303
    return answer.headers["location"]


def webhook(browser: TestClient, paypal: PayPal, event: dict[str, object]) -> tuple[int, object]:
    headers, body = paypal.webhook(event)
    answer = browser.post("/user/paypal/webhook", content=body, headers=headers)
    return answer.status_code, answer.json()


def test_the_orders_flow_assigns_the_profile_once(
    browser: TestClient, world: Userman, paypal: PayPal, buyer: tuple[str, str]
) -> None:
    name, token = buyer
    approve = buy(browser, world, token)
    assert approve.startswith(f"{paypal.url}/checkoutnow?token=")
    order = order_of(approve)
    started = payment(world, name)
    assert (started.trans_status, started.price, started.currency) == (
        "started",
        Decimal(10),
        "EUR",
    )
    assert started.profile_name == "month"
    assert started.method == "paypal"
    # The return and cancel URLs go to the public host, over HTTPS (paypal-secure-response).
    sent = paypal.orders[order]
    assert (
        sent["return_url"]
        == f"https://hotspot.example.net:8443/user/paypal/return?payment={started.id}"
    )
    assert sent["cancel_url"].startswith("https://hotspot.example.net:8443/user/paypal/cancel?")
    assert sent["purchase_units"][0]["amount"] == {"currency_code": "EUR", "value": "10.00"}
    assert sent["purchase_units"][0]["description"] == f"One month for {name}"
    assert queue(world, name) == []
    paypal.approve(order)
    landing = back_from_paypal(browser, world, name, order)
    assert landing.startswith("/user/payments?notice=Thank+you")
    done = payment(world, name)
    assert done.trans_status == "approved"
    assert done.trans_end is not None
    assert queue(world, name) == [("month", "running")]
    # The same return again, and PayPal's webhook for the capture: nothing more.
    back_from_paypal(browser, world, name, order)
    status, body = webhook(browser, paypal, paypal.capture_event(order))
    assert (status, body) == (200, {"status": "approved"})
    assert queue(world, name) == [("month", "running")]
    page = browser.get("/user").text
    assert "One month" in page
    assert "approved" in browser.get("/user/payments").text


def test_the_webhook_alone_captures_an_approved_order(
    browser: TestClient, world: Userman, paypal: PayPal, buyer: tuple[str, str]
) -> None:
    name, token = buyer
    order = order_of(buy(browser, world, token))
    paypal.approve(order)
    status, body = webhook(browser, paypal, paypal.order_event(order))
    assert (status, body) == (200, {"status": "approved"})
    assert queue(world, name) == [("month", "running")]
    back_from_paypal(browser, world, name, order)  # the browser comes back after all
    assert queue(world, name) == [("month", "running")]


def test_a_webhook_paypal_does_not_vouch_for_changes_nothing(
    browser: TestClient, world: Userman, paypal: PayPal, buyer: tuple[str, str]
) -> None:
    name, token = buyer
    order = order_of(buy(browser, world, token))
    paypal.approve(order)
    event = paypal.order_event(order)
    headers, _ = paypal.webhook(event)
    event["event_type"] = "PAYMENT.CAPTURE.COMPLETED"  # not what was signed
    forged = browser.post("/user/paypal/webhook", content=json.dumps(event), headers=headers)
    assert forged.status_code == 400
    assert payment(world, name).trans_status == "started"
    unknown = browser.post("/user/paypal/webhook", json={"event_type": "X", "resource": {}})
    assert unknown.status_code == 200  # not ours: acknowledged, so PayPal stops resending
    assert queue(world, name) == []


def test_pending_waits_for_completion(
    browser: TestClient, world: Userman, paypal: PayPal, buyer: tuple[str, str]
) -> None:
    name, token = buyer
    paypal.capture_status = "PENDING"
    order = order_of(buy(browser, world, token))
    paypal.approve(order)
    assert "pending" in back_from_paypal(browser, world, name, order)
    assert payment(world, name).trans_status == "pending"
    assert "PENDING_REVIEW" in payment(world, name).result_msg
    assert queue(world, name) == []
    completed = paypal.capture_event(order)
    completed["resource"]["status"] = "COMPLETED"  # type: ignore[index]
    assert webhook(browser, paypal, completed) == (200, {"status": "approved"})
    assert queue(world, name) == [("month", "running")]


def test_accept_pending_assigns_at_once(
    browser: TestClient, world: Userman, paypal: PayPal, buyer: tuple[str, str]
) -> None:
    name, token = buyer
    do(world, "customer set", "admin", **{"paypal-accept-pending": "yes"})
    try:
        paypal.capture_status = "PENDING"
        order = order_of(buy(browser, world, token))
        paypal.approve(order)
        back_from_paypal(browser, world, name, order)
    finally:
        do(world, "customer set", "admin", **{"paypal-accept-pending": "no"})
    row = payment(world, name)
    assert row.trans_status == "approved"
    assert "paypal-accept-pending" in row.result_msg
    assert queue(world, name) == [("month", "running")]


def test_declined_and_cancelled(
    browser: TestClient, world: Userman, paypal: PayPal, buyer: tuple[str, str]
) -> None:
    name, token = buyer
    paypal.capture_status = "DECLINED"
    order = order_of(buy(browser, world, token))
    paypal.approve(order)
    back_from_paypal(browser, world, name, order)
    assert payment(world, name).trans_status == "declined"
    assert queue(world, name) == []
    with world.database.begin() as db:
        db.query(models.Payment).filter_by(username=name).delete()
    order = order_of(buy(browser, world, token))
    row = payment(world, name)
    cancelled = browser.get(f"/user/paypal/cancel?payment={row.id}&token={order}")
    assert cancelled.status_code == 303
    assert payment(world, name).trans_status == "aborted"
    assert queue(world, name) == []


def test_an_order_paypal_refuses_is_an_error(
    browser: TestClient, world: Userman, paypal: PayPal, buyer: tuple[str, str]
) -> None:
    name, token = buyer
    order = order_of(buy(browser, world, token))  # not approved by the payer
    landing = back_from_paypal(browser, world, name, order)
    assert "could+not" in landing
    assert queue(world, name) == []


def test_nobody_else_can_cancel_a_payment(
    browser: TestClient, world: Userman, buyer: tuple[str, str]
) -> None:
    name, token = buyer
    buy(browser, world, token)
    row = payment(world, name)
    do(world, "user add", username=f"{name}-other", password="pw")
    browser.cookies.clear()
    form = browser.get("/user?subs=isp-a").text
    login_token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    browser.post("/user/login", data={"username": f"{name}-other", "password": "pw",
                                      "subs": "isp-a", "csrf": login_token})  # fmt: skip
    answer = browser.get(f"/user/paypal/cancel?payment={row.id}")
    assert answer.status_code == 404
    assert payment(world, name).trans_status == "started"


def ipn_fields(world: Userman, name: str, **overrides: str) -> dict[str, str]:
    row = payment(world, name)
    return {
        "custom": world.payments.checkout(row.id).reference,
        "mc_gross": "10.00",
        "mc_currency": "EUR",
        "receiver_email": BUSINESS,
        "item_name": "month",
        **overrides,
    }


def test_the_classic_ipn_flow(
    browser: TestClient, world: Userman, paypal: PayPal, buyer: tuple[str, str]
) -> None:
    name, token = buyer
    page = buy(browser, world, token, method="paypal-ipn")
    assert f'action="{paypal.ipn_url}"' in page  # the stand-in's webscr (www. for the real one)
    fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', page))
    row = payment(world, name)
    assert fields["cmd"] == "_xclick"
    assert fields["business"] == BUSINESS
    assert fields["amount"] == "10.00"
    assert fields["currency_code"] == "EUR"
    assert fields["custom"] == world.payments.checkout(row.id).reference
    assert fields["custom"].startswith(f"userman-payment-{row.id}-")
    assert fields["notify_url"] == "https://hotspot.example.net:8443/user/paypal/ipn"
    assert row.method == "paypal-ipn"
    raw = paypal.ipn(**ipn_fields(world, name))
    before = len(paypal.requests)
    answer = browser.post(
        "/user/paypal/ipn",
        content=raw,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200
    assert answer.content == b""
    assert "POST /cgi-bin/webscr" in paypal.requests[before:]  # the post-back
    assert payment(world, name).trans_status == "approved"
    assert queue(world, name) == [("month", "running")]
    # PayPal resends the same message (it does, until it gets a 200 in time): nothing more.
    browser.post("/user/paypal/ipn", content=raw)
    assert queue(world, name) == [("month", "running")]


def test_a_forged_ipn_is_invalid(
    browser: TestClient, world: Userman, buyer: tuple[str, str]
) -> None:
    name, token = buyer
    buy(browser, world, token, method="paypal-ipn")
    forged = urlencode(
        {"payment_status": "Completed", "txn_id": "FORGED", **ipn_fields(world, name)}
    )
    assert browser.post("/user/paypal/ipn", content=forged).status_code == 200
    assert payment(world, name).trans_status == "started"
    assert queue(world, name) == []


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"mc_gross": "0.01"}, "error"),  # the wrong amount
        ({"mc_currency": "USD"}, "error"),
        ({"receiver_email": "thief@example.com"}, "error"),  # paid to someone else
        ({"payment_status": "Pending", "pending_reason": "multi_currency"}, "pending"),
        ({"payment_status": "Denied"}, "declined"),
    ],
)
def test_ipn_outcomes(  # noqa: PLR0917 - fixtures and parameters
    browser: TestClient,
    world: Userman,
    paypal: PayPal,
    buyer: tuple[str, str],
    overrides: dict[str, str],
    status: str,
) -> None:
    name, token = buyer
    buy(browser, world, token, method="paypal-ipn")
    raw = paypal.ipn(**ipn_fields(world, name, **overrides))
    browser.post("/user/paypal/ipn", content=raw)
    assert payment(world, name).trans_status == status
    assert queue(world, name) == []


def test_concurrent_reports_assign_once(world: Userman, buyer: tuple[str, str]) -> None:
    """The return, the webhook and repeated IPNs at the same moment, on several threads (as on
    several nodes): exactly one of them assigns the profile."""
    name, _ = buyer
    with world.database.begin() as db:
        user = db.query(models.User).filter_by(username=name).one()
        row = models.Payment(
            subscriber_id=user.subscriber_id, customer_id=user.customer_id, user_id=user.id,
            username=name, profile_id=profile_id(world, "month"), profile_name="month",
            price=Decimal(10), currency="EUR", method="paypal", trans_start=dt.datetime.now(dt.UTC),
        )  # fmt: skip
        db.add(row)
        db.flush()
        payment_id = row.id
    report = Report(Status.APPROVED, "completed", Decimal(10), "EUR")
    barrier = threading.Barrier(8)
    results: list[bool] = []
    errors: list[BaseException] = []

    def settle() -> None:
        try:
            barrier.wait()
            settled = world.payments.settle(payment_id, report, dt.datetime.now(dt.UTC))
            results.append(settled.activated)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=settle) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(results) == [False] * 7 + [True]
    assert queue(world, name) == [("month", "running")]


def test_the_return_and_the_webhook_at_once(
    web: object, browser: TestClient, world: Userman, paypal: PayPal, buyer: tuple[str, str]
) -> None:
    """The payer's browser comes back while PayPal's webhook arrives: both capture (PayPal
    answers the same capture to the same PayPal-Request-Id), both report; one assigns."""
    name, token = buyer
    order = order_of(buy(browser, world, token))
    paypal.approve(order)
    row = payment(world, name)
    barrier = threading.Barrier(4)
    answers: list[int] = []

    def come_back() -> None:
        barrier.wait()
        answer = browser.get(f"/user/paypal/return?payment={row.id}&token={order}")
        answers.append(answer.status_code)

    def notify() -> None:
        with TestClient(web) as paypal_side:  # type: ignore[arg-type]
            headers, body = paypal.webhook(paypal.order_event(order))
            barrier.wait()
            answers.append(
                paypal_side.post("/user/paypal/webhook", content=body, headers=headers).status_code
            )

    threads = [threading.Thread(target=come_back)] + [
        threading.Thread(target=notify) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == [200, 200, 200, 303]
    assert payment(world, name).trans_status == "approved"
    assert queue(world, name) == [("month", "running")]


def test_the_buttons_follow_what_is_set_up(
    browser: TestClient, world: Userman, buyer: tuple[str, str]
) -> None:
    page = browser.get("/user/profiles").text
    assert 'value="paypal"' in page
    assert 'value="paypal-ipn"' in page
    world.change_settings(Actor.superuser(), {"paypal-client-id": ""}, subscriber="admin")
    try:
        page = browser.get("/user/profiles").text  # no REST app: the classic button only
    finally:
        world.change_settings(
            Actor.superuser(), {"paypal-client-id": CLIENT_ID}, subscriber="admin"
        )
    assert 'value="paypal"' not in page
    assert 'value="paypal-ipn"' in page
