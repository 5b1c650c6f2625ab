"""The manual's configuration example end to end: the CLI configures, FreeRADIUS's radclient logs
on through a real `userman serve` with PAP, CHAP, MS-CHAPv1 and MS-CHAPv2, then accounts.

Manual, "Configuration Examples": customer admin, profile1, router1 with secret 12345, user
test/test with shared-users=1, and `user create-and-activate-profile test ...`.
"""

from __future__ import annotations

import re

import pytest

from served import Server, radclient_send
from userman.radius import mschap

pytestmark = pytest.mark.e2e


def attributes(output: str) -> dict[str, str]:
    """The attributes radclient printed for the received packet."""
    received = output.split("Received ", 1)[1]
    pairs = re.findall(r"^\s+([A-Za-z0-9-]+) = (.*)$", received, re.MULTILINE)
    return {name: value.strip('"') for name, value in pairs}


def received(result: object) -> str:
    stdout = getattr(result, "stdout", "")
    match = re.search(r"Received (\S+)", stdout)
    return match.group(1) if match else f"nothing ({getattr(result, 'stderr', '')})"


def test_pap_accepts_the_right_password(radclient: str, manual_server: Server) -> None:
    result = radclient_send(radclient, manual_server, "auth", "User-Name=test,User-Password=test")
    assert received(result) == "Access-Accept"


def test_pap_rejects_a_wrong_password_and_logs_it(radclient: str, manual_server: Server) -> None:
    result = radclient_send(radclient, manual_server, "auth", "User-Name=test,User-Password=nope")
    assert received(result) == "Access-Reject"
    # router1 has log=auth-fail, so the failure is in the log (manual, "Log").
    logs = manual_server.json("log", "print")
    assert any(
        entry["user-orig"] == "test" and entry["status"] == "authorization-failure"
        for entry in logs
    )


def test_chap_accepts_the_right_password(radclient: str, manual_server: Server) -> None:
    # radclient computes CHAP-Password from the clear text (RFC 2865 5.3).
    result = radclient_send(radclient, manual_server, "auth", "User-Name=test,CHAP-Password=test")
    assert received(result) == "Access-Accept"
    wrong = radclient_send(radclient, manual_server, "auth", "User-Name=test,CHAP-Password=x")
    assert received(wrong) == "Access-Reject"


def test_mschap_v1_accepts_and_sends_the_mppe_keys(radclient: str, manual_server: Server) -> None:
    # radclient turns MS-CHAP-Password into MS-CHAP-Challenge and MS-CHAP-Response (RFC 2433).
    result = radclient_send(
        radclient, manual_server, "auth", "User-Name=test,MS-CHAP-Password=test"
    )
    assert received(result) == "Access-Accept"
    keys = attributes(result.stdout)["MS-CHAP-MPPE-Keys"]
    # Hidden like a User-Password (RFC 2548 2.4.1), so radclient shows it without the zero padding.
    assert keys == "0x" + mschap.mschap_v1_mppe_keys("test").rstrip(b"\0").hex()


def test_mschap_v2_accepts_with_success_and_mppe_keys(
    radclient: str, manual_server: Server
) -> None:
    challenge = bytes.fromhex("5B5D7C7D7B3F2F3E3C2C602132262628")
    peer_challenge = bytes.fromhex("21402324255E262A28295F2B3A337C7E")
    response = mschap.mschap_v2_response(7, b"test", "test", challenge, peer_challenge)
    result = radclient_send(
        radclient,
        manual_server,
        "auth",
        f"User-Name=test,MS-CHAP-Challenge=0x{challenge.hex()},"
        f"MS-CHAP2-Response=0x{response.hex()}",
    )
    assert received(result) == "Access-Accept"
    reply = attributes(result.stdout)
    nt_response = response[26:50]
    expected = mschap.generate_authenticator_response(
        "test", nt_response, peer_challenge, challenge, b"test"
    )
    # RFC 2548 2.3.3: the Ident of the response, then "S=" and the authenticator response.
    assert bytes.fromhex(reply["MS-CHAP2-Success"][2:]) == b"\x07" + expected.encode()
    # radclient reveals the salt-encrypted keys with the secret (RFC 2548 2.4.2-2.4.3).
    send_key, recv_key = mschap.mschap_v2_keys("test", nt_response)
    assert reply["MS-MPPE-Send-Key"] == "0x" + send_key.hex()
    assert reply["MS-MPPE-Recv-Key"] == "0x" + recv_key.hex()
    wrong = mschap.mschap_v2_response(7, b"test", "nope", challenge, peer_challenge)
    rejected = radclient_send(
        radclient,
        manual_server,
        "auth",
        f"User-Name=test,MS-CHAP-Challenge=0x{challenge.hex()},MS-CHAP2-Response=0x{wrong.hex()}",
    )
    assert received(rejected) == "Access-Reject"


def test_a_user_without_a_profile_is_refused_as_the_manual_logs_it(
    radclient: str, manual_server: Server
) -> None:
    # A change made with the CLI while the server runs is in effect for the next request.
    manual_server.cli("user", "add", "customer=admin", "username=Client1", "password=pw")
    result = radclient_send(radclient, manual_server, "auth", "User-Name=Client1,User-Password=pw")
    assert received(result) == "Access-Reject"
    assert attributes(result.stdout)["Reply-Message"] == "no valid profile found for user <Client1>"
    descriptions = [entry["description"] for entry in manual_server.json("log", "print")]
    assert "no valid profile found for user <Client1>" in descriptions
    manual_server.cli("user", "create-and-activate-profile", "Client1", "profile=profile1")
    again = radclient_send(radclient, manual_server, "auth", "User-Name=Client1,User-Password=pw")
    assert received(again) == "Access-Accept"


