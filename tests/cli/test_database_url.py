"""A `--db` that cannot be used is one line `failure: ...` and exit status 1, with no traceback,
for every command: a menu command, console, import, export and serve. It says what is wrong:
the kind of database (and which are supported), a malformed URL, the PostgreSQL server that
does not answer or refuses (host, port and its reason), the SQLite folder that does not exist
(only the default userman-data/ is made on its own). A URL's password is never shown."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from served import run_userman
from userman.cli.main import cli

SUPPORTED = "(use sqlite:///PATH or postgresql://USER@HOST/NAME)"
COMMANDS = (("user", "print"), ("console",), ("import", "-"), ("export",))


def closed_port() -> int:
    """A loopback TCP port nothing listens on: a connection there is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def fails(url: str, command: tuple[str, ...] = ("user", "print")) -> str:
    """What the command says on stderr, having checked it is one failure line and exit 1."""
    result = CliRunner().invoke(cli, [*command, "--db", url], input="")
    assert result.exit_code == 1, (command, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("failure: ")
    return result.stderr.removeprefix("failure: ").rstrip("\n")


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mysql://root@localhost/um", f'unsupported database "mysql://" {SUPPORTED}'),
        ("http://example.com/", f'unsupported database "http://" {SUPPORTED}'),
        ("userman.db", f'not a database URL: "userman.db" {SUPPORTED}'),
        ("sqlite:userman.db", f'not a database URL: "sqlite:userman.db" {SUPPORTED}'),
        (
            "postgresql+psycopg2://u@h/d",
            f'unsupported driver "postgresql+psycopg2://" {SUPPORTED[:-1]}: psycopg 3)',
        ),
        ("postgresql://u:secret@h:port/d", 'malformed database URL "postgresql://u:***@h:port/d"'),
        (
            "postgresql://u@h:70000/d",
            'malformed database URL "postgresql://u@h:70000/d": port 70000 (1-65535)',
        ),
    ],
)
def test_a_url_of_another_kind_or_malformed(url: str, said: str, command: tuple[str, ...]) -> None:
    assert fails(url, command) == said


def test_an_sqlite_file_in_a_folder_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "userman.db"
    for command in COMMANDS:
        assert fails(f"sqlite:///{missing}", command) == (
            f"cannot open SQLite database {missing}: the folder {missing.parent} does not exist "
            "(only the default userman-data/ is made on its own)"
        )
    assert not missing.parent.exists()


def test_an_sqlite_file_that_cannot_be_opened(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.db"
    folder.mkdir()
    said = fails(f"sqlite:///{folder}")
    assert said == f"cannot open SQLite database {folder}: unable to open database file"


def test_only_the_default_folder_is_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["user", "print", "count-only"], env={"USERMAN_DB": ""})
    assert (result.exit_code, result.stdout) == (0, "0\n")
    assert (tmp_path / "userman-data" / "userman.db").is_file()


def test_a_postgresql_server_that_does_not_answer() -> None:
    port = closed_port()
    for command in COMMANDS:
        said = fails(f"postgresql://userman:secret@127.0.0.1:{port}/userman", command)
        assert said == f"cannot connect to PostgreSQL at 127.0.0.1 port {port}: connection refused"


def test_a_postgresql_server_that_refuses(postgres_url: str) -> None:
    """The real server at 127.0.0.1:5432 (or $USERMAN_TEST_POSTGRES), asked for a database it
    does not have."""
    url = postgres_url.rsplit("/", 1)[0] + "/userman_no_such_database"
    for command in COMMANDS:
        said = fails(url, command)
        assert said.startswith("cannot connect to PostgreSQL at ")
        assert said.endswith(': database "userman_no_such_database" does not exist')


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that takes connections and never says a word, as a server that hangs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_a_postgresql_server_that_hangs_is_given_up_on(silent_server: int) -> None:
    said = fails(f"postgresql://userman@127.0.0.1:{silent_server}/userman")
    assert said == (
        f"cannot connect to PostgreSQL at 127.0.0.1 port {silent_server}: "
        "connection timeout expired"
    )


def test_serve_says_it_in_one_line_before_it_listens(tmp_path: Path) -> None:
    """As an operator runs it: a subprocess, the options after the command."""
    for url, said in (
        ("mysql://root@localhost/um", f'unsupported database "mysql://" {SUPPORTED}'),
        (
            f"postgresql://userman@127.0.0.1:{closed_port()}/userman",
            "connection refused",
        ),
        (f"sqlite:///{tmp_path / 'nowhere' / 'userman.db'}", "does not exist"),
    ):
        result = run_userman("serve", "--db", url, "--bind", "127.0.0.1")
        assert result.returncode == 1
        assert result.stderr.startswith("failure: ")
        assert result.stderr.count("\n") == 1, result.stderr
        assert said in result.stderr
