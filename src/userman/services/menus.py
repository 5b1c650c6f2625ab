"""One declarative definition per menu: its properties, their kinds and defaults, its flags,
who may see and change its items, its own verbs, and which users a change of an item touches.

The CLI, the REST API and the web pages all read these; the generic verbs in `services.verbs`
do the work. What used to be found by comparing menu names is declared here once and read by
every module that needs it: `visibility` and `write_level` by services/permissions.py, `verbs`
by services/commands.py (which holds their handlers, and refuses at import a handler no menu
declares) and web/api.py (its routes), `affects`, `disabled_cause` and `removed_cause` by
services/coa.py and services/enforce.py (CoA and Disconnect for the users a change touches).
The policy in memory needs nothing from here: the database's triggers (migration 0014) note
every changed row of the tables a decision reads, whichever menu or verb changed it.

Property names and defaults are the manual's (../shared/mikrotik-user-manager.txt), with the v7
names as aliases. A property with `ref` names an item of another menu (by login, name or *ID)
and is stored as its id; `sensitive` ones print only with `show-sensitive`; `hidden` ones (v7
spellings) are accepted but never printed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from userman.core.profiles import ProfileState
from userman.services.actor import LEVELS
from userman.services.coa import CUSTOMER_DISABLED, USER_DELETED, USER_DISABLED
from userman.services.fields import (
    ATTRIBUTE_NAME,
    ATTRIBUTES,
    BOOL,
    BYTES,
    COMMENT,
    COUNT,
    DATETIME,
    DECIMAL,
    DURATION,
    INT,
    IP,
    IPV6,
    NAME,
    OTP_SECRET,
    OVERRIDE,
    PASSWORD,
    PASSWORD_HASH,
    PORT,
    PRIORITY,
    RATE,
    SECRET,
    TEXT,
    TIME_OF_DAY,
    TIME_ZONE,
    TYPE_ID,
    USERNAME,
    VALIDITY,
    VENDOR_ID,
    Kind,
    choice,
    enum_of,
    label,
    mapped,
    set_of,
)
from userman.store import models

__all__ = [
    "CUSTOMER",
    "HISTORY",
    "MENUS",
    "MENU_ALIASES",
    "PROFILE",
    "USER",
    "Affects",
    "Menu",
    "Prop",
    "Scope",
    "Verb",
    "Visibility",
    "menu_for",
]

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
WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
AUTHS = ("pap", "chap", "mschap1", "mschap2", "eap-tls", "eap-ttls", "eap-peap", "eap-mschap2")
# v7's methods inside a tunnel (core/authorize.py InnerAuth); ttls-eap: TTLS with inner EAP.
INNER_AUTHS = ("ttls-pap", "ttls-chap", "ttls-mschap1", "ttls-mschap2", "ttls-eap", "peap-mschap2")
# At a user's shared-users limit: refuse (legacy User Manager) or end the oldest session (v7).
SHARED_USERS_CHOICES = ("reject", "disconnect-oldest")
VALUE_TYPES = ("string", "hex", "ip-address", "ip6-prefix", "macaddress", "uint32", "uint64")


@dataclass(frozen=True, slots=True)
class Prop:
    name: str
    column: str
    kind: Kind = TEXT
    default: str | None = None  # RouterOS text; None: the column's own default
    ref: str | None = None  # the menu whose item this names (by its key or *ID)
    sensitive: bool = False
    writable: bool = True
    hashed: bool = False  # stored as an argon2 hash, never shown
    hidden: bool = False  # accepted on input (another generation's name), never printed
    compute: Callable[[Session, Any], object] | None = None  # read-only, derived
    required: bool = False  # a reference every item must have (the owner's always is)
    unique: bool = False  # no two items share it: `copy-from` leaves it to be made anew
    aliases: tuple[str, ...] = ()
    # A reference's name for the built-in item that "none" stands for (v7's user group
    # `default`): it means none, unless an item of that name exists.
    builtin: str = ""
    clears: tuple[str, ...] = ()  # columns a value given for it empties (what was learned)


Flag = tuple[str, str, Callable[[Any], bool]]  # (letter, meaning, test)

# Which users' decisions a change of these items (of one menu, inside the change's transaction,
# before a removal) may change: their ids.
Affects = Callable[[Session, Sequence[Any]], set[int]]


class Visibility(Enum):
    """Which items of a menu a customer that is not an owner sees (services/permissions.py)."""

    # Those of the customers its access flags reach for the menu's `area`: by the item's own
    # customer (or owner) property, else by the item that its `owner` property names.
    REACH = "reach"
    TREE = "tree"  # the customer itself and the customers below it (the customer menu)
    ACTOR = "actor"  # what it did itself (history)


class Scope(Enum):
    """What a menu's own verb acts on, which is how the REST API offers it (web/api.py)."""

    ITEM = "item"  # POST /api/v1/MENU/{item}/VERB
    READ_ITEM = "read-item"  # GET /api/v1/MENU/{item}/VERB: it changes nothing
    MENU = "menu"  # POST /api/v1/MENU/VERB
    ADD = "add"  # the menu's own `add`: POST /api/v1/MENU


@dataclass(frozen=True, slots=True)
class Verb:
    """A verb only this menu has; its handler is in services/commands.py's SPECIAL."""

    name: str
    scope: Scope


@dataclass(frozen=True, slots=True)
class Menu:
    name: str  # e.g. "user", "profile limitation"
    model: type[models.Base]
    key: str | None  # the property that names an item; None: only *ID or number
    props: tuple[Prop, ...]
    flags: tuple[Flag, ...] = ()
    owner: str = "customer"  # the ref property whose item decides the subscriber
    addable: bool = True
    area: str = ""  # the access flag family: routers, users, profiles, limits
    visibility: Visibility = Visibility.REACH
    write_level: str = "read-write"  # the permission level its changes need (actor.LEVELS)
    verbs: tuple[Verb, ...] = ()  # its own verbs, beside the generic ones
    recorded: bool = True  # whether its changes are history entries (undo, redo are not)
    # The users whose decision a change of its items may change (CoA/Disconnect for their open
    # sessions); None only for a menu whose table no decision reads (a test holds that).
    affects: Affects | None = None
    disabled_cause: str = ""  # disabling an item ends its users' sessions with this cause
    removed_cause: str = ""  # removing an item ends its users' sessions with this cause
    by_name: dict[str, Prop] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = {p.name: p for p in self.props}
        names.update({alias: p for p in self.props for alias in p.aliases})
        object.__setattr__(self, "by_name", names)
        if self.write_level not in LEVELS:
            raise ValueError(f"menu {self.name}: write level {self.write_level!r} is no level")
        if self.owner and (self.owner not in names or names[self.owner].ref is None):
            raise ValueError(f"menu {self.name}: owner {self.owner!r} is no reference")
        if (self.disabled_cause or self.removed_cause) and self.affects is None:
            raise ValueError(f"menu {self.name}: ends sessions but names no users")

    @property
    def shown(self) -> tuple[Prop, ...]:
        return tuple(p for p in self.props if not p.hidden and not p.hashed)


def _disabled(row: Any) -> bool:
    return bool(row.disabled)


DISABLED: Flag = ("X", "disabled", _disabled)


# Which users a change touches (`Menu.affects`), by what the decision reads of the items.


def _themselves(db: Session, rows: Sequence[Any]) -> set[int]:
    return {row.id for row in rows}


def _their_user(db: Session, rows: Sequence[Any]) -> set[int]:
    """Rows of one user (its queue entries, its sessions, whose usage counts against limits)."""
    return {row.user_id for row in rows if row.user_id is not None}


def _of_customers(db: Session, rows: Sequence[Any]) -> set[int]:
    """A customer's users: its time zone sets their windows, its `disabled` refuses them."""
    ids = [row.id for row in rows]
    return set(db.scalars(select(models.User.id).where(models.User.customer_id.in_(ids))))


