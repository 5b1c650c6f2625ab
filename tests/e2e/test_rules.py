"""Every authorization rule of User Manager through a real `userman serve`, asked by radclient.

One server for the module, configured by one `userman import` before it starts: each rule has
its own user (and the disabled customer its own customer), so the tests do not depend on each
other's order. A test that changes the router puts it back, and waits until the server's
routers' snapshot has seen each change. Reject texts are the fixed catalogue's
(core/authorize.py `RejectReason`), sent as Reply-Message and logged (router1 has
log=auth-fail).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from served import Server, configure, imported, radclient_send, start_server, stop_server
from standin import StandInRouter
from userman.radius.packet import Code

pytestmark = pytest.mark.e2e

DAY = 86_400
HOUR = 3_600


def clock(seconds: int) -> str:
    seconds %= DAY
    return f"{seconds // HOUR:02}:{seconds // 60 % 60:02}:{seconds % 60:02}"


def outside_window() -> tuple[str, str]:
    """A window from two to four hours from now, UTC (the customer's zone): closed now and for
    the next two hours, wherever midnight falls."""
    now = dt.datetime.now(dt.UTC)
    seconds = now.hour * HOUR + now.minute * 60 + now.second
    return clock(seconds + 2 * HOUR), clock(seconds + 4 * HOUR)


def configuration() -> str:
    start, end = outside_window()
    return f"""
/tool user-manager customer
add login=shop parent=admin permissions=read-write
/tool user-manager router
add customer=admin ip-address=127.0.0.1 name=router1 shared-secret=12345 log=auth-fail
/tool user-manager profile
add name=plain starts-at=now
add name=gold starts-at=now validity=30d
add name=hour starts-at=now
add name=mega starts-at=now
add name=dayshift starts-at=now
/tool user-manager profile limitation
add name=gold-lim rate-limit-rx=1M rate-limit-tx=2M rate-limit-burst-rx=2M \\
    rate-limit-burst-tx=4M rate-limit-burst-treshold-rx=512k rate-limit-burst-treshold-tx=1M \\
    rate-limit-burst-time-rx=8s rate-limit-burst-time-tx=10s rate-limit-priority=3 \\
    rate-limit-min-rx=256k rate-limit-min-tx=512k download-limit=5G upload-limit=1G \\
    transfer-limit=10G uptime-limit=10h group-name=gold-group address-list=gold-list
add name=one-hour uptime-limit=1h
add name=one-mega download-limit=1M
add name=shift rate-limit-rx=1M rate-limit-tx=1M
/tool user-manager profile profile-limitation
add profile=gold limitation=gold-lim
add profile=hour limitation=one-hour
add profile=mega limitation=one-mega
add profile=dayshift limitation=shift from-time={start} till-time={end}
/tool user-manager user
add username=alice password=pw
add username=gilda password=pw ip-address=10.9.8.7
add username=shopper customer=shop password=pw
add username=dora password=pw disabled=yes
add username=carl password=pw caller-id=01:23:45:67:89:AB
add username=bea password=pw caller-id-bind-on-first-use=yes
add username=sam password=pw shared-users=1
add username=tess password=pw shared-users=1
add username=vic password=pw shared-users=1
add username=nell password=pw
add username=owen password=pw
add username=uma password=pw
add username=dan password=pw
/user-manager user-profile
add user=alice profile=plain
add user=gilda profile=gold
add user=shopper profile=plain
add user=dora profile=plain
add user=carl profile=plain
add user=bea profile=plain
add user=sam profile=plain
add user=tess profile=plain
add user=vic profile=plain
add user=owen profile=dayshift
add user=uma profile=hour
add user=dan profile=mega
"""


def log_of(db_url: str) -> Path:
    """The server's log, beside its database: `set_router` watches it."""
    return Path(db_url.removeprefix("sqlite:///")).with_name("serve.log")


@pytest.fixture(scope="module")
def rules_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("rules")
    db_url = imported(folder, configuration())
    configure(db_url, "database set allow-local-coa=yes")  # router1 is on this host
    server = start_server(db_url, log_of(db_url))
    yield server
    stop_server(server)


def attributes(output: str) -> dict[str, str]:
    """The attributes radclient printed for the received packet."""
    received = output.split("Received ", 1)[1]
    pairs = re.findall(r"^\s+([A-Za-z0-9-]+) = (.*)$", received, re.MULTILINE)
    return {name: value.strip('"') for name, value in pairs}


def received(result: subprocess.CompletedProcess[str]) -> str:
    match = re.search(r"Received (\S+)", result.stdout)
    return match.group(1) if match else f"nothing ({result.stderr})"


def auth(
    radclient: str, server: Server, user: str, password: str = "pw", extra: str = ""
) -> subprocess.CompletedProcess[str]:
    pairs = f"User-Name={user},User-Password={password}"
    return radclient_send(radclient, server, "auth", ",".join(filter(None, (pairs, extra))))


def accepted(radclient: str, server: Server, user: str, extra: str = "") -> dict[str, str]:
    result = auth(radclient, server, user, extra=extra)
    assert received(result) == "Access-Accept", result.stdout
    return attributes(result.stdout)


def rejected(
    radclient: str, server: Server, user: str, why: str, *, password: str = "pw", extra: str = ""
) -> None:
    """Refused with `why` as Reply-Message, and `why` in the log (router1 logs auth-fail)."""
    result = auth(radclient, server, user, password, extra)
    assert received(result) == "Access-Reject", result.stdout
    assert attributes(result.stdout)["Reply-Message"] == why
    logged = server.json("log", "print", "where", f"user-orig={user}")
    assert why in [entry["description"] for entry in logged]


def account(
    radclient: str, server: Server, user: str, session: str, status: str, **kw: int
) -> None:
    pairs = [f"User-Name={user}", f"Acct-Session-Id={session}", f"Acct-Status-Type={status}"]
    pairs += [f"{name.replace('_', '-')}={value}" for name, value in kw.items()]
    result = radclient_send(radclient, server, "acct", ",".join(pairs))
    assert received(result) == "Accounting-Response", result.stdout


def silent(radclient: str, server: Server, attrs: str, kind: str = "auth") -> bool:
    """Whether a request gets no answer (tried once, half a second)."""
    result = subprocess.run(
        [radclient, "-x", "-r", "1", "-t", "0.5", f"127.0.0.1:{server.auth_port}", kind, "12345"],
        input=attrs,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "LC_ALL": "C"},
        check=False,
    )
    return "Received" not in result.stdout


