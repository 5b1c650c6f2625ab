"""The TCP ports `userman serve` listens on (the web's, --metrics-port's, RadSec's), bound here
before it says it listens on any; cli/serve.py says why one cannot be. What serves a port (the
web's thread, the RadSec server) sets its socket up as it needs. The UDP ports are the
server's own (server/main.py `bind_udp`, server/workers.py `bind_shared`).
"""

from __future__ import annotations

import socket

__all__ = ["bind_tcp"]


def bind_tcp(host: str, port: int) -> socket.socket:
    """A TCP port, bound and listening (connections wait in its backlog until the server
    runs) and inherited by `serve --workers N`'s workers; OSError when it cannot be, for
    `serve` to say before it listens anywhere."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock
