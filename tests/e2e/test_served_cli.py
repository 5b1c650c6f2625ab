"""The command line through a running server's control socket (cli/remote.py) behaves as it
does on its own: verbs that change something print nothing (RouterOS prints nothing), the
global options may follow the command, and help is the CLI's own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from served import NO_DATABASE_LAYER, Server, run_userman, send_start, through_socket

pytestmark = pytest.mark.e2e


def test_changing_verbs_print_nothing_through_the_socket(manual_server: Server) -> None:
    db = ("--db", manual_server.db_url)
    send_start(manual_server.acct_port, session="quiet1")
    for line in ("profile add name=quiet", "user add username=quiet password=p"):
        assert through_socket(*db, *line.split()).returncode == 0  # each shows what it made
    for line in (
        "user set quiet shared-users=2",
        "user disable quiet",
        "user enable quiet",
        "user create-and-activate-profile quiet profile=quiet",
        "router set router1 comment=edge",
        "router reset-counters router1",
        "session close-session 0",
        "user remove quiet",
    ):
        result = through_socket(*db, *line.split())
        assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), line
    assert through_socket(*db, "session", "print", "count-only").stdout == "1\n"


def test_global_options_after_the_command_through_the_socket(manual_server: Server) -> None:
    result = through_socket("user", "print", "--json", "--db", manual_server.db_url)
    assert result.returncode == 0, result.stderr
    assert "test" in [user["username"] for user in json.loads(result.stdout)]
    refused = through_socket(
        "user", "remove", "test", "--as", "nobody", "--db", manual_server.db_url
    )
    assert (refused.returncode, refused.stderr) == (1, "failure: customer: no such item (nobody)\n")


def test_help_is_the_clis_own_while_a_server_runs(manual_server: Server) -> None:
    result = run_userman("--db", manual_server.db_url, "user", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: userman user VERB")
    unknown = through_socket("--db", manual_server.db_url, "user", "frobnicate")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("failure: no such command: frobnicate (user has: add, ")


def test_a_file_named_through_the_socket_is_read_where_the_command_was_typed(
    manual_server: Server, tmp_path: Path
) -> None:
    """`certificate import file=` reads the file in the server's process: a relative path is
    made absolute by the command line first (remote.FILE_PROPERTIES)."""
    db = ("--db", manual_server.db_url)
    program = ("-c", NO_DATABASE_LAYER)  # through the socket only
    made = run_userman(*db, "certificate", "add", "name=far-ca", "common-name=Far", program=program)
    assert made.returncode == 0, made.stderr
    exported = run_userman(*db, "certificate", "export", "far-ca", "include-key", program=program)
    assert exported.returncode == 0, exported.stderr
    cert, _, key = exported.stdout.partition("-----BEGIN PRIVATE KEY-----")
    (tmp_path / "far.pem").write_text(cert)
    (tmp_path / "far.key").write_text("-----BEGIN PRIVATE KEY-----" + key)
    words = ("certificate", "import", "name=again", "file=far.pem", "key-file=far.key")
    imported = run_userman(*db, *words, program=program, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "private-key: yes" in imported.stdout