def _of_groups(db: Session, rows: Sequence[Any]) -> set[int]:
    ids = [row.id for row in rows]
    return set(db.scalars(select(models.User.id).where(models.User.group_id.in_(ids))))


def _queueing(db: Session, profiles: Sequence[int]) -> set[int]:
    """The users with one of these profiles waiting or running."""
    if not profiles:
        return set()
    entry = models.UserProfile
    return set(
        db.scalars(
            select(entry.user_id).where(
                entry.profile_id.in_(profiles), entry.state != ProfileState.USED
            )
        )
    )


def _of_profiles(db: Session, rows: Sequence[Any]) -> set[int]:
    return _queueing(db, [row.id for row in rows])


def _of_bindings(db: Session, rows: Sequence[Any]) -> set[int]:
    """A profile-limitation's: its profile's users (its windows, its limitation)."""
    return _queueing(db, [row.profile_id for row in rows])


def _of_limitations(db: Session, rows: Sequence[Any]) -> set[int]:
    binding = models.ProfileLimitation
    ids = [row.id for row in rows]
    profiles = db.scalars(select(binding.profile_id).where(binding.limitation_id.in_(ids)))
    return _queueing(db, list(profiles))


def _nobody(db: Session, rows: Sequence[Any]) -> set[int]:
    """An attribute's definition says how a reply encodes a name (its vendor and type), not
    which names and values a session has: no session's limits change with it."""
    return set()


def _active_sessions(db: Session, row: Any) -> object:
    return db.scalar(
        select(func.count())
        .select_from(models.UserSession)
        .where(models.UserSession.user_id == row.id, models.UserSession.active.is_(True))
    )


def _actual_profile(db: Session, row: Any) -> object:
    name = db.scalar(
        select(models.Profile.name)
        .join(models.UserProfile, models.UserProfile.profile_id == models.Profile.id)
        .where(
            models.UserProfile.user_id == row.id, models.UserProfile.state == ProfileState.RUNNING
        )
        .limit(1)
    )
    return name or ""


def _subscriber_choice(db: Session, row: Any) -> object:
    """A customer's on-shared-users-limit: its subscriber's, for the whole domain ("" on the
    subscriber's row is the default, reject)."""
    subscriber = row
    if row.subscriber_id is not None and row.subscriber_id != row.id:
        subscriber = db.get(models.Customer, row.subscriber_id) or row
    return subscriber.on_shared_users_limit or "reject"


CUSTOMER = Menu(
    "customer",
    models.Customer,
    key="login",
    owner="parent",
    flags=(DISABLED,),
    visibility=Visibility.TREE,
    write_level="owner",
    affects=_of_customers,
    disabled_cause=CUSTOMER_DISABLED,
    props=(
        Prop("login", "login", NAME),
        Prop("password", "password_hash", PASSWORD, hashed=True, sensitive=True),
        Prop("password-hash", "password_hash", PASSWORD_HASH, sensitive=True, hidden=True),
        Prop("parent", "parent_id", ref="customer"),
        Prop(
            "permissions",
            "permissions",
            choice(("owner", "full", "read-write", "read-only")),
            default="owner",
        ),
        Prop("access", "access", set_of(ACCESS_FLAGS), default=""),
        Prop("backup-allowed", "backup_allowed", BOOL, default="yes"),
        Prop("disabled", "disabled", BOOL, default="no"),
        Prop("currency", "currency", label(8), default="USD"),
        Prop("time-zone", "time_zone", TIME_ZONE, default="-00:00"),
        Prop("date-format", "date_format", label(32)),
        Prop("email", "email", label()),
        Prop("company", "company"),
        Prop("city", "city"),
        Prop("country", "country"),
        Prop("public-id", "public_id", label(64), unique=True),
        Prop("public-host", "public_host", label()),
        Prop("user-prefix", "user_prefix", label(64)),
        Prop("signup-allowed", "signup_allowed", BOOL, default="no"),
        Prop("paypal-allowed", "paypal_allowed", BOOL, default="no"),
        Prop("paypal-business-id", "paypal_business_id", label()),
        Prop("paypal-secure-response", "paypal_secure_response", BOOL, default="no"),
        Prop("paypal-accept-pending", "paypal_accept_pending", BOOL, default="no"),
        # What the subscriber's routers with on-shared-users-limit=default do at a user's
        # shared-users limit; set on the subscriber, shown on each of its customers.
        Prop(
            "on-shared-users-limit",
            "on_shared_users_limit",
            choice(SHARED_USERS_CHOICES),
            compute=_subscriber_choice,
        ),
        Prop("comment", "comment", COMMENT),
    ),
)

