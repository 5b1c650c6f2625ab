"""Where CoA/Disconnect-Requests may go (services/coa.py, destinations.local_kind): a router's
ip-address is the tenant's to choose, and a request is sent there (RFC 5176 3: "the Dynamic
Authorization Client sends a request to the NAS"). Routers sit on private networks, so private
addresses are fine; this host's and its link's (loopback, unspecified, link-local, multicast,
broadcast) are refused for a use-coa router unless the superuser allows them
(`database set allow-local-coa=yes`), both when the address is given and when a request would
be sent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from inmemory import accounting, do, exchange, make_app
from support import run
from userman.core.errors import InvalidValueError, PermissionDeniedError
from userman.services import Actor, Userman
from userman.services.destinations import local_kind
from userman.store import models

LOCAL = [
    ("127.0.0.1", "a loopback address"),
    ("127.8.9.10", "a loopback address"),
    ("::1", "a loopback address"),
    ("::ffff:127.0.0.1", "a loopback address"),
    ("0.0.0.0", "an unspecified address"),
    ("0.1.2.3", "an unspecified address"),
    ("::", "an unspecified address"),
    ("169.254.169.254", "a link-local address"),  # a cloud's metadata service
    ("fe80::1", "a link-local address"),
    ("224.0.0.1", "a multicast address"),
    ("ff02::1", "a multicast address"),
    ("255.255.255.255", "the broadcast address"),
]
ROUTERS = ["10.0.0.1", "172.16.5.5", "192.168.88.1", "100.64.0.1", "fd00::1", "198.51.100.7"]


@pytest.mark.parametrize(("address", "kind"), LOCAL)
def test_this_hosts_and_this_links_addresses_are_local(address: str, kind: str) -> None:
    assert local_kind(address) == kind


@pytest.mark.parametrize("address", ROUTERS)
def test_public_and_private_addresses_are_a_routers(address: str) -> None:
    assert local_kind(address) is None


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Userman]:
    userman = make_app(tmp_path, sqlite_template)  # router r at 127.0.0.1, local CoA allowed
    do(userman, "user create-and-activate-profile", "test", profile="p")
    do(userman, "database set", **{"allow-local-coa": "no"})
    yield userman
    userman.close()


def routers(app: Userman) -> dict[str, dict[str, object]]:
    items = app.execute(Actor.superuser(), ("router",), "print").items
    return {str(item.json["name"]): item.json for item in items}


SAID = (
    "ip-address: 127.0.0.1 is a loopback address, where CoA/Disconnect requests (use-coa=yes)"
    " may not go (the superuser allows it with: userman database set allow-local-coa=yes)"
)


def test_a_use_coa_router_at_a_local_address_is_refused_naming_the_property(app: Userman) -> None:
    with pytest.raises(InvalidValueError) as added:
        do(app, "router add", name="x", **{"ip-address": "169.254.169.254", "use-coa": "yes"})
    assert str(added.value).startswith("ip-address: 169.254.169.254 is a link-local address,")
    with pytest.raises(InvalidValueError) as turned_on:
        do(app, "router set", "r", **{"use-coa": "yes"})  # r is at 127.0.0.1
    assert str(turned_on.value) == SAID.replace("ip-address:", "use-coa:", 1)
    do(app, "router set", "r", **{"ip-address": "10.0.0.9", "use-coa": "yes"})
    with pytest.raises(InvalidValueError) as moved:
        do(app, "router set", "r", **{"ip-address": "127.0.0.1"})
    assert str(moved.value) == SAID
    with pytest.raises(InvalidValueError, match=r"^ip-address: ::1 is a loopback"):
        do(app, "router add", name="y", **{"copy-from": "r", "ip-address": "::1"})
    assert routers(app)["r"]["ip-address"] == "10.0.0.9"  # nothing changed
    assert set(routers(app)) == {"r"}


def test_private_addresses_and_routers_without_coa_need_no_permission(app: Userman) -> None:
    for number, address in enumerate(ROUTERS):
        do(app, "router add", name=f"p{number}", **{"ip-address": address, "use-coa": "yes"})
    do(app, "router add", name="here", **{"ip-address": "::1"})  # requests only, no CoA
    do(app, "router set", "r", comment="kept")  # at 127.0.0.1, without CoA: untouched
    assert len(routers(app)) == len(ROUTERS) + 2


def test_only_the_superuser_allows_local_addresses(app: Userman) -> None:
    owner = app.actor("admin")
    with pytest.raises(PermissionDeniedError, match="the superuser"):
        run(app, owner, "database set", **{"allow-local-coa": "yes"})
    assert run(app, owner, "database print").items[0].json["allow-local-coa"] == "no"
    do(app, "database set", **{"allow-local-coa": "yes"})
    assert run(app, owner, "database print").items[0].json["allow-local-coa"] == "yes"
    run(app, owner, "router set", "r", **{"use-coa": "yes"})
    assert routers(app)["r"]["use-coa"] is True


def test_a_request_to_a_local_address_is_not_sent_once_no_longer_allowed(app: Userman) -> None:
    # Allowed when the router was set (or set before the rule); not allowed when it would go.
    do(app, "database set", **{"allow-local-coa": "yes"})
    do(app, "router set", "r", **{"use-coa": "yes", "coa-port": "3799"})
    exchange(app, accounting("test", "Start", "s1"), acct=True)
    do(app, "session close-session", "0")
    do(app, "database set", **{"allow-local-coa": "no"})
    assert app.claim_coa(dt.datetime.now(dt.UTC), 10) == []
    with app.database.begin() as db:
        [row] = db.scalars(select(models.CoaRequest))
        assert (row.state, row.last_error) == (
            "failed",
            "not sent: " + SAID[len("ip-address: ") :],
        )
