"""Inputs bench/fuzz.py found that the RouterOS parser did not answer with its own error.

Lone surrogates: a console line or argv read in a C locale keeps each octet that is not UTF-8
as one (Python's 'surrogateescape'). The scanner raised UnicodeEncodeError on them inside
quotes or escaped words, and took them silently in a plain word (whose value then could not be
exported: quote_value raised). Now each is a CommandSyntaxError at the octet's column.
"""

from __future__ import annotations

import pytest

from userman.cli.script import ScriptError, parse_rsc
from userman.cli.syntax import CommandSyntaxError, parse_line, parse_script, split_words
from userman.services import MENU_PATHS

UNDECODABLE = b"\xff".decode("utf-8", "surrogateescape")  # '\udcff'


@pytest.mark.parametrize(
    ("line", "column"),
    [
        (f'add name="a{UNDECODABLE}"', 12),  # inside quotes (raised UnicodeEncodeError)
        (f"add name=a\\_{UNDECODABLE}", 13),  # in a word with an escape (the same)
        (f"add name={UNDECODABLE}", 10),  # a plain word (taken, then not exportable)
        (f"{UNDECODABLE}", 1),
        ("add name=\ud83d\ude00", 10),  # a pair of lone surrogates is not a character either
    ],
)
def test_undecodable_octets_are_a_syntax_error(line: str, column: int) -> None:
    with pytest.raises(CommandSyntaxError) as caught:
        split_words(line)
    assert caught.value.message == "an octet that is not UTF-8 text"
    assert (caught.value.line, caught.value.column) == (1, column)
    with pytest.raises(CommandSyntaxError):
        parse_line(line, ("user",), menus=MENU_PATHS)


def test_undecodable_octets_in_a_script_name_their_line() -> None:
    text = f'/tool user-manager user\nadd customer=admin username="x{UNDECODABLE}"\n'
    with pytest.raises(CommandSyntaxError) as caught:
        parse_script(text, MENU_PATHS)
    assert (caught.value.line, caught.value.column) == (2, 31)
    with pytest.raises(ScriptError, match="line 2, column 31: an octet that is not UTF-8 text"):
        parse_rsc(text)


def test_text_that_is_utf8_still_parses() -> None:
    (word,) = split_words('"Zoë ✓ 😀"')
    assert word.value == "Zoë ✓ 😀"
