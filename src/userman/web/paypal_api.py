"""PayPal's documented HTTP interfaces, as a client: blocking (urllib), so only ever called from
worker threads, never on the event loop that also answers RADIUS.

- REST (developer.paypal.com/api/rest): `POST /v1/oauth2/token` (client credentials, HTTP
  basic) for a Bearer token; Orders v2 `POST /v2/checkout/orders` (intent CAPTURE, the amount,
  our reference in `custom_id`, return and cancel URLs in
  `payment_source.paypal.experience_context`), the payer approves at the `payer-action` (or
  `approve`) link, `POST /v2/checkout/orders/{id}/capture` (with `PayPal-Request-Id`, so a
  repeated capture answers the same), `GET /v2/checkout/orders/{id}`; webhooks verified by
  `POST /v1/notifications/verify-webhook-signature` with the PAYPAL-* transmission headers, our
  webhook id and the event as received (`verification_status` SUCCESS).
- IPN (developer.paypal.com/api/nvp-soap/ipn/IPNImplementation): the message is posted back
  unchanged, prefixed with `cmd=_notify-validate`; PayPal answers VERIFIED or INVALID.

Every request goes through services/destinations.py: to a public address only, unless the
superuser allows private ones (the settings' `allow_private`), and to http or https URLs only.
The functions at the bottom turn what PayPal said into a services `Report`.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from userman.services.destinations import DestinationError, opener
from userman.services.payments import Checkout, PayPalSettings, Report, Status

__all__ = [
    "WEBHOOK_HEADERS",
    "PayPalClient",
    "PayPalError",
    "capture_report",
    "checkout_page",
    "ipn_report",
    "post_back_ipn",
    "webhook_reference",
    "webhook_report",
]

TIMEOUT = 20.0  # seconds for one request to PayPal
# The headers of a webhook transmission, by the name verify-webhook-signature gives each.
WEBHOOK_HEADERS = {
    "auth_algo": "paypal-auth-algo",
    "cert_url": "paypal-cert-url",
    "transmission_id": "paypal-transmission-id",
    "transmission_sig": "paypal-transmission-sig",
    "transmission_time": "paypal-transmission-time",
}


class PayPalError(Exception):
    """PayPal refused a request or could not be reached; `issue` is its error detail."""

    def __init__(self, status: int, name: str, issue: str = "") -> None:
        super().__init__(f"PayPal: {status} {name} {issue}".strip())
        self.status = status
        self.name = name
        self.issue = issue


def _send(
    method: str, url: str, body: bytes | None, headers: Mapping[str, str], allow_private: bool
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
    try:
        with opener(allow_private=allow_private).open(request, timeout=TIMEOUT) as answer:
            return int(answer.status), bytes(answer.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, DestinationError):
            raise PayPalError(0, "destination not allowed", str(reason)) from None
        raise PayPalError(0, "unreachable", str(reason)) from None


def _json(status: int, data: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(data or b"{}")
    except ValueError:
        raise PayPalError(status, "not JSON") from None
    if not isinstance(parsed, dict):
        raise PayPalError(status, "not a JSON object")
    if status >= 400:
        details = parsed.get("details") or [{}]
        issue = details[0].get("issue", "") if isinstance(details[0], dict) else ""
        raise PayPalError(status, str(parsed.get("name") or parsed.get("error") or ""), issue)
    return parsed


_tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


class PayPalClient:
    """The REST calls, for one subscriber's settings; the access token is kept until it
    expires."""

    def __init__(self, settings: PayPalSettings) -> None:
        if not settings.client_id or not settings.secret:
            raise PayPalError(0, "not set up", "no PayPal client id and secret")
        self.settings = settings
        self.base = settings.api_base.rstrip("/")

    def token(self) -> str:
        key = (self.base, self.settings.client_id, self.settings.secret)
        with _tokens_lock:
            kept = _tokens.get(key)
            if kept is not None and kept[1] > time.monotonic():
                return kept[0]
        basic = base64.b64encode(f"{self.settings.client_id}:{self.settings.secret}".encode())
        status, data = _send(
            "POST",
            f"{self.base}/v1/oauth2/token",
            b"grant_type=client_credentials",
            {
                "Authorization": f"Basic {basic.decode()}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            self.settings.allow_private,
        )
        answer = _json(status, data)
        token = str(answer.get("access_token", ""))
        if not token:
            raise PayPalError(status, "no access token")
        lifetime = float(answer.get("expires_in", 300))
        with _tokens_lock:
            _tokens[key] = (token, time.monotonic() + max(lifetime - 60, 30))
        return token

    def _call(
        self, method: str, path: str, body: object = None, request_id: str = ""
    ) -> dict[str, Any]:
        headers = {
            "Authorization": f"Bearer {self.token()}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        if request_id:
            headers["PayPal-Request-Id"] = request_id
        data = None if body is None else json.dumps(body).encode()
        url = f"{self.base}{path}"
        return _json(*_send(method, url, data, headers, self.settings.allow_private))

    def create_order(self, checkout: Checkout, return_url: str, cancel_url: str) -> tuple[str, str]:
        """An order for the payment; its id and the URL where the payer approves it."""
        order = self._call(
            "POST",
            "/v2/checkout/orders",
            {
                "intent": "CAPTURE",
                "purchase_units": [
                    {
                        "reference_id": checkout.reference,
                        "custom_id": checkout.reference,
                        "invoice_id": f"{checkout.reference}-{checkout.subscriber_id}",
                        "description": f"{checkout.item} for {checkout.username}"[:127],
                        "amount": {
                            "currency_code": checkout.currency,
                            "value": f"{checkout.price:.2f}",
                        },
                    }
                ],
                "payment_source": {
                    "paypal": {
                        "experience_context": {
                            "return_url": return_url,
                            "cancel_url": cancel_url,
                            "shipping_preference": "NO_SHIPPING",
                            "user_action": "PAY_NOW",
                        }
                    }
                },
            },
            # One order per purchase: an id of its own, so no earlier answer is replayed.
            request_id=f"{checkout.reference}-{secrets.token_hex(6)}",
        )
        links = {link.get("rel"): link.get("href") for link in order.get("links", [])}
        approve = links.get("payer-action") or links.get("approve")
        if not order.get("id") or not approve:
            raise PayPalError(201, "no order id or approval link")
        return str(order["id"]), str(approve)

    def capture(self, order_id: str) -> dict[str, Any]:
        """Capture an approved order; an order captured before is read instead."""
        try:
            return self._call(
                "POST",
                f"/v2/checkout/orders/{_safe_id(order_id)}/capture",
                {},
                request_id=f"userman-capture-{order_id}",
            )
        except PayPalError as error:
            if error.issue == "ORDER_ALREADY_CAPTURED":
                return self.order(order_id)
            raise

    def order(self, order_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v2/checkout/orders/{_safe_id(order_id)}")

    def verify_webhook(self, headers: Mapping[str, str], event: object) -> bool:
        """Ask PayPal whether a webhook transmission is its own, for our webhook id."""
        if not self.settings.webhook_id:
            return False
        body: dict[str, object] = {
            name: headers.get(header, "") for name, header in WEBHOOK_HEADERS.items()
        }
        body["webhook_id"] = self.settings.webhook_id
        body["webhook_event"] = event
        answer = self._call("POST", "/v1/notifications/verify-webhook-signature", body)
        return answer.get("verification_status") == "SUCCESS"


def _safe_id(order_id: str) -> str:
    if not order_id or not order_id.isascii() or not order_id.isalnum() or len(order_id) > 36:
        raise PayPalError(0, "not an order id", order_id[:40])
    return order_id


def post_back_ipn(ipn_url: str, raw: bytes, *, allow_private: bool) -> str:
    """Send an IPN message back to PayPal unchanged, prefixed with cmd=_notify-validate; its
    answer: VERIFIED or INVALID (anything else is an error)."""
    status, data = _send(
        "POST",
        ipn_url,
        b"cmd=_notify-validate&" + raw,
        {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "userman-ipn"},
        allow_private,
    )
    if status != 200:
        raise PayPalError(status, "IPN post-back refused")
    return data.decode("ascii", "replace").strip()


def checkout_page(ipn_url: str) -> str:
    """Where a classic (IPN) payment is made: www. for the ipnpb. host that verifies."""
    return ipn_url.replace("://ipnpb.", "://www.", 1)


def ipn_form(checkout: Checkout, notify_url: str, return_url: str, cancel_url: str) -> str:
    """The query of a classic Buy Now payment (cmd=_xclick) for the payment."""
    return urlencode(
        {
            "cmd": "_xclick",
            "business": checkout.business_id,
            "item_name": checkout.item,
            "item_number": checkout.reference,
            "amount": f"{checkout.price:.2f}",
            "currency_code": checkout.currency,
            "custom": checkout.reference,
            "invoice": f"{checkout.reference}-{checkout.subscriber_id}",
            "no_shipping": "1",
            "notify_url": notify_url,
            "return": return_url,
            "cancel_return": cancel_url,
            "charset": "utf-8",
        }
    )


def _money(value: object) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


CAPTURE_STATUS = {
    "COMPLETED": Status.APPROVED,
    "PENDING": Status.PENDING,
    "DECLINED": Status.DECLINED,
    "FAILED": Status.DECLINED,
}


def capture_report(order: Mapping[str, Any]) -> tuple[str, Report]:
    """Our reference and what an order's capture says (the answer to capture or to GET)."""
    units = order.get("purchase_units") or [{}]
    unit = units[0] if isinstance(units[0], dict) else {}
    captures = (unit.get("payments") or {}).get("captures") or []
    if not captures:
        reference = str(unit.get("custom_id", ""))
        return reference, Report(Status.ERROR, f"PayPal order {order.get('id')}: not captured")
    capture = captures[0]
    reference = str(capture.get("custom_id") or unit.get("custom_id") or "")
    return reference, _capture(capture, f"PayPal order {order.get('id')}")


