"""A user's otp-secret on the web pages and the REST API: a password field, never shown with
the page or the list, shown only on request as the password is; hidden from the API unless
`show-sensitive`."""

from __future__ import annotations

from fastapi.testclient import TestClient

from userman.services import Actor, Userman
from userman.web.app import create_app
from web.test_customer_pages import log_in

ROOT = Actor.superuser()
SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def test_the_otp_secret_is_a_password_field_shown_only_on_request(
    client: TestClient, userman: Userman
) -> None:
    userman.execute(
        ROOT, ["user"], "add", [], {"username": "otp1", "password": "pw", "otp-secret": SECRET}
    )
    ident = userman.execute(ROOT, ["user"], "get", ["otp1"]).items[0].id.removeprefix("*")
    with TestClient(create_app(userman), follow_redirects=False) as browser:
        log_in(browser, "admin", "")
        listed = browser.get("/userman/users").text
        assert "otp1" in listed
        assert SECRET not in listed
        page = browser.get(f"/userman/users/{ident}").text
        assert SECRET not in page
        assert '<input type="password" name="otp-secret"' in page
        assert f"/userman/users/{ident}/secret/otp-secret" in page
        assert "Show the otp secret" in page
        revealed = browser.get(f"/userman/users/{ident}/secret/otp-secret").text
        assert SECRET in revealed
    api = client.get("/api/v1/user").json()
    assert SECRET not in str(api)
    assert SECRET in str(client.get("/api/v1/user?show-sensitive=true").json())
