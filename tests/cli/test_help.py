"""Help lists what is really there: `userman MENU --help`, `userman help [MENU]`, `userman
--help` and the console's `help` / `?` show a menu's verbs and properties from its one
declaration (services/menus.py), and a verb a menu does not have says which verbs it has."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from prepared import copy_sqlite
from userman.cli.console import run_console
from userman.cli.main import cli
from userman.core.errors import UnknownCommandError, UsermanError
from userman.services import MENU_PATHS, MENUS, SPECIAL, Userman, verbs_of
from userman.services.commands import GENERIC
from userman.services.subscriber_settings import SETTINGS

NO_DATABASE = "sqlite:////nonexistent-folder/userman.db"  # help never opens it


def invoke(*argv: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(argv), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def verbs_line(text: str) -> list[str]:
    """The verbs a menu's help lists (its `Verbs:` line, wrapped)."""
    found = re.search(r"^Verbs:\s+(.*?)\n(?=\S)", text, re.S | re.M)
    assert found, text
    return [verb.strip() for verb in found.group(1).split(",")]


@pytest.mark.parametrize("path", MENU_PATHS, ids=" ".join)
def test_menu_help_lists_its_verbs_and_properties(path: tuple[str, ...]) -> None:
    code, out, err = invoke("--db", NO_DATABASE, *path, "--help")
    assert (code, err) == (0, "")
    assert out.startswith(f"Usage: userman {' '.join(path)} VERB")
    name = " ".join(path)
    assert verbs_line(out) == list(verbs_of(name))
    menu = MENUS.get({"limitation": "profile limitation"}.get(name, name))
    if menu is not None:
        for prop in menu.props:
            if not prop.hidden:
                assert re.search(rf"^  {re.escape(prop.name)}  ", out, re.M), prop.name
    # The same text as `userman help MENU`.
    assert invoke("help", *path)[1] in out


def test_menus_that_print_say_what_where_takes() -> None:
    out = invoke("user", "--help")[1]
    where = re.search(r"^Where:\s+(.*?)\n(?=\S)", out, re.S | re.M)
    assert where, out
    text = " ".join(where.group(1).split())
    assert "where PROP~REGEX" in text
    assert "RE2 syntax" in text
    assert "no backreferences or lookaround" in text
    assert "at most 1000 characters" in text
    assert "Where:" not in invoke("database", "--help")[1]  # its print takes no where


def test_properties_show_their_kind_and_default() -> None:
    out = invoke("user", "--help")[1]
    assert re.search(r"^  shared-users +number \| unlimited; default unlimited$", out, re.M)
    assert re.search(
        r"^  password +string; at most 128 bytes; shown with show-sensitive$", out, re.M
    )
    assert re.search(r"^  comment +string; at most 1000 characters$", out, re.M)
    assert re.search(r"^  uptime-used +time; read-only$", out, re.M)
    assert re.search(r"^  customer +a customer \(login or \*ID\)$", out, re.M)
    limitation = invoke("profile", "limitation", "--help")[1]
    assert "rate-limit-burst-treshold-rx" in limitation
    assert re.search(r"^  uptime-limit +time; default 0s$", limitation, re.M)


def test_settings_and_database_show_what_they_have() -> None:
    settings = invoke("settings", "--help")[1]
    assert verbs_line(settings) == ["print", "set", "export"]
    for setting in SETTINGS:
        assert f"  {setting.name} " in settings
    database = invoke("database", "--help")[1]
    assert verbs_line(database) == ["save", "load", "print", "set", "prune", "optimize"]
    assert re.search(r"^  keep-sessions +set, print: time \(at least 1d\)", database, re.M)
    assert re.search(r"^  allow-private-destinations +set, print: yes \| no", database, re.M)


def test_the_overview_lists_every_menu_with_its_real_verbs() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    for command in ("serve", "console", "import", "export", "help"):
        assert re.search(rf"^  {command} ", out, re.M)
    menus = out.split("Menus and their verbs")[1]
    assert re.search(r"^  settings +print, set, export$", menus, re.M)
    assert re.search(r"^  database +save, load, print, set, prune, optimize$", menus, re.M)
    for name in (*MENUS, "settings", "database"):
        listed = re.search(rf"^  {re.escape(name)}  +(.*?)\n(?=  \S)", menus, re.S | re.M)
        assert listed, name
        assert [verb.strip() for verb in listed.group(1).split(",")] == list(verbs_of(name))
    assert invoke("help")[1] == out


def test_help_on_a_command_and_on_nothing() -> None:
    code, out, _ = invoke("help", "serve")
    assert code == 0
    assert "--auth-port" in out
    code, _, err = invoke("help", "nothing")
    assert code == 2
    assert "no such menu or command: nothing" in err


def test_a_menu_without_a_verb_says_which_it_has() -> None:
    code, _, err = invoke("--db", NO_DATABASE, "router")
    assert code == 2
    assert f"say what to do with router: {', '.join(verbs_of('router'))}" in err


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path):  # type: ignore[no-untyped-def]
    app = Userman(copy_sqlite(sqlite_template, tmp_path / "help.db"))
    app.prepare()
    yield app
    app.close()


def test_a_verb_the_menu_lacks_says_which_it_has(app: Userman, tmp_path: Path) -> None:
    url = app.database.url
    code, out, err = invoke("--db", url, "user", "frobnicate")
    assert (code, out) == (1, "")
    assert (
        err == f"failure: no such command: frobnicate (user has: {', '.join(verbs_of('user'))})\n"
    )
    code, _, err = invoke("--db", url, "history", "enable", "0")
    assert code == 1
    assert err.startswith("failure: no such command: enable (history has: ")


@pytest.mark.parametrize("path", MENU_PATHS, ids=" ".join)
def test_the_listed_verbs_are_exactly_the_accepted_ones(
    app: Userman, path: tuple[str, ...]
) -> None:
    """Every verb runs or fails for another reason than its name; every other is refused."""
    name = " ".join(path)
    candidates = {*GENERIC, *(verb for _, verb in SPECIAL), "frobnicate"}
    refused: dict[str, tuple[str, ...]] = {}
    for verb in sorted(candidates):
        try:
            app.execute(app.actor(None), path, verb, ("*FFFF",))
        except UnknownCommandError as error:
            refused[verb] = error.verbs
        except UsermanError:
            pass  # a verb it has, refused for its arguments
    assert set(refused) == candidates - set(verbs_of(name))
    assert set(refused.values()) <= {verbs_of(name)}


def test_the_console_answers_help_and_question_mark(app: Userman) -> None:
    out: list[str] = []
    err: list[str] = []
    lines = "help\nuser\n?\nhelp group\n..\nprofile limitation ?\nhelp /user-manager log\nhelp x\n"
    status = run_console(
        app, app.actor(None), io.StringIO(lines), echo=out.append, fail=err.append,
        interactive=False,
    )  # fmt: skip
    assert status == 1
    assert err == ["failure: no such menu: x"]
    top, user, group, limitation, log = out
    assert re.search(r"^  database +save, load, print, set, prune, optimize$", top, re.M)
    assert "`..` goes up" in top
    assert user.startswith("/tool user-manager user\n")
    assert verbs_line(user) == list(verbs_of("user"))
    assert "  caller-id-bind-on-first-use  yes | no; default no" in user
    assert group.startswith("/tool user-manager user group\n")
    assert "rate-limit-priority" in limitation
    assert verbs_line(log) == list(verbs_of("log"))