ROUTER = Menu(
    "router",
    models.Router,
    key="name",
    flags=(DISABLED,),
    area="routers",
    write_level="full",
    verbs=(Verb("monitor", Scope.READ_ITEM), Verb("reset-counters", Scope.ITEM)),
    props=(
        Prop("name", "name", NAME),
        Prop("customer", "customer_id", ref="customer"),
        Prop("ip-address", "ip_address", IP, aliases=("address",)),
        Prop("shared-secret", "shared_secret", SECRET, sensitive=True),
        Prop("log", "log", set_of(LOG_FLAGS), default="auth-fail"),
        Prop("use-coa", "use_coa", BOOL, default="no"),
        Prop("coa-port", "coa_port", PORT, default="1700"),
        # BlastRADIUS (CVE-2024-3596). `auto` (FreeRADIUS 3.2.5's): required once the router
        # has sent one, as message-authenticator-seen says; giving the property forgets that.
        Prop(
            "require-message-authenticator",
            "require_message_authenticator",
            choice(("yes", "no", "auto")),
            default="auto",
            clears=("message_authenticator_seen",),
        ),
        Prop("message-authenticator-seen", "message_authenticator_seen", DATETIME, writable=False),
        # `default`: as the subscriber's on-shared-users-limit (customer menu) says.
        Prop(
            "on-shared-users-limit",
            "on_shared_users_limit",
            choice(("default", *SHARED_USERS_CHOICES)),
            default="default",
        ),
        Prop("disabled", "disabled", BOOL, default="no"),
        Prop("comment", "comment", COMMENT),
    ),
)

PROFILE = Menu(
    "profile",
    models.Profile,
    key="name",
    owner="owner",
    area="profiles",
    write_level="full",
    affects=_of_profiles,
    props=(
        Prop("name", "name", NAME),
        Prop("owner", "owner_id", ref="customer"),
        Prop("name-for-users", "name_for_users"),
        # No end: v7 prints and exports `unlimited`, legacy exports `0s`; both are taken.
        Prop("validity", "validity", VALIDITY, default="unlimited"),
        Prop("starts-at", "starts_at", choice(("logon", "now")), default="logon"),
        Prop(
            "starts-when",
            "starts_at",
            mapped({"assigned": "now", "first-auth": "logon"}),
            hidden=True,
        ),
        Prop("price", "price", DECIMAL, default="0"),
        Prop("override-shared-users", "override_shared_users", OVERRIDE, default="off"),
        Prop("attributes", "attributes", ATTRIBUTES),
        Prop("comment", "comment", COMMENT),
    ),
)


def _rate(name: str, column: str) -> tuple[Prop, Prop]:
    return (
        Prop(f"{name}-rx", f"{column}_rx", RATE, default="0"),
        Prop(f"{name}-tx", f"{column}_tx", RATE, default="0"),
    )