def test_a_disabled_user_is_rejected(radclient: str, manual_server: Server) -> None:
    manual_server.cli("user", "add", "username=off", "password=pw", "disabled=yes")
    manual_server.cli("user", "create-and-activate-profile", "off", "profile=profile1")
    result = radclient_send(radclient, manual_server, "auth", "User-Name=off,User-Password=pw")
    assert received(result) == "Access-Reject"


def test_a_wrong_secret_gets_no_answer(radclient: str, manual_server: Server) -> None:
    result = radclient_send(
        radclient,
        manual_server,
        "auth",
        "User-Name=test,User-Password=test",
        secret="wrong",
        wait=1,  # no answer is the answer: don't wait long for it
    )
    assert "Received" not in result.stdout


def test_accounting_start_interim_stop_is_the_session_print_shows(
    radclient: str, manual_server: Server
) -> None:
    common = (
        "User-Name=test,Acct-Session-Id=81d0009b,NAS-Port=15728795,NAS-Port-Type=Ethernet,"
        'NAS-Port-Id="bridge-to-clients",Calling-Station-Id="01:23:45:67:E1:BB",'
        "Framed-IP-Address=10.5.50.2"
    )
    start = radclient_send(radclient, manual_server, "acct", f"{common},Acct-Status-Type=Start")
    assert received(start) == "Accounting-Response"
    [session] = [s for s in manual_server.json("session", "print") if s["user"] == "test"]
    assert session["active"] is True
    assert session["status"] == "start"

    interim = radclient_send(
        radclient,
        manual_server,
        "acct",
        f"{common},Acct-Status-Type=Interim-Update,Acct-Session-Time=1800,"
        "Acct-Input-Octets=4533,Acct-Output-Octets=38",
    )
    assert received(interim) == "Accounting-Response"
    [session] = [s for s in manual_server.json("session", "print") if s["user"] == "test"]
    assert session["status"] == "start,interim"
    assert (session["uptime"], session["download"], session["upload"]) == ("30m", 38, 4533)

    stop = radclient_send(
        radclient,
        manual_server,
        "acct",
        f"{common},Acct-Status-Type=Stop,Acct-Session-Time=1900,Acct-Input-Octets=5000,"
        "Acct-Output-Octets=6000,Acct-Input-Gigawords=1,Acct-Terminate-Cause=User-Request",
    )
    assert received(stop) == "Accounting-Response"
    [session] = [s for s in manual_server.json("session", "print") if s["user"] == "test"]
    assert session["acct-session-id"] == "81d0009b"
    assert session["active"] is False
    assert session["status"] == "start,interim,stop"
    assert session["uptime"] == "31m40s"
    assert session["download"] == 6000
    assert session["upload"] == 2**32 + 5000  # Acct-Input-Gigawords (RFC 2869 5.1)
    assert session["nas-port-id"] == "bridge-to-clients"
    assert session["calling-station-id"] == "01:23:45:67:E1:BB"
    assert session["user-ip"] == "10.5.50.2"
    assert session["terminate-cause"] == "user-request"
    [user] = [u for u in manual_server.json("user", "print") if u["username"] == "test"]
    assert user["upload-used"] == 2**32 + 5000
    assert user["download-used"] == 6000


def test_status_server_is_answered(radclient: str, manual_server: Server) -> None:
    # RFC 5997 3: Status-Server is answered with Access-Accept on the authentication port.
    result = radclient_send(radclient, manual_server, "status", "Message-Authenticator=0x00")
    assert received(result) == "Access-Accept"


def test_a_status_server_without_message_authenticator_gets_no_answer(
    radclient: str, manual_server: Server
) -> None:
    # RFC 5997 3: a Status-Server MUST carry a Message-Authenticator.
    result = radclient_send(radclient, manual_server, "status", "", sign=False, wait=1)
    assert "Received" not in result.stdout


def test_router1_requires_message_authenticator_once_it_sent_one(
    radclient: str, manual_server: Server
) -> None:
    # router1 is added as the manual writes it, so with require-message-authenticator=auto,
    # the default since schema 0012 (FreeRADIUS 3.2.5's; BlastRADIUS, CVE-2024-3596): once it
    # has sent a signed request, as this module's do, an unsigned one is dropped.
    [router] = manual_server.json("router", "print")
    assert router["require-message-authenticator"] == "auto"
    signed = radclient_send(radclient, manual_server, "auth", "User-Name=test,User-Password=test")
    assert received(signed) == "Access-Accept"
    unsigned = radclient_send(
        radclient, manual_server, "auth", "User-Name=test,User-Password=test", sign=False, wait=1
    )
    assert "Received" not in unsigned.stdout
    # An operator whose router cannot sign its requests turns the requirement off.
    manual_server.cli("router", "set", "router1", "require-message-authenticator=no")
    try:
        answered = radclient_send(
            radclient, manual_server, "auth", "User-Name=test,User-Password=test", sign=False
        )
        assert received(answered) == "Access-Accept"
    finally:
        manual_server.cli("router", "set", "router1", "require-message-authenticator=auto")


def test_proxy_state_comes_back_in_the_reply(radclient: str, manual_server: Server) -> None:
    # RFC 2865 5.33: every Proxy-State of the request is copied into the reply, unmodified.
    result = radclient_send(
        radclient, manual_server, "auth", "User-Name=test,User-Password=test,Proxy-State=0x0102ff"
    )
    assert received(result) == "Access-Accept"
    assert attributes(result.stdout)["Proxy-State"] == "0x0102ff"
