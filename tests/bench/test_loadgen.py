"""The benchmark's load generator is right: its packets are the codec's, and it tells a right
answer from a wrong one. Its figures are never asserted (no test asserts a time).

The generator fills templates per request (bench/packets.py); each filled packet must equal
userman.radius's encode of the same attributes. A tiny responder in a thread, built on the
codec alone, checks every request (PAP, CHAP, MS-CHAPv2 per RFC 2865 5.2/5.3 and RFC 2759,
the Message-Authenticator of RFC 3579 3.2, the Request Authenticator of RFC 2866 3) and
answers; the generator must count all its answers right, and each kind of wrong answer as
wrong for its reason.
"""

from __future__ import annotations

import hashlib
import os
import select
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from flows import AccountingSessions, LogOnStorm, SteadyAccess, shuffled
from loadgen import check, drive, null_replies, null_responder
from packets import (
    AccessRequests,
    AccountingRequests,
    D,
    Usage,
    access_attributes,
    accounting_attributes,
    mschap_v2_login,
)
from population import INTERIM_SECONDS, RATE_LIMIT, SECRET, password, user_name

from userman.radius.chap import verify_chap, verify_pap
from userman.radius.mschap import verify_mschap_v2
from userman.radius.packet import (
    Code,
    build,
    decode,
    encode,
    make_avp,
    verify_message_authenticator,
    verify_request_authenticator,
)

USERS = 40
STATUS_NAMES = {number: name for name, number in D.attribute("Acct-Status-Type").values.items()}


@pytest.mark.parametrize("method", ["pap", "chap", "mschapv2"])
def test_a_filled_access_request_is_the_codecs_encoding(method: str) -> None:
    requests = AccessRequests(method, USERS)
    for n, ident in ((0, 0), (7, 200), (USERS - 1, 255)):
        authenticator = os.urandom(16)
        data, expect = requests.make(ident, n, authenticator)
        attributes = access_attributes(method, n, ident, authenticator)
        pkt = build(D, Code.ACCESS_REQUEST, ident, authenticator, attributes)
        assert data == encode(pkt, SECRET, message_authenticator=True)
        assert (expect.code, expect.authenticator, expect.user) == (2, authenticator, n)


@pytest.mark.parametrize("status", ["Start", "Interim-Update", "Stop", "Accounting-On"])
def test_a_filled_accounting_request_is_the_codecs_encoding(status: str) -> None:
    n = -1 if status == "Accounting-On" else 13
    session, usage = "0123456789abcdef", Usage(7, 0x0A010203, 1_700_000_000, 60, 10, 20, 3, 4)
    data, expect = AccountingRequests().make(9, status, n, session, usage)
    attributes = []
    values = {
        "NAS-Port": 7,
        "Framed-IP-Address": "10.1.2.3",
        "Event-Timestamp": 1_700_000_000,
        "Acct-Session-Time": 60,
        "Acct-Input-Octets": 10,
        "Acct-Output-Octets": 20,
        "Acct-Input-Packets": 3,
        "Acct-Output-Packets": 4,
    }
    for name, value in accounting_attributes(status, max(n, 0), session):
        attributes.append((name, values.get(name, value)))
    pkt = build(D, Code.ACCOUNTING_REQUEST, 9, bytes(16), attributes)
    assert data == encode(pkt, SECRET)
    assert verify_request_authenticator(data, SECRET)
    assert expect.authenticator == data[4:20]


# --- a responder made of the codec alone -----------------------------------------------------


