"""`userman key rotate`: the key file that seals user passwords and shared secrets at rest
(docs/security.md); the services read and rotate it, this only says what they did.
"""

from __future__ import annotations

import click

from userman.cli.failure import Failure, open_app
from userman.core.errors import UsermanError

__all__ = ["key"]


@click.group(name="key")
def key() -> None:
    """The key file that seals user passwords and shared secrets at rest (docs/security.md).

    \b
    It is <database file>.key beside an SQLite database, made on first use with mode 0600;
    --key-file PATH, ?key_file=PATH in the --db URL or $USERMAN_KEY_FILE puts it elsewhere (a
    PostgreSQL database needs one of them, the same file on every node). Keep it out of the
    database's backups, and keep a copy of it: without it the passwords cannot be read."""


@key.command(name="rotate")
@click.option(
    "--keep-old",
    is_flag=True,
    help="Keep the old keys in the key file (for backups made with them).",
)
@click.pass_context
def key_rotate(ctx: click.Context, keep_old: bool) -> None:
    """Seal every user password and shared secret again with a new key, then forget the old
    keys. Running servers read the changed key file by themselves."""
    app = open_app(ctx)
    try:
        key_id, count = app.rotate_key(keep_old=keep_old)
    except UsermanError as error:
        raise Failure(str(error)) from None
    kept = ", the old keys kept" if keep_old else ""
    click.echo(f"key {key_id} in {app.key_file}: {count} values sealed again{kept}")
