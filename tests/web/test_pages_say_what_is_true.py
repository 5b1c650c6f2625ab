"""What the pages show agrees with what RADIUS does and with each other, in process: the user
page's time and traffic left, times in the subscriber's time zone with its name on every page,
forms that say what an empty limit means and which fields are required, a field's error beside
its hint, the router's counters, usernames that lead to the user, and a drawn chart only when
there is something to draw."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from userman.services import Actor, Userman
from userman.services.usage import Day
from userman.store import models
from userman.web.app import create_app
from userman.web.chart import RIGHT, WIDTH, usage_chart
from web.test_customer_pages import log_in
from web.test_user_page import log_in as user_log_in

ROOT = Actor.superuser()
# A winter moment, when Riga is UTC+2: 10:00 UTC reads 12:00 there.
JAN_15 = dt.datetime(2026, 1, 15, 10, 0, tzinfo=dt.UTC)


def do(userman: Userman, path: str, verb: str, *positional: str, **args: str) -> None:
    userman.execute(ROOT, path.split(), verb, positional, args)


def get(userman: Userman, path: str, key: str) -> dict[str, object]:
    return dict(userman.execute(ROOT, path.split(), "get", [key]).items[0].json)


def hex_id(userman: Userman, path: str, key: str) -> str:
    return str(get(userman, path, key)[".id"]).removeprefix("*")


@pytest.fixture(scope="module")
def world(userman: Userman) -> Userman:
    """Subscriber admin in Europe/Riga (public-id riga) with user ann running a one-day pass
    whose only limitation caps the download at 1 GiB, and a session of January 15th; router
    r1; subscriber plain with the default time zone -00:00."""
    do(userman, "customer", "set", "admin", password="pw", **{
        "time-zone": "Europe/Riga", "public-id": "riga"})  # fmt: skip
    do(userman, "profile limitation", "add", name="down-only", **{"download-limit": "1G"})
    do(userman, "profile", "add", name="pass", validity="1d", **{"starts-at": "now"})
    do(userman, "profile profile-limitation", "add", profile="pass", limitation="down-only")
    do(userman, "user", "add", username="ann", password="ann-pw", customer="admin")
    do(userman, "user", "create-and-activate-profile", "ann", customer="admin", profile="pass")
    do(userman, "router", "add", name="r1", customer="admin", **{"ip-address": "10.1.1.1"})
    with userman.database.begin() as db:
        ann = db.query(models.User).filter_by(username="ann").one()
        db.add(
            models.UserSession(
                subscriber_id=ann.subscriber_id, customer_id=ann.customer_id, user_id=ann.id,
                username="ann", acct_session_id="jan-15", from_time=JAN_15,
                till_time=JAN_15 + dt.timedelta(hours=1), active=False, status="start,stop",
                uptime=3600, download=1000, upload=100,
            )
        )  # fmt: skip
    do(userman, "customer", "add", login="plain", password="pl")
    return userman


@pytest.fixture
def admin(world: Userman) -> Iterator[tuple[TestClient, str]]:
    with TestClient(create_app(world), follow_redirects=False) as http:
        yield http, log_in(http, "admin", "pw")


# -- the user page -----------------------------------------------------------------------------


def test_the_user_page_says_how_long_and_how_much_is_left(world: Userman) -> None:
    """A profile with a validity runs out at its end: the page shows the time to it (what the
    Access-Accept's Session-Timeout counts, research 4.4), not "unlimited"; only a download
    quota is set, so no "unlimited" stands beside its figure."""
    with TestClient(create_app(world), follow_redirects=False) as http:
        user_log_in(http, "ann", "ann-pw", subs="riga")
        page = http.get("/user").text
    time_left = re.search(r'id="time-left">([^<]*)<', page)
    assert time_left is not None
    assert re.fullmatch(r"(\d+d)?(\d+h)?(\d+m)?(\d+s)?", time_left.group(1)), time_left.group(1)
    traffic = re.search(r'id="traffic-left">([^<]*)</h2>\s*<p>([^<]*)', page)
    assert traffic is not None
    assert traffic.groups() == ("1.0 GiB", "download left")
    cards = page.split('<section class="figures">')[1].split("</section>")[0]
    assert "unlimited" not in cards
    assert "∞" not in cards
    assert re.search(r"valid until <small>\d\d:\d\d Europe/Riga</small>", page), page


def test_the_user_pages_times_are_in_the_customers_zone(world: Userman) -> None:
    with TestClient(create_app(world), follow_redirects=False) as http:
        user_log_in(http, "ann", "ann-pw", subs="riga")
        sessions = http.get("/user/sessions").text
    assert "2026-01-15 12:00" in sessions  # 10:00 UTC
    assert "UTC" not in sessions
    assert '<small class="zone">Europe/Riga</small>' in sessions


# -- the customer pages ------------------------------------------------------------------------


def test_the_customer_pages_show_times_in_the_customers_zone(
    admin: tuple[TestClient, str], world: Userman
) -> None:
    http, _ = admin
    listing = http.get("/userman/sessions").text
    assert "jan/15/2026 12:00:00" in listing
    assert "jan/15/2026 10:00:00" not in listing  # print's UTC
    assert re.search(r'From time</a>\s*<small class="zone">Europe/Riga</small>', listing)
    user_page = http.get(f"/userman/users/{hex_id(world, 'user', 'ann')}").text
    assert "jan/15/2026 12:00:00" in user_page
    session = http.get("/userman/sessions?q=ann&field=user").text
    ident = re.search(r'href="/userman/sessions/([0-9A-F]+)"', session)
    assert ident is not None
    item = http.get(f"/userman/sessions/{ident.group(1)}").text
    assert re.search(r'jan/15/2026 12:00:00 <small class="zone">Europe/Riga</small>', item)


def test_a_date_in_a_form_is_the_customers_wall_time(
    admin: tuple[TestClient, str], world: Userman
) -> None:
    """What is typed is read in the zone the form names; the services keep UTC (the manual:
    "stored as GMT"), which `print` shows."""
    http, csrf = admin
    ident = hex_id(world, "profile limitation", "down-only")
    form = http.get(f"/userman/limitations/{ident}").text
    assert "e.g. 2026-01-31 12:00:00, Europe/Riga time" in form
    saved = http.post(
        f"/userman/limitations/{ident}",
        data={
            "csrf": csrf,
            "name": "down-only",
            "reset-counters-start-time": "2026-01-15 00:00:00",
        },
    )
    assert saved.status_code == 303, saved.text
    stored = get(world, "profile limitation", "down-only")["reset-counters-start-time"]
    assert stored == "jan/14/2026 22:00:00"
    shown = http.get(f"/userman/limitations/{ident}").text
    assert 'name="reset-counters-start-time" value="jan/15/2026 00:00:00"' in shown
    unchanged = http.post(
        f"/userman/limitations/{ident}",
        data={
            "csrf": csrf,
            "name": "down-only",
            "reset-counters-start-time": "jan/15/2026 00:00:00",
        },
    )
    assert unchanged.status_code == 303
    assert get(world, "profile limitation", "down-only")["reset-counters-start-time"] == stored


def test_the_default_time_zone_reads_utc(world: Userman) -> None:
    """`-00:00`, the manual's default time-zone, shows as UTC; an untouched form keeps it."""
    with TestClient(create_app(world), follow_redirects=False) as http:
        csrf = log_in(http, "plain", "pl")
        ident = hex_id(world, "customer", "plain")
        page = http.get(f"/userman/customers/{ident}").text
        assert 'name="time-zone" value="UTC"' in page
        assert "-00:00" not in page
        saved = http.post(
            f"/userman/customers/{ident}",
            data={"csrf": csrf, "login": "plain", "time-zone": "UTC", "company": "Plain Ltd"},
        )
        assert saved.status_code == 303, saved.text
        new = http.get("/userman/customers/new").text
        assert 'name="time-zone" value="UTC"' in new
        added = http.post(
            "/userman/customers/new",
            data={"csrf": csrf, "login": "plain-2", "parent": "plain", "time-zone": "UTC",
                  "permissions": "read-only"},
        )  # fmt: skip
        assert added.status_code == 303, added.text
    assert get(world, "customer", "plain")["time-zone"] == "-00:00"
    assert get(world, "customer", "plain")["company"] == "Plain Ltd"
    assert get(world, "customer", "plain-2")["time-zone"] == "-00:00"


def test_usernames_on_the_status_page_lead_to_the_user(
    admin: tuple[TestClient, str], world: Userman
) -> None:
    http, _ = admin
    with world.database.begin() as db:
        db.query(models.UserSession).filter_by(acct_session_id="jan-15").one().active = True
    try:
        status = http.get("/userman/status").text
    finally:
        with world.database.begin() as db:
            db.query(models.UserSession).filter_by(acct_session_id="jan-15").one().active = False
    assert '<a href="/userman/users/named?key=ann">ann</a>' in status
    found = http.get("/userman/users/named?key=ann")
    assert found.status_code == 303
    assert found.headers["location"] == f"/userman/users/{hex_id(world, 'user', 'ann')}"
    # Only by name: a print number or an *ID that the text happens to be names no user.
    for key in ("0", "*1", "nobody", ""):
        assert http.get("/userman/users/named", params={"key": key}).status_code == 404


def test_the_router_page_shows_its_counters(admin: tuple[TestClient, str], world: Userman) -> None:
    """`router monitor ROUTER`'s counters, on the router's page."""
    http, csrf = admin
    router_id = int(hex_id(world, "router", "r1"), 16)
    world.add_counters({(router_id, "access-requests"): 7, (router_id, "accepts"): 5})
    ident = f"{router_id:X}"
    page = http.get(f"/userman/routers/{ident}").text
    assert re.search(r'Access requests</th><td class="num">7</td>', page)
    assert re.search(r'Accepts</th><td class="num">5</td>', page)
    assert re.search(r'Missing message authenticator</th><td class="num">0</td>', page)
    reset = http.post(f"/userman/routers/{ident}/reset-counters", data={"csrf": csrf})
    assert reset.headers["location"] == f"/userman/routers/{ident}?saved=reset"
    assert re.search(
        r'Access requests</th><td class="num">0</td>', http.get(reset.headers["location"]).text
    )


# -- forms ---------------------------------------------------------------------------------------


def test_the_limitation_form_says_an_empty_limit_is_none(
    admin: tuple[TestClient, str], world: Userman
) -> None:
    http, csrf = admin
    form = http.get("/userman/limitations/new").text
    assert "An empty or 0 limit means none" in form
    ident = hex_id(world, "profile limitation", "down-only")
    emptied = http.post(
        f"/userman/limitations/{ident}",
        data={"csrf": csrf, "name": "down-only", "download-limit": ""},
    )
    assert emptied.status_code == 303, emptied.text
    assert get(world, "profile limitation", "down-only")["download-limit"] == 0
    do(world, "profile limitation", "set", "down-only", **{"download-limit": "1G"})


def required_fields(page: str) -> set[str]:
    mark = r'<span class="label">[^<]*<abbr title="required"[^>]*>\*</abbr></span>'
    return set(re.findall(mark + r'\s*<[a-z]+ name="([a-z-]+)"', page))


def test_required_marks_are_on_what_is_required(admin: tuple[TestClient, str]) -> None:
    """The mark is on what the services refuse to go without: the item's name, the customer
    it belongs to, a router's address; never on what may stay empty (a password, a secret)."""
    http, _ = admin
    assert required_fields(http.get("/userman/routers/new").text) == {
        "name", "customer", "ip-address"}  # fmt: skip
    assert required_fields(http.get("/userman/users/new").text) == {"username", "customer"}
    assert required_fields(http.get("/userman/limitations/new").text) == {"name", "owner"}
    assert required_fields(http.get("/userman/customers/new").text) == {"login"}
    assert required_fields(http.get("/userman/profile-limitations/new").text) == {
        "profile", "limitation"}  # fmt: skip


def test_a_fields_error_stands_above_its_hint(admin: tuple[TestClient, str]) -> None:
    http, csrf = admin
    bad = http.post(
        "/userman/limitations/new",
        data={"csrf": csrf, "name": "broken", "owner": "admin", "uptime-limit": "soon"},
    )
    assert bad.status_code == 400
    field = re.search(r'name="uptime-limit"[^>]*>\s*(<small[^>]*>[^<]*</small>\s*)+', bad.text)
    assert field is not None
    smalls = re.findall(r'<small class="([a-z]+)">', field.group(0))
    assert smalls == ["error", "hint"]


def test_the_customer_form_has_one_access_heading(admin: tuple[TestClient, str]) -> None:
    http, _ = admin
    page = http.get("/userman/customers/new").text
    headings = re.findall(r"<legend>([^<]*)</legend>", page) + re.findall(
        r'<span class="label">([^<]*)</span>', page
    )
    assert headings.count("Access") == 1


# -- the chart -----------------------------------------------------------------------------------


def days(*downloads: int) -> list[Day]:
    first = dt.date(2026, 1, 1)
    return [
        Day(first + dt.timedelta(days=n), d, 0, 0, 1 if d else 0) for n, d in enumerate(downloads)
    ]


def test_a_chart_only_when_something_was_used_and_its_labels_inside() -> None:
    assert usage_chart(days(*[0] * 30)) == ""
    chart = str(usage_chart(days(*[0] * 29, 5 * 2**20)))
    labels = re.findall(r"<text ([^>]*)>(\d\d [A-Z][a-z]{2})</text>", chart)
    assert [text for _, text in labels] == ["02 Jan", "09 Jan", "16 Jan", "23 Jan", "30 Jan"]
    # The last day's label ends at the picture's right edge instead of running past it.
    assert f'x="{WIDTH - RIGHT}" text-anchor="end"' in labels[-1][0]
    assert all('text-anchor="middle"' in where for where, _ in labels[:-1])


def test_history_names_what_a_page_changed(admin: tuple[TestClient, str], world: Userman) -> None:
    """A page's change is recorded as the command line would name it, so the Undo question
    says which item it would put back (not `*1F`)."""
    http, csrf = admin
    ident = hex_id(world, "user", "ann")
    http.post(f"/userman/users/{ident}", data={"csrf": csrf, "username": "ann", "comment": "vip"})
    http.post("/userman/users/bulk", data={"csrf": csrf, "id": ident, "action": "disable"})
    http.post("/userman/users/bulk", data={"csrf": csrf, "id": ident, "action": "enable"})
    history = http.get("/userman/history").text
    for action in ("UMS user ann changed", "UMS user ann disabled", "UMS user ann enabled"):
        assert action in history
    question = http.get("/userman/history/undo").text
    assert re.search(r'id="entry-action"><strong>UMS user ann enabled<', question)
