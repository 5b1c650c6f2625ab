"""What an EAP method is to the conversation (eap/conversation.py), and what it answers.

A method is made for one conversation, with the peer's identity and a source of random octets
(`MethodFactory`). `start()` gives the Type-Data of its first Request. `receive(data)` is given
the Type-Data of each Response of its type and returns a `Step`:

- `Send(data)`: send another Request of the method with this Type-Data (a TLS method's next
  flight, an MS-CHAPv2 Success- or Failure-Request);
- `Verify(username, credentials)`: the peer proved an identity with these credentials; the
  caller decides them as any RADIUS request's (core/authorize.py, with the method's AuthMethod)
  and hands the `Verdict` to `decided(verdict)`, which returns the next Step;
- `Finish(accept, msk)`: the method is over: EAP-Success with its Master Session Key (RFC 5247
  2.1; sent as MS-MPPE-Recv-Key and -Send-Key, RFC 2548 2.4.2-2.4.3), or EAP-Failure (with
  the reason, when the method knows one the decision did not give: a refused certificate).

A tunnelled method (TLS, TTLS, PEAP) keeps its TLS state inside and returns `Verify` for the
inner credentials, as EAP-MSCHAPv2 does for its own. A method never raises for a peer's bad
data: it returns `Finish(False)`. No I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from userman.core.authorize import AuthMethod, Credentials, Decision, InnerAuth, RejectReason
from userman.eap.packet import Type

__all__ = [
    "METHOD_ATTRIBUTES",
    "Finish",
    "Method",
    "MethodFactory",
    "Send",
    "Step",
    "Verdict",
    "Verify",
    "verdict",
]


@dataclass(frozen=True, slots=True)
class Send:
    data: bytes  # the Type-Data of the next Request


@dataclass(frozen=True, slots=True)
class Verify:
    username: str  # the identity the credentials prove (the inner one, in a tunnel)
    credentials: Credentials
    inner: InnerAuth | None = None  # the method inside a tunnel that carried them


@dataclass(frozen=True, slots=True)
class Finish:
    accept: bool
    msk: bytes = b""  # the Master Session Key, when accepted
    reason: RejectReason | None = None  # why not, when the method knows (a TLS handshake's)


Step = Send | Verify | Finish


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision on `Verify`'s credentials as the method needs it: accepted or not, the
    MS-CHAPv2 authenticator response ("S=..." of RFC 2759 8.7) and the 16-octet MPPE keys
    the decision made (RFC 2548: the NAS's receive and send keys), when it made them."""

    accept: bool
    authenticator_response: bytes = b""
    recv_key: bytes = b""
    send_key: bytes = b""


class Method(Protocol):
    type: Type
    auth: AuthMethod  # the outer method a group's `outer-auths` must allow

    def start(self) -> bytes: ...

    def receive(self, data: bytes) -> Step: ...

    def decided(self, verdict: Verdict) -> Step: ...


# (identity, random octets) -> a method for one conversation
MethodFactory = Callable[[str, Callable[[int], bytes]], Method]


# What a decision on MS-CHAPv2 credentials adds for a RADIUS MS-CHAPv2 request (RFC 2548),
# which over EAP goes to the method instead: the Access-Accept carries the MSK (eap/mschapv2.py).
METHOD_ATTRIBUTES = frozenset(
    {
        "MS-CHAP2-Success",
        "MS-MPPE-Recv-Key",
        "MS-MPPE-Send-Key",
        "MS-MPPE-Encryption-Policy",
        "MS-MPPE-Encryption-Types",
    }
)


def verdict(decision: Decision) -> Verdict:
    """What a method needs of the decision on its credentials (core/authorize.py)."""
    found = {name: value for name, value in decision.reply if isinstance(name, str)}
    success = found.get("MS-CHAP2-Success", b"")
    recv_key, send_key = found.get("MS-MPPE-Recv-Key", b""), found.get("MS-MPPE-Send-Key", b"")
    return Verdict(
        decision.accept,
        success[1:] if isinstance(success, bytes) else b"",  # without the Ident octet
        recv_key if isinstance(recv_key, bytes) else b"",
        send_key if isinstance(send_key, bytes) else b"",
    )
