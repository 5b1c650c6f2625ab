"""Verbs that change something print nothing on success, as RouterOS's do: no stray `Flags:`
legend after `set`, `remove`, `enable`, `disable`, `create-and-activate-profile`,
`reset-counters`. `print` and `find` show the legend even when nothing matches.

The control socket's answers are the same (tests/e2e/test_served_cli.py), since the server runs
the same `run_words`."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from prepared import copy_sqlite
from userman.cli.console import run_console
from userman.cli.main import cli
from userman.services import Userman

SETUP = (
    "profile add name=p1",
    "router add name=r1 ip-address=10.0.0.2 shared-secret=12345",
    "user add username=u1 password=p",
)
# Each prints nothing and exits 0.
QUIET = (
    "user set u1 shared-users=2",
    "user disable u1",
    "user enable u1",
    "user create-and-activate-profile u1 profile=p1",
    "router set r1 comment=edge",
    "router disable r1",
    "router enable r1",
    "router reset-counters r1",
    "profile set p1 price=3",
    "user remove u1",
)


@pytest.fixture
def url(tmp_path: Path, sqlite_template: Path) -> str:
    return copy_sqlite(sqlite_template, tmp_path / "quiet.db")


def invoke(url: str, line: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", url, *line.split()], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_changing_verbs_print_nothing_on_the_command_line(url: str) -> None:
    for line in SETUP:
        assert invoke(url, line)[0] == 0
    for line in QUIET:
        assert invoke(url, line) == (0, "", ""), line


def test_print_and_find_show_the_legend_even_when_nothing_matches(url: str) -> None:
    assert invoke(url, "user print") == (0, "Flags: X - disabled\n", "")
    assert invoke(url, "user find username=nobody") == (0, "Flags: X - disabled\n", "")
    assert invoke(url, "session print") == (0, "Flags: A - active\n", "")
    # What a menu without items exports is nothing at all, not a legend.
    assert invoke(url, "user export") == (0, "", "")


def test_changing_verbs_print_nothing_in_the_console(url: str) -> None:
    app = Userman(url)
    app.prepare()
    out: list[str] = []
    err: list[str] = []
    script = "\n".join([*SETUP, *QUIET, "/tool user-manager user", "print count-only"])
    try:
        status = run_console(
            app,
            app.actor(None),
            io.StringIO(script + "\n"),
            echo=out.append,
            fail=err.append,
            interactive=False,
        )
    finally:
        app.close()
    assert (status, err) == (0, [])
    # The adds show what they made; the quiet verbs nothing; the count last.
    assert not any(text.startswith("Flags:") and "\n" not in text for text in out)
    assert out[-1] == "0"
    assert len(out) == len(SETUP) + 1
