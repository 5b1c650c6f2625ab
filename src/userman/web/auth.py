"""Who is asking: a customer logged in with HTTP basic credentials, and a brake on guessing.

Every failed log-in counts against the client's address and against the login tried; after
`LIMIT` failures within `WINDOW` seconds, either one is refused with 429 and Retry-After
until the oldest failure leaves the window, whatever the password. A success does not clear
the count, so that guessing cannot be interleaved with one known password.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Annotated, TypeVar

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

__all__ = ["LIMIT", "WINDOW", "Guard", "api_actor", "guarded", "log_in"]

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
CHALLENGE = {"WWW-Authenticate": 'Basic realm="userman"'}


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
        raise HTTPException(401, detail=f"failure: {error}", headers=CHALLENGE) from None


def log_in(request: Request, login: str, password: str) -> Actor:
    """The actor of a customer's login and password, or HTTPException 401/429."""
    userman = userman_of(request)
    return guarded(request, login, lambda: userman.log_in(login, password))


def api_actor(
    request: Request,
    basic: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The actor of an API request: a customer by HTTP basic authentication or by a token."""
    userman = userman_of(request)
    if bearer is not None:
        token = bearer.credentials
        return guarded(request, "(token)", lambda: userman.token_actor(token))
    if basic is None:
        raise HTTPException(
            401, detail="failure: log in as a customer (HTTP basic or a token)", headers=CHALLENGE
        )
    return log_in(request, basic.username, basic.password)
