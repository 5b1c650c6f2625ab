"""/healthz, /readyz and /metrics on the web app (web/metrics.py): for load balancers and
systemd without a login and without a word of any tenant; /metrics only from --metrics-allow's
addresses, never through a proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from prepared import copy_sqlite
from userman.services import Userman
from userman.web.app import create_app
from userman.web.metrics import metrics_app, parse_allow

LOCAL = ("127.0.0.1", 50000)


@pytest.fixture
def userman(tmp_path: Path, sqlite_template: Path) -> Iterator[Userman]:
    app = Userman(copy_sqlite(sqlite_template, tmp_path / "web.db"))
    app.prepare()
    yield app
    app.close()


def test_healthz_says_alive_without_a_login(userman: Userman) -> None:
    http = TestClient(create_app(userman))
    answer = http.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "alive"}


def test_readyz_waits_for_the_policy(userman: Userman) -> None:
    http = TestClient(create_app(userman))
    answer = http.get("/readyz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "not ready", "database": "ok", "policy": "loading"}
    userman.policy.load()
    http = TestClient(create_app(userman))  # a fresh app: no answer reused from before
    answer = http.get("/readyz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ready", "database": "ok", "policy": "loaded"}


def test_readyz_says_the_database_is_unreachable_and_no_more() -> None:
    """A PostgreSQL server that is not there: 503, without the address or the driver's words."""
    app = Userman("postgresql://userman@127.0.0.1:1/nowhere")
    try:
        answer = TestClient(create_app(app)).get("/readyz")
    finally:
        app.close()
    assert answer.status_code == 503
    assert answer.json() == {"status": "not ready", "database": "unreachable", "policy": "loading"}


def test_metrics_from_an_allowed_address_counts_web_requests(userman: Userman) -> None:
    http = TestClient(create_app(userman), client=LOCAL)
    http.get("/healthz")
    answer = http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }
    assert samples[("userman_web_requests_total", (("method", "GET"), ("status", "200")))] >= 1
    assert samples[("userman_web_request_seconds_count", ())] >= 1


@pytest.mark.parametrize(
    ("client", "headers"),
    [
        (("192.0.2.7", 50000), {}),  # not in --metrics-allow
        (("testclient", 50000), {}),  # no address at all
        (LOCAL, {"X-Forwarded-For": "192.0.2.7"}),  # through a proxy on this host
        (LOCAL, {"Forwarded": "for=192.0.2.7"}),
    ],
)
def test_metrics_refuses_others_and_proxies(
    userman: Userman, client: tuple[str, int], headers: dict[str, str]
) -> None:
    http = TestClient(create_app(userman), client=client)
    answer = http.get("/metrics", headers=headers)
    assert answer.status_code == 403
    assert "userman_" not in answer.text


def test_metrics_allow_lists_networks(userman: Userman) -> None:
    allow = parse_allow("192.0.2.0/24, 2001:db8::1")
    assert allow == (ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("2001:db8::1"))
    app = create_app(userman, metrics_allow=allow)
    assert TestClient(app, client=("192.0.2.7", 1)).get("/metrics").status_code == 200
    assert TestClient(app, client=LOCAL).get("/metrics").status_code == 403
    with pytest.raises(ValueError, match="'nonsense' is no address"):
        parse_allow("127.0.0.1,nonsense")


def test_the_metrics_port_serves_the_three_routes_alone(userman: Userman) -> None:
    http = TestClient(metrics_app(userman, CollectorRegistry()), client=LOCAL)
    assert http.get("/healthz").status_code == 200
    assert http.get("/readyz").status_code == 503
    assert http.get("/metrics").status_code == 200
    assert http.get("/userman").status_code == 404
    assert http.get("/api/v1/user").status_code == 404
