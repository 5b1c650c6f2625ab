"""systemd's readiness protocol (sd_notify), with a plain socket: no library.

Under `Type=notify` systemd sets $NOTIFY_SOCKET to a Unix datagram socket (a path, or an
abstract name written with a leading `@`) and waits for `READY=1` before it counts the service
as started; `STOPPING=1` says it is on its way out. Without $NOTIFY_SOCKET nothing is sent.
https://www.freedesktop.org/software/systemd/man/latest/sd_notify.html
"""

from __future__ import annotations

import logging
import os
import socket

__all__ = ["notify"]

log = logging.getLogger("userman.server")


def notify(state: str) -> bool:
    """Send `state` (newline-separated KEY=VALUE lines) to systemd; whether it was sent."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket: a NUL byte before its name
        address = "\0" + address[1:]
    elif not address.startswith("/"):
        log.warning("NOTIFY_SOCKET=%s is no Unix socket; systemd not told %s", address, state)
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(state.encode(), address)
    except OSError as error:
        log.warning("could not tell systemd %s: %s", state.splitlines()[0], error)
        return False
    return True
