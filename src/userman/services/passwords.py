"""argon2 for customer passwords, a few at a time.

argon2 is slow and big on purpose (about 0.3 s and 64 MiB per hash with argon2-cffi's defaults),
so a flood of wrong passwords, each checked in a web worker thread of its own, would take every
core and a gigabyte of memory from the RADIUS ports beside it. Every hash and every check here
waits for one of `SLOTS` places, process-wide; one that finds none within `WAIT` seconds is
refused at once with BusyError (web: 503 and Retry-After) instead of queueing without end.
"""

from __future__ import annotations

import functools
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from userman.core.errors import BusyError

__all__ = ["RETRY_AFTER", "SLOTS", "WAIT", "decoy", "hash_password", "verify"]

# How many argon2 hashes run at once in this process: the cores of the small machine userman is
# sized for (2), so that password checks never hold more than 2 x 64 MiB nor every core.
SLOTS = 2
# Seconds a check waits for a free slot: a few hashes' time, so that a burst of honest log-ins
# queues briefly while a flood is refused.
WAIT = 1.0
RETRY_AFTER = 2  # seconds, what a refusal tells the client to wait

_hasher = PasswordHasher()
_slots = threading.BoundedSemaphore(SLOTS)


class _Slot:
    """One of the SLOTS places, or BusyError after WAIT seconds."""

    def __enter__(self) -> None:
        if not _slots.acquire(timeout=WAIT):
            raise BusyError("password checks", RETRY_AFTER)

    def __exit__(self, *_exc: object) -> None:
        _slots.release()


def hash_password(password: str) -> str:
    """The argon2 hash of a new password."""
    with _Slot():
        return _hasher.hash(password)


@functools.cache
def decoy() -> str:
    """A hash of nothing anyone knows, checked for a login that no customer has, so that an
    unknown login takes as long to refuse as a wrong password. Made when first needed, not at
    import: every CLI command imports this module, and a hash is a fifth of a second."""
    return _hasher.hash("decoy")


def verify(stored_hash: str, password: str) -> bool:
    """Does `password` match the argon2 hash `stored_hash`? False for a malformed hash too."""
    with _Slot():
        try:
            return _hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False
