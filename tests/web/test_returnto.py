"""Return-to links (web/returnto.py): a `back` or `next` from the request is a path of this site
under the pages it belongs to, or the page's default; on every page that renders or follows one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from userman.services import Userman
from userman.web.app import create_app
from userman.web.returnto import same_site
from web.test_customer_pages import log_in

HOSTILE = [
    "javascript:alert(document.cookie)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "//evil.example/userman",
    "/\\evil.example/userman",
    "/\t/evil.example",
    "/userman\\..\\..\\evil",
    "/userman\n/x",
    "https://evil.example/userman",
    "userman/users",
    "/usermanx",
    "/user/settings",
    "",
    None,
    ["/userman"],
]


@pytest.mark.parametrize("value", HOSTILE)
def test_what_is_not_a_path_of_these_pages_gives_the_default(value: object) -> None:
    assert same_site(value, "/userman/users") == "/userman/users"


@pytest.mark.parametrize(
    "value", ["/userman", "/userman/users/1A", "/userman/users?page=2&sort=name", "/userman#x"]
)
def test_a_path_of_these_pages_is_taken(value: str) -> None:
    assert same_site(value, "/userman/users") == value


def test_another_part_of_the_site_has_its_own_root() -> None:
    assert same_site("/user/settings", "/user", under="/user") == "/user/settings"
    assert same_site("/userman", "/user", under="/user") == "/user"


@pytest.fixture
def admin(userman: Userman) -> Iterator[tuple[TestClient, str]]:
    with TestClient(create_app(userman), follow_redirects=False) as http:
        yield http, log_in(http, "admin", "")


@pytest.mark.parametrize("value", ["javascript:alert(1)", "//evil.example", "/\\evil.example"])
def test_an_item_page_renders_no_hostile_back_link(
    admin: tuple[TestClient, str], value: str
) -> None:
    http, _csrf = admin
    page = http.get("/userman/routers/new", params={"back": value})
    assert page.status_code == 200
    assert "evil" not in page.text
    assert "javascript:" not in page.text
    assert 'href="/userman/routers">Cancel</a>' in page.text


def test_an_item_page_keeps_a_back_link_of_its_own(admin: tuple[TestClient, str]) -> None:
    http, _csrf = admin
    page = http.get("/userman/routers/new", params={"back": "/userman/profiles"})
    assert 'href="/userman/profiles">Cancel</a>' in page.text
    assert '<input type="hidden" name="back" value="/userman/profiles">' in page.text


@pytest.mark.parametrize("value", ["//evil.example", "javascript:alert(1)"])
def test_a_form_does_not_redirect_to_a_hostile_back(
    admin: tuple[TestClient, str], value: str
) -> None:
    http, csrf = admin
    added = http.post(
        "/userman/limitations/new", data={"csrf": csrf, "name": f"l{len(value)}", "back": value}
    )
    assert added.status_code == 303
    assert added.headers["location"].startswith("/userman/limitations/")


@pytest.mark.parametrize("value", ["//evil.example", "/\\evil.example", "javascript:alert(1)"])
def test_the_login_page_does_not_follow_a_hostile_next(userman: Userman, value: str) -> None:
    with TestClient(create_app(userman), follow_redirects=False) as http:
        page = http.get("/userman/login", params={"next": value})
        assert '<input type="hidden" name="next" value="/userman">' in page.text
