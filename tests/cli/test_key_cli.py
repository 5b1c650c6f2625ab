"""`userman key rotate`: a new key seals every password and shared secret (docs/security.md)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from userman.cli.main import cli


def test_rotate_says_the_new_key_and_a_copy_without_its_key_fails_clearly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'u.db'}"
    runner = CliRunner()
    added = runner.invoke(
        cli, ["--db", url, "user", "add", "customer=admin", "username=a", "password=pw"]
    )
    assert added.exit_code == 0, added.output
    rotated = runner.invoke(cli, ["--db", url, "key", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    key_id = (tmp_path / "u.db.key").read_text().split()[0]
    assert rotated.output == f"key {key_id} in {tmp_path / 'u.db.key'}: 1 values sealed again\n"
    shown = runner.invoke(cli, ["--db", url, "user", "print", "show-sensitive", "--json"])
    assert '"password": "pw"' in shown.output
    (tmp_path / "u.db.key").rename(tmp_path / "elsewhere.key")
    lost = runner.invoke(cli, ["--db", url, "user", "print", "show-sensitive"])
    assert lost.exit_code == 1
    assert f"failure: cannot read user.password: it was sealed with key {key_id}" in lost.output
    moved = f"{url}?key_file={tmp_path / 'elsewhere.key'}"
    assert (
        '"password": "pw"'
        in runner.invoke(cli, ["--db", moved, "user", "print", "show-sensitive", "--json"]).output
    )
