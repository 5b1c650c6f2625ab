"""The `userman` command: `userman [--db URL] [--json] [--as LOGIN] <menu> <verb> [name=value
...]`, and `serve` (cli/serve.py), `console`, `import FILE.rsc`, `export`, `web-session`
(cli/web_sessions.py), `key` (cli/keys.py), `help [MENU]`; the global options may follow the
command too (cli/argv.py).

Menus and verbs are the manual's (`userman user add customer=admin username=test`); every
error prints `failure: <property>: <why>` on stderr and exits 1 with nothing changed (a
`Failure`, cli/failure.py, also for a database that cannot be used or a port `serve` cannot
bind). Only `serve` imports the server. A menu command reaches this module only when no
running server took it first (cli/remote.py); `run_words` is what both run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

import click

from userman.cli.argv import hoist
from userman.cli.failure import Failure, open_app
from userman.cli.helptext import menu_help, menus_overview
from userman.cli.keys import key
from userman.cli.remote import ProgressBar
from userman.cli.render import render_json, render_outcome
from userman.cli.serve import serve
from userman.cli.syntax import parse_argv
from userman.cli.web_sessions import web_session
from userman.core.errors import UsermanError
from userman.services import MENU_PATHS, Userman, default_url, verbs_of

__all__ = ["main"]


def _menu_path(words: Sequence[str]) -> tuple[str, ...] | None:
    """The menu that `words` start with (the longest: `profile limitation`, not `profile`)."""
    return next((path for path in MENU_PATHS if tuple(words[: len(path)]) == path), None)


def _split_menu(words: Sequence[str]) -> tuple[tuple[str, ...], str, list[str]]:
    path = _menu_path(words)
    if path is None:
        raise click.UsageError(f"no such menu: {words[0]}")
    rest = list(words[len(path) :])
    if not rest:
        name = " ".join(path)
        raise click.UsageError(f"say what to do with {name}: {', '.join(verbs_of(name))}")
    return path, rest[0], rest[1:]


class UsermanGroup(click.Group):
    """Known subcommands (`serve`) first; any other word is the start of a menu command. The
    global options may follow the command too (cli/argv.py)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist(args))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        if any(path[0] == cmd_name for path in MENU_PATHS):
            return _menu_command(cmd_name)
        return None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *(p[0] for p in MENU_PATHS)})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands, then every menu with the verbs it really has (`verbs_of`)."""
        names = super().list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self.get_command(ctx, name)
            if command is not None:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)
        with formatter.section("Menus and their verbs (userman MENU --help: its properties)"):
            formatter.write(menus_overview(formatter.current_indent) + "\n")


def _menu_command(first: str) -> click.Command:
    @click.command(
        name=first,
        help=f"The {first} menu, in the manual's name=value form (userman {first} --help).",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )
    @click.argument("words", nargs=-1, type=click.UNPROCESSED)
    @click.pass_context
    def run(ctx: click.Context, words: tuple[str, ...]) -> None:
        if "--help" in words:  # RouterOS words never start with `--`
            path = _menu_path([first, *words[: words.index("--help")]]) or (first,)
            usage = f"Usage: userman {' '.join(path)} VERB [ITEMS] [name=value ...] [--json]"
            click.echo(f"{usage}\n\n{menu_help(path)}")
            ctx.exit(0)
        _split_menu([first, *words])  # a usage error before the database is opened
        app = open_app(ctx)
        with ProgressBar() as progress:
            code, out, err = run_words(
                app, [first, *words], ctx.obj["as"], as_json=ctx.obj["json"], progress=progress
            )
        click.echo(out, nl=False)
        click.echo(err, nl=False, err=True)
        ctx.exit(code)

    return run


def run_words(
    app: Userman,
    words: Sequence[str],
    as_login: str | None,
    *,
    as_json: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, str, str]:
    """Run one menu command (`user print where name~a`): its exit status and what it prints on
    stdout and stderr. The same for the command line and the server's control socket."""
    path, verb, rest = _split_menu(words)
    try:
        positional, args = parse_argv(rest)
        actor = app.actor(as_login)
        outcome = app.execute(actor, path, verb, positional, args, progress=progress)
    except UsermanError as error:
        return 1, "", f"failure: {error}\n"
    if outcome.error:
        return 1, "", f"failure: {outcome.error}\n"
    if as_json and verb in ("print", "find"):
        text = render_json(outcome.items)
    elif as_json and verb == "get" and not outcome.message:
        text = render_json(outcome.items[0])
    else:
        text = render_outcome(outcome)
    return 0, f"{text}\n" if text else "", ""


