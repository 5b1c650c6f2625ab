"""The settings page (/userman/settings) and its REST API (/api/v1/settings).

The page shows the subscriber's settings (services/subscriber_settings.py) by group: SMTP, the
sign-up e-mail, the voucher template, payments; customers with full permissions or more see
it, and the form to change them shows only to who `may_change("settings")`. A sensitive value
(the SMTP password) is never sent to the browser: its field stays empty, and an empty field
keeps the value (a tick box clears it). "Send a test mail" sends through the saved settings,
in a worker thread, and says what the SMTP server answered.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from userman.core.errors import UsermanError
from userman.services import Actor
from userman.services.mail import MailError
from userman.services.subscriber_settings import GROUPS, may_change_group
from userman.web.api import text_of
from userman.web.auth import api_actor
from userman.web.customer import Change, CustomerPage, Page
from userman.web.pages import render, userman_of

__all__ = ["api", "router"]

log = logging.getLogger("userman.web")
router = APIRouter(prefix="/userman", include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["settings"])
CLEAR = "clear:"  # the tick box that empties a sensitive setting: clear:NAME


def _page(
    request: Request,
    page: CustomerPage,
    *,
    message: str = "",
    error: str = "",
    test_result: str = "",
    test_ok: bool = False,
    status_code: int = 200,
) -> Response:
    actor = page.actor
    values = userman_of(request).settings(actor)
    groups = [
        (key, label, [v for v in values if v.setting.group == key], may_change_group(actor, key))
        for key, label in GROUPS.items()
    ]
    return render(
        request,
        "settings.html",
        actor=page.actor,
        csrf=page.csrf,
        section="settings",
        groups=[g for g in groups if g[2]],
        message=message,
        error=error,
        test_result=test_result,
        test_ok=test_ok,
        status_code=status_code,
    )


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, page: Page, saved: str = "") -> Response:
    return _page(request, page, message="Settings saved." if saved else "")


@router.post("/settings")
async def save_settings(request: Request, page: Change) -> Response:
    form = await request.form()
    userman = userman_of(request)
    current = await run_in_threadpool(userman.settings, page.actor)
    args: dict[str, str] = {}
    for value in current:
        name = value.setting.name
        given = form.get(name)
        if value.setting.sensitive:
            if form.get(CLEAR + name):
                args[name] = ""
            elif isinstance(given, str) and given:
                args[name] = given
        elif isinstance(given, str) and given.replace("\r\n", "\n") != value.text:
            args[name] = given.replace("\r\n", "\n")
    try:
        if args:
            await run_in_threadpool(userman.change_settings, page.actor, args)
    except UsermanError as error:
        text = str(error).removeprefix("failure: ")
        return await run_in_threadpool(lambda: _page(request, page, error=text, status_code=400))
    return RedirectResponse("/userman/settings?saved=1", status_code=303)


@router.post("/settings/test-mail")
async def send_test_mail(
    request: Request, page: Change, to: Annotated[str, Form()] = ""
) -> Response:
    userman = userman_of(request)
    ok = False
    try:
        await run_in_threadpool(userman.send_test_mail, page.actor, to.strip())
        result, ok = f"A test mail went to {to.strip()}.", True
    except MailError as error:
        log.warning("test mail to %s failed: %s", to, error)
        result = f"The mail could not be sent: {error}"
    if request.headers.get("hx-request"):
        return render(request, "settings_test.html", test_result=result, test_ok=ok)
    return await run_in_threadpool(lambda: _page(request, page, test_result=result, test_ok=ok))


ApiActor = Annotated[Actor, Depends(api_actor)]


def _as_json(request: Request, actor: Actor, show_sensitive: bool) -> dict[str, Any]:
    values = userman_of(request).settings(actor, show_sensitive=show_sensitive)
    return {v.setting.name: v.text for v in values if show_sensitive or not v.setting.sensitive}


@api.get("/settings", summary="print: the subscriber's settings")
def get_settings(
    request: Request,
    actor: ApiActor,
    show_sensitive: Annotated[bool, Query(alias="show-sensitive")] = False,
) -> dict[str, Any]:
    """Every setting by name, as text; sensitive ones only with `?show-sensitive=true`."""
    return _as_json(request, actor, show_sensitive)


@api.patch("/settings", summary="set: change some of the subscriber's settings")
def patch_settings(
    request: Request,
    actor: ApiActor,
    body: Annotated[dict[str, Any], Body(examples=[{"smtp-server": "mail.example.com"}])],
) -> dict[str, Any]:
    """Change the settings named in the body (one transaction, one history entry)."""
    args = {name: text_of(name, value) for name, value in body.items()}
    userman_of(request).change_settings(actor, args)
    return _as_json(request, actor, False)
