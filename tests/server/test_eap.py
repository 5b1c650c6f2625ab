"""EAP over RADIUS through the server (RFC 3579), with an in-memory datagram transport: one
conversation's Access-Requests into one `RadiusServer`, its Access-Challenges and final reply
out. The peer's EAP-MSCHAPv2 is built with userman's own MS-CHAPv2 (RFC 2759)."""

from __future__ import annotations

import dataclasses
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from OpenSSL import SSL

import inmemory
from tlspeer import EapTlsPeer, client_context, make_pki
from userman.eap.conversations import Conversations
from userman.eap.fragments import decode as frame_decode
from userman.eap.mschapv2 import OpCode
from userman.eap.packet import Code as EapCode
from userman.eap.packet import EapPacket, Type
from userman.eap.packet import decode as eap_decode
from userman.eap.radius import join, split
from userman.radius import mppe, mschap
from userman.radius.packet import Code, Packet, build, decode, encode
from userman.server.endpoint import RadiusServer
from userman.services import Userman
from userman.services.certificates import ServerTls, TlsMaterial

D, SECRET, ROUTER = inmemory.D, inmemory.SECRET, inmemory.ROUTER
PEER_CHALLENGE = bytes(range(16))


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Userman]:
    userman = inmemory.make_app(tmp_path)
    inmemory.do(userman, "user create-and-activate-profile", "test", profile="p")
    yield userman
    userman.close()


class Router:
    """A router passing one peer's EAP to the server, in one event loop."""

    def __init__(self, app: Userman, server: RadiusServer) -> None:
        self.server = server
        self.transport = inmemory.FakeTransport(app)
        self.state: bytes | None = None
        self.identifier = 0

    async def send(
        self, eap: bytes, *, state: bytes | None = None, user: str = "test", mtu: int | None = None
    ) -> Packet | None:
        self.identifier = (self.identifier + 1) % 256
        attributes: list[tuple[str, object]] = [("User-Name", user)]
        if mtu is not None:
            attributes.append(("Framed-MTU", mtu))
        attributes += [("EAP-Message", part) for part in split(eap)]
        if (state or self.state) is not None:
            attributes.append(("State", state or self.state))
        pkt = build(D, Code.ACCESS_REQUEST, self.identifier, os.urandom(16), attributes)
        before = len(self.transport.sent)
        data = encode(pkt, SECRET, message_authenticator=True)
        await self.server.handle(self.transport, data, ROUTER, False)
        if len(self.transport.sent) == before:
            return None
        reply = decode(
            self.transport.sent[-1][0], D, secret=SECRET, request_authenticator=pkt.authenticator
        )
        state_value = reply.get("State")
        if isinstance(state_value, bytes):
            self.state = state_value
        return reply


def eap_of(reply: Packet) -> EapPacket:
    return eap_decode(join(reply.get_all("EAP-Message")))


def response(request: EapPacket, kind: Type, data: bytes) -> bytes:
    return EapPacket(EapCode.RESPONSE, request.identifier, kind, data).encode()


def mschap_response(request: EapPacket, password: str) -> bytes:
    ident, challenge = request.data[1], request.data[5:21]
    nt = mschap.generate_nt_response(challenge, PEER_CHALLENGE, b"test", password)
    value = PEER_CHALLENGE + bytes(8) + nt + b"\x00"
    return struct.pack("!BBHB", OpCode.RESPONSE, ident, 5 + len(value) + 4, 49) + value + b"test"


def run(app: Userman, steps: object) -> None:
    async def go(server: RadiusServer) -> None:
        await steps(Router(app, server))  # type: ignore[operator]

    inmemory.run_server(app, go)


def test_eap_mschapv2_is_accepted_with_the_mppe_keys(app: Userman) -> None:
    async def steps(router: Router) -> None:
        identity_request = EapPacket(EapCode.REQUEST, 5, Type.IDENTITY)
        first = await router.send(response(identity_request, Type.IDENTITY, b"test"))
        assert first is not None
        # RFC 3579 2 and 3.2: State, the Session-Timeout hint, Message-Authenticator.
        assert first.code is Code.ACCESS_CHALLENGE
        assert isinstance(first.get("State"), bytes)
        assert first.get("Session-Timeout") == 30
        assert "Message-Authenticator" in first
        challenge = eap_of(first)
        assert challenge.type == Type.MSCHAPV2
        assert challenge.data[0] == OpCode.CHALLENGE
        second = await router.send(
            response(challenge, Type.MSCHAPV2, mschap_response(challenge, "test"))
        )
        assert second is not None
        assert second.code is Code.ACCESS_CHALLENGE
        success = eap_of(second)
        assert success.data[0] == OpCode.SUCCESS
        third = await router.send(response(success, Type.MSCHAPV2, bytes([OpCode.SUCCESS])))
        assert third is not None
        assert third.code is Code.ACCESS_ACCEPT
        assert eap_of(third) == EapPacket(EapCode.SUCCESS, success.identifier)
        assert "MS-CHAP2-Success" not in third
        nt = mschap.generate_nt_response(challenge.data[5:21], PEER_CHALLENGE, b"test", "test")
        send, recv = mppe.server_keys(
            mschap.hash_nt_password_hash(mschap.nt_password_hash("test")), nt
        )
        assert third.get("MS-MPPE-Send-Key") == send
        assert third.get("MS-MPPE-Recv-Key") == recv
        assert len(router.server.eap.live) == 0  # over: forgotten

    run(app, steps)


