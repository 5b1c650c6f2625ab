"""The customer's payments page, /userman/payments: what users paid (or tried to), newest first,
filtered by state and by user, within what the customer may see (its subscriber's payments,
narrowed by its permissions and access flags as the payment menu is)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from userman.services.fields import check_characters
from userman.services.payments import Status
from userman.web.customer import Page
from userman.web.pages import render, userman_of

__all__ = ["router"]

router = APIRouter(prefix="/userman", include_in_schema=False)


@router.get("/payments", response_class=HTMLResponse)
def payments(request: Request, page: Page, status: str = "", user: str = "") -> Response:
    userman = userman_of(request)
    check_characters(user, "user", bidi=True)  # a NUL PostgreSQL would refuse, say
    rows = userman.payments.rows(page.actor, status=status, user=user[:64])
    return render(
        request,
        "customer_payments.html",
        actor=page.actor,
        csrf=page.csrf,
        section="payments",
        rows=rows,
        status=status,
        user=user[:64],
        statuses=[s.value for s in Status],
    )
