r"""The RouterOS command language as a pure parser: a line, a shell argv or an export script in,
`Command(path, verb, positional, args)` out; and `quote_value` for writing exports.

Owns tokenizing (quotes, `\` escapes, `\` line continuation, `#` comments, `;`), menu paths of
both generations (`/tool user-manager user add`, `/user-manager/user/add`, relative to the
console's current menu, `..`) and argv from a shell. Knows nothing of which menus exist (callers
pass `menus`), what a verb does or a property means, files, click or the store.

Out of scope, rejected with a clear error rather than misread: `[find ...]` and other `[ ]`
command substitution, `$variables`, `{ }` blocks. Hex escapes (`\41`) use capital letters, as in
RouterOS, so `\a`, `\b`, `\f` stay the bell, backspace and form-feed escapes; their bytes are
decoded as UTF-8.
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_right
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from userman.core.errors import UsermanError

__all__ = [
    "Command",
    "CommandSyntaxError",
    "ForeignMenuError",
    "Navigate",
    "Word",
    "parse_args",
    "parse_argv",
    "parse_argv_command",
    "parse_command",
    "parse_line",
    "parse_script",
    "quote_value",
    "split_words",
]


class CommandSyntaxError(UsermanError):
    """A command line or script that does not parse; `line` and `column` are 1-based."""

    def __init__(self, message: str, line: int, column: int, text: str = "") -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.message = message
        self.line = line
        self.column = column
        self.text = text  # the source line, for showing a caret under `column`


class ForeignMenuError(CommandSyntaxError):
    """A command of another RouterOS menu (`/ip pool add ...`), which has no place here; `menu`
    is its path as written."""

    def __init__(self, menu: str, line: int, column: int, text: str = "") -> None:
        super().__init__(
            f"{menu!r} is not a User Manager menu "
            "(paths start with /tool user-manager or /user-manager)",
            line,
            column,
            text,
        )
        self.menu = menu


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a command: `name=value` (name set) or a positional word (name None).

    `bare` is True when the word had no quotes and no escapes: only bare words can name a
    menu or a verb.
    """

    name: str | None
    value: str
    line: int
    column: int
    bare: bool = True


