"""Who the benchmark's users are: the same names, passwords and reply for every server.

User n is `user0000042`-style (fixed width, so that the load generator fills one template for
all) with a password derived from n; every user gets the same rate limit and interim interval
from userman's profile and limitation and from FreeRADIUS's `files` and radreply. One router,
127.0.0.1, with one shared secret. Knows nothing of servers or sockets.
"""

from __future__ import annotations

import hashlib

SECRET = b"bench-secret-0123"  # the router's shared secret on every server
ROUTER_ADDRESS = "127.0.0.1"
RATE_LIMIT = "1M/2M"  # Mikrotik-Rate-Limit: limitation rate-limit-rx=1M rate-limit-tx=2M
RATE_LIMIT_RX = "1M"
RATE_LIMIT_TX = "2M"
INTERIM_SECONDS = 300  # Acct-Interim-Interval: `userman serve`'s default, 5m
NAME_WIDTH = 11  # len("user0000000"): up to 10,000,000 users
PASSWORD_WIDTH = 12
MAX_USERS = 10_000_000


def user_name(n: int) -> str:
    """The name of user `n` (0-based)."""
    if not 0 <= n < MAX_USERS:
        raise ValueError(f"user number {n} out of range")
    return f"user{n:07d}"


def password(n: int) -> str:
    """The password of user `n`: 12 hex digits, fixed width, different for every user."""
    return hashlib.sha256(b"userman-bench:%d" % n).hexdigest()[:PASSWORD_WIDTH]


def calling_station(n: int) -> str:
    """The MAC address user `n` logs on from (a locally administered one)."""
    return "02-00-" + "-".join(f"{(n >> shift) & 0xFF:02X}" for shift in (24, 16, 8, 0))