LIMITATION = Menu(
    "profile limitation",
    models.Limitation,
    key="name",
    owner="owner",
    area="limits",
    write_level="full",
    affects=_of_limitations,
    props=(
        Prop("name", "name", NAME),
        Prop("owner", "owner_id", ref="customer"),
        Prop("download-limit", "download_limit", BYTES, default="0"),
        Prop("upload-limit", "upload_limit", BYTES, default="0"),
        Prop("transfer-limit", "transfer_limit", BYTES, default="0"),
        Prop("uptime-limit", "uptime_limit", DURATION, default="0s"),
        *_rate("rate-limit", "rate_limit"),
        *_rate("rate-limit-burst", "rate_limit_burst"),
        # The manual spells it "treshold" (legacy); v7 spells it "threshold".
        Prop(
            "rate-limit-burst-treshold-rx",
            "rate_limit_burst_threshold_rx",
            RATE,
            default="0",
            aliases=("rate-limit-burst-threshold-rx",),
        ),
        Prop(
            "rate-limit-burst-treshold-tx",
            "rate_limit_burst_threshold_tx",
            RATE,
            default="0",
            aliases=("rate-limit-burst-threshold-tx",),
        ),
        Prop("rate-limit-burst-time-rx", "rate_limit_burst_time_rx", DURATION, default="0s"),
        Prop("rate-limit-burst-time-tx", "rate_limit_burst_time_tx", DURATION, default="0s"),
        *_rate("rate-limit-min", "rate_limit_min"),
        Prop("rate-limit-priority", "rate_limit_priority", PRIORITY, default="0"),
        Prop("group-name", "group_name", label()),
        Prop("ip-pool", "ip_pool", label()),
        Prop("ip-pool6", "ip_pool6", label()),
        Prop("address-list", "address_list", label()),
        Prop(
            "reset-counters-interval",
            "reset_counters_interval",
            choice(("disabled", "hourly", "daily", "weekly", "monthly")),
            default="disabled",
        ),
        Prop("reset-counters-start-time", "reset_counters_start_time", DATETIME),
        Prop("comment", "comment", COMMENT),
    ),
)

PROFILE_LIMITATION = Menu(
    "profile profile-limitation",
    models.ProfileLimitation,
    key=None,
    owner="profile",
    area="profiles",
    write_level="full",
    affects=_of_bindings,
    props=(
        Prop("profile", "profile_id", ref="profile", required=True),
        Prop("limitation", "limitation_id", ref="profile limitation", required=True),
        Prop("from-time", "from_time", TIME_OF_DAY, default="00:00:00"),
        Prop("till-time", "till_time", TIME_OF_DAY, default="23:59:59"),
        Prop("weekdays", "weekdays", set_of(WEEKDAYS), default=",".join(WEEKDAYS)),
        Prop("comment", "comment", COMMENT),
    ),
)

USER_GROUP = Menu(
    "user group",
    models.UserGroup,
    key="name",
    owner="owner",
    area="users",
    write_level="full",
    affects=_of_groups,
    props=(
        Prop("name", "name", NAME),
        Prop("owner", "owner_id", ref="customer"),
        Prop("outer-auths", "outer_auths", set_of(AUTHS), default="pap,chap,mschap1,mschap2"),
        Prop("inner-auths", "inner_auths", set_of(INNER_AUTHS), default=",".join(INNER_AUTHS)),
        Prop("attributes", "attributes", ATTRIBUTES),
        Prop("comment", "comment", COMMENT),
    ),
)

ATTRIBUTE = Menu(
    "attribute",
    models.Attribute,
    key="name",
    owner="owner",
    area="profiles",
    write_level="full",
    affects=_nobody,
    props=(
        Prop("name", "name", ATTRIBUTE_NAME),
        Prop("owner", "owner_id", ref="customer"),
        Prop("vendor-id", "vendor_id", VENDOR_ID, default="0"),
        Prop("type-id", "type_id", TYPE_ID, default="0"),
        Prop("value-type", "value_type", choice(VALUE_TYPES), default="string"),
        Prop(
            "packet-types",
            "packet_types",
            set_of(("access-accept", "access-challenge")),
            default="access-accept",
        ),
        Prop("comment", "comment", COMMENT),
    ),
)

