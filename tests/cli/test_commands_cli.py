"""The `userman` command in-process (click's CliRunner): the manual's lines, print, --json, and
`failure: <property>: <why>` with exit code 1 and nothing changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from prepared import copy_sqlite
from userman.cli.main import cli


@pytest.fixture
def run(tmp_path: Path, sqlite_template: Path):  # type: ignore[no-untyped-def]
    url = copy_sqlite(sqlite_template, tmp_path / "cli.db")
    runner = CliRunner()

    def invoke(line: str, *, ok: bool = True):  # type: ignore[no-untyped-def]
        result = runner.invoke(cli, ["--db", url, *line.split()], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    return invoke


def test_the_manual_configuration_example(run) -> None:  # type: ignore[no-untyped-def]
    run("customer set admin password=adminpassword")
    run("profile add name=profile1")
    run(
        "router add customer=admin ip-address=127.0.0.1 log=auth-fail name=router1 "
        "shared-secret=12345"
    )
    run("user add customer=admin disabled=no password=test shared-users=1 username=test")
    run("user create-and-activate-profile test customer=admin profile=profile1")
    users = run("user print").stdout
    assert 'username="test"' in users
    assert "shared-users=1" in users
    assert "password" not in users
    routers = run("router print").stdout
    assert routers.startswith("Flags: X - disabled")
    assert 'name="router1"' in routers
    assert "12345" not in routers
    assert "12345" in run("router print show-sensitive").stdout
    assert 'login="admin"' in run("customer print").stdout
    assert run("session print").stdout.strip() == "Flags: A - active"


def test_json_print_is_an_array_keyed_by_property_names(run) -> None:  # type: ignore[no-untyped-def]
    run("profile add name=p1 validity=1d02:30:00")
    [profile] = json.loads(run("--json profile print").stdout)
    assert profile["name"] == "p1"
    assert profile["validity"] == "1d2h30m"
    assert profile[".id"].startswith("*")
    assert json.loads(run("--json session print").stdout) == []
    assert json.loads(run("--json log print").stdout) == []


def test_terse_prints_one_line_per_item(run) -> None:  # type: ignore[no-untyped-def]
    run("profile add name=p1")
    run("profile add name=p2")
    lines = run("profile print terse").stdout.strip().splitlines()
    assert len(lines) == 2
    assert 'name="p1"' in lines[0]


def test_a_bad_value_is_a_failure_that_changes_nothing(run) -> None:  # type: ignore[no-untyped-def]
    result = run("user add username=a shared-users=lots", ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith("failure: shared-users: ")
    assert run("--json user print").stdout.strip() == "[]"
    unknown = run("user add username=a colour=red", ok=False)
    assert unknown.stderr.strip() == "failure: colour: unknown property of user"


def test_a_pattern_that_needs_backtracking_is_a_failure(run) -> None:  # type: ignore[no-untyped-def]
    run("user add username=a comment=aaaa")
    result = run(r"user print where comment~^(a)\1", ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith("failure: comment: not a regular expression ~ can use: ")
    assert "a backreference" in result.stderr
    lookahead = run("user print where username~a(?!b)", ok=False)
    assert lookahead.stderr.startswith("failure: username: ")
    assert "lookahead" in lookahead.stderr
    assert 'username="a"' in run("user print where comment~^(a+)+$").stdout


def test_an_unknown_menu_or_verb_is_refused(run) -> None:  # type: ignore[no-untyped-def]
    assert run("nothing print", ok=False).exit_code == 2
    result = run("user fly", ok=False)
    assert result.exit_code == 1
    assert "fly" in result.stderr


def test_quoted_values_from_the_shell(run) -> None:  # type: ignore[no-untyped-def]
    run("user add username=a first-name=Ann")
    assert json.loads(run("--json user print").stdout)[0]["first-name"] == "Ann"


def test_the_cli_does_not_import_the_server_or_alembic_for_menu_commands(tmp_path: Path) -> None:
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'light.db'}"
    subprocess.run([sys.executable, "-m", "userman", "--db", url, "user", "print"], check=True)
    probe = (
        "import sys\n"
        "from userman.cli.main import main\n"
        "try:\n"
        f"    main(['--db', {url!r}, 'user', 'print'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(','.join(m for m in ('userman.server', 'alembic') if m in sys.modules))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert output.splitlines()[-1] == ""


def test_json_print_carries_the_flags_print_shows(run) -> None:  # type: ignore[no-untyped-def]
    """The manual's history print: "Flags: U - undoable, R - redoable, F - failed". --json
    gives each flag as a boolean named for what it means, from the same test as the letter."""
    run("customer add login=other password=o")  # another subscriber
    run("--as admin profile add name=p1")
    run("--as admin router add name=r1 ip-address=10.0.0.1")
    run("--as admin history undo")
    run("--as other router add name=theirs ip-address=10.0.0.1")
    assert run("--as admin history redo", ok=False).exit_code == 1  # the address is taken
    text = run("--as admin history print").stdout.splitlines()
    assert text[0] == "Flags: U - undoable, R - redoable, F - failed"
    letters = [line[3:7].strip() for line in text[1:] if line[:2].strip().isdigit()]
    entries = json.loads(run("--as admin --json history print").stdout)
    assert letters == ["U", "RF"]
    assert [(e["action"], e["undoable"], e["redoable"], e["failed"]) for e in entries] == [
        ("UMS profile p1 added", True, False, False),
        ("UMS router r1 added", False, True, True),
    ]
    # A flag that is a property already is not repeated: a user's X is its `disabled`.
    run("user add username=u customer=admin disabled=yes")
    [user] = json.loads(run("--json user print").stdout)
    assert user["disabled"] is True
    assert "X" in run("user print").stdout.splitlines()[1]


def test_a_value_the_rules_refuse_is_a_failure_naming_the_property(run) -> None:  # type: ignore[no-untyped-def]
    """docs/security.md, "Input validation": the same rules as the API and the web forms."""
    for line, prop in (
        ("user add username=*5", "username"),
        ("user add username=a,b", "username"),
        ("user add username=a shared-users=0", "shared-users"),
        ("profile add name=12", "name"),
        ("profile add name=p price=1e400", "price"),
        ("customer set admin time-zone=Mars/Base", "time-zone"),
        ("customer set admin time-zone=+99:00", "time-zone"),
        ("user set *99999999999999999999999 comment=x", "numbers"),
    ):
        result = run(line, ok=False)
        assert result.exit_code == 1, line
        assert result.stderr.startswith(f"failure: {prop}: "), (line, result.stderr)
    assert run("--json user print").stdout.strip() == "[]"
    assert run("--json profile print").stdout.strip() == "[]"
    [admin] = json.loads(run("--json customer print").stdout)
    assert admin["time-zone"] == "-00:00"


def test_an_import_is_refused_by_the_same_rules(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`userman import` writes users in bulk (services/bulk.py) and other lines one by one: both
    refuse what the verbs refuse, at its line, and apply nothing."""
    for bad, prop in (
        ('/tool user-manager user\nadd username=ok\nadd username="a\u202eb"', "username"),
        ("/tool user-manager user\nadd username=ok attributes=Session-Timeout:x", "attributes"),
        ("/tool user-manager profile\nadd name=ok\nadd name=p2 price=NaN", "price"),
        ("/tool user-manager customer\nset admin time-zone=+15:00", "time-zone"),
    ):
        script = tmp_path / "bad.rsc"
        script.write_text(bad + "\n")
        result = run(f"import {script}", ok=False)
        assert result.exit_code != 0
        assert f"{prop}: " in result.stderr, (bad, result.stderr)
    assert run("--json user print").stdout.strip() == "[]"
    assert run("--json profile print").stdout.strip() == "[]"


def test_batch_users_refuse_a_prefix_no_username_may_start_with(run) -> None:  # type: ignore[no-untyped-def]
    result = run("user add-batch-users number-of-users=2 username-prefix=*", ok=False)
    assert result.stderr.startswith("failure: username-prefix: ")
    assert run("--json user print").stdout.strip() == "[]"
