"""A router stand-in for the Disconnect/CoA tests: a UDP port on 127.0.0.1 (or ::1) that decodes
what it gets with userman's codec and answers ACK, NAK, or nothing (to make the sender time
out).

It runs in a thread, so an asyncio test and an end-to-end test use it alike, and stops by itself
after `lifetime` seconds when a test forgets to.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType

from userman.radius.dictionary import default_dictionary
from userman.radius.packet import (
    Code,
    Packet,
    decode,
    encode,
    verify_message_authenticator,
    verify_request_authenticator,
)

D = default_dictionary()
ANSWERS = {
    "ack": {Code.DISCONNECT_REQUEST: Code.DISCONNECT_ACK, Code.COA_REQUEST: Code.COA_ACK},
    "nak": {Code.DISCONNECT_REQUEST: Code.DISCONNECT_NAK, Code.COA_REQUEST: Code.COA_NAK},
}


@dataclass
class StandInRouter:
    secret: bytes = b"12345"
    mode: str = "ack"  # ack, nak or silent
    lifetime: float = 120.0  # a safety stop: an end-to-end test starts a server and CLIs first
    host: str = "127.0.0.1"  # or ::1
    received: list[Packet] = field(default_factory=list)
    signed: list[bool] = field(default_factory=list)  # each request's authenticators held
    got: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.bind((self.host, 0))
        self._sock.settimeout(0.05)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> StandInRouter:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        deadline = time.monotonic() + self.lifetime
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                data, addr = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            pkt = decode(data, D, secret=self.secret)
            self.received.append(pkt)
            self.signed.append(
                verify_request_authenticator(data, self.secret)
                and verify_message_authenticator(data, self.secret) is True
            )
            self.got.set()
            if self.mode == "silent":
                continue
            code = ANSWERS[self.mode][pkt.code]
            attrs = [] if self.mode == "ack" else [("Error-Cause", "Session-Context-Not-Found")]
            reply = Packet.build(D, code, pkt.identifier, pkt.authenticator, attrs)
            self._sock.sendto(
                encode(reply, self.secret, request_authenticator=pkt.authenticator), addr
            )
