"""The EAP conversation with EAP-MSCHAPv2 (RFC 3748, draft-kamath-pppext-eap-mschapv2-02),
decided by core/authorize.py as a RADIUS request is."""

from __future__ import annotations

import dataclasses
import datetime as dt
import struct
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from userman.core.authorize import AccessRequest, AuthMethod, RejectReason, UserFacts, authorize
from userman.core.profiles import ProfileSlot, ProfileState
from userman.eap.conversation import Accept, Challenge, Conversation, Decide, Phase, Reject
from userman.eap.method import Verdict, verdict
from userman.eap.mschapv2 import MschapV2, OpCode
from userman.eap.packet import Code, EapPacket, Type, decode
from userman.radius import mppe, mschap

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
SLOT = ProfileSlot(1, "profile1", ProfileState.WAITING, dt.timedelta(hours=1))
FACTS = UserFacts("alice", "secret", disabled=False, profiles=(SLOT,))
PEER_CHALLENGE = bytes(range(100, 116))


def counter() -> object:
    state = {"n": 0}

    def random(size: int) -> bytes:
        state["n"] += 1
        return bytes((state["n"] + i) % 256 for i in range(size))

    return random


def conversation(allowed: Sequence[Type] = (Type.MSCHAPV2,)) -> Conversation:
    return Conversation({Type.MSCHAPV2: MschapV2}, lambda _: allowed, counter())  # type: ignore[arg-type]


def respond(request: EapPacket, kind: int, data: bytes) -> tuple[bytes, EapPacket]:
    pkt = EapPacket(Code.RESPONSE, request.identifier, kind, data)
    return pkt.encode(), decode(pkt.encode())


def mschap_response(challenge_request: EapPacket, password: str, name: bytes = b"alice") -> bytes:
    data = challenge_request.data
    assert data[0] == OpCode.CHALLENGE
    assert data[4] == 16
    ident, challenge = data[1], data[5:21]
    nt = mschap.generate_nt_response(challenge, PEER_CHALLENGE, name, password)
    value = PEER_CHALLENGE + bytes(8) + nt + b"\x00"
    return (
        struct.pack("!BBHB", OpCode.RESPONSE, ident, 5 + len(value) + len(name), 49) + value + name
    )


def decide(out: object, facts: UserFacts = FACTS) -> object:
    assert isinstance(out, Decide)
    request = AccessRequest(out.username, out.credentials, eap=out.method)
    return authorize(request, facts, NOW)


def run_to_decision(conv: Conversation, password: str) -> tuple[Decide, EapPacket]:
    first = conv.start().request
    assert first.type == Type.IDENTITY
    wire, pkt = respond(first, Type.IDENTITY, b"alice")
    challenge = conv.receive(wire, pkt)
    assert isinstance(challenge, Challenge)
    assert challenge.request.type == Type.MSCHAPV2
    wire, pkt = respond(
        challenge.request, Type.MSCHAPV2, mschap_response(challenge.request, password)
    )
    out = conv.receive(wire, pkt)
    assert isinstance(out, Decide)
    return out, challenge.request


def test_the_right_password_ends_in_success_with_the_msk() -> None:
    conv = conversation()
    out, challenge = run_to_decision(conv, "secret")
    assert out.method is AuthMethod.EAP_MSCHAP2
    assert out.username == "alice"
    decision = decide(out)
    assert decision.accept  # type: ignore[attr-defined]
    success = conv.decided(verdict(decision))  # type: ignore[arg-type]
    assert isinstance(success, Challenge)
    data = success.request.data
    assert data[0] == OpCode.SUCCESS
    assert data[1] == challenge.data[1]
    # RFC 2759 8.7: the authenticator response the peer checks.
    nt = mschap.generate_nt_response(challenge.data[5:21], PEER_CHALLENGE, b"alice", "secret")
    expected = mschap.generate_authenticator_response(
        "secret", nt, PEER_CHALLENGE, challenge.data[5:21], b"alice"
    )
    assert data[4:].startswith(expected.encode() + b" M=")
    wire, pkt = respond(success.request, Type.MSCHAPV2, bytes([OpCode.SUCCESS]))
    done = conv.receive(wire, pkt)
    assert isinstance(done, Accept)
    assert done.success == EapPacket(Code.SUCCESS, success.request.identifier)
    # The MSK: MasterReceiveKey | MasterSendKey of the authenticator (RFC 3079 3.3).
    send, recv = mppe.server_keys(
        mschap.hash_nt_password_hash(mschap.nt_password_hash("secret")), nt
    )
    assert done.msk == recv + send
    assert conv.phase is Phase.DONE


def test_a_wrong_password_gets_a_failure_request_then_eap_failure() -> None:
    conv = conversation()
    out, _ = run_to_decision(conv, "wrong")
    decision = decide(out)
    assert decision.reason is RejectReason.WRONG_PASSWORD  # type: ignore[attr-defined]
    failure = conv.decided(verdict(decision))  # type: ignore[arg-type]
    assert isinstance(failure, Challenge)
    assert failure.request.data[0] == OpCode.FAILURE
    assert b"E=691 R=0" in failure.request.data
    wire, pkt = respond(failure.request, Type.MSCHAPV2, bytes([OpCode.FAILURE]))
    done = conv.receive(wire, pkt)
    assert isinstance(done, Reject)
    assert done.failure.code is Code.FAILURE
    assert not done.no_method


def test_a_group_without_eap_mschap2_is_refused_by_the_decision() -> None:
    conv = conversation(allowed=())  # the group allows none of the implemented methods
    out, _ = run_to_decision(conv, "secret")
    facts = dataclasses.replace(FACTS, outer_auths=frozenset({AuthMethod.MSCHAP2}))
    assert decide(out, facts).reason is RejectReason.METHOD_NOT_ALLOWED  # type: ignore[attr-defined]


@pytest.mark.parametrize("asked", [b"\x0d", b"\x00", b"\x1a"])
def test_a_nak_for_nothing_else_allowed_ends_in_failure(asked: bytes) -> None:
    # RFC 3748 5.3.1: the peer asks for EAP-TLS (13), for nothing (0), or for the method it
    # was just offered; none is another method both sides may use.
    conv = conversation()
    wire, pkt = respond(conv.start().request, Type.IDENTITY, b"alice")
    challenge = conv.receive(wire, pkt)
    assert isinstance(challenge, Challenge)
    wire, pkt = respond(challenge.request, Type.NAK, asked)
    done = conv.receive(wire, pkt)
    assert isinstance(done, Reject)
    assert done.no_method
    assert done.failure.identifier == challenge.request.identifier


def test_a_retransmitted_response_gets_the_same_answer_and_a_stale_one_none() -> None:
    conv = conversation()
    wire, pkt = respond(conv.start().request, Type.IDENTITY, b"alice")
    first = conv.receive(wire, pkt)
    assert conv.receive(wire, pkt) == first  # RFC 3579 2, RFC 5080 2.2.2: the same again
    assert isinstance(first, Challenge)
    # A Response whose Identifier is not the outstanding Request's is discarded (RFC 3748 4.1).
    wrong_id = EapPacket(
        Code.RESPONSE, (first.request.identifier + 5) % 256, Type.MSCHAPV2, b"\x02"
    )
    assert conv.receive(wrong_id.encode(), wrong_id) is None
    # So is a second Identity, or a Response of another type, out of turn.
    again = EapPacket(Code.RESPONSE, first.request.identifier, Type.IDENTITY, b"bob")
    assert conv.receive(again.encode(), again) is None
    md5 = EapPacket(Code.RESPONSE, first.request.identifier, Type.MD5_CHALLENGE, b"\x00")
    assert conv.receive(md5.encode(), md5) is None
    assert conv.phase is Phase.PROPOSED


def test_the_answer_after_a_decision_is_given_again_for_a_retransmission() -> None:
    conv = conversation()
    out, challenge = run_to_decision(conv, "secret")
    answer = conv.decided(verdict(decide(out)))  # type: ignore[arg-type]
    wire, pkt = respond(challenge, Type.MSCHAPV2, mschap_response(challenge, "secret"))
    assert conv.receive(wire, pkt) == answer


def test_a_malformed_mschapv2_response_ends_in_failure() -> None:
    conv = conversation()
    wire, pkt = respond(conv.start().request, Type.IDENTITY, b"alice")
    challenge = conv.receive(wire, pkt)
    assert isinstance(challenge, Challenge)
    wire, pkt = respond(challenge.request, Type.MSCHAPV2, b"\x02\x00")
    assert isinstance(conv.receive(wire, pkt), Reject)


# Any sequence of Responses, whatever their Code, Identifier, Type and data, and any verdict:
# the conversation answers, discards or asks for a decision, and never raises (STYLE: every
# (state, input) pair of the table).
RESPONSES = st.lists(
    st.tuples(
        st.sampled_from([Code.RESPONSE, Code.RESPONSE, Code.REQUEST]),
        st.integers(-1, 1),  # the Identifier: one before, the outstanding one, one after
        st.sampled_from([Type.IDENTITY, Type.NAK, Type.MSCHAPV2, Type.MD5_CHALLENGE]),
        st.binary(max_size=80),
        st.booleans(),  # the verdict, when one is asked for
    ),
    max_size=8,
)


@given(RESPONSES)
def test_any_responses_are_answered_or_discarded(responses: list[tuple[object, ...]]) -> None:
    conv = conversation()
    pending = conv.start().request
    over = False
    for code, offset, kind, data, accept in responses:
        pkt = EapPacket(code, (pending.identifier + offset) % 256, kind, data)  # type: ignore[arg-type, operator]
        out = conv.receive(pkt.encode(), decode(pkt.encode()))
        if isinstance(out, Decide):
            out = conv.decided(Verdict(bool(accept), b"S=" + b"0" * 40, bytes(16), bytes(16)))
        if over:
            assert out is None or isinstance(out, Accept | Reject)
        if isinstance(out, Challenge):
            pending = out.request
        elif isinstance(out, Accept | Reject):
            over = True
            assert conv.phase is Phase.DONE
