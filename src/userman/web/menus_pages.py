"""The management pages under /userman, one generic mechanism for every menu.

A `MenuPage` names a menu of services/menus.py and how its page shows it; from that come a
list (search with the manual's `%`/`_` patterns, filters, sort by column, paging, tick boxes
for the bulk verbs), a form to add an item and an item's page with its form (both built from
the menu's properties, web/forms.py), and the routes that run each change through
`Userman.execute` as the command line does: same validation, permissions, tenancy, history.

A page needing more gives hooks (`list_context`, `item_context`) and its own template that
extends the generic one. A customer who may not change the menu sees no form and no button;
the routes refuse such a change anyway (403), and an item of another subscriber is 404.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from userman.core.errors import (
    ConflictError,
    InvalidValueError,
    UnknownPropertyError,
    UsermanError,
)
from userman.core.windows import time_zone_name
from userman.services import MENUS, Item, Menu, Outcome, Prop, may_change
from userman.services.fields import BOOL, BYTES, DATETIME, check_characters, integer
from userman.services.listing import Query, searchable, sortable
from userman.services.permissions import SELF_SERVICE
from userman.web.clock import zone_of
from userman.web.customer import Change, CustomerPage, Page
from userman.web.forms import arguments, fields_of, form_props, label, required, shown
from userman.web.pages import human_bytes, render, templates, userman_of
from userman.web.returnto import same_site

__all__ = [
    "MenuPage",
    "cell",
    "command_key",
    "form_error",
    "form_page",
    "get_item",
    "install",
    "item_key",
    "item_values",
    "list_page",
    "run",
    "url_id",
    "userman_of",
]

PER_PAGE = (25, 50, 100, 200)
templates.env.filters["label"] = label
Context = dict[str, Any]


@dataclass(frozen=True, slots=True)
class MenuPage:
    menu: str  # the services menu, e.g. "profile limitation"
    slug: str  # its pages: /userman/<slug>
    title: str  # "Limitations"
    singular: str  # "limitation"
    columns: tuple[str, ...]  # the properties the list shows
    order: tuple[tuple[str, bool], ...] = ()  # the list's order until a column is chosen
    form: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (legend, properties); () all
    notes: tuple[tuple[str, str], ...] = ()  # (legend, a line under it)
    bulk: tuple[str, ...] = ()  # verbs for ticked items: enable, disable, remove, ...
    filters: tuple[str, ...] = ()  # yes/no and choice properties offered as filters
    editable: bool = True
    removable: bool = True
    about: str = ""  # a line under the title
    plural: str = ""  # for counts; the title in lower case unless given
    list_template: str = "menu/list.html"
    item_template: str = "menu/item.html"
    list_context: Callable[[Request, CustomerPage, Context], Context] | None = None
    item_context: Callable[[Request, CustomerPage, Item], Context] | None = None
    paged: bool = True
    searchable: bool = True

    @property
    def noun(self) -> str:
        return self.plural or self.title.lower()

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.menu.split())

    @property
    def spec(self) -> Menu:
        return MENUS[self.menu]


def run(  # noqa: PLR0917 - a command's parts, as Userman.execute takes them
    request: Request,
    page: CustomerPage,
    path: Sequence[str],
    verb: str,
    positional: Sequence[str] = (),
    args: Mapping[str, str] | None = None,
) -> Outcome:
    """One command as the logged-in customer; a recorded refusal (a failed undo) is 409."""
    outcome = userman_of(request).execute(page.actor, path, verb, positional, args)
    if outcome.error:
        raise ConflictError("history", outcome.error)
    return outcome


def item_key(ident: str) -> str:
    """A page's item, named in its URL by its id in hexadecimal, as the command's `*ID`."""
    if not ident or not all(c in "0123456789abcdefABCDEF" for c in ident) or len(ident) > 16:
        raise HTTPException(404, detail="failure: no such item")
    return f"*{ident.upper()}"


def url_id(item: Item) -> str:
    return item.id.removeprefix("*")


def command_key(view: MenuPage, item: Item) -> str:
    """How a page's command names its item: by name, as an operator types it, so that history
    says `UMS user ann changed` (what the Undo question then names), not `UMS user *1F changed`;
    by `*ID` when it has no name or its name would read as an *ID or a list of numbers."""
    key = view.spec.key
    name = str(item.json.get(key) or "") if key is not None else ""
    numbers = all(part.isdigit() for part in name.split(","))
    return item.id if not name or name.startswith("*") or ("," in name and numbers) else name


def item_values(view: MenuPage, fields: Iterable[tuple[str, str]], tz: dt.tzinfo) -> dict[str, str]:
    """An item's values (print's pairs, or a form's defaults) as its page shows them."""
    by_name = view.spec.by_name
    return {
        name: shown(by_name[name], text, tz) if name in by_name else text for name, text in fields
    }