def _capture(capture: Mapping[str, Any], where: str) -> Report:
    state = str(capture.get("status", ""))
    reason = (capture.get("status_details") or {}).get("reason", "")
    amount = capture.get("amount") or {}
    message = f"{where}, capture {capture.get('id')}: {state}" + (f" ({reason})" if reason else "")
    return Report(
        CAPTURE_STATUS.get(state, Status.ERROR),
        message,
        _money(amount.get("value")),
        str(amount.get("currency_code", "")),
    )


WEBHOOK_STATUS = {
    "PAYMENT.CAPTURE.COMPLETED": Status.APPROVED,
    "PAYMENT.CAPTURE.PENDING": Status.PENDING,
    "PAYMENT.CAPTURE.DENIED": Status.DECLINED,
    "PAYMENT.CAPTURE.DECLINED": Status.DECLINED,
}


def webhook_reference(event: Mapping[str, Any]) -> str:
    """Our reference in a webhook event's resource (a capture, or an order)."""
    resource = event.get("resource") or {}
    if resource.get("custom_id"):
        return str(resource["custom_id"])
    units = resource.get("purchase_units") or [{}]
    return str(units[0].get("custom_id", "")) if isinstance(units[0], dict) else ""


def webhook_report(event: Mapping[str, Any]) -> Report | None:
    """What a PAYMENT.CAPTURE.* event says; None for events that change no payment."""
    kind = str(event.get("event_type", ""))
    status = WEBHOOK_STATUS.get(kind)
    if status is None:
        return None
    resource = event.get("resource") or {}
    report = _capture(resource, f"PayPal webhook {kind}")
    return Report(status, report.message, report.amount, report.currency)


