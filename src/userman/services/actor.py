"""Who makes a change: the local superuser (the operator at the server's shell) or a customer.

A customer actor carries what its permission checks need, read once when it logs in: its
subscriber, permission level, access flags, and which customers' items each access family lets it
reach (`reach`), so checks need no further queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["LEVELS", "Actor"]

# The manual's permission levels, weakest first.
LEVELS = {"read-only": 0, "read-write": 1, "full": 2, "owner": 3}


@dataclass(frozen=True, slots=True)
class Actor:
    login: str  # the customer's login, or "superuser"
    subscriber_id: int | None  # None: the local superuser, who sees every subscriber
    customer_id: int | None = None
    permissions: str = "owner"
    access: frozenset[str] = frozenset()
    # For each access family (routers, users, profiles, limits): whose items it reaches.
    reach: dict[str, frozenset[int]] = field(default_factory=dict)
    # The customer itself and every customer below it.
    tree: frozenset[int] = frozenset()

    @classmethod
    def superuser(cls) -> Actor:
        return cls("superuser", None)

    @property
    def is_superuser(self) -> bool:
        return self.subscriber_id is None

    @property
    def level(self) -> int:
        return LEVELS[self.permissions]

    @property
    def sees_everything(self) -> bool:
        """The superuser, and an owner within its own subscriber's domain."""
        return self.is_superuser or self.permissions == "owner"