def cell(prop: Prop, item: Item, tz: dt.tzinfo = dt.UTC) -> str:
    """A list's cell: sizes in KiB/MiB/GiB, a zero limit as a dash, the rest as print shows,
    times in the viewer's zone."""
    value = item.json.get(prop.name)
    if prop.kind is BYTES:
        return human_bytes(value) if value else "–"
    return shown(prop, dict(item.fields).get(prop.name, ""), tz)


def form_error(error: UsermanError) -> tuple[int, str, str]:
    """(status, property, message) of an error to show next to a form; others propagate."""
    if isinstance(error, InvalidValueError | UnknownPropertyError):
        return 400, error.prop, str(error)
    if isinstance(error, ConflictError):
        return 409, error.prop, str(error)
    raise error


def _check_may_change(page: CustomerPage, menu: str) -> None:
    if not may_change(page.actor, menu):
        raise HTTPException(
            403, detail=f"failure: not permitted: {page.actor.login} may not change {menu}"
        )


# --- the list --------------------------------------------------------------------------------


MAX_PAGE = 10**9  # further than any list goes; a larger page is a bad value, not a 500
PAGE = integer(1, MAX_PAGE)


def _number(params: Mapping[str, str], name: str, default: int) -> int:
    """A numeric query parameter: absent or empty is `default`; anything but a whole number in
    range is refused (400), naming the parameter."""
    text = params.get(name, "")
    if text == "":
        return default
    number = PAGE.parse(text, name)
    assert isinstance(number, int)
    return number


def _listing_query(view: MenuPage, params: Mapping[str, str]) -> tuple[Query, Context]:
    menu = view.spec
    sort = params.get("sort", "")
    descending = params.get("desc") == "1"
    names = {p.name for p in sortable(menu)}
    order = ((sort, descending), *view.order) if sort in names else view.order
    per = _number(params, "per", PER_PAGE[0])
    if per not in PER_PAGE:
        raise InvalidValueError("per", f"{per} is not one of {', '.join(map(str, PER_PAGE))}")
    number = _number(params, "page", 1)
    field_name = params.get("field", "")
    if field_name not in {p.name for p in searchable(menu)}:
        field_name = ""
    equal = tuple(
        (name, params[f"f-{name}"]) for name in view.filters if params.get(f"f-{name}", "")
    )
    search = params.get("q", "").strip()
    check_characters(search, "q", bidi=True)  # a NUL PostgreSQL would refuse, say
    query = Query(
        search=search,
        field=field_name,
        order=order,
        equal=equal,
        offset=(number - 1) * per if view.paged else 0,
        limit=per if view.paged else 500,
    )
    state = {
        "q": query.search,
        "field": field_name,
        "sort": sort if sort in names else "",
        "desc": descending,
        "per": per,
        "page": number,
        "filters": dict(equal),
    }
    return query, state


def _url(base: str, state: Context, **changes: object) -> str:
    merged = {**state, **changes}
    params: dict[str, str] = {}
    for name in ("q", "field", "sort", "page", "per"):
        value = merged.get(name)
        if value and not (name == "page" and value == 1) and not (name == "per" and value == 25):
            params[name] = str(value)
    if merged.get("desc"):
        params["desc"] = "1"
    for name, value in merged.get("filters", {}).items():
        params[f"f-{name}"] = value
    return f"{base}?{urlencode(params)}" if params else base


