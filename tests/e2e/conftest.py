"""Fixtures of the end-to-end tests: radclient, and a server set up as the manual's example."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from served import Server, configure, start_server, stop_server
from support import require_program


@pytest.fixture(scope="session")
def radclient() -> str:
    return require_program("radclient")


@pytest.fixture(scope="module")
def manual_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server configured with the manual's configuration example, exactly as written there."""
    folder = tmp_path_factory.mktemp("e2e")
    db_url = f"sqlite:///{folder / 'userman.db'}"
    configure(
        db_url,
        "customer set admin password=adminpassword",
        "customer set admin access=own-routers,own-users,own-profiles,own-limits,config-payment-gw",
        "profile add name=profile1",
        "router add customer=admin ip-address=127.0.0.1 log=auth-fail name=router1 "
        "shared-secret=12345",
        "user add customer=admin disabled=no password=test shared-users=1 username=test",
        "user create-and-activate-profile test customer=admin profile=profile1",
    )
    server = start_server(db_url, folder / "serve.log")
    yield server
    stop_server(server)
    assert server.process.returncode == 0, "userman serve did not stop cleanly on SIGTERM"
