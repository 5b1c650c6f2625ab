"""The users' pages (web/sections.py USERS, web/users_pages.py), in process: the list with the
manual's search patterns, sort, paging and bulk verbs; adding a user; a user's page with its
profile queue, sessions, usage chart and create-and-activate-profile; permissions and tenancy."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from inmemory import accounting, exchange
from userman.services import Actor, Userman
from userman.web.app import create_app
from web.test_customer_pages import log_in

ROOT = Actor.superuser()


def do(userman: Userman, path: str, verb: str, *positional: str, **args: str) -> None:
    userman.execute(ROOT, path.split(), verb, positional, args)


def item_id(userman: Userman, path: str, key: str) -> str:
    return userman.execute(ROOT, path.split(), "get", [key]).items[0].id.removeprefix("*")


def listed(page: str) -> list[str]:
    """The usernames a users' list shows, in its order."""
    return re.findall(r'<a href="/userman/users/[0-9A-F]+">([^<]+)</a>', page)


@pytest.fixture(scope="module")
def world(userman: Userman) -> Userman:
    """60 users ann-00..ann-59 (first-name Ann, last-name Lee-<n>), bob_1 and bobx1; a router at
    127.0.0.1; profiles `now` (starts at once, 1d) and `later` (at logon); a read-only `viewer`;
    another subscriber `other` with its user `stranger`."""
    do(userman, "customer", "set", "admin", password="pw")
    do(userman, "customer", "add", login="viewer", parent="admin", password="v")
    do(userman, "customer", "set", "viewer", permissions="read-only", access="parent-users")
    do(userman, "customer", "add", login="other", password="o")
    do(userman, "user", "add", username="stranger", customer="other")
    for n in range(60):
        do(
            userman,
            "user",
            "add",
            username=f"ann-{n:02d}",
            customer="admin",
            **{"first-name": "Ann", "last-name": f"Lee-{n}"},
        )
    do(userman, "user", "add", username="bob_1", customer="admin", password="b")
    do(userman, "user", "add", username="bobx1", customer="admin", password="b")
    do(userman, "router", "add", name="r", customer="admin", **{"ip-address": "127.0.0.1"})
    do(
        userman,
        "router",
        "set",
        "r",
        **{"shared-secret": "12345", "require-message-authenticator": "no"},
    )
    do(userman, "profile", "add", name="now", owner="admin", validity="1d", **{"starts-at": "now"})
    do(userman, "profile", "add", name="later", owner="admin", validity="7d")
    return userman


@pytest.fixture
def admin(world: Userman) -> Iterator[tuple[TestClient, str]]:
    with TestClient(create_app(world), follow_redirects=False) as http:
        yield http, log_in(http, "admin", "pw")


def test_the_list_pages_through_the_users(admin: tuple[TestClient, str]) -> None:
    http, _ = admin
    first = http.get("/userman/users").text
    assert len(listed(first)) == 25
    assert "62 users · page 1 of 3" in first
    assert listed(first)[0] == "ann-00"
    third = http.get("/userman/users?page=3").text
    assert listed(third) == ["ann-50", *[f"ann-{n}" for n in range(51, 60)], "bob_1", "bobx1"]
    assert 'rel="prev"' in third
    assert 'rel="next"' not in third
    assert len(listed(http.get("/userman/users?per=100").text)) == 62
    assert "stranger" not in http.get("/userman/users?per=100").text


def test_search_uses_the_manuals_patterns(admin: tuple[TestClient, str]) -> None:
    http, _ = admin

    def search(query: str) -> list[str]:
        return listed(http.get(f"/userman/users?per=100&{query}").text)

    assert search("q=ANN-1_") == [f"ann-1{n}" for n in range(10)]  # any case, _ one character
    assert search("q=a%25-5") == [f"ann-5{n}" for n in range(10)]  # % any run of characters
    assert search("q=bob_1") == ["bob_1", "bobx1"]  # _ is any character...
    assert search("q=bob%5C_1") == ["bob_1"]  # ...and \_ an underscore
    assert search("q=lee-42&field=last-name") == ["ann-42"]
    assert search("q=lee-42&field=username") == []
    assert search("q=lee-42") == ["ann-42"]  # every field
    assert search("q=%5C") == []  # a lone backslash is a backslash, not an error
    page = http.get("/userman/users?q=bob_1").text
    assert 'value="bob_1"' in page  # the search stays in its box
    assert 'hx-get="/userman/users"' in page  # and is asked as it is typed