def test_a_wrong_password_ends_in_a_reject_with_eap_failure(app: Userman) -> None:
    async def steps(router: Router) -> None:
        first = await router.send(
            response(EapPacket(EapCode.REQUEST, 1, Type.IDENTITY), Type.IDENTITY, b"test")
        )
        assert first is not None
        challenge = eap_of(first)
        second = await router.send(
            response(challenge, Type.MSCHAPV2, mschap_response(challenge, "nope"))
        )
        assert second is not None
        failure = eap_of(second)
        assert failure.data[0] == OpCode.FAILURE
        third = await router.send(response(failure, Type.MSCHAPV2, bytes([OpCode.FAILURE])))
        assert third is not None
        assert third.code is Code.ACCESS_REJECT
        assert eap_of(third).code is EapCode.FAILURE
        assert third.get("Reply-Message") == "wrong password for user <test>"

    run(app, steps)


def test_an_eap_start_gets_the_identity_request(app: Userman) -> None:
    async def steps(router: Router) -> None:
        reply = await router.send(b"")  # RFC 3579 2.1: an EAP-Message of no octets
        assert reply is not None
        assert reply.code is Code.ACCESS_CHALLENGE
        request = eap_of(reply)
        assert (request.code, request.type) == (EapCode.REQUEST, Type.IDENTITY)
        challenge = await router.send(response(request, Type.IDENTITY, b"test"))
        assert challenge is not None
        assert eap_of(challenge).type == Type.MSCHAPV2

    run(app, steps)


def test_an_eap_message_over_several_attributes_is_joined(app: Userman) -> None:
    # RFC 3579 3.1: an identity of 600 octets travels in three EAP-Message attributes.
    async def steps(router: Router) -> None:
        long_name = b"x" * 600
        reply = await router.send(
            response(EapPacket(EapCode.REQUEST, 1, Type.IDENTITY), Type.IDENTITY, long_name)
        )
        assert reply is not None
        assert eap_of(reply).type == Type.MSCHAPV2
        [held] = [value for _, value in router.server.eap.live._live.values()]
        assert held.conversation.identity == "x" * 600

    run(app, steps)


def test_an_unknown_state_is_rejected_with_eap_failure(app: Userman) -> None:
    async def steps(router: Router) -> None:
        eap = response(EapPacket(EapCode.REQUEST, 9, Type.MSCHAPV2), Type.MSCHAPV2, b"\x03")
        reply = await router.send(eap, state=b"no such state!!!")
        assert reply is not None
        assert reply.code is Code.ACCESS_REJECT
        assert eap_of(reply) == EapPacket(EapCode.FAILURE, 9)
        assert reply.get("Reply-Message") == "EAP conversation of user <test> failed"
        assert router.server.counters["eap-unknown-state"] == 1

    run(app, steps)


def test_a_retransmitted_response_gets_the_same_request_and_a_stale_one_nothing(
    app: Userman,
) -> None:
    async def steps(router: Router) -> None:
        identity = response(EapPacket(EapCode.REQUEST, 1, Type.IDENTITY), Type.IDENTITY, b"test")
        first = await router.send(identity)
        assert first is not None
        # The same EAP Response in a new Access-Request (a new Request Authenticator).
        again = await router.send(identity)
        assert again is not None
        assert join(again.get_all("EAP-Message")) == join(first.get_all("EAP-Message"))
        # A Response that answers no outstanding Request (RFC 3748 4.1) is dropped.
        challenge = eap_of(first)
        stale = EapPacket(
            EapCode.RESPONSE, (challenge.identifier + 3) % 256, Type.MSCHAPV2, b"\x02"
        )
        assert await router.send(stale.encode()) is None
        assert router.server.counters["eap-discarded"] == 1

    run(app, steps)


