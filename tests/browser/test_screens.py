"""Every main page at a phone's width (390x844) and at a desktop's (1280x860), in a real browser:
no page scrolls sideways (tables scroll in their own box), the bar's links fold into a menu that
opens on the phone, and a screenshot of each page at both widths goes to
test-artifacts/screenshots/ (`phone-*.png`, `desktop-*.png`), to be looked at.

The pages show a subscriber of their own (`screens`, in Europe/Riga) with a user who has a
profile queue, sessions and usage, a router with counters, a log entry and history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from browser.conftest import screenshot
from served import Server, start_server, stop_server
from userman.services import Actor, Userman
from userman.store import models

pytestmark = pytest.mark.e2e
ROOT = Actor.superuser()
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}
# The elements that reach past the window's right edge, for a failure's message.
OVERFLOW = """() => {
  const edge = document.documentElement.clientWidth;
  return {
    scroll: document.documentElement.scrollWidth,
    width: window.innerWidth,
    wide: [...document.querySelectorAll('body *')]
      .filter(e => e.checkVisibility() && e.getBoundingClientRect().right > edge + 1)
      .slice(0, 5)
      .map(e => `${e.tagName}.${e.className} ${(e.textContent || '').trim().slice(0, 40)}`),
  };
}"""


@dataclass
class Screens:
    user: str  # the hexadecimal ids in the pages' addresses
    router: str
    profile: str


def do(app: Userman, path: str, verb: str, *positional: str, **args: str) -> str:
    outcome = app.execute(ROOT, path.split(), verb, positional, args)
    return outcome.items[0].id.removeprefix("*") if outcome.items else ""


def _world(app: Userman) -> Screens:
    do(app, "customer", "add", login="screens", password="screens-pw", **{
        "time-zone": "Europe/Riga", "public-id": "screens", "company": "Screens Wi-Fi",
        "signup-allowed": "yes", "currency": "EUR"})  # fmt: skip
    do(app, "profile limitation", "add", name="screens-day", owner="screens", **{
        "download-limit": "5G", "uptime-limit": "40h", "rate-limit-rx": "2M",
        "rate-limit-tx": "10M"})  # fmt: skip
    do(app, "profile", "add", name="screens-month", owner="screens", validity="30d", price="9.90",
       **{"name-for-users": "A month of evenings", "starts-at": "now"})  # fmt: skip
    do(app, "profile", "add", name="screens-week", owner="screens", validity="7d", price="3")
    do(app, "profile profile-limitation", "add", profile="screens-month",
       limitation="screens-day", **{"from-time": "08:00:00", "till-time": "23:59:59"})  # fmt: skip
    do(app, "router", "add", name="screens-router", customer="screens", **{
        "ip-address": "10.88.0.1", "shared-secret": "s3cret", "log": "auth-fail"})  # fmt: skip
    do(app, "user", "add", customer="screens", username="bartholomew.longname@example.org",
       password="bart-pw", **{"first-name": "Bartholomew", "last-name": "Longname",
       "shared-users": "2"})  # fmt: skip
    user = "bartholomew.longname@example.org"
    do(app, "user", "create-and-activate-profile", user, customer="screens",
       profile="screens-month")  # fmt: skip
    do(app, "user", "create-and-activate-profile", user, customer="screens",
       profile="screens-week")  # fmt: skip
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with app.database.begin() as db:
        row = db.query(models.User).filter_by(username=user).one()
        for n in range(3):
            start = now - dt.timedelta(days=2 * n, hours=1)
            db.add(
                models.UserSession(
                    subscriber_id=row.subscriber_id, customer_id=row.customer_id, user_id=row.id,
                    username=user, acct_session_id=f"screens-{n}", from_time=start,
                    till_time=start + dt.timedelta(minutes=50), active=n == 0,
                    status="start,interim", user_ip=f"10.88.1.{10 + n}", uptime=3000,
                    download=(n + 1) * 300_000_000, upload=40_000_000, host_ip="10.88.0.1",
                    calling_station_id=f"3C:22:FB:10:7A:{n:02X}",
                )
            )  # fmt: skip
        router = db.query(models.Router).filter_by(name="screens-router").one()
        db.add(
            models.LogEntry(
                subscriber_id=router.subscriber_id, customer_id=router.customer_id,
                user_orig="mallory", status="auth,fail", time=now, host_ip="10.88.0.1",
                description="wrong password for user <mallory>",
            )
        )  # fmt: skip
        db.add(
            models.Payment(
                subscriber_id=row.subscriber_id, customer_id=row.customer_id, user_id=row.id,
                username=user, profile_name="screens-week", price=Decimal("3.00"),
                currency="EUR", method="paypal", trans_start=now - dt.timedelta(days=3),
                trans_end=now - dt.timedelta(days=3), trans_status="approved",
                result_msg="COMPLETED (capture 4XY12345AB678901C)",
            )
        )  # fmt: skip
        router_id, user_id = router.id, row.id
    app.add_counters({(router_id, "access-requests"): 12, (router_id, "accepts"): 9})
    profile = do(app, "profile", "get", "screens-month")
    return Screens(f"{user_id:X}", f"{router_id:X}", profile)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A `userman serve` of this module's own: its second subscriber would change what the
    other modules' commands without `customer=` mean."""
    folder = tmp_path_factory.mktemp("screens")
    server = start_server(f"sqlite:///{folder / 'userman.db'}", folder / "serve.log")
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def screens(served: Server) -> Iterator[Screens]:
    app = Userman(served.db_url)
    try:
        yield _world(app)
    finally:
        app.close()