def set_router(server: Server, *args: str) -> None:
    """`router set router1 ARGS`, returning once the server's snapshot has the change."""
    log_path = log_of(server.db_url)
    loads = log_path.read_text().count("router snapshot")
    server.cli("router", "set", "router1", *args)
    deadline = time.monotonic() + 5
    while log_path.read_text().count("router snapshot") == loads:
        assert time.monotonic() < deadline, "the server did not see the router change"
        time.sleep(0.02)


def sessions_of(server: Server, user: str) -> dict[str, dict[str, object]]:
    found = server.json("session", "print", "where", f"user={user}")
    return {str(s["acct-session-id"]): s for s in found}


# -- the rules, in User Manager's order -----------------------------------------------------


def test_an_unknown_user_is_refused(radclient: str, rules_server: Server) -> None:
    rejected(radclient, rules_server, "nobody", "unknown user <nobody>")


def test_a_wrong_password_is_refused(radclient: str, rules_server: Server) -> None:
    rejected(radclient, rules_server, "alice", "wrong password for user <alice>", password="nope")
    accepted(radclient, rules_server, "alice")


def test_a_disabled_user_is_refused(radclient: str, rules_server: Server) -> None:
    rejected(radclient, rules_server, "dora", "user <dora> is disabled")
    rules_server.cli("user", "enable", "dora")
    accepted(radclient, rules_server, "dora")


def test_a_disabled_customer_refuses_its_users_only(radclient: str, rules_server: Server) -> None:
    accepted(radclient, rules_server, "shopper")
    rules_server.cli("customer", "disable", "shop")
    try:
        rejected(radclient, rules_server, "shopper", "the customer of user <shopper> is disabled")
        accepted(radclient, rules_server, "alice")  # admin's users go on
    finally:
        rules_server.cli("customer", "enable", "shop")
    accepted(radclient, rules_server, "shopper")


