"""Who makes a change: the local superuser (the operator at the server's shell) or a customer.

A customer actor sees only its subscriber's data. Permission checks per verb come with the
menus' access rules; for now every actor here may do what its scope allows.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Actor"]


@dataclass(frozen=True, slots=True)
class Actor:
    login: str  # the customer's login, or "superuser"
    subscriber_id: int | None  # None: the local superuser, who sees every subscriber

    @classmethod
    def superuser(cls) -> Actor:
        return cls("superuser", None)

    @property
    def is_superuser(self) -> bool:
        return self.subscriber_id is None
