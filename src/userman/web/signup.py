"""Sign-up on the user side: /user/signup (the form) and /user/activate (the mailed link).

The form (`?subs=PUBLIC-ID` names the customer; without it, the only subscriber) is open only
where the customer has `signup-allowed=yes`. It is protected against cross-site posts by the
pre-log-in token (web/session.py, double submit), and limited per client address: every
sign-up counts, successful or not, `LIMIT` within `WINDOW` seconds. The activation mail goes
out from a worker thread (services: SMTP); its link is built on the customer's public-host, or
else on the host the form was asked for.
"""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from userman.core.errors import UsermanError
from userman.services.mail import MailError
from userman.services.signup import PASSWORD_LENGTH, SignUpForm
from userman.web import session as sessions
from userman.web.auth import Guard
from userman.web.pages import render, render_public_form, userman_of

__all__ = ["LIMIT", "WINDOW", "router"]

log = logging.getLogger("userman.web")
router = APIRouter(prefix="/user", include_in_schema=False)
LIMIT = 5  # sign-ups from one address ...
WINDOW = 600.0  # ... within this many seconds


def _guard(request: Request) -> Guard:
    """The app's brake on sign-ups (tests may put one of their own in app.state first)."""
    guard: Guard | None = getattr(request.app.state, "signup_guard", None)
    if guard is None:
        guard = request.app.state.signup_guard = Guard(LIMIT, WINDOW)
    return guard


def _form_page(
    request: Request,
    subs: str,
    *,
    values: dict[str, str] | None = None,
    error: str = "",
    status_code: int = 200,
) -> Response:
    try:
        place, public_id = userman_of(request).signup_place(subs or None)
    except UsermanError:
        return render(
            request,
            "signup_closed.html",
            status_code=404,
        )
    return render_public_form(
        request,
        "signup.html",
        place=place,
        subs=subs or "",
        public_id=public_id,
        values=values or {},
        error=error,
        password_length=PASSWORD_LENGTH,
        status_code=status_code,
    )


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, subs: str = "") -> Response:
    return _form_page(request, subs)


def _link_base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


@router.post("/signup")
async def signup(  # noqa: PLR0917 - the form's fields
    request: Request,
    subs: Annotated[str, Form()] = "",
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password2: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    first_name: Annotated[str, Form(alias="first-name")] = "",
    last_name: Annotated[str, Form(alias="last-name")] = "",
    phone: Annotated[str, Form()] = "",
) -> Response:
    await sessions.check_csrf(request, request.cookies.get(sessions.PRE_LOGIN, ""))
    values = {
        "username": username,
        "email": email,
        "first-name": first_name,
        "last-name": last_name,
        "phone": phone,
    }

    def again(error: str, status: int) -> Response:
        return _form_page(request, subs, values=values, error=error, status_code=status)

    guard = _guard(request)
    client = request.client.host if request.client else "?"
    wait = guard.wait(f"address:{client}")
    if wait > 0:
        raise HTTPException(
            429,
            detail="too many sign-ups from your address; try again later",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    if password != password2:
        return await run_in_threadpool(again, "the two passwords differ", 400)
    guard.failed(f"address:{client}")  # every sign-up counts against the address
    form = SignUpForm(username.strip(), password, email.strip(), first_name, last_name, phone)
    userman = userman_of(request)
    try:
        await run_in_threadpool(userman.sign_up, subs or None, form, _link_base(request))
    except UsermanError as error:
        return await run_in_threadpool(again, str(error).removeprefix("failure: "), 400)
    except MailError as error:
        log.warning("sign-up of %s: the activation mail failed: %s", form.username, error)
        text = "the activation mail could not be sent; please try again later"
        return await run_in_threadpool(again, text, 503)
    return render(request, "signup_sent.html", email=form.email, username=form.username)


@router.get("/activate", response_class=HTMLResponse)
def activate(request: Request, key: str = "") -> Response:
    try:
        username, public_id = userman_of(request).activate(key)
    except UsermanError:
        return render(request, "signup_activated.html", username="", status_code=404)
    return render(
        request,
        "signup_activated.html",
        username=username,
        login_url=f"/user?subs={quote(public_id)}",
    )
