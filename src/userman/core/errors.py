"""The error tree of userman's domain; adapters translate these, nothing else raises to users.

    UsermanError                    base of every error a user can cause
    ├── InvalidValueError           a property's value does not parse or is out of range
    ├── UnknownPropertyError        a property that the menu does not have
    ├── NotFoundError               an item addressed by name or *ID that does not exist
    │   └── UnknownCommandError     a verb the menu does not have (says which it has)
    ├── ConflictError               an item that already exists, or is still in use
    ├── PermissionDeniedError       the actor lacks the permission the verb needs
    ├── BusyError                   a bounded resource (password checks) is full: try again
    └── DatabaseError               the database cannot be used: a URL of another kind or
                                    malformed, a server that refuses, a file that cannot open

Every error renders as the CLI's `failure: <property>: <why>` line through `str()`.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BusyError",
    "ConflictError",
    "DatabaseError",
    "InvalidValueError",
    "NotFoundError",
    "PermissionDeniedError",
    "UnknownCommandError",
    "UnknownPropertyError",
    "UsermanError",
]


class UsermanError(Exception):
    """Base of every error caused by what a user asked for.

    `request_index` says which command of a script failed (set by whoever ran the script).
    """

    request_index: int | None = None


class InvalidValueError(UsermanError):
    """`prop` got a value it cannot take; `reason` says why, for a person."""

    def __init__(self, prop: str, reason: str) -> None:
        super().__init__(f"{prop}: {reason}")
        self.prop = prop
        self.reason = reason


class UnknownPropertyError(UsermanError):
    def __init__(self, prop: str, menu: str) -> None:
        super().__init__(f"{prop}: unknown property of {menu}")
        self.prop = prop
        self.menu = menu


class NotFoundError(UsermanError):
    def __init__(self, menu: str, key: str) -> None:
        super().__init__(f"{menu}: no such item ({key})")
        self.menu = menu
        self.key = key


class UnknownCommandError(NotFoundError):
    """`verb` is not a command of `menu`; `verbs` are the ones it has."""

    def __init__(self, verb: str, menu: str, verbs: Sequence[str]) -> None:
        UsermanError.__init__(self, f"no such command: {verb} ({menu} has: {', '.join(verbs)})")
        self.menu = menu
        self.key = verb
        self.verbs = tuple(verbs)


class ConflictError(UsermanError):
    def __init__(self, prop: str, reason: str) -> None:
        super().__init__(f"{prop}: {reason}")
        self.prop = prop
        self.reason = reason


class PermissionDeniedError(UsermanError):
    def __init__(self, permission: str, reason: str = "") -> None:
        text = f"not permitted: needs {permission}"
        super().__init__(f"{text} ({reason})" if reason else text)
        self.permission = permission


class BusyError(UsermanError):
    """`what` is at its bound right now; `retry_after` says in how many seconds to try again.
    Nothing was changed."""

    def __init__(self, what: str, retry_after: int) -> None:
        super().__init__(f"busy: too many {what} at once; try again in {retry_after} s")
        self.what = what
        self.retry_after = retry_after


class DatabaseError(UsermanError):
    """The database a URL names cannot be used; the message says which and why, in one line,
    and never shows the URL's password."""