@dataclass(frozen=True, slots=True)
class Command:
    """`profile limitation add name=x` -> path ("profile", "limitation"), verb "add".

    `path` is relative to the User Manager root (no `/tool user-manager` prefix); `args` keeps
    the order given and is read-only; `line` is where the command starts in its script.
    """

    path: tuple[str, ...]
    verb: str
    positional: tuple[str, ...] = ()
    args: Mapping[str, str] = field(default_factory=dict, hash=False)
    line: int = field(default=1, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", MappingProxyType(dict(self.args)))


@dataclass(frozen=True, slots=True)
class Navigate:
    """A line that names a menu and nothing else (`/tool user-manager user`): go there."""

    path: tuple[str, ...]


# -- tokenizing ------------------------------------------------------------------------------

_NAME_RE = re.compile(r"[A-Za-z0-9._-]+")
_VERB_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_ESCAPES = {
    '"': '"',
    "\\": "\\",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "$": "$",
    "?": "?",
    "_": " ",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}
_HEX_DIGITS = "0123456789ABCDEF"
_UNSUPPORTED = {
    "[": "commands in [ ] (such as [find ...]) are not supported; address the item by its name",
    "]": "unexpected ']'",
    "{": "blocks { } are not supported",
    "}": "unexpected '}'",
    "$": "variables ($name) are not supported; write \\$ for a dollar sign",
}
_WORD_END = " \t\r\n;"
# Runs of characters that stand for themselves, taken at once (a script of 200,000 lines).
_PLAIN = re.compile(r'[^ \t\r\n;"\\=\[\]{}$]+')
_PLAIN_QUOTED = re.compile(r'[^"\\\n$]+')
# A whole word with nothing to unquote or unescape: `name=value` or a bare word.
_SIMPLE_WORD = re.compile(
    r'(?:([A-Za-z0-9._-]+)=([^ \t\r\n;"\\\[\]{}$]*)|([^ \t\r\n;"\\=\[\]{}$]+))(?=[ \t\r\n;]|\Z)'
)


class _Scanner:
    """Splits RouterOS text into statements of words, keeping 1-based line and column."""

    def __init__(self, text: str, *, single_line: bool) -> None:
        self.text = text
        self.single_line = single_line
        self.pos = 0
        self.line_starts = [0, *(m.end() for m in re.finditer("\n", text))]
        if not text.isascii():
            # A console line or argv read in a C locale keeps undecodable octets as lone
            # surrogates: refused here, as the word they would be in could not be stored.
            try:
                text.encode()
            except UnicodeEncodeError as exc:
                raise self.error("an octet that is not UTF-8 text", exc.start) from None

    def error(self, message: str, pos: int) -> CommandSyntaxError:
        line, column = self.where(pos)
        return CommandSyntaxError(message, line, column, self.source(line))

    def source(self, line: int) -> str:
        """The text of 1-based `line`, without its line break."""
        start = self.line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start : end if end >= 0 else len(self.text)].rstrip("\r")

    def where(self, pos: int) -> tuple[int, int]:
        line = bisect_right(self.line_starts, pos)
        return line, pos - self.line_starts[line - 1] + 1

    def statements(self) -> list[list[Word]]:
        text = self.text
        out: list[list[Word]] = []
        current: list[Word] = []
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t\r":
                self.pos += 1
            elif char in "\n;":
                if self.single_line:
                    what = "a new line" if char == "\n" else "';'"
                    raise self.error(f"{what} starts another command; give one", self.pos)
                if current:
                    out.append(current)
                current = []
                self.pos += 1
            elif char == "#" and not current:
                end = text.find("\n", self.pos)
                self.pos = end if end >= 0 else len(text)
            elif char == "\\" and (after := self.continuation(self.pos)) is not None:
                self.pos = after
            else:
                current.append(self.word())
        if current:
            out.append(current)
        return out

    def continuation(self, pos: int) -> int | None:
        """Where text resumes after a `\\` that ends its line at `pos`, or None if it does not."""
        text = self.text
        if text.startswith("\r\n", pos + 1):
            after = pos + 3
        elif text.startswith("\n", pos + 1):
            after = pos + 2
        elif pos + 1 == len(text):
            if self.single_line:
                raise self.error("the line ends with '\\': write the command on one line", pos)
            return pos + 1
        else:
            return None
        if self.single_line:
            raise self.error("a new line starts another command; give one", after - 1)
        while after < len(text) and text[after] in " \t":
            after += 1
        return after

    def word(self) -> Word:
        text, start = self.text, self.pos
        simple = _SIMPLE_WORD.match(text, start)
        if simple is not None:
            self.pos = simple.end()
            line, column = self.where(start)
            named, value, alone = simple.groups()
            return Word(named, value if alone is None else alone, line, column, True)
        buf = bytearray()
        name: str | None = None
        bare = True
        while self.pos < len(text):
            plain = _PLAIN.match(text, self.pos)
            if plain is not None:
                buf += plain.group().encode()
                self.pos = plain.end()
                continue
            char = text[self.pos]
            if char in _WORD_END:
                break
            if char == '"':
                bare = False
                self.quoted(buf)
            elif char == "\\":
                after = self.continuation(self.pos)
                if after is not None:
                    self.pos = after
                else:
                    bare = False
                    self.escape(buf)
            elif char in _UNSUPPORTED:
                raise self.error(_UNSUPPORTED[char], self.pos)
            elif char == "=" and name is None and bare:
                name = buf.decode()
                if not name:
                    raise self.error("a property name is missing before '='", self.pos)
                if not _NAME_RE.fullmatch(name):
                    raise self.error(f"{name!r} is not a property name", start)
                buf.clear()
                self.pos += 1
            else:
                buf += char.encode()
                self.pos += 1
        try:
            value = buf.decode()
        except UnicodeDecodeError:
            raise self.error("the hex escapes in this word are not UTF-8 text", start) from None
        line, column = self.where(start)
        return Word(name, value, line, column, bare)

    def quoted(self, buf: bytearray) -> None:
        text, opening = self.text, self.pos
        self.pos += 1
        while True:
            plain = _PLAIN_QUOTED.match(text, self.pos)
            if plain is not None:
                buf += plain.group().encode()
                self.pos = plain.end()
            if self.pos >= len(text) or text[self.pos] == "\n":
                raise self.error("this quote is never closed", opening)
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                return
            if char == "\\":
                after = self.continuation(self.pos)
                if after is not None:
                    self.pos = after
                else:
                    self.escape(buf)
            elif char == "$":
                raise self.error(_UNSUPPORTED["$"], self.pos)
            else:
                buf += char.encode()
                self.pos += 1

    def escape(self, buf: bytearray) -> None:
        text, pos = self.text, self.pos
        nxt = text[pos + 1 : pos + 2]
        if nxt in _ESCAPES:
            buf += _ESCAPES[nxt].encode()
            self.pos += 2
        elif len(text) > pos + 2 and nxt in _HEX_DIGITS and text[pos + 2] in _HEX_DIGITS:
            buf.append(int(text[pos + 1 : pos + 3], 16))
            self.pos += 3
        else:
            raise self.error(
                f"unknown escape '\\{nxt}' (known: \\\" \\\\ \\n \\r \\t \\_ \\$ \\? "
                "and two capital hex digits such as \\41)",
                pos,
            )


