"""The server's metrics (server/metrics.py): what the loop counted, as Prometheus reads it; the
per-router counters that both /metrics and `router monitor` read; workers' snapshots summed;
systemd's readiness message (server/notify.py)."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from inmemory import ROUTER, FakeTransport, access_request, accounting, do, make_app, run_server
from userman.server import metrics, notify
from userman.server.endpoint import RadiusServer
from userman.services import Actor, Userman


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Userman]:
    userman = make_app(tmp_path, sqlite_template)
    do(userman, "user create-and-activate-profile", "test", profile="p")
    yield userman
    userman.close()


def serve(app: Userman, *datagrams: tuple[bytes, bool], flush: bool = True) -> RadiusServer:
    transport = FakeTransport(app)

    async def each(server: RadiusServer) -> None:
        for data, acct in datagrams:
            await server.handle(transport, data, ROUTER, acct)

    return run_server(app, each, flush=flush)


def scrape(source: metrics.Snapshot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples a Prometheus server would read, by name and labels."""
    registry = CollectorRegistry()
    registry.register(metrics.Collector(lambda: source))
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def router_id(app: Userman) -> str:
    [item] = app.execute(Actor.superuser(), ("router",), "print").items
    return str(item.json[".id"]).lstrip("*")


def test_answers_rejects_duplicates_and_latency_are_scraped(app: Userman) -> None:
    _, good = access_request("test", "test")
    _, bad = access_request("test", "wrong")
    server = serve(
        app,
        (good, False),
        (bad, False),
        (bad, False),  # the same datagram again: from the duplicate cache (RFC 5080 2.2.2)
        (accounting("test", "Start"), True),
        (b"\x01", False),
    )
    got = scrape(metrics.snapshot(server))
    router = router_id(app)

    def requests(code: str, result: str) -> float:
        labels = (("code", code), ("result", result), ("router", router))
        return got[("userman_radius_requests_total", labels)]

    assert requests("access-request", "accept") == 1
    assert requests("access-request", "reject") == 1
    assert requests("accounting-request", "stored") == 1
    assert got[("userman_radius_duplicates_total", (("router", router),))] == 1
    dropped = (("reason", "malformed"), ("router", router))
    assert got[("userman_radius_dropped_total", dropped)] == 1
    assert got[("userman_radius_rejects_total", (("reason", "wrong-password"),))] == 1
    assert got[("userman_radius_rejects_total", (("reason", "unknown-user"),))] == 0
    # Two Access-Requests answered, one Accounting-Request (the duplicate's cached reply and
    # the dropped datagram are no answers of their own).
    assert got[("userman_radius_response_seconds_count", (("port", "auth"),))] == 2
    assert got[("userman_radius_response_seconds_count", (("port", "acct"),))] == 1
    inf = (("le", "+Inf"), ("port", "auth"))
    assert got[("userman_radius_response_seconds_bucket", inf)] == 2
    batches = got[("userman_writer_batch_records_count", (("writer", "accounting"),))]
    assert batches == 1
    assert got[("userman_writer_batch_records_sum", (("writer", "accounting"),))] == 1
    assert got[("userman_coa_answers_total", (("answer", "timeout"),))] == 0
    assert ("userman_database_connections", (("state", "in-use"),)) in got


def test_no_tenant_words_in_the_labels(app: Userman) -> None:
    """Routers are labelled by id: never the router's name or address (docs/security.md)."""
    _, good = access_request("test", "test")
    server = serve(app, (good, False))
    text = generate_latest(_registry(server)).decode()
    assert "userman_radius_requests_total" in text
    for word in ("r", "127.0.0.1", "test", "admin"):
        assert f'"{word}"' not in text


def _registry(server: RadiusServer) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(metrics.Collector(metrics.server_source(server)))
    return registry


def test_router_monitor_gets_each_count_once_across_flushes(app: Userman) -> None:
    """The per-router counters stay whole for /metrics; each flush adds what they grew by, and
    a flush that failed is added by the next one."""
    _, good = access_request("test", "test")
    transport = FakeTransport(app)
    real = app.add_counters
    failures = [RuntimeError("the database is away")]

    def add_counters(counts: dict[tuple[int, str], int]) -> None:
        if failures:
            raise failures.pop()
        real(counts)

    async def run(server: RadiusServer) -> None:
        await server.handle(transport, good, ROUTER, False)
        with pytest.raises(RuntimeError):
            await server.flush_counters()
        await server.handle(transport, good, (ROUTER[0], ROUTER[1] + 1), False)
        await server.flush_counters()
        await server.flush_counters()  # nothing grew: nothing added

    app.add_counters = add_counters  # type: ignore[method-assign]
    server = run_server(app, run)
    [item] = app.execute(Actor.superuser(), ("router",), "monitor", ("r",)).items
    assert item.json["accepts"] == 2
    assert server.router_counters[(int(router_id(app)), "accepts")] == 2


def test_histogram_buckets_are_prometheus_le() -> None:
    histogram = metrics.Histogram((1.0, 2.0))
    for value in (0.5, 1.0, 1.5, 2.0, 3.0):
        histogram.observe(value)
    assert histogram.counts == [2, 2, 1]  # a value equal to a bound is in that bound's bucket
    one = metrics.Snapshot()
    one.add_histogram("userman_radius_response_seconds", metrics.Histogram())
    assert len(one.histograms[("userman_radius_response_seconds", ())][0]) == 14


