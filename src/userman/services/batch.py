"""`user add-batch-users`: many users at once with generated names and passwords (vouchers).

Arguments (legacy web form and v7 command): number-of-users, username-prefix, username-length
(the length of the generated part after the prefix), password-length (a number, or
`same-as-username`), characters (a set of lowercase, uppercase, numbers; v7's
username-characters and password-characters are accepted too), profile (activated for each user
as by create-and-activate-profile), customer, group, shared-users, disabled, comment. Every user
is added through the generic `add`, so validation, permissions and history are the same.
"""

from __future__ import annotations

import secrets
import string

from userman.core import values
from userman.core.errors import InvalidValueError, UnknownPropertyError
from userman.services import profiles, verbs
from userman.services.fields import USERNAME
from userman.services.menus import PROFILE, USER, Menu
from userman.services.request import Context, Outcome, Request

__all__ = ["add_batch_users"]

CHARACTERS = {
    "lowercase": string.ascii_lowercase,
    "uppercase": string.ascii_uppercase,
    "numbers": string.digits,
}
PASSED_ON = ("customer", "group", "shared-users", "disabled", "comment")
LIMIT = 100_000


def _length(args: dict[str, str], name: str, default: str) -> int:
    count = values.parse_count(args.pop(name, default), name, allow_unlimited=False, minimum=1)
    assert count is not None
    if count > 64:
        raise InvalidValueError(name, f"{count} is longer than 64 characters")
    return count


def _alphabet(args: dict[str, str], name: str, characters: str) -> str:
    """The characters of `name` (v7), or else of `characters` (the legacy form's one set)."""
    given = name in args
    text = args.pop(name) if given else characters
    chosen = values.parse_set(text, name if given else "characters", tuple(CHARACTERS))
    if not chosen:
        raise InvalidValueError(name, "choose at least one of lowercase, uppercase, numbers")
    return "".join(CHARACTERS[c] for c in CHARACTERS if c in chosen)


def add_batch_users(ctx: Context, menu: Menu, request: Request) -> Outcome:
    if request.positional:
        raise InvalidValueError(request.positional[0], "add-batch-users takes name=value pairs")
    args = dict(request.args)
    count = values.parse_count(
        args.pop("number-of-users", ""), "number-of-users", allow_unlimited=False, minimum=1
    )
    assert count is not None
    if count > LIMIT:
        raise InvalidValueError("number-of-users", f"at most {LIMIT} at once")
    # The generated usernames follow the username's rules: the prefix must, too.
    prefix = str(USERNAME.parse(args.pop("username-prefix", ""), "username-prefix"))
    name_length = _length(args, "username-length", "6")
    same = args.get("password-length") == "same-as-username"
    if same:
        args.pop("password-length")
    password_length = 0 if same else _length(args, "password-length", "8")
    characters = args.pop("characters", "lowercase,numbers")
    name_chars = _alphabet(args, "username-characters", characters)
    password_chars = _alphabet(args, "password-characters", characters)
    profile = args.pop("profile", "")
    passed = {name: args.pop(name) for name in PASSED_ON if name in args}
    if args:
        raise UnknownPropertyError(next(iter(args)), "user add-batch-users")
    if len(name_chars) ** name_length < 4 * count:
        raise InvalidValueError("username-length", f"too short for {count} different usernames")
    owner = verbs.resolve_customer(ctx.db, ctx.actor, passed.get("customer") or None)
    chosen = None
    if profile:
        chosen = verbs.find(ctx.db, ctx.actor, PROFILE, profile, owner.subscriber_id)
    taken = {str(row.username) for _, row, _ in verbs.select_rows(ctx.db, ctx.actor, USER)}
    made = []
    for done in range(count):
        username = prefix + "".join(secrets.choice(name_chars) for _ in range(name_length))
        while username in taken:
            username = prefix + "".join(secrets.choice(name_chars) for _ in range(name_length))
        taken.add(username)
        password = (
            username
            if same
            else "".join(secrets.choice(password_chars) for _ in range(password_length))
        )
        row = verbs.add(
            ctx.db, ctx.actor, USER, {**passed, "username": username, "password": password}
        )
        if chosen is not None:
            profiles.activate(ctx.db, row, chosen, ctx.now)
        # What a voucher needs: the username and the password.
        fields = (("username", username), ("password", password))
        made.append(
            verbs.Item(verbs.item_id(row), "", fields, {".id": verbs.item_id(row), **dict(fields)})
        )
        if ctx.progress is not None:
            ctx.progress(done + 1, count)
    return Outcome(menu, tuple(made), tuple(range(len(made))), frozenset({"terse"}))
