"""The ASGI application: the REST API (and, as they come, the pages), with errors as JSON.

Handlers are plain functions, so FastAPI runs them in its worker threads: the event loop that
also answers RADIUS never waits on the database or on argon2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from userman import __version__
from userman.core.errors import (
    ConflictError,
    InvalidValueError,
    NotFoundError,
    PermissionDeniedError,
    UnknownPropertyError,
    UsermanError,
)
from userman.services import Userman
from userman.web.api import api_router
from userman.web.auth import Guard

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
    return 400


def _property(error: UsermanError) -> str | None:
    if isinstance(error, InvalidValueError | UnknownPropertyError | ConflictError):
        return error.prop
    return None


def _error(status: int, text: str, prop: str | None = None, **headers: str) -> JSONResponse:
    body: dict[str, Any] = {"error": text}
    if prop is not None:
        body["property"] = prop
    return JSONResponse(body, status_code=status, headers=headers or None)


def create_app(userman: Userman, *, guard: Guard | None = None) -> FastAPI:
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
    app.include_router(api_router())
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """The interactive API documentation (Swagger UI, vendored)."""
        swagger = "/static/vendor/swagger-ui"
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title="userman API",
            swagger_js_url=f"{swagger}/swagger-ui-bundle.js",
            swagger_css_url=f"{swagger}/swagger-ui.css",
            swagger_favicon_url=f"{swagger}/favicon-32x32.png",
            # No validator badge: it would ask validator.swagger.io about our document.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.exception_handler(UsermanError)
    def services_error(_request: Request, error: UsermanError) -> JSONResponse:
        return _error(status_of(error), f"failure: {error}", _property(error))

    @app.exception_handler(HTTPException)
    def http_error(_request: Request, error: HTTPException) -> JSONResponse:
        return _error(error.status_code, str(error.detail), **(error.headers or {}))

    @app.exception_handler(RequestValidationError)
    def bad_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {"loc": (), "msg": "bad request"}
        where = ".".join(str(part) for part in first["loc"] if part != "body") or "body"
        return _error(400, f"failure: {where}: {first['msg']}", where)

    return app
