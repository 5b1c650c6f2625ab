"""What a router's page adds to the generic item page (web/menus_pages.py): its request
counters, as `router monitor ROUTER` shows them (services/counters.py: added up over every
server, written every ten seconds), and a button for `router reset-counters ROUTER`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from userman.services import Item
from userman.web.customer import Change, CustomerPage
from userman.web.menus_pages import item_key, run

__all__ = ["install_router_routes", "router_context"]


def router_context(request: Request, page: CustomerPage, item: Item) -> dict[str, Any]:
    monitor = run(request, page, ("router",), "monitor", [item.id])
    return {"counters": monitor.items[0].fields if monitor.items else ()}


def install_router_routes(router: APIRouter) -> None:
    @router.post("/routers/{ident}/reset-counters")
    async def reset_counters(request: Request, page: Change, ident: str) -> Response:
        """`router reset-counters ROUTER`, from the router's page (the services check that the
        customer may change the router)."""
        key = item_key(ident)
        await run_in_threadpool(run, request, page, ("router",), "reset-counters", [key])
        return RedirectResponse(f"/userman/routers/{ident}?saved=reset", status_code=303)
