"""The global options `--db`, `--json` and `--as` are accepted after the command as well as
before it, as the README's usage lines write them (`userman serve --db URL ...`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from userman.cli.argv import hoist
from userman.cli.main import cli


@pytest.mark.parametrize(
    ("argv", "hoisted"),
    [
        (["user", "print"], ["user", "print"]),
        (["--db", "U", "user", "print"], ["--db", "U", "user", "print"]),
        (["user", "print", "--json"], ["--json", "user", "print"]),
        (["user", "add", "name=a", "--db", "U"], ["--db", "U", "user", "add", "name=a"]),
        (["serve", "--db=U", "--bind", "x"], ["--db=U", "serve", "--bind", "x"]),
        (["--as", "a", "console", "--db", "U"], ["--as", "a", "--db", "U", "console"]),
        (["user", "add", "comment=--json"], ["user", "add", "comment=--json"]),
        (["import", "--", "--db"], ["import", "--", "--db"]),
        (["export", "--db"], ["--db", "export"]),  # click says the value is missing
        (["serve", "--key-file", "K", "--bind", "x"], ["--key-file", "K", "serve", "--bind", "x"]),
        (["key", "rotate", "--key-file=K"], ["--key-file=K", "key", "rotate"]),
    ],
)
def test_hoist_moves_the_global_options_first(argv: list[str], hoisted: list[str]) -> None:
    assert hoist(argv) == hoisted


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'after.db'}"


def invoke(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(argv), input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_menu_commands_take_them_after_the_command(url: str) -> None:
    assert invoke("user", "add", "username=a", "--db", url)[0] == 0
    code, out, _ = invoke("user", "print", "--json", f"--db={url}")
    assert code == 0
    assert [user["username"] for user in json.loads(out)] == ["a"]


def test_export_and_console_take_them_after_the_command(url: str) -> None:
    invoke(
        "--db",
        url,
        "customer",
        "add",
        "login=sub",
        "parent=admin",
        "permissions=read-only",
        "access=parent-profiles",
    )
    invoke("--db", url, "profile", "add", "name=p1")
    code, out, _ = invoke("export", "--db", url)
    assert code == 0
    assert "add name=p1" in out
    # As the read-only customer: it may look, not change.
    code, out, err = invoke("console", "--as", "sub", "--db", url, stdin="profile print\n")
    assert (code, err) == (0, "")
    assert 'name="p1"' in out
    code, _, err = invoke("console", "--db", url, "--as", "sub", stdin="profile add name=p2\n")
    assert code == 1
    assert err.startswith("failure: not permitted")


def test_import_takes_them_after_the_file(url: str, tmp_path: Path) -> None:
    script = tmp_path / "one.rsc"
    script.write_text("/tool user-manager profile\nadd name=imported\n")
    assert invoke("import", str(script), "--db", url)[0] == 0
    assert "imported" in invoke("--db", url, "profile", "print")[1]
