"""How every `userman` command reports an error (`Failure`: `failure: <why>` on stderr, exit
status 1), and `open_app`, the services on the `--db` database or the Failure that says why
not. Every command module uses them (cli/main.py, serve.py, keys.py, ...); imports none.
"""

from __future__ import annotations

from typing import IO, Any

import click

from userman.core.errors import UsermanError
from userman.services import Userman

__all__ = ["Failure", "open_app"]


class Failure(click.ClickException):
    """`failure: <why>` on stderr and exit status 1: how every command reports an error."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"failure: {self.message}", err=True, file=file)


def open_app(ctx: click.Context) -> Userman:
    """The services on the `--db` database, its schema brought up to date; a database that
    cannot be used is a Failure that says why (store/database.py)."""
    try:
        app = Userman(ctx.obj["db"], key_file=ctx.obj["key_file"])
    except UsermanError as error:
        raise Failure(str(error)) from None
    ctx.call_on_close(app.close)
    try:
        app.prepare()
    except UsermanError as error:
        raise Failure(str(error)) from None
    return app
