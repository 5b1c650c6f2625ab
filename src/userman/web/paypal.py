"""Buying a profile with PayPal from the user page, and PayPal's calls back to us.

- REST Orders v2: POST /user/buy makes a `started` payment and a PayPal order, and sends the
  browser to PayPal to approve it; PayPal sends it back to /user/paypal/return (we capture the
  order) or /user/paypal/cancel (aborted). PayPal's webhook, POST /user/paypal/webhook, is
  verified with PayPal first; an approved order it reports is captured, a capture it reports is
  recorded.
- Classic IPN, as legacy User Manager used: POST /user/buy with method=paypal-ipn shows the
  Buy Now form for PayPal's payment page; PayPal posts the notification to /user/paypal/ipn,
  which answers 200 at once and then posts it back with cmd=_notify-validate; only a VERIFIED
  message counts.
Return, cancel and notification URLs use the gateway customer's public-host (https with
paypal-secure-response=yes). Whatever the order of return, webhook and notification, and
however often they come, the payment is approved and the profile assigned once
(services/payments.py). Handlers are plain functions, so the calls to PayPal run in worker
threads.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, BackgroundTasks, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from userman.core.errors import NotFoundError
from userman.services.payments import Checkout, PayPalSettings, Report, Status
from userman.web.pages import render, userman_of
from userman.web.paypal_api import (
    PayPalClient,
    PayPalError,
    capture_report,
    checkout_page,
    ipn_form,
    ipn_report,
    post_back_ipn,
    webhook_reference,
    webhook_report,
)
from userman.web.user_page import Change, Page

__all__ = ["METHODS", "paypal_settings", "router"]

log = logging.getLogger("userman.web")
router = APIRouter(prefix="/user", include_in_schema=False)
METHODS = ("paypal", "paypal-ipn")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def paypal_settings(request: Request, subscriber_id: int) -> PayPalSettings:
    """The subscriber's PayPal endpoints and credentials (its settings: paypal-client-id,
    paypal-secret, paypal-webhook-id, paypal-api-url, paypal-ipn-url)."""
    return userman_of(request).payments.settings(subscriber_id)


def _payments_page(notice: str) -> RedirectResponse:
    return RedirectResponse(f"/user/payments?{urlencode({'notice': notice})}", status_code=303)


def _said(status: Status) -> str:
    return {
        Status.APPROVED: "Thank you: the payment is approved and the profile is yours.",
        Status.PENDING: "PayPal has the payment as pending; the profile comes when it completes.",
        Status.DECLINED: "PayPal declined the payment.",
        Status.ABORTED: "The payment was cancelled.",
        Status.ERROR: "The payment could not be completed.",
        Status.STARTED: "The payment has not been completed yet.",
    }[status]


# A row id in a query or a form: beyond INTEGER it names nothing, and is refused (400) before the
# database would fail on it.
MAX_ID = 2**31 - 1
PaymentId = Annotated[int, Query(ge=0, le=MAX_ID)]


@router.post("/buy")
def buy(
    request: Request,
    page: Change,
    profile: Annotated[int, Form(ge=0, le=MAX_ID)],
    method: Annotated[str, Form()] = "paypal",
) -> Response:
    """Start buying a profile: a `started` payment, then PayPal."""
    if method not in METHODS:
        raise HTTPException(400, detail=f"failure: method: one of {', '.join(METHODS)}")
    payments = userman_of(request).payments
    checkout = payments.start(page.user_id, page.seen, profile, method, request.url.netloc, _now())
    settings = paypal_settings(request, checkout.subscriber_id)
    back = f"{checkout.callback_base}/user/paypal"
    query = urlencode({"payment": checkout.payment_id})
    if method == "paypal-ipn":
        return _ipn_checkout(request, page.csrf, checkout, settings, back, query)
    try:
        client = PayPalClient(settings)
        order_id, approve = client.create_order(
            checkout, f"{back}/return?{query}", f"{back}/cancel?{query}"
        )
    except PayPalError as error:
        log.warning("payment %s: PayPal order failed: %s", checkout.payment_id, error)
        payments.settle(checkout.payment_id, Report(Status.ERROR, str(error)), _now())
        return _payments_page(_said(Status.ERROR))
    payments.note(checkout.payment_id, f"PayPal order {order_id}: created")
    return RedirectResponse(approve, status_code=303)


def _ipn_checkout(  # noqa: PLR0917 - the form needs all of them
    request: Request,
    csrf: str,
    checkout: Checkout,
    settings: PayPalSettings,
    back: str,
    query: str,
) -> Response:
    """The classic Buy Now form (cmd=_xclick), posted by the user to PayPal's payment page."""
    fields = parse_qsl(
        ipn_form(checkout, f"{back}/ipn", f"{back}/return?{query}", f"{back}/cancel?{query}")
    )
    return render(
        request,
        "user/paypal_ipn.html",
        csrf=csrf,
        action=checkout_page(settings.ipn_url),
        fields=fields,
        checkout=checkout,
    )


