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
