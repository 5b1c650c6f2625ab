"""The user page's flows in a real browser: a user logs in on /user and sees the time left; a
purchase with PayPal (the stand-in on loopback) through to the assigned profile, by the Orders
API and by the classic IPN; the customer's payments and reports pages. Screenshots of each go
to test-artifacts/screenshots/.

A real `userman serve` answers, with the subscriber's PayPal settings pointing at the stand-in;
the browser may talk to both, nothing else.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from browser.conftest import blocked_by_policy, screenshot
from paypal_standin import BUSINESS, CLIENT_ID, SECRET, WEBHOOK_ID, PayPal, running_paypal
from served import start_server, stop_server
from userman.services import Actor, Userman
from userman.store import models

pytestmark = pytest.mark.e2e


def do(app: Userman, command: str, *positional: str, **args: str) -> None:
    *path, verb = command.split()
    app.execute(Actor.superuser(), tuple(path), verb, positional, args)


@dataclass
class Site:
    url: str
    userman: Userman
    paypal: PayPal


def _world(app: Userman) -> None:
    do(app, "customer set", "admin", password="adminpw", currency="EUR", **{
        "public-id": "hotspot", "paypal-allowed": "yes",
        "paypal-business-id": BUSINESS, "company": "Corner Café Wi-Fi",
    })  # fmt: skip
    do(app, "profile limitation add", name="five-hours", **{"uptime-limit": "5h",
       "transfer-limit": "2G"})  # fmt: skip
    do(app, "profile add", name="day", validity="1d", **{"starts-at": "now",
       "name-for-users": "Day pass"})  # fmt: skip
    do(app, "profile profile-limitation add", profile="day", limitation="five-hours")
    do(
        app,
        "profile add",
        name="week",
        price="4.90",
        validity="7d",
        **{"name-for-users": "Week pass"},
    )
    do(app, "profile add", name="month", price="15", validity="30d",
       **{"name-for-users": "Month pass", "starts-at": "now"})  # fmt: skip
    do(
        app,
        "profile add",
        name="year",
        price="120",
        validity="365d",
        **{"name-for-users": "Year pass"},
    )
    do(app, "user add", username="maria", password="maria-pw", **{"first-name": "Maria"})
    do(app, "user create-and-activate-profile", "maria", customer="admin", profile="day")
    do(app, "user add", username="tom", password="tom-pw", **{"first-name": "Tom"})
    now = dt.datetime.now(dt.UTC)
    with app.database.begin() as db:
        maria = db.query(models.User).filter_by(username="maria").one()
        entry = db.query(models.UserProfile).filter_by(user_id=maria.id).one()
        entry.uptime_used, entry.download_used, entry.upload_used = 5400, 350_000_000, 40_000_000
        maria.uptime_used, maria.download_used, maria.upload_used = 5400, 350_000_000, 40_000_000
        # Yesterday's hour, and the half hour online now (its last interim update just in).
        for n, (start, hours, down) in enumerate(
            (
                (now - dt.timedelta(hours=26), 1.0, 300_000_000),
                (now - dt.timedelta(hours=0.5), 0.5, 50_000_000),
            )
        ):
            db.add(
                models.UserSession(
                    subscriber_id=maria.subscriber_id, customer_id=maria.customer_id,
                    user_id=maria.id, username="maria", acct_session_id=f"81d0{n}",
                    from_time=start, till_time=start + dt.timedelta(hours=hours),
                    user_ip=f"10.5.50.{20 + n}", uptime=int(hours * 3600), download=down,
                    upload=20_000_000, active=n == 1, status="start,interim",
                    calling_station_id=f"3C:22:FB:10:7A:{n:02X}",
                )
            )  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A real `userman serve` on a database prepared here, whose subscriber's PayPal settings
    point at the stand-in; the stand-in's webhooks go to it."""
    folder = tmp_path_factory.mktemp("user-flow")
    db_url = f"sqlite:///{folder / 'userman.db'}"
    app = Userman(db_url)
    app.prepare()
    _world(app)
    with running_paypal() as paypal:
        app.change_settings(Actor.superuser(), {
            "paypal-client-id": CLIENT_ID, "paypal-secret": SECRET,
            "paypal-webhook-id": WEBHOOK_ID, "paypal-api-url": paypal.api_base,
            "paypal-ipn-url": paypal.ipn_url,
        })  # fmt: skip
        server = start_server(db_url, folder / "serve.log")
        # PayPal sends the payer back, and calls, to the public host: this server.
        do(app, "customer set", "admin", **{"public-host": f"127.0.0.1:{server.http_port}"})
        paypal.webhook_url = f"{server.http_url}/user/paypal/webhook"
        try:
            yield Site(server.http_url, app, paypal)
        finally:
            stop_server(server)
            app.close()