def split_words(line: str) -> list[Word]:
    """The words of one command line; a blank line or a `#` comment gives []."""
    return [w for s in _Scanner(line.rstrip("\r\n"), single_line=True).statements() for w in s]


# -- arguments -------------------------------------------------------------------------------


def parse_args(words: Sequence[Word], text: str = "") -> tuple[tuple[str, ...], dict[str, str]]:
    """Positional words and `name=value` arguments, in order; a repeated name is an error."""
    positional: list[str] = []
    args: dict[str, str] = {}
    for word in words:
        if word.name is None:
            positional.append(word.value)
        elif word.name in args:
            raise CommandSyntaxError(
                f"{word.name} is given more than once", word.line, word.column, text
            )
        else:
            args[word.name] = word.value
    return tuple(positional), args


def _argv_words(argv: Sequence[str]) -> tuple[list[Word], str]:
    text = " ".join(argv)
    words: list[Word] = []
    column = 1
    for item in argv:
        name, sep, value = item.partition("=")
        if not sep:
            words.append(Word(None, item, 1, column))
        elif not name:
            raise CommandSyntaxError("a property name is missing before '='", 1, column, text)
        elif not _NAME_RE.fullmatch(name):
            raise CommandSyntaxError(f"{name!r} is not a property name", 1, column, text)
        else:
            words.append(Word(name, value, 1, column))
        column += len(item) + 1
    return words, text


def parse_argv(argv: Sequence[str]) -> tuple[tuple[str, ...], dict[str, str]]:
    """Positional words and arguments from words a shell already split (no unquoting here)."""
    words, text = _argv_words(argv)
    return parse_args(words, text)


# -- menu paths ------------------------------------------------------------------------------

