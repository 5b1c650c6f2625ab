"""`userman web-session print|remove`: the customers' log-ins to the web pages from the shell
(services/web_sessions.py), as GET and DELETE /api/v1/web-session give them to a customer."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner

from userman.cli.main import cli
from userman.services import Actor, Userman


def _sessions(url: str) -> None:
    """Two customers, one web session each."""
    app = Userman(url)
    app.prepare()
    app.execute(Actor.superuser(), ["customer"], "add", (), {"login": "other"})
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    for login in ("admin", "other"):
        actor, fingerprint = app.log_in_session(login, "")
        assert actor.customer_id is not None
        app.start_web_session(
            "customer", actor.customer_id, fingerprint, later, "192.0.2.5", "Firefox"
        )
    app.close()


def test_print_and_remove(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    _sessions(url)
    runner = CliRunner()

    def invoke(*words: str, code: int = 0) -> str:
        result = runner.invoke(cli, ["--db", url, *words], catch_exceptions=False)
        assert result.exit_code == code, result.output + result.stderr
        return result.stdout + result.stderr

    every = json.loads(invoke("web-session", "print", "--json"))
    assert [(s["login"], s["address"], s["agent"]) for s in every] == [
        ("admin", "192.0.2.5", "Firefox"),
        ("other", "192.0.2.5", "Firefox"),
    ]
    assert "other" not in invoke("web-session", "print", "--as", "admin")
    admins = every[0]["id"]
    # A customer ends only its own.
    refused = invoke("web-session", "remove", str(admins), "--as", "other", code=1)
    assert "no such item" in refused
    assert invoke("web-session", "remove", str(admins)) == "1 web session ended\n"
    assert "admin" not in invoke("web-session", "print")
    assert invoke("web-session", "remove", "all", "--as", "other") == "1 web session ended\n"
    assert invoke("web-session", "print") == ""
    assert "session id" in invoke("web-session", "remove", "some", code=2)