USER = Menu(
    "user",
    models.User,
    key="username",
    flags=(DISABLED,),
    area="users",
    verbs=(
        Verb("create-and-activate-profile", Scope.ITEM),
        Verb("add-batch-users", Scope.MENU),
    ),
    affects=_themselves,
    disabled_cause=USER_DISABLED,
    removed_cause=USER_DELETED,
    props=(
        Prop("username", "username", USERNAME, aliases=("name",)),
        Prop("customer", "customer_id", ref="customer"),
        Prop("password", "password", PASSWORD, sensitive=True),
        # v7: the password is then followed by a TOTP code (core/totp.py), PAP only. Each
        # user's own (its authenticator's): `copy-from` leaves it out.
        Prop("otp-secret", "otp_secret", OTP_SECRET, sensitive=True, unique=True),
        Prop("disabled", "disabled", BOOL, default="no"),
        Prop("shared-users", "shared_users", COUNT, default="unlimited"),
        # v7 puts every user in a group, `default` unless told otherwise; here a user without
        # a group is what v7's default group is (every method, no attributes).
        Prop("group", "group_id", ref="user group", builtin="default"),
        Prop("caller-id", "caller_id", label()),
        Prop("caller-id-bind-on-first-use", "caller_id_bind_on_first_use", BOOL, default="no"),
        Prop("ip-address", "ip_address", IP),
        # In every legacy (v6.4x) export; sent as DNS-Server-IPv6-Address unless `::`.
        Prop("ipv6-dns", "ipv6_dns", IPV6, default="::"),
        Prop("email", "email", label()),
        Prop("first-name", "first_name"),
        Prop("last-name", "last_name"),
        Prop("location", "location"),
        Prop("phone", "phone", label()),
        Prop("reg-key", "reg_key", label()),
        Prop("registration-date", "registration_date", DATETIME),
        Prop(
            "wireless-enc-algo",
            "wireless_enc_algo",
            choice(("none", "40bit-wep", "104bit-wep", "aes-ccm", "tkip")),
            default="none",
        ),
        Prop("wireless-enc-key", "wireless_enc_key", SECRET, sensitive=True),
        Prop("wireless-psk", "wireless_psk", SECRET, sensitive=True),
        Prop("attributes", "attributes", ATTRIBUTES),
        Prop("comment", "comment", COMMENT),
        Prop("uptime-used", "uptime_used", DURATION, writable=False),
        Prop("download-used", "download_used", BYTES, writable=False),
        Prop("upload-used", "upload_used", BYTES, writable=False),
        Prop("last-seen", "last_seen", DATETIME, writable=False),
        Prop("active-sessions", "", INT, writable=False, compute=_active_sessions),
        Prop("actual-profile", "", writable=False, compute=_actual_profile),
    ),
)


def _running_active(db: Session, row: Any) -> object:
    """v7's state: running-active when a running profile's user has an active session."""
    state = ProfileState(row.state)  # a value just given (`set state=`) is still text
    if state is not ProfileState.RUNNING:
        return state.value
    sessions = _active_sessions(db, db.get(models.User, row.user_id))
    return "running-active" if sessions else ProfileState.RUNNING.value


