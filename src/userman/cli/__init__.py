"""The `userman` command. `main` sends a menu command to a running server when there is one
(cli/remote.py) and loads the rest of the CLI only when it has to run the command itself."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    from userman.cli.remote import forward  # noqa: PLC0415 - keep the start-up light

    words = list(argv) if argv is not None else sys.argv[1:]
    code = forward(words)
    if code is not None:
        sys.exit(code)
    from userman.cli.main import main as run_here  # noqa: PLC0415 - the whole CLI

    run_here(words)