@pytest.fixture
def tab(browser: object, site: Site) -> Iterator[object]:
    """A browser page of its own (cookies) that may ask the site and the PayPal stand-in."""
    context = browser.new_context(  # type: ignore[attr-defined]
        base_url=site.url, viewport={"width": 1280, "height": 860}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    outside: list[str] = []
    allowed = (site.url, site.paypal.url)
    page.on(
        "request",
        lambda request: None if request.url.startswith(allowed) else outside.append(request.url),
    )
    blocked = blocked_by_policy(page)
    yield page
    context.close()
    assert outside == [], f"pages asked other hosts: {outside}"
    assert blocked == [], f"the pages did what their policy blocks: {blocked}"


def user_log_in(page: object, username: str, password: str) -> None:
    page.goto("/user?subs=hotspot")  # type: ignore[attr-defined]
    page.fill("input[name=username]", username)  # type: ignore[attr-defined]
    page.fill("input[name=password]", password)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]


def queue(site: Site, username: str) -> list[tuple[str, str]]:
    with site.userman.database.begin() as db:
        user = db.query(models.User).filter_by(username=username).one()
        rows = (
            db.query(models.UserProfile, models.Profile)
            .join(models.Profile, models.Profile.id == models.UserProfile.profile_id)
            .filter(models.UserProfile.user_id == user.id)
            .order_by(models.UserProfile.id)
            .all()
        )
        return [(profile.name, entry.state.value) for entry, profile in rows]


def test_the_user_logs_in_and_sees_the_remaining_time(tab: object) -> None:
    page = tab
    page.goto("/user?subs=hotspot")  # type: ignore[attr-defined]
    screenshot(page, "user-login")
    user_log_in(page, "maria", "wrong")
    assert "valid username and password" in page.inner_text("[role=alert]")  # type: ignore[attr-defined]
    user_log_in(page, "maria", "maria-pw")
    page.wait_for_selector("#time-left")  # type: ignore[attr-defined]
    assert page.inner_text("h1") == "Hello, Maria"  # type: ignore[attr-defined]
    assert page.inner_text("#time-left") == "3h30m"  # type: ignore[attr-defined]  # 5h - 1h30m
    assert "Day pass" in page.inner_text("section.figures")  # type: ignore[attr-defined]
    assert "10.5.50.21" in page.inner_text("main")  # type: ignore[attr-defined]  # online now
    screenshot(page, "user-status")
    page.click("text=Sessions")  # type: ignore[attr-defined]
    page.wait_for_url("**/user/sessions")  # type: ignore[attr-defined]
    assert "3C:22:FB:10:7A:00" in page.inner_text("table")  # type: ignore[attr-defined]
    screenshot(page, "user-sessions")
    page.click("text=Settings")  # type: ignore[attr-defined]
    page.fill("input[name=phone]", "+43 1 555 0199")  # type: ignore[attr-defined]
    page.click("text=Save")  # type: ignore[attr-defined]
    assert "saved" in page.inner_text("[role=status]")  # type: ignore[attr-defined]
    screenshot(page, "user-settings")


