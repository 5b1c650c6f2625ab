"""Rendering the web pages: Jinja2 templates (web/templates) with the values every page needs.

Pages are rendered on the server; htmx (vendored) swaps parts of them. Every page gets the
actor, its CSRF token and `may_change(menu)`, so that a customer who may not change a menu sees
no button that would (the services refuse such a change anyway), and the viewer's time zone
(`zone`, web/clock.py) that its times are shown in.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from userman.core.values import format_duration
from userman.services import Actor, Userman, may_change
from userman.web import clock
from userman.web import session as sessions

__all__ = ["human_bytes", "render", "render_public_form", "templates", "userman_of"]

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def userman_of(request: Request) -> Userman:
    """The services of the app serving `request`."""
    userman: Userman = request.app.state.userman
    return userman


def human_bytes(count: object) -> str:
    """1536 -> "1.5 KiB": sizes in powers of 1024, as the sizes of the menus."""
    if not isinstance(count, int | float):
        return str(count or "")
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(count)


def human_seconds(seconds: object) -> str:
    if not isinstance(seconds, int):
        return str(seconds or "")
    return format_duration(dt.timedelta(seconds=seconds))


templates.env.filters["bytes"] = human_bytes
templates.env.filters["seconds"] = human_seconds
clock.install(templates.env)


def render(
    request: Request,
    name: str,
    *,
    actor: Actor | None = None,
    csrf: str = "",
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    def can_change(menu: str) -> bool:
        return actor is not None and may_change(actor, menu)

    session = sessions.read(request, "customer") if actor is not None else None
    context.setdefault("empty_password", session is not None and session.empty_password)
    context.setdefault("zone", clock.zone_of(request))

    return templates.TemplateResponse(
        request,
        name,
        {"actor": actor, "csrf": csrf, "may_change": can_change, **context},
        status_code=status_code,
    )


def render_public_form(
    request: Request, name: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page whose form is posted before anyone logs in (log-in, sign-up): its CSRF token
    (`csrf`) is the browser's pre-log-in cookie (web/session.py), set on the answer."""
    token = sessions.login_token(request)
    response = render(request, name, csrf=token, status_code=status_code, **context)
    sessions.remember_login_token(request, response, token)
    return response