def test_sort_by_a_column_either_way(admin: tuple[TestClient, str]) -> None:
    http, _ = admin
    down = listed(http.get("/userman/users?sort=username&desc=1").text)
    assert down[:3] == ["bobx1", "bob_1", "ann-59"]
    page = http.get("/userman/users?sort=last-name").text
    assert listed(page)[:3] == ["bob_1", "bobx1", "ann-00"]  # empty last names first
    assert 'href="/userman/users?sort=last-name&amp;desc=1"' in page  # its header turns it around
    # A column the database cannot sort (computed) is shown without a link.
    assert "sort=actual-profile" not in page


def test_bulk_enable_disable_and_remove(admin: tuple[TestClient, str], world: Userman) -> None:
    http, csrf = admin
    do(world, "user", "add", username="bulk-a", customer="admin")
    do(world, "user", "add", username="bulk-b", customer="admin")
    ids = [item_id(world, "user", name) for name in ("bulk-a", "bulk-b")]
    back = "/userman/users?q=bulk"
    done = http.post(
        "/userman/users/bulk", data={"csrf": csrf, "action": "disable", "id": ids, "back": back}
    )
    assert done.headers["location"] == back
    disabled = http.get("/userman/users?f-disabled=yes").text
    assert listed(disabled) == ["bulk-a", "bulk-b"]
    assert 'class="flag flag-X"' in disabled
    http.post("/userman/users/bulk", data={"csrf": csrf, "action": "enable", "id": ids[:1]})
    assert listed(http.get("/userman/users?f-disabled=yes").text) == ["bulk-b"]
    http.post("/userman/users/bulk", data={"csrf": csrf, "action": "remove", "id": ids})
    assert listed(http.get("/userman/users?q=bulk-").text) == []
    history = world.execute(ROOT, ["history"], "print").items
    assert history[-1].json["action"] == "multiple objects removed"
    bogus = http.post("/userman/users/bulk", data={"csrf": csrf, "action": "drop", "id": ids})
    assert bogus.status_code == 400


def test_add_a_user_from_the_menus_form(admin: tuple[TestClient, str], world: Userman) -> None:
    http, csrf = admin
    form = http.get("/userman/users/new").text
    for legend in ("Account", "Person", "Access", "Wireless"):
        assert f"<legend>{legend}</legend>" in form
    assert '<option value="none" selected>none</option>' in form  # wireless-enc-algo's default
    assert 'name="password" autocomplete="new-password"' in form
    assert re.search(r'IPv6 DNS.*?name="ipv6-dns" value="::"', form, re.S)  # its default
    bad = http.post(
        "/userman/users/new",
        data={
            "csrf": csrf,
            "username": "carol",
            "password": "c",
            "customer": "admin",
            "shared-users": "lots",
        },
    )
    assert bad.status_code == 400
    assert re.search(r'name="shared-users" value="lots"[^>]*aria-invalid="true"', bad.text)
    assert '<small class="error">shared-users:' in bad.text
    assert 'value="c"' not in bad.text  # a password is never sent back
    assert world.execute(ROOT, ["user"], "print", ["where", "username~^carol$"]).items == ()
    taken = http.post(
        "/userman/users/new", data={"csrf": csrf, "username": "bob_1", "customer": "admin"}
    )
    assert taken.status_code == 409
    assert '<small class="error">username: an item named' in taken.text
    good = http.post(
        "/userman/users/new",
        data={
            "csrf": csrf,
            "username": "carol",
            "password": "c",
            "customer": "admin",
            "shared-users": "2",
            "caller-id-bind-on-first-use": "yes",
            "first-name": "Carol",
            "ipv6-dns": "2001:db8::53",
        },
    )
    assert good.status_code == 303
    carol = world.execute(ROOT, ["user"], "get", ["carol", "show-sensitive"]).items[0].json
    assert carol["password"] == "c"
    assert carol["shared-users"] == 2
    assert carol["caller-id-bind-on-first-use"] is True
    assert carol["disabled"] is False
    assert carol["ipv6-dns"] == "2001:db8::53"


