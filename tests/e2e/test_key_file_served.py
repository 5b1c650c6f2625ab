"""`userman serve --key-file PATH`: the server opens the passwords it decides with from a key
file that is not beside the database (docs/security.md, "Data at rest"), and a menu command it
answers through its control socket uses the server's key."""

from __future__ import annotations

from pathlib import Path

import pytest

from served import configure, radclient_send, start_server, stop_server

pytestmark = pytest.mark.e2e


def test_serve_takes_the_key_file_option(
    radclient: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("USERMAN_KEY_FILE", raising=False)
    db_url = f"sqlite:///{tmp_path / 'userman.db'}"
    key = tmp_path / "elsewhere.key"
    configure(
        db_url,
        "router add customer=admin ip-address=127.0.0.1 name=r1 shared-secret=12345",
        "user add customer=admin username=test password=test",
        "profile add name=p owner=admin starts-at=now",
        "user create-and-activate-profile test customer=admin profile=p",
        options=("--key-file", str(key)),
    )
    assert key.exists()
    assert not (tmp_path / "userman.db.key").exists()
    server = start_server(db_url, tmp_path / "serve.log", "--key-file", str(key))
    try:
        answer = radclient_send(radclient, server, "auth", "User-Name=test,User-Password=test")
        assert "Received Access-Accept" in answer.stdout
        # No --key-file here: the server answers it, with its own.
        [user] = server.json("user", "print", "show-sensitive")
        assert user["password"] == "test"
    finally:
        stop_server(server)
    assert not (tmp_path / "userman.db.key").exists()