def test_caller_id_must_match_in_any_spelling(radclient: str, rules_server: Server) -> None:
    accepted(radclient, rules_server, "carl", "Calling-Station-Id=01-23-45-67-89-ab")
    rejected(
        radclient,
        rules_server,
        "carl",
        "caller-id of user <carl> does not match",
        extra="Calling-Station-Id=01:23:45:67:89:AC",
    )


def test_caller_id_is_bound_on_first_use(radclient: str, rules_server: Server) -> None:
    accepted(radclient, rules_server, "bea", "Calling-Station-Id=AA:BB:CC:00:11:22")
    [user] = rules_server.json("user", "print", "where", "username=bea")
    assert user["caller-id"] == "AA:BB:CC:00:11:22"
    accepted(radclient, rules_server, "bea", "Calling-Station-Id=aa-bb-cc-00-11-22")
    rejected(
        radclient,
        rules_server,
        "bea",
        "caller-id of user <bea> does not match",
        extra="Calling-Station-Id=AA:BB:CC:00:11:23",
    )


def test_shared_users_at_the_limit_is_refused(radclient: str, rules_server: Server) -> None:
    accepted(radclient, rules_server, "sam")
    account(radclient, rules_server, "sam", "sam-1", "Start")
    rejected(radclient, rules_server, "sam", "user <sam> has reached its shared-users limit")
    account(radclient, rules_server, "sam", "sam-1", "Stop", Acct_Session_Time=5)
    accepted(radclient, rules_server, "sam")


def test_disconnect_oldest_router_accepts_at_the_limit(
    radclient: str, rules_server: Server
) -> None:
    account(radclient, rules_server, "tess", "tess-1", "Start")
    rejected(radclient, rules_server, "tess", "user <tess> has reached its shared-users limit")
    with StandInRouter(mode="ack") as router:
        set_router(
            rules_server,
            "on-shared-users-limit=disconnect-oldest",
            "use-coa=yes",
            f"coa-port={router.port}",
        )
        try:
            accepted(radclient, rules_server, "tess")
            assert router.got.wait(timeout=10), "no Disconnect-Request reached the router"
        finally:
            set_router(rules_server, "on-shared-users-limit=default", "use-coa=no")
    [pkt] = router.received
    assert (pkt.code, pkt.get("Acct-Session-Id")) == (Code.DISCONNECT_REQUEST, "tess-1")
    session = sessions_of(rules_server, "tess")["tess-1"]
    assert session["active"] is False
    assert session["terminate-cause"] == "um-simultaneous-sessions"


def test_the_subscriber_chooses_for_routers_left_at_default(
    radclient: str, rules_server: Server
) -> None:
    [router] = rules_server.json("router", "print")
    assert router["on-shared-users-limit"] == "default"
    account(radclient, rules_server, "vic", "vic-1", "Start")
    rejected(radclient, rules_server, "vic", "user <vic> has reached its shared-users limit")
    rules_server.cli("customer", "set", "admin", "on-shared-users-limit=disconnect-oldest")
    try:
        accepted(radclient, rules_server, "vic")
    finally:
        rules_server.cli("customer", "set", "admin", "on-shared-users-limit=reject")
    session = sessions_of(rules_server, "vic")["vic-1"]
    assert (session["active"], session["terminate-cause"]) == (False, "um-simultaneous-sessions")


def test_a_user_without_a_valid_profile_is_refused(radclient: str, rules_server: Server) -> None:
    rejected(radclient, rules_server, "nell", "no valid profile found for user <nell>")


def test_outside_the_time_window_is_refused(radclient: str, rules_server: Server) -> None:
    rejected(radclient, rules_server, "owen", "user <owen> is outside the profile's time windows")


