"""Time-based one-time passwords (RFC 6238) for a user's `otp-secret`; pure.

TOTP is HOTP (RFC 4226) over the number of 30-second steps since the Unix epoch (T0 = 0),
HMAC-SHA1, 6 digits, as authenticator apps make them. `check` accepts a code of the step of
`now` or one step either side (clock skew), and only of a step after the last one used: a
code works once (RFC 6238 5.2). No clock here: `now` is a parameter; the caller stores the
step a code was accepted for.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "DIGITS",
    "SKEW",
    "STEP",
    "Check",
    "Outcome",
    "check",
    "code_at",
    "decode_secret",
    "hotp",
    "step_of",
]

STEP = 30  # seconds: RFC 6238 4.1's X, the default every authenticator app uses
DIGITS = 6
SKEW = 1  # steps either way accepted (RFC 6238 5.2: "at most one time step")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # T0 = 0


def decode_secret(text: str) -> bytes:
    """The key that base32 `text` encodes (RFC 4648 6), as authenticator apps take it: any
    case, spaces and `=` padding ignored. ValueError when it is not base32 or encodes
    nothing."""
    plain = "".join(text.split()).rstrip("=").upper()
    if not plain:
        raise ValueError("is empty")
    try:
        key = base64.b32decode(plain + "=" * (-len(plain) % 8))
    except binascii.Error:
        raise ValueError("is not base32 (letters A-Z and digits 2-7)") from None
    if not key:
        raise ValueError("encodes no key")
    return key


def hotp(key: bytes, counter: int, digits: int = DIGITS) -> str:
    """RFC 4226 5.3: HMAC-SHA1 of the 8-byte counter, dynamically truncated, `digits` long."""
    mac = hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    binary = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFF_FFFF
    return str(binary % 10**digits).zfill(digits)


def step_of(now: dt.datetime) -> int:
    """RFC 6238 4.2: T = floor((Unix time - T0) / X)."""
    return int((now - EPOCH).total_seconds()) // STEP


def code_at(key: bytes, now: dt.datetime, digits: int = DIGITS) -> str:
    """The code an authenticator shows at `now`."""
    return hotp(key, step_of(now), digits)


class Outcome(Enum):
    ACCEPTED = "accepted"
    WRONG = "wrong"  # no step within the skew makes this code
    REPLAYED = "replayed"  # the code of a step already used (or earlier)


@dataclass(frozen=True, slots=True)
class Check:
    outcome: Outcome
    step: int | None = None  # ACCEPTED: the step to store as the last one used


def check(key: bytes, code: str, now: dt.datetime, last_step: int | None) -> Check:
    """Whether `code` is the code of a step within SKEW of `now`'s and after `last_step` (None:
    no code used yet). The latest matching step is taken; every candidate is compared in
    constant time."""
    current = step_of(now)
    matched: list[int] = []
    for step in range(current - SKEW, current + SKEW + 1):
        if hmac.compare_digest(hotp(key, step).encode(), code.encode()):
            matched.append(step)
    if not matched:
        return Check(Outcome.WRONG)
    fresh = [step for step in matched if last_step is None or step > last_step]
    if not fresh:
        return Check(Outcome.REPLAYED)
    return Check(Outcome.ACCEPTED, max(fresh))
