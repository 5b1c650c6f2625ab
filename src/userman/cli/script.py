r"""RouterOS scripts in and out: `userman import FILE.rsc` and `userman export`.

Import parses the whole script first (menu header lines of both generations, `\` continuation,
quotes and escapes, comments), then applies every command with one `execute_script`: all or
nothing, its many user and user-profile lines written in bulk. Any failure is a `ScriptError`
at a line and column: a syntax error where the parser stopped, a service error at the word of
the property it names (else column 1). A RouterOS
setting that has no meaning here (`database set db-path=`) is left out with a one-line note.
Export asks each menu's `export` verb, in dependency order, in one transaction. Knows nothing of
the store.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from userman.cli.render import render_export
from userman.cli.syntax import (
    Command,
    CommandSyntaxError,
    ForeignMenuError,
    parse_script,
    quote_value,
    split_words,
)
from userman.core.errors import UsermanError
from userman.services import MENU_PATHS, MENUS, Actor, Request, Userman

__all__ = [
    "EXPORT_ORDER",
    "IGNORED",
    "Imported",
    "ScriptError",
    "cycle_collector_off",
    "export_script",
    "import_script",
    "parse_rsc",
]

# Every item refers only to items of menus before it.
EXPORT_ORDER: tuple[str, ...] = (
    "customer",
    "attribute",
    "user group",
    "router",
    "profile",
    "profile limitation",
    "profile profile-limitation",
    "user",
    "user-profile",
    "settings",  # each subscriber's, by its login
)

_ROOT_VERBS = frozenset({"set", "print", "export", "get", "edit", "monitor", "generate-report"})

# RouterOS settings of a menu that exports write but that mean nothing here: (menu, verb,
# property) -> why. Such a line is accepted, left out, and noted.
IGNORED: dict[tuple[str, str, str], str] = {
    # Where the router keeps its User Manager database; both generations export it.
    ("database", "set", "db-path"): "userman's database is chosen with --db URL or $USERMAN_DB",
}


class ScriptError(UsermanError):
    """A script that cannot be applied; `line` and `column` are 1-based."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.line = line
        self.column = column
        self.message = message


@dataclass(frozen=True, slots=True)
class _Spot:
    """A word of the source, where it stands: for pointing at it in an error."""

    line: int
    column: int
    name: str | None
    value: str


def _spots(lines: Sequence[str], start: int, end: int) -> Iterator[_Spot]:
    """The words on 1-based lines [start, end), best effort (a line continued from the one
    before may not parse alone; then its `name=` words are found by pattern)."""
    for number in range(start, min(end, len(lines) + 1)):
        text = lines[number - 1].rstrip()
        text = text.removesuffix("\\")
        try:
            words = split_words(text)
        except CommandSyntaxError:
            for match in re.finditer(r"(?:(?<=\s)|^)([A-Za-z0-9._-]+)=", text):
                yield _Spot(number, match.start() + 1, match.group(1), "")
            continue
        for word in words:
            yield _Spot(number, word.column, word.name, word.value)


def _same_property(menu_name: str, written: str, named: str) -> bool:
    """`name=` written where the error says `username` (an alias of the same property)."""
    if written == named:
        return True
    menus = [MENUS[menu_name]] if menu_name in MENUS else list(MENUS.values())
    return any(
        (prop := menu.by_name.get(written)) is not None and prop is menu.by_name.get(named)
        for menu in menus
    )


def _locate(
    lines: Sequence[str], start: int, end: int, menu_name: str, names: Sequence[str]
) -> tuple[int, int]:
    """The line and column of the first word that is one of `names` (as `name=` or bare)."""
    spots = list(_spots(lines, start, max(end, start + 1)))
    for name in names:
        for spot in spots:
            if spot.name is not None and _same_property(menu_name, spot.name, name):
                return spot.line, spot.column
            if spot.name is None and spot.value == name:
                return spot.line, spot.column
    return start, 1


