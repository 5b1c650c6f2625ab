"""/metrics, /healthz and /readyz: for Prometheus, load balancers and systemd.

/healthz says the process serves HTTP; /readyz that it can answer routers (the database
answers, the policy is in memory), 503 until then. Neither needs a login nor says anything of
a tenant. /metrics (Prometheus text format) is read only from the addresses `allow` lists
(`serve --metrics-allow`, loopback by default) and never through a proxy (a request carrying
Forwarded or X-Forwarded-For is refused): its series count every tenant's routers (by id,
never by name or address; docs/security.md). The web's own requests are counted here; the
RADIUS server adds its collector to the same registry (server/metrics.py).
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    ProcessCollector,
    generate_latest,
)
from prometheus_client import Histogram as PromHistogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from userman.services import Userman

__all__ = [
    "LOOPBACK",
    "Network",
    "WebMetrics",
    "install",
    "metrics_app",
    "new_registry",
    "parse_allow",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[Network, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
READY_FOR = 1.0  # seconds a /readyz answer is reused: probes do not each query the database
WEB_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def parse_allow(text: str) -> tuple[Network, ...]:
    """`--metrics-allow`: networks or addresses, comma-separated; ValueError naming a bad one."""
    networks = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"--metrics-allow: {part!r} is no address or network") from None
    return tuple(networks)


def new_registry() -> CollectorRegistry:
    """The registry of `serve`: the process's CPU, memory and open files to begin with."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    return registry


class WebMetrics:
    """The web's requests, by method and status, and their durations: an ASGI middleware
    (the web is not the packet path: prometheus_client's own counters do)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "userman_web_requests",
            "Web and API requests answered, by method and status.",
            ["method", "status"],
            registry=registry,
        )
        self.seconds = PromHistogram(
            "userman_web_request_seconds",
            "How long web and API requests took to answer.",
            buckets=WEB_BUCKETS,
            registry=registry,
        )

    def middleware(self, app: ASGIApp) -> ASGIApp:
        async def counted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            began = time.perf_counter()
            status = 500  # what an application that raises ends in

            async def sending(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                await send(message)

            try:
                await app(scope, receive, sending)
            finally:
                method = scope["method"] if scope["method"] in METHODS else "other"
                self.requests.labels(method, str(status)).inc()
                self.seconds.observe(time.perf_counter() - began)

        return counted


class _Readiness:
    """/readyz's answer, reused for READY_FOR seconds."""

    def __init__(self, userman: Userman) -> None:
        self.userman = userman
        self._lock = threading.Lock()
        self._answer: tuple[float, bool, dict[str, str]] | None = None

    def check(self) -> tuple[bool, dict[str, str]]:
        with self._lock:
            now = time.monotonic()
            if self._answer is not None and now - self._answer[0] < READY_FOR:
                return self._answer[1], self._answer[2]
            try:
                self.userman.ping()
                database = "ok"
            except Exception:
                database = "unreachable"  # the server's log says why; a probe learns no more
            policy = "loaded" if self.userman.policy_loaded else "loading"
            ready = database == "ok" and policy == "loaded"
            self._answer = (now, ready, {"database": database, "policy": policy})
            return ready, self._answer[2]


def _proxied(request: Request) -> bool:
    return "forwarded" in request.headers or "x-forwarded-for" in request.headers


def _allowed(request: Request, allow: Sequence[Network]) -> bool:
    if request.client is None or _proxied(request):
        return False
    try:
        address = ipaddress.ip_address(request.client.host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in allow)


def health_router(
    userman: Userman, registry: CollectorRegistry, allow: Sequence[Network]
) -> APIRouter:
    """The three routes, outside the API's schema."""
    router = APIRouter(include_in_schema=False)
    readiness = _Readiness(userman)

    @router.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "alive"})

    @router.get("/readyz")
    def readyz() -> JSONResponse:
        ready, parts = readiness.check()
        body: dict[str, Any] = {"status": "ready" if ready else "not ready", **parts}
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get("/metrics")
    def scrape(request: Request) -> Response:
        if not _allowed(request, allow):
            return JSONResponse(
                {"error": "failure: /metrics is read only from the addresses of --metrics-allow"},
                status_code=403,
            )
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


def install(
    app: FastAPI,
    userman: Userman,
    registry: CollectorRegistry | None = None,
    allow: Sequence[Network] = LOOPBACK,
) -> CollectorRegistry:
    """Count the web's requests and serve the three routes on `app`; the registry /metrics
    reads (a new one when not given), for the RADIUS server to add its collector to."""
    registry = registry if registry is not None else CollectorRegistry()
    counting = WebMetrics(registry)
    app.add_middleware(_Middleware, wrap=counting.middleware)
    app.include_router(health_router(userman, registry, allow))
    return registry


class _Middleware:
    """Starlette's add_middleware wants a class: this one applies `wrap` to the app."""

    def __init__(self, app: ASGIApp, wrap: Any) -> None:
        self._app = wrap(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def metrics_app(
    userman: Userman, registry: CollectorRegistry, allow: Sequence[Network] = LOOPBACK
) -> FastAPI:
    """The application of `serve --metrics-port`: the three routes and nothing else."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(health_router(userman, registry, allow))
    return app