def _filter_options(view: MenuPage) -> list[tuple[str, tuple[str, ...]]]:
    found = []
    for name in view.filters:
        prop = view.spec.by_name[name]
        found.append((name, ("yes", "no") if prop.kind is BOOL else prop.kind.options))
    return found


def list_page(request: Request, page: CustomerPage, view: MenuPage, **extra: Any) -> Response:
    query, state = _listing_query(view, request.query_params)
    try:
        found = userman_of(request).listing(page.actor, view.menu, query)
    except InvalidValueError as error:  # a filter's value that does not parse
        found = userman_of(request).listing(page.actor, view.menu, Query(order=view.order))
        extra.setdefault("error", str(error))
    base = f"/userman/{view.slug}"
    pages = max(1, -(-found.total // state["per"]))
    tz = zone_of(request)
    columns = [view.spec.by_name[name] for name in view.columns]
    context: Context = {
        "view": view,
        "items": found.items,
        "rows": [(0, item) for item in found.items],
        "bulk": view.bulk if may_change(page.actor, view.menu) else (),
        "total": found.total,
        "state": state,
        "pages": pages,
        "url": lambda **changes: _url(base, state, **changes),
        "columns": columns,
        "zoned": {p.name for p in columns if p.kind is DATETIME},
        "search_fields": [p.name for p in searchable(view.spec)],
        "sortable": {p.name for p in sortable(view.spec)},
        "filter_options": _filter_options(view),
        "per_page": PER_PAGE,
        "url_id": url_id,
        "cell": lambda prop, item: cell(prop, item, tz),
        "section": view.slug,
        **extra,
    }
    if view.list_context is not None:
        context.update(view.list_context(request, page, context))
    status = context.pop("status", 400 if context.get("error") else 200)
    return render(
        request, view.list_template, actor=page.actor, csrf=page.csrf, status_code=status, **context
    )


# --- the forms -------------------------------------------------------------------------------


def _ref_options(request: Request, page: CustomerPage, view: MenuPage) -> dict[str, list[str]]:
    """For each reference a form offers, the names of the items the customer may choose."""
    options: dict[str, list[str]] = {}
    for prop in form_props(view.spec, _form_names(view)):
        if prop.ref is None:
            continue
        target = MENUS[prop.ref]
        key = target.key or ".id"
        found = userman_of(request).listing(page.actor, prop.ref, Query(limit=500))
        names = [str(item.json.get(key, item.id)) for item in found.items]
        required = prop.required or prop.name in (view.spec.owner, "customer", "owner")
        options[prop.name] = names if required else ["", *names]
    return options


def _form_names(view: MenuPage) -> tuple[str, ...]:
    return tuple(name for _, names in view.form for name in names)


def _fieldsets(
    request: Request,
    page: CustomerPage,
    view: MenuPage,
    values: Mapping[str, str],
    *,
    editing: bool,
    only: frozenset[str] | None = None,
) -> list[tuple[str, list[Any]]]:
    refs = _ref_options(request, page, view)
    groups = view.form or (("", tuple(p.name for p in form_props(view.spec))),)
    needed = required(view.spec)
    zone = time_zone_name(zone_of(request))
    fieldsets = []
    for legend, names in groups:
        props = [p for p in form_props(view.spec, names) if only is None or p.name in only]
        if props:
            fields = fields_of(props, values, refs, editing=editing, needed=needed, zone=zone)
            fieldsets.append((legend, fields))
    return fieldsets


def own_account(page: CustomerPage, view: MenuPage, key: str | None) -> frozenset[str] | None:
    """What a customer that may not change customers may still change of its own account (its
    password and contact details); None for any other item."""
    own = page.actor.customer_id
    if view.menu != "customer" or own is None or key != f"*{own:X}":
        return None
    return None if may_change(page.actor, view.menu) else SELF_SERVICE


def _defaults(request: Request, view: MenuPage, page: CustomerPage) -> dict[str, str]:
    values = {}
    for prop in view.spec.props:
        if prop.default is not None and not prop.hidden:
            values[prop.name] = prop.kind.show(prop.kind.parse(prop.default, prop.name))
        elif prop.ref == "customer" and prop.name in ("customer", "owner", "parent"):
            values[prop.name] = page.actor.login
    return item_values(view, values.items(), zone_of(request))


def form_page(  # noqa: PLR0917 - what a form page shows
    request: Request,
    page: CustomerPage,
    view: MenuPage,
    values: Mapping[str, str],
    item: Item | None,
    error: tuple[int, str, str] | None = None,
    **extra: Any,
) -> Response:
    """The page of a new item's form, or of an item (its form, or its values read-only)."""
    only = own_account(page, view, item.id if item is not None else None)
    fieldsets = _fieldsets(request, page, view, values, editing=item is not None, only=only)
    context: Context = {
        "view": view,
        "item": item,
        "values": values,
        "fieldsets": fieldsets,
        "field_names": {f.name for _legend, fields in fieldsets for f in fields},
        "notes": dict(view.notes),
        "shown_fields": _shown_fields(request, view, item),
        "editable": view.editable and (may_change(page.actor, view.menu) or only is not None),
        "title": (item.fields[0][1] if item.fields else "") if item is not None else "",
        "error_prop": error[1] if error else "",
        "error": error[2].removeprefix("failure: ") if error else "",
        "saved": request.query_params.get("saved", ""),
        "url_id": url_id,
        "section": view.slug,
        "back": same_site(request.query_params.get("back"), ""),
    }
    if item is not None and view.item_context is not None:
        context.update(view.item_context(request, page, item))
    status = extra.pop("status", error[0] if error else 200)
    context.update(extra)
    template = view.item_template if item is not None else "menu/item.html"
    return render(
        request,
        template,
        actor=page.actor,
        csrf=page.csrf,
        status_code=status,
        **context,
    )


def _shown_fields(
    request: Request, view: MenuPage, item: Item | None
) -> list[tuple[str, str, bool]]:
    """An item's read-only table: (property, value as shown, whether it is a time)."""
    if item is None:
        return []
    values = item_values(view, item.fields, zone_of(request))
    props = view.spec.by_name
    return [
        (name, value, name in props and props[name].kind is DATETIME)
        for name, value in values.items()
    ]


def get_item(request: Request, page: CustomerPage, view: MenuPage, key: str) -> Item:
    return run(request, page, view.path, "get", [key]).items[0]


async def _add(request: Request, page: CustomerPage, view: MenuPage) -> Response:
    _check_may_change(page, view.menu)
    form = await request.form()
    props = form_props(view.spec, _form_names(view))
    defaults = _defaults(request, view, page)
    args, sent = arguments(form, props, None, defaults=defaults, tz=zone_of(request))
    try:
        outcome = await run_in_threadpool(run, request, page, view.path, "add", (), args)
    except UsermanError as error:
        status = form_error(error)
        values = {**defaults, **sent}
        return await run_in_threadpool(form_page, request, page, view, values, None, status)
    item = outcome.items[0]
    target = same_site(form.get("back"), f"/userman/{view.slug}/{url_id(item)}?saved=added")
    return RedirectResponse(target, status_code=303)


async def _set(request: Request, page: CustomerPage, view: MenuPage, key: str) -> Response:
    only = own_account(page, view, key)
    if only is None:
        _check_may_change(page, view.menu)
    form = await request.form()
    item = await run_in_threadpool(get_item, request, page, view, key)
    tz = zone_of(request)
    current = item_values(view, item.fields, tz)
    props = [p for p in form_props(view.spec, _form_names(view)) if only is None or p.name in only]
    args, sent = arguments(form, props, current, tz=tz)
    try:
        if args:
            named = command_key(view, item)
            await run_in_threadpool(run, request, page, view.path, "set", [named], args)
    except UsermanError as error:
        status = form_error(error)
        values = {**current, **sent}
        return await run_in_threadpool(form_page, request, page, view, values, item, status)
    default = f"/userman/{view.slug}/{url_id(item)}?saved=saved"
    return RedirectResponse(same_site(form.get("back"), default), status_code=303)


async def _bulk(request: Request, page: CustomerPage, view: MenuPage) -> Response:
    form = await request.form()
    verb = str(form.get("action", ""))
    if verb not in view.bulk:
        raise HTTPException(400, detail=f"failure: action: not one of {', '.join(view.bulk)}")
    _check_may_change(page, view.menu)
    keys = [item_key(str(ident)) for ident in form.getlist("id")]
    back = same_site(form.get("back"), f"/userman/{view.slug}")
    if not keys:
        return RedirectResponse(back, status_code=303)
    if len(keys) == 1:  # one item: history names it
        keys = [command_key(view, await run_in_threadpool(get_item, request, page, view, keys[0]))]
    try:
        await run_in_threadpool(run, request, page, view.path, verb, [",".join(keys)])
    except UsermanError as error:
        _status, _prop, message = form_error(error)
        return await run_in_threadpool(
            list_page, request, page, view, error=message.removeprefix("failure: "), status=_status
        )
    return RedirectResponse(back, status_code=303)


def _secret(request: Request, page: CustomerPage, view: MenuPage, key: str, name: str) -> str:
    prop = view.spec.by_name.get(name)
    if prop is None or not prop.sensitive or prop.hashed:
        raise HTTPException(404, detail="failure: no such secret")
    return run(request, page, view.path, "get", [key, name]).message


def install(router: APIRouter, view: MenuPage) -> None:
    """The routes of one menu's pages."""
    base = f"/{view.slug}"

    @router.get(base, response_class=HTMLResponse, name=f"{view.slug}-list")
    def list_items(request: Request, page: Page) -> Response:
        return list_page(request, page, view)

    if view.spec.addable:

        @router.get(base + "/new", response_class=HTMLResponse)
        def new_item(request: Request, page: Page) -> Response:
            _check_may_change(page, view.menu)
            values = {**_defaults(request, view, page), **request.query_params}
            return form_page(request, page, view, values, None)

        @router.post(base + "/new")
        async def add_item(request: Request, page: Change) -> Response:
            return await _add(request, page, view)

    if view.bulk:

        @router.post(base + "/bulk")
        async def bulk(request: Request, page: Change) -> Response:
            return await _bulk(request, page, view)

    if view.spec.key is not None:

        @router.get(base + "/named", response_class=HTMLResponse)
        def named_item(request: Request, page: Page, key: str = "") -> Response:
            """The page of the item with this name (a username on the status page)."""
            item = get_item(request, page, view, key) if key else None
            # By its name only: not by a print number or *ID that the text happens to be.
            if item is None or item.json.get(str(view.spec.key)) != key:
                raise HTTPException(404, detail=f"failure: no {view.singular} named {key!r}")
            return RedirectResponse(f"/userman/{view.slug}/{url_id(item)}", status_code=303)

    @router.get(base + "/{ident}", response_class=HTMLResponse)
    def show_item(request: Request, page: Page, ident: str) -> Response:
        item = get_item(request, page, view, item_key(ident))
        return form_page(
            request, page, view, item_values(view, item.fields, zone_of(request)), item
        )

    @router.get(base + "/{ident}/secret/{name}", response_class=HTMLResponse)
    def show_secret(request: Request, page: Page, ident: str, name: str) -> Response:
        value = _secret(request, page, view, item_key(ident), name)
        return render(request, "menu/secret.html", value=value)

    if view.editable:

        @router.post(base + "/{ident}")
        async def set_item(request: Request, page: Change, ident: str) -> Response:
            return await _set(request, page, view, item_key(ident))

    if not view.removable:
        return

    @router.post(base + "/{ident}/remove")
    async def remove_item(request: Request, page: Change, ident: str) -> Response:
        _check_may_change(page, view.menu)
        form = await request.form()
        key = item_key(ident)
        try:
            item = await run_in_threadpool(get_item, request, page, view, key)
            named = command_key(view, item)
            await run_in_threadpool(run, request, page, view.path, "remove", [named])
        except UsermanError as error:  # still in use: said on the item's page
            status, _prop, message = form_error(error)
            item = await run_in_threadpool(get_item, request, page, view, key)
            values = item_values(view, item.fields, zone_of(request))
            refusal = message.removeprefix("failure: ")
            return await run_in_threadpool(
                lambda: form_page(request, page, view, values, item, status=status, refusal=refusal)
            )
        return RedirectResponse(same_site(form.get("back"), f"/userman/{view.slug}"), 303)
