"""The CLI's tests: `run(*words)` runs one `userman` command in-process on a database of the
test's own (a copy of the prepared one), asserting success unless `ok=False`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from prepared import copy_sqlite
from userman.cli.main import cli


@pytest.fixture
def run(tmp_path: Path, sqlite_template: Path):  # type: ignore[no-untyped-def]
    url = copy_sqlite(sqlite_template, tmp_path / "cli.db")
    runner = CliRunner()

    def invoke(*words: str, ok: bool = True) -> Result:
        result = runner.invoke(cli, ["--db", url, *words], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    return invoke
