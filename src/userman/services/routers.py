"""What the server keeps of a router (NAS) to answer its requests: a plain value, no ORM."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RouterInfo"]


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
    require_message_authenticator: bool = True
    # Send it Disconnect-Requests (RFC 5176) when a session must end (services/coa.py).
    use_coa: bool = False
    # At a user's shared-users limit, end its oldest sessions instead of refusing (v7); None
    # (on-shared-users-limit=default): as its subscriber's row says.
    evict_oldest: bool | None = None
