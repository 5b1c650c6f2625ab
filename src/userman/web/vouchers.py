"""Adding a batch of users, and their CSV and printable vouchers (/userman/users/...).

/userman/users/batch is the legacy customer page's batch form (`user add-batch-users`: how many,
the username prefix and length, the password length, the characters, a profile to activate,
group, shared-users, comment); the result lists the users made, with buttons for their CSV and
their vouchers. /userman/users/vouchers and /userman/users/vouchers.csv take any selection of
users (`users`, repeated: usernames or *IDs), so the users' list can offer them too. The
vouchers page is made for printing: the subscriber's voucher template (settings), nothing else
around it. The template is the customer's own HTML: that page runs no script but the site's
(static/userman.js: its print button), and allows the template's inline styles and its images
from any https address (a policy of its own, web/headers.py's otherwise).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from userman.core.errors import UsermanError
from userman.services.batch import CHARACTERS
from userman.services.vouchers import as_csv
from userman.web.customer import Change, CustomerPage, Page
from userman.web.pages import render, userman_of

__all__ = ["router"]

router = APIRouter(prefix="/userman/users", include_in_schema=False)
FIELDS = (
    "number-of-users",
    "username-prefix",
    "username-length",
    "password-length",
    "profile",
    "group",
    "shared-users",
    "comment",
)
DEFAULTS = {"number-of-users": "10", "username-length": "6", "password-length": "6"}


def _names(request: Request, page: CustomerPage, menu: str) -> list[str]:
    outcome = userman_of(request).execute(page.actor, tuple(menu.split()), "print")
    return [str(item.json.get("name", "")) for item in outcome.items]


def _batch_page(
    request: Request,
    page: CustomerPage,
    *,
    values: dict[str, str] | None = None,
    chosen: frozenset[str] = frozenset({"lowercase", "numbers"}),
    error: str = "",
    made: tuple[tuple[str, str], ...] = (),
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "batch.html",
        actor=page.actor,
        csrf=page.csrf,
        section="users",
        values={**DEFAULTS, **(values or {})},
        characters=tuple(CHARACTERS),
        chosen=chosen,
        profiles=_names(request, page, "profile"),
        groups=_names(request, page, "user group"),
        error=error,
        made=made,
        status_code=status_code,
    )


@router.get("/batch", response_class=HTMLResponse)
def batch_form(request: Request, page: Page) -> Response:
    return _batch_page(request, page)


@router.post("/batch")
async def add_batch(request: Request, page: Change) -> Response:
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() for name in FIELDS}
    chosen = frozenset(str(c) for c in form.getlist("characters"))
    args = {name: value for name, value in values.items() if value}
    if form.get("same-as-username"):
        args["password-length"] = "same-as-username"
    args["characters"] = ",".join(c for c in CHARACTERS if c in chosen)
    userman = userman_of(request)
    try:
        outcome = await run_in_threadpool(
            userman.execute, page.actor, ("user",), "add-batch-users", (), args
        )
    except UsermanError as error:
        text = str(error).removeprefix("failure: ")
        return await run_in_threadpool(
            lambda: _batch_page(
                request, page, values=values, chosen=chosen, error=text, status_code=400
            )
        )
    made = tuple((str(i.json["username"]), str(i.json["password"])) for i in outcome.items)
    return await run_in_threadpool(
        lambda: _batch_page(request, page, values=values, chosen=chosen, made=made)
    )


async def _selection(request: Request) -> list[str]:
    form = await request.form()
    return [str(user) for user in form.getlist("users") if str(user)]


@router.post("/vouchers", response_class=HTMLResponse)
async def vouchers_page(request: Request, page: Change) -> Response:
    users = await _selection(request)
    if not users:
        return RedirectResponse("/userman/users/batch", status_code=303)
    found, body = await run_in_threadpool(userman_of(request).vouchers, page.actor, users)
    response = render(request, "vouchers.html", body=body, count=len(found), users=users)
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline';"
        " img-src 'self' data: https:; object-src 'none'; base-uri 'none';"
        " form-action 'self'; frame-ancestors 'none'"
    )
    return response


@router.post("/vouchers.csv")
async def vouchers_csv(
    request: Request, page: Change, name: Annotated[str, Form()] = "users"
) -> Response:
    users = await _selection(request)
    found, _ = await run_in_threadpool(
        lambda: userman_of(request).vouchers(page.actor, users, page=False)
    )
    filename = "".join(c for c in name if c.isalnum() or c in "-_") or "users"
    return Response(
        as_csv(found),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )
