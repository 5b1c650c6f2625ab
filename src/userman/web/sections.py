"""The sections of the customer pages, each a `MenuPage` (web/menus_pages.py): what the legacy
customer page offers (the research report, section 6.1), for every menu a customer manages.

Routers, users, profiles, limitations, time windows (profile-limitations), sessions,
customers, logs and history; user groups and attributes too. The user's and the profile's
pages add their own parts (web/users_pages.py); the customers' list is a tree, and history
has undo and redo.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from userman.core.errors import UsermanError
from userman.services import may_change
from userman.web.customer import Change, CustomerPage, Page
from userman.web.menus_pages import MenuPage, form_error, install, list_page, run
from userman.web.pages import render, userman_of
from userman.web.router_page import install_router_routes, router_context
from userman.web.users_pages import install_user_routes, profile_context, user_context

__all__ = ["PAGES", "router"]

ROUTERS = MenuPage(
    "router",
    "routers",
    "Routers",
    "router",
    columns=("name", "ip-address", "customer", "log", "use-coa", "comment"),
    order=(("name", False),),
    form=(
        ("Router", ("name", "customer", "ip-address", "shared-secret", "log", "comment")),
        (
            "RADIUS",
            (
                "use-coa",
                "coa-port",
                "require-message-authenticator",
                "on-shared-users-limit",
                "disabled",
            ),
        ),
    ),
    bulk=("enable", "disable", "remove"),
    filters=("disabled",),
    item_template="menu/router.html",
    item_context=router_context,
    about="The NAS that ask this server: known by the address their requests come from.",
)

USERS = MenuPage(
    "user",
    "users",
    "Users",
    "user",
    columns=(
        "username",
        "first-name",
        "last-name",
        "actual-profile",
        "shared-users",
        "uptime-used",
        "download-used",
        "upload-used",
        "last-seen",
    ),
    order=(("username", False),),
    form=(
        (
            "Account",
            ("username", "password", "otp-secret", "customer", "group", "shared-users", "disabled"),
        ),
        ("Person", ("first-name", "last-name", "email", "phone", "location", "comment")),
        (
            "Access",
            ("caller-id", "caller-id-bind-on-first-use", "ip-address", "ipv6-dns", "attributes"),
        ),
        ("Wireless", ("wireless-enc-algo", "wireless-enc-key", "wireless-psk")),
    ),
    bulk=("enable", "disable", "remove"),
    filters=("disabled",),
    list_template="menu/users_list.html",  # with the way to a batch and its vouchers
    item_template="menu/user.html",
    item_context=user_context,
    about="Search with % for any run of characters and _ for one character.",
)

PROFILES = MenuPage(
    "profile",
    "profiles",
    "Profiles",
    "profile",
    columns=("name", "name-for-users", "validity", "starts-at", "price", "override-shared-users"),
    order=(("name", False),),
    form=(
        ("Profile", ("name", "owner", "name-for-users", "validity", "starts-at", "price")),
        ("More", ("override-shared-users", "attributes", "comment")),
    ),
    bulk=("remove",),
    item_template="menu/profile.html",
    item_context=profile_context,
    about="What users get: a validity, a price, and limitations in time windows.",
)

LIMITATIONS = MenuPage(
    "profile limitation",
    "limitations",
    "Limitations",
    "limitation",
    columns=(
        "name",
        "rate-limit-rx",
        "rate-limit-tx",
        "download-limit",
        "upload-limit",
        "transfer-limit",
        "uptime-limit",
        "reset-counters-interval",
    ),
    order=(("name", False),),
    form=(
        ("Limitation", ("name", "owner", "comment")),
        (
            "Limits",
            (
                "download-limit",
                "upload-limit",
                "transfer-limit",
                "uptime-limit",
                "reset-counters-interval",
                "reset-counters-start-time",
            ),
        ),
        (
            "Rate limit",
            (
                "rate-limit-rx",
                "rate-limit-tx",
                "rate-limit-burst-rx",
                "rate-limit-burst-tx",
                "rate-limit-burst-treshold-rx",
                "rate-limit-burst-treshold-tx",
                "rate-limit-burst-time-rx",
                "rate-limit-burst-time-tx",
                "rate-limit-min-rx",
                "rate-limit-min-tx",
                "rate-limit-priority",
            ),
        ),
        ("Sent to the router", ("group-name", "ip-pool", "ip-pool6", "address-list")),
    ),
    notes=(
        ("Limits", "An empty or 0 limit means none: no limit of that kind."),
        ("Rate limit", "rx is the user's upload, tx the download; empty or 0: no limit."),
    ),
    bulk=("remove",),
    about="Quotas and rates; a profile uses them in time windows.",
)

WINDOWS = MenuPage(
    "profile profile-limitation",
    "profile-limitations",
    "Time windows",
    "time window",
    plural="time windows",
    columns=("profile", "limitation", "from-time", "till-time", "weekdays", "comment"),
    form=(
        ("Time window", ("profile", "limitation", "from-time", "till-time")),
        ("Weekdays", ("weekdays",)),
        ("", ("comment",)),
    ),
    bulk=("remove",),
    about="Which limitation a profile uses, when: from-till on the days ticked.",
)

SESSIONS = MenuPage(
    "session",
    "sessions",
    "Sessions",
    "session",
    columns=(
        "user",
        "from-time",
        "till-time",
        "uptime",
        "download",
        "upload",
        "user-ip",
        "calling-station-id",
        "terminate-cause",
    ),
    order=(("active", True), ("from-time", True)),
    bulk=("close-session",),
    filters=("active",),
    editable=False,
    removable=False,
    about="Active sessions first. Closing one ends it (with a Disconnect-Request "
    "to a router with use-coa).",
)


def _tree(_request: Request, _page: CustomerPage, context: dict[str, Any]) -> dict[str, Any]:
    """The customers in tree order, each with its depth under the ones this customer sees."""
    items = list(context["items"])
    logins = {item.json["login"] for item in items}
    children: dict[str, list[Any]] = {}
    roots = []
    for item in items:
        parent = item.json.get("parent")
        if parent == item.json["login"] or parent not in logins:
            roots.append(item)
        else:
            children.setdefault(str(parent), []).append(item)
    ordered: list[tuple[int, Any]] = []

    def walk(item: Any, depth: int) -> None:
        ordered.append((depth, item))
        for child in children.get(str(item.json["login"]), []):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return {"rows": ordered}


CUSTOMERS = MenuPage(
    "customer",
    "customers",
    "Customers",
    "customer",
    columns=("login", "permissions", "access", "public-id", "signup-allowed", "paypal-allowed"),
    form=(
        (
            "Customer",
            ("login", "password", "parent", "permissions", "disabled", "backup-allowed"),
        ),
        ("Access", ("access",)),
        ("Contact", ("email", "company", "city", "country", "comment")),
        ("Locale", ("currency", "time-zone", "date-format")),
        (
            "Sign-up and payments",
            (
                "public-id",
                "public-host",
                "user-prefix",
                "signup-allowed",
                "paypal-allowed",
                "paypal-business-id",
                "paypal-secure-response",
                "paypal-accept-pending",
            ),
        ),
    ),
    bulk=("enable", "disable", "remove"),
    list_context=_tree,
    paged=False,
    about="Who manages this domain: each customer under its parent, "
    "never with more permissions than it.",
)

LOGS = MenuPage(
    "log",
    "logs",
    "Logs",
    "log entry",
    plural="log entries",
    columns=("time", "user-orig", "status", "description", "calling-station-id", "host-ip"),
    order=(("time", True),),
    editable=False,
    removable=False,
    about="What the routers' requests met, as each router's log= setting asks.",
)

HISTORY = MenuPage(
    "history",
    "history",
    "History",
    "change",
    plural="changes",
    columns=("action", "sub-changes", "time", "by", "reason"),
    order=(("time", True),),
    editable=False,
    removable=False,
    list_template="menu/history.html",
    about="Every change, newest first. Undo reverts the newest undoable one; redo "
    "re-applies the last undone.",
)

GROUPS = MenuPage(
    "user group",
    "user-groups",
    "User groups",
    "user group",
    columns=("name", "outer-auths", "inner-auths", "attributes", "comment"),
    order=(("name", False),),
    bulk=("remove",),
)

ATTRIBUTES = MenuPage(
    "attribute",
    "attributes",
    "Attributes",
    "attribute",
    columns=("name", "vendor-id", "type-id", "value-type", "packet-types"),
    order=(("name", False),),
    bulk=("remove",),
    about="Custom RADIUS attributes that profiles, groups and users may send.",
)

PAGES = (
    USERS,
    PROFILES,
    LIMITATIONS,
    WINDOWS,
    GROUPS,
    ATTRIBUTES,
    ROUTERS,
    SESSIONS,
    CUSTOMERS,
    LOGS,
    HISTORY,
)

router = APIRouter(prefix="/userman", include_in_schema=False)


def _check_may_replay(page: CustomerPage, verb: str) -> None:
    if not may_change(page.actor, "history"):
        raise HTTPException(
            403, detail=f"failure: not permitted: {page.actor.login} may not {verb}"
        )


def _confirm(
    request: Request, page: CustomerPage, verb: str, moved: bool = False, status: int = 200
) -> Response:
    """The question before an undo or redo, naming the entry it would take now."""
    entry = userman_of(request).upcoming(page.actor, verb)
    return render(
        request,
        "menu/history_confirm.html",
        actor=page.actor,
        csrf=page.csrf,
        section="history",
        verb=verb,
        entry=entry,
        moved=moved,
        status_code=status,
    )


def _replay_routes(verb: str) -> None:
    """GET asks, naming the entry; POST does `history undo` / `history redo` of the entry the
    customer confirmed. When another change came first (the newest entry is no longer the one
    named) it asks again; a refusal shows on the history page. Fixed paths, so that an entry's
    own page (/userman/history/ID) stays the generic item page's."""

    @router.get(f"/history/{verb}", response_class=HTMLResponse)
    def confirm(request: Request, page: Page) -> Response:
        _check_may_replay(page, verb)
        return _confirm(request, page, verb)

    @router.post(f"/history/{verb}")
    async def replay(request: Request, page: Change) -> Response:
        _check_may_replay(page, verb)
        confirmed = str((await request.form()).get("entry", ""))
        entry = await run_in_threadpool(userman_of(request).upcoming, page.actor, verb)
        if entry is None or entry.id != confirmed:
            moved = bool(confirmed)
            status = 409 if moved else 200
            return await run_in_threadpool(_confirm, request, page, verb, moved, status)
        try:
            await run_in_threadpool(run, request, page, ("history",), verb)
        except UsermanError as error:
            status, _prop, message = form_error(error)
            message = message.removeprefix("failure: ")
            return await run_in_threadpool(
                list_page, request, page, HISTORY, error=message, status=status
            )
        return RedirectResponse("/userman/history", status_code=303)


for _verb in ("undo", "redo"):
    _replay_routes(_verb)
install_user_routes(router, USERS)
install_router_routes(router)
for _view in PAGES:
    install(router, _view)
