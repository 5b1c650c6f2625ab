"""The regular expressions users give (`print where PROP~REGEX`, the API's `?where=`): checked
and matched here, and nowhere else, by RE2, whose matching time grows linearly with the text
whatever the pattern (it never backtracks), so no pattern can stall the process. The price:
backreferences, lookaround, atomic groups and possessive repeats cannot be expressed; they get a
clear error, as a pattern that does not parse does. Pure: knows no menus, store or adapters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import re2

from userman.core.errors import InvalidValueError

__all__ = ["MAX_LENGTH", "Pattern", "compile_pattern"]

MAX_LENGTH = 1000  # characters of one pattern

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print every refused pattern on stderr
_OPTIONS.never_capture = True  # only "does it match" is asked: groups are never read


@dataclass(frozen=True, slots=True)
class Pattern:
    """A checked pattern; `search(text)` says whether it matches anywhere in `text`."""

    source: str
    _regexp: Any  # re2's compiled expression (the package has no type information)

    def search(self, text: str) -> bool:
        # A lone surrogate (from a command line in another encoding) must not raise.
        return self._regexp.search(text.encode("utf-8", "surrogatepass")) is not None


def compile_pattern(source: str, prop: str = "value") -> Pattern:
    """`source` checked and compiled, or InvalidValueError(prop, why not)."""
    if len(source) > MAX_LENGTH:
        raise InvalidValueError(prop, f"a regular expression is at most {MAX_LENGTH} characters")
    try:
        return Pattern(source, re2.compile(source.encode("utf-8", "surrogatepass"), _OPTIONS))
    except re2.error as error:
        raise InvalidValueError(prop, _reason(_message(error))) from None


def _message(error: Exception) -> str:
    """RE2's own words (`missing ): (`), which it gives as bytes."""
    text = error.args[0] if error.args else ""
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _reason(message: str) -> str:
    what, _, part = message.partition(": ")
    if what == "pattern too large - compile failed":
        return "a regular expression too large for the matcher (fewer or smaller repeats)"
    if what == "invalid repetition size":
        return f"not a regular expression ~ can use: {part}: a repeat is at most 1000 times"
    why = _unsupported(part)
    if why is not None:
        return f"not a regular expression ~ can use: {part}: {why}"
    return f"not a regular expression: {message}"


def _unsupported(part: str) -> str | None:
    """Why RE2 refuses what Python's `re` (and so a user's habit) accepts, by the part of the
    pattern RE2's error names; None for any other error."""
    backtracking = "backtracking, which can take exponential time"
    if part == "(?P" or (len(part) == 2 and part[0] == "\\" and part[1] in "123456789"):
        return f"a backreference (\\1, (?P=name)) needs {backtracking}"
    if part.startswith(("(?=", "(?!", "(?<=", "(?<!")):
        return f"lookahead and lookbehind ((?=, (?!, (?<=, (?<!) need {backtracking}"
    if part.startswith("(?>") or part.endswith(("*+", "++", "?+", "}+")):
        return f"an atomic group or a possessive repeat needs {backtracking}"
    if part == "\\Z":
        return "write $ for the end of the text"
    return None