IPN_STATUS = {
    "Completed": Status.APPROVED,
    "Pending": Status.PENDING,
    "Denied": Status.DECLINED,
    "Failed": Status.DECLINED,
    "Expired": Status.DECLINED,
    "Voided": Status.DECLINED,
}


def ipn_report(fields: Mapping[str, str], business_id: str) -> Report | None:
    """What a verified IPN message says about a payment; None for what changes none (refunds,
    reversals: the profile stays; an operator decides). The money must have gone to
    `business_id` (paypal-business-id: the account's e-mail or merchant id)."""
    status = IPN_STATUS.get(fields.get("payment_status", ""))
    if status is None:
        return None
    reason = fields.get("pending_reason") or fields.get("reason_code") or ""
    message = f"PayPal IPN {fields.get('txn_id', '')}: {fields.get('payment_status')}"
    return Report(
        status,
        message + (f" ({reason})" if reason else ""),
        _money(fields.get("mc_gross")),
        fields.get("mc_currency", ""),
        _receiver(fields, business_id),
    )


def _receiver(fields: Mapping[str, str], business_id: str) -> str:
    named = [fields.get(name, "") for name in ("receiver_email", "receiver_id", "business")]
    if any(name and name.casefold() == business_id.casefold() for name in named):
        return business_id
    return next((name for name in named if name), "(nobody)")
