"""The TLS contexts of the EAP methods, built from the settings and rebuilt when they change.

The installation's `certificate` setting names the server certificate of EAP-TLS, TTLS and
PEAP; `trusted-ca` the CAs (and their CRLs) that EAP-TLS client certificates must come from;
`eap-fragment-size` the most TLS octets of one EAP fragment (services/certificates.py).
`watch` reads their stamp every POLL_INTERVAL in a thread of its own and builds new contexts
when it changed: a certificate made, imported, revoked or chosen, or a fragment size set, by
any process is in effect for the next conversation, without a restart; conversations already
under way keep the context and fragment size they began with. Without a certificate there is no TLS
method; without a trusted CA, no EAP-TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from userman.eap.fragments import FRAGMENT_SIZE
from userman.eap.tls import ServerContext

if TYPE_CHECKING:
    from userman.services import Userman
    from userman.services.certificates import TlsMaterial

__all__ = ["POLL_INTERVAL", "TlsContexts", "watch"]

log = logging.getLogger("userman.server")

POLL_INTERVAL = 1.0  # seconds between two reads of the certificates' stamp


class TlsContexts:
    """The contexts in effect: one per method, so a session is resumed only by its own method
    (eap/tls.py ServerContext); None where the settings give none."""

    def __init__(self) -> None:
        self.stamp: str | None = None
        self.tls: ServerContext | None = None
        self.ttls: ServerContext | None = None
        self.peap: ServerContext | None = None
        self.fragment_size = FRAGMENT_SIZE

    def update(self, material: TlsMaterial) -> None:
        """Build the contexts of `material`; ValueError (the contexts unchanged, the fragment
        size taken) if its PEM cannot be used."""
        self.stamp = material.stamp
        self.fragment_size = material.fragment_size
        server = material.eap
        if server is None:
            self.tls = self.ttls = self.peap = None
            return
        chain, key = server.chain.encode(), server.key.encode()
        tls = None
        if material.trusted:
            tls = ServerContext(
                chain,
                key,
                purpose="tls",
                client_ca="".join(material.trusted).encode(),
                crl="".join(material.crls).encode() if material.crls else None,
                require_client_certificate=True,
            )
        ttls = ServerContext(chain, key, purpose="ttls")
        peap = ServerContext(chain, key, purpose="peap")
        self.tls, self.ttls, self.peap = tls, ttls, peap


async def check(
    contexts: TlsContexts, app: Userman, executor: ThreadPoolExecutor | None = None
) -> None:
    """One check: read the stamp, and build the contexts again when it changed."""
    loop = asyncio.get_running_loop()
    stamp = await loop.run_in_executor(executor, app.tls_stamp)
    if stamp == contexts.stamp:
        return
    material = await loop.run_in_executor(executor, app.tls_material)
    try:
        await loop.run_in_executor(executor, contexts.update, material)
    except Exception:
        contexts.stamp = material.stamp  # said once, until the settings change again
        log.exception("could not use the EAP certificate; the TLS methods stay as they were")
        return
    log.info(
        "EAP certificate %s: %s; fragments of at most %d octets",
        "none" if material.eap is None else material.eap.name,
        "EAP-TLS, TTLS and PEAP"
        if contexts.tls is not None
        else ("TTLS and PEAP (no trusted-ca: no EAP-TLS)" if contexts.peap else "no TLS method"),
        contexts.fragment_size,
    )


async def watch(
    contexts: TlsContexts, app: Userman, stop: asyncio.Event, interval: float = POLL_INTERVAL
) -> None:
    """Check every `interval` seconds until `stop` is set."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="userman-tls")
    failing = False
    try:
        while not stop.is_set():
            try:
                await check(contexts, app, executor)
                failing = False
            except Exception:
                if not failing:
                    log.exception("could not read the EAP certificates")
                failing = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
    finally:
        executor.shutdown(wait=False)
