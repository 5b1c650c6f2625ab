"""What an Access-Accept carries besides limits: the user's wireless keys (the manual's user
properties), the v7 custom attributes of profile, group and user, and Acct-Interim-Interval."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from inmemory import ROUTER, D, FakeTransport, access_request, do, make_app, run_server
from userman.radius.packet import AVP, Code, Packet, decode
from userman.server.endpoint import RadiusServer
from userman.services import Userman


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Userman]:
    userman = make_app(tmp_path, sqlite_template)
    do(userman, "user create-and-activate-profile", "test", profile="p")
    yield userman
    userman.close()


def logon(app: Userman, interim: int = 0) -> tuple[Packet, RadiusServer]:
    _, data = access_request("test", "test")
    transport = FakeTransport(app)

    async def answer(server: RadiusServer) -> None:
        await server.handle(transport, data, ROUTER, False)

    server = run_server(app, answer, interim_interval=interim)
    [(reply, _, _)] = transport.sent
    return decode(reply, D), server


def raw(pkt: Packet, vendor: int, code: int) -> AVP:
    return next(
        a for a in pkt.attributes if (a.definition.vendor_id, a.definition.code) == (vendor, code)
    )


def test_the_users_wireless_keys(app: Userman) -> None:
    do(
        app,
        "user set",
        "test",
        **{"wireless-enc-algo": "aes-ccm", "wireless-enc-key": "k3y", "wireless-psk": "psk!"},
    )
    reply, _ = logon(app)
    assert reply.get("Mikrotik-Wireless-Enc-Algo") == 3  # AES-CCM in MikroTik's dictionary
    assert reply.get("Mikrotik-Wireless-Enc-Key") == "k3y"
    assert reply.get("Mikrotik-Wireless-PSK") == "psk!"


def test_custom_attributes_of_profile_group_and_user(app: Userman) -> None:
    do(app, "profile set", "p", attributes="Idle-Timeout:600,Reply-Message:from the profile")
    do(app, "user group add", name="g", attributes="Idle-Timeout:300,Mikrotik-Group:gold")
    do(app, "user set", "test", group="g", attributes="Idle-Timeout:120")
    reply, _ = logon(app)
    assert reply.code is Code.ACCESS_ACCEPT
    assert reply.get_all("Idle-Timeout") == [120]  # the user's wins over group and profile
    assert reply.get("Mikrotik-Group") == "gold"
    assert reply.get("Reply-Message") == "from the profile"


def test_an_attribute_of_the_attribute_menu_goes_out_with_its_number(app: Userman) -> None:
    do(
        app,
        "attribute add",
        name="Acme-Tier",
        **{"vendor-id": "9999", "type-id": "7", "value-type": "uint32"},
    )
    do(app, "attribute add", name="Acme-Blob", **{"vendor-id": "9999", "type-id": "8"})
    do(
        app,
        "attribute add",
        name="Acme-Hex",
        **{"vendor-id": "9999", "type-id": "9", "value-type": "hex"},
    )
    do(app, "user set", "test", attributes="Acme-Tier:3,Acme-Blob:hello,Acme-Hex:0xcafe")
    reply, _ = logon(app)
    assert raw(reply, 9999, 7).value == (3).to_bytes(4, "big")  # unknown here: decoded as octets
    assert raw(reply, 9999, 8).value == b"hello"
    assert raw(reply, 9999, 9).value == b"\xca\xfe"


def test_a_value_that_does_not_fit_is_left_out_not_the_logon(app: Userman) -> None:
    # A value that does not fit is refused when written (services/verbs.py); one can still be
    # there when its attribute's value-type changed after, or from before that rule.
    do(app, "attribute add", name="Acme-Tier", **{"vendor-id": "9999", "type-id": "7"})
    do(app, "user set", "test", attributes="Acme-Tier:many,Idle-Timeout:60")
    do(app, "attribute set", "Acme-Tier", **{"value-type": "uint32"})
    reply, server = logon(app)
    assert reply.code is Code.ACCESS_ACCEPT
    assert reply.get("Idle-Timeout") == 60
    assert server.counters["attributes-left-out"] == 1


def test_acct_interim_interval_when_configured(app: Userman) -> None:
    # RFC 2869 5.16; `userman serve --interim-interval` (default 5m).
    assert logon(app, interim=300)[0].get("Acct-Interim-Interval") == 300
    assert logon(app, interim=0)[0].get("Acct-Interim-Interval") is None


def test_replies_keep_plain_attributes_in_wire_form_and_make_the_rest_each_time() -> None:
    """server/requests.Replies: a rate limit or a Class is made once and kept; a value that
    differs in every reply (MS-CHAP2-Success) or is hidden with the request's authenticator
    (an MPPE key) is made each time; a value that does not fit is left out with the reason."""
    from userman.core.authorize import CustomAttribute, Decision
    from userman.server.requests import Replies

    replies = Replies(D, limit=3)
    bad = CustomAttribute("Bad-Ip", 0, 250, "ip-address")
    decision = Decision(
        True,
        None,
        (
            ("Mikrotik-Rate-Limit", "1M/2M"),
            ("Class", b"userman:1"),
            ("MS-CHAP2-Success", b"\x01S=00"),
            ("MS-MPPE-Recv-Key", bytes(16)),
            (bad, "not an address"),
        ),
    )
    chunks, problems = replies.chunks(decision, "test", b"s3cret", bytes(range(16)))
    assert len(chunks) == 4
    assert len(problems) == 1
    assert set(replies._kept) == {("Mikrotik-Rate-Limit", "1M/2M"), ("Class", b"userman:1")}
    again, _ = replies.chunks(decision, "test", b"s3cret", bytes(range(16)))
    assert again[:3] == chunks[:3]
    assert again[3] != chunks[3]  # salt-encrypted with a fresh salt
    for n in range(3):  # past the limit, what was kept is forgotten, then kept afresh
        replies.chunk("Session-Timeout", n)
    assert len(replies._kept) <= 3
