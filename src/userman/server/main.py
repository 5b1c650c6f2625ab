"""`userman serve`: bind the RADIUS ports and run until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import sys

from userman.radius.dictionary import default_dictionary
from userman.server.endpoint import RadiusProtocol, RadiusServer
from userman.services import Userman

__all__ = ["run_server", "serve"]

log = logging.getLogger("userman.server")


async def serve(
    app: Userman, *, bind: str, auth_port: int, acct_port: int, interim_interval: int = 0
) -> None:
    loop = asyncio.get_running_loop()
    server = RadiusServer(app, default_dictionary(), interim_interval=interim_interval)
    transports: list[asyncio.DatagramTransport] = []
    try:
        for port, accounting in ((auth_port, False), (acct_port, True)):
            transport, _ = await loop.create_datagram_endpoint(
                functools.partial(RadiusProtocol, server, accounting=accounting),
                local_addr=(bind, port),
            )
            transports.append(transport)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info(
            "userman is listening on %s: authentication %d/udp, accounting %d/udp",
            bind,
            transports[0].get_extra_info("sockname")[1],
            transports[1].get_extra_info("sockname")[1],
        )
        await stop.wait()
        log.info("userman is stopping")
        # Answer what was received (its accounting committed first); `close()` below stores
        # whatever is still queued once the ports are closed.
        await server.drain()
    finally:
        for transport in transports:
            transport.close()
        server.close()


def run_server(
    app: Userman, *, bind: str, auth_port: int, acct_port: int, interim_interval: int = 0
) -> None:
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    asyncio.run(
        serve(
            app,
            bind=bind,
            auth_port=auth_port,
            acct_port=acct_port,
            interim_interval=interim_interval,
        )
    )
