"""Where the global options may stand: `--db`, `--key-file`, `--json` and `--as` before the
command or after it (`userman serve --db URL --key-file PATH`, `userman user print --json`), for
every command alike.

`hoist` moves them to the front, where click and the control socket's client (cli/remote.py)
read them. It is unambiguous: a RouterOS word never starts with `--`, and no command has an
option of these names. `--` ends the options, as everywhere. Imports nothing: it runs before
the rest of the CLI is loaded.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["GLOBAL_OPTIONS", "hoist"]

# The global options, and whether each takes a value.
GLOBAL_OPTIONS = {"--db": True, "--key-file": True, "--as": True, "--json": False}


def hoist(argv: Sequence[str]) -> list[str]:
    """`argv` with the global options (and their values) first, in the order written, and the
    other words after them in theirs."""
    front: list[str] = []
    rest: list[str] = []
    words = list(argv)
    index = 0
    while index < len(words):
        word = words[index]
        if word == "--":
            rest.extend(words[index:])
            break
        name, equals, _ = word.partition("=")
        takes_value = GLOBAL_OPTIONS.get(name)
        if takes_value is None:
            rest.append(word)
        elif takes_value and not equals and index + 1 < len(words):
            front.extend(words[index : index + 2])
            index += 1
        else:
            front.append(word)  # a flag, `--db=URL`, or `--db` at the end for click to explain
        index += 1
    return front + rest
