"""`userman console`: the prompt and menu navigation, commands relative to the menu, failures
that keep the console open, completion (the completer called directly), and scripted stdin."""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from prepared import copy_sqlite
from userman.cli.console import Console, completer, history_path, interactive_loop
from userman.cli.main import cli
from userman.services import Actor, Userman


@pytest.fixture
def url(tmp_path: Path, sqlite_template: Path) -> str:
    return copy_sqlite(sqlite_template, tmp_path / "console.db")


@pytest.fixture
def app(url: str) -> Iterator[Userman]:
    userman = Userman(url)
    userman.prepare()
    yield userman
    userman.close()


class Screen:
    """What the console wrote: output lines and failure lines, in order."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.errors: list[str] = []

    def text(self) -> str:
        return "\n".join(self.out)


@pytest.fixture
def screen() -> Screen:
    return Screen()


@pytest.fixture
def console(app: Userman, screen: Screen) -> Console:
    return Console(app, Actor.superuser(), echo=screen.out.append, fail=screen.errors.append)


def test_the_prompt_follows_navigation(console: Console) -> None:
    assert console.prompt == "[admin@userman] /tool user-manager> "
    console.run_line("user")
    assert console.prompt == "[admin@userman] /tool user-manager user> "
    console.run_line("group")
    assert console.path == ("user", "group")
    console.run_line("..")
    assert console.path == ("user",)
    console.run_line("/tool user-manager profile limitation")
    assert console.prompt == "[admin@userman] /tool user-manager profile limitation> "
    console.run_line("/user-manager user-profile")
    assert console.path == ("user-profile",)
    console.run_line("/")
    assert console.path == ()
    console.run_line("profile limitation")
    console.run_line("../..")
    assert console.path == ()


def test_the_prompt_shows_the_customer_acted_as(app: Userman, screen: Screen) -> None:
    sub = {"login": "sub", "parent": "admin", "permissions": "read-write"}
    app.execute(Actor.superuser(), ("customer",), "add", (), sub)
    actor = app.actor("sub")
    console = Console(app, actor, echo=screen.out.append, fail=screen.errors.append)
    assert console.prompt == "[sub@userman] /tool user-manager> "


def test_commands_run_relative_to_the_menu(console: Console, screen: Screen) -> None:
    for line in ("user", "add name=xavier password=p", "add name=yann", "print where name~xa"):
        assert console.run_line(line)
    assert screen.errors == []
    listing = screen.out[-1]
    assert 'username="xavier"' in listing
    assert "yann" not in listing
    console.run_line("/tool user-manager profile")
    console.run_line("add name=p1 validity=1d")
    console.run_line("/tool user-manager user print count-only")
    assert screen.out[-1] == "2"
    console.run_line("/user-manager/user/print terse where name~yann")
    assert screen.out[-1].startswith(" 1 ")  # its number in the whole list, as RouterOS
    assert 'username="yann"' in screen.out[-1]
    assert console.path == ("profile",)
    console.run_line("print")
    assert 'name="p1"' in screen.out[-1]


def test_failures_are_shown_and_the_console_goes_on(console: Console, screen: Screen) -> None:
    console.run_line("user")
    console.run_line("add name=a shared-users=lots")
    console.run_line('add name="unclosed')
    console.run_line("fly")
    console.run_line("/ip address print")
    console.run_line("/")
    console.run_line("print")
    assert len(screen.errors) == 5
    assert all(line.startswith("failure: ") for line in screen.errors)
    assert screen.errors[0].startswith("failure: shared-users: ")
    assert screen.errors[1] == "failure: column 10: this quote is never closed"
    assert "fly" in screen.errors[2]
    assert "not a User Manager menu" in screen.errors[3]
    assert screen.errors[4] == "failure: print: no such menu or command here"
    assert console.failures == 5
    console.run_line("user add name=a")
    console.run_line("user print count-only")
    assert screen.out[-1] == "1"


def test_quit_and_exit_leave(console: Console) -> None:
    assert console.run_line("") is True
    assert console.run_line("# a comment") is True
    assert console.run_line("quit") is False
    assert console.run_line(" exit ") is False
    assert console.run_line("/quit") is False


# -- completion -------------------------------------------------------------------------------


def test_completion_of_menus_and_verbs(console: Console) -> None:
    top = console.candidates("")
    assert {"user", "profile", "router", "customer", "limitation", "quit"} <= set(top)
    assert console.candidates("us") == ["user", "user-group", "user-profile"]
    assert console.candidates("user g") == ["get", "group"]  # the verbs are verbs_of's
    after_user = console.candidates("user ")
    assert {"group", "add", "print", "create-and-activate-profile"} <= set(after_user)
    assert console.candidates("profile li") == ["limitation"]
    assert console.candidates("/tool user-manager profile pro") == ["profile-limitation"]
    assert console.candidates("/u") == ["/user-manager"]
    assert console.candidates("/tool ") == ["user-manager"]
    console.run_line("user")
    assert console.candidates("cr") == ["create-and-activate-profile"]
    assert ".." in console.candidates("")
    assert console.candidates("/user-manager rou") == ["router"]


def test_completion_of_properties_and_values(console: Console) -> None:
    assert console.candidates("user add na") == ["name="]
    assert "username=" in console.candidates("user add ")
    assert "copy-from=" in console.candidates("user add ")
    assert "uptime-used=" not in console.candidates("user add ")
    assert console.candidates("user set x shared-") == ["shared-users="]
    assert console.candidates("user add wireless-enc-algo=a") == ["wireless-enc-algo=aes-ccm"]
    assert console.candidates("router add disabled=") == ["disabled=no", "disabled=yes"]
    assert console.candidates("profile limitation add rate-limit-burst-th") == [
        "rate-limit-burst-threshold-rx=",
        "rate-limit-burst-threshold-tx=",
    ]
    assert console.candidates("user print ") == [
        "brief",
        "count-only",
        "detail",
        "show-sensitive",
        "terse",
        "where",
    ]
    assert "uptime-used=" in console.candidates("user print where ")
    assert console.candidates("router export ") == ["show-sensitive", "terse", "verbose"]
    assert console.candidates("nowhere add ") == []


def test_the_readline_completer_walks_the_candidates(console: Console) -> None:
    complete = completer(console, lambda: "user pr")
    assert complete("pr", 0) == "print"
    assert complete("pr", 1) is None
    words = completer(console, lambda: "router add s")
    assert [words("s", i) for i in range(2)] == ["shared-secret=", None]


# -- reading lines ----------------------------------------------------------------------------


def test_scripted_stdin_has_no_prompt_and_fails_with_status_1(url: str) -> None:
    lines = (
        "user\n"
        "add name=ann password=secret \\\n"
        "    shared-users=2\n"
        "add name=ann\n"
        "/tool user-manager user print terse\n"
        "quit\n"
        "add name=never\n"
    )
    result = CliRunner().invoke(cli, ["--db", url, "console"], input=lines)
    assert result.exit_code == 1
    assert "userman]" not in result.stdout
    assert "shared-users=2" in result.stdout
    assert result.stderr.startswith("failure: username: ")
    listing = CliRunner().invoke(cli, ["--db", url, "--json", "user", "print"]).stdout
    assert [u["username"] for u in json.loads(listing)] == ["ann"]


def test_scripted_stdin_without_failures_exits_0_and_prints_json(url: str) -> None:
    lines = "profile add name=p\n/tool user-manager profile print\n"
    result = CliRunner().invoke(cli, ["--db", url, "--json", "console"], input=lines)
    assert result.exit_code == 0, result.stderr
    printed = result.stdout[result.stdout.index("[") :]
    assert [p["name"] for p in json.loads(printed)] == ["p"]


def test_the_interactive_loop_keeps_history(
    console: Console, screen: Screen, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = tmp_path / "history"
    monkeypatch.setenv("USERMAN_HISTORY", str(history))
    assert history_path() == history
    typed = iter(["user", "add name=zed \\", "password=z", "print count-only"])
    prompts: list[str] = []

    def fake_input(prompt: str = "") -> str:
        prompts.append(prompt)
        try:
            return next(typed)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr(builtins, "input", fake_input)
    interactive_loop(console)
    assert prompts == [
        "[admin@userman] /tool user-manager> ",
        "[admin@userman] /tool user-manager user> ",
        "... ",
        "[admin@userman] /tool user-manager user> ",
        "[admin@userman] /tool user-manager user> ",
    ]
    assert screen.errors == []
    assert screen.out[-1] == "1"
    assert history.exists()


def test_history_defaults_to_the_home_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("USERMAN_HISTORY", raising=False)
    assert history_path() == Path.home() / ".userman_history"
