"""A stand-in for PayPal on 127.0.0.1, speaking the documented requests and answers, for tests.

REST (developer.paypal.com/api/rest):
- POST /v1/oauth2/token, HTTP basic client id and secret, grant_type=client_credentials ->
  {"access_token", "token_type": "Bearer", "expires_in"}; wrong credentials -> 401
  {"error": "invalid_client"}.
- POST /v2/checkout/orders (Bearer) -> 201, the order with status PAYER_ACTION_REQUIRED and a
  `payer-action` link to this stand-in's approval page, /checkoutnow?token=ID; the same
  PayPal-Request-Id again -> the same answer.
- The approval page: a Pay button (the order becomes APPROVED and the browser goes to the
  return_url with ?token=ID&PayerID=...) and a Cancel link (to the cancel_url with ?token=ID).
- POST /v2/checkout/orders/ID/capture -> 201 with the capture (status `capture_status`:
  COMPLETED, PENDING or DECLINED); again with the same PayPal-Request-Id -> the same answer;
  again without -> 422 UNPROCESSABLE_ENTITY ORDER_ALREADY_CAPTURED; before approval -> 422
  ORDER_NOT_APPROVED. After a capture, a PAYMENT.CAPTURE.* webhook goes to `webhook_url`, if set.
- GET /v2/checkout/orders/ID -> the order.
- POST /v1/notifications/verify-webhook-signature -> {"verification_status": "SUCCESS"} when
  the transmission headers are those this stand-in sent with that event for `webhook_id`, else
  FAILURE. (PayPal signs with RSA; the stand-in with an HMAC of its own: the same check for us.)
IPN (developer.paypal.com/api/nvp-soap/ipn):
- POST /cgi-bin/webscr with cmd=_notify-validate followed by a message this stand-in sent,
  unchanged -> "VERIFIED"; anything else -> "INVALID".
- POST /cgi-bin/webscr with cmd=_xclick (the Buy Now form) -> a payment page whose Pay button
  sends the IPN (payment_status `ipn_status`) to the notify_url and the browser to `return`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import itertools
import json
import secrets
import threading
import urllib.request
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

CLIENT_ID = "standin-client"
SECRET = "standin-secret"
WEBHOOK_ID = "WH0STANDIN0ID"
BUSINESS = "shop@example.net"


CAPTURE_EVENTS = {"COMPLETED": "PAYMENT.CAPTURE.COMPLETED", "PENDING": "PAYMENT.CAPTURE.PENDING"}


def _link(href: str, rel: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "method": "GET"}


def _refusal(status: int, name: str, issue: str) -> tuple[int, bytes]:
    return status, json.dumps({"name": name, "details": [{"issue": issue}]}).encode()


def canonical(event: object) -> bytes:
    return json.dumps(event, sort_keys=True, separators=(",", ":")).encode()


def with_query(url: str, **values: str) -> str:
    return f"{url}{'&' if urlsplit(url).query else '?'}{urlencode(values)}"


@dataclass
class PayPal:
    """The stand-in's state; `url` is its base (API, approval page and IPN alike)."""

    url: str = ""
    capture_status: str = "COMPLETED"
    ipn_status: str = "Completed"
    webhook_url: str = ""  # where PAYMENT.CAPTURE.* events go after a capture
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    idempotent: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    ipn_sent: list[bytes] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # "METHOD /path", in order
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    lock: threading.Lock = field(default_factory=threading.Lock)
    numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def api_base(self) -> str:
        return self.url

    @property
    def ipn_url(self) -> str:
        return f"{self.url}/cgi-bin/webscr"

    # What PayPal sends us.

    def _signature(self, transmission_id: str, time: str, event: object) -> str:
        crc = zlib.crc32(canonical(event))
        message = f"{transmission_id}|{time}|{WEBHOOK_ID}|{crc}".encode()
        return base64.b64encode(hmac.new(self.key, message, hashlib.sha256).digest()).decode()

    def webhook(self, event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        """The headers and body of a webhook transmission of `event`, signed."""
        transmission = f"T{secrets.token_hex(8)}"
        time = "2026-11-27T12:00:00Z"
        headers = {
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
            "PAYPAL-CERT-URL": f"{self.url}/v1/notifications/certs/CERT-standin",
            "PAYPAL-TRANSMISSION-ID": transmission,
            "PAYPAL-TRANSMISSION-SIG": self._signature(transmission, time, event),
            "PAYPAL-TRANSMISSION-TIME": time,
            "Content-Type": "application/json",
        }
        return headers, json.dumps(event).encode()

    def capture_event(
        self, order_id: str, kind: str = "PAYMENT.CAPTURE.COMPLETED"
    ) -> dict[str, Any]:
        """A PAYMENT.CAPTURE.* event for a captured order."""
        order = self.orders[order_id]
        capture = order["purchase_units"][0]["payments"]["captures"][0]
        return {
            "id": f"WH-{secrets.token_hex(6).upper()}",
            "event_version": "1.0",
            "create_time": "2026-11-27T12:00:00Z",
            "resource_type": "capture",
            "event_type": kind,
            "summary": "Payment completed",
            "resource": capture,
        }

    def order_event(self, order_id: str) -> dict[str, Any]:
        """A CHECKOUT.ORDER.APPROVED event for an approved order."""
        return {
            "id": f"WH-{secrets.token_hex(6).upper()}",
            "event_version": "1.0",
            "resource_type": "checkout-order",
            "event_type": "CHECKOUT.ORDER.APPROVED",
            "resource": self.orders[order_id],
        }

    def ipn(self, **fields: str) -> bytes:
        """The body of an IPN message, remembered as sent (so its post-back is VERIFIED)."""
        message = {
            "mc_gross": "0.00",
            "protection_eligibility": "Eligible",
            "payer_id": "LPLWNMTBWMFAY",
            "payment_date": "04:00:00 Nov 27, 2026 PST",
            "payment_status": "Completed",
            "charset": "UTF-8",
            "mc_fee": "0.50",
            "notify_version": "3.9",
            "txn_type": "web_accept",
            "receiver_email": BUSINESS,
            "txn_id": secrets.token_hex(8).upper(),
            "payer_email": "buyer@example.org",
            **fields,
        }
        raw = urlencode(message).encode()
        with self.lock:
            self.ipn_sent.append(raw)
        return raw

    def approve(self, order_id: str) -> None:
        with self.lock:
            self.orders[order_id]["status"] = "APPROVED"
            self.orders[order_id]["payer"] = {"payer_id": "PAYER7STANDIN"}

    def deliver(self, url: str, headers: dict[str, str], body: bytes) -> int:
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=20) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def paypal(self) -> PayPal:
        return self.server.paypal

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, body: bytes, kind: str = "application/json", **extra: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: object) -> None:
        self._send(status, json.dumps(value).encode())

    def _error(self, status: int, name: str, issue: str) -> None:
        self._json(status, {"name": name, "message": issue, "details": [{"issue": issue}]})

    def _bearer(self) -> bool:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.paypal.tokens:
            self._json(401, {"error": "invalid_token"})
            return False
        return True

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        self.paypal.requests.append(f"GET {path}")
        args = dict(parse_qsl(query))
        if path == "/checkoutnow":
            self._approval_page(args.get("token", ""))
        elif path.startswith("/v2/checkout/orders/") and self._bearer():
            order = self.paypal.orders.get(path.rsplit("/", 1)[1])
            if order is None:
                self._error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
            else:
                self._json(200, order)
        elif not path.startswith("/v2/"):
            self._send(404, b"not found", "text/plain")

    def do_POST(self) -> None:
        path = self.path.partition("?")[0]
        self.paypal.requests.append(f"POST {path}")
        body = self._body()
        if path == "/v1/oauth2/token":
            self._token(body)
        elif path == "/v2/checkout/orders":
            if self._bearer():
                self._idempotent(lambda: self._create(json.loads(body)))
        elif path.startswith("/v2/checkout/orders/") and path.endswith("/capture"):
            if self._bearer():
                self._idempotent(lambda: self._capture(path.split("/")[4]))
        elif path == "/v1/notifications/verify-webhook-signature":
            if self._bearer():
                self._verify(json.loads(body))
        elif path == "/checkoutnow/approve":
            self._approved(dict(parse_qsl(body.decode())))
        elif path == "/cgi-bin/webscr":
            self._webscr(body)
        elif path == "/cgi-bin/webscr/pay":
            self._classic_paid(dict(parse_qsl(body.decode())))
        else:
            self._send(404, b"not found", "text/plain")

    def _token(self, body: bytes) -> None:
        basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
        form = dict(parse_qsl(body.decode()))
        if self.headers.get("Authorization") != f"Basic {basic}":
            self._json(
                401,
                {"error": "invalid_client", "error_description": "Client Authentication failed"},
            )
            return
        if form.get("grant_type") != "client_credentials":
            self._json(400, {"error": "unsupported_grant_type"})
            return
        token = f"A21AA{secrets.token_hex(16)}"
        self.paypal.tokens.add(token)
        self._json(
            200,
            {
                "scope": "https://uri.paypal.com/services/payments/payment",
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-STANDIN",
                "expires_in": 32400,
                "nonce": secrets.token_hex(8),
            },
        )

    def _idempotent(self, make: Any) -> None:
        request_id = self.headers.get("PayPal-Request-Id", "")
        with self.paypal.lock:
            kept = self.paypal.idempotent.get(request_id) if request_id else None
            if kept is None:
                kept = make()
                if request_id and kept[0] < 300:
                    self.paypal.idempotent[request_id] = kept
        self._send(kept[0], kept[1])

    def _create(self, order: dict[str, Any]) -> tuple[int, bytes]:
        order_id = f"5O{next(self.paypal.numbers):04d}{secrets.token_hex(6).upper()}"
        context = order.get("payment_source", {}).get("paypal", {}).get("experience_context", {})
        unit = order["purchase_units"][0]
        stored = {
            "id": order_id,
            "intent": order.get("intent"),
            "status": "PAYER_ACTION_REQUIRED",
            "purchase_units": [{**unit, "payee": {"email_address": BUSINESS}}],
            "return_url": context.get("return_url", ""),
            "cancel_url": context.get("cancel_url", ""),
            "links": [
                _link(f"{self.paypal.url}/v2/checkout/orders/{order_id}", "self"),
                _link(f"{self.paypal.url}/checkoutnow?token={order_id}", "payer-action"),
            ],
        }
        self.paypal.orders[order_id] = stored
        answer = {k: stored[k] for k in ("id", "status", "links")}
        answer["payment_source"] = {"paypal": {}}
        return 201, json.dumps(answer).encode()

    def _capture(self, order_id: str) -> tuple[int, bytes]:
        order = self.paypal.orders.get(order_id)
        if order is None:
            return _refusal(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        if order["status"] == "COMPLETED":
            return _refusal(422, "UNPROCESSABLE_ENTITY", "ORDER_ALREADY_CAPTURED")
        if order["status"] != "APPROVED":
            return _refusal(422, "UNPROCESSABLE_ENTITY", "ORDER_NOT_APPROVED")
        unit = order["purchase_units"][0]
        state = self.paypal.capture_status
        capture: dict[str, Any] = {
            "id": f"3C{secrets.token_hex(7).upper()}",
            "status": state,
            "amount": unit["amount"],
            "final_capture": True,
            "custom_id": unit.get("custom_id", ""),
            "invoice_id": unit.get("invoice_id", ""),
            "supplementary_data": {"related_ids": {"order_id": order_id}},
        }
        if state == "PENDING":
            capture["status_details"] = {"reason": "PENDING_REVIEW"}
        unit["payments"] = {"captures": [capture]}
        order["status"] = "COMPLETED"
        if self.paypal.webhook_url:
            kind = CAPTURE_EVENTS.get(state, "PAYMENT.CAPTURE.DECLINED")
            headers, body = self.paypal.webhook(self.paypal.capture_event(order_id, kind))
            url = self.paypal.webhook_url
            threading.Thread(
                target=self.paypal.deliver, args=(url, headers, body), daemon=True
            ).start()
        answer = {k: order[k] for k in ("id", "status", "purchase_units")}
        return 201, json.dumps(answer).encode()

    def _verify(self, body: dict[str, Any]) -> None:
        expected = self.paypal._signature(
            str(body.get("transmission_id", "")),
            str(body.get("transmission_time", "")),
            body.get("webhook_event"),
        )
        good = body.get("webhook_id") == WEBHOOK_ID and hmac.compare_digest(
            expected, str(body.get("transmission_sig", ""))
        )
        self._json(200, {"verification_status": "SUCCESS" if good else "FAILURE"})

    def _page(self, title: str, inner: str) -> None:
        page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;background:#f5f7fa;margin:0}}
.box{{max-width:26rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:12px;
box-shadow:0 2px 12px #0002}}h1{{color:#003087;font-size:1.4rem}}
button{{background:#ffc439;border:0;border-radius:20px;padding:.7rem 2rem;font-size:1rem;
width:100%;cursor:pointer}}a{{color:#0070ba}}</style></head>
<body><div class="box"><h1>PayPal stand-in</h1>{inner}</div></body></html>"""
        self._send(200, page.encode(), "text/html; charset=utf-8")

    def _approval_page(self, order_id: str) -> None:
        order = self.paypal.orders.get(order_id)
        if order is None:
            self._send(404, b"no such order", "text/plain")
            return
        unit = order["purchase_units"][0]
        amount = f"{unit['amount']['value']} {unit['amount']['currency_code']}"
        self._page(
            "Approve",
            f"""<p>{html.escape(unit.get("description", ""))}</p>
<p>Pay <strong id="amount">{html.escape(amount)}</strong> to {BUSINESS}</p>
<form method="post" action="/checkoutnow/approve"><input type="hidden" name="token"
value="{order_id}"><button type="submit" id="pay">Pay now</button></form>
<p><a id="cancel" href="{html.escape(with_query(order["cancel_url"], token=order_id))}">Cancel and
return</a></p>""",
        )

    def _approved(self, form: dict[str, str]) -> None:
        order_id = form.get("token", "")
        order = self.paypal.orders.get(order_id)
        if order is None:
            self._send(404, b"no such order", "text/plain")
            return
        self.paypal.approve(order_id)
        target = with_query(order["return_url"], token=order_id, PayerID="PAYER7STANDIN")
        self._send(302, b"", "text/plain", Location=target)

    def _webscr(self, body: bytes) -> None:
        if body.startswith(b"cmd=_notify-validate&"):
            message = body.removeprefix(b"cmd=_notify-validate&")
            known = message in self.paypal.ipn_sent
            self._send(200, b"VERIFIED" if known else b"INVALID", "text/plain")
            return
        form = dict(parse_qsl(body.decode()))
        if form.get("cmd") != "_xclick":
            self._send(400, b"unknown cmd", "text/plain")
            return
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in form.items()
        )
        amount = f"{form.get('amount')} {form.get('currency_code')}"
        self._page(
            "Pay",
            f"""<p>{html.escape(form.get("item_name", ""))}</p>
<p>Pay <strong id="amount">{html.escape(amount)}</strong>
to {html.escape(form.get("business", ""))}</p>
<form method="post" action="/cgi-bin/webscr/pay">{hidden}
<button type="submit" id="pay">Pay now</button></form>
<p><a id="cancel" href="{html.escape(form.get("cancel_return", ""))}">Cancel and return</a></p>""",
        )

    def _classic_paid(self, form: dict[str, str]) -> None:
        raw = self.paypal.ipn(
            payment_status=self.paypal.ipn_status,
            mc_gross=form.get("amount", ""),
            mc_currency=form.get("currency_code", ""),
            custom=form.get("custom", ""),
            invoice=form.get("invoice", ""),
            item_name=form.get("item_name", ""),
            item_number=form.get("item_number", ""),
            business=form.get("business", ""),
            receiver_email=form.get("business", ""),
        )
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        url = form.get("notify_url", "")
        threading.Thread(target=self.paypal.deliver, args=(url, headers, raw), daemon=True).start()
        self._send(302, b"", "text/plain", Location=form.get("return", "/"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    paypal: PayPal


@contextmanager
def running_paypal() -> Iterator[PayPal]:
    """The stand-in, on a free loopback port, until the block ends."""
    server = _Server(("127.0.0.1", 0), _Handler)
    paypal = PayPal(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.paypal = paypal
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield paypal
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
