"""Data at rest through the use cases: the policy in memory and a PAP decision read sealed
passwords and secrets; history and backups keep them sealed; `key rotate` (docs/security.md)."""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

import inmemory
from support import run
from userman.core.errors import InvalidValueError
from userman.radius.packet import Code, decode
from userman.services import Actor, Userman

ROOT = Actor.superuser()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Userman]:
    userman = inmemory.make_app(tmp_path)
    inmemory.do(userman, "user create-and-activate-profile", "test", profile="p")
    yield userman
    userman.close()


def raw(app: Userman, sql: str) -> list[str]:
    with app.database.engine.connect() as connection:
        return list(connection.execute(text(sql)).scalars())


def test_the_policy_and_a_pap_decision_read_sealed_values(app: Userman) -> None:
    assert raw(app, 'SELECT password FROM "user"')[0].startswith("enc1:")
    assert raw(app, "SELECT shared_secret FROM router")[0].startswith("enc1:")
    app.policy.load()
    state = app.policy.user(1, "test")
    assert state is not None
    assert state.user.password == "test"
    _, data = inmemory.access_request("test", "test")
    _, sent = inmemory.exchange(app, data)  # the router's secret opened to check and sign
    [(reply, _, _)] = sent
    assert decode(reply, inmemory.D).code is Code.ACCESS_ACCEPT
    _, data = inmemory.access_request("test", "wrong")
    _, sent = inmemory.exchange(app, data)
    assert decode(sent[0][0], inmemory.D).code is Code.ACCESS_REJECT


def test_print_shows_the_clear_password_and_history_keeps_it_sealed(app: Userman) -> None:
    run(app, ROOT, "user set", "test", password="second")
    [item] = run(app, ROOT, "user print", "show-sensitive").items
    assert item.json["password"] == "second"
    history = " ".join(raw(app, "SELECT changes FROM history"))
    assert "second" not in history
    assert '"password": "enc1:' in history
    run(app, ROOT, "history undo")
    app.policy.load()
    state = app.policy.user(1, "test")
    assert state is not None
    assert state.user.password == "test"
    run(app, ROOT, "history redo")
    assert run(app, ROOT, "user print", "show-sensitive").items[0].json["password"] == "second"


def test_undo_refuses_a_password_whose_key_was_forgotten(app: Userman) -> None:
    run(app, ROOT, "user set", "test", password="second")
    app.rotate_key()
    outcome = run(app, ROOT, "history undo")
    assert "changed since" in str(outcome.error)  # sealed again: not as the entry left it


def test_a_backup_is_private_and_holds_no_clear_password(app: Userman, tmp_path: Path) -> None:
    run(app, ROOT, "database save", name="b")
    path = app.backup_dir / "b.umb"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(app.backup_dir.stat().st_mode) == 0o700
    document = json.loads(path.read_text())
    [user] = document["tables"]["user"]
    [router] = document["tables"]["router"]
    assert user["password"].startswith("enc1:")
    assert router["shared_secret"].startswith("enc1:")
    run(app, ROOT, "user set", "test", password="changed")
    run(app, ROOT, "database load", name="b")
    assert run(app, ROOT, "user print", "show-sensitive").items[0].json["password"] == "test"


def test_a_backup_loads_only_where_its_key_is(app: Userman, tmp_path: Path) -> None:
    run(app, ROOT, "database save", name="b")
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other = inmemory.make_app(other_dir)
    try:
        other.backup_dir.mkdir()
        shutil.copy(app.backup_dir / "b.umb", other.backup_dir / "b.umb")
        with pytest.raises(InvalidValueError, match=r"sealed with key [0-9a-f]+, which the key"):
            run(other, ROOT, "database load", name="b")
        assert run(other, ROOT, "user print", "show-sensitive").items[0].json["password"] == "test"
        # The key's line added to the other key file (which seals with its own first line).
        lines = (tmp_path / "userman.db.key").read_text()
        key_file = other_dir / "userman.db.key"
        key_file.write_text(key_file.read_text() + lines)
        run(other, ROOT, "database load", name="b")
        assert run(other, ROOT, "user print", "show-sensitive").items[0].json["password"] == "test"
    finally:
        other.close()


def test_key_rotate_keeps_the_server_answering(app: Userman) -> None:
    app.policy.load()
    key_id, count = app.rotate_key()
    assert count == 2  # the user's password, the router's secret
    assert raw(app, 'SELECT password FROM "user"')[0].startswith(f"enc1:{key_id}:")
    app.policy.refresh()
    _, data = inmemory.access_request("test", "test")
    _, sent = inmemory.exchange(app, data)
    assert decode(sent[0][0], inmemory.D).code is Code.ACCESS_ACCEPT


def test_a_password_or_secret_too_long_to_seal_is_refused(app: Userman) -> None:
    with pytest.raises(InvalidValueError, match=r"at most 128\)"):  # RFC 2865 5.2
        run(app, ROOT, "user set", "test", password="é" * 77)
    with pytest.raises(InvalidValueError, match=r"at most 152\)"):  # what fits sealed
        run(app, ROOT, "router set", "r", **{"shared-secret": "s" * 153})
    run(app, ROOT, "user set", "test", password="p" * 128)
    run(app, ROOT, "router set", "r", **{"shared-secret": "s" * 152})
