"""The user page at /user (legacy User Manager's `/user?subs=PUBLIC-ID`): a RADIUS user logs in
with its username and password and sees its status, sessions, the profiles for sale, its
payments, and changes its password and personal data.

`subs` names the customer (its public-id) whose users log in; it may be left out while the
server has one subscriber. Failed log-ins are limited as the customers' are (web/auth.py), by
address and by username. A session is of kind "user" (web/session.py); a new password ends the
others. Every page reads and changes only the logged-in user's rows (services/selfservice.py).
/user/signup and /user/activate are the sign-up's, not this module's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from userman.core.errors import (
    InvalidValueError,
    NotFoundError,
    PermissionDeniedError,
    UsermanError,
)
from userman.core.limits import Remaining
from userman.web import session as sessions
from userman.web.auth import guarded
from userman.web.pages import (
    human_bytes,
    human_seconds,
    render,
    render_public_form,
    templates,
    userman_of,
)

__all__ = ["UserLoginRequired", "UserPage", "install", "router"]

router = APIRouter(prefix="/user", include_in_schema=False)


def seconds_or(value: object, unlimited: str) -> str:
    """A duration (`1d02:00:00`, as the menus show it); `unlimited` for None."""
    return unlimited if value is None else human_seconds(value) or "0s"


def bytes_or(value: object, unlimited: str) -> str:
    return unlimited if value is None else human_bytes(value)


def money(value: object) -> str:
    return f"{value:,.2f}" if isinstance(value, Decimal | int | float) else str(value or "")


@dataclass(frozen=True, slots=True)
class Traffic:
    """The status page's "traffic left": the quota that limits, named, and the others set."""

    headline: str  # "unlimited" only when no quota is set
    caption: str  # "traffic left", "download left", "upload left"
    others: tuple[tuple[str, str], ...] = ()  # ("download", "1.2 GiB"): the other quotas set


def traffic(left: Remaining) -> Traffic:
    """What is left of the byte quotas (core's `Remaining`), for people: the transfer quota if
    set, else the download or upload one; never "unlimited" beside a number."""
    quotas = [
        (name, value)
        for name, value in (
            ("traffic", left.transfer),
            ("download", left.download),
            ("upload", left.upload),
        )
        if value is not None
    ]
    if not quotas:
        return Traffic("unlimited", "traffic left")
    (name, value), *rest = quotas
    others = tuple((other, human_bytes(amount)) for other, amount in rest)
    return Traffic(human_bytes(value), f"{name} left", others)


templates.env.filters.update(seconds_or=seconds_or, bytes_or=bytes_or, money=money)


class UserLoginRequired(Exception):
    """The page needs a logged-in user: the browser goes to the user log-in page."""

    def __init__(self, subs: str) -> None:
        super().__init__(subs)
        self.subs = subs


@dataclass(frozen=True, slots=True)
class UserPage:
    """The logged-in user of a page request, and its session's CSRF token."""

    user_id: int
    seen: str  # the session's password fingerprint
    sid: str  # the session's id on the server
    csrf: str
    subs: str


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _subs(request: Request) -> str:
    return request.query_params.get("subs", "")[:64]


def user_page(request: Request) -> UserPage:
    session = sessions.read(request, "user")
    if session is None:
        raise UserLoginRequired(_subs(request))
    try:  # a new password, or a removed user, ends the session
        service = userman_of(request).selfservice
        service.resume(session.subject, session.fingerprint, session.sid, _now())
    except PermissionDeniedError:
        raise UserLoginRequired(_subs(request)) from None
    return UserPage(session.subject, session.fingerprint, session.sid, session.csrf, _subs(request))


Page = Annotated[UserPage, Depends(user_page)]


async def changing(request: Request, page: Page) -> UserPage:
    await sessions.check_csrf(request, page.csrf)
    return page


Change = Annotated[UserPage, Depends(changing)]


def _home(subs: str) -> str:
    return f"/user?{urlencode({'subs': subs})}" if subs else "/user"


def _page(request: Request, page: UserPage, name: str, section: str, **context: Any) -> Response:
    status = userman_of(request).selfservice.status(page.user_id, page.seen, _now())
    return render(
        request,
        name,
        csrf=page.csrf,
        me=status,
        traffic=traffic(status.left),
        zone=status.time_zone,
        section=section,
        subs=page.subs or status.customer_public_id,
        notice=request.query_params.get("notice", "")[:200],
        **context,
    )


def _login_page(request: Request, subs: str, error: str = "", status: int = 200) -> Response:
    userman = userman_of(request)
    provider = userman.selfservice.provider(subs or None)
    try:
        userman.signup_place(subs or None)
        signup = True
    except UsermanError:
        signup = False  # not open here: no link to it
    return render_public_form(
        request,
        "user/login.html",
        subs=subs,
        provider=provider,
        signup=signup,
        error=error,
        status_code=status,
    )