def _error_names(error: UsermanError) -> list[str]:
    """The properties or words a service error is about, most specific first."""
    names = []
    for attribute in ("prop", "key"):
        value = getattr(error, attribute, None)
        if isinstance(value, str) and value:
            names.append(value)
    return names


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import did: the commands it applied, and a note for each line it left out."""

    commands: tuple[Command, ...]
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        count = len(self.commands)
        plural = "" if count == 1 else "s"
        return f"Script file loaded and executed successfully ({count} command{plural})"


def _ignored(command: Command, lines: Sequence[str], end: int) -> str | None:
    """The note for a line of settings that mean nothing here, or None for any other line; a
    line that mixes them with others fails at the first of the others."""
    menu = " ".join(command.path)
    reasons = [IGNORED.get((menu, command.verb, name)) for name in command.args]
    if not command.args or not any(reasons) or command.positional:
        return None
    for name, reason in zip(command.args, reasons, strict=True):
        if reason is None:
            line, column = _locate(lines, command.line, end, menu, [name])
            raise ScriptError(line, column, f"{name}: unknown property of {menu} {command.verb}")
    settings = " ".join(f"{name}={quote_value(value)}" for name, value in command.args.items())
    why = "; ".join(dict.fromkeys(r for r in reasons if r))
    return f"line {command.line}: {menu} {command.verb} {settings} left out: {why}"


def _check_menu(command: Command, lines: Sequence[str], end: int) -> None:
    """A `/user-manager` menu or setting that has no equivalent here fails by its name."""
    if command.path == ("database",) and command.verb == "set":
        what = next(iter(command.args), "set")
        line, column = _locate(lines, command.line, end, "", [what])
        raise ScriptError(
            line, column, f"{what}: the database is chosen with --db URL (or $USERMAN_DB) here"
        )
    if command.path:
        return
    if command.verb in _ROOT_VERBS:
        names = list(command.args) or [command.verb]
        what = next(iter(command.args), command.verb)
        line, column = _locate(lines, command.line, end, "", names)
        raise ScriptError(
            line,
            column,
            f"{what}: the /user-manager settings (enabled, authentication-port, certificate, "
            "use-profiles ...) have no equivalent in userman's database; leave them out "
            "(`userman serve` takes the ports as options)",
        )
    line, column = _locate(lines, command.line, end, "", [command.verb])
    raise ScriptError(
        line, column, f"{command.verb}: no such menu in userman (nothing here takes its items)"
    )


def parse_rsc(text: str, *, skip_foreign: bool = False) -> list[Command]:
    """The commands of a script to apply, each checked to address a menu userman has."""
    return list(_parse(text, skip_foreign=skip_foreign).commands)


def _parse(text: str, *, skip_foreign: bool) -> Imported:
    """The commands to apply, and the notes of the lines left out."""
    try:
        parsed = parse_script(text, MENU_PATHS, skip_foreign=skip_foreign)
    except ForeignMenuError as error:
        raise ScriptError(
            error.line,
            error.column,
            f"{error.message}; `userman import --skip-foreign` skips the other menus, as in a "
            "router's whole export",
        ) from None
    except CommandSyntaxError as error:
        raise ScriptError(error.line, error.column, error.message) from None
    lines = text.splitlines()
    commands: list[Command] = []
    notes: list[str] = []
    for index, command in enumerate(parsed):
        end = _end(parsed, index, lines)
        note = _ignored(command, lines, end)
        if note is not None:
            notes.append(note)
            continue
        _check_menu(command, lines, end)
        commands.append(command)
    return Imported(tuple(commands), tuple(notes))


def _end(commands: Sequence[Command], index: int, lines: Sequence[str]) -> int:
    """The line after the last one `commands[index]` may span (continuation lines)."""
    return commands[index + 1].line if index + 1 < len(commands) else len(lines) + 1


@contextmanager
def cycle_collector_off() -> Iterator[None]:
    """Python's cycle collector off while a script is read and applied (`userman import`, a
    process of its own): its hundreds of thousands of long-lived objects (words, commands,
    rows) made each full collection walk them all again, a quarter of an import's time; what
    they leave is collected after. Not for a process that serves others meanwhile."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def import_script(app: Userman, actor: Actor, text: str, *, skip_foreign: bool = False) -> Imported:
    """Apply a script as one transaction; raise `ScriptError` (nothing applied) on any error."""
    imported = _parse(text, skip_foreign=skip_foreign)
    commands = imported.commands
    if not commands:
        return imported
    requests = [Request(c.path, c.verb, c.positional, c.args) for c in commands]
    lines = text.splitlines()
    try:
        outcomes = app.execute_script(actor, requests)
    except UsermanError as error:
        index = error.request_index or 0
        command = commands[index]
        line, column = _locate(
            lines,
            command.line,
            _end(commands, index, lines),
            " ".join(command.path),
            _error_names(error),
        )
        raise ScriptError(line, column, str(error)) from None
    for command, outcome in zip(commands, outcomes, strict=True):
        if outcome.error:  # a refusal recorded as such (a failed undo): the rest stands
            raise ScriptError(command.line, 1, outcome.error)
    return imported


def export_script(app: Userman, actor: Actor, *, show_sensitive: bool = False) -> str:
    """The whole configuration the actor sees, as a script `import_script` reads back."""
    options = ("show-sensitive",) if show_sensitive else ()
    requests = [Request(tuple(menu.split()), "export", options) for menu in EXPORT_ORDER]
    outcomes = app.execute_many(actor, requests)
    return render_export([line for outcome in outcomes for line in outcome.exported])