def test_uptime_used_up_is_refused(radclient: str, rules_server: Server) -> None:
    reply = accepted(radclient, rules_server, "uma")
    assert reply["Session-Timeout"] == "3600"
    account(radclient, rules_server, "uma", "uma-1", "Start")
    account(radclient, rules_server, "uma", "uma-1", "Interim-Update", Acct_Session_Time=1800)
    assert accepted(radclient, rules_server, "uma")["Session-Timeout"] == "1800"
    account(radclient, rules_server, "uma", "uma-1", "Stop", Acct_Session_Time=HOUR)
    rejected(radclient, rules_server, "uma", "uptime limit reached for user <uma>")


def test_download_used_up_is_refused(radclient: str, rules_server: Server) -> None:
    account(radclient, rules_server, "dan", "dan-1", "Start")
    account(radclient, rules_server, "dan", "dan-1", "Interim-Update", Acct_Output_Octets=600_000)
    assert accepted(radclient, rules_server, "dan")["Mikrotik-Xmit-Limit"] == str(2**20 - 600_000)
    account(radclient, rules_server, "dan", "dan-1", "Stop", Acct_Output_Octets=2**20)
    rejected(radclient, rules_server, "dan", "download limit reached for user <dan>")
    # Counted once on the running profile: the Interim's bytes are part of the Stop's.
    [entry] = rules_server.json("user-profile", "print", "where", "user=dan")
    assert entry["download-used"] == 2**20


# -- the Access-Accept -----------------------------------------------------------------------


def test_the_accept_carries_every_reply_attribute(radclient: str, rules_server: Server) -> None:
    reply = accepted(radclient, rules_server, "gilda")
    # RouterOS order: rx/tx (rx: the user's upload), burst, threshold, burst time, priority, min.
    assert reply["Mikrotik-Rate-Limit"] == "1M/2M 2M/4M 512k/1M 8/10 3 256k/512k"
    assert reply["Session-Timeout"] == "36000"  # the uptime left, nearer than the 30 days
    # Recv is what the router receives (the user's upload), Xmit what it sends (the download).
    assert reply["Mikrotik-Recv-Limit"] == str(2**30)
    assert "Mikrotik-Recv-Limit-Gigawords" not in reply
    assert (reply["Mikrotik-Xmit-Limit"], reply["Mikrotik-Xmit-Limit-Gigawords"]) == (
        str(2**30),
        "1",
    )
    assert (reply["Mikrotik-Total-Limit"], reply["Mikrotik-Total-Limit-Gigawords"]) == (
        str(2**31),
        "2",
    )
    [user] = rules_server.json("user", "print", "where", "username=gilda")
    user_id = int(str(user[".id"])[1:], 16)
    assert reply["Class"] == "0x" + f"userman:{user_id}".encode().hex()
    assert reply["Acct-Interim-Interval"] == "300"  # --interim-interval's default, 5m
    assert reply["Framed-IP-Address"] == "10.9.8.7"
    assert reply["Mikrotik-Group"] == "gold-group"
    assert reply["Mikrotik-Address-List"] == "gold-list"
    assert "Message-Authenticator" in reply


# -- protocol hygiene ------------------------------------------------------------------------


def test_proxy_state_is_echoed_in_accepts_and_rejects(radclient: str, rules_server: Server) -> None:
    reply = accepted(radclient, rules_server, "alice", "Proxy-State=0x0102ff")
    assert reply["Proxy-State"] == "0x0102ff"
    result = auth(radclient, rules_server, "alice", "nope", "Proxy-State=0xabcd")
    assert received(result) == "Access-Reject"
    assert attributes(result.stdout)["Proxy-State"] == "0xabcd"


def test_status_server_is_answered(radclient: str, rules_server: Server) -> None:
    result = radclient_send(radclient, rules_server, "status", "")
    assert received(result) == "Access-Accept"


def test_an_unsigned_request_is_dropped_when_the_router_requires_one(
    radclient: str, rules_server: Server
) -> None:
    [router] = rules_server.json("router", "print")
    assert router["require-message-authenticator"] == "auto"  # the default for a new router
    set_router(rules_server, "require-message-authenticator=yes")
    try:
        assert silent(radclient, rules_server, "User-Name=alice,User-Password=pw")
        signed = "User-Name=alice,User-Password=pw,Message-Authenticator=0x00"
        assert not silent(radclient, rules_server, signed)
    finally:
        set_router(rules_server, "require-message-authenticator=auto")
