"""The REST API (web/api.py): the CLI's menus and verbs over HTTP, with the same validation,
permissions and history, and errors as JSON with the right status codes."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from userman.services import MENUS, SPECIAL, Actor, Userman
from userman.services.commands import MAINTENANCE
from userman.web.api import special_verbs, url_name
from userman.web.app import create_app
from userman.web.auth import Guard
from web.conftest import logged_in


def test_every_menu_and_verb_has_its_route(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    for name in MENUS:
        assert f"/api/v1/{url_name(name)}" in paths
        assert f"/api/v1/{url_name(name)}/{{item}}" in paths
    assert special_verbs() == set(SPECIAL) | set(MAINTENANCE)  # prune, optimize
    assert "/api/v1/user/{item}/create-and-activate-profile" in paths
    assert "/api/v1/database/save" in paths
    assert "/api/v1/router/{item}/monitor" in paths
    # The body of an add documents the menu's properties by their names.
    schema = client.get("/api/openapi.json").json()["components"]["schemas"]
    assert "shared-users" in schema["UserProperties"]["properties"]


def test_add_get_set_remove_a_user(client: TestClient) -> None:
    added = client.post(
        "/api/v1/user",
        json={"username": "alice", "password": "pw", "shared-users": 2, "disabled": False},
    )
    assert added.status_code == 201, added.text
    assert added.json()["username"] == "alice"
    assert added.json()["shared-users"] == 2
    assert "password" not in added.json()  # secrets only on request
    got = client.get("/api/v1/user/alice").json()
    assert got[".id"] == added.json()[".id"]
    secret = client.get("/api/v1/user/alice", params={"show-sensitive": "true"}).json()
    assert secret["password"] == "pw"
    changed = client.patch("/api/v1/user/alice", json={"comment": "vip", "shared-users": "3"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["comment"], changed.json()["shared-users"]) == ("vip", 3)
    renamed = client.patch(f"/api/v1/user/{got['.id']}", json={"username": "alice2"})
    assert renamed.json()["username"] == "alice2"
    assert client.post("/api/v1/user/alice2/disable").json()["disabled"] is True
    assert client.post("/api/v1/user/alice2/enable").json()["disabled"] is False
    assert client.delete("/api/v1/user/alice2").status_code == 204
    assert client.get("/api/v1/user/alice2").status_code == 404


def test_print_with_conditions(client: TestClient) -> None:
    for name in ("where-a", "where-b", "other"):
        assert client.post("/api/v1/user", json={"username": name}).status_code == 201
    client.post("/api/v1/user/where-b/disable")
    names = [
        u["username"]
        for u in client.get("/api/v1/user", params={"where": "username~^where"}).json()
    ]
    assert names == ["where-a", "where-b"]
    both = client.get(
        "/api/v1/user", params=[("where", "username~^where"), ("where", "disabled=yes")]
    )
    assert [u["username"] for u in both.json()] == ["where-b"]
    bad = client.get("/api/v1/user", params={"where": "username"})
    assert (bad.status_code, bad.json()["property"]) == (400, "username")


@pytest.mark.parametrize(
    ("condition", "prop", "why"),
    [
        (r"comment~^(a)\1$", "comment", "a backreference"),
        ("username~^(?P<x>a)(?P=x)", "username", "a backreference"),
        ("username~a(?=b)", "username", "lookahead and lookbehind"),
        ("comment~(?<=a)b", "comment", "lookahead and lookbehind"),
        ("comment~(", "comment", "not a regular expression"),
        ("comment~" + "a" * 1001, "comment", "at most 1000 characters"),
    ],
)
def test_where_patterns_that_need_backtracking_are_a_400_naming_the_property(
    client: TestClient, condition: str, prop: str, why: str
) -> None:
    refused = client.get("/api/v1/user", params={"where": condition})
    assert (refused.status_code, refused.json()["property"]) == (400, prop), refused.text
    assert refused.json()["error"].startswith(f"failure: {prop}: ")
    assert why in refused.json()["error"]
    found = client.get("/api/v1/user", params={"where": "comment~^(a+)+$"})
    assert found.status_code == 200


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "prop"),
    [
        ("post", "/api/v1/user", {"username": "x1", "shared-users": "many"}, 400, "shared-users"),
        ("post", "/api/v1/user", {"username": "x2", "nonsense": 1}, 400, "nonsense"),
        ("post", "/api/v1/user", {"username": "x3", "group": "nogroup"}, 400, "group"),
        ("patch", "/api/v1/user/nobody", {"comment": "a"}, 404, None),
        ("post", "/api/v1/profile", {"name": "dup"}, 201, None),
        ("post", "/api/v1/profile", {"name": "dup"}, 409, "name"),
        ("post", "/api/v1/user", ["not", "an", "object"], 400, None),
    ],
)
def test_errors_name_the_property_and_change_nothing(  # noqa: PLR0917 - one case
    client: TestClient, method: str, url: str, body: object, status: int, prop: str | None
) -> None:
    before = client.get("/api/v1/history").json()
    response = client.request(method, url, json=body)
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.json()["error"].startswith("failure: ")
        if prop is not None:
            assert response.json()["property"] == prop
        assert client.get("/api/v1/history").json() == before


def test_every_change_is_history_and_can_be_undone(client: TestClient) -> None:
    client.post("/api/v1/limitation", json={"name": "night", "rate-limit-rx": "2M"})
    assert (
        client.get("/api/v1/history").json()[-1]["action"] == "UMS profile limitation night added"
    )
    undone = client.post("/api/v1/history/undo")
    assert undone.status_code == 200
    assert undone.json()["message"].startswith("undone")
    assert client.get("/api/v1/limitation/night").status_code == 404
    client.post("/api/v1/history/redo")
    assert client.get("/api/v1/limitation/night").json()["rate-limit-rx"] == 2_000_000


def test_the_menus_own_verbs(client: TestClient) -> None:
    client.post("/api/v1/profile", json={"name": "month", "validity": "30d", "starts-at": "now"})
    client.post("/api/v1/user", json={"username": "bob", "password": "b"})
    activated = client.post(
        "/api/v1/user/bob/create-and-activate-profile", json={"profile": "month"}
    )
    assert activated.status_code == 200, activated.text
    assert client.get("/api/v1/user/bob").json()["actual-profile"] == "month"
    queue = client.get("/api/v1/user-profile", params={"where": "user=bob"}).json()
    assert [entry["state"] for entry in queue] == ["running"]
    batch = client.post(
        "/api/v1/user/add-batch-users", json={"number-of-users": 3, "username-prefix": "v"}
    )
    assert batch.status_code == 200, batch.text
    assert len(batch.json()["items"]) == 3


def test_permissions_are_the_customers(client: TestClient, userman: Userman) -> None:
    client.post(
        "/api/v1/customer",
        json={"login": "reader", "parent": "admin", "permissions": "read-only", "password": "r"},
    )
    with logged_in(create_app(userman), "reader", "r") as reader:
        assert reader.get("/api/v1/user").status_code == 200
        refused = reader.post("/api/v1/user", json={"username": "sneaky"})
        assert refused.status_code == 403
        assert "read-write" in refused.json()["error"] or "permissions" in refused.json()["error"]
        assert reader.get("/api/v1/user/sneaky").status_code == 404


def test_no_customer_disables_or_removes_itself_nor_changes_its_parent(
    client: TestClient, userman: Userman
) -> None:
    """The subscriber admin is the last enabled owner of its domain: it may not disable or
    remove itself (403, nothing changed). A read-only customer's change to its parent says
    which permission it lacks (403), not that the parent does not exist (404)."""
    before = client.get("/api/v1/history").json()
    for method, url, body in (
        ("patch", "/api/v1/customer/admin", {"disabled": True}),
        ("post", "/api/v1/customer/admin/disable", None),
        ("delete", "/api/v1/customer/admin", None),
    ):
        refused = client.request(method, url, json=body)
        assert refused.status_code == 403, (url, refused.text)
        assert "needs the local superuser" in refused.json()["error"]
    assert client.get("/api/v1/customer/admin").json()["disabled"] is False
    assert client.get("/api/v1/history").json() == before
    client.post(
        "/api/v1/customer",
        json={"login": "looker", "parent": "admin", "permissions": "read-only", "password": "l"},
    )
    with logged_in(create_app(userman), "looker", "l") as looker:
        refused = looker.patch("/api/v1/customer/admin", json={"comment": "x"})
        assert refused.status_code == 403
        assert refused.json()["error"] == (
            "failure: not permitted: needs owner permissions"
            " (looker has read-only for customer set)"
        )
        assert looker.delete("/api/v1/customer/admin").status_code == 403
        assert looker.delete("/api/v1/customer/isp-unknown").status_code == 404


def test_a_subscriber_never_sees_another(client: TestClient, userman: Userman) -> None:
    # A new subscriber is made by the local superuser (an owner whose parent is itself).
    userman.execute(
        Actor.superuser(), ["customer"], "add", (), {"login": "isp2", "password": "two"}
    )
    client.post("/api/v1/user", json={"username": "mine-only"})
    with logged_in(create_app(userman), "isp2", "two") as other:
        assert other.get("/api/v1/user/mine-only").status_code == 404
        assert "mine-only" not in {u["username"] for u in other.get("/api/v1/user").json()}
        assert other.post("/api/v1/user", json={"username": "theirs"}).status_code == 201
    assert client.get("/api/v1/user/theirs").status_code == 404


def test_log_in_is_required_and_failures_are_limited(userman: Userman) -> None:
    now = [0.0]
    guard = Guard(limit=3, window=60, clock=lambda: now[0])
    with TestClient(create_app(userman, guard=guard)) as anonymous:
        missing = anonymous.get("/api/v1/user")
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"].startswith("Basic")
        for _ in range(3):
            assert anonymous.get("/api/v1/user", auth=("admin", "guess")).status_code == 401
        # Now even the right password waits, and the answer says how long.
        limited = anonymous.get("/api/v1/user", auth=("admin", ""))
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) == 61
        now[0] = 61.0
        assert anonymous.get("/api/v1/user", auth=("admin", "")).status_code == 200


def test_the_interactive_docs_load_nothing_from_outside(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources
    assert all(source.startswith("/static/") for source in sources)
    assert "<script>" not in page.text  # started by a file of ours, under the page's CSP
    for source in sources:
        assert client.get(source).status_code == 200
    assert "validatorUrl: null" in client.get("/static/api-docs.js").text
    assert "http" not in page.text  # no address of another host


def test_a_token_acts_as_its_customer_until_revoked(client: TestClient, userman: Userman) -> None:
    made = client.post("/api/v1/token", json={"name": "monitoring"})
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    assert client.post("/api/v1/token", json={"name": "monitoring"}).status_code == 409
    listed = client.get("/api/v1/token").json()
    assert [entry["name"] for entry in listed] == ["monitoring"]
    assert token not in str(listed)  # only its digest is kept
    with TestClient(create_app(userman)) as bearer:
        headers = {"Authorization": f"Bearer {token}"}
        assert bearer.get("/api/v1/user", headers=headers).status_code == 200
        assert bearer.get("/api/v1/token", headers=headers).json()[0]["last-used"]
        wrong = bearer.get("/api/v1/user", headers={"Authorization": "Bearer umt_nope"})
        assert wrong.status_code == 401
        assert client.delete("/api/v1/token/monitoring").status_code == 204
        assert bearer.get("/api/v1/user", headers=headers).status_code == 401
    assert client.delete("/api/v1/token/monitoring").status_code == 404


@pytest.mark.parametrize(
    ("method", "url", "body", "prop"),
    [
        ("patch", "/api/v1/customer/admin", {"time-zone": "Mars/Base"}, "time-zone"),
        ("patch", "/api/v1/customer/admin", {"time-zone": "+99:00"}, "time-zone"),
        ("post", "/api/v1/profile", {"name": "v1", "price": "1e400"}, "price"),
        ("post", "/api/v1/profile", {"name": "v1", "price": "NaN"}, "price"),
        ("post", "/api/v1/profile", {"name": "v1", "price": -1}, "price"),
        ("post", "/api/v1/user", {"username": "*5"}, "username"),
        ("post", "/api/v1/user", {"username": "v\u202eexe.txt"}, "username"),
        ("post", "/api/v1/user", {"username": "v1", "shared-users": 0}, "shared-users"),
        ("post", "/api/v1/user", {"username": "v1", "comment": "c" * 1001}, "comment"),
        (
            "post",
            "/api/v1/user",
            {"username": "v1", "attributes": "Framed-IP-Address:1.2.3.999"},
            "attributes",
        ),
        ("get", "/api/v1/user/*99999999999999999999999", None, "numbers"),
        ("patch", "/api/v1/user/*99999999999999999999999", {"comment": "x"}, "numbers"),
        ("delete", "/api/v1/user/99999999999999999999999", None, "numbers"),
        ("post", "/api/v1/database/save", {"name": "b" * 300}, "name"),
        ("post", "/api/v1/database/save", {"name": "b\u0000c"}, "name"),
    ],
)
def test_a_value_the_rules_refuse_is_400_naming_it_and_changes_nothing(
    client: TestClient, method: str, url: str, body: object, prop: str
) -> None:
    before = {m: client.get(f"/api/v1/{m}").json() for m in ("customer", "profile", "user")}
    answer = client.request(method.upper(), url, json=body)
    assert (answer.status_code, answer.json().get("property")) == (400, prop), answer.text
    assert answer.json()["error"].startswith(f"failure: {prop}: ")
    after = {m: client.get(f"/api/v1/{m}").json() for m in ("customer", "profile", "user")}
    assert after == before


def test_the_api_documents_each_text_propertys_limit(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()["components"]["schemas"]
    user = schema["UserProperties"]["properties"]
    assert "at most 253 bytes" in user["username"]["description"]
    assert "at most 1000 characters" in user["comment"]["description"]


def test_an_owner_reads_the_certificates_and_changes_none(
    client: TestClient, userman: Userman
) -> None:
    """The installation's certificates (services/certificates.py) over the API: an owner
    prints them and exports a CA for its clients; making one and reading a key are the local
    superuser's, whom the API never is."""
    root = Actor.superuser()
    userman.execute(root, ("certificate",), "add", (), {"name": "ca", "common-name": "CA"})
    printed = client.post("/api/v1/certificate/print")
    assert printed.status_code == 200, printed.text
    [item] = printed.json()["items"]
    assert (item["name"], item["private-key"]) == ("ca", "yes")
    exported = client.post("/api/v1/certificate/export", json={"name": "ca"}).json()
    assert exported["message"].startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE" not in exported["message"]
    for verb, body in (
        ("export", {"name": "ca", "include-key": "yes"}),
        ("add", {"name": "mine", "common-name": "mine"}),
        ("revoke", {}),
    ):
        refused = client.post(f"/api/v1/certificate/{verb}", json=body)
        assert refused.status_code == 403, (verb, refused.text)
        assert "PRIVATE" not in refused.text
    assert len(client.post("/api/v1/certificate/print").json()["items"]) == 1
