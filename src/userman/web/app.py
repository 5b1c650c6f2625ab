"""The ASGI application: the REST API (and, as they come, the pages), with errors as JSON.

Handlers are plain functions, so FastAPI runs them in its worker threads: the web's event loop
(in a thread of its own, web/serve.py, never the one that answers RADIUS) does not wait on the
database or on argon2 either.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from userman import __version__
from userman.core.errors import (
    BusyError,
    ConflictError,
    InvalidValueError,
    NotFoundError,
    PermissionDeniedError,
    UnknownPropertyError,
    UsermanError,
)
from userman.services import Userman
from userman.web import (
    customer,
    metrics,
    payments,
    reports,
    sections,
    settings,
    signup,
    user_page,
    vouchers,
    web_sessions_page,
)
from userman.web.api import api_router
from userman.web.auth import Guard
from userman.web.headers import SecurityHeaders
from userman.web.limits import BodyLimit, WebLimits
from userman.web.pages import render

if TYPE_CHECKING:
    from collections.abc import Sequence

    from prometheus_client import CollectorRegistry

__all__ = ["STATIC", "create_app", "status_of"]

STATIC = Path(__file__).parent / "static"  # vendored, served at /static: no outside host


def status_of(error: UsermanError) -> int:
    """The HTTP status of a services error."""
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, ConflictError):
        return 409
    if isinstance(error, PermissionDeniedError):
        return 403
    if isinstance(error, BusyError):
        return 503
    return 400


def _retry(error: UsermanError) -> dict[str, str]:
    """The headers of a services error: Retry-After for a busy one."""
    return {"Retry-After": str(error.retry_after)} if isinstance(error, BusyError) else {}


def _property(error: UsermanError) -> str | None:
    if isinstance(error, InvalidValueError | UnknownPropertyError | ConflictError):
        return error.prop
    return None


def _error(status: int, text: str, prop: str | None = None, **headers: str) -> JSONResponse:
    body: dict[str, Any] = {"error": text}
    if prop is not None:
        body["property"] = prop
    return JSONResponse(body, status_code=status, headers=headers or None)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api")


TITLES = {
    401: "Log in first",
    403: "Not allowed",
    404: "Not found",
    408: "Too slow",
    413: "Too large",
    429: "Too many tries",
    503: "Busy",
}


def _error_page(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    response = render(
        request,
        "error.html",
        status_code=status,
        status=status,
        title=TITLES.get(status, "Something went wrong"),
        message=message.removeprefix("failure: "),
    )
    response.headers.update(headers or {})
    return response


def create_app(
    userman: Userman,
    *,
    guard: Guard | None = None,
    limits: WebLimits | None = None,
    registry: CollectorRegistry | None = None,
    metrics_allow: Sequence[metrics.Network] = metrics.LOOPBACK,
) -> FastAPI:
    """The application; /metrics reads `registry` (web/metrics.py), from `metrics_allow`."""
    limits = limits or WebLimits()
    app = FastAPI(
        title="userman",
        version=__version__,
        description="The REST API of userman: every menu and verb of the command line.",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.userman = userman
    app.state.guard = guard or Guard()
    app.add_middleware(BodyLimit, max_body=limits.max_body, timeout=limits.timeout)
    app.add_middleware(SecurityHeaders)  # on BodyLimit's answers too
    # /healthz, /readyz, /metrics, and the count of every request (the outermost middleware).
    metrics.install(app, userman, registry, metrics_allow)
    app.include_router(api_router())
    app.include_router(customer.router)
    app.include_router(web_sessions_page.router)
    app.include_router(vouchers.router)  # before the users' pages: /userman/users/batch
    app.include_router(sections.router)
    app.include_router(signup.router)
    app.include_router(settings.api)
    app.include_router(settings.router)
    app.include_router(payments.router)
    app.include_router(reports.router)
    user_page.install(app)
    app.add_exception_handler(customer.LoginRequired, customer.login_redirect)  # type: ignore[arg-type]

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/userman", status_code=307)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/docs", include_in_schema=False)
    def docs(request: Request) -> Response:
        """The interactive API documentation (Swagger UI, vendored, started by
        static/api-docs.js: no inline script)."""
        return render(request, "api_docs.html")

    @app.exception_handler(UsermanError)
    def services_error(request: Request, error: UsermanError) -> Response:
        headers = _retry(error)
        if not _is_api(request):
            return _error_page(request, status_of(error), f"failure: {error}", headers)
        return _error(status_of(error), f"failure: {error}", _property(error), **headers)

    @app.exception_handler(HTTPException)
    def http_error(request: Request, error: HTTPException) -> Response:
        if not _is_api(request):
            return _error_page(request, error.status_code, str(error.detail), error.headers)
        return _error(error.status_code, str(error.detail), **(error.headers or {}))

    @app.exception_handler(RequestValidationError)
    def bad_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {"loc": (), "msg": "bad request"}
        where = ".".join(str(part) for part in first["loc"] if part != "body") or "body"
        return _error(400, f"failure: {where}: {first['msg']}", where)

    return app
