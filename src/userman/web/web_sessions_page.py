"""The customer's own web sessions, /userman/web-sessions: where and since when it is logged in
(services/web_sessions.py, the rows every page request checks), with a button to end each one,
or every one but this. Plain forms carrying the session's CSRF token: no script, so the page
needs nothing the Content-Security-Policy refuses.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from userman.core.errors import NotFoundError
from userman.web import session as sessions
from userman.web.customer import Change, Page
from userman.web.pages import render, userman_of

__all__ = ["router"]

router = APIRouter(prefix="/userman/web-sessions", include_in_schema=False)
PAGE = "/userman/web-sessions"


@router.get("", response_class=HTMLResponse)
async def web_sessions(request: Request, page: Page, ended: int = -1) -> Response:
    found = await run_in_threadpool(userman_of(request).web_sessions, page.actor, page.sid)
    return render(
        request,
        "web_sessions.html",
        actor=page.actor,
        csrf=page.csrf,
        rows=found,
        ended=ended,
        section="web-sessions",
    )


@router.post("/others/end")
async def end_others(request: Request, page: Change) -> Response:
    """End every session of this customer but the one asking."""
    ended = await run_in_threadpool(
        userman_of(request).revoke_web_session, page.actor, None, page.sid
    )
    return RedirectResponse(f"{PAGE}?ended={ended}", status_code=303)


@router.post("/{number}/end")
async def end_one(request: Request, page: Change, number: int) -> Response:
    """End one session; ending this one is logging out."""
    userman = userman_of(request)
    found = await run_in_threadpool(userman.web_sessions, page.actor, page.sid)
    if any(row.id == number and row.current for row in found):
        response = RedirectResponse("/userman/login", status_code=303)
        await run_in_threadpool(sessions.end, request, response, "customer")
        return response
    try:
        ended = await run_in_threadpool(userman.revoke_web_session, page.actor, number)
    except NotFoundError:
        ended = 0  # ended already, or not this customer's: nothing to say of whose
    return RedirectResponse(f"{PAGE}?ended={ended}", status_code=303)
