"""The customer pages under /userman: log-in, log-out, and the status page.

A customer logs in with its login and password (the default `admin` with an empty password
until one is set, as the manual says); failed log-ins are limited as the API's are
(web/auth.py). Every page after that runs as that customer, with its permissions and within
its subscriber, through the same services as the CLI.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from userman.core.errors import PermissionDeniedError
from userman.services import Actor
from userman.web import clock
from userman.web import session as sessions
from userman.web.auth import guarded
from userman.web.pages import render, render_public_form, userman_of
from userman.web.returnto import same_site

__all__ = ["CustomerPage", "LoginRequired", "customer_page", "router"]

router = APIRouter(prefix="/userman", include_in_schema=False)


class LoginRequired(Exception):
    """The page needs a logged-in customer: the app sends the browser to the log-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True, slots=True)
class CustomerPage:
    """Who is looking at a page, and the token its forms must send back."""

    actor: Actor
    csrf: str
    sid: str = ""  # the session's id on the server (services/web_sessions.py)


def customer_page(request: Request) -> CustomerPage:
    """The logged-in customer of a page request, or LoginRequired."""
    session = sessions.read(request, "customer")
    if session is None:
        raise LoginRequired(request.url.path)
    userman = userman_of(request)
    try:
        actor = userman.resume_session(session.subject, session.fingerprint, session.sid)
    except PermissionDeniedError:
        raise LoginRequired(request.url.path) from None
    clock.remember_zone(request, userman.time_zone(actor))
    return CustomerPage(actor, session.csrf, session.sid)


Page = Annotated[CustomerPage, Depends(customer_page)]


async def changing(request: Request, page: Page) -> CustomerPage:
    """A page request that changes something: it must carry the session's CSRF token."""
    await sessions.check_csrf(request, page.csrf)
    return page


Change = Annotated[CustomerPage, Depends(changing)]


def _safe_next(path: str) -> str:
    """Only a path of these pages, never another site, after logging in."""
    return same_site(path, "/userman")


def _login_page(request: Request, next_path: str, error: str = "", status: int = 200) -> Response:
    return render_public_form(
        request, "login.html", next=_safe_next(next_path), error=error, status_code=status
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/userman") -> Response:
    return _login_page(request, next)


@router.post("/login")
async def login(
    request: Request,
    login: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/userman",
) -> Response:
    await sessions.check_csrf(request, request.cookies.get(sessions.PRE_LOGIN, ""))
    userman = userman_of(request)
    try:
        actor, fingerprint = await run_in_threadpool(
            guarded, request, login, lambda: userman.log_in_session(login, password)
        )
    except HTTPException as refused:
        error = str(refused.detail).removeprefix("failure: ")
        return _login_page(request, next, error, refused.status_code)
    assert actor.customer_id is not None
    response = RedirectResponse(_safe_next(next), status_code=303)
    await run_in_threadpool(
        functools.partial(
            sessions.start,
            request,
            response,
            "customer",
            actor.customer_id,
            fingerprint,
            empty_password=password == "",
        )
    )
    response.delete_cookie(sessions.PRE_LOGIN, path="/")
    return response


@router.post("/logout")
def logout(request: Request, _page: Change) -> Response:
    """Log out: the session ends on the server too, so a copy of its cookie is no use."""
    response = RedirectResponse("/userman/login", status_code=303)
    sessions.end(request, response, "customer")
    return response


@router.get("", response_class=HTMLResponse)
@router.get("/status", response_class=HTMLResponse)
def status(request: Request, page: Page) -> Response:
    """The legacy customer page's Status: what is going on now."""
    figures = userman_of(request).dashboard(page.actor)
    return render(
        request, "status.html", actor=page.actor, csrf=page.csrf, figures=figures, section="status"
    )


def login_redirect(request: Request, error: LoginRequired) -> Response:
    """Send the browser to the log-in page (htmx: by its HX-Redirect header)."""
    target = f"/userman/login?next={quote(_safe_next(error.next_path))}"
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