@dataclass
class Responder:
    """Answers on two loopback sockets until stopped; `mistake` makes it answer wrongly."""

    mistake: str = ""
    drop_every: int = 0  # answer nothing to every n-th request
    seen: list[tuple[str, str]] = field(default_factory=list)  # (kind, user) in order
    problems: list[str] = field(default_factory=list)
    peers: set[tuple[str, int]] = field(default_factory=set)  # the generator's source ports

    def answer(self, data: bytes) -> bytes | None:
        if data[0] == Code.ACCOUNTING_REQUEST:
            return self._accounting(data)
        return self._access(data)

    def _accounting(self, data: bytes) -> bytes | None:
        # https://www.rfc-editor.org/rfc/rfc2866#section-3 (Request Authenticator)
        if not verify_request_authenticator(data, SECRET):
            self.problems.append("accounting Request Authenticator")
            return None
        req = decode(data, D, secret=SECRET)
        status = STATUS_NAMES[int(str(req.get("Acct-Status-Type")))]
        self.seen.append((status, str(req.get("User-Name"))))
        reply = req.reply(Code.ACCOUNTING_RESPONSE)
        return encode(reply, SECRET, request_authenticator=req.authenticator)

    def _access(self, data: bytes) -> bytes | None:
        # https://www.rfc-editor.org/rfc/rfc3579#section-3.2
        if verify_message_authenticator(data, SECRET) is not True:
            self.problems.append("Message-Authenticator")
            return None
        req = decode(data, D, secret=SECRET)
        name = str(req.get("User-Name"))
        self.seen.append(("Access-Request", name))
        secret = password(int(name.removeprefix("user")))
        reply = [
            make_avp(D, "Mikrotik-Rate-Limit", RATE_LIMIT),
            make_avp(D, "Acct-Interim-Interval", INTERIM_SECONDS),
        ]
        offered, chap = req.get("User-Password"), req.get("CHAP-Password")
        response, challenge = req.get("MS-CHAP2-Response"), req.get("MS-CHAP-Challenge")
        ok = False
        if isinstance(offered, str):  # https://www.rfc-editor.org/rfc/rfc2865#section-5.2
            ok = verify_pap(offered.encode(), secret.encode())
        elif isinstance(chap, bytes):  # rfc2865#section-5.3: the authenticator as challenge
            ok = verify_chap(chap, req.authenticator, secret.encode())
        elif isinstance(response, bytes) and isinstance(challenge, bytes):  # rfc2759
            result = verify_mschap_v2(name.encode(), secret, challenge, response)
            if result is not None:
                ok = True
                success = result.success
                if self.mistake == "success":
                    success = success[:-1] + (b"0" if success[-1:] != b"0" else b"1")
                reply.append(make_avp(D, "MS-CHAP2-Success", success))
        if not ok:
            self.problems.append(f"{name}: wrong credentials")
        code = Code.ACCESS_ACCEPT if ok and self.mistake != "reject" else Code.ACCESS_REJECT
        if self.mistake == "rate limit":
            reply = reply[1:]
        pkt = req.reply(code, reply if code == Code.ACCESS_ACCEPT else ())
        key = b"not-the-secret" if self.mistake == "authenticator" else SECRET
        return encode(pkt, key, request_authenticator=req.authenticator, message_authenticator=True)

    @contextmanager
    def running(self) -> Iterator[list[tuple[str, int]]]:
        sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        stop = threading.Event()

        def serve() -> None:
            count = 0
            while not stop.is_set():
                ready, _, _ = select.select(sockets, [], [], 0.02)
                for sock in ready:
                    data, peer = sock.recvfrom(4096)
                    self.peers.add(peer)
                    count += 1
                    if self.drop_every and count % self.drop_every == 0:
                        continue
                    answer = self.answer(data)
                    if answer is not None:
                        sock.sendto(answer, peer)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            yield [sock.getsockname() for sock in sockets]
        finally:
            stop.set()
            thread.join(timeout=5)
            for sock in sockets:
                sock.close()


def steady(method: str) -> Callable[[], SteadyAccess | AccountingSessions]:
    order = shuffled(USERS, seed=5)
    if method == "accounting":
        return lambda: AccountingSessions(AccountingRequests(), order, open_sessions=16)
    requests = AccessRequests(method, USERS)
    return lambda: SteadyAccess(requests, order)


@pytest.mark.parametrize("method", ["pap", "chap", "mschapv2", "accounting"])
def test_every_right_answer_is_counted_right(method: str) -> None:
    responder = Responder()
    with responder.running() as addresses:
        result = drive(steady(method)(), addresses, in_flight=8, seconds=0.1, warmup=0.0)
    assert responder.problems == []
    assert result.answered > 0
    assert (result.timeouts, result.late, dict(result.wrong)) == (0, 0, {})


def test_several_source_ports_take_turns() -> None:
    """`sources`: as several routers, for `serve --workers N` (bench/workers.py), which spreads
    its load by source port."""
    responder = Responder()
    with responder.running() as addresses:
        result = drive(steady("pap")(), addresses, in_flight=8, seconds=0.1, warmup=0.0, sources=4)
    assert responder.problems == []
    assert result.answered > 0
    assert (result.timeouts, result.late, dict(result.wrong)) == (0, 0, {})
    assert len(responder.peers) == 4  # the access port's four; accounting was not sent