def test_when_the_conversations_are_full_a_new_one_is_dropped(app: Userman) -> None:
    async def steps(router: Router) -> None:
        router.server.eap.live = Conversations(capacity=1)
        identity = response(EapPacket(EapCode.REQUEST, 1, Type.IDENTITY), Type.IDENTITY, b"test")
        assert await router.send(identity) is not None
        router.state = None
        assert await router.send(identity) is None  # a second start: refused
        assert router.server.counters["eap-refused"] == 1

    run(app, steps)


def test_a_nak_for_a_method_not_offered_is_rejected(app: Userman) -> None:
    # RFC 3748 5.3.1: the peer asks for EAP-TLS (13), which is not implemented yet.
    async def steps(router: Router) -> None:
        identity = response(EapPacket(EapCode.REQUEST, 1, Type.IDENTITY), Type.IDENTITY, b"test")
        first = await router.send(identity)
        assert first is not None
        reply = await router.send(response(eap_of(first), Type.NAK, b"\x0d"))
        assert reply is not None
        assert reply.code is Code.ACCESS_REJECT
        assert eap_of(reply).code is EapCode.FAILURE
        assert reply.get("Reply-Message") == "auth method not allowed for user <test>"
        assert len(router.server.eap.live) == 0

    run(app, steps)


@pytest.mark.parametrize("eap", [b"\x02", b"\x02\x01\x00\x09\x01", b"\x07\x01\x00\x04"])
def test_a_malformed_eap_message_is_dropped_and_counted(app: Userman, eap: bytes) -> None:
    # RFC 3748 4: silently discarded; counted with the malformed requests.
    async def steps(router: Router) -> None:
        assert await router.send(eap) is None
        assert await router.send(eap, state=b"some state value") is None
        assert router.server.counters["broken-requests"] == 2
        assert len(router.server.eap.live) == 0

    run(app, steps)


def test_the_tls_methods_are_offered_once_a_certificate_is_set(app: Userman) -> None:
    # server/tlscontexts.py: with the certificate settings' contexts, PEAP is proposed first;
    # a peer may Nak to another method (RFC 3748 5.3.1); without them (above), only MSCHAPv2.
    pki = make_pki()
    server = ServerTls("radius", pki.server.cert_pem.decode(), pki.server.key_pem.decode())

    async def steps(router: Router) -> None:
        router.server.eap.contexts.update(
            TlsMaterial("1", server, None, (pki.ca.cert_pem.decode(),), ())
        )
        identity = EapPacket(EapCode.REQUEST, 1, Type.IDENTITY)
        first = await router.send(response(identity, Type.IDENTITY, b"test"))
        assert first is not None
        proposed = eap_of(first)
        assert (proposed.type, proposed.data) == (Type.PEAP, b"\x20")  # the S flag, version 0
        nak = await router.send(response(proposed, Type.NAK, bytes([Type.TLS])))
        assert nak is not None
        assert eap_of(nak).type == Type.TLS

    run(app, steps)


@pytest.mark.parametrize(
    ("setting", "mtu", "size"),
    [(300, None, 300), (2000, None, 2000), (2000, 1400, 1390), (300, 1400, 300), (2000, 500, 1010)],
)
def test_the_server_flight_goes_in_fragments_of_the_setting_fit_to_the_framed_mtu(
    app: Userman, setting: int, mtu: int | None, size: int
) -> None:
    # RFC 5216 2.1.5: the first fragment carries L and M; its data is the eap-fragment-size
    # setting's octets, fewer where the router's Framed-MTU (RFC 3580 3.17) leaves less room
    # after the EAP header, Type, Flags and Length (10); a Framed-MTU below RFC 3748's least
    # EAP MTU (1020) is taken as 1020.
    pki = make_pki()
    server = ServerTls("radius", pki.server.cert_pem.decode(), pki.server.key_pem.decode())
    chain = server.chain + pki.ca.cert_pem.decode() * 8  # a flight over 2000 octets
    material = TlsMaterial("1", ServerTls("radius", chain, server.key), None, (), ())

    async def steps(router: Router) -> None:
        router.server.eap.contexts.update(dataclasses.replace(material, fragment_size=setting))
        peer = EapTlsPeer(client_context(pki, SSL.TLS1_2_VERSION))
        identity = EapPacket(EapCode.REQUEST, 1, Type.IDENTITY)
        start = await router.send(response(identity, Type.IDENTITY, b"test"), mtu=mtu)
        assert start is not None
        assert eap_of(start).type == Type.PEAP
        hello = await router.send(response(eap_of(start), Type.PEAP, peer.answer(b"\x20")))
        assert hello is not None
        first = frame_decode(eap_of(hello).data)
        assert first.more
        assert first.length is not None
        assert first.length > 2000
        assert len(first.data) == size

    run(app, steps)
