"""Each subscriber's own settings: SMTP, the sign-up e-mail, the voucher template, payment.

`SETTINGS` declares them, one line each (name, group, label, kind, default, sensitive); they are
stored as name/value rows (models.SubscriberSetting), RouterOS text as `print` would show it; a
setting without a row has its default (setting it empty removes the row), so a new one needs no
schema change. They are not a menu: a subscriber has exactly one set, which the generic verbs
(items named by key, `*ID` or number; add and remove) do not describe. Reading needs full
permissions (the values include the SMTP server and sender); changing them the level of
`may_change(actor, "settings")`, and the payment gateway's also the access flag
config-payment-gw unless the actor is an owner. A change is one history entry (`UMS settings
changed`), which `history undo` reverts. Sensitive values (passwords, secrets) are shown only
with `show_sensitive`, to who may change them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from userman.core.errors import InvalidValueError, PermissionDeniedError, UnknownPropertyError
from userman.services import history, permissions, verbs
from userman.services.actor import LEVELS, Actor
from userman.services.fields import PORT, SECRET, TEMPLATE, TEXT, Kind, choice
from userman.services.menus import Menu
from userman.services.request import Context, Outcome, Request
from userman.store import models

__all__ = [
    "GROUPS",
    "MENU",
    "SETTINGS",
    "Setting",
    "SettingValue",
    "change",
    "check_read",
    "export_command",
    "may_change_group",
    "print_command",
    "read",
    "set_command",
    "subscriber_of",
    "values",
]

MENU = "settings"  # its name for permissions (WRITE_LEVEL) and history

DEFAULT_SIGNUP_BODY = """Hello,

you (or someone using your address) signed up for an account with the username %u_username%.
Open this link to activate it; then log in with your username and password:

%u_activation_link%

If you did not sign up, ignore this message and nothing happens.
"""

DEFAULT_VOUCHER_HEADER = '<div class="vouchers">'
DEFAULT_VOUCHER_ROW = """<section class="voucher">
  <header>Internet access</header>
  <div class="login">
    <div><small>Username</small><code>%u_username%</code></div>
    <div><small>Password</small><code>%u_password%</code></div>
  </div>
  <dl>
    <dt>Profile</dt><dd>%u_profile%</dd>
    <dt>Valid for</dt><dd>%u_validity%</dd>
    <dt>Price</dt><dd>%u_price%</dd>
  </dl>
