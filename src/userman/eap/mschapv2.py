"""EAP-MSCHAPv2 (draft-kamath-pppext-eap-mschapv2-02): MS-CHAPv2 (RFC 2759) inside EAP.

The authenticator's side: Challenge, then the peer's Response is handed to the decision
(as `MschapV2Credentials`, checked by radius/mschap.py like a RADIUS MS-CHAPv2 request), then
a Success-Request carrying the authenticator response or a Failure-Request; the peer's
Success-Response ends it with the MSK, its Failure-Response without. The MSK is the MPPE master
keys of RFC 3079 3.3 as the draft defines it: MasterReceiveKey | MasterSendKey of the
authenticator (the NAS's MS-MPPE-Recv-Key then -Send-Key). No I/O; randomness is a parameter.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from enum import Enum, IntEnum

from userman.core.authorize import AuthMethod, MschapV2Credentials
from userman.eap.method import Finish, Send, Step, Verdict, Verify
from userman.eap.packet import Type

__all__ = ["MschapV2", "OpCode"]

SERVER_NAME = b"userman"
CHALLENGE_SIZE = 16
RESPONSE_SIZE = 49  # Peer-Challenge 16, Reserved 8, NT-Response 24, Flags 1
HEADER = 4  # OpCode, MS-CHAPv2-ID, MS-Length


class OpCode(IntEnum):
    """draft-kamath-pppext-eap-mschapv2-02 section 2"""

    CHALLENGE = 1
    RESPONSE = 2
    SUCCESS = 3
    FAILURE = 4
    CHANGE_PASSWORD = 7


class _Stage(Enum):
    CHALLENGED = "challenged"  # the Challenge is out: a Response is awaited
    DECIDING = "deciding"  # the Response is with the decision
    SUCCEEDED = "succeeded"  # the Success-Request is out: a Success-Response is awaited
    FAILED = "failed"  # the Failure-Request is out: a Failure-Response is awaited
    OVER = "over"


class MschapV2:
    """One EAP-MSCHAPv2 exchange (see the module)."""

    type = Type.MSCHAPV2
    auth = AuthMethod.EAP_MSCHAP2

    def __init__(self, identity: str, random: Callable[[int], bytes]) -> None:
        self.identity = identity
        self.challenge = random(CHALLENGE_SIZE)
        self.ident = random(1)[0]  # MS-CHAPv2-ID: the Response and the Success-Request echo it
        self.stage = _Stage.CHALLENGED
        self.keys = (b"", b"")

    def start(self) -> bytes:
        value = bytes((CHALLENGE_SIZE,)) + self.challenge + SERVER_NAME
        return self._request(OpCode.CHALLENGE, value)

    def _request(self, op: OpCode, value: bytes) -> bytes:
        # MS-Length: the Type-Data's length (the EAP packet's Length minus 5).
        return struct.pack("!BBH", op, self.ident, HEADER + len(value)) + value

    def receive(self, data: bytes) -> Step:
        op = data[0] if data else 0
        if self.stage is _Stage.CHALLENGED and op == OpCode.RESPONSE:
            return self._response(data)
        if self.stage is _Stage.SUCCEEDED and op == OpCode.SUCCESS:
            self.stage = _Stage.OVER
            recv_key, send_key = self.keys
            return Finish(True, recv_key + send_key)
        self.stage = _Stage.OVER  # a Failure-Response, or anything out of turn
        return Finish(False)

    def _response(self, data: bytes) -> Step:
        # draft section 2.2: OpCode, MS-CHAPv2-ID, MS-Length, Value-Size (49), Response, Name
        if len(data) < HEADER + 1 + RESPONSE_SIZE or data[1] != self.ident:
            self.stage = _Stage.OVER
            return Finish(False)
        if data[HEADER] != RESPONSE_SIZE:
            self.stage = _Stage.OVER
            return Finish(False)
        response = data[HEADER + 1 : HEADER + 1 + RESPONSE_SIZE]
        name = data[HEADER + 1 + RESPONSE_SIZE :]
        peer_challenge, nt_response, flags = response[:16], response[24:48], response[48]
        # As RFC 2548 2.3.2's MS-CHAP2-Response: Ident, Flags, Peer-Challenge, Reserved, NT.
        value = bytes((self.ident, flags)) + peer_challenge + bytes(8) + nt_response
        self.stage = _Stage.DECIDING
        username = name.decode("utf-8", "surrogateescape")
        return Verify(username, MschapV2Credentials(self.challenge, value))

    def decided(self, verdict: Verdict) -> Step:
        if self.stage is not _Stage.DECIDING:
            return Finish(False)
        if verdict.accept and verdict.authenticator_response:
            self.stage = _Stage.SUCCEEDED
            self.keys = (verdict.recv_key, verdict.send_key)
            # draft section 2.3: "S=<auth_string> M=<message>"
            message = verdict.authenticator_response + b" M=welcome"
            return Send(self._request(OpCode.SUCCESS, message))
        self.stage = _Stage.FAILED
        # draft section 2.4: E=691 (authentication failure), no retry, the challenge, V=3.
        message = b"E=691 R=0 C=" + self.challenge.hex().upper().encode() + b" V=3 M=refused"
        return Send(self._request(OpCode.FAILURE, message))