@click.group(cls=UsermanGroup)
@click.option(
    "--db",
    "db_url",
    default=lambda: os.environ.get("USERMAN_DB") or default_url(),
    show_default="sqlite:///userman-data/userman.db, or $USERMAN_DB",
    help=(
        "Database URL: sqlite:///PATH or postgresql://USER@HOST/NAME. SQLite syncs every"
        " commit to disk; add ?synchronous=normal to sync less (durable against a crash only)."
    ),
)
@click.option(
    "--key-file",
    "key_file",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    default=None,
    help=(
        "The key file that seals user passwords and shared secrets (one key a line, mode"
        " 0600; made on first use). Default: ?key_file=PATH in the --db URL, else"
        " $USERMAN_KEY_FILE, else <database file>.key beside an SQLite database. A menu"
        " command that a running server answers uses the server's."
    ),
)
@click.option("--json", "as_json", is_flag=True, help="print emits a JSON array of objects.")
@click.option(
    "--as",
    "as_login",
    metavar="LOGIN",
    default=None,
    help="Act as this customer, with its permissions (default: the local superuser).",
)
@click.version_option(package_name="userman")
@click.pass_context
def cli(
    ctx: click.Context, db_url: str, key_file: str | None, as_json: bool, as_login: str | None
) -> None:
    """userman: a RADIUS server and user manager, configured like MikroTik User Manager.

    \b
    A menu command is `userman MENU VERB [ITEMS] [name=value ...]`, as in the manual:
    userman user add customer=admin username=test password=test
    The options above may also follow the command (userman user print --json).
    print where PROP~REGEX searches what print shows with an RE2 pattern (no backreferences
    or lookaround, at most 1000 characters): userman user print where username~^a
    """
    ctx.ensure_object(dict)
    ctx.obj["db"] = db_url
    ctx.obj["key_file"] = key_file
    ctx.obj["json"] = as_json
    ctx.obj["as"] = as_login


cli.add_command(serve)  # cli/serve.py: the one command that starts the server
cli.add_command(web_session)
cli.add_command(key)


@cli.command()
@click.pass_context
def console(ctx: click.Context) -> None:
    """The RouterOS prompt: `[admin@userman] /tool user-manager>`.

    \b
    Type a menu to enter it (`user`, `profile limitation`), `..` to go up, `/` for the top,
    and the same commands as on the command line, relative to the menu (`add name=a`,
    `print where name~a`) or from the top (`/tool user-manager user print`, `/user-manager ...`).
    Tab completes menus, commands and properties; history is kept in ~/.userman_history
    (or $USERMAN_HISTORY). `quit`, `exit` or Ctrl-D leaves. Without a terminal, lines are read
    from stdin without a prompt, and the exit status is 1 if any of them failed.
    """
    from userman.cli.console import run_console  # noqa: PLC0415 - readline only when asked

    app = open_app(ctx)
    try:
        actor = app.actor(ctx.obj["as"])
    except UsermanError as error:
        raise Failure(str(error)) from None
    status = run_console(
        app,
        actor,
        sys.stdin,
        echo=click.echo,
        fail=lambda text: click.echo(text, err=True),
        as_json=ctx.obj["json"],
    )
    ctx.exit(status)


@cli.command(name="import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option(
    "--skip-foreign",
    is_flag=True,
    help="Skip other RouterOS menus (/ip pool ...), as in a router's whole export.",
)
@click.pass_context
def import_(ctx: click.Context, file: TextIO, skip_foreign: bool) -> None:
    """Apply a RouterOS script (FILE.rsc, or - for stdin) as one change: all or nothing.

    \b
    Both generations: `/tool user-manager user` or `/user-manager user` header lines, then
    `add ...`/`set ...` lines; `\\` continues a line, `#` starts a comment. Any error prints
    `failure: line L, column C: <why>` and applies nothing. User, user-profile and
    create-and-activate-profile lines are written in bulk (100,000 users in about 20 s).
    """
    from userman.cli.script import cycle_collector_off, import_script  # noqa: PLC0415

    text = file.read()
    app = open_app(ctx)
    try:
        with cycle_collector_off():
            actor = app.actor(ctx.obj["as"])
            imported = import_script(app, actor, text, skip_foreign=skip_foreign)
    except UsermanError as error:
        raise Failure(str(error)) from None
    for note in imported.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(imported.summary)


@cli.command(name="export")
@click.option("--show-sensitive", is_flag=True, help="Include passwords and shared secrets.")
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the script to this file instead of stdout.",
)
@click.pass_context
def export(ctx: click.Context, show_sensitive: bool, path: str | None) -> None:
    """Print the whole configuration as a RouterOS script that `userman import` reads back."""
    from userman.cli.script import export_script  # noqa: PLC0415 - keep the CLI quick

    app = open_app(ctx)
    try:
        text = export_script(app, app.actor(ctx.obj["as"]), show_sensitive=show_sensitive)
    except UsermanError as error:
        raise Failure(str(error)) from None
    if path is None:
        click.echo(text)
    else:
        with open(path, "w", encoding="utf-8") as out:
            out.write(text + "\n")


@cli.command(name="help", context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def help_(ctx: click.Context, words: tuple[str, ...]) -> None:
    """Help on a menu or command: userman help user group, userman help serve."""
    parent = ctx.parent
    assert parent is not None  # `help` runs below `userman`
    if not words:
        click.echo(parent.get_help())
        return
    path = _menu_path(words)
    if path is not None and len(path) == len(words):
        click.echo(menu_help(path))
        return
    command = cli.commands.get(words[0])
    if command is not None and len(words) == 1:
        click.echo(command.get_help(click.Context(command, parent=parent, info_name=words[0])))
        return
    raise click.UsageError(f"no such menu or command: {' '.join(words)}")


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else sys.argv[1:], prog_name="userman")