</section>"""
DEFAULT_VOUCHER_FOOTER = "</div>"


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    group: str  # its part of the settings page: one of GROUPS
    label: str  # on the settings page
    kind: Kind = TEMPLATE  # at most 20,000 characters; tabs and line breaks, no other control
    default: str = ""
    sensitive: bool = False  # shown only with show-sensitive; the page keeps it unless retyped
    lines: int = 0  # a text area of this many lines on the page (0: one line)
    help: str = ""


GROUPS = {
    "smtp": "Mail (SMTP)",
    "signup": "Sign-up e-mail",
    "voucher": "Voucher template",
    "payment": "Payments",
}

SIGNUP_CONSTANTS = "%u_username% %u_firstName% %u_lastName% %u_email% %u_activation_link%"
VOUCHER_CONSTANTS = (
    "%u_username% %u_password% %u_owner% %u_firstName% %u_lastName% %u_phone% %u_location%"
    " %u_email% %u_comment% %u_ipAddr% %u_group% %u_profile% %u_actualProfileName%"
    " %u_validity% %u_price% %u_limitUptime% %u_limitDownload% %u_limitUpload%"
    " %u_limitTransfer%"
)


def _parse_url(text: str, prop: str) -> str:
    """An http(s) URL without spaces, as the PayPal endpoints are given."""
    url = text.strip()
    if not url.startswith(("https://", "http://")) or any(c.isspace() for c in url):
        raise InvalidValueError(prop, "an http:// or https:// URL")
    return url.rstrip("/")


URL = Kind("url", _parse_url, TEXT.show, TEXT.json)

# One line per setting; the page shows them in this order, by group.
SETTINGS: tuple[Setting, ...] = (
    Setting("smtp-server", "smtp", "Server", help="name or address of the SMTP server"),
    Setting("smtp-port", "smtp", "Port", PORT, "25"),
    Setting(
        "smtp-security",
        "smtp",
        "Security",
        choice(("none", "starttls", "tls")),
        "none",
        help="starttls on port 587, tls on 465",
    ),
    Setting("smtp-user", "smtp", "User", help="empty: no log-in"),
    Setting("smtp-password", "smtp", "Password", SECRET, sensitive=True),
    Setting(
        "smtp-from", "smtp", "From address", help="empty: the customer's e-mail address"
    ),
    Setting("signup-subject", "signup", "Subject", default="Activate your account"),
    Setting(
        "signup-body", "signup", "Text", default=DEFAULT_SIGNUP_BODY, lines=9,
        help=SIGNUP_CONSTANTS,
    ),
    Setting(
        "voucher-header", "voucher", "Header (HTML)", default=DEFAULT_VOUCHER_HEADER, lines=3
    ),
    Setting(
        "voucher-row", "voucher", "Row (HTML, one per user)", default=DEFAULT_VOUCHER_ROW,
        lines=12, help=VOUCHER_CONSTANTS,
    ),
    Setting(
        "voucher-footer", "voucher", "Footer (HTML)", default=DEFAULT_VOUCHER_FOOTER, lines=3
    ),
    Setting(
        "paypal-client-id", "payment", "PayPal client id",
        help="of the REST API app (developer.paypal.com); the customer's paypal-allowed, "
        "paypal-business-id and public-host say who is paid and where PayPal calls back",
    ),
    Setting("paypal-secret", "payment", "PayPal secret", SECRET, sensitive=True),
    Setting(
        "paypal-webhook-id", "payment", "PayPal webhook id",
        help="of the webhook that calls https://PUBLIC-HOST/user/paypal/webhook",
    ),
    Setting(
        "paypal-api-url", "payment", "PayPal REST API", URL, "https://api-m.paypal.com",
        help="https://api-m.sandbox.paypal.com to test with the sandbox",
    ),
    Setting(
        "paypal-ipn-url", "payment", "PayPal IPN post-back", URL,
        "https://ipnpb.paypal.com/cgi-bin/webscr",
        help="where IPN messages are verified; https://ipnpb.sandbox.paypal.com/cgi-bin/webscr "
        "for the sandbox",
    ),
)  # fmt: skip

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


@dataclass(frozen=True, slots=True)
class SettingValue:
    setting: Setting
    text: str  # as print shows it; "" for a sensitive one not shown
    is_set: bool  # a sensitive one has a value (shown or not)


def subscriber_of(db: Session, actor: Actor, subscriber: str | None = None) -> int:
    """Whose settings: the actor's subscriber; the superuser names one (or has only one). A
    customer naming a customer it cannot see is refused (not found), never shown its own."""
    if actor.subscriber_id is not None:
        if subscriber:
            verbs.resolve_customer(db, actor, subscriber)  # within its reach, or NotFound
        return actor.subscriber_id
    customer = verbs.resolve_customer(db, actor, subscriber)
    assert customer.subscriber_id is not None
    return customer.subscriber_id


def may_change_group(actor: Actor, group: str) -> bool:
    """The payment gateway's settings are an owner's, or need the access flag the manual names
    for it (config-payment-gw); the others, the level of may_change(actor, "settings")."""
    if not permissions.may_change(actor, MENU):
        return False
    if group != "payment" or actor.sees_everything:
        return True
    return "config-payment-gw" in actor.access


def check_read(actor: Actor) -> None:
    if not actor.is_superuser and actor.level < LEVELS["full"]:
        raise PermissionDeniedError(
            "full permissions", f"{actor.login} has {actor.permissions} for {MENU} print"
        )


def _stored(db: Session, subscriber_id: int) -> dict[str, models.SubscriberSetting]:
    rows = db.scalars(
        select(models.SubscriberSetting).where(
            models.SubscriberSetting.subscriber_id == subscriber_id
        )
    )
    return {row.name: row for row in rows}


def read(db: Session, subscriber_id: int) -> dict[str, object]:
    """Every setting's value (parsed by its kind), for the services that use them."""
    stored = _stored(db, subscriber_id)
    found: dict[str, object] = {}
    for setting in SETTINGS:
        row = stored.get(setting.name)
        text = row.value if row is not None else setting.default
        try:
            found[setting.name] = setting.kind.parse(text, setting.name)
        except InvalidValueError:  # stored by an older version with other rules
            found[setting.name] = setting.kind.parse(setting.default, setting.name)
    return found


def values(
    db: Session, actor: Actor, subscriber: str | None = None, *, show_sensitive: bool = False
) -> list[SettingValue]:
    """The settings as the page and the API show them."""
    check_read(actor)
    if show_sensitive:
        permissions.check_level(actor, MENU, "show-sensitive")
    parsed = read(db, subscriber_of(db, actor, subscriber))
    shown: list[SettingValue] = []
    for setting in SETTINGS:
        text = setting.kind.show(parsed[setting.name])
        hidden = setting.sensitive and not (
            show_sensitive and may_change_group(actor, setting.group)
        )
        shown.append(SettingValue(setting, "" if hidden else text, bool(text)))
    return shown


