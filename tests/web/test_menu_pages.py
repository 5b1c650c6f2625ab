"""The management pages built from the menus (web/menus_pages.py, web/sections.py), in process:
routers, limitations, profiles with their time windows, sessions, customers, logs and history;
add and edit with a bad value, permissions, and tenancy."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from inmemory import access_request, accounting, exchange
from userman.services import Actor, Userman
from userman.web.app import create_app
from web.test_customer_pages import log_in

ROOT = Actor.superuser()


def do(userman: Userman, path: str, verb: str, *positional: str, **args: str) -> None:
    userman.execute(ROOT, path.split(), verb, positional, args)


def item_id(userman: Userman, path: str, key: str) -> str:
    """The id in hexadecimal by which a page names an item."""
    return userman.execute(ROOT, path.split(), "get", [key]).items[0].id.removeprefix("*")


@pytest.fixture(scope="module")
def world(userman: Userman) -> Userman:
    """Subscriber admin with a router, a profile and a limitation; a read-only customer `viewer`
    under it; another subscriber `other` with a router of its own."""
    do(userman, "customer", "set", "admin", password="pw")
    do(userman, "customer", "add", login="viewer", parent="admin", password="v")
    access = "parent-routers,parent-users,parent-profiles,parent-limits"
    do(userman, "customer", "set", "viewer", permissions="read-only", access=access)
    do(userman, "customer", "add", login="other", password="o")
    do(userman, "router", "add", name="r1", customer="admin", **{"ip-address": "127.0.0.1"})
    do(
        userman,
        "router",
        "set",
        "r1",
        **{"shared-secret": "12345", "require-message-authenticator": "no"},
    )
    do(userman, "router", "add", name="theirs", customer="other", **{"ip-address": "10.9.9.9"})
    do(userman, "profile", "add", name="month", owner="admin", validity="30d")
    do(userman, "profile limitation", "add", name="day", owner="admin", **{"rate-limit-rx": "1M"})
    return userman


@pytest.fixture
def admin(world: Userman) -> Iterator[tuple[TestClient, str]]:
    with TestClient(create_app(world), follow_redirects=False) as http:
        yield http, log_in(http, "admin", "pw")


@pytest.fixture
def viewer(world: Userman) -> Iterator[tuple[TestClient, str]]:
    with TestClient(create_app(world), follow_redirects=False) as http:
        yield http, log_in(http, "viewer", "v")


def test_every_section_is_in_the_nav_and_answers(admin: tuple[TestClient, str]) -> None:
    http, _ = admin
    nav = http.get("/userman/status").text
    for slug in ("users", "profiles", "limitations", "routers", "sessions", "customers"):
        assert f'href="/userman/{slug}"' in nav
        assert http.get(f"/userman/{slug}").status_code == 200
    for slug in ("logs", "history", "profile-limitations", "user-groups", "attributes"):
        assert http.get(f"/userman/{slug}").status_code == 200


def test_routers_list_add_edit_and_the_secret_on_request(
    admin: tuple[TestClient, str], world: Userman
) -> None:
    http, csrf = admin
    page = http.get("/userman/routers").text
    assert "r1" in page
    assert "theirs" not in page  # another subscriber's
    assert "12345" not in page
    added = http.post(
        "/userman/routers/new",
        data={
            "csrf": csrf,
            "name": "r2",
            "customer": "admin",
            "ip-address": "10.0.0.2",
            "shared-secret": "s2",
            "log": ["auth-fail", "acct-fail"],
        },
    )
    assert added.status_code == 303
    ident = item_id(world, "router", "r2")
    assert added.headers["location"] == f"/userman/routers/{ident}?saved=added"
    shown = http.get(f"/userman/routers/{ident}").text
    # Not the secret anywhere (a random CSRF token may hold the letters "s2": not the test).
    assert not re.search(r"[>\"']s2[<\"']", shown)
    assert f"/userman/routers/{ident}/secret/shared-secret" in shown
    secret = http.get(f"/userman/routers/{ident}/secret/shared-secret")
    assert "<code" in secret.text
    assert ">s2<" in secret.text
    router = world.execute(ROOT, ["router"], "get", ["r2"]).items[0].json
    assert router["log"] == "auth-fail,acct-fail"
    # Editing sends what changed; an empty secret keeps it; an unticked box is "no".
    edited = http.post(
        f"/userman/routers/{ident}",
        data={
            "csrf": csrf,
            "name": "r2",
            "customer": "admin",
            "ip-address": "10.0.0.3",
            "shared-secret": "",
            "log": ["auth-fail"],
            "use-coa": "yes",
            "coa-port": "3799",
            "require-message-authenticator": "yes",
            "on-shared-users-limit": str(router["on-shared-users-limit"]),
        },
    )
    assert edited.status_code == 303, edited.text
    after = world.execute(ROOT, ["router"], "get", ["r2", "show-sensitive"]).items[0].json
    assert after["ip-address"] == "10.0.0.3"
    assert after["shared-secret"] == "s2"
    assert after["log"] == "auth-fail"
    assert after["use-coa"] is True
    assert after["disabled"] is False


def test_a_bad_value_shows_next_to_its_field_and_changes_nothing(
    admin: tuple[TestClient, str], world: Userman
) -> None:
    http, csrf = admin
    bad = http.post(
        "/userman/limitations/new",
        data={"csrf": csrf, "name": "broken", "owner": "admin", "uptime-limit": "soon"},
    )
    assert bad.status_code == 400
    field = re.search(r'name="uptime-limit" value="soon"[^>]*aria-invalid="true"', bad.text)
    assert field, bad.text
    assert re.search(r'<small class="error">uptime-limit: [^<]+</small>', bad.text)
    assert 'value="broken"' in bad.text  # what was typed stays
    assert (
        world.execute(ROOT, ["profile", "limitation"], "print", ["where", "name~^broken$"]).items
        == ()
    )
    ident = item_id(world, "router", "r1")
    taken = http.post(
        f"/userman/routers/{ident}", data={"csrf": csrf, "name": "r1", "ip-address": "10.9.9.9"}
    )
    assert taken.status_code == 409
    assert re.search(r"ip-address: (&#34;|&quot;|\")10\.9\.9\.9\1 is taken", taken.text)
    assert "theirs" not in taken.text  # whose it is is not said
    assert world.execute(ROOT, ["router"], "get", ["r1"]).items[0].json["ip-address"] == "127.0.0.1"


def test_a_limitation_form_groups_the_rate_limits(
    admin: tuple[TestClient, str], world: Userman
) -> None:
    http, csrf = admin
    form = http.get("/userman/limitations/new").text
    assert "<legend>Rate limit</legend>" in form
    assert "rx is the user&#39;s upload, tx the download" in form
    for name in ("rate-limit-burst-treshold-rx", "rate-limit-priority", "reset-counters-interval"):
        assert f'name="{name}"' in form
    added = http.post(
        "/userman/limitations/new",
        data={
            "csrf": csrf,
            "name": "night",
            "owner": "admin",
            "rate-limit-rx": "512k",
            "rate-limit-tx": "4M",
            "download-limit": "1G",
            "reset-counters-interval": "daily",
        },
    )
    assert added.status_code == 303
    listed = http.get("/userman/limitations?q=night").text
    assert "1.0 GiB" in listed
    assert "4M" in listed
    assert "daily" in listed
    # Its form shows sizes as typed; sent back unchanged, it changes nothing (no history).
    ident = item_id(world, "profile limitation", "night")
    form = http.get(f"/userman/limitations/{ident}").text
    assert 'name="download-limit" value="1G"' in form
    before = len(world.execute(ROOT, ["history"], "print").items)
    same = http.post(
        f"/userman/limitations/{ident}",
        data={
            "csrf": csrf,
            "name": "night",
            "owner": "admin",
            "download-limit": "1G",
            "rate-limit-tx": "4000k",
            "uptime-limit": "0s",
            "reset-counters-interval": "daily",
        },
    )
    assert same.status_code == 303
    assert len(world.execute(ROOT, ["history"], "print").items) == before


def test_a_profile_page_adds_and_removes_a_time_window(
    admin: tuple[TestClient, str], world: Userman
) -> None:
    http, csrf = admin
    ident = item_id(world, "profile", "month")
    page = http.get(f"/userman/profiles/{ident}").text
    assert "Limitations and time windows" in page
    for day in ("monday", "sunday"):
        assert f'name="weekdays" value="{day}" checked' in page
    back = f"/userman/profiles/{ident}"
    bad = http.post(
        "/userman/profile-limitations/new",
        data={
            "csrf": csrf,
            "profile": "month",
            "limitation": "day",
            "from-time": "25:00",
            "till-time": "18:00:00",
            "weekdays": ["monday"],
            "back": back,
        },
    )
    assert bad.status_code == 400
    assert '<small class="error">from-time:' in bad.text
    added = http.post(
        "/userman/profile-limitations/new",
        data={
            "csrf": csrf,
            "profile": "month",
            "limitation": "day",
            "from-time": "08:00:00",
            "till-time": "18:00:00",
            "weekdays": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "back": back,
        },
    )
    assert added.status_code == 303
    assert added.headers["location"] == back
    windows = world.execute(ROOT, ["profile", "profile-limitation"], "print").items
    (window,) = [w for w in windows if w.json["profile"] == "month"]
    assert window.json["weekdays"] == "monday,tuesday,wednesday,thursday,friday"
    assert window.json["from-time"] == "08:00:00"
    page = http.get(back).text
    assert page.count('class="day on"') == 5
    wid = window.id.removeprefix("*")
    removed = http.post(
        f"/userman/profile-limitations/{wid}/remove", data={"csrf": csrf, "back": back}
    )
    assert removed.headers["location"] == back
    assert world.execute(ROOT, ["profile", "profile-limitation"], "print").items == ()


def test_an_item_in_use_is_not_removed_and_its_page_says_why(
    admin: tuple[TestClient, str], world: Userman
) -> None:
    http, csrf = admin
    do(world, "profile", "add", name="in-use", owner="admin")
    do(world, "user", "add", username="holder", customer="admin")
    do(world, "user", "create-and-activate-profile", "holder", customer="admin", profile="in-use")
    ident = item_id(world, "profile", "in-use")
    refused = http.post(f"/userman/profiles/{ident}/remove", data={"csrf": csrf})
    assert refused.status_code == 409
    assert re.search(r'role="alert">Not removed: name: [^<]*in use', refused.text)
    assert item_id(world, "profile", "in-use") == ident


def test_sessions_show_the_active_first_and_close_one(
    admin: tuple[TestClient, str], world: Userman
) -> None:
    http, csrf = admin
    do(world, "user", "add", username="surfer", password="p", customer="admin")
    for session in ("s-old", "s-open"):
        exchange(world, accounting("surfer", "Start", session), acct=True)
    exchange(world, accounting("surfer", "Stop", "s-old"), acct=True)
    page = http.get("/userman/sessions").text
    rows = re.findall(r"<tr(?: class=\"off\")?>\s*<td class=\"tick\">.*?</tr>", page, re.S)
    assert "flag-A" in rows[0]
    assert "flag-A" not in rows[1]
    only_active = http.get("/userman/sessions?f-active=yes").text
    assert only_active.count('name="id"') == 1
    open_id = re.search(r'name="id" value="([0-9A-F]+)"', only_active)
    assert open_id
    closed = http.post(
        "/userman/sessions/bulk",
        data={"csrf": csrf, "action": "close-session", "id": open_id.group(1)},
    )
    assert closed.status_code == 303
    assert http.get("/userman/sessions?f-active=yes").text.count('name="id"') == 0
    causes = {s.json["terminate-cause"] for s in world.execute(ROOT, ["session"], "print").items}
    assert "um-admin-request" in causes


def test_customers_tree_and_their_access_flags(
    admin: tuple[TestClient, str], world: Userman
) -> None:
    http, csrf = admin
    added = http.post(
        "/userman/customers/new",
        data={
            "csrf": csrf,
            "login": "reseller",
            "password": "r",
            "parent": "admin",
            "permissions": "read-write",
            "access": ["own-users", "parent-profiles"],
            "signup-allowed": "yes",
        },
    )
    assert added.status_code == 303, added.text
    http.post(
        "/userman/customers/new",
        data={"csrf": csrf, "login": "shop", "parent": "reseller", "permissions": "read-write"},
    )
    tree = http.get("/userman/customers").text
    assert "other" not in re.sub(r"<header.*?</header>", "", tree, flags=re.S)
    logins = re.findall(r'<a href="/userman/customers/[0-9A-F]+">([^<]+)</a>', tree)
    assert logins.index("admin") < logins.index("reseller") < logins.index("shop")
    assert re.search(
        r'<td>\s*(?:<span class="indent"></span>){2}<span class="branch">└</span>\s*<a [^>]+>shop',
        tree,
    )
    ident = item_id(world, "customer", "reseller")
    form = http.get(f"/userman/customers/{ident}").text
    assert 'name="access" value="own-users" checked' in form
    assert 'name="access" value="own-routers" >' in form
    assert 'name="signup-allowed" value="yes" checked' in form
    for name in ("public-id", "paypal-business-id", "paypal-accept-pending"):
        assert f'name="{name}"' in form
    above = http.post(
        f"/userman/customers/{ident}",
        data={"csrf": csrf, "login": "reseller", "permissions": "owner", "parent": "admin"},
    )
    assert above.status_code == 303  # owner under the owner admin is allowed
    below = http.post(
        f"/userman/customers/{item_id(world, 'customer', 'shop')}",
        data={"csrf": csrf, "login": "shop", "permissions": "owner", "parent": "viewer"},
    )
    assert below.status_code == 400
    assert '<small class="error">permissions: owner is above its parent' in below.text


def test_the_subscriber_cannot_disable_or_remove_itself_from_its_pages(
    admin: tuple[TestClient, str], world: Userman
) -> None:
    """admin is its subscriber's last enabled owner: its own form, the list's tick boxes and
    the remove button are refused (403, saying so) and change nothing."""
    http, csrf = admin
    ident = item_id(world, "customer", "admin")
    before = world.execute(ROOT, ["history"], "print").items
    refused = [
        http.post(f"/userman/customers/{ident}", data={"csrf": csrf, "disabled": "yes"}),
        http.post(
            "/userman/customers/bulk", data={"csrf": csrf, "action": "disable", "id": [ident]}
        ),
        http.post(
            "/userman/customers/bulk", data={"csrf": csrf, "action": "remove", "id": [ident]}
        ),
        http.post(f"/userman/customers/{ident}/remove", data={"csrf": csrf}),
    ]
    for response in refused:
        assert response.status_code == 403, response.text
        assert "needs the local superuser" in response.text
    [admin_row] = world.execute(ROOT, ["customer"], "get", ["admin"]).items
    assert admin_row.json["disabled"] is False
    assert world.execute(ROOT, ["history"], "print").items == before


def test_logs_filter_and_history_undo_redo(admin: tuple[TestClient, str], world: Userman) -> None:
    http, csrf = admin
    do(world, "router", "set", "r1", log="auth-fail,auth-ok")
    do(world, "user", "add", username="unlucky", password="right", customer="admin")
    exchange(world, access_request("unlucky", "wrong")[1])
    exchange(world, access_request("nobody", "x")[1])
    logs = http.get("/userman/logs?q=unl_cky&field=user-orig").text
    assert "unlucky" in logs
    assert "nobody" not in logs
    assert "Add log" not in logs
    assert 'action="/userman/logs/bulk"' not in logs

    http.post("/userman/users/new", data={"csrf": csrf, "username": "undo-me", "customer": "admin"})
    history = http.get("/userman/history").text
    assert "UMS user undo-me added" in history
    assert 'href="/userman/history/undo"' in history


def test_undo_and_redo_ask_first_naming_the_entry(
    admin: tuple[TestClient, str], world: Userman
) -> None:
    """Undo reverts the newest undoable change (the manual's `history undo`): the page names
    it and asks before it does, and a change made meanwhile is not undone unseen."""
    http, csrf = admin
    http.post("/userman/users/new", data={"csrf": csrf, "username": "undo-me", "customer": "admin"})
    question = http.get("/userman/history/undo")
    assert question.status_code == 200
    assert re.search(r'id="entry-action"><strong>UMS user undo-me added<', question.text)
    entry = re.search(r'name="entry" value="([^"]+)"', question.text)
    assert entry is not None
    unconfirmed = http.post("/userman/history/undo", data={"csrf": csrf})
    assert unconfirmed.status_code == 200  # asked again, nothing undone
    assert world.execute(ROOT, ["user"], "print", ["where", "username~^undo-me$"]).items != ()

    do(world, "user", "add", username="meanwhile", password="x", customer="admin")
    moved = http.post("/userman/history/undo", data={"csrf": csrf, "entry": entry.group(1)})
    assert moved.status_code == 409
    assert "Another change came first" in moved.text
    assert "UMS user meanwhile added" in moved.text
    assert world.execute(ROOT, ["user"], "print", ["where", "username~^meanwhile$"]).items != ()

    newest = re.search(r'name="entry" value="([^"]+)"', moved.text)
    assert newest is not None
    done = http.post("/userman/history/undo", data={"csrf": csrf, "entry": newest.group(1)})
    assert done.status_code == 303
    assert world.execute(ROOT, ["user"], "print", ["where", "username~^meanwhile$"]).items == ()
    assert "redoable" in http.get("/userman/history").text
    again = http.get("/userman/history/redo").text
    assert "UMS user meanwhile added" in again
    redo_entry = re.search(r'name="entry" value="([^"]+)"', again)
    assert redo_entry is not None
    redo = http.post("/userman/history/redo", data={"csrf": csrf, "entry": redo_entry.group(1)})
    assert redo.status_code == 303
    assert world.execute(ROOT, ["user"], "print", ["where", "username~^meanwhile$"]).items != ()
    assert http.get("/userman/history/sideways").status_code == 404
    listing = http.get("/userman/history").text
    first = re.search(r'href="/userman/history/([0-9A-F]+)"', listing)
    assert first is not None
    entry_page = http.get(f"/userman/history/{first.group(1)}")
    assert entry_page.status_code == 200  # an entry's own page is still the item page
    assert "UMS user meanwhile added" in entry_page.text


def test_a_read_only_customer_sees_no_changes_and_cannot_make_them(
    viewer: tuple[TestClient, str], world: Userman
) -> None:
    http, csrf = viewer
    ident = item_id(world, "router", "r1")
    for path in ("/userman/routers", f"/userman/routers/{ident}", "/userman/profiles"):
        page = http.get(path).text
        assert "<main" in page
        main = page[page.index("<main") :]
        assert 'method="post"' not in main, path  # no form, no button that changes anything
        assert "Add router" not in main
    history = http.get("/userman/history").text
    assert "/userman/history/undo" not in history
    assert http.get("/userman/history/undo").status_code == 403
    assert http.post("/userman/history/undo", data={"csrf": csrf}).status_code == 403
    assert http.get("/userman/routers/new").status_code == 403
    forged = [
        ("/userman/routers/new", {"name": "x", "ip-address": "10.1.1.1", "customer": "admin"}),
        (f"/userman/routers/{ident}", {"name": "renamed"}),
        (f"/userman/routers/{ident}/remove", {}),
        ("/userman/routers/bulk", {"action": "disable", "id": ident}),
        ("/userman/history/undo", {}),
    ]
    for path, data in forged:
        assert http.post(path, data={"csrf": csrf, **data}).status_code == 403, path
    assert http.get(f"/userman/routers/{ident}/secret/shared-secret").status_code == 403
    assert world.execute(ROOT, ["router"], "get", ["r1"]).items[0].json["disabled"] is False


def test_a_change_without_the_csrf_token_is_refused(admin: tuple[TestClient, str]) -> None:
    http, _ = admin
    response = http.post("/userman/routers/new", data={"name": "x", "ip-address": "10.5.5.5"})
    assert response.status_code == 403


def test_another_subscribers_items_are_not_found(
    admin: tuple[TestClient, str], world: Userman
) -> None:
    http, csrf = admin
    theirs = item_id(world, "router", "theirs")
    assert http.get(f"/userman/routers/{theirs}").status_code == 404
    assert http.get(f"/userman/routers/{theirs}/secret/shared-secret").status_code == 404
    assert (
        http.post(f"/userman/routers/{theirs}", data={"csrf": csrf, "name": "x"}).status_code == 404
    )
    removed = http.post(f"/userman/routers/{theirs}/remove", data={"csrf": csrf})
    assert removed.status_code == 404
    bulk = http.post(
        "/userman/routers/bulk", data={"csrf": csrf, "action": "disable", "id": theirs}
    )
    assert bulk.status_code == 404
    assert http.get("/userman/routers/not-hex").status_code == 404
    assert world.execute(ROOT, ["router"], "get", ["theirs"]).items[0].json["disabled"] is False


def test_any_customer_changes_its_own_password_and_contact_details(world: Userman) -> None:
    with TestClient(create_app(world), follow_redirects=False) as http:
        csrf = log_in(http, "viewer", "v")
        ident = item_id(world, "customer", "viewer")
        assert (
            f'href="/userman/customers/{ident}" title="Your account"' in http.get("/userman").text
        )
        page = http.get(f"/userman/customers/{ident}").text
        assert 'name="password"' in page
        assert 'name="email"' in page
        assert 'name="permissions"' not in page  # only what it may change of itself
        assert 'name="access"' not in page
        assert "Remove" not in page[page.index("<main") :]
        admin = item_id(world, "customer", "admin")
        refused = http.post(f"/userman/customers/{admin}", data={"csrf": csrf, "email": "x@y.z"})
        assert refused.status_code == 403
        changed = http.post(
            f"/userman/customers/{ident}",
            data={"csrf": csrf, "email": "v@example.org", "password": "v2", "permissions": "owner"},
        )
        assert changed.status_code == 303
        me = world.execute(ROOT, ["customer"], "get", ["viewer"]).items[0].json
        assert me["email"] == "v@example.org"
        assert me["permissions"] == "read-only"  # not a field of its form: not sent
        # A new password ends the sessions logged in with the old one.
        assert http.get("/userman/status").status_code == 303
    with TestClient(create_app(world), follow_redirects=False) as http:
        log_in(http, "viewer", "v2")  # the new password works
    do(world, "customer", "set", "viewer", password="v")  # as the other tests know it


def test_the_users_list_leads_to_a_batch(
    admin: tuple[TestClient, str], viewer: tuple[TestClient, str]
) -> None:
    assert 'href="/userman/users/batch"' in admin[0].get("/userman/users").text
    assert 'href="/userman/users/batch"' not in viewer[0].get("/userman/users").text


def test_a_value_the_rules_refuse_shows_next_to_its_field(
    admin: tuple[TestClient, str], world: Userman
) -> None:
    http, csrf = admin
    bad = http.post(
        "/userman/profiles/new",
        data={"csrf": csrf, "name": "dear", "owner": "admin", "price": "1e400"},
    )
    assert bad.status_code == 400
    assert re.search(r'<small class="error">price: [^<]+</small>', bad.text), bad.text
    assert world.execute(ROOT, ["profile"], "print", ["where", "name~^dear$"]).items == ()
    ident = item_id(world, "router", "r1")
    spoof = http.post(
        f"/userman/routers/{ident}",
        data={"csrf": csrf, "name": "r1\u202e", "ip-address": "127.0.0.1"},
    )
    assert spoof.status_code == 400
    assert "name: must not contain bidirectional control characters" in spoof.text
    assert world.execute(ROOT, ["router"], "get", ["r1"]).items[0].json["name"] == "r1"


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/userman/routers?page=99999999999999999999999", "page"),
        ("/userman/routers?page=-5", "page"),
        ("/userman/routers?page=0", "page"),
        ("/userman/routers?page=x", "page"),
        ("/userman/routers?per=999999999999999999999", "per"),
        ("/userman/routers?q=a%00b", "q"),
        ("/userman/reports?last=9999-12-31", "last"),
        ("/userman/reports?first=0001-01-01", "first"),
        ("/userman/payments?user=a%00b", "user"),
        ("/userman/routers/FFFFFFFFFFFFFFFF", "numbers"),
    ],
)
def test_a_query_parameter_that_is_no_value_is_400_naming_it(
    admin: tuple[TestClient, str], url: str, name: str
) -> None:
    http, _csrf = admin
    answer = http.get(url)
    assert answer.status_code == 400
    assert f"{name}: " in answer.text
