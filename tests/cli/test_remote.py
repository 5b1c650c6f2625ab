"""Where the control socket is and which command lines go through it (cli/remote.py)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from userman.cli import remote
from userman.cli.control import Control, Owner, claim
from userman.services import default_url


@pytest.fixture(autouse=True)
def _no_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(remote.ENV, raising=False)


def test_the_client_knows_the_services_default_database() -> None:
    # The client cannot import the services (that is the point), so it keeps its own copy.
    assert default_url() == remote.DEFAULT_URL


def test_a_relative_and_an_absolute_sqlite_url_share_one_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = remote.socket_path("sqlite:///data/userman.db")
    assert relative == remote.socket_path(f"sqlite:///{tmp_path}/data/userman.db")
    assert relative == f"{tmp_path}/data/userman.db.sock"


def test_postgresql_spellings_share_one_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/7")
    paths = {
        remote.socket_path(url)
        for url in (
            "postgresql://u@127.0.0.1/db",
            "postgres://u@127.0.0.1/db",
            "postgresql+psycopg://u@127.0.0.1/db",
        )
    }
    [path] = paths
    assert path is not None
    assert path.startswith("/run/user/7/userman-")
    assert path != remote.socket_path("postgresql://u@127.0.0.1/other")


def test_a_long_sqlite_path_puts_the_socket_in_the_runtime_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/7")
    path = remote.socket_path("sqlite:////" + "x" * 120 + "/userman.db")
    assert path is not None
    assert path.startswith("/run/user/7/userman-")
    assert len(path) <= remote.MAX_PATH


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_a_database_in_memory_has_no_socket(url: str) -> None:
    assert remote.socket_path(url) is None


def test_the_environment_names_or_turns_off_the_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(remote.ENV, "/srv/userman.sock")
    assert remote.socket_path("sqlite:///a.db") == "/srv/userman.sock"
    monkeypatch.setenv(remote.ENV, "off")
    assert remote.socket_path("sqlite:///a.db") is None


@pytest.mark.parametrize(
    "argv",
    [
        ["serve"],
        ["console"],
        ["import", "x.rsc"],
        ["export"],
        ["--help"],
        ["--version"],
        ["--db"],
        [],
        ["--json"],
    ],
)
def test_only_menu_commands_go_to_the_server(argv: list[str]) -> None:
    assert remote.forward(argv) is None


def test_without_a_server_the_command_runs_here(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    assert remote.forward(["--db", url, "user", "print"]) is None
    # A socket file left behind by a server that is gone: connecting is refused.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(tmp_path / "none.db.sock"))
    stale.close()
    assert remote.forward([f"--db={url}", "--json", "user", "print"]) is None


def test_a_new_server_takes_over_a_socket_left_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "run" / "u.sock")
    monkeypatch.setenv(remote.ENV, path)
    first = claim("sqlite:///userman.db")
    assert isinstance(first, Control)  # the folder is made, private
    assert os.stat(tmp_path / "run").st_mode & 0o777 == 0o700
    first.close()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)  # as a server killed without a word leaves it
    stale.close()
    taken = claim("sqlite:///userman.db")
    assert isinstance(taken, Control)
    try:
        # Another server has it: leave its socket alone, and say whose it is.
        assert claim("sqlite:///userman.db") == Owner(path, None)  # it answers no ping yet
        assert os.path.exists(path)
    finally:
        taken.close()
    assert not os.path.exists(path)