def change(
    db: Session,
    actor: Actor,
    args: Mapping[str, str],
    now: dt.datetime,
    subscriber: str | None = None,
) -> None:
    """`settings set name=value ...`: every value parsed before anything is written."""
    check_read(actor)
    permissions.check_level(actor, MENU, "set")
    parsed: dict[str, str] = {}
    for name, text in args.items():
        setting = BY_NAME.get(name)
        if setting is None:
            raise UnknownPropertyError(name, MENU)
        if not may_change_group(actor, setting.group):
            raise PermissionDeniedError(
                "config-payment-gw access", f"{actor.login} may not change {name}"
            )
        # An empty value is the default (its row goes): "" for the SMTP fields, the built-in
        # templates for the others.
        parsed[name] = text and setting.kind.show(setting.kind.parse(text, name))
    subscriber_id = subscriber_of(db, actor, subscriber)
    with history.recording(db, actor, f"UMS {MENU} changed", now):
        stored = _stored(db, subscriber_id)
        for name, text in parsed.items():
            row = stored.get(name)
            if row is None:
                if text:
                    db.add(
                        models.SubscriberSetting(subscriber_id=subscriber_id, name=name, value=text)
                    )
            elif not text:
                db.delete(row)
            elif row.value != text:
                row.value = text


# The commands `settings print [show-sensitive] [subscriber=LOGIN]`, `settings set name=value
# ... [subscriber=LOGIN]` and `settings export` (services.commands.SPECIAL), so that the shell,
# the console, scripts and `export` reach the settings too. `print` gives the one item, which
# the CLI shows as RouterOS shows a menu of one item (`/ip dns print`): `name: value` lines.


def _whose(request: Request) -> tuple[str | None, dict[str, str]]:
    args = dict(request.args)
    return args.pop("subscriber", None), args


def print_command(ctx: Context, menu: Menu, request: Request) -> Outcome:
    subscriber, args = _whose(request)
    if args:
        raise UnknownPropertyError(next(iter(args)), f"{MENU} print")
    options = set(request.positional)
    if options - {"show-sensitive"}:
        raise InvalidValueError(sorted(options)[0], f"unknown option of {MENU} print")
    shown = values(ctx.db, ctx.actor, subscriber, show_sensitive="show-sensitive" in options)
    fields = tuple((v.setting.name, v.text) for v in shown)
    return Outcome(None, (verbs.Item("*0", "", fields, dict(fields)),))


def set_command(ctx: Context, menu: Menu, request: Request) -> Outcome:
    if request.positional:
        raise InvalidValueError(request.positional[0], f"{MENU} set takes only name=value pairs")
    subscriber, args = _whose(request)
    if not args:
        raise InvalidValueError(MENU, "say what to set (name=value)")
    change(ctx.db, ctx.actor, args, ctx.now, subscriber)
    return Outcome(None)


def export_command(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """`settings export`: a `settings set` line for each subscriber the actor reads the settings
    of (the superuser: every one, named with `subscriber=`), with the values that are not the
    default, secrets only with show-sensitive; nothing for who may not read them, so that a
    whole `export` still works for them."""
    options = set(request.positional)
    if options - {"show-sensitive", "terse", "verbose"}:
        raise InvalidValueError(sorted(options)[0], f"unknown option of {MENU} export")
    actor = ctx.actor
    if not actor.is_superuser and actor.level < LEVELS["full"]:
        return Outcome(None)
    show_sensitive = "show-sensitive" in options
    if show_sensitive:
        permissions.check_level(actor, MENU, "show-sensitive")
    customer = models.Customer
    stmt = select(customer).where(customer.id == customer.subscriber_id).order_by(customer.id)
    if actor.subscriber_id is not None:
        stmt = stmt.where(customer.id == actor.subscriber_id)
    subscribers = ctx.db.scalars(stmt)
    lines = []
    for subscriber in subscribers:
        stored = _stored(ctx.db, subscriber.id)
        args = [
            (setting.name, stored[setting.name].value)
            for setting in SETTINGS
            if setting.name in stored
            and (
                not setting.sensitive or (show_sensitive and may_change_group(actor, setting.group))
            )
        ]
        if args and actor.is_superuser:
            args.insert(0, ("subscriber", subscriber.login))
        if args:
            lines.append(verbs.ExportItem(MENU, "set", (), tuple(args)))
    return Outcome(None, exported=tuple(lines))
