"""Limitations on the wire: what an Access-Accept carries and when a limit or a time window
refuses (research notes 4.3-4.5), through the server with an in-memory transport."""

from __future__ import annotations

import datetime as dt

from inmemory import D, access_request, accounting, do, exchange
from userman.radius.packet import Code, Packet, decode
from userman.services import Actor, Userman

ROOT = Actor.superuser()


def logon(app: Userman) -> Packet:
    _, data = access_request("test", "test")
    _, [(reply, _, _)] = exchange(app, data)
    return decode(reply, D)


def limit(app: Userman, **args: str) -> None:
    do(app, "profile limitation add", name="l", **args)
    do(app, "profile profile-limitation add", profile="p", limitation="l")
    do(app, "user create-and-activate-profile", "test", profile="p")


def test_the_accept_carries_the_rate_limits_and_what_is_left(app: Userman) -> None:
    limit(
        app,
        **{
            "rate-limit-rx": "512k",
            "rate-limit-tx": "2M",
            "uptime-limit": "1h",
            "download-limit": "5G",
            "upload-limit": "1G",
            "group-name": "gold",
            "ip-pool": "pool1",
            "address-list": "paying",
        },
    )
    reply = logon(app)
    assert reply.code is Code.ACCESS_ACCEPT
    # RouterOS order, from the router's side: rx (the user's upload) / tx (download).
    assert reply.get("Mikrotik-Rate-Limit") == "512k/2M"
    assert reply.get("Session-Timeout") == 3600  # the least of uptime left and validity
    # Mikrotik-Xmit-Limit is what the router sends: the user's download; 5 GiB needs gigawords.
    assert (reply.get("Mikrotik-Xmit-Limit"), reply.get("Mikrotik-Xmit-Limit-Gigawords")) == (
        (5 * 2**30) % 2**32,
        1,
    )
    assert reply.get("Mikrotik-Recv-Limit") == 2**30
    assert reply.get("Mikrotik-Group") == "gold"
    assert reply.get("Framed-Pool") == "pool1"
    assert reply.get("Mikrotik-Address-List") == "paying"


def test_usage_counts_against_the_limit_and_refuses_when_used_up(app: Userman) -> None:
    limit(app, **{"uptime-limit": "1h"})
    assert logon(app).code is Code.ACCESS_ACCEPT
    exchange(app, accounting("test", "Start"), acct=True)
    exchange(app, accounting("test", "Stop", **{"Acct-Session-Time": 1200}), acct=True)
    assert logon(app).get("Session-Timeout") == 2400  # 40 minutes left
    exchange(
        app,
        accounting("test", "Stop", "2", **{"Acct-Session-Time": 2400}),
        acct=True,
    )
    reply = logon(app)
    assert reply.code is Code.ACCESS_REJECT
    assert reply.get("Reply-Message") == "uptime limit reached for user <test>"


def test_a_profile_whose_windows_do_not_cover_now_refuses(app: Userman) -> None:
    now = dt.datetime.now(dt.UTC)
    later = [(now + dt.timedelta(hours=h)).strftime("%H:00:00") for h in (2, 3)]
    do(app, "profile limitation add", name="l")
    do(
        app,
        "profile profile-limitation add",
        profile="p",
        limitation="l",
        **{"from-time": later[0], "till-time": later[1]},
    )
    do(app, "user create-and-activate-profile", "test", profile="p")
    reply = logon(app)
    assert reply.code is Code.ACCESS_REJECT
    assert reply.get("Reply-Message") == "user <test> is outside the profile's time windows"


def test_a_profile_without_limitations_has_no_limits(app: Userman) -> None:
    do(app, "user create-and-activate-profile", "test", profile="p")
    reply = logon(app)
    assert reply.code is Code.ACCESS_ACCEPT
    assert reply.get("Mikrotik-Rate-Limit") is None
    assert 86398 <= int(reply.get("Session-Timeout") or 0) <= 86400  # validity 1d


def test_the_users_ipv6_dns_goes_out_as_dns_server_ipv6_address(app: Userman) -> None:
    """Legacy User Manager's user property ipv6-dns (in every v6.4x export, `::` when unset),
    sent as RFC 6911's DNS-Server-IPv6-Address (section 3.2) when set, never as `::`."""
    do(app, "user create-and-activate-profile", "test", profile="p")
    assert logon(app).get("DNS-Server-IPv6-Address") is None  # the default, ::
    do(app, "user set", "test", **{"ipv6-dns": "2001:DB8:0:0::53"})
    [user] = app.execute(ROOT, ("user",), "print").items
    assert user.json["ipv6-dns"] == "2001:db8::53"
    reply = logon(app)
    assert reply.code is Code.ACCESS_ACCEPT
    assert str(reply.get("DNS-Server-IPv6-Address")) == "2001:db8::53"
    do(app, "user set", "test", **{"ipv6-dns": "::"})
    assert logon(app).get("DNS-Server-IPv6-Address") is None
