"""Security headers on every answer of the web port.

Pages may not be framed (clickjacking), types are not sniffed, the address of a page does not
leave the site in a Referer, and what a logged-in customer or user sees is not kept in caches.
The Content-Security-Policy runs scripts and styles from this site's files only: no inline
script, event handler or style attribute runs (the pages' own are in static/userman.js and the
style sheets), so a value that slips into a page unescaped cannot run script. A page with needs
of its own (the vouchers: the customer's template) sets its own policy, which is kept.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["POLICY", "SecurityHeaders"]

# No form-action: the PayPal checkout posts its form to PayPal (web/paypal.py).
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
ALWAYS = [
    (b"content-security-policy", POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]
PRIVATE = (b"cache-control", b"no-store")


class SecurityHeaders:
    """Pure ASGI middleware: adds the headers without buffering the answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = not str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [*ALWAYS, PRIVATE] if private else ALWAYS
                headers.extend(pair for pair in extra if pair[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
