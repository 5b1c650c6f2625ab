"""The patterns of `where PROP~REGEX` (core/patterns.py): what they match, what they refuse and
why, and that the patterns that make a backtracking matcher take exponential time answer right
on long texts (in a child process with a generous limit, so a regression fails, not hangs).

Source of the syntax: https://github.com/google/re2/wiki/Syntax
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from userman.core.errors import InvalidValueError
from userman.core.patterns import MAX_LENGTH, compile_pattern


@pytest.mark.parametrize(
    ("pattern", "text", "found"),
    [
        ("", "anything", True),  # the empty pattern matches every value
        ("^p", "p1", True),  # a search, anchored only where the pattern says
        ("^p", "xp", False),
        ("x", "p1x", True),
        ("^p1$", "p1", True),
        ("^p1$", "p12", False),
        ("P1", "p1", False),  # case matters, as in RouterOS
        ("(?i)P1", "p1", True),
        ("^(alice|bob)$", "bob", True),
        ("^[0-9]+$", "123", True),
        ("^[[:digit:]]+$", "123", True),  # POSIX classes, as RouterOS has them
        ("^[[:alpha:]]+$", "ab1", False),
        (r"^\d{2}:\d{2}$", "08:30", True),
        (r"\bvip\b", "a vip user", True),
        ("^caf.$", "café", True),  # one character, however many bytes
        ("é", "CAFÉ", False),
        (r"10\.0\.0\.", "10.0.0.2", True),
        (r"10\.0\.0\.", "10a0b0c2", False),
        ("c$", "a\udcffc", True),  # a lone surrogate (a command line's stray byte): no error
    ],
)
def test_search(pattern: str, text: str, found: bool) -> None:
    assert compile_pattern(pattern).search(text) is found


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"^(a)\1$", "backreference"),
        ("(?P<x>a)(?P=x)", "backreference"),
        ("a(?=b)", "lookahead and lookbehind"),
        ("a(?!b)", "lookahead and lookbehind"),
        ("(?<=a)b", "lookahead and lookbehind"),
        ("(?<!a)b", "lookahead and lookbehind"),
        ("(?>a+)b", "atomic group"),
        ("a++b", "possessive repeat"),
        ("a{2}+", "possessive repeat"),
        (r"a\Z", r"\Z: write $"),
        ("a{1001}", "at most 1000 times"),
        (r"\pL{1000}", "too large"),
        ("(", "not a regular expression: missing )"),
        ("[a", "not a regular expression: missing ]"),
        ("*a", "not a regular expression: no argument for repetition operator"),
        ("x" * (MAX_LENGTH + 1), f"at most {MAX_LENGTH} characters"),
    ],
)
def test_refused_with_the_property_and_why(pattern: str, why: str) -> None:
    with pytest.raises(InvalidValueError) as refused:
        compile_pattern(pattern, "comment")
    assert refused.value.prop == "comment"
    assert why in refused.value.reason
    assert "regular expression" in refused.value.reason


def test_the_longest_pattern_allowed() -> None:
    assert compile_pattern("a" * MAX_LENGTH).search("a" * MAX_LENGTH)


# Each makes a backtracking matcher (Python's `re`) take time exponential in the text's length:
# `^(a+)+$` took 4.3 s on 26 characters, doubling with each more.
PATHOLOGICAL = [
    ("^(a+)+$", "a" * 100_000 + "!", False),
    ("^(a+)+$", "a" * 100_000, True),
    ("(a|aa)+$", "a" * 100_000 + "b", False),
    ("(a|aa)+$", "b" + "a" * 100_000, True),
    ("(.*a){20}", "a" * 19 + "b" * 100_000, False),
    ("(.*a){20}", "b" * 100_000 + "a" * 20, True),
    ("^(\\w+\\s?)*$", "word " * 20_000 + "!", False),
]


def test_pathological_patterns_answer_right_on_long_texts() -> None:
    script = (
        "import json, sys\n"
        "from userman.core.patterns import compile_pattern\n"
        "cases = json.loads(sys.stdin.read())\n"
        "print(json.dumps([compile_pattern(p).search(t) for p, t, _ in cases]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(PATHOLOGICAL),
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [found for _, _, found in PATHOLOGICAL]
