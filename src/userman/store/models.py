"""The tables of userman, as SQLAlchemy 2.0 typed models.

Every row that belongs to a tenant carries `subscriber_id`: the subscriber (a customer with owner
permissions whose parent is itself) whose isolated domain it lives in. Column names follow the
manual's property names. Times are aware UTC datetimes; byte counters are 64-bit integers;
durations are whole seconds. This module holds no queries and no transactions.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from userman.core.profiles import ProfileState
from userman.store.secrets import Sealed, SealedText

__all__ = [
    "Attribute",
    "Base",
    "Certificate",
    "CoaRequest",
    "Customer",
    "HistoryEntry",
    "Limitation",
    "LogEntry",
    "Payment",
    "PolicyChange",
    "Profile",
    "ProfileLimitation",
    "Router",
    "RouterCounter",
    "ServerNode",
    "SessionClaim",
    "SessionDay",
    "SubscriberSetting",
    "User",
    "UserGroup",
    "UserProfile",
    "UserSession",
    "WebSession",
]


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores aware datetimes as naive UTC and gives them back aware, on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        dt.datetime: UTCDateTime(),
        int: Integer(),
        str: String(255),
        bool: Boolean(),
    }


class Customer(Base):
    """Who manages the service: a tree of customers under each subscriber."""

    __tablename__ = "customer"
    # Log-in finds a customer by its login alone, so a login is unique across the installation
    # (migration 0019); the older per-subscriber constraint, implied by it, stays because SQLite
    # cannot drop it without copying the table that every other one refers to.
    __table_args__ = (
        UniqueConstraint("subscriber_id", "login", name="uq_customer_login"),
        Index("ix_customer_login", "login", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # A subscriber's own row points at itself; NULL only inside the transaction that creates it.
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    login: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(default="")
    permissions: Mapped[str] = mapped_column(String(16), default="owner")
    access: Mapped[str] = mapped_column(default="")
    backup_allowed: Mapped[bool] = mapped_column(default=True)
    disabled: Mapped[bool] = mapped_column(default=False)
    currency: Mapped[str] = mapped_column(String(8), default="USD")
    time_zone: Mapped[str] = mapped_column(String(64), default="-00:00")
    date_format: Mapped[str] = mapped_column(String(32), default="")
    email: Mapped[str] = mapped_column(default="")
    company: Mapped[str] = mapped_column(default="")
    city: Mapped[str] = mapped_column(default="")
    country: Mapped[str] = mapped_column(default="")
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    public_host: Mapped[str] = mapped_column(default="")
    user_prefix: Mapped[str] = mapped_column(String(64), default="")
    signup_allowed: Mapped[bool] = mapped_column(default=False)
    paypal_allowed: Mapped[bool] = mapped_column(default=False)
    paypal_business_id: Mapped[str] = mapped_column(default="")
    paypal_secure_response: Mapped[bool] = mapped_column(default=False)
    paypal_accept_pending: Mapped[bool] = mapped_column(default=False)
    comment: Mapped[str] = mapped_column(Text, default="")
    # On a subscriber's own row: what its routers with on-shared-users-limit=default do at a
    # user's shared-users limit, "reject" or "disconnect-oldest"; "" is "reject". Other
    # customers keep "": the choice is the subscriber's, for its whole domain.
    on_shared_users_limit: Mapped[str] = mapped_column(String(32), default="")


class Router(Base):
    """A NAS that sends RADIUS requests, known by the address its packets come from."""

    __tablename__ = "router"
    __table_args__ = (UniqueConstraint("subscriber_id", "name", name="uq_router_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    name: Mapped[str] = mapped_column(String(64))
    # Requests are matched to routers by source address, so it is unique across subscribers.
    ip_address: Mapped[str] = mapped_column(String(45), unique=True)
    shared_secret: Mapped[str] = mapped_column(Sealed("router.shared_secret"), default="")
    log: Mapped[str] = mapped_column(default="auth-fail")
    use_coa: Mapped[bool] = mapped_column(default=False)
    coa_port: Mapped[int] = mapped_column(default=1700)
    # BlastRADIUS (CVE-2024-3596): whether an Access-Request without a Message-Authenticator
    # is dropped: "yes", "no", or "auto" (FreeRADIUS 3.2.5's): once the router has sent one
    # (message_authenticator_seen, when it first did), it must send one every time.
    require_message_authenticator: Mapped[str] = mapped_column(String(8), default="auto")
    message_authenticator_seen: Mapped[dt.datetime | None] = mapped_column(default=None)
    # At a user's shared-users limit: "reject" (legacy User Manager), "disconnect-oldest" (v7:
    # the oldest session is ended to make room for the new one), or "default": what its
    # subscriber's row says.
    on_shared_users_limit: Mapped[str] = mapped_column(String(32), default="default")
    disabled: Mapped[bool] = mapped_column(default=False)
    comment: Mapped[str] = mapped_column(Text, default="")


class Profile(Base):
    """What a user is sold: validity and, through limitations, what it allows."""

    __tablename__ = "profile"
    __table_args__ = (UniqueConstraint("subscriber_id", "name", name="uq_profile_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    name: Mapped[str] = mapped_column(String(64))
    name_for_users: Mapped[str] = mapped_column(default="")
    validity: Mapped[int] = mapped_column(default=0)  # seconds; 0 is unlimited
    starts_at: Mapped[str] = mapped_column(String(8), default="logon")
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    # "off", "unlimited" or a count, exactly as the manual gives the property.
    override_shared_users: Mapped[str] = mapped_column(String(16), default="off")
    attributes: Mapped[str] = mapped_column(Text, default="")
    comment: Mapped[str] = mapped_column(Text, default="")


class User(Base):
    """Someone who logs on through a router."""

    __tablename__ = "user"
    __table_args__ = (UniqueConstraint("subscriber_id", "username", name="uq_user_username"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    username: Mapped[str] = mapped_column(String(253))
    # Kept recoverable: CHAP and MS-CHAP need the clear password; sealed at rest (secrets.py).
    password: Mapped[str] = mapped_column(Sealed("user.password"), default="")
    disabled: Mapped[bool] = mapped_column(default=False)
    shared_users: Mapped[int | None] = mapped_column(default=None)  # None is unlimited
    caller_id: Mapped[str] = mapped_column(default="")
    caller_id_bind_on_first_use: Mapped[bool] = mapped_column(default=False)
    ip_address: Mapped[str] = mapped_column(String(45), default="")
    # The DNS server given to the user over IPv6 (legacy User Manager's user property); `::` is
    # none.
    ipv6_dns: Mapped[str] = mapped_column(String(45), default="::", server_default="::")
    email: Mapped[str] = mapped_column(default="")
    first_name: Mapped[str] = mapped_column(default="")
    last_name: Mapped[str] = mapped_column(default="")
    location: Mapped[str] = mapped_column(default="")
    phone: Mapped[str] = mapped_column(default="")
    reg_key: Mapped[str] = mapped_column(default="")
    registration_date: Mapped[dt.datetime | None] = mapped_column(default=None)
    wireless_enc_algo: Mapped[str] = mapped_column(String(16), default="none")
    wireless_enc_key: Mapped[str] = mapped_column(default="")
    wireless_psk: Mapped[str] = mapped_column(default="")
    group_id: Mapped[int | None] = mapped_column(ForeignKey("user_group.id"), default=None)
    # Custom reply attributes (v7): "Name:value" pairs, comma-separated, as RouterOS gives them.
    attributes: Mapped[str] = mapped_column(Text, default="")
    comment: Mapped[str] = mapped_column(Text, default="")
    uptime_used: Mapped[int] = mapped_column(BigInteger, default=0)
    download_used: Mapped[int] = mapped_column(BigInteger, default=0)
    upload_used: Mapped[int] = mapped_column(BigInteger, default=0)
    last_seen: Mapped[dt.datetime | None] = mapped_column(default=None)
    # v7's otp-secret (base32): the password is then followed by a TOTP code (core/totp.py);
    # sealed at rest as the password is. `otp_step`: the step of the last code used, so that
    # a code works once (services/access.py stores it before the Access-Accept).
    otp_secret: Mapped[str] = mapped_column(
        Sealed("user.otp_secret"), default="", server_default=""
    )
    otp_step: Mapped[int | None] = mapped_column(BigInteger, default=None)


class UserProfile(Base):
    """A profile in a user's queue: waiting, running, or used (the manual's profile rules)."""

    __tablename__ = "user_profile"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("profile.id"))
    # Stored as its value ('waiting', 'running', 'used') in a VARCHAR(16), as before the type was
    # an enum (no schema change, no CHECK): the ORM and Core statements take and give members.
    state: Mapped[ProfileState] = mapped_column(
        Enum(
            ProfileState,
            native_enum=False,
            create_constraint=False,
            length=16,
            validate_strings=True,
            values_callable=lambda states: [state.value for state in states],
        ),
        default=ProfileState.WAITING,
    )
    assigned_at: Mapped[dt.datetime]
    start_time: Mapped[dt.datetime | None] = mapped_column(default=None)
    end_time: Mapped[dt.datetime | None] = mapped_column(default=None)  # None: unlimited
    # What accounting reported while this entry was the running one (services/aaa.py).
    uptime_used: Mapped[int] = mapped_column(BigInteger, default=0)  # seconds
    download_used: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes
    upload_used: Mapped[int] = mapped_column(BigInteger, default=0)


class UserSession(Base):
    """A RADIUS accounting session as the router reported it."""

    __tablename__ = "session"
    __table_args__ = (Index("ix_session_router_acct", "router_id", "acct_session_id", "active"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    router_id: Mapped[int | None] = mapped_column(ForeignKey("router.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(253))
    acct_session_id: Mapped[str] = mapped_column(String(253))
    nas_port: Mapped[int | None] = mapped_column(BigInteger, default=None)
    nas_port_type: Mapped[str] = mapped_column(String(32), default="")
    nas_port_id: Mapped[str] = mapped_column(default="")
    calling_station_id: Mapped[str] = mapped_column(default="")
    user_ip: Mapped[str] = mapped_column(String(45), default="")
    host_ip: Mapped[str] = mapped_column(String(45), default="")
    status: Mapped[str] = mapped_column(String(64), default="start")
    from_time: Mapped[dt.datetime]
    till_time: Mapped[dt.datetime]
    uptime: Mapped[int] = mapped_column(BigInteger, default=0)
    download: Mapped[int] = mapped_column(BigInteger, default=0)
    upload: Mapped[int] = mapped_column(BigInteger, default=0)
    active: Mapped[bool] = mapped_column(default=True, index=True)
    terminate_cause: Mapped[str] = mapped_column(String(64), default="")
    # What the router was last told the user may do (core/enforce.py `fingerprint`), on the
    # sessions of routers with use-coa=yes; "" until known. A different one calls for a CoA.
    reply_digest: Mapped[str] = mapped_column(String(64), default="")


class SessionDay(Base):
    """What a user's pruned sessions added up to (services/retention.py): one row per user
    and pair of days they began and ended on, in their customer's time zone; the reports and
    the usage pages add these to the sessions still kept."""

    __tablename__ = "session_day"
    __table_args__ = (
        Index("ix_session_day_subscriber_day", "subscriber_id", "day"),
        Index("ix_session_day_user_day", "user_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(253))
    first_day: Mapped[dt.date] = mapped_column(Date)  # the day the sessions began
    day: Mapped[dt.date] = mapped_column(Date)  # the day they were last reported (till-time)
    sessions: Mapped[int] = mapped_column(default=0)
    uptime: Mapped[int] = mapped_column(BigInteger, default=0)  # seconds
    download: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes
    upload: Mapped[int] = mapped_column(BigInteger, default=0)


class CoaRequest(Base):
    """A Disconnect- or CoA-Request (RFC 5176) for a router, written in the transaction of the
    change that calls for it and sent by whichever server node claims it first.

    `state` goes pending -> sent (claimed by a node) -> acked, naked or failed (no answer);
    `attributes` is the JSON list of [name, value] pairs the request carries.
    """

    __tablename__ = "coa_request"
    __table_args__ = (Index("ix_coa_request_state", "state", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    router_id: Mapped[int] = mapped_column(ForeignKey("router.id", ondelete="CASCADE"))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("session.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16), default="disconnect")
    cause: Mapped[str] = mapped_column(String(64))
    attributes: Mapped[str] = mapped_column(Text, default="[]")
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[dt.datetime]
    updated: Mapped[dt.datetime]


class LogEntry(Base):
    """What happened to an authentication or accounting request, for the router's log flags."""

    __tablename__ = "log"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    router_id: Mapped[int | None] = mapped_column(ForeignKey("router.id", ondelete="SET NULL"))
    user_orig: Mapped[str] = mapped_column(String(253), default="")
    nas_port: Mapped[int | None] = mapped_column(BigInteger, default=None)
    nas_port_type: Mapped[str] = mapped_column(String(32), default="")
    nas_port_id: Mapped[str] = mapped_column(default="")
    calling_station_id: Mapped[str] = mapped_column(default="")
    acct_session_id: Mapped[str] = mapped_column(String(253), default="")
    user_ip: Mapped[str] = mapped_column(String(45), default="")
    host_ip: Mapped[str] = mapped_column(String(45), default="")
    status: Mapped[str] = mapped_column(String(32))
    time: Mapped[dt.datetime] = mapped_column(index=True)
    description: Mapped[str] = mapped_column(Text, default="")


