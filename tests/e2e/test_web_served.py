"""The web port of a real `userman serve`: the REST API answers beside RADIUS, over HTTP and
HTTPS, and the web port stops with the server."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from base64 import b64encode
from pathlib import Path

import pytest

from served import Server, configure, start_server, stop_server
from smtpbox import make_certificate

pytestmark = pytest.mark.e2e


def api(
    url: str, path: str, *, password: str = "", context: ssl.SSLContext | None = None
) -> object:
    request = urllib.request.Request(url + path)
    credentials = b64encode(f"admin:{password}".encode()).decode()
    request.add_header("Authorization", f"Basic {credentials}")
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        return json.load(response)


def test_the_api_answers_beside_radius(manual_server: Server) -> None:
    # The manual's example sets admin's password to adminpassword.
    users = api(manual_server.http_url, "/api/v1/user", password="adminpassword")
    assert isinstance(users, list)
    assert "test" in {user["username"] for user in users}


def test_https_with_a_certificate(tmp_path: Path) -> None:
    certificate = make_certificate(tmp_path)
    cert, key = certificate.cert, certificate.key
    db_url = f"sqlite:///{tmp_path / 'userman.db'}"
    configure(db_url, "user add customer=admin username=secure")
    server = start_server(
        db_url, tmp_path / "serve.log", "--tls-cert", str(cert), "--tls-key", str(key)
    )
    try:
        context = ssl.create_default_context(cafile=str(cert))
        https = f"https://127.0.0.1:{server.http_port}"
        users = api(https, "/api/v1/user", context=context)
        assert [user["username"] for user in users] == ["secure"]  # type: ignore[union-attr]
    finally:
        stop_server(server)
    assert server.process.returncode == 0


def test_the_web_limits_are_the_operators(tmp_path: Path) -> None:
    # --http-max-body: a POST announcing more is refused before it is read (web/limits.py).
    db_url = f"sqlite:///{tmp_path / 'userman.db'}"
    server = start_server(db_url, tmp_path / "serve.log", "--http-max-body", "1k")
    try:
        request = urllib.request.Request(
            f"{server.http_url}/api/v1/user", data=b"x" * 1025, method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 413
        assert json.load(refused.value) == {
            "error": "failure: request body too large (the limit is 1024 bytes)"
        }
    finally:
        stop_server(server)
