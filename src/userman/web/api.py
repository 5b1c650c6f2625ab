"""The REST API under /api/v1: every menu and verb of the CLI, through the same services.

Each menu is a collection named as in RouterOS v7 (`/api/v1/user`, `/api/v1/limitation`,
`/api/v1/profile-limitation`, `/api/v1/user-group`, ...), its items addressed as on the
command line, by name or `*ID`:

    GET    /api/v1/user                      print (?where=username~^a&where=disabled=no,
                                             ?show-sensitive=true): a JSON array
    GET    /api/v1/user/{item}               get: one object
    POST   /api/v1/user                      add (a JSON object of properties): 201, the item
    PATCH  /api/v1/user/{item}               set: the item as it is now
    DELETE /api/v1/user/{item}               remove: 204
    POST   /api/v1/user/{item}/enable        enable, disable (menus with `disabled`)
    POST   /api/v1/user/{item}/{verb}        the menus' own verbs on an item
    POST   /api/v1/user/add-batch-users      ... and those on the whole menu

Beside the menus: /api/v1/token (API tokens) and /api/v1/web-session (the customer's log-ins to
the web pages, to list and to end, one or all).

Objects have the property names and values of `userman --json`; a request's values may be
JSON strings in RouterOS notation ("10M", "1d2h"), numbers, booleans (yes/no) or lists (sets).
Every request is one transaction, checked against the customer's permissions and recorded in
history, as the CLI's. Errors are JSON objects, `{"error": "failure: ...", "property": ...}`.
"""

# No `from __future__ import annotations`: FastAPI reads the request body's type from the
# handlers' annotations, and each menu's body model is a local variable.
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, create_model

from userman.core.errors import InvalidValueError, NotFoundError
from userman.core.patterns import MAX_LENGTH
from userman.services import MENU_ALIASES, MENUS, Actor, Menu, Outcome, Scope, verbs_of
from userman.web.auth import api_actor
from userman.web.pages import userman_of

__all__ = [
    "Result",
    "api_router",
    "special_verbs",
    "url_name",
]

Scalar = str | int | float | bool
Value = Scalar | list[Scalar] | None

_URL_NAMES = {menu: alias for alias, menu in MENU_ALIASES.items()}
WHERE = (
    "PROP=VALUE, or PROP~REGEX: an RE2 pattern (no backreferences or lookaround, at most"
    f" {MAX_LENGTH} characters) searched for in the value as print shows it"
)


def url_name(menu_name: str) -> str:
    """The collection's name in the URL: v7's one-word name (`limitation`, `user-group`)."""
    return _URL_NAMES.get(menu_name, menu_name)


class Result(BaseModel):
    """What a verb that is not add/set/remove gives back."""

    message: str = ""
    count: int | None = None
    items: list[dict[str, Any]] = Field(default_factory=list)


def text_of(name: str, value: object) -> str:
    """A JSON value as the CLI's text: booleans as yes/no, lists as sets, null as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, list):
        return ",".join(text_of(name, part) for part in value)
    raise InvalidValueError(name, "must be a string, number, boolean or list")


def _args(body: BaseModel | Mapping[str, Any] | None) -> dict[str, str]:
    if body is None:
        return {}
    given = body if isinstance(body, Mapping) else _given(body)
    return {name: text_of(name, value) for name, value in given.items()}


def _given(body: BaseModel) -> dict[str, Any]:
    given = body.model_dump(by_alias=True, exclude_unset=True)
    given.update(body.model_extra or {})
    return given


def _conditions(where: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """`?where=` conditions as `print where` takes them: PROP~REGEX words, PROP=VALUE args."""
    words: list[str] = []
    args: dict[str, str] = {}
    for condition in where:
        equals, tilde = condition.find("="), condition.find("~")
        if tilde != -1 and (equals == -1 or tilde < equals):
            words.append(condition)
        elif equals != -1:
            args[condition[:equals]] = condition[equals + 1 :]
        else:
            raise InvalidValueError(condition, "a condition is PROP=VALUE or PROP~REGEX")
    return words, args


def _body_model(menu: Menu) -> type[BaseModel]:
    """A request body documenting the menu's writable properties (others are refused by the
    services with the property's name, as on the command line)."""
    fields: dict[str, Any] = {}
    for prop in menu.props:
        if not prop.writable or prop.hidden or prop.compute is not None:
            continue
        about = f"{prop.kind.name}" + (f", default {prop.default}" if prop.default else "")
        if prop.kind.limit is not None:
            about += f", at most {prop.kind.limit} {prop.kind.unit}"
        if prop.ref:
            about = f"the {prop.ref} (by name or *ID)"
        field_name = prop.name.replace("-", "_")
        fields[field_name] = (Value, Field(default=None, alias=prop.name, description=about))
    title = "".join(part.capitalize() for part in url_name(menu.name).split("-"))
    model: type[BaseModel] = create_model(
        f"{title}Properties",
        __config__=ConfigDict(extra="allow", populate_by_name=False),
        **fields,
    )
    return model