# `user-profile add user= profile=` queues and starts a profile as create-and-activate-profile
# does; state and times may be given too, so that an export imports back exactly.
USER_PROFILE = Menu(
    "user-profile",
    models.UserProfile,
    key=None,
    owner="user",
    area="users",
    verbs=(Verb("add", Scope.ADD),),
    affects=_their_user,
    props=(
        Prop("user", "user_id", ref="user", required=True),
        Prop("profile", "profile_id", ref="profile", required=True),
        Prop(
            "state",
            "state",
            enum_of(ProfileState),
            compute=_running_active,
        ),
        Prop("assigned", "assigned_at", DATETIME),
        Prop("start-time", "start_time", DATETIME),
        Prop("end-time", "end_time", DATETIME),
        # What accounting reported while this entry ran (its limitations' usage).
        Prop("uptime-used", "uptime_used", DURATION, writable=False),
        Prop("download-used", "download_used", BYTES, writable=False),
        Prop("upload-used", "upload_used", BYTES, writable=False),
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


def _active(row: Any) -> bool:
    return bool(row.active)


SESSION = Menu(
    "session",
    models.UserSession,
    key=None,
    addable=False,
    area="users",
    flags=(("A", "active", _active),),
    verbs=(Verb("close-session", Scope.ITEM),),
    affects=_their_user,
    props=(
        Prop("customer", "customer_id", ref="customer", writable=False),
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
    key=None,
    addable=False,
    area="routers",
    write_level="full",
    props=(
        Prop("customer", "customer_id", ref="customer", writable=False),
        Prop("user-orig", "user_orig", writable=False),
        *WHERE,
        Prop("status", "status", writable=False),
        Prop("time", "time", DATETIME, writable=False),
        Prop("description", "description", writable=False),
    ),
)

PAYMENT = Menu(
    "payment",
    models.Payment,
    key=None,
    addable=False,
    area="users",
    props=(
        Prop("customer", "customer_id", ref="customer", writable=False),
        Prop("user", "username", writable=False),
        Prop("profile", "profile_name", writable=False),
        Prop("price", "price", DECIMAL, writable=False),
        Prop("currency", "currency", writable=False),
        Prop("method", "method", writable=False),
        Prop("trans-start", "trans_start", DATETIME, writable=False),
        Prop("trans-end", "trans_end", DATETIME, writable=False),
        Prop("trans-status", "trans_status", writable=False),
        Prop("result-msg", "result_msg"),
        Prop("user-message", "user_message", writable=False),
    ),
)


def _undoable(row: Any) -> bool:
    return bool(row.state == "done")


def _redoable(row: Any) -> bool:
    return bool(row.state == "undone")


def _failed(row: Any) -> bool:
    return bool(row.reason)


HISTORY = Menu(
    "history",
    models.HistoryEntry,
    key=None,
    addable=False,
    flags=(
        ("U", "undoable", _undoable),
        ("R", "redoable", _redoable),
        ("F", "failed", _failed),
    ),
    owner="",
    visibility=Visibility.ACTOR,
    write_level="owner",
    verbs=(Verb("undo", Scope.MENU), Verb("redo", Scope.MENU)),
    recorded=False,
    props=(
        Prop("action", "action", writable=False),
        Prop("sub-changes", "sub_changes", INT, writable=False),
        Prop("time", "time", DATETIME, writable=False),
        Prop("by", "actor", writable=False),
        Prop("reason", "reason", writable=False),
    ),
)

MENUS: dict[str, Menu] = {
    m.name: m
    for m in (
        CUSTOMER,
        ROUTER,
        PROFILE,
        LIMITATION,
        PROFILE_LIMITATION,
        USER_GROUP,
        ATTRIBUTE,
        USER,
        USER_PROFILE,
        SESSION,
        LOG,
        PAYMENT,
        HISTORY,
    )
}

# The v7 names of legacy menus.
MENU_ALIASES: dict[str, str] = {
    "limitation": "profile limitation",
    "profile-limitation": "profile profile-limitation",
    "user-group": "user group",
}


def _check_references() -> None:
    """Every reference names a menu: a misspelt `ref` stops the import."""
    for menu in MENUS.values():
        for prop in menu.props:
            if prop.ref is not None and prop.ref not in MENUS:
                raise ValueError(f"menu {menu.name}: {prop.name} names no menu {prop.ref!r}")


_check_references()


def _check_limits() -> None:
    """Every text a kind lets through fits its column (PostgreSQL refuses a longer one, which
    would be an error of the database instead of one naming the property)."""
    for menu in MENUS.values():
        columns = menu.model.__table__.columns
        for prop in menu.props:
            if not prop.writable or prop.kind.limit is None or prop.hashed:
                continue
            length = getattr(columns[prop.column].type, "length", None)
            if length is not None and prop.kind.limit > length:
                raise ValueError(
                    f"menu {menu.name}: {prop.name} takes {prop.kind.limit} characters, "
                    f"its column {length}"
                )


_check_limits()


def menu_for(path: str) -> Menu | None:
    return MENUS.get(MENU_ALIASES.get(path, path))
