"""`userman key rotate`: a new key seals every password and shared secret (docs/security.md)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from userman.cli.argv import hoist
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


def test_key_file_option_puts_the_key_elsewhere_for_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("USERMAN_KEY_FILE", raising=False)
    url = f"sqlite:///{tmp_path / 'u.db'}"
    key = tmp_path / "keys" / "userman.key"
    key.parent.mkdir(mode=0o700)
    runner = CliRunner()
    # Before the command or after it, as --db (cli/argv.py's hoist, which `userman` runs).
    added = runner.invoke(
        cli,
        hoist(["user", "add", "customer=admin", "username=a", "password=pw", "--db", url,
               "--key-file", str(key)]),
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert not (tmp_path / "u.db.key").exists()  # not beside the database
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    shown = runner.invoke(
        cli, ["--db", url, "user", "print", "show-sensitive", "--key-file", str(key)]
    )
    assert "pw" in shown.output
    rotated = runner.invoke(cli, ["--db", url, "key", "rotate", f"--key-file={key}"])
    assert rotated.exit_code == 0, rotated.output
    assert f" in {key}: 1 values sealed again" in rotated.output
    # Without it the passwords cannot be read (a new key file is not made to read with).
    lost = runner.invoke(cli, ["--db", url, "user", "print", "show-sensitive"])
    assert (lost.exit_code, "failure: cannot read user.password") == (1, lost.output[:34])


def test_key_file_given_two_ways_must_be_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'u.db'}"
    runner = CliRunner()
    same = runner.invoke(cli, ["--db", f"{url}?key_file={tmp_path / 'k'}", "--key-file",
                               str(tmp_path / "k"), "user", "print"])  # fmt: skip
    assert same.exit_code == 0, same.output
    two = runner.invoke(cli, ["--db", f"{url}?key_file={tmp_path / 'k'}", "--key-file",
                              str(tmp_path / "other"), "user", "print"])  # fmt: skip
    assert two.exit_code == 1
    assert two.output.startswith(f"failure: two key files given: --key-file {tmp_path / 'other'}")


def test_help_names_the_key_file_option() -> None:
    shown = CliRunner().invoke(cli, ["--help"])
    assert "--key-file PATH" in shown.output
    assert "$USERMAN_KEY_FILE" in shown.output