def _run(
    request: Request,
    actor: Actor,
    path: Sequence[str],
    verb: str,
    *,
    positional: Sequence[str] = (),
    args: Mapping[str, str] | None = None,
) -> Outcome:
    """One command as one transaction; a refusal the services recorded (a failed undo) is 409."""
    userman = userman_of(request)
    outcome = userman.execute(actor, path, verb, positional, args)
    if outcome.error:
        raise HTTPException(409, detail=f"failure: {outcome.error}")
    return outcome


ActorDep = Annotated[Actor, Depends(api_actor)]


def _one(outcome: Outcome) -> dict[str, Any]:
    return dict(outcome.items[0].json)


def _result(outcome: Outcome) -> Result:
    return Result(
        message=outcome.message,
        count=outcome.count,
        items=[dict(item.json) for item in outcome.items],
    )


def _add_collection(router: APIRouter, menu: Menu) -> None:
    path = tuple(menu.name.split())
    base = f"/{url_name(menu.name)}"
    tag = url_name(menu.name)
    body_model = _body_model(menu)

    def execute(
        request: Request,
        actor: Actor,
        verb: str,
        positional: Sequence[str] = (),
        args: Mapping[str, str] | None = None,
    ) -> Outcome:
        return _run(request, actor, path, verb, positional=positional, args=args)

    def get_item(request: Request, actor: Actor, item: str) -> dict[str, Any]:
        return _one(execute(request, actor, "get", [item]))

    def id_to_change(
        request: Request, actor: Actor, item: str, verb: str, args: Mapping[str, str] | None = None
    ) -> str:
        """The *ID of the item a change names. One the actor does not see is changed as named,
        so the refusal is the services' own: the permission it lacks for an item it knows (its
        parent customer), else "no such item"."""
        try:
            return str(get_item(request, actor, item)[".id"])
        except NotFoundError:
            execute(request, actor, verb, [item], args)
            raise

    @router.get(base, tags=[tag], summary=f"print: the {menu.name} items")
    def print_items(
        request: Request,
        actor: ActorDep,
        where: Annotated[list[str], Query(description=WHERE)] = [],  # noqa: B006
        show_sensitive: Annotated[bool, Query(alias="show-sensitive")] = False,
    ) -> list[dict[str, Any]]:
        words, args = _conditions(where)
        positional = ["show-sensitive"] if show_sensitive else []
        if words or args:
            positional += ["where", *words]
        return [dict(i.json) for i in execute(request, actor, "print", positional, args).items]

    @router.get(base + "/{item}", tags=[tag], summary=f"get: one {menu.name} item")
    def get_one(
        request: Request,
        actor: ActorDep,
        item: str,
        show_sensitive: Annotated[bool, Query(alias="show-sensitive")] = False,
    ) -> dict[str, Any]:
        words = [item, "show-sensitive"] if show_sensitive else [item]
        return _one(execute(request, actor, "get", words))

    if menu.addable:

        @router.post(base, tags=[tag], status_code=201, summary=f"add: a new {menu.name} item")
        def add(request: Request, actor: ActorDep, body: body_model) -> dict[str, Any]:  # type: ignore[valid-type]
            return _one(execute(request, actor, "add", (), _args(body)))

    if any(prop.writable and prop.compute is None for prop in menu.props):

        @router.patch(base + "/{item}", tags=[tag], summary=f"set: change a {menu.name} item")
        def set_item(
            request: Request,
            actor: ActorDep,
            item: str,
            body: body_model,  # type: ignore[valid-type]
        ) -> dict[str, Any]:
            args = _args(body)
            row_id = id_to_change(request, actor, item, "set", args)
            execute(request, actor, "set", [row_id], args)
            return get_item(request, actor, row_id)

    @router.delete(base + "/{item}", tags=[tag], status_code=204, summary=f"remove: a {menu.name}")
    def remove(request: Request, actor: ActorDep, item: str) -> Response:
        execute(request, actor, "remove", [item])
        return Response(status_code=204)

    if "disabled" in menu.by_name:
        for verb in ("enable", "disable"):
            _add_toggle(router, base, tag, menu, verb, execute, get_item, id_to_change)

    # The menu's own verbs, as its definition declares them (Menu.verbs); its own `add` is
    # the collection's POST above.
    for own in menu.verbs:
        if own.scope is Scope.ITEM:
            _add_item_verb(router, base, tag, own.name, execute)
        elif own.scope is Scope.READ_ITEM:
            _add_read_verb(router, base, tag, own.name, execute)
        elif own.scope is Scope.MENU:
            _add_menu_verb(router, base, tag, path, own.name)


Execute = Callable[..., Outcome]


def _add_toggle(  # noqa: PLR0917 - the route's parts
    router: APIRouter,
    base: str,
    tag: str,
    menu: Menu,
    verb: str,
    execute: Execute,
    get_item: Callable[[Request, Actor, str], dict[str, Any]],
    id_to_change: Callable[[Request, Actor, str, str], str],
) -> None:
    @router.post(base + "/{item}/" + verb, tags=[tag], summary=f"{verb}: a {menu.name} item")
    def toggle(request: Request, actor: ActorDep, item: str) -> dict[str, Any]:
        row_id = id_to_change(request, actor, item, verb)
        execute(request, actor, verb, [row_id])
        return get_item(request, actor, row_id)


