"""`userman serve`: its options checked, every port bound before it says it listens on any,
then the server answering (one process, `--workers N`'s parent and its workers). The one
command that imports the server and the web, lazily, inside its functions (DESIGN.md): this
module loads with the rest of the CLI and must stay light.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from userman.cli.failure import Failure, open_app
from userman.cli.ports import bind_tcp
from userman.cli.remote import ENV, database_key, socket_path
from userman.core.errors import UsermanError
from userman.core.values import parse_duration, parse_size
from userman.services import Userman

if TYPE_CHECKING:
    from userman.cli.control import Control, Owner
    from userman.server.main import Role
    from userman.web.serve import CollectorRegistry, Network, Task

__all__ = ["Workers", "serve"]


PORT = click.IntRange(0, 65535)
Bound = TypeVar("Bound")  # a bound socket, or serve --workers N's list of them


class Workers(click.ParamType):  # type: ignore[type-arg]
    """`serve --workers`: a number of processes from 1 to MAX_WORKERS, or auto (one a core)."""

    name = "workers"
    most = 64  # server/workers.py MAX_WORKERS, without importing the server here

    def convert(  # noqa: RET503 - `fail` raises
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().lower()
        if text == "auto":
            try:
                return len(os.sched_getaffinity(0))
            except AttributeError:  # not on Linux
                return os.cpu_count() or 1
        if text.isdigit() and 1 <= int(text) <= self.most:
            return int(text)
        self.fail(f"{value!r}: a number of processes from 1 to {self.most}, or auto", param, ctx)


def _why(error: OSError) -> str:
    """Why a port could not be bound, in a few words."""
    if isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL:
        return "not an address of this host"
    if error.errno == errno.EACCES:
        return "permission denied (a port below 1024 needs root or CAP_NET_BIND_SERVICE)"
    return (error.strerror or str(error)).lower()


def _listening(
    what: str, protocol: str, host: str, port: int, bind: Callable[[str, int], Bound]
) -> Bound:
    """`bind(host, port)`, or the Failure that names the port, its protocol and why."""
    try:
        return bind(host, port)
    except OSError as error:
        where = f"{host} port {port}/{protocol} ({what})"
        raise Failure(f"cannot listen on {where}: {_why(error)}") from None


@click.command()
@click.option("--bind", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option(
    "--auth-port",
    type=PORT,
    default=1812,
    show_default=True,
    help="RADIUS authentication port (0: one the system picks, as logged).",
)
@click.option(
    "--acct-port",
    type=PORT,
    default=1813,
    show_default=True,
    help="RADIUS accounting port (0: one the system picks, as logged).",
)
@click.option(
    "--radsec-port",
    type=PORT,
    default=None,
    help="RadSec (RADIUS over TLS) port, for authentication and accounting both (0: none). "
    "Default: 2083 when a radsec-certificate is set when the server starts, else none.",
)
@click.option(
    "--interim-interval",
    default="5m",
    show_default=True,
    help="Acct-Interim-Interval sent with every Access-Accept (RouterOS time; 0 sends none).",
)
@click.option(
    "--http-port",
    type=PORT,
    default=8080,
    show_default=True,
    help="Port of the web interface and the REST API (0: none).",
)
@click.option("--http-bind", default=None, help="Address of the web port (default: --bind).")
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Certificate (PEM) to serve the web port with HTTPS.",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Private key (PEM) of --tls-cert.",
)
@click.option(
    "--http-max-body",
    default="1M",
    show_default=True,
    metavar="SIZE",
    help="Largest request body the web port reads (512k, 1M, ...): a larger one is refused "
    "with 413 before it is read.",
)
@click.option(
    "--http-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="How long a web client may take to send a request's headers, or pause in its body, "
    "before its connection is closed (slow clients hold no connection longer).",
)
@click.option(
    "--http-max-connections",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Web connections open at once; a request beyond them is answered 503.",
)
@click.option(
    "--metrics-port",
    type=PORT,
    default=0,
    show_default=True,
    help="Port of /metrics, /healthz and /readyz alone, for when the web port is off or "
    "elsewhere (0: none; the web port serves them too).",
)
@click.option(
    "--metrics-bind",
    default="127.0.0.1",
    show_default=True,
    help="Address of --metrics-port.",
)
@click.option(
    "--metrics-allow",
    default="127.0.0.0/8,::1",
    show_default=True,
    metavar="NETWORKS",
    help="Who may read /metrics (on either port): addresses or networks, comma-separated. Its "
    "series count every customer's routers (by id): keep it to Prometheus's address.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="The server's log on stderr: text lines with times, or one JSON object a line.",
)
@click.option(
    "--syslog",
    default=None,
    metavar="URL",
    help=(
        "Also send the server's log and every row of the log menu to a syslog collector, as "
        "RFC 5424: udp://HOST[:514], tcp://HOST[:601] or tls://HOST[:6514] (RFC 5425: the "
        "collector's certificate verified, against the system's CAs or ?ca_file=PATH, and its "
        "name against HOST), ?facility=local0 (default daemon)."
    ),
)
@click.option(
    "--loop",
    default="auto",
    show_default=True,
    metavar="[auto|asyncio|uvloop]",
    help="Event loop of the server: auto is uvloop when installed, else asyncio.",
)
@click.option(
    "--workers",
    type=Workers(),
    default="1",
    show_default=True,
    metavar="[N|auto]",
    help="Processes that answer RADIUS on the same ports (SO_REUSEPORT; auto: one a core). "
    "Worker 0 also serves the web port and CLI commands; one that ends is started again.",
)
@click.option("--worker", default=None, hidden=True, help="Run as a worker (its parent's).")
@click.pass_context
def serve(  # noqa: PLR0917 - click passes every option
    ctx: click.Context,
    bind: str,
    auth_port: int,
    acct_port: int,
    radsec_port: int | None,
    interim_interval: str,
    http_port: int,
    http_bind: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    http_max_body: str,
    http_timeout: float,
    http_max_connections: int,
    metrics_port: int,
    metrics_bind: str,
    metrics_allow: str,
    log_format: str,
    syslog: str | None,
    loop: str,
    workers: int,
    worker: str | None,
) -> None:
    """Answer RADIUS authentication and accounting, and serve the web interface and the REST
    API, until stopped (Ctrl-C or SIGTERM).

    With --workers N, N processes answer on the same RADIUS ports, each router's source port
    always reaching the same one; worker 0 also serves the web port and CLI commands, and
    sends Disconnect/CoA requests. A worker that ends is started again; the parent logs each
    worker's pid. N above 1 needs a database file or PostgreSQL.

    Every port is bound before the server says it listens on any: a port that is taken or not
    allowed, or an address not of this host, stops it with one line naming the port, as does a
    --tls-cert or --tls-key that does not load. The web runs in a thread and an event loop of
    its own, so a slow web request never delays RADIUS. On an SQLite database a second server
    is refused (a server already runs on it). /healthz, /readyz and /metrics (Prometheus) are
    on the web port and on --metrics-port; under systemd (Type=notify) it sends READY=1 once it
    answers."""
    from userman.server.main import Role  # noqa: PLC0415 - only serve's

    serving = _serving(
        ctx,
        bind=bind,
        radsec_port=radsec_port,
        interim_interval=interim_interval,
        http_port=http_port,
        tls_cert=tls_cert,
        tls_key=tls_key,
        http_max_body=http_max_body,
        http_timeout=http_timeout,
        http_max_connections=http_max_connections,
        metrics_port=metrics_port,
        metrics_allow=metrics_allow,
        log_format=log_format,
        syslog=syslog,
        loop=loop,
        workers=workers,
        worker=worker,
    )
    if worker is not None:  # started by `serve --workers N` (server/workers.py), not by people
        _serve_worker(worker, serving)
        return
    control = _control(serving.db_url)
    ports = _bind_ports(
        serving,
        control,
        workers=workers,
        auth_port=auth_port,
        acct_port=acct_port,
        http_bind=http_bind or bind,
        http_port=http_port,
        metrics_bind=metrics_bind,
        metrics_port=metrics_port,
    )
    # Every port is bound: now the lines that say so.
    if workers == 1:
        _answer(serving, ports, control=control, role=Role(), tasks=[])
        return
    ctx.exit(_supervise(ctx, serving, ports, control))


@dataclass(frozen=True, slots=True)
class _Serving:
    """How `serve` answers, its options checked and its database open before any port is bound
    (in the one process, in a worker, and in `--workers N`'s parent)."""

    app: Userman
    db_url: str
    bind: str
    interim_interval: int  # seconds (0: none is sent)
    loop: str
    log_format: str
    syslog: str | None
    tls_cert: str | None
    tls_key: str | None
    http_max_body: int
    http_timeout: float
    http_max_connections: int
    registry: CollectorRegistry | None  # /metrics: the web's requests, the server's counters
    metrics_allow: tuple[Network, ...]
    radsec_port: int  # the RadSec port to bind; 0: none, `radsec_off` says why
    radsec_off: str


@dataclass(frozen=True, slots=True)
class _Ports:
    """The ports `serve` bound: an authentication and accounting pair for each worker (one
    without --workers), and the TCP ports (None: off)."""

    radius: list[tuple[socket.socket, socket.socket]]
    radsec: socket.socket | None
    web: socket.socket | None
    metrics: socket.socket | None


def _serving(
    ctx: click.Context,
    *,
    bind: str,
    radsec_port: int | None,
    interim_interval: str,
    http_port: int,
    tls_cert: str | None,
    tls_key: str | None,
    http_max_body: str,
    http_timeout: float,
    http_max_connections: int,
    metrics_port: int,
    metrics_allow: str,
    log_format: str,
    syslog: str | None,
    loop: str,
    workers: int,
    worker: str | None,
) -> _Serving:
    """`serve`'s options, each checked before anything is bound, and its database opened."""
    from userman.server.main import event_loop, syslog_target  # noqa: PLC0415 - only serve's

    try:
        interval = int(parse_duration(interim_interval, "interim-interval").total_seconds())
        max_body = parse_size(http_max_body, "http-max-body")
        if syslog:
            syslog_target(syslog)  # a wrong URL is said before anything is bound
    except (UsermanError, ValueError) as error:
        raise click.BadParameter(str(error)) from None
    if max_body < 1:
        raise click.BadParameter("--http-max-body must be at least 1 byte (forms need one)")
    try:
        event_loop(loop)  # an unknown or missing loop, said before anything is bound
    except ValueError as error:
        raise Failure(str(error)) from None
    if (tls_cert is None) != (tls_key is None):
        raise click.BadParameter("give both --tls-cert and --tls-key, or neither")
    registry: CollectorRegistry | None = None
    allow: tuple[Network, ...] = ()
    if http_port or metrics_port:
        from userman.web.serve import new_registry, parse_allow  # noqa: PLC0415 - the web's

        try:
            allow = parse_allow(metrics_allow)
        except ValueError as error:
            raise click.BadParameter(str(error)) from None
        registry = new_registry()
    db_url = ctx.obj["db"]
    if workers > 1 and database_key(db_url) is None:
        raise click.BadParameter(
            f"--workers {workers} needs a database the workers share: a file or PostgreSQL, "
            f"not {db_url}"
        )
    # In a worker the parent brought the schema up to date already: this only checks it.
    app = open_app(ctx)
    radsec_port, radsec_off = _radsec(app, radsec_port, worker)
    return _Serving(
        app=app,
        db_url=db_url,
        bind=bind,
        interim_interval=interval,
        loop=loop,
        log_format=log_format,
        syslog=syslog,
        tls_cert=tls_cert,
        tls_key=tls_key,
        http_max_body=max_body,
        http_timeout=http_timeout,
        http_max_connections=http_max_connections,
        registry=registry,
        metrics_allow=allow,
        radsec_port=radsec_port,
        radsec_off=radsec_off,
    )


def _radsec(app: Userman, port: int | None, worker: str | None) -> tuple[int, str]:
    """The RadSec port to bind (0: none), and why there is none to say at the start. Without
    --radsec-port: 2083 when a radsec-certificate is set (a worker binds nothing)."""
    if port == 0:
        return 0, "--radsec-port 0"
    if port is None and worker is None:
        if app.tls_material().radsec is None:
            return 0, (
                "no radsec-certificate is set (database set radsec-certificate=NAME and restart,"
                " or start with --radsec-port 2083)"
            )
        return 2083, ""  # server/radsec.py PORT, without importing the server here
    return port or 0, ""


def _control(db_url: str) -> Control | Owner | None:
    """The control socket that answers CLI commands (cli/control.py), or the server that owns
    it already; a Failure when it cannot be made, or when a server runs on this SQLite file."""
    from userman.cli.control import Owner, claim  # noqa: PLC0415 - only serve's

    try:
        control = claim(db_url)
    except OSError as error:
        where = error.filename or "its place"
        raise Failure(
            f"cannot make the control socket at {where}: {(error.strerror or str(error)).lower()}"
            f" (${ENV}=PATH puts it elsewhere, ${ENV}=off goes without)"
        ) from None
    if isinstance(control, Owner) and (database_key(db_url) or "").startswith("sqlite:"):
        pid = f"pid {control.pid}, " if control.pid else ""
        raise Failure(
            f"a server already runs on {db_url} ({pid}answering CLI commands on "
            f"{control.path}): stop it first, or serve another database"
        )
    return control


def _bind_ports(
    serving: _Serving,
    control: Control | Owner | None,
    *,
    workers: int,
    auth_port: int,
    acct_port: int,
    http_bind: str,
    http_port: int,
    metrics_bind: str,
    metrics_port: int,
) -> _Ports:
    """Every port of `serve`, bound before it says it listens on any (a web or metrics port 0:
    none). The first that cannot be is a Failure that names it, the control socket closed."""
    from userman.cli.control import Control  # noqa: PLC0415 - only serve's

    radsec = web = metrics = None
    try:
        radius = _bind_radius(serving.bind, auth_port, acct_port, workers)
        if serving.radsec_port:
            radsec = _listening("RadSec", "tcp", serving.bind, serving.radsec_port, bind_tcp)
        if http_port:
            web = _listening("web", "tcp", http_bind, http_port, bind_tcp)
        if metrics_port:
            metrics = _listening("metrics", "tcp", metrics_bind, metrics_port, bind_tcp)
    except BaseException:
        if isinstance(control, Control):
            control.close()
        raise
    return _Ports(radius, radsec=radsec, web=web, metrics=metrics)


def _bind_radius(
    host: str, auth_port: int, acct_port: int, workers: int
) -> list[tuple[socket.socket, socket.socket]]:
    """The authentication and accounting ports: one pair, or with --workers N a pair for each
    worker on the same ports (SO_REUSEPORT, server/workers.py)."""
    from userman.server.main import bind_udp  # noqa: PLC0415 - only serve's

    if workers == 1:
        return [
            (
                _listening("authentication", "udp", host, auth_port, bind_udp),
                _listening("accounting", "udp", host, acct_port, bind_udp),
            )
        ]
    from userman.server.workers import bind_shared  # noqa: PLC0415 - only serve's

    def bind_ports(host: str, port: int) -> list[socket.socket]:
        return bind_shared(host, port, workers)

    auth = _listening("authentication", "udp", host, auth_port, bind_ports)
    acct = _listening("accounting", "udp", host, acct_port, bind_ports)
    return list(zip(auth, acct, strict=True))


def _answer(
    serving: _Serving,
    ports: _Ports,
    *,
    control: Control | Owner | None,
    role: Role,
    tasks: list[Any],
) -> None:
    """Answer on the bound ports, as the one process or as a worker (`role`), until stopped."""
    from userman.cli.control import Control, Owner  # noqa: PLC0415 - only serve's
    from userman.server.main import configure_logging, run_server  # noqa: PLC0415 - only serve's

    configure_logging(
        json_lines=serving.log_format == "json",
        syslog=serving.syslog,
        worker=role.index if role.ready is not None else None,
    )
    app = serving.app
    with contextlib.ExitStack() as running:
        if ports.web is not None:  # its own thread and event loop: it never delays RADIUS
            tasks.append(_serve_web(running, serving, ports.web, control))
        if ports.metrics is not None and serving.registry is not None:
            from userman.web.serve import metrics_server  # noqa: PLC0415 - the web's

            metrics = metrics_server(app, ports.metrics, serving.registry, serving.metrics_allow)
            tasks.append(running.enter_context(metrics))
        if isinstance(control, Control):
            tasks.append(control.task(app, serving.db_url))
        elif isinstance(control, Owner):
            control.say_so()
        run_server(
            app,
            bind=serving.bind,
            sockets=ports.radius[0],
            interim_interval=serving.interim_interval,
            tasks=tasks,
            loop=serving.loop,
            role=role,
            registry=serving.registry,
            radsec=ports.radsec,
            radsec_off=serving.radsec_off,
        )


def _serve_web(
    running: contextlib.ExitStack,
    serving: _Serving,
    sock: socket.socket,
    control: Control | Owner | None,
) -> Task:
    """The web port served from a thread of its own until `running` ends; its task. A Failure
    (the control socket closed) when --tls-cert and --tls-key do not load."""
    from userman.cli.control import Control  # noqa: PLC0415 - only serve's
    from userman.web.serve import WebLimits, web_server  # noqa: PLC0415 - the web's

    limits = WebLimits(
        max_body=serving.http_max_body,
        timeout=serving.http_timeout,
        max_connections=serving.http_max_connections,
    )
    server = web_server(
        serving.app,
        sock,
        certfile=serving.tls_cert,
        keyfile=serving.tls_key,
        limits=limits,
        registry=serving.registry,
        metrics_allow=serving.metrics_allow,
    )
    try:
        return running.enter_context(server)
    except OSError as error:  # ssl.SSLError: the web did not start, nothing listens
        if isinstance(control, Control):
            control.close()
        raise Failure(
            f"cannot serve HTTPS with --tls-cert {serving.tls_cert} and --tls-key "
            f"{serving.tls_key}: {error}"
        ) from None


# Where `serve --workers N`'s parent tells its workers to publish their counters for /metrics.
METRICS_DIR = "USERMAN_METRICS_DIR"


def _forwarded(ctx: click.Context) -> list[str]:
    """The options of this `serve` as a worker's command line repeats them (not --workers)."""
    words: list[str] = []
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name in ("workers", "worker"):
            continue
        value = ctx.params.get(param.name or "")
        if value is not None:
            words += [param.opts[0], str(value)]
    return words


def _supervise(
    ctx: click.Context, serving: _Serving, ports: _Ports, control: Control | Owner | None
) -> int:
    """Run `serve --workers N`'s workers (server/workers.py) until stopped; the exit status."""
    from userman.cli.control import Control, Owner  # noqa: PLC0415 - only serve's
    from userman.server.main import configure_logging  # noqa: PLC0415 - only serve's
    from userman.server.workers import Plan, supervise  # noqa: PLC0415 - only serve's

    serving.app.close()  # the parent holds no database: its workers open their own
    configure_logging(json_lines=serving.log_format == "json", syslog=serving.syslog)
    if serving.radsec_off:
        logging.getLogger("userman.server").info("RadSec is off: %s", serving.radsec_off)
    if isinstance(control, Owner):
        control.say_so()
    auth, acct = (sock.getsockname()[1] for sock in ports.radius[0])
    radsec = ports.radsec
    # Each worker publishes its counters here; worker 0 sums them for /metrics. Its own
    # directory (0700), gone with the parent: counts start again with the server.
    published = tempfile.TemporaryDirectory(prefix="userman-metrics-")
    env = {**os.environ, "USERMAN_DB": serving.db_url, METRICS_DIR: published.name}
    env.pop("NOTIFY_SOCKET", None)  # systemd hears from the parent alone (NotifyAccess=main)
    plan = Plan(
        argv=[sys.executable, "-m", "userman", "serve", *_forwarded(ctx)],
        env=env,  # the database URL here, not in argv, where ps shows a password
        sockets=ports.radius,
        web=ports.web,
        control=control.listener if isinstance(control, Control) else None,
        where=f"{serving.bind}: authentication {auth}/udp, accounting {acct}/udp"
        + ("" if radsec is None else f", RadSec {radsec.getsockname()[1]}/tcp"),
        metrics=ports.metrics,
        radsec=radsec,
        metrics_dir=Path(published.name),
    )
    try:
        return supervise(plan)
    finally:
        published.cleanup()
        if isinstance(control, Control):
            control.close()
        for pair in ports.radius:
            for sock in pair:
                sock.close()
        for listener in (ports.web, ports.metrics):
            if listener is not None:
                listener.close()


def _serve_worker(spec: str, serving: _Serving) -> None:
    """One worker of `serve --workers N`: the sockets its parent bound, by their descriptors."""
    from userman.cli.control import Control  # noqa: PLC0415 - only serve's
    from userman.server.main import Role  # noqa: PLC0415 - only serve's
    from userman.server.workers import Inherited, orphaned, ready_signal  # noqa: PLC0415

    try:
        inherited = Inherited.parse(spec)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    sockets = (socket.socket(fileno=inherited.auth), socket.socket(fileno=inherited.acct))
    for sock in sockets:
        sock.setblocking(False)
    web = socket.socket(fileno=inherited.web) if inherited.web >= 0 else None
    metrics = socket.socket(fileno=inherited.metrics) if inherited.metrics >= 0 else None
    radsec = socket.socket(fileno=inherited.radsec) if inherited.radsec >= 0 else None
    path = socket_path(serving.db_url)
    control = None
    if inherited.control >= 0 and path is not None:
        control = Control.inherited(path, inherited.control, inherited.parent)
    published = os.environ.get(METRICS_DIR)
    role = Role(
        inherited.index,
        inherited.workers,
        ready_signal(inherited.ready),
        Path(published) if published else None,
    )
    _answer(
        serving,
        _Ports([sockets], radsec=radsec, web=web, metrics=metrics),
        control=control,
        role=role,
        tasks=[orphaned(inherited.parent)],
    )