@router.get("", response_class=HTMLResponse)
def home(request: Request) -> Response:
    """The status page, or the log-in form without a session."""
    try:
        page = user_page(request)
    except UserLoginRequired as required:
        return _login_page(request, required.subs)
    return _page(request, page, "user/status.html", "status")


@router.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    subs: Annotated[str, Form()] = "",
) -> Response:
    await sessions.check_csrf(request, request.cookies.get(sessions.PRE_LOGIN, ""))
    service = userman_of(request).selfservice
    subs = subs[:64]
    try:
        user_id, seen = await run_in_threadpool(
            guarded,
            request,
            f"user:{subs}:{username}",
            lambda: service.log_in(subs or None, username, password),
        )
    except HTTPException as refused:
        error = str(refused.detail).removeprefix("failure: ")
        return _login_page(request, subs, error, refused.status_code)
    except (NotFoundError, InvalidValueError) as error:
        return _login_page(request, subs, str(error), 400)
    response = RedirectResponse(_home(subs), status_code=303)
    await run_in_threadpool(sessions.start, request, response, "user", user_id, seen)
    response.delete_cookie(sessions.PRE_LOGIN, path="/")
    return response


@router.post("/logout")
def logout(request: Request, page: Change) -> Response:
    response = RedirectResponse(_home(page.subs), status_code=303)
    sessions.end(request, response, "user")
    return response


@router.get("/sessions", response_class=HTMLResponse)
def session_history(request: Request, page: Page) -> Response:
    lines = userman_of(request).selfservice.sessions(page.user_id, page.seen)
    return _page(request, page, "user/sessions.html", "sessions", lines=lines)


@router.get("/profiles", response_class=HTMLResponse)
def profiles(request: Request, page: Page) -> Response:
    """The profiles for sale, with price and currency, and a Buy button each."""
    userman = userman_of(request)
    offers = userman.selfservice.offers(page.user_id, page.seen)
    methods = userman.payments.methods(page.user_id, page.seen)
    return _page(request, page, "user/profiles.html", "profiles", offers=offers, methods=methods)


@router.get("/payments", response_class=HTMLResponse)
def payments(request: Request, page: Page) -> Response:
    lines = userman_of(request).selfservice.payments(page.user_id, page.seen)
    return _page(request, page, "user/payments.html", "payments", lines=lines)


@router.get("/settings", response_class=HTMLResponse)
def settings(request: Request, page: Page) -> Response:
    return _page(request, page, "user/settings.html", "settings")


def _settings_error(request: Request, page: UserPage, error: Exception, status: int) -> Response:
    response = _page(
        request, page, "user/settings.html", "settings", error=str(error).removeprefix("failure: ")
    )
    response.status_code = status
    return response


@router.post("/settings/password")
def change_password(
    request: Request,
    page: Change,
    current: Annotated[str, Form()] = "",
    new: Annotated[str, Form()] = "",
    again: Annotated[str, Form()] = "",
) -> Response:
    """A new password: checked against the current one, typed twice; the other sessions of
    the user end, this one goes on."""
    if new != again:
        return _settings_error(request, page, ValueError("the two new passwords differ"), 400)
    service = userman_of(request).selfservice
    try:
        seen = guarded(
            request,
            f"user-password:{page.user_id}",
            lambda: service.change_password(page.user_id, page.seen, current, new, _now()),
        )
    except InvalidValueError as error:
        return _settings_error(request, page, error, 400)
    except HTTPException as refused:
        return _settings_error(request, page, ValueError(refused.detail), refused.status_code)
    response = RedirectResponse("/user/settings?notice=Your+password+is+changed", status_code=303)
    userman_of(request).end_web_session(page.sid)  # ended by its fingerprint; gone at once
    sessions.start(request, response, "user", page.user_id, seen)
    return response


@router.post("/settings/details")
def change_details(  # noqa: PLR0917 - one argument per field of the form
    request: Request,
    page: Change,
    email: Annotated[str, Form()] = "",
    first_name: Annotated[str, Form()] = "",
    last_name: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    location: Annotated[str, Form()] = "",
) -> Response:
    details = {
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "phone": phone,
        "location": location,
    }
    try:
        userman_of(request).selfservice.set_details(page.user_id, page.seen, details, _now())
    except InvalidValueError as error:
        return _settings_error(request, page, error, 400)
    return RedirectResponse("/user/settings?notice=Your+details+are+saved", status_code=303)


def login_redirect(request: Request, error: UserLoginRequired) -> Response:
    target = _home(error.subs)
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def install(app: FastAPI) -> None:
    """Serve the user page and its PayPal payments on `app`."""
    from userman.web import paypal  # noqa: PLC0415 - its module is the payments'

    app.include_router(router)
    app.include_router(paypal.router)
    app.add_exception_handler(UserLoginRequired, login_redirect)  # type: ignore[arg-type]
