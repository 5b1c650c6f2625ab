"""/userman/web-sessions without a browser: a change must carry the session's CSRF token, and
a customer ends only its own sessions (another's number is answered as one already ended)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from userman.services import Actor, Userman
from userman.web.app import create_app

ROOT = Actor.superuser()


@pytest.fixture
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Userman]:
    userman = Userman(f"sqlite:///{tmp_path_factory.mktemp('ws') / 'userman.db'}")
    userman.prepare()
    for login in ("mine", "other"):
        args = {"login": login, "password": "pw", "parent": "admin", "permissions": "read-only"}
        userman.execute(ROOT, ("customer",), "add", (), args)
    yield userman
    userman.close()


def logged_in(client: TestClient, login: str) -> str:
    """Log in; the page's CSRF token."""
    form = client.get("/userman/login")
    csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    done = client.post("/userman/login", data={"csrf": csrf, "login": login, "password": "pw"})
    assert done.status_code == 303, done.text
    page = client.get("/userman/web-sessions")
    assert page.status_code == 200
    return page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def test_ending_a_session_needs_the_csrf_token_and_only_ends_ones_own(app: Userman) -> None:
    web = create_app(app)
    with (
        TestClient(web, follow_redirects=False) as mine,
        TestClient(web, follow_redirects=False) as other,
    ):
        csrf = logged_in(mine, "mine")
        logged_in(other, "other")
        [own] = app.web_sessions(app.actor("mine"))
        [theirs] = app.web_sessions(app.actor("other"))
        # Without the token (another site's form): refused, nothing ended.
        refused = mine.post(f"/userman/web-sessions/{own.id}/end", data={})
        assert refused.status_code == 403
        refused = mine.post("/userman/web-sessions/others/end", data={"csrf": "forged"})
        assert refused.status_code == 403
        # Another customer's session: as if ended already, and it is not.
        answer = mine.post(f"/userman/web-sessions/{theirs.id}/end", data={"csrf": csrf})
        assert (answer.status_code, answer.headers["location"]) == (
            303,
            "/userman/web-sessions?ended=0",
        )
        assert len(app.web_sessions(app.actor("other"))) == 1
        assert "other" not in mine.get("/userman/web-sessions").text.replace("others/end", "")
        # Its own: logged out.
        answer = mine.post(f"/userman/web-sessions/{own.id}/end", data={"csrf": csrf})
        assert answer.headers["location"] == "/userman/login"
        assert app.web_sessions(app.actor("mine")) == []
        assert mine.get("/userman/web-sessions").status_code == 303


def test_the_page_marks_this_session_and_has_no_inline_script(app: Userman) -> None:
    with TestClient(create_app(app), follow_redirects=False) as client:
        logged_in(client, "mine")
        page = client.get("/userman/web-sessions")
        assert page.text.count('aria-current="true"') == 1
        assert "<script>" not in page.text
        assert "onclick" not in page.text
        assert "unsafe-inline" not in page.headers["content-security-policy"].split("script-src")[1]
