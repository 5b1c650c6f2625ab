"""The server's metrics: plain counters on the packet path, Prometheus families at scrape time.

Per request the event loop does what it did (RadiusServer's Counters, kept cumulative) plus one
`Histogram.observe` (a bisect and an increment) and, for a reject, one Counter increment by
reason: nothing of prometheus_client runs per packet. `snapshot` reads all of it into a
`Snapshot` of plain values (copies of dicts and lists, each atomic under the GIL, so the
scraping thread needs no lock), and `Collector` turns snapshots into metric families when
/metrics is read. The catalogue, METRICS, is the one place that names and explains them.

Several workers (`serve --workers N`): each worker `publish`es its snapshot into a directory
(a JSON file per worker, replaced atomically, every PUBLISH_EVERY seconds); the process that
serves /metrics makes its Collector from `gather` of that directory (`merge` sums counters and
histograms, gauges as METRICS says; `label` keeps one worker's series apart instead). When a
worker ends, its parent `retire`s it: its counters and histograms join `retired.json` (the sums
never go back, as Prometheus counters must not), its gauges go, and its file is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from prometheus_client.metrics_core import Metric as Family

from userman.core.authorize import RejectReason

if TYPE_CHECKING:
    from userman.server.endpoint import RadiusServer
    from userman.services import Userman

__all__ = [
    "BATCH_BOUNDS",
    "LATENCY_BOUNDS",
    "METRICS",
    "PUBLISH_EVERY",
    "Collector",
    "Histogram",
    "Metric",
    "Snapshot",
    "gather",
    "label",
    "merge",
    "publish",
    "publishing",
    "retire",
    "snapshot",
]

Labels = tuple[tuple[str, str], ...]  # (name, value) pairs, sorted by name
Kind = Literal["counter", "gauge", "histogram"]

# Seconds: from a datagram read to its reply sent; a commit of the group-commit writers.
LATENCY_BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BOUNDS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)  # records a batch
PUBLISH_EVERY = 1.0  # seconds between two snapshots a worker writes (workers only)
RETIRED = "retired"  # the workers that ended, summed: `retire`


class Histogram:
    """Counts of observed values by bucket (upper bounds `bounds`, then +Inf) and their sum;
    one thread observes, any may read."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BOUNDS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        # Prometheus's `le`: a value equal to a bound is in that bound's bucket.
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric family: its kind, help text, and (gauges) how workers' values combine."""

    kind: Kind
    help: str
    combine: Literal["sum", "max", "min"] = "sum"
    bounds: tuple[float, ...] = LATENCY_BOUNDS


# Labels never carry a tenant's words: routers are their ids (`userman router print` shows
# which is which), never names or addresses (docs/security.md).
METRICS: dict[str, Metric] = {
    "userman_radius_requests": Metric(
        "counter", "RADIUS requests answered, by router id, request code and result."
    ),
    "userman_radius_dropped": Metric(
        "counter",
        "RADIUS requests dropped unanswered, by router id (empty: from no router) and reason.",
    ),
    "userman_radius_duplicates": Metric(
        "counter", "Retransmissions answered from the duplicate cache (RFC 5080), by router id."
    ),
    "userman_radius_rejects": Metric("counter", "Access-Rejects by reason (core RejectReason)."),
    "userman_radius_decisions": Metric(
        "counter", "Access-Requests decided from the policy in memory or by the database."
    ),
    "userman_radius_response_seconds": Metric(
        "histogram",
        "From a datagram read to its reply sent, by port: on auth, the decision latency; on "
        "acct, until the record was committed.",
    ),
    "userman_radius_duplicate_cache_entries": Metric(
        "gauge", "Requests held by the duplicate cache."
    ),
    "userman_writer_batch_records": Metric(
        "histogram",
        "Records a group commit stored, by writer (accounting, decisions).",
        bounds=BATCH_BOUNDS,
    ),
    "userman_writer_commit_seconds": Metric(
        "histogram", "How long a group commit took, by writer (accounting, decisions)."
    ),
    "userman_writer_failed_batches": Metric(
        "counter", "Group commits that failed and were stored again one record at a time."
    ),
    "userman_writer_queued_records": Metric("gauge", "Records waiting for a group commit."),
    "userman_policy_loaded": Metric(
        "gauge", "1 once the policy is in memory (0 in any worker: 0).", combine="min"
    ),
    "userman_policy_age_seconds": Metric(
        "gauge",
        "Seconds since the last good read of the policy's change log began.",
        combine="max",
    ),
    "userman_policy_loads": Metric("counter", "Times the whole policy was read into memory."),
    "userman_policy_changes": Metric("counter", "Changes read from the policy's change log."),
    "userman_policy_failed_reads": Metric(
        "counter", "Reads of the policy's change log that failed (decisions went on as read)."
    ),
    "userman_router_snapshots": Metric("counter", "Times the routers' snapshot was read again."),
    "userman_coa_answers": Metric(
        "counter",
        "Disconnect/CoA-Requests (RFC 5176) by outcome: ACK and NAK by kind, timeout, error.",
    ),
    "userman_database_connections": Metric(
        "gauge", "Connections of the database pool, by state (in-use, idle)."
    ),
    "userman_database_pool_size": Metric("gauge", "The database pool's configured size."),
}

