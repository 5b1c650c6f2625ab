"""One declarative definition per menu: its properties, their kinds and defaults, its flags.

The CLI, and later the REST API and the web pages, all read these; generic verbs in
`services.verbs` do the work. Property names and defaults are the manual's
(../shared/mikrotik-user-manager.txt). A property with `ref` names a customer by login and is
stored as that customer's id; `sensitive` ones print only with `show-sensitive`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from userman.services.fields import (
    BOOL,
    BYTES,
    COUNT,
    DATETIME,
    DECIMAL,
    DURATION,
    INT,
    IP,
    PORT,
    TEXT,
    Kind,
    choice,
    set_of,
)
from userman.store import models

__all__ = ["MENUS", "Menu", "Prop"]

ACCESS_FLAGS = (
    "own-routers",
    "own-users",
    "own-profiles",
    "own-limits",
    "config-payment-gw",
    "parent-routers",
    "parent-users",
    "parent-profiles",
    "parent-limits",
    "parent-payment-gw",
)
LOG_FLAGS = ("auth-ok", "auth-fail", "acct-ok", "acct-fail")


@dataclass(frozen=True, slots=True)
class Prop:
    name: str
    column: str
    kind: Kind = TEXT
    default: str | None = None  # RouterOS text; None: the column's own default
    ref: bool = False  # a customer, given by login
    sensitive: bool = False
    writable: bool = True
    hashed: bool = False  # stored as an argon2 hash, never shown


@dataclass(frozen=True, slots=True)
class Menu:
    name: str  # e.g. "user", "profile limitation"
    model: type[models.Base]
    key: str  # the property that names an item
    props: tuple[Prop, ...]
    flags: tuple[tuple[str, str, str], ...] = ()  # (letter, meaning, column)
    owner: str = "customer"  # the ref property that decides the subscriber
    addable: bool = True
    by_name: dict[str, Prop] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {p.name: p for p in self.props})

    @property
    def title(self) -> str:
        return self.name


DISABLED = ("X", "disabled", "disabled")

CUSTOMER = Menu(
    "customer",
    models.Customer,
    key="login",
    owner="parent",
    flags=(DISABLED,),
    props=(
        Prop("login", "login"),
        Prop("password", "password_hash", hashed=True, sensitive=True),
        Prop("parent", "parent_id", ref=True),
        Prop("permissions", "permissions", choice(("owner", "full", "read-write", "read-only"))),
        Prop("access", "access", set_of(ACCESS_FLAGS), default=""),
        Prop("backup-allowed", "backup_allowed", BOOL, default="yes"),
        Prop("disabled", "disabled", BOOL, default="no"),
        Prop("currency", "currency", default="USD"),
        Prop("time-zone", "time_zone", default="-00:00"),
        Prop("date-format", "date_format"),
        Prop("email", "email"),
        Prop("company", "company"),
        Prop("city", "city"),
        Prop("country", "country"),
        Prop("public-id", "public_id"),
        Prop("public-host", "public_host"),
        Prop("user-prefix", "user_prefix"),
        Prop("signup-allowed", "signup_allowed", BOOL, default="no"),
        Prop("paypal-allowed", "paypal_allowed", BOOL, default="no"),
        Prop("paypal-business-id", "paypal_business_id"),
        Prop("paypal-secure-response", "paypal_secure_response", BOOL, default="no"),
        Prop("paypal-accept-pending", "paypal_accept_pending", BOOL, default="no"),
        Prop("comment", "comment"),
    ),
)

ROUTER = Menu(
    "router",
    models.Router,
    key="name",
    flags=(DISABLED,),
    props=(
        Prop("name", "name"),
        Prop("customer", "customer_id", ref=True),
        Prop("ip-address", "ip_address", IP),
        Prop("shared-secret", "shared_secret", sensitive=True),
        Prop("log", "log", set_of(LOG_FLAGS), default="auth-fail"),
        Prop("use-coa", "use_coa", BOOL, default="no"),
        Prop("coa-port", "coa_port", PORT, default="1700"),
        Prop("disabled", "disabled", BOOL, default="no"),
        Prop("comment", "comment"),
    ),
)

PROFILE = Menu(
    "profile",
    models.Profile,
    key="name",
    owner="owner",
    props=(
        Prop("name", "name"),
        Prop("owner", "owner_id", ref=True),
        Prop("name-for-users", "name_for_users"),
        Prop("validity", "validity", DURATION, default="0s"),
        Prop("starts-at", "starts_at", choice(("logon", "now")), default="logon"),
        Prop("price", "price", DECIMAL, default="0"),
        Prop("override-shared-users", "override_shared_users", TEXT, default="off"),
        Prop("comment", "comment"),
    ),
)

USER = Menu(
    "user",
    models.User,
    key="username",
    flags=(DISABLED,),
    props=(
        Prop("username", "username"),
        Prop("customer", "customer_id", ref=True),
        Prop("password", "password", sensitive=True),
        Prop("disabled", "disabled", BOOL, default="no"),
        Prop("shared-users", "shared_users", COUNT, default="unlimited"),
        Prop("caller-id", "caller_id"),
        Prop("caller-id-bind-on-first-use", "caller_id_bind_on_first_use", BOOL, default="no"),
        Prop("ip-address", "ip_address", IP),
        Prop("email", "email"),
        Prop("first-name", "first_name"),
        Prop("last-name", "last_name"),
        Prop("location", "location"),
        Prop("phone", "phone"),
        Prop("reg-key", "reg_key"),
        Prop("registration-date", "registration_date", DATETIME),
        Prop(
            "wireless-enc-algo",
            "wireless_enc_algo",
            choice(("none", "40bit-wep", "104bit-wep", "aes-ccm", "tkip")),
            default="none",
        ),
        Prop("wireless-enc-key", "wireless_enc_key", sensitive=True),
        Prop("wireless-psk", "wireless_psk", sensitive=True),
        Prop("comment", "comment"),
        Prop("uptime-used", "uptime_used", DURATION, writable=False),
        Prop("download-used", "download_used", BYTES, writable=False),
        Prop("upload-used", "upload_used", BYTES, writable=False),
        Prop("last-seen", "last_seen", DATETIME, writable=False),
    ),
)

# What the router reports of where a request comes from (core.context), in sessions and logs.
WHERE = (
    Prop("nas-port", "nas_port", INT, writable=False),
    Prop("nas-port-type", "nas_port_type", writable=False),
    Prop("nas-port-id", "nas_port_id", writable=False),
    Prop("calling-station-id", "calling_station_id", writable=False),
    Prop("acct-session-id", "acct_session_id", writable=False),
    Prop("user-ip", "user_ip", writable=False),
    Prop("host-ip", "host_ip", writable=False),
)

SESSION = Menu(
    "session",
    models.UserSession,
    key="acct-session-id",
    addable=False,
    flags=(("A", "active", "active"),),
    props=(
        Prop("customer", "customer_id", ref=True, writable=False),
        Prop("user", "username", writable=False),
        *WHERE,
        Prop("status", "status", writable=False),
        Prop("from-time", "from_time", DATETIME, writable=False),
        Prop("till-time", "till_time", DATETIME, writable=False),
        Prop("terminate-cause", "terminate_cause", writable=False),
        Prop("uptime", "uptime", DURATION, writable=False),
        Prop("download", "download", BYTES, writable=False),
        Prop("upload", "upload", BYTES, writable=False),
        Prop("active", "active", BOOL, writable=False),
    ),
)

LOG = Menu(
    "log",
    models.LogEntry,
    key="time",
    addable=False,
    props=(
        Prop("customer", "customer_id", ref=True, writable=False),
        Prop("user-orig", "user_orig", writable=False),
        *WHERE,
        Prop("status", "status", writable=False),
        Prop("time", "time", DATETIME, writable=False),
        Prop("description", "description", writable=False),
    ),
)

MENUS: dict[str, Menu] = {m.name: m for m in (CUSTOMER, ROUTER, PROFILE, USER, SESSION, LOG)}
