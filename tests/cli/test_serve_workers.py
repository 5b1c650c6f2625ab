"""`serve --workers N|auto`: the value is read before anything is bound or opened, and a bad one
is a usage error that says what is wanted."""

from __future__ import annotations

import os

import click
import pytest
from click.testing import CliRunner

from userman.cli.main import cli
from userman.cli.serve import Workers


def test_auto_is_one_worker_a_core() -> None:
    assert Workers().convert("auto", None, None) == len(os.sched_getaffinity(0))
    assert Workers().convert("AUTO", None, None) == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(("text", "workers"), [("1", 1), ("2", 2), (" 8 ", 8), ("64", 64)])
def test_a_number_of_workers(text: str, workers: int) -> None:
    assert Workers().convert(text, None, None) == workers


@pytest.mark.parametrize("text", ["0", "-1", "65", "two", "1.5", "", "auto2"])
def test_a_bad_number_of_workers_says_what_is_wanted(text: str) -> None:
    with pytest.raises(click.BadParameter, match="a number of processes from 1 to 64, or auto"):
        Workers().convert(text, None, None)


def test_a_bad_number_of_workers_stops_serve_with_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["--db", "sqlite://", "serve", "--workers", "0"])
    assert result.exit_code == 2
    assert "Invalid value for '--workers': '0': a number of processes from 1 to 64" in result.output


def test_workers_need_a_database_they_can_share() -> None:
    """An in-memory database is one process's own: N workers would each have another."""
    result = CliRunner().invoke(cli, ["--db", "sqlite://", "serve", "--workers", "2"])
    assert result.exit_code == 2
    assert "--workers 2 needs a database the workers share" in result.output


def test_the_help_says_what_workers_do() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert "--workers [N|auto]" in result.output
    assert "--worker " not in result.output  # the parent's, hidden
