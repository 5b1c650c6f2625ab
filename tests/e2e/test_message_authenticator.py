"""A router left at its default, require-message-authenticator=auto (FreeRADIUS 3.2.5's), through
a real `userman serve`, asked by FreeRADIUS's radclient with PAP, CHAP and MS-CHAPv2, with and
without a Message-Authenticator (BlastRADIUS, CVE-2024-3596; RFC 3579 3.2).

One server for the module. Each test starts by giving the router its property again, which
forgets that it signed, and waits until the server answers an unsigned request again (its
snapshot of the routers is checked five times a second).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from served import (
    BASIC_CONFIGURATION,
    Server,
    imported,
    radclient_send,
    start_server,
    stop_server,
)
from userman.radius import mschap

pytestmark = pytest.mark.e2e

CHALLENGE = bytes.fromhex("5B5D7C7D7B3F2F3E3C2C602132262628")
PEER_CHALLENGE = bytes.fromhex("21402324255E262A28295F2B3A337C7E")
MSCHAP2_RESPONSE = mschap.mschap_v2_response(7, b"test", "test", CHALLENGE, PEER_CHALLENGE)
METHODS = {
    "PAP": "User-Name=test,User-Password=test",
    # radclient computes CHAP-Password from the clear text (RFC 2865 5.3).
    "CHAP": "User-Name=test,CHAP-Password=test",
    # RFC 2548 2.3.2: built with userman's own MS-CHAPv2 (RFC 2759), checked by the server.
    "MS-CHAPv2": (
        f"User-Name=test,MS-CHAP-Challenge=0x{CHALLENGE.hex()},"
        f"MS-CHAP2-Response=0x{MSCHAP2_RESPONSE.hex()}"
    ),
}
MISSING = (
    "router router1: no Message-Authenticator; set require-message-authenticator=no for routers"
    " that cannot send one"
)


@pytest.fixture(scope="module")
def auto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """router1 added without saying require-message-authenticator, user test/test."""
    folder = tmp_path_factory.mktemp("auto")
    db_url = imported(folder, BASIC_CONFIGURATION)
    server = start_server(db_url, folder / "serve.log")
    yield server
    stop_server(server)


def received(result: subprocess.CompletedProcess[str]) -> str:
    match = re.search(r"Received (\S+)", result.stdout)
    return match.group(1) if match else f"nothing ({result.stderr})"


def first_attribute(result: subprocess.CompletedProcess[str]) -> str:
    """The name of the first attribute radclient printed for the reply, in its order."""
    match = re.search(r"^Received .*\n\s+([A-Za-z0-9-]+) = ", result.stdout, re.MULTILINE)
    return match.group(1) if match else ""


def console(server: Server) -> str:
    """What the server wrote to its console (beside its database)."""
    return Path(server.db_url.removeprefix("sqlite:///")).with_name("serve.log").read_text()


def router(server: Server) -> dict[str, object]:
    [found] = server.json("router", "print")
    return found


def unsigned(radclient: str, server: Server, attributes: str) -> str:
    """What an unsigned request gets (one try, half a second)."""
    result = radclient_send(radclient, server, "auth", attributes, wait=0.5, sign=False, tries=1)
    return received(result)


def forget_that_it_signed(radclient: str, server: Server) -> None:
    """The router as it was added (auto, never signed), once the server has it."""
    server.cli("router", "set", "router1", "require-message-authenticator=auto")
    assert router(server)["message-authenticator-seen"] == ""
    deadline = time.monotonic() + 5  # the server checks its routers' snapshot five times a second
    while unsigned(radclient, server, METHODS["PAP"]) != "Access-Accept":
        assert time.monotonic() < deadline, "the server did not see router1 given auto again"


@pytest.mark.parametrize("method", METHODS)
def test_a_router_at_its_default_is_answered_with_and_without_message_authenticator(
    radclient: str, auto_server: Server, method: str
) -> None:
    forget_that_it_signed(radclient, auto_server)
    for sign in (False, True):  # unsigned first: after a signed one, auto requires it
        result = radclient_send(radclient, auto_server, "auth", METHODS[method], sign=sign)
        assert received(result) == "Access-Accept", (sign, result.stdout)
        # Every reply is signed, Message-Authenticator first (the BlastRADIUS advice).
        assert first_attribute(result) == "Message-Authenticator", result.stdout


def test_auto_requires_it_once_the_router_signed_and_logs_what_it_drops(
    radclient: str, auto_server: Server
) -> None:
    forget_that_it_signed(radclient, auto_server)
    signed = radclient_send(radclient, auto_server, "auth", METHODS["PAP"])
    assert received(signed) == "Access-Accept"
    for method, attributes in METHODS.items():
        assert unsigned(radclient, auto_server, attributes).startswith("nothing"), method
    # Remembered in the database and shown by `router print`: why the router is strict now.
    deadline = time.monotonic() + 5
    while router(auto_server)["message-authenticator-seen"] == "":
        assert time.monotonic() < deadline, "the server did not remember that router1 signed"
        time.sleep(0.1)
    assert router(auto_server)["require-message-authenticator"] == "auto"
    # In the log, naming the router and why (one entry a minute per router and reason).
    logged = auto_server.json("log", "print", "where", "status=router-failure")
    assert MISSING in [entry["description"] for entry in logged]
    assert "dropped Access-Request from 127.0.0.1: " + MISSING in console(auto_server)
    # Signed requests go on being answered.
    assert received(radclient_send(radclient, auto_server, "auth", METHODS["CHAP"])) == (
        "Access-Accept"
    )
