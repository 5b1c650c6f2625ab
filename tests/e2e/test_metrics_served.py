"""A real `userman serve` under a stand-in for systemd, scraped after radclient's requests:
READY=1 on $NOTIFY_SOCKET, /healthz and /readyz on both ports, and /metrics naming every
metric the Grafana dashboard in docs/ queries (README, "Metrics and health")."""

from __future__ import annotations

import json
import os
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from served import (
    Server,
    configure,
    free_tcp_port,
    radclient_send,
    run_userman,
    start_server,
    stop_server,
)
from userman.radius.dictionary import default_dictionary
from userman.radius.packet import Code, build, encode

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana-dashboard.json"


class Served:
    def __init__(self, server: Server, metrics_port: int, notified: socket.socket) -> None:
        self.server = server
        self.metrics_port = metrics_port
        self.notified = notified


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("metrics")
    db_url = f"sqlite:///{folder / 'userman.db'}"
    configure(
        db_url,
        "profile add name=profile1",
        "router add customer=admin ip-address=127.0.0.1 name=router1 shared-secret=12345",
        "user add customer=admin password=test shared-users=1 username=test",
        "user create-and-activate-profile test customer=admin profile=profile1",
    )
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    systemd.bind(str(folder / "notify"))
    systemd.settimeout(10)
    metrics_port = free_tcp_port()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NOTIFY_SOCKET", str(folder / "notify"))
        server = start_server(db_url, folder / "serve.log", "--metrics-port", str(metrics_port))
    try:
        yield Served(server, metrics_port, systemd)
    finally:
        stop_server(server)
        systemd.close()
    assert server.process.returncode == 0


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of a scrape: by sample name, then by labels."""
    status, text = get(url)
    assert status == 200
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def test_systemd_is_told_when_it_answers(served: Served) -> None:
    """Type=notify: READY=1 once the ports are bound and the policy is in memory."""
    message = served.notified.recv(4096).decode()
    assert "READY=1" in message.splitlines()


def test_healthz_and_readyz_on_both_ports(served: Served) -> None:
    for base in (served.server.http_url, f"http://127.0.0.1:{served.metrics_port}"):
        assert get(f"{base}/healthz") == (200, '{"status":"alive"}')
        status, text = get(f"{base}/readyz")
        assert status == 200
        assert json.loads(text) == {"status": "ready", "database": "ok", "policy": "loaded"}
        for word in ("router1", "admin", "test", "127.0.0.1"):
            assert word not in text


def test_a_scrape_after_radclient_counts_what_it_sent(served: Served, radclient: str) -> None:
    server = served.server
    assert (
        "Access-Accept"
        in radclient_send(radclient, server, "auth", "User-Name=test,User-Password=test").stdout
    )
    assert (
        "Access-Reject"
        in radclient_send(radclient, server, "auth", "User-Name=test,User-Password=bad").stdout
    )
    start = "User-Name=test,Acct-Session-Id=m1,Acct-Status-Type=Start"
    assert "Accounting-Response" in radclient_send(radclient, server, "acct", start).stdout
    _send_twice(server.auth_port)  # a retransmission: answered from the duplicate cache
    got = scrape(f"http://127.0.0.1:{served.metrics_port}/metrics")
    requests = got["userman_radius_requests_total"]
    by_result = {dict(labels)["result"]: value for labels, value in requests.items()}
    assert by_result["accept"] >= 1
    assert by_result["reject"] >= 1
    assert by_result["stored"] >= 1
    assert {dict(labels)["router"] for labels in requests} == {"1"}  # an id, not router1
    assert got["userman_radius_rejects_total"][(("reason", "wrong-password"),)] >= 1
    assert sum(got["userman_radius_duplicates_total"].values()) >= 1
    assert got["userman_radius_response_seconds_count"][(("port", "auth"),)] >= 2
    assert got["userman_writer_batch_records_count"][(("writer", "accounting"),)] >= 1
    assert got["userman_policy_loaded"][()] == 1
    # The web port serves the same registry, from loopback only (--metrics-allow's default).
    assert "userman_radius_requests_total" in scrape(f"{server.http_url}/metrics")


def _send_twice(port: int) -> None:
    attributes = [("User-Name", "test"), ("User-Password", "test")]
    pkt = build(default_dictionary(), Code.ACCESS_REQUEST, 9, os.urandom(16), attributes)
    data = encode(pkt, b"12345", message_authenticator=True)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        for _ in range(2):
            sock.sendto(data, ("127.0.0.1", port))
            sock.recv(4096)


def test_every_dashboard_query_names_an_exported_metric(served: Served, radclient: str) -> None:
    """docs/grafana-dashboard.json: each query, and the instance variable's, names only
    metrics a real scrape has (after the requests of the test above, or its own)."""
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", ())
    ]
    expressions += [
        variable["definition"]
        for variable in dashboard["templating"]["list"]
        if variable["type"] == "query"
    ]
    assert len(expressions) > 20
    named = {
        name for expr in expressions for name in re.findall(r"\b((?:userman|process)_\w+)", expr)
    }
    radclient_send(radclient, served.server, "auth", "User-Name=test,User-Password=test")
    _send_twice(served.server.auth_port)
    get(f"{served.server.http_url}/healthz")  # a web request, counted
    exported = set(scrape(f"http://127.0.0.1:{served.metrics_port}/metrics"))
    assert named - exported == set()
    for panel in dashboard["panels"]:
        for target in panel.get("targets", ()):
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]


def test_a_wrong_metrics_allow_stops_serve_before_it_binds(tmp_path: Path) -> None:
    result = run_userman(
        "--db", f"sqlite:///{tmp_path / 'u.db'}", "serve", "--metrics-allow", "10.0.0.0/8,nonsense"
    )
    assert result.returncode == 2
    assert "--metrics-allow: 'nonsense' is no address or network" in result.stderr
    assert "listening" not in result.stderr


def test_with_the_web_port_off_the_metrics_port_serves_alone(tmp_path: Path) -> None:
    """`--http-port 0 --metrics-port N`: the three paths on their own port, nothing else."""
    db_url = f"sqlite:///{tmp_path / 'u.db'}"
    port = free_tcp_port()
    server = start_server(
        db_url, tmp_path / "serve.log", "--http-port", "0", "--metrics-port", str(port)
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert get(f"{base}/readyz")[0] == 200
        assert "userman_policy_loaded 1.0" in get(f"{base}/metrics")[1]
        assert get(f"{base}/userman")[0] == 404
        assert "web interface on" not in (tmp_path / "serve.log").read_text()
    finally:
        stop_server(server)
    assert server.process.returncode == 0