def test_a_users_page_shows_its_profiles_sessions_and_usage(
    admin: tuple[TestClient, str], world: Userman
) -> None:
    http, csrf = admin
    do(world, "user", "add", username="dora", password="d", customer="admin")
    ident = item_id(world, "user", "dora")
    page = http.get(f"/userman/users/{ident}").text
    assert "No profile yet" in page
    assert "No sessions yet" in page
    assert "No usage yet in the last 30 days." in page  # not an empty axis
    assert '<svg class="chart"' not in page
    bad = http.post(f"/userman/users/{ident}/activate", data={"csrf": csrf, "profile": ""})
    assert bad.status_code == 400
    assert '<small class="error" role="alert">profile: required</small>' in bad.text
    for profile in ("now", "later"):
        done = http.post(
            f"/userman/users/{ident}/activate", data={"csrf": csrf, "profile": profile}
        )
        assert done.headers["location"] == f"/userman/users/{ident}?saved=activated"
    do(world, "user-profile", "add", user="dora", profile="later", state="used")
    page = http.get(f"/userman/users/{ident}").text
    states = re.findall(r'<span class="state state-([a-z-]+)">', page)
    assert states == ["running", "waiting", "used"]
    assert "starts at the first log-on" in page
    exchange(world, accounting("dora", "Start", "dora-1"), acct=True)
    interim = accounting(
        "dora",
        "Interim-Update",
        "dora-1",
        **{"Acct-Input-Octets": 3 * 1024 * 1024, "Acct-Output-Octets": 50 * 1024 * 1024},
    )
    exchange(world, interim, acct=True)
    page = http.get(f"/userman/users/{ident}").text
    assert page.count('<g class="day">') == 30
    assert re.findall(r'<span class="state state-([a-z-]+)">', page)[0] == "running-active"
    assert "50.0 MiB down, 3.0 MiB up, 1 sessions</title>" in page
    assert "download 50.0 MiB" in page
    assert 'class="flag flag-A">active</span>' in page
    assert "<script" not in page.split("</head>")[1]  # the chart is drawn on the server


def test_a_users_properties_are_edited_and_a_bad_value_changes_nothing(
    admin: tuple[TestClient, str], world: Userman
) -> None:
    http, csrf = admin
    ident = item_id(world, "user", "bob_1")
    page = http.get(f"/userman/users/{ident}").text
    assert 'value="bob_1"' in page
    assert 'placeholder="unchanged"' in page
    data = {"csrf": csrf, "username": "bob_1", "customer": "admin", "ip-address": "10.1.2"}
    bad = http.post(f"/userman/users/{ident}", data=data)
    assert bad.status_code == 400
    assert (
        '<small class="error">ip-address: &#34;10.1.2&#34; is not an IP address</small>' in bad.text
    )
    user = world.execute(ROOT, ["user"], "get", ["bob_1", "show-sensitive"]).items[0].json
    assert user["ip-address"] == ""
    ok = http.post(f"/userman/users/{ident}", data={**data, "ip-address": "10.1.2.3"})
    assert ok.status_code == 303
    user = world.execute(ROOT, ["user"], "get", ["bob_1", "show-sensitive"]).items[0].json
    assert user["ip-address"] == "10.1.2.3"
    assert user["password"] == "b"  # an empty password box keeps it


def test_a_read_only_customer_sees_users_but_changes_none(world: Userman) -> None:
    with TestClient(create_app(world), follow_redirects=False) as http:
        csrf = log_in(http, "viewer", "v")
        ident = item_id(world, "user", "bob_1")
        for path in ("/userman/users?q=bob", f"/userman/users/{ident}"):
            page = http.get(path).text
            assert "bob_1" in page
            main = page[page.index("<main") :]
            assert 'method="post"' not in main, path
            assert 'name="id"' not in main
            assert "Add user" not in main
            assert "Create and activate" not in main
        for path, data in (
            ("/userman/users/new", {"username": "x", "customer": "admin"}),
            (f"/userman/users/{ident}", {"username": "x"}),
            (f"/userman/users/{ident}/activate", {"profile": "now"}),
            (f"/userman/users/{ident}/remove", {}),
            ("/userman/users/bulk", {"action": "remove", "id": ident}),
        ):
            assert http.post(path, data={"csrf": csrf, **data}).status_code == 403, path
        assert world.execute(ROOT, ["user"], "get", ["bob_1"]).items[0].json["actual-profile"] == ""


def test_another_subscribers_user_is_not_found(
    admin: tuple[TestClient, str], world: Userman
) -> None:
    http, csrf = admin
    ident = item_id(world, "user", "stranger")
    assert http.get(f"/userman/users/{ident}").status_code == 404
    activate = http.post(f"/userman/users/{ident}/activate", data={"csrf": csrf, "profile": "now"})
    assert activate.status_code == 404
    assert http.post(f"/userman/users/{ident}", data={"csrf": csrf}).status_code == 404
    assert world.execute(ROOT, ["user"], "get", ["stranger"]).items[0].json["actual-profile"] == ""