def test_a_purchase_through_to_the_assigned_profile(tab: object, site: Site) -> None:
    page = tab
    user_log_in(page, "tom", "tom-pw")
    page.wait_for_selector("text=You have no profile yet")  # type: ignore[attr-defined]
    page.click("text=Buy a profile")  # type: ignore[attr-defined]
    page.wait_for_url("**/user/profiles")  # type: ignore[attr-defined]
    offers = page.inner_text("section.offers")  # type: ignore[attr-defined]
    assert "Month pass" in offers
    assert "15.00" in offers
    assert "EUR" in offers
    assert "Day pass" not in offers  # no price: not for sale
    screenshot(page, "user-profiles")
    month = page.locator("article.offer", has_text="Month pass")  # type: ignore[attr-defined]
    month.locator("button[value=paypal]").click()
    page.wait_for_url(f"{site.paypal.url}/checkoutnow?token=*")  # type: ignore[attr-defined]
    assert page.inner_text("#amount") == "15.00 EUR"  # type: ignore[attr-defined]
    screenshot(page, "paypal-standin-approve")
    page.click("#pay")  # type: ignore[attr-defined]
    page.wait_for_url("**/user/payments?notice=*")  # type: ignore[attr-defined]
    assert "the profile is yours" in page.inner_text("[role=status]")  # type: ignore[attr-defined]
    assert "approved" in page.inner_text("table")  # type: ignore[attr-defined]
    screenshot(page, "user-payments")
    page.click("text=Status")  # type: ignore[attr-defined]
    assert "Month pass" in page.inner_text("section.figures")  # type: ignore[attr-defined]
    # PayPal's webhook for the capture arrives too (the stand-in sends it): still one profile.
    deadline = time.monotonic() + 10
    while "POST /v1/notifications/verify-webhook-signature" not in site.paypal.requests:
        assert time.monotonic() < deadline, site.paypal.requests
        time.sleep(0.1)
    time.sleep(0.3)
    assert queue(site, "tom") == [("month", "running")]


def test_a_classic_ipn_purchase(tab: object, site: Site) -> None:
    page = tab
    do(site.userman, "user add", username="ivan", password="ivan-pw")
    user_log_in(page, "ivan", "ivan-pw")
    page.click("text=Buy a profile")  # type: ignore[attr-defined]
    week = page.locator("article.offer", has_text="Week pass")  # type: ignore[attr-defined]
    week.locator("button[value=paypal-ipn]").click()
    page.click("text=Continue to PayPal")  # type: ignore[attr-defined]
    page.wait_for_url(f"{site.paypal.url}/cgi-bin/webscr")  # type: ignore[attr-defined]
    assert page.inner_text("#amount") == "4.90 EUR"  # type: ignore[attr-defined]
    page.click("#pay")  # type: ignore[attr-defined]
    page.wait_for_url("**/user/payments?notice=*")  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while queue(site, "ivan") != [("week", "waiting")]:
        assert time.monotonic() < deadline, queue(site, "ivan")
        time.sleep(0.1)
    page.reload()  # type: ignore[attr-defined]
    assert "approved" in page.inner_text("table")  # type: ignore[attr-defined]


def test_the_customer_sees_payments_and_reports(tab: object) -> None:
    page = tab
    page.goto("/userman/login")  # type: ignore[attr-defined]
    page.fill("input[name=login]", "admin")  # type: ignore[attr-defined]
    page.fill("input[name=password]", "adminpw")  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url("**/userman")  # type: ignore[attr-defined]
    page.click("header >> text=Payments")  # type: ignore[attr-defined]
    page.wait_for_url("**/userman/payments")  # type: ignore[attr-defined]
    assert page.inner_text("h1") == "Payments"  # type: ignore[attr-defined]
    screenshot(page, "payments")
    page.click("header >> text=Reports")  # type: ignore[attr-defined]
    page.wait_for_url("**/userman/reports")  # type: ignore[attr-defined]
    assert "maria" in page.inner_text("table.report")  # type: ignore[attr-defined]
    screenshot(page, "reports")
    with page.expect_download() as download:  # type: ignore[attr-defined]
        page.click("text=Download CSV")  # type: ignore[attr-defined]
    saved = Path(download.value.path())
    assert saved.read_text().startswith("user,sessions,uptime-seconds")