def fits(page: Any, name: str) -> None:
    """The page does not scroll sideways; its screenshot is kept."""
    page.wait_for_load_state("load")
    screenshot(page, name)
    found = page.evaluate(OVERFLOW)
    assert found["scroll"] <= found["width"], f"{name} scrolls sideways: {found}"


OUTSIDE: dict[int, list[str]] = {}  # a page's requests to other hosts, by id(page)


def tab(browser: Any, served: Server, viewport: dict[str, int]) -> Any:
    """A page of its own; closing it checks that nothing was asked of another host."""
    context = browser.new_context(base_url=served.http_url, viewport=viewport)
    context.set_default_timeout(10_000)
    page = context.new_page()
    outside = OUTSIDE.setdefault(id(page), [])
    page.on(
        "request", lambda r: None if r.url.startswith(served.http_url) else outside.append(r.url)
    )
    return page


def close(page: Any) -> None:
    outside = OUTSIDE.pop(id(page))
    page.context.close()
    assert outside == [], f"pages asked other hosts: {outside}"


ADMIN_PAGES = (
    ("status", "/userman/status"),
    ("users", "/userman/users"),
    ("user", "/userman/users/{user}"),
    ("profiles", "/userman/profiles"),
    ("profile", "/userman/profiles/{profile}"),
    ("limitations", "/userman/limitations"),
    ("limitation-new", "/userman/limitations/new"),
    ("routers", "/userman/routers"),
    ("router", "/userman/routers/{router}"),
    ("sessions", "/userman/sessions"),
    ("logs", "/userman/logs"),
    ("history", "/userman/history"),
    ("history-undo", "/userman/history/undo"),
    ("payments", "/userman/payments"),
    ("reports", "/userman/reports"),
    ("settings", "/userman/settings"),
    ("customers", "/userman/customers"),
    ("customer", "/userman/customers/new"),
)
USER_PAGES = (
    ("user-status", "/user?subs=screens"),
    ("user-sessions", "/user/sessions"),
    ("user-profiles", "/user/profiles"),
    ("user-payments", "/user/payments"),
    ("user-settings", "/user/settings"),
)


@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_the_customer_pages_fit_the_screen(
    browser: Any, served: Server, screens: Screens, size: str, viewport: dict[str, int]
) -> None:
    page = tab(browser, served, viewport)
    page.goto("/userman/login")
    fits(page, f"{size}-login")
    page.fill("input[name=login]", "screens")
    page.fill("input[name=password]", "screens-pw")
    page.click("button[type=submit]")
    page.wait_for_url("**/userman")
    menu = page.locator("details.menu")
    if size == "phone":  # the links fold into a menu that opens, without a script
        assert page.locator("ul.sections.wide").is_hidden()
        assert menu.locator("a[href='/userman/routers']").is_hidden()
        menu.locator("summary").click()
        assert menu.locator("a[href='/userman/routers']").is_visible()
        fits(page, f"{size}-menu")
        menu.locator("a[href='/userman/routers']").click()
        page.wait_for_url("**/userman/routers")
    else:
        assert menu.is_hidden()
        assert page.locator("ul.sections.wide a[href='/userman/routers']").is_visible()
    for name, path in ADMIN_PAGES:
        page.goto(path.format(**screens.__dict__))
        fits(page, f"{size}-{name}")
    page.goto(f"/userman/users/{screens.user}")
    assert "Europe/Riga" in page.inner_text("main")
    page.goto(f"/userman/routers/{screens.router}")
    assert "12" in page.inner_text("table.counters")
    close(page)


@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_the_user_pages_fit_the_screen(
    browser: Any, served: Server, screens: Screens, size: str, viewport: dict[str, int]
) -> None:
    page = tab(browser, served, viewport)
    page.goto("/user/signup?subs=screens")
    fits(page, f"{size}-signup")
    page.goto("/user?subs=screens")
    fits(page, f"{size}-user-login")
    page.fill("input[name=username]", "bartholomew.longname@example.org")
    page.fill("input[name=password]", "bart-pw")
    page.click("button[type=submit]")
    page.wait_for_selector("#time-left")
    assert page.inner_text("#time-left") != "unlimited"
    for name, path in USER_PAGES:
        page.goto(path)
        fits(page, f"{size}-{name}")
    close(page)
