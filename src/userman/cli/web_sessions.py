"""`userman web-session print|remove`: customers' log-ins to the web pages, as the services
keep them (services/web_sessions.py); the same the REST API's /api/v1/web-session gives.
"""

from __future__ import annotations

import json

import click

from userman.cli.failure import Failure, open_app
from userman.core.errors import UsermanError

__all__ = ["web_session"]


@click.group(name="web-session")
def web_session() -> None:
    """Customers' log-ins to the web pages: print them, remove (log out) one or all.

    \b
    userman web-session print                 every customer's (--as LOGIN: its own)
    userman web-session remove 12             log out session 12, wherever its cookie is
    userman web-session remove all --as LOGIN log out every session of LOGIN
    """


@web_session.command(name="print")
@click.pass_context
def web_session_print(ctx: click.Context) -> None:
    """The live web sessions: id, customer, from where, since when, last used, browser."""
    app = open_app(ctx)
    try:
        found = app.web_sessions(app.actor(ctx.obj["as"]))
    except UsermanError as error:
        raise Failure(str(error)) from None
    if ctx.obj["json"]:
        rows = [
            {
                "id": info.id,
                "login": info.login,
                "address": info.address,
                "created": info.created.isoformat(),
                "last-used": info.last_used.isoformat(),
                "expires": info.expires.isoformat(),
                "agent": info.agent,
            }
            for info in found
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    for info in found:
        when = f"{info.created:%Y-%m-%d %H:%M:%S} .. {info.last_used:%Y-%m-%d %H:%M:%S}"
        click.echo(f"{info.id:>4} {info.login} {info.address or '-'} {when} UTC {info.agent}")


@web_session.command(name="remove")
@click.argument("which")
@click.pass_context
def web_session_remove(ctx: click.Context, which: str) -> None:
    """Log out web session WHICH (its id, as print shows it), or `all` of them."""
    if which != "all" and not which.isdigit():
        raise click.BadParameter("a session id (as print shows it) or `all`", param_hint="WHICH")
    app = open_app(ctx)
    try:
        ended = app.revoke_web_session(
            app.actor(ctx.obj["as"]), None if which == "all" else int(which)
        )
    except UsermanError as error:
        raise Failure(str(error)) from None
    click.echo(f"{ended} web session{'' if ended == 1 else 's'} ended")