@pytest.mark.parametrize(
    ("method", "mistake", "reason"),
    [
        ("pap", "reject", "ACCESS_REJECT"),
        ("chap", "authenticator", "Response Authenticator"),
        ("mschapv2", "success", "MS-CHAP2-Success"),
        ("pap", "rate limit", "Mikrotik-Rate-Limit"),
    ],
)
def test_a_wrong_answer_is_counted_wrong(method: str, mistake: str, reason: str) -> None:
    responder = Responder(mistake=mistake)
    with responder.running() as addresses:
        result = drive(steady(method)(), addresses, in_flight=4, seconds=0.1, warmup=0.0)
    assert result.wrong[reason] > 0
    # Only the first Accept and every 1024th after it are decoded for their attributes.
    if mistake != "rate limit":
        assert result.answered == 0


def test_an_unanswered_request_is_a_timeout_and_never_a_wrong_answer() -> None:
    responder = Responder(drop_every=3)
    with responder.running() as addresses:
        result = drive(
            steady("pap")(), addresses, in_flight=8, seconds=0.15, warmup=0.0, timeout=0.05
        )
    assert result.timeouts > 0
    assert result.answered > 0
    assert not result.wrong


def test_a_message_authenticator_is_checked_when_present() -> None:
    requests = AccessRequests("pap", 1)
    data, expect = requests.make(1, 0)
    req = decode(data, D, secret=SECRET)
    reply = req.reply(Code.ACCESS_ACCEPT, [make_avp(D, "Mikrotik-Rate-Limit", RATE_LIMIT)])
    good = encode(
        reply, SECRET, request_authenticator=req.authenticator, message_authenticator=True
    )
    assert check(good, expect, sample=False) is None
    at = good.index(bytes((80, 18))) + 2
    forged = bytearray(good)
    forged[at] ^= 1  # a wrong HMAC, then a Response Authenticator that matches it
    forged[4:20] = expect.authenticator
    forged[4:20] = hashlib.md5(bytes(forged) + SECRET).digest()
    assert check(bytes(forged), expect, sample=False) == "Message-Authenticator"


def test_the_storm_sends_the_accounting_on_first_and_a_start_after_each_accept() -> None:
    responder = Responder()
    flow = LogOnStorm(AccessRequests("pap", USERS), AccountingRequests(), shuffled(USERS, 2))
    with responder.running() as addresses:
        result = drive(flow, addresses, in_flight=16, seconds=None, limit=3.0)
    assert result.finished
    assert flow.done()
    assert (flow.logged_on, flow.failed) == (USERS, 0)
    assert responder.seen[0][0] == "Accounting-On"
    accepted = set()
    for kind, name in responder.seen[1:]:
        if kind == "Access-Request":
            accepted.add(name)
        else:
            assert kind == "Start"
            assert name in accepted
    assert len(accepted) == USERS
    assert not result.wrong


def test_a_server_that_is_not_there_gives_timeouts_not_a_crash() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        address = sock.getsockname()  # closed again before the run: nothing listens there
    result = drive(
        steady("pap")(), [address, address], in_flight=4, seconds=0.1, warmup=0.0, timeout=0.05
    )
    assert result.answered == 0
    assert result.timeouts == result.sent > 0
    assert not result.wrong


@pytest.mark.parametrize("method", ["pap", "mschapv2", "accounting"])
def test_the_null_responder_answers_right(method: str) -> None:
    """The null responder's answers (templates signed per request) pass every check."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    successes = {user_name(n).encode(): mschap_v2_login(n).success[2:] for n in range(USERS)}
    stop = threading.Event()
    thread = threading.Thread(
        target=null_responder, args=(sockets, null_replies(successes), lambda: not stop.is_set())
    )
    thread.start()
    try:
        addresses = [sock.getsockname() for sock in sockets]
        result = drive(steady(method)(), addresses, in_flight=8, seconds=0.1, warmup=0.0)
    finally:
        stop.set()
        thread.join(timeout=5)
        for sock in sockets:
            sock.close()
    assert result.answered > 0
    assert (result.timeouts, dict(result.wrong)) == (0, {})
