"""Who is asking: a customer logged in with HTTP basic credentials, and a brake on guessing.

Every failed log-in counts against the client's address and against the login tried (a bad API
token: against its first characters from that address, so that no one locks out the token
clients of another address); after `LIMIT` failures within `WINDOW` seconds, either one is
refused with 429 and Retry-After until the oldest failure leaves the window, whatever the
password. A success does not clear the count, so that guessing cannot be interleaved with one
known password.

The API is for programs, not for browsers (docs/security.md): a browser is never challenged for
Basic credentials (it would keep them and send them along with a request another site's page
makes), and a change (POST, PUT, PATCH, DELETE) that a browser says comes from another site is
refused with 403.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Annotated, TypeVar
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)

from userman.core.errors import BusyError, PermissionDeniedError
from userman.services import Actor
from userman.web.pages import userman_of

__all__ = [
    "LIMIT",
    "WINDOW",
    "Guard",
    "api_actor",
    "challenge",
    "from_browser",
    "guarded",
    "log_in",
    "refuse_cross_site",
]

T = TypeVar("T")

LIMIT = 10
WINDOW = 300.0  # seconds


class Guard:
    """Failed log-ins by client address and by login, in a sliding window."""

    def __init__(
        self,
        limit: int = LIMIT,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def wait(self, *keys: str) -> float:
        """Seconds until a log-in for these keys may be tried again (0: now)."""
        now = self._clock()
        longest = 0.0
        with self._lock:
            for key in keys:
                failures = self._failures.get(key)
                if failures is None:
                    continue
                while failures and failures[0] <= now - self.window:
                    failures.popleft()
                if not failures:
                    del self._failures[key]
                elif len(failures) >= self.limit:
                    longest = max(longest, failures[0] + self.window - now)
        return longest

    def failed(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                self._failures[key].append(now)


_basic = HTTPBasic(auto_error=False, realm="userman")
_bearer = HTTPBearer(auto_error=False, description="A token made with POST /api/v1/token")
TOKEN_SHOWN = 12  # characters of a bad token that key its failures: "umt_" and 8 of its own
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def from_browser(request: Request) -> bool:
    """Does a browser send this request? Browsers send Sec-Fetch-* (every current one) or Origin
    with what a page's script sends, and Accept: text/html when they open an address; API
    clients (curl, scripts, libraries) send none of these."""
    headers = request.headers
    if "sec-fetch-mode" in headers or "sec-fetch-site" in headers or "origin" in headers:
        return True
    return "text/html" in headers.get("accept", "")


def challenge(request: Request) -> dict[str, str]:
    """The 401's WWW-Authenticate: Basic for an API client; for a browser a Bearer challenge,
    which asks it for nothing it would keep."""
    scheme = "Bearer" if from_browser(request) else "Basic"
    return {"WWW-Authenticate": f'{scheme} realm="userman"'}


def _cross_site(request: Request) -> str:
    """Why a browser's request comes from another site ("" when it does not say so)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return "Sec-Fetch-Site: cross-site"
    origin = request.headers.get("origin")
    if origin is None:
        return ""
    host = request.headers.get("host", "").lower()
    if origin == "null" or urlsplit(origin).netloc.lower() != host:
        return f"Origin: {origin}"
    return ""


def refuse_cross_site(request: Request) -> None:
    """403 for a change to the API that a browser sends from a page of another site."""
    if request.method in SAFE_METHODS:
        return
    why = _cross_site(request)
    if why:
        raise HTTPException(
            403,
            detail=f"failure: a change from another site is refused ({why}); "
            "call the API from a program, or from this server's own pages",
        )


def guarded(request: Request, login: str, check: Callable[[], T]) -> T:
    """Run a log-in check, counted by the app's Guard: HTTPException 401 or 429 on failure,
    503 when the password checks are all busy (services/passwords.py)."""
    guard: Guard = request.app.state.guard
    client = request.client.host if request.client else "?"
    keys = (f"address:{client}", f"login:{login}")
    wait = guard.wait(*keys)
    if wait > 0:
        raise HTTPException(
            429,
            detail="too many failed log-ins; try again later",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    try:
        return check()
    except BusyError as error:  # not a failed log-in: nothing counts against anyone
        raise HTTPException(
            503, detail=f"failure: {error}", headers={"Retry-After": str(error.retry_after)}
        ) from None
    except PermissionDeniedError as error:
        guard.failed(*keys)
        raise HTTPException(401, detail=f"failure: {error}", headers=challenge(request)) from None


def log_in(request: Request, login: str, password: str) -> Actor:
    """The actor of a customer's login and password, or HTTPException 401/429."""
    userman = userman_of(request)
    return guarded(request, login, lambda: userman.log_in(login, password))


def api_actor(
    request: Request,
    basic: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The actor of an API request: a customer by HTTP basic authentication or by a token;
    a change from another site is refused before either is checked."""
    refuse_cross_site(request)
    userman = userman_of(request)
    if bearer is not None:
        token = bearer.credentials
        client = request.client.host if request.client else "?"
        key = f"token:{token[:TOKEN_SHOWN]}@{client}"
        return guarded(request, key, lambda: userman.token_actor(token))
    if basic is None:
        raise HTTPException(
            401,
            detail="failure: log in as a customer (HTTP basic or a token)",
            headers=challenge(request),
        )
    return log_in(request, basic.username, basic.password)
