r"""`userman console`: the RouterOS prompt `[admin@userman] /tool user-manager>`.

Owns the console's state (the current menu), how a typed line is run (navigation, commands
relative to the menu, `help` or `?`, `quit`), and completion of menus, verbs and property names
from `MENUS`.
Line editing and history come from the stdlib `readline` when stdin is a terminal; the history
file is `$USERMAN_HISTORY`, else `~/.userman_history`. Without a terminal, lines are read
plainly with no prompt, so the console can be scripted. Knows nothing of the store.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from userman.cli.helptext import menu_help, menus_overview, submenus
from userman.cli.render import render_json, render_outcome
from userman.cli.syntax import Command, CommandSyntaxError, Navigate, parse_line
from userman.core.errors import UsermanError
from userman.services import MENU_ALIASES, MENU_PATHS, MENUS, Actor, Menu, Userman, verbs_of

__all__ = ["Console", "completer", "history_path", "run_console"]

QUIT = frozenset({"quit", "exit", "/quit", "/exit"})
HELP = frozenset({"help", "?"})
PRINT_WORDS = ("brief", "count-only", "detail", "show-sensitive", "terse", "where")
EXPORT_WORDS = ("show-sensitive", "terse", "verbose")
READ_VERBS = frozenset({"print", "find"})
ROOT = ("/tool user-manager", "/user-manager")
NAVIGATION = (
    "A menu's name enters it, `..` goes up, `/` to the top; `help MENU` or `MENU ?` shows one;"
    " `quit` leaves."
)


def history_path() -> Path:
    """Where typed lines are kept between sessions."""
    return Path(os.environ.get("USERMAN_HISTORY") or Path.home() / ".userman_history")


def _menu(path: tuple[str, ...]) -> Menu | None:
    name = " ".join(path)
    return MENUS.get(MENU_ALIASES.get(name, name))


class Console:
    """One console session: `run_line` takes a typed line; `candidates` completes one."""

    def __init__(
        self,
        app: Userman,
        actor: Actor,
        *,
        echo: Callable[[str], None],
        fail: Callable[[str], None],
        as_json: bool = False,
    ) -> None:
        self.app = app
        self.actor = actor
        self.echo = echo
        self.fail = fail
        self.as_json = as_json
        self.path: tuple[str, ...] = ()
        self.failures = 0

    @property
    def prompt(self) -> str:
        login = "admin" if self.actor.is_superuser else self.actor.login
        where = " ".join(("/tool user-manager", *self.path))
        return f"[{login}@userman] {where}> "

    # -- running lines -----------------------------------------------------------------------

    def run_line(self, line: str) -> bool:
        """Run one line; False when it asks to leave the console."""
        if line.strip() in QUIT:
            return False
        words = line.split()
        if words and (words[0] in HELP or words[-1] == "?"):
            self._help(words[1:] if words[0] in HELP else words[:-1])
            return True
        try:
            parsed = parse_line(line, self.path, menus=MENU_PATHS)
        except CommandSyntaxError as error:
            self._failure(f"column {error.column}: {error.message}")
            return True
        if isinstance(parsed, Navigate):
            self.path = parsed.path
        elif isinstance(parsed, Command):
            self._execute(parsed)
        return True

    def _help(self, words: list[str]) -> None:
        """`help` or `?`: the current menu's verbs and properties, or those of the menu named
        (`help user`, `user ?`, from here or from the top); at the top, every menu."""
        named = tuple(w for word in words for w in word.split("/") if w)
        if named[:2] == ("tool", "user-manager"):
            named = named[2:]
        elif named[:1] == ("user-manager",):
            named = named[1:]
        absolute = bool(words) and words[0].startswith("/")
        for path in [named] if absolute else [(*self.path, *named), named]:
            if not path:
                self.echo(f"Menus and their verbs:\n{menus_overview()}\n{NAVIGATION}")
                return
            if path in MENU_PATHS or submenus(path):
                self.echo(menu_help(path))
                return
        self._failure(f"no such menu: {' '.join(named)}")

    def _execute(self, command: Command) -> None:
        if not command.path:
            self._failure(f"{command.verb}: no such menu or command here")
            return
        try:
            outcome = self.app.execute(
                self.actor, command.path, command.verb, command.positional, command.args
            )
        except UsermanError as error:
            self._failure(str(error))
            return
        if outcome.error:
            self._failure(outcome.error)
            return
        if self.as_json and command.verb in READ_VERBS:
            text = render_json(outcome.items)
        else:
            text = render_outcome(outcome)
        if text:
            self.echo(text)

    def _failure(self, message: str) -> None:
        self.failures += 1
        self.fail(f"failure: {message}")

    def run_lines(self, lines: Iterable[str]) -> None:
        """Run lines as read from a file or a pipe; a line ending in `\\` goes on."""
        pending = ""
        for raw in lines:
            text = raw.rstrip("\r\n")
            if pending:  # as in a script, the continued line's indentation is dropped
                text = text.lstrip(" \t")
            if text.endswith("\\") and not text.endswith("\\\\"):
                pending += text[:-1]
                continue
            if not self.run_line(pending + text):
                return
            pending = ""
        if pending:
            self.run_line(pending)

    # -- completion --------------------------------------------------------------------------

    def candidates(self, before: str) -> list[str]:
        """What may complete the last word of `before` (the line up to the cursor)."""
        words = before.split()
        current = "" if not words or before[-1:].isspace() else words.pop()
        return sorted({c for c in self._options(words, current) if c.startswith(current)})

    def _options(self, words: list[str], current: str) -> list[str]:
        path = list(self.path)
        if (words and words[0].startswith("/")) or (current.startswith("/") and not words):
            path = []
        verb: str | None = None
        after: list[str] = []
        for index, word in enumerate(words):
            segments = [s for s in word.split("/") if s]
            for segment in segments:
                if verb is not None:
                    break
                if segment in ("tool", "user-manager") and not path:
                    continue
                if segment == "..":
                    if path:
                        path.pop()
                elif (*path, segment) in MENU_PATHS or submenus((*path, segment)):
                    path.append(segment)
                else:
                    verb = segment
            if verb is not None:
                after = words[index + 1 :]
                break
        if not words and current.startswith("/"):
            return [*ROOT, "/"]
        if words == ["/tool"]:
            return ["user-manager"]
        if verb is None:
            names = [*submenus(tuple(path)), *self._verbs(tuple(path))]
            if path:
                names.append("..")
            if not words:
                names.extend(sorted(QUIT - {"/quit", "/exit"}))
                names.append("help")
            return names
        menu = _menu(tuple(path))
        if menu is None:
            return []
        return self._arguments(menu, verb, after, current)

    @staticmethod
    def _verbs(path: tuple[str, ...]) -> list[str]:
        return list(verbs_of(" ".join(path)))

    @staticmethod
    def _arguments(menu: Menu, verb: str, after: list[str], current: str) -> list[str]:
        name, equals, _ = current.partition("=")
        if equals:
            prop = menu.by_name.get(name)
            if prop is None or " | " not in prop.kind.name:
                return []
            return [f"{name}={v}" for v in prop.kind.name.split(" | ") if v != "number"]
        readable = [n for n, p in menu.by_name.items() if not p.hidden and not p.hashed]
        if verb in ("print", "find"):
            if "where" in after or verb == "find":
                return [f"{n}=" for n in readable]
            return list(PRINT_WORDS)
        if verb == "export":
            return list(EXPORT_WORDS)
        writable = [f"{n}=" for n, p in menu.by_name.items() if p.writable]
        if verb == "add":
            writable.append("copy-from=")
        return writable


def interactive_loop(console: Console) -> None:
    """Read lines at the prompt, with readline editing, history and completion when present."""
    try:
        import readline  # noqa: PLC0415 - only a terminal needs it
    except ImportError:  # pragma: no cover - a Python built without readline
        _prompt_loop(console)
        return
    history = history_path()
    readline.set_completer_delims(" \t\n;")
    readline.set_completer(
        completer(console, lambda: readline.get_line_buffer()[: readline.get_endidx()])
    )
    readline.parse_and_bind("tab: complete")
    readline.set_history_length(1000)
    with contextlib.suppress(OSError):
        readline.read_history_file(history)
    try:
        _prompt_loop(console)
    finally:
        with contextlib.suppress(OSError):
            readline.write_history_file(history)


def _prompt_loop(console: Console) -> None:
    while True:
        try:
            line = input(console.prompt)
            while line.endswith("\\") and not line.endswith("\\\\"):
                line = line[:-1] + input("... ").lstrip(" \t")
        except KeyboardInterrupt:  # Ctrl-C drops the line being typed, as in RouterOS
            print()
            continue
        except EOFError:  # Ctrl-D
            print()
            return
        if not console.run_line(line):
            return


def completer(console: Console, before: Callable[[], str]) -> Callable[[str, int], str | None]:
    """A readline completer: the `state`th candidate for the word being typed, where `before`
    gives the line up to the cursor (readline's buffer, or a test's text)."""
    found: list[str] = []

    def complete(text: str, state: int) -> str | None:
        if state == 0:
            found[:] = console.candidates(before())
        return found[state] if state < len(found) else None

    return complete


def run_console(
    app: Userman,
    actor: Actor,
    stdin: IO[str],
    *,
    echo: Callable[[str], None],
    fail: Callable[[str], None],
    as_json: bool = False,
    interactive: bool | None = None,
) -> int:
    """Run the console to its end; the exit status is 1 if a scripted line failed."""
    console = Console(app, actor, echo=echo, fail=fail, as_json=as_json)
    if interactive is None:
        interactive = stdin.isatty()
    if interactive:
        interactive_loop(console)
        return 0
    console.run_lines(stdin)
    return 1 if console.failures else 0
