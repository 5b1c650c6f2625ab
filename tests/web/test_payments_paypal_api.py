"""What PayPal's answers and notifications say, as web/paypal_api.py reads them (no I/O), and
the client against the stand-in: token reuse, a refused client, an unreachable PayPal."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from paypal_standin import CLIENT_ID, SECRET, WEBHOOK_ID, PayPal, running_paypal
from served import free_tcp_port
from userman.services.payments import PayPalSettings, Status
from userman.web.paypal_api import (
    PayPalClient,
    PayPalError,
    capture_report,
    checkout_page,
    ipn_report,
    webhook_reference,
    webhook_report,
)

ORDER = {
    "id": "5O190127TN364715T",
    "status": "COMPLETED",
    "purchase_units": [
        {
            "custom_id": "userman-payment-7",
            "payments": {
                "captures": [
                    {
                        "id": "3C679366HH908993F",
                        "status": "PENDING",
                        "status_details": {"reason": "PENDING_REVIEW"},
                        "amount": {"currency_code": "EUR", "value": "10.00"},
                        "custom_id": "userman-payment-7",
                    }
                ]
            },
        }
    ],
}


def test_a_capture() -> None:
    reference, report = capture_report(ORDER)
    assert reference == "userman-payment-7"
    assert report.status is Status.PENDING
    assert (report.amount, report.currency) == (Decimal("10.00"), "EUR")
    assert "5O190127TN364715T" in report.message
    assert "PENDING_REVIEW" in report.message


def test_an_order_without_a_capture_is_an_error() -> None:
    reference, report = capture_report({"id": "X", "purchase_units": [{"custom_id": "r"}]})
    assert (reference, report.status) == ("r", Status.ERROR)


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("PAYMENT.CAPTURE.COMPLETED", Status.APPROVED),
        ("PAYMENT.CAPTURE.PENDING", Status.PENDING),
        ("PAYMENT.CAPTURE.DENIED", Status.DECLINED),
        ("PAYMENT.CAPTURE.DECLINED", Status.DECLINED),
        ("PAYMENT.CAPTURE.REFUNDED", None),
        ("CHECKOUT.ORDER.APPROVED", None),
    ],
)
def test_webhook_events(kind: str, status: Status | None) -> None:
    capture = ORDER["purchase_units"][0]["payments"]["captures"][0]  # type: ignore[index]
    event = {"event_type": kind, "resource": capture}
    report = webhook_report(event)
    assert (report.status if report else None) is status
    assert webhook_reference(event) == "userman-payment-7"
    assert webhook_reference({"resource": ORDER}) == "userman-payment-7"


@pytest.mark.parametrize(
    ("payment_status", "status"),
    [
        ("Completed", Status.APPROVED),
        ("Pending", Status.PENDING),
        ("Denied", Status.DECLINED),
        ("Failed", Status.DECLINED),
        ("Refunded", None),
        ("Reversed", None),
        ("Canceled_Reversal", None),
    ],
)
def test_ipn_messages(payment_status: str, status: Status | None) -> None:
    fields = {
        "payment_status": payment_status,
        "txn_id": "61E67681CH3238416",
        "mc_gross": "4.90",
        "mc_currency": "EUR",
        "receiver_email": "Shop@Example.net",
    }
    report = ipn_report(fields, "shop@example.net")
    assert (report.status if report else None) is status
    if report is not None:
        assert report.receiver == "shop@example.net"  # the same account, whatever the case
        assert report.amount == Decimal("4.90")


def test_an_ipn_paid_to_another_account() -> None:
    report = ipn_report({"payment_status": "Completed", "receiver_email": "x@y.z"}, "shop@a.b")
    assert report is not None
    assert report.receiver == "x@y.z"
    by_id = ipn_report({"payment_status": "Completed", "receiver_id": "MERCH123"}, "MERCH123")
    assert by_id is not None
    assert by_id.receiver == "MERCH123"


def test_the_classic_payment_page_is_on_www() -> None:
    assert checkout_page("https://ipnpb.paypal.com/cgi-bin/webscr") == (
        "https://www.paypal.com/cgi-bin/webscr"
    )
    assert checkout_page("https://ipnpb.sandbox.paypal.com/cgi-bin/webscr") == (
        "https://www.sandbox.paypal.com/cgi-bin/webscr"
    )


@pytest.fixture(scope="module")
def paypal() -> Iterator[PayPal]:
    with running_paypal() as standin:
        yield standin


def test_the_token_is_kept_until_it_expires(paypal: PayPal) -> None:
    settings = PayPalSettings(CLIENT_ID, SECRET, paypal.api_base, paypal.ipn_url, WEBHOOK_ID, True)
    first = PayPalClient(settings).token()
    assert PayPalClient(settings).token() == first
    assert paypal.requests.count("POST /v1/oauth2/token") == 1


def test_a_refused_client(paypal: PayPal) -> None:
    settings = PayPalSettings(CLIENT_ID, "wrong", paypal.api_base, paypal.ipn_url, WEBHOOK_ID, True)
    with pytest.raises(PayPalError) as refused:
        PayPalClient(settings).token()
    assert refused.value.status == 401
    with pytest.raises(PayPalError, match="not set up"):
        PayPalClient(PayPalSettings())


def test_an_unreachable_paypal() -> None:
    url = f"http://127.0.0.1:{free_tcp_port()}"
    settings = PayPalSettings(CLIENT_ID, SECRET, url, allow_private=True)
    with pytest.raises(PayPalError, match="unreachable"):
        PayPalClient(settings).token()


def test_a_bad_order_id_never_reaches_a_url(paypal: PayPal) -> None:
    settings = PayPalSettings(CLIENT_ID, SECRET, paypal.api_base, paypal.ipn_url, WEBHOOK_ID, True)
    with pytest.raises(PayPalError, match="not an order id"):
        PayPalClient(settings).capture("../../v1/oauth2/token")