class Limitation(Base):
    """What a profile allows: quotas, rates and the attributes of the manual's limitation menu."""

    __tablename__ = "limitation"
    __table_args__ = (UniqueConstraint("subscriber_id", "name", name="uq_limitation_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    name: Mapped[str] = mapped_column(String(64))
    download_limit: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes; 0: none
    upload_limit: Mapped[int] = mapped_column(BigInteger, default=0)
    transfer_limit: Mapped[int] = mapped_column(BigInteger, default=0)
    uptime_limit: Mapped[int] = mapped_column(BigInteger, default=0)  # seconds; 0: none
    # Rates in bits per second from the router's point of view: rx is the user's upload.
    rate_limit_rx: Mapped[int] = mapped_column(BigInteger, default=0)
    rate_limit_tx: Mapped[int] = mapped_column(BigInteger, default=0)
    rate_limit_burst_rx: Mapped[int] = mapped_column(BigInteger, default=0)
    rate_limit_burst_tx: Mapped[int] = mapped_column(BigInteger, default=0)
    rate_limit_burst_threshold_rx: Mapped[int] = mapped_column(BigInteger, default=0)
    rate_limit_burst_threshold_tx: Mapped[int] = mapped_column(BigInteger, default=0)
    rate_limit_burst_time_rx: Mapped[int] = mapped_column(default=0)  # seconds
    rate_limit_burst_time_tx: Mapped[int] = mapped_column(default=0)
    rate_limit_min_rx: Mapped[int] = mapped_column(BigInteger, default=0)
    rate_limit_min_tx: Mapped[int] = mapped_column(BigInteger, default=0)
    rate_limit_priority: Mapped[int] = mapped_column(default=0)  # 1..8; 0: not set
    group_name: Mapped[str] = mapped_column(default="")
    ip_pool: Mapped[str] = mapped_column(default="")
    ip_pool6: Mapped[str] = mapped_column(default="")
    address_list: Mapped[str] = mapped_column(default="")
    # v7: counters restart every interval from the start time ("disabled", "hourly", ...).
    reset_counters_interval: Mapped[str] = mapped_column(String(16), default="disabled")
    reset_counters_start_time: Mapped[dt.datetime | None] = mapped_column(default=None)
    comment: Mapped[str] = mapped_column(Text, default="")


class ProfileLimitation(Base):
    """When a limitation applies to a profile: a window of the day on some weekdays."""

    __tablename__ = "profile_limitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("profile.id"), index=True)
    limitation_id: Mapped[int] = mapped_column(ForeignKey("limitation.id"), index=True)
    from_time: Mapped[int] = mapped_column(default=0)  # seconds after midnight
    till_time: Mapped[int] = mapped_column(default=86399)
    weekdays: Mapped[str] = mapped_column(
        default="sunday,monday,tuesday,wednesday,thursday,friday,saturday"
    )
    comment: Mapped[str] = mapped_column(Text, default="")


class UserGroup(Base):
    """A v7 user group: authentication methods and reply attributes shared by its users."""

    __tablename__ = "user_group"
    __table_args__ = (UniqueConstraint("subscriber_id", "name", name="uq_user_group_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    name: Mapped[str] = mapped_column(String(64))
    outer_auths: Mapped[str] = mapped_column(default="pap,chap,mschap1,mschap2")
    # Every method inside a tunnel (services/menus.py INNER_AUTHS; migration 0023).
    inner_auths: Mapped[str] = mapped_column(
        default="ttls-pap,ttls-chap,ttls-mschap1,ttls-mschap2,ttls-eap,peap-mschap2"
    )
    attributes: Mapped[str] = mapped_column(Text, default="")
    comment: Mapped[str] = mapped_column(Text, default="")


class Attribute(Base):
    """A custom RADIUS attribute (v7 attribute menu) that users, groups and profiles may send."""

    __tablename__ = "attribute"
    __table_args__ = (UniqueConstraint("subscriber_id", "name", name="uq_attribute_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    name: Mapped[str] = mapped_column(String(64))
    vendor_id: Mapped[int] = mapped_column(BigInteger, default=0)  # 0: a standard attribute
    type_id: Mapped[int] = mapped_column(default=0)
    value_type: Mapped[str] = mapped_column(String(16), default="string")
    packet_types: Mapped[str] = mapped_column(default="access-accept")
    comment: Mapped[str] = mapped_column(Text, default="")


class Payment(Base):
    """A user's purchase of a profile, as the payment gateway reported it."""

    __tablename__ = "payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(253), default="")
    profile_id: Mapped[int | None] = mapped_column(ForeignKey("profile.id", ondelete="SET NULL"))
    profile_name: Mapped[str] = mapped_column(String(64), default="")
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    currency: Mapped[str] = mapped_column(String(8), default="USD")
    method: Mapped[str] = mapped_column(String(32), default="")
    trans_start: Mapped[dt.datetime]
    trans_end: Mapped[dt.datetime | None] = mapped_column(default=None)
    trans_status: Mapped[str] = mapped_column(String(16), default="started")
    result_msg: Mapped[str] = mapped_column(Text, default="")
    user_message: Mapped[str] = mapped_column(Text, default="")


class HistoryEntry(Base):
    """One command that changed data, with its sub-changes, for history print, undo and redo."""

    __tablename__ = "history"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The subscriber whose data changed; NULL when the local superuser changed several, or
    # when the subscriber is gone (its history must not keep it from being removed).
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(Text)
    # JSON: the row-level sub-changes, each with its table, key and values before and after.
    changes: Mapped[str] = mapped_column(Text)
    sub_changes: Mapped[int] = mapped_column(default=0)
    # done, undone, or discarded (no longer undoable); a failed undo or redo sets `reason`.
    state: Mapped[str] = mapped_column(String(16), default="done")
    reason: Mapped[str] = mapped_column(Text, default="")
    time: Mapped[dt.datetime] = mapped_column(index=True)


class RouterCounter(Base):
    """How many requests of a kind a router sent, and how they ended (`router monitor`): every
    server node adds what it counted since it last wrote."""

    __tablename__ = "router_counter"
    __table_args__ = (UniqueConstraint("router_id", "name", name="uq_router_counter_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    router_id: Mapped[int] = mapped_column(ForeignKey("router.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class ServerSetting(Base):
    """A setting of the whole installation, the same for every server node: the key that signs
    the web pages' session cookies."""

    __tablename__ = "server_setting"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


class Certificate(Base):
    """A certificate of the installation (services/certificates.py): `chain` is its PEM, the
    certificate first and then the ones that issued it; `key` its private key (PKCS#8 PEM),
    sealed at rest like user passwords, or empty for one imported without its key. `issuer_id`
    is the CA here that signed it (revoke writes that CA's CRL); a CA keeps its latest CRL in
    `crl`, numbered by `crl_number`. Installation-wide, like ServerSetting: no subscriber."""

    __tablename__ = "certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    chain: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(SealedText("certificate.key"), default="")
    is_ca: Mapped[bool] = mapped_column(default=False)
    issuer_id: Mapped[int | None] = mapped_column(
        ForeignKey("certificate.id", ondelete="SET NULL"), default=None
    )
    revoked: Mapped[dt.datetime | None] = mapped_column(default=None)
    crl: Mapped[str] = mapped_column(Text, default="")
    crl_number: Mapped[int] = mapped_column(default=0)


class ApiToken(Base):
    """A token a customer made for an API client: only its SHA-256 digest is kept, so the token
    itself is shown once, when it is made."""

    __tablename__ = "api_token"
    __table_args__ = (UniqueConstraint("customer_id", "name", name="uq_api_token_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[dt.datetime]
    last_used: Mapped[dt.datetime | None]


class WebSession(Base):
    """A log-in to the web pages: a customer's (on /userman) or a user's (on /user). The cookie
    carries a random id whose SHA-256 digest is kept here, with the fingerprint of the password
    it logged in with; a cookie whose row is gone (log-out, revoked, expired) is no session."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(32))
    created: Mapped[dt.datetime]
    last_used: Mapped[dt.datetime]
    expires: Mapped[dt.datetime] = mapped_column(index=True)
    address: Mapped[str] = mapped_column(String(45))
    agent: Mapped[str] = mapped_column(String(200))


class SubscriberSetting(Base):
    """One setting of a subscriber (SMTP, the sign-up e-mail, the voucher template, payment
    gateways): services/subscriber_settings.py declares the names, kinds and defaults; a setting
    without a row has its default."""

    __tablename__ = "subscriber_setting"
    __table_args__ = (UniqueConstraint("subscriber_id", "name", name="uq_subscriber_setting_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text, default="")


class SessionClaim(Base):
    """A place under a user's shared-users limit, claimed by an Access-Accept before the router
    is answered (store/claims.py): it counts like an open session until the session's first
    accounting record takes it over (migration 0020's trigger on `session` deletes it) or it
    lapses. Any node may claim; a transaction-level advisory lock on the user on PostgreSQL
    (the write lock on SQLite) makes claims of one user one at a time."""

    __tablename__ = "session_claim"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    router_id: Mapped[int | None] = mapped_column(default=None)
    # With router_id, the device it was made for: the same device asking again takes it over.
    calling_station_id: Mapped[str] = mapped_column(String(253), default="", server_default="")
    created: Mapped[dt.datetime]


class ServerNode(Base):
    """A `userman serve` process on this database (store/nodes.py): registered at start,
    `seen` renewed every second, deleted at a clean stop. `acknowledged`: the highest peer id
    for which it has written its shared-users claims from memory into session_claim."""

    __tablename__ = "server_node"
    # Ids only grow, also on SQLite: `acknowledged` compares them.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    started: Mapped[dt.datetime]
    seen: Mapped[dt.datetime]
    acknowledged: Mapped[int] = mapped_column(default=0, server_default="0")


class PolicyChange(Base):
    """A row that access decisions depend on was added, changed or removed: written by the
    database's own triggers (migration 0014), so a change made by any process, a command,
    undo, `database load` or SQL by hand, is seen by every server's policy in memory
    (services/policy.py), which reads only what is new. `user_id` names the user whose state
    changed (user, user-profile, session rows); `xid` is the writing PostgreSQL transaction."""

    __tablename__ = "policy_change"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(32))
    row_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    xid: Mapped[int | None] = mapped_column(BigInteger, default=None, index=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
