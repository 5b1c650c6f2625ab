"""Web sessions in signed cookies, and the CSRF token each one carries.

A session cookie holds who logged in (a customer on /userman, a user on /user), a fingerprint
of the password it logged in with (a new password ends the session), the session's id on the
server, its CSRF token and when it expires, signed with HMAC-SHA256 under a key every server
node shares (services: the installation's `web-session` key). It is HttpOnly, SameSite=Lax, and
Secure over HTTPS. The server keeps a record of each session (services/web_sessions.py), which
every page checks: log-out (`end`) or a revocation ends it for every copy of the cookie.

Every form, and every request htmx makes, sends the session's CSRF token back (a `csrf` field
or the `X-CSRF-Token` header); a change that lacks it is refused. Before log-in, the log-in form
is protected the same way by a short-lived cookie of its own (double submit).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass

from fastapi import HTTPException, Request, Response

__all__ = [
    "LIFETIME",
    "PRE_LOGIN",
    "WebSession",
    "check_csrf",
    "end",
    "login_token",
    "read",
    "remember_login_token",
    "start",
]

LIFETIME = 12 * 3600  # seconds a log-in lasts
PRE_LOGIN = "userman_login_csrf"
COOKIES = {"customer": "userman_session", "user": "userman_user_session"}


@dataclass(frozen=True, slots=True)
class WebSession:
    kind: str  # "customer" or "user"
    subject: int  # the customer's or the user's id
    fingerprint: str  # of the password it logged in with
    sid: str  # its id on the server (services/web_sessions.py)
    csrf: str
    expires: int  # Unix time
    empty_password: bool = False  # logged in with an empty password (the pages warn)


def _key(request: Request) -> bytes:
    key: bytes | None = getattr(request.app.state, "session_key", None)
    if key is None:
        key = request.app.state.userman.secret("web-session")
        request.app.state.session_key = key
    return key


def _sign(key: bytes, payload: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(key, payload, hashlib.sha256).digest()).decode()


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _issue(request: Request, response: Response, session: WebSession) -> None:
    payload = base64.urlsafe_b64encode(json.dumps(asdict(session)).encode())
    value = f"{payload.decode()}.{_sign(_key(request), payload)}"
    response.set_cookie(
        COOKIES[session.kind],
        value,
        max_age=max(0, session.expires - int(time.time())),
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


def start(
    request: Request,
    response: Response,
    kind: str,
    subject: int,
    fingerprint: str,
    *,
    empty_password: bool = False,
) -> None:
    """A new session of `kind` for `subject`, who has just logged in: recorded on the server
    (with the client's address and browser, for its owner to tell sessions apart) and set as
    the answer's cookie. It blocks on the database: call it from a worker thread."""
    expires = int(time.time()) + LIFETIME
    sid = request.app.state.userman.start_web_session(
        kind,
        subject,
        fingerprint,
        dt.datetime.fromtimestamp(expires, dt.UTC),
        request.client.host if request.client else "",
        request.headers.get("user-agent", ""),
    )
    session = WebSession(
        kind, subject, fingerprint, sid, secrets.token_urlsafe(24), expires, empty_password
    )
    _issue(request, response, session)


def read(request: Request, kind: str) -> WebSession | None:
    """The request's session of `kind`, if its signature holds and it has not expired."""
    value = request.cookies.get(COOKIES[kind], "")
    payload, _, signature = value.partition(".")
    if not payload or not hmac.compare_digest(signature, _sign(_key(request), payload.encode())):
        return None
    try:
        session = WebSession(**json.loads(base64.urlsafe_b64decode(payload)))
    except (ValueError, TypeError):
        return None
    if session.kind != kind or session.expires < time.time():
        return None
    return session


def end(request: Request, response: Response, kind: str) -> None:
    """Log out: the request's session of `kind` ends on the server, and its cookie goes."""
    session = read(request, kind)
    if session is not None:
        request.app.state.userman.end_web_session(session.sid)
    response.delete_cookie(COOKIES[kind], path="/")


async def _sent_token(request: Request) -> str:
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    form = await request.form()
    value = form.get("csrf", "")
    return value if isinstance(value, str) else ""


async def check_csrf(request: Request, expected: str) -> None:
    """Refuse (403) a change that does not carry the expected CSRF token."""
    sent = await _sent_token(request)
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(403, detail="failure: the form has expired; load the page again")


def login_token(request: Request) -> str:
    """The log-in form's CSRF token: the browser's pre-log-in cookie's, or a new one."""
    return request.cookies.get(PRE_LOGIN) or secrets.token_urlsafe(24)


def remember_login_token(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        PRE_LOGIN,
        token,
        max_age=3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