@router.get("/paypal/return")
def paypal_return(request: Request, payment: PaymentId = 0, token: str = "") -> Response:
    """PayPal sends the payer back here after approving: capture the order now. Without an
    order token (the classic flow), the IPN decides; the page just says what is known."""
    payments = userman_of(request).payments
    if not token:
        try:
            status = payments.checkout(payment).status
        except NotFoundError:
            return _payments_page(_said(Status.STARTED))
        return _payments_page(_said(status) if status is not Status.STARTED else "Thank you.")
    try:
        checkout = payments.checkout(payment)
        client = PayPalClient(paypal_settings(request, checkout.subscriber_id))
        reference, report = capture_report(client.capture(token))
        settled = payments.settle(payments.payment_of(reference), report, _now())
    except (PayPalError, NotFoundError) as error:
        log.warning("payment %s: capture of order %s failed: %s", payment, token[:40], error)
        return _payments_page(_said(Status.ERROR))
    return _payments_page(_said(settled.status))


@router.get("/paypal/cancel")
def paypal_cancel(request: Request, page: Page, payment: PaymentId = 0) -> Response:
    """The payer cancelled at PayPal: the user's own started payment is aborted."""
    userman_of(request).payments.abort(page.user_id, page.seen, payment, _now())
    return _payments_page(_said(Status.ABORTED))


def _header_map(request: Request) -> dict[str, str]:
    return {name.lower(): value for name, value in request.headers.items()}


@router.post("/paypal/webhook")
async def paypal_webhook(request: Request) -> Response:
    """A webhook event from PayPal: verified by PayPal, then applied to its payment."""
    raw = await request.body()
    try:
        event = json.loads(raw)
    except ValueError:
        return JSONResponse({"error": "not JSON"}, status_code=400)
    if not isinstance(event, dict):
        return JSONResponse({"error": "not an event"}, status_code=400)
    status, body = await run_in_threadpool(_webhook, request, _header_map(request), event)
    return JSONResponse(body, status_code=status)


def _webhook(
    request: Request, headers: dict[str, str], event: dict[str, Any]
) -> tuple[int, dict[str, str]]:
    payments = userman_of(request).payments
    try:
        payment_id = payments.payment_of(webhook_reference(event))
        checkout = payments.checkout(payment_id)
    except NotFoundError:
        return 200, {"ignored": "not a payment of ours"}  # 2xx, or PayPal retries for 3 days
    try:
        client = PayPalClient(paypal_settings(request, checkout.subscriber_id))
        if not client.verify_webhook(headers, event):
            log.warning("payment %s: a webhook PayPal does not vouch for", payment_id)
            return 400, {"error": "not verified"}
        report = webhook_report(event)
        if event.get("event_type") == "CHECKOUT.ORDER.APPROVED":
            order_id = str((event.get("resource") or {}).get("id", ""))
            reference, report = capture_report(client.capture(order_id))
            payment_id = payments.payment_of(reference)
    except (PayPalError, NotFoundError) as error:
        log.warning("payment %s: webhook failed: %s", payment_id, error)
        return 503, {"error": "try again"}
    if report is None:
        return 200, {"ignored": str(event.get("event_type", ""))}
    settled = payments.settle(payment_id, report, _now())
    return 200, {"status": settled.status.value}


@router.post("/paypal/ipn")
async def paypal_ipn(request: Request, background: BackgroundTasks) -> Response:
    """A classic Instant Payment Notification: an empty 200 at once, as PayPal wants, then the
    post-back and the payment, in a worker thread."""
    raw = await request.body()
    background.add_task(_ipn, request, raw)
    return Response(status_code=200)


def _ipn(request: Request, raw: bytes) -> None:
    fields = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    payments = userman_of(request).payments
    try:
        payment_id = payments.payment_of(fields.get("custom", ""))
        checkout = payments.checkout(payment_id)
        settings = paypal_settings(request, checkout.subscriber_id)
        answer = post_back_ipn(settings.ipn_url, raw)
    except (PayPalError, NotFoundError) as error:
        log.warning("IPN %s: %s", fields.get("txn_id", "?"), error)
        return
    if answer != "VERIFIED":
        log.warning("IPN %s: PayPal says %s", fields.get("txn_id", "?"), answer[:20])
        return
    report = ipn_report(fields, checkout.business_id)
    if report is not None:
        payments.settle(payment_id, report, _now())