_PREFIXES = (("tool", "user-manager"), ("user-manager",))


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a statement points: a menu path, the verb (None for a menu alone) and the rest."""

    path: tuple[str, ...]
    verb: str | None
    rest: tuple[Word, ...]
    foreign: bool = False


def _target(
    words: Sequence[Word], menus: Collection[tuple[str, ...]], menu_path: tuple[str, ...], text: str
) -> _Target:
    known = menus if isinstance(menus, frozenset) else frozenset(tuple(m) for m in menus)
    lead = 0
    while lead < len(words) and words[lead].name is None and words[lead].bare:
        lead += 1
    absolute = lead > 0 and words[0].value.startswith("/")
    segments = [(seg, i) for i in range(lead) for seg in words[i].value.split("/") if seg]
    path = [] if absolute else list(menu_path)
    k = 0
    if not path:
        names = tuple(seg for seg, _ in segments[:2])
        prefix = next((p for p in _PREFIXES if names[: len(p)] == p), None)
        if prefix is not None:
            k = len(prefix)
        elif absolute and segments:
            return _Target((), None, tuple(words), foreign=True)
    for j in range(k, len(segments)):
        seg, i = segments[j]
        if seg == "..":
            if path:
                path.pop()
        elif (*path, seg) in known:
            path.append(seg)
        else:
            verb = words[i]
            if j + 1 < len(segments) and segments[j + 1][1] == i:
                raise CommandSyntaxError(
                    f"{verb.value!r} goes past the command {seg!r}", verb.line, verb.column, text
                )
            if not _VERB_RE.fullmatch(seg):
                raise CommandSyntaxError(
                    f"{seg!r} is neither a menu nor a command", verb.line, verb.column, text
                )
            return _Target(tuple(path), seg, tuple(words[i + 1 :]))
    return _Target(tuple(path), None, tuple(words[lead:]))


def _resolve(words: Sequence[Word], target: _Target, text: str) -> Command | Navigate:
    first = words[0]
    if target.foreign:
        # The words before the first name=value: the menu, and the command if one is given.
        lead = [w.value for w in itertools.takewhile(lambda w: w.name is None and w.bare, words)]
        raise ForeignMenuError(" ".join(lead), first.line, first.column, text)
    if target.verb is None:
        if target.rest:
            word = target.rest[0]
            shown = f"{word.name}=" if word.name is not None else repr(word.value)
            raise CommandSyntaxError(
                f"a command (such as add, set or print) must come before {shown}",
                word.line,
                word.column,
                text,
            )
        return Navigate(target.path)
    positional, args = parse_args(target.rest, text)
    return Command(target.path, target.verb, positional, args, line=first.line)


def parse_line(
    line: str, menu_path: tuple[str, ...] = (), *, menus: Collection[tuple[str, ...]]
) -> Command | Navigate | None:
    """A console line: a Command, a Navigate (a menu alone), or None (blank or a comment)."""
    words = split_words(line)
    if not words:
        return None
    return _resolve(words, _target(words, menus, menu_path, line), line)


def parse_command(
    line: str, menu_path: tuple[str, ...] = (), *, menus: Collection[tuple[str, ...]]
) -> Command:
    """One command, relative to `menu_path` unless it starts with `/`:
    `add name=x`, `/tool user-manager user add ...`, `/user-manager/user/add ...`."""
    result = parse_line(line, menu_path, menus=menus)
    if result is None:
        raise CommandSyntaxError("no command given", 1, 1, line)
    if isinstance(result, Navigate):
        raise CommandSyntaxError(
            "a menu alone: give a command such as add, set or print", 1, len(line) + 1, line
        )
    return result


def parse_argv_command(
    argv: Sequence[str], menu_path: tuple[str, ...] = (), *, menus: Collection[tuple[str, ...]]
) -> Command:
    """A command from words a shell already split: `user add username=test password=test`."""
    words, text = _argv_words(argv)
    result = _resolve(words, _target(words, menus, menu_path, text), text) if words else None
    if not isinstance(result, Command):
        raise CommandSyntaxError(
            "no command given (such as add, set or print)", 1, len(text) + 1, text
        )
    return result


def parse_script(
    text: str, menus: Collection[tuple[str, ...]], *, skip_foreign: bool = False
) -> list[Command]:
    """The commands of a RouterOS export or script, in order.

    A menu alone on a line (`/tool user-manager user`) sets the menu for the lines after it.
    With `skip_foreign`, sections and commands of other RouterOS menus (`/ip pool ...`) are
    skipped instead of being an error; a foreign line without `name=value` arguments is taken
    for a section header, so the relative lines after it are skipped too.
    """
    scanner = _Scanner(text, single_line=False)
    menus = frozenset(tuple(menu) for menu in menus)  # once, not per line
    commands: list[Command] = []
    current: tuple[str, ...] | None = ()  # None: inside a foreign section being skipped
    for words in scanner.statements():
        if current is None and not words[0].value.startswith("/"):
            continue
        try:
            target = _target(words, menus, current or (), "")
            if target.foreign and skip_foreign:
                if all(w.bare and w.name is None for w in words):
                    current = None
                continue
            result = _resolve(words, target, "")
        except ForeignMenuError as err:
            source = scanner.source(err.line)
            raise ForeignMenuError(err.menu, err.line, err.column, source) from None
        except CommandSyntaxError as err:
            raise CommandSyntaxError(
                err.message, err.line, err.column, scanner.source(err.line)
            ) from None
        if isinstance(result, Navigate):
            current = result.path
        else:
            commands.append(result)
    return commands


# -- writing ---------------------------------------------------------------------------------

_SAFE_RE = re.compile(r"[A-Za-z0-9._:,@+*/%-]+")
_QUOTED_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "$": "\\$",
    "?": "\\?",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def quote_value(value: str) -> str:
    """`value` as an exporter writes it: bare when that is safe, else in quotes with escapes.

    Printable characters stay as they are; control characters become `\\XX` hex escapes of
    their UTF-8 bytes. `split_words` reads the result back as `value`.
    """
    if _SAFE_RE.fullmatch(value):
        return value
    out = []
    for char in value:
        if char in _QUOTED_ESCAPES:
            out.append(_QUOTED_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        else:
            out.extend(f"\\{byte:02X}" for byte in char.encode())
    return '"' + "".join(out) + '"'
