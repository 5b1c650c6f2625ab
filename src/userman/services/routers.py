"""What the server keeps of a router (NAS) to answer its requests, and why it drops one: plain
values, no ORM."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum, StrEnum

from userman.core.context import RequestContext

__all__ = ["ROUTER_FAILURE", "Drop", "Failure", "Requirement", "RouterInfo"]

# The status of a dropped request's entry in the log; its description says why (Drop).
ROUTER_FAILURE = "router-failure"


class Requirement(StrEnum):
    """The router's require-message-authenticator: must its Access-Requests carry one?"""

    YES = "yes"
    NO = "no"
    # FreeRADIUS 3.2.5's `auto`: not until the router has sent one, then always.
    AUTO = "auto"


@dataclass(frozen=True, slots=True)
class RouterInfo:
    id: int
    name: str
    subscriber_id: int
    customer_id: int
    secret: bytes
    log: frozenset[str]
    disabled: bool
    # Drop an Access-Request without a Message-Authenticator (BlastRADIUS, CVE-2024-3596).
    require_message_authenticator: Requirement = Requirement.AUTO
    # Send it Disconnect-Requests (RFC 5176) when a session must end (services/coa.py).
    use_coa: bool = False
    # At a user's shared-users limit, end its oldest sessions instead of refusing (v7); None
    # (on-shared-users-limit=default): as its subscriber's row says.
    evict_oldest: bool | None = None
    # Under `auto`: it has sent a signed Access-Request, so it must sign every one.
    message_authenticator_seen: bool = False

    @property
    def must_sign(self) -> bool:
        """Whether an Access-Request without a Message-Authenticator is dropped."""
        if self.require_message_authenticator is Requirement.AUTO:
            return self.message_authenticator_seen
        return self.require_message_authenticator is Requirement.YES

    @property
    def learns(self) -> bool:
        """Whether its next signed Access-Request makes it `must_sign` (auto, not yet seen)."""
        auto = self.require_message_authenticator is Requirement.AUTO
        return auto and not self.message_authenticator_seen


class Drop(Enum):
    """Why a request from a known router goes unanswered: its counter for `router monitor`
    and the reason written to the log."""

    NO_MESSAGE_AUTHENTICATOR = (
        "missing-message-authenticator",
        "no Message-Authenticator; set require-message-authenticator=no for routers that"
        " cannot send one",
    )
    # BlastRADIUS: the attacker's collision rides in a Proxy-State the reply echoes; a router
    # (not a proxy) sends none.
    PROXY_STATE = (
        "missing-message-authenticator",
        "Proxy-State without Message-Authenticator; set require-message-authenticator=no for"
        " a proxy that cannot send one",
    )
    # https://www.rfc-editor.org/rfc/rfc3579#section-3.2
    EAP_MESSAGE = (
        "missing-message-authenticator",
        "EAP-Message without Message-Authenticator (RFC 3579 3.2)",
    )
    # https://www.rfc-editor.org/rfc/rfc5997#section-3
    STATUS_SERVER = (
        "missing-message-authenticator",
        "Status-Server without Message-Authenticator (RFC 5997 3)",
    )
    WRONG_MESSAGE_AUTHENTICATOR = (
        "bad-authenticator",
        "Message-Authenticator does not match: wrong shared secret?",
    )
    # https://www.rfc-editor.org/rfc/rfc2866#section-3
    WRONG_REQUEST_AUTHENTICATOR = (
        "bad-authenticator",
        "Accounting-Request authenticator does not match: wrong shared secret?",
    )

    @property
    def counter(self) -> str:
        return self.value[0]

    @property
    def reason(self) -> str:
        return self.value[1]


@dataclass(frozen=True, slots=True)
class Failure:
    """A request dropped for `drop`: who sent it, when, and what it said of itself."""

    router: RouterInfo
    drop: Drop
    username: str
    context: RequestContext
    time: dt.datetime

    def describe(self, dropped_since: int = 0) -> str:
        """The log's description; `dropped_since`: how many like it went unlogged before."""
        text = f"router {self.router.name}: {self.drop.reason}"
        if dropped_since:
            text += f" ({dropped_since} more dropped since the last entry)"
        return text