def _add_item_verb(router: APIRouter, base: str, tag: str, verb: str, execute: Execute) -> None:
    @router.post(base + "/{item}/" + verb, tags=[tag], summary=f"{tag} {verb}")
    def item_verb(
        request: Request,
        actor: ActorDep,
        item: str,
        body: Annotated[dict[str, Value] | None, Body()] = None,
    ) -> Result:
        return _result(execute(request, actor, verb, [item], _args(body)))


def _add_read_verb(router: APIRouter, base: str, tag: str, verb: str, execute: Execute) -> None:
    @router.get(base + "/{item}/" + verb, tags=[tag], summary=f"{tag} {verb}")
    def read_verb(request: Request, actor: ActorDep, item: str) -> Result:
        return _result(execute(request, actor, verb, [item]))


def _add_menu_verb(
    router: APIRouter, base: str, tag: str, path: tuple[str, ...], verb: str
) -> None:
    @router.post(base + "/" + verb, tags=[tag], summary=f"{tag} {verb}")
    def menu_verb(
        request: Request,
        actor: ActorDep,
        body: Annotated[dict[str, Value] | None, Body()] = None,
    ) -> Result:
        return _result(_run(request, actor, path, verb, args=_args(body)))


class TokenRequest(BaseModel):
    name: str = Field(description="What the token is for, unique among the customer's tokens")


class Token(BaseModel):
    name: str
    created: str
    last_used: str | None = Field(default=None, serialization_alias="last-used")


class NewToken(BaseModel):
    name: str
    token: str = Field(description="Send as `Authorization: Bearer TOKEN`; shown only now")


def _add_tokens(router: APIRouter) -> None:
    @router.post("/token", tags=["token"], status_code=201, summary="make an API token")
    def make_token(request: Request, actor: ActorDep, body: TokenRequest) -> NewToken:
        userman = userman_of(request)
        return NewToken(name=body.name, token=userman.make_token(actor, body.name))

    @router.get("/token", tags=["token"], summary="your API tokens (without the tokens)")
    def list_tokens(request: Request, actor: ActorDep) -> list[Token]:
        userman = userman_of(request)
        return [
            Token(
                name=info.name,
                created=info.created.isoformat(),
                last_used=info.last_used.isoformat() if info.last_used else None,
            )
            for info in userman.tokens(actor)
        ]

    @router.delete("/token/{name}", tags=["token"], status_code=204, summary="revoke a token")
    def revoke_token(request: Request, actor: ActorDep, name: str) -> Response:
        userman = userman_of(request)
        userman.revoke_token(actor, name)
        return Response(status_code=204)


class WebSessionEntry(BaseModel):
    id: int = Field(description="What DELETE /api/v1/web-session/{id} takes")
    login: str = Field(description="The customer it is of")
    created: str
    last_used: str = Field(serialization_alias="last-used")
    expires: str
    address: str = Field(description="The client address it logged in from")
    agent: str = Field(description="The browser it logged in with (its User-Agent)")


def _add_web_sessions(router: APIRouter) -> None:
    """A customer's log-ins to the web pages: listed, and ended one by one or all at once."""

    @router.get("/web-session", tags=["web-session"], summary="your live web log-ins")
    def list_web_sessions(request: Request, actor: ActorDep) -> list[WebSessionEntry]:
        return [
            WebSessionEntry(
                id=info.id,
                login=info.login,
                created=info.created.isoformat(),
                last_used=info.last_used.isoformat(),
                expires=info.expires.isoformat(),
                address=info.address,
                agent=info.agent,
            )
            for info in userman_of(request).web_sessions(actor)
        ]

    @router.delete(
        "/web-session/{session_id}",
        tags=["web-session"],
        status_code=204,
        summary="log out a web session",
    )
    def revoke_web_session(request: Request, actor: ActorDep, session_id: int) -> Response:
        userman_of(request).revoke_web_session(actor, session_id)
        return Response(status_code=204)

    @router.delete("/web-session", tags=["web-session"], summary="log out every web session")
    def revoke_web_sessions(request: Request, actor: ActorDep) -> Result:
        ended = userman_of(request).revoke_web_session(actor, None)
        return Result(message=f"{ended} web sessions ended", count=ended)


def api_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    for menu in MENUS.values():
        _add_collection(router, menu)
    for area in ("database", "certificate"):
        for verb in verbs_of(area):
            _add_menu_verb(router, f"/{area}", area, (area,), verb)
    _add_tokens(router)
    _add_web_sessions(router)
    return router


def special_verbs() -> set[tuple[str, str]]:
    """The (menu, verb) pairs the API offers beside the generic ones, for a test to compare
    with services.SPECIAL."""
    pairs = {(menu.name, verb.name) for menu in MENUS.values() for verb in menu.verbs}
    database = {(area, verb) for area in ("database", "certificate") for verb in verbs_of(area)}
    # The settings are GET/PATCH /api/v1/settings (web/settings.py).
    settings = {("settings", "print"), ("settings", "set"), ("settings", "export")}
    return pairs | database | settings