def test_workers_snapshots_are_summed_through_a_directory(tmp_path: Path) -> None:
    """The multi-process hook: each worker publishes, the scraping process gathers and sums;
    counters and histograms add up, gauges combine as METRICS says."""
    first, second = metrics.Snapshot(), metrics.Snapshot()
    for one, (accepts, age, loaded) in zip(
        (first, second), ((3, 0.2, 1), (4, 0.9, 0)), strict=True
    ):
        labels = {"router": "1", "code": "access-request", "result": "accept"}
        one.add("userman_radius_requests", accepts, **labels)
        one.add("userman_policy_age_seconds", age)
        one.add("userman_policy_loaded", loaded)
        histogram = metrics.Histogram()
        histogram.observe(0.003)
        one.add_histogram("userman_radius_response_seconds", histogram, port="auth")
    metrics.publish(tmp_path, first, "1")
    metrics.publish(tmp_path, second, "2")
    (tmp_path / "junk.json").write_text("not json")
    gathered = metrics.gather(tmp_path)
    assert set(gathered) == {"1", "2"}
    got = scrape(metrics.merge(gathered.values()))
    labels = (("code", "access-request"), ("result", "accept"), ("router", "1"))
    assert got[("userman_radius_requests_total", labels)] == 7
    assert got[("userman_policy_age_seconds", ())] == 0.9  # the oldest
    assert got[("userman_policy_loaded", ())] == 0  # not every worker has it
    assert got[("userman_radius_response_seconds_count", (("port", "auth"),))] == 2
    # Per worker instead: a `worker` label on every series.
    apart = scrape(metrics.merge(metrics.label(one, worker=w) for w, one in gathered.items()))
    assert apart[("userman_radius_requests_total", (*labels, ("worker", "2")))] == 4


def _worker(accepts: int, queued: int) -> metrics.Snapshot:
    one = metrics.Snapshot()
    one.add("userman_radius_requests", accepts, router="1", code="access-request", result="accept")
    one.add("userman_writer_queued_records", queued)
    histogram = metrics.Histogram()
    histogram.observe(0.003)
    one.add_histogram("userman_radius_response_seconds", histogram, port="auth")
    return one


def test_a_worker_that_ended_is_retired_its_counters_kept(tmp_path: Path) -> None:
    """`serve --workers`: the parent retires a worker that ended; the sums never go back
    (Prometheus counters), the gone worker's gauges leave, and its files go."""
    labels = (("code", "access-request"), ("result", "accept"), ("router", "1"))
    accepts = ("userman_radius_requests_total", labels)
    answered = ("userman_radius_response_seconds_count", (("port", "auth"),))
    metrics.publish(tmp_path, _worker(3, 5), "100")
    metrics.publish(tmp_path, _worker(4, 7), "200")
    (tmp_path / ".100.json.partial").write_text("{half")  # killed while it wrote
    metrics.retire(tmp_path, "100")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["200.json", "retired.json"]
    got = scrape(metrics.merge(metrics.gather(tmp_path).values()))
    assert got[accepts] == 7
    assert got[answered] == 2
    assert got[("userman_writer_queued_records", ())] == 7  # worker 100's 5 are gone
    # Its successor starts from zero; another one ends; the retired sum holds both.
    metrics.publish(tmp_path, _worker(1, 0), "101")
    metrics.retire(tmp_path, "200")
    metrics.retire(tmp_path, "999")  # one that never published: nothing
    gathered = metrics.gather(tmp_path)
    assert set(gathered) == {"101", "retired"}
    got = scrape(metrics.merge(gathered.values()))
    assert got[accepts] == 8
    assert got[answered] == 3


def test_a_retired_workers_file_left_behind_is_not_counted_twice(tmp_path: Path) -> None:
    """A parent that crashed between writing retired.json and removing the worker's file
    (or a scrape between the two): retired.json names the workers it holds."""
    metrics.publish(tmp_path, _worker(3, 5), "100")
    metrics.retire(tmp_path, "100")
    metrics.publish(tmp_path, _worker(3, 5), "100")  # as if never removed
    gathered = metrics.gather(tmp_path)
    assert set(gathered) == {"retired"}
    metrics.publish(tmp_path, _worker(2, 0), "200")
    metrics.retire(tmp_path, "200")  # 100's file is still named, so still skipped
    got = scrape(metrics.merge(metrics.gather(tmp_path).values()))
    assert got[("userman_radius_response_seconds_count", (("port", "auth"),))] == 2


def test_a_worker_publishes_until_stopped(tmp_path: Path) -> None:
    """The task a worker runs beside its ports: a snapshot every interval, and a last one."""
    published = []

    def source() -> metrics.Snapshot:
        one = metrics.Snapshot()
        one.add("userman_policy_loads", len(published) + 1)
        published.append(one)
        return one

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(metrics.publishing(source, tmp_path, stop, every=0.01))
        while len(published) < 3:
            await asyncio.sleep(0.01)
        stop.set()
        await task

    asyncio.run(run())
    [(worker, last)] = metrics.gather(tmp_path).items()
    assert worker == str(os.getpid())
    assert last.values[("userman_policy_loads", ())] == len(published)


@pytest.mark.parametrize("abstract", [False, True])
def test_notify_tells_systemd_over_its_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, abstract: bool
) -> None:
    """https://www.freedesktop.org/software/systemd/man/latest/sd_notify.html: a datagram of
    KEY=VALUE lines to $NOTIFY_SOCKET, a path or `@` and an abstract name."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        if abstract:
            name = f"userman-test-{os.getpid()}"
            systemd.bind("\0" + name)
            monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        else:
            systemd.bind(str(tmp_path / "notify"))
            monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
        systemd.settimeout(5)
        assert notify.notify("READY=1\nSTATUS=answering RADIUS")
        assert systemd.recv(4096) == b"READY=1\nSTATUS=answering RADIUS"
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not notify.notify("READY=1")  # not under systemd: nothing sent