# The per-router counters (RadiusServer.router_counters) each metric is made of.
ANSWERED = {
    "accepts": ("access-request", "accept"),
    "rejects": ("access-request", "reject"),
    "access-challenges": ("access-request", "challenge"),  # an EAP conversation goes on
    "accounting-requests": ("accounting-request", "stored"),
    "status-server": ("status-server", "answered"),
}
DROPPED = {
    "broken-requests": "malformed",
    "failed-requests": "failed",
    "missing-message-authenticator": "missing-message-authenticator",
    "bad-authenticator": "bad-authenticator",
    "eap-refused": "eap-conversations-full",  # server/eap.py
    "eap-discarded": "eap-out-of-turn",
}
COA = {
    "disconnect-ack": "disconnect-ack",
    "disconnect-nak": "disconnect-nak",
    "coa-ack": "coa-ack",
    "coa-nak": "coa-nak",
    "coa-timeouts": "timeout",
    "coa-errors": "error",
}


@dataclass(slots=True)
class Snapshot:
    """Metric values at one moment, as plain values (a worker's, or several summed)."""

    values: dict[tuple[str, Labels], float] = field(default_factory=dict)
    # Bucket counts (not cumulative, +Inf last) and the sum.
    histograms: dict[tuple[str, Labels], tuple[list[int], float]] = field(default_factory=dict)

    def add(self, name: str, value: float, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        self.values[key] = self.values.get(key, 0) + value

    def add_histogram(self, name: str, histogram: Histogram, **labels: str) -> None:
        counts, total = list(histogram.counts), histogram.total  # one copy: consistent buckets
        self.histograms[(name, tuple(sorted(labels.items())))] = (counts, total)

    def to_json(self) -> str:
        return json.dumps(
            {
                "values": [[name, labels, value] for (name, labels), value in self.values.items()],
                "histograms": [
                    [name, labels, counts, total]
                    for (name, labels), (counts, total) in self.histograms.items()
                ],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        data = json.loads(text)
        out = cls()
        for name, labels, value in data["values"]:
            out.values[(name, tuple(tuple(pair) for pair in labels))] = value
        for name, labels, counts, total in data["histograms"]:
            out.histograms[(name, tuple(tuple(pair) for pair in labels))] = (counts, total)
        return out


def _reason(reason: RejectReason | None) -> str:
    return "unknown" if reason is None else reason.name.lower().replace("_", "-")


def _router_label(router_id: int | None) -> str:
    return "" if router_id is None else str(router_id)


def snapshot(server: RadiusServer) -> Snapshot:
    """What the server counted, read now (from any thread)."""
    out = Snapshot()
    for (router_id, name), count in dict(server.router_counters).items():
        router = _router_label(router_id)
        if name in ANSWERED:
            code, result = ANSWERED[name]
            out.add("userman_radius_requests", count, router=router, code=code, result=result)
        elif name in DROPPED:
            out.add("userman_radius_dropped", count, router=router, reason=DROPPED[name])
        elif name == "duplicates":
            out.add("userman_radius_duplicates", count, router=router)
    counters = dict(server.counters)
    out.add(
        "userman_radius_dropped", counters.get("unknown-requests", 0), router="", reason="unknown"
    )
    memory, database = counters.get("decided-in-memory", 0), counters.get("decided-by-database", 0)
    out.add("userman_radius_decisions", memory, by="memory")
    out.add("userman_radius_decisions", database, by="database")
    for counter, answer in COA.items():
        out.add("userman_coa_answers", counters.get(counter, 0), answer=answer)
    rejects = dict(server.rejects)
    for reason in (*RejectReason, None):  # every reason, at 0 until it happens
        count = rejects.get(None if reason is None else reason.value, 0)
        out.add("userman_radius_rejects", count, reason=_reason(reason))
    out.add_histogram("userman_radius_response_seconds", server.latency[False], port="auth")
    out.add_histogram("userman_radius_response_seconds", server.latency[True], port="acct")
    # Not `server.duplicates`: a cached property this thread must not make before the loop does.
    duplicates = server.__dict__.get("duplicates")
    out.add("userman_radius_duplicate_cache_entries", 0 if duplicates is None else len(duplicates))
    for writer, name in ((server.writer, "accounting"), (server.decisions, "decisions")):
        out.add_histogram("userman_writer_batch_records", writer.batch_records, writer=name)
        out.add_histogram("userman_writer_commit_seconds", writer.commit_seconds, writer=name)
        failed = writer.counters.get("failed-batches", 0)
        out.add("userman_writer_failed_batches", failed, writer=name)
        out.add("userman_writer_queued_records", writer.pending, writer=name)
    out.add("userman_router_snapshots", server.routers.counters.get("snapshots", 0))
    _policy(out, server.app)
    return out


def _policy(out: Snapshot, app: Userman) -> None:
    """The policy in memory and the database pool of this process."""
    cache = app.policy
    out.add("userman_policy_loaded", 1 if cache.loaded else 0)
    refreshed = cache.refreshed
    if refreshed is not None:
        out.add("userman_policy_age_seconds", max(0.0, time.monotonic() - refreshed))
    policy_counters = dict(cache.counters)
    out.add("userman_policy_loads", policy_counters.get("loads", 0))
    out.add("userman_policy_changes", policy_counters.get("changes", 0))
    out.add("userman_policy_failed_reads", policy_counters.get("failed-refreshes", 0))
    pool = app.pool_status()
    for state in ("in-use", "idle"):
        out.add("userman_database_connections", pool.get(state, 0), state=state)
    if "size" in pool:
        out.add("userman_database_pool_size", pool["size"])


def merge(snapshots: Iterable[Snapshot]) -> Snapshot:
    """Several workers' snapshots as one: counters and histograms summed, gauges combined as
    METRICS says (the oldest policy's age, the least loaded, connections summed)."""
    out = Snapshot()
    for one in snapshots:
        for key, value in one.values.items():
            if key not in out.values:
                out.values[key] = value
                continue
            combine = METRICS[key[0]].combine
            held = out.values[key]
            out.values[key] = (
                held + value
                if combine == "sum"
                else (max(held, value) if combine == "max" else min(held, value))
            )
        for key, (counts, total) in one.histograms.items():
            held_counts, held_total = out.histograms.get(key, ([0] * len(counts), 0.0))
            summed = [a + b for a, b in zip(held_counts, counts, strict=True)]
            out.histograms[key] = (summed, held_total + total)
    return out


def label(one: Snapshot, **labels: str) -> Snapshot:
    """`one` with `labels` added to every series (worker="3": a worker's own series)."""
    extra = tuple(labels.items())
    return Snapshot(
        {(name, tuple(sorted(held + extra))): v for (name, held), v in one.values.items()},
        {(name, tuple(sorted(held + extra))): h for (name, held), h in one.histograms.items()},
    )


def publish(directory: Path, one: Snapshot, worker: str | None = None) -> Path:
    """Write a worker's snapshot as `<worker>.json` in `directory`, replacing the last one at
    once (a reader never sees half of it); `worker` defaults to the process id."""
    name = worker or str(os.getpid())
    path = directory / f"{name}.json"
    partial = directory / f".{name}.json.partial"
    partial.write_text(one.to_json())
    os.replace(partial, path)
    return path


async def publishing(
    source: Callable[[], Snapshot],
    directory: Path,
    stop: asyncio.Event,
    every: float = PUBLISH_EVERY,
) -> None:
    """A worker's task (serve --workers): `publish` its snapshot every `every` seconds, in a
    thread (a slow disk never holds the loop), and once more when stopped."""
    loop = asyncio.get_running_loop()
    while True:
        stopping = stop.is_set()
        await loop.run_in_executor(None, publish, directory, source())
        if stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


def retire(directory: Path, worker: str) -> None:
    """For the parent, once worker `worker` (its pid) has ended: add its last counters and
    histograms to `retired.json` and remove its file (and a half-written one). Its gauges go:
    they described a process that is gone (its connections, its queue). `retired.json` names
    the workers it holds, and `gather` skips their files: a scrape between the two steps, or
    after a crash between them, counts each worker once."""
    path = directory / f"{worker}.json"
    with contextlib.suppress(FileNotFoundError):
        (directory / f".{worker}.json.partial").unlink()
    try:
        last = Snapshot.from_json(path.read_text())
    except FileNotFoundError:
        return  # it never published
    except (OSError, ValueError, KeyError):
        last = Snapshot()  # not ours after all: nothing to keep
    held, absorbed = _retired(directory)
    kept = Snapshot(
        {key: value for key, value in last.values.items() if METRICS[key[0]].kind != "gauge"},
        last.histograms,
    )
    held = merge((held, kept))
    # Workers whose file is still there (a crash before its removal), and this one.
    absorbed = [name for name in absorbed if (directory / f"{name}.json").exists()] + [worker]
    data = json.loads(held.to_json()) | {"absorbed": absorbed}
    partial = directory / f".{RETIRED}.json.partial"
    partial.write_text(json.dumps(data))
    os.replace(partial, directory / f"{RETIRED}.json")
    path.unlink()


def _retired(directory: Path) -> tuple[Snapshot, list[str]]:
    """What `retire` kept in `directory`, and the workers it holds."""
    try:
        text = (directory / f"{RETIRED}.json").read_text()
        return Snapshot.from_json(text), [str(name) for name in json.loads(text)["absorbed"]]
    except (OSError, ValueError, KeyError, TypeError):
        return Snapshot(), []


def gather(directory: Path) -> dict[str, Snapshot]:
    """The snapshots `publish`ed in `directory`, by worker, and the `retire`d workers' sum
    (as "retired"). A worker that died keeps its last one until its parent retires it, so
    its counters never go back."""
    found = {}
    for path in sorted(directory.glob("*.json")):
        try:
            found[path.stem] = Snapshot.from_json(path.read_text())
        except (OSError, ValueError, KeyError):
            continue  # removed meanwhile, or not ours
    # Read after the workers' files: a worker retired meanwhile is in it, and skipped above.
    retired, absorbed = _retired(directory)
    found = {
        worker: one for worker, one in found.items() if worker != RETIRED and worker not in absorbed
    }
    if absorbed:
        found[RETIRED] = retired
    return found


def _labels(labels: Labels, **extra: str) -> dict[str, str]:
    return {**dict(labels), **extra}


def families(one: Snapshot) -> Iterator[Family]:
    """The Prometheus metric families of a snapshot, each with its help text from METRICS."""
    made: dict[str, Family] = {}
    for (name, labels), value in sorted(one.values.items()):
        metric = METRICS[name]
        family = made.get(name) or made.setdefault(name, Family(name, metric.help, metric.kind))
        sample = f"{name}_total" if metric.kind == "counter" else name
        family.add_sample(sample, dict(labels), value)
    for (name, labels), (counts, total) in sorted(one.histograms.items()):
        metric = METRICS[name]
        family = made.get(name) or made.setdefault(name, Family(name, metric.help, "histogram"))
        cumulative = 0
        for bound, count in zip((*metric.bounds, float("inf")), counts, strict=True):
            cumulative += count
            le = "+Inf" if bound == float("inf") else repr(float(bound))
            family.add_sample(f"{name}_bucket", _labels(labels, le=le), cumulative)
        family.add_sample(f"{name}_count", dict(labels), cumulative)
        family.add_sample(f"{name}_sum", dict(labels), total)
    yield from made.values()


class Collector:
    """A prometheus_client collector of the snapshot `source` gives when scraped: one
    server's `snapshot`, or (workers) `merge` of `gather`ed ones."""

    def __init__(self, source: Callable[[], Snapshot]) -> None:
        self.source = source

    def collect(self) -> Iterator[Family]:
        yield from families(self.source())

    def describe(self) -> list[Family]:
        return []  # nothing to check at registration: the names are METRICS'


def server_source(server: RadiusServer) -> Callable[[], Snapshot]:
    """The source of a one-process server's Collector."""
    return lambda: snapshot(server)
