"""What a user's page and a profile's page add to the generic item page (web/menus_pages.py).

A user's page: its profile queue with the states (waiting, running, running-active, used) and
times, its newest sessions, its usage over the last 30 days as a chart drawn on the server, and
a form to create and activate a profile (`user create-and-activate-profile`). A profile's page:
its limitations with their time windows (profile-limitations: weekdays and from/till), and a
form to add one.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from userman.core.errors import UsermanError
from userman.services import Item
from userman.services.listing import Query
from userman.services.menus import WEEKDAYS
from userman.web.chart import usage_chart
from userman.web.clock import zone_of
from userman.web.customer import Change, CustomerPage
from userman.web.menus_pages import (
    MenuPage,
    command_key,
    form_error,
    form_page,
    get_item,
    item_key,
    item_values,
    run,
    userman_of,
)

__all__ = ["install_user_routes", "profile_context", "user_context"]

SESSIONS_SHOWN = 20
USAGE_DAYS = 30


def _names(request: Request, page: CustomerPage, menu: str) -> list[str]:
    found = userman_of(request).listing(
        page.actor, menu, Query(order=(("name", False),), limit=500)
    )
    return [str(item.json["name"]) for item in found.items]


def user_context(request: Request, page: CustomerPage, item: Item) -> dict[str, Any]:
    userman = userman_of(request)
    queue = userman.listing(
        page.actor, "user-profile", Query(equal=(("user", item.id),), limit=100)
    )
    sessions = userman.listing(
        page.actor,
        "session",
        Query(
            equal=(("user", str(item.json["username"])),),
            order=(("from-time", True),),
            limit=SESSIONS_SHOWN,
        ),
    )
    days = userman.usage(page.actor, item.id, USAGE_DAYS)
    return {
        "queue": queue.items,
        "sessions": sessions.items,
        "sessions_total": sessions.total,
        "chart": usage_chart(days),
        "usage_days": days,
        "usage_total": (sum(d.download for d in days), sum(d.upload for d in days)),
        "profiles": _names(request, page, "profile"),
    }


def profile_context(request: Request, page: CustomerPage, item: Item) -> dict[str, Any]:
    windows = userman_of(request).listing(
        page.actor, "profile profile-limitation", Query(equal=(("profile", item.id),), limit=200)
    )
    return {
        "windows": windows.items,
        "limitations": _names(request, page, "profile limitation"),
        "weekdays": WEEKDAYS,
    }


def install_user_routes(router: APIRouter, users: MenuPage) -> None:
    @router.post("/users/{ident}/activate")
    async def activate(request: Request, page: Change, ident: str) -> Response:
        """`user create-and-activate-profile USER profile=P`, from the user's page."""
        key = item_key(ident)
        form = await request.form()
        args = {"profile": str(form.get("profile", ""))}
        user = await run_in_threadpool(get_item, request, page, users, key)
        try:
            await run_in_threadpool(
                run,
                request,
                page,
                ("user",),
                "create-and-activate-profile",
                [command_key(users, user)],
                args,
            )
        except UsermanError as error:
            status, _prop, message = form_error(error)
            item = await run_in_threadpool(get_item, request, page, users, key)
            return await run_in_threadpool(
                lambda: form_page(
                    request,
                    page,
                    users,
                    item_values(users, item.fields, zone_of(request)),
                    item,
                    status=status,
                    activate_error=message.removeprefix("failure: "),
                )
            )
        return RedirectResponse(f"/userman/users/{ident}?saved=activated", status_code=303)
