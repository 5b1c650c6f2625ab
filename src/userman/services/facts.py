"""What an access decision needs to know of a user, loaded in one unit of work.

`user_facts()` reads the user, its customer, its profile queue, and, for the profile that runs
now, its limitations with their windows and the usage that counts against each: for a
limitation without reset-counters-interval, the running user-profile entry's counters (what
accounting reported while it ran); for one with an interval, the user's sessions that ended
after the later of the profile's start and the period's start (one that straddles it whole).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from userman.core.authorize import (
    AuthMethod,
    CustomAttribute,
    InnerAuth,
    UserFacts,
    auth_methods,
    inner_methods,
)
from userman.core.errors import InvalidValueError
from userman.core.limits import (
    LimitationFacts,
    Usage,
    counting_period_start,
    parse_reset_interval,
)
from userman.core.policy import Pair, attribute_pairs
from userman.core.profiles import ProfileSlot, ProfileState, select_profile
from userman.core.windows import Window, parse_time_zone, parse_weekdays
from userman.services.actor import Actor
from userman.services.queue import profile_queue
from userman.store import models, queries

__all__ = ["actor_time_zone", "time_zone", "user_facts", "zone"]

LIMITATION_COLUMNS = (
    "name",
    "download_limit",
    "upload_limit",
    "transfer_limit",
    "uptime_limit",
    "rate_limit_rx",
    "rate_limit_tx",
    "rate_limit_burst_rx",
    "rate_limit_burst_tx",
    "rate_limit_burst_threshold_rx",
    "rate_limit_burst_threshold_tx",
    "rate_limit_burst_time_rx",
    "rate_limit_burst_time_tx",
    "rate_limit_min_rx",
    "rate_limit_min_tx",
    "rate_limit_priority",
    "group_name",
    "ip_pool",
    "ip_pool6",
    "address_list",
)


def time_zone(customer: models.Customer | None) -> dt.tzinfo:
    """The customer's time zone; UTC when it has none or one that does not parse."""
    return dt.UTC if customer is None else zone(customer.time_zone)


def zone(text: str) -> dt.tzinfo:
    """A customer's `time-zone` text as a zone; UTC for none or one that does not parse."""
    if text.strip() in ("", "-00:00", "+00:00"):
        return dt.UTC
    try:
        return parse_time_zone(text)
    except InvalidValueError:
        return dt.UTC


def actor_time_zone(db: Session, actor: Actor) -> dt.tzinfo:
    """The zone an actor's reports, days and pages use: its customer's `time-zone` (UTC for the
    local superuser, who is no customer)."""
    customer = queries.customer(db, actor.customer_id) if actor.customer_id else None
    return time_zone(customer)


def _limitations(db: Session, profile_id: int) -> list[LimitationFacts]:
    rows = db.execute(
        select(models.Limitation, models.ProfileLimitation)
        .join(
            models.ProfileLimitation, models.ProfileLimitation.limitation_id == models.Limitation.id
        )
        .where(models.ProfileLimitation.profile_id == profile_id)
        .order_by(models.ProfileLimitation.id)
    ).all()
    windows: dict[int, list[Window]] = {}
    found: dict[int, models.Limitation] = {}
    for limitation, binding in rows:
        found.setdefault(limitation.id, limitation)
        windows.setdefault(limitation.id, []).append(
            Window(binding.from_time, binding.till_time, parse_weekdays(binding.weekdays))
        )
    return [
        LimitationFacts(
            **{column: getattr(limitation, column) for column in LIMITATION_COLUMNS},
            reset_counters_interval=parse_reset_interval(limitation.reset_counters_interval),
            reset_counters_start_time=limitation.reset_counters_start_time,
            windows=tuple(windows[limitation_id]),
        )
        for limitation_id, limitation in found.items()
    ]


def _usage(db: Session, user_id: int, since: dt.datetime | None) -> Usage:
    session = models.UserSession
    stmt = select(
        func.coalesce(func.sum(session.uptime), 0),
        func.coalesce(func.sum(session.download), 0),
        func.coalesce(func.sum(session.upload), 0),
    ).where(session.user_id == user_id)
    if since is not None:
        stmt = stmt.where(or_(session.till_time >= since, session.active.is_(True)))
    uptime, download, upload = db.execute(stmt).one()
    return Usage(int(uptime), int(download), int(upload))


def _counters(db: Session, running: ProfileSlot) -> Usage:
    """What accounting counted on the running entry (services/aaa.py); 0 for one that starts
    now, which never ran."""
    entry = db.get(models.UserProfile, running.id)  # profile_queue loaded it
    if entry is None or entry.state is not ProfileState.RUNNING:
        return Usage()
    return Usage(entry.uptime_used, entry.download_used, entry.upload_used)


def _limits(
    db: Session, user: models.User, running: ProfileSlot, tz: dt.tzinfo, now: dt.datetime
) -> tuple[tuple[LimitationFacts, Usage], ...]:
    started = running.start_time or now
    out = []
    counted: Usage | None = None
    for limitation in _limitations(db, running.profile_id):
        period = counting_period_start(
            limitation.reset_counters_interval, limitation.reset_counters_start_time, now, tz
        )
        if period is None:  # no reset: all the profile's usage, as its entry counted it
            counted = _counters(db, running) if counted is None else counted
            out.append((limitation, counted))
        else:  # the sessions of the current period (a session that straddles its start whole)
            out.append((limitation, _usage(db, user.id, max(started, period))))
    return tuple(out)


def user_facts(db: Session, user: models.User, now: dt.datetime) -> UserFacts:
    customer = queries.customer(db, user.customer_id)
    tz = time_zone(customer)
    queue = profile_queue(db, user.id)
    running = select_profile(queue, now).running
    return UserFacts(
        user.username,
        user.password,
        user.disabled,
        queue,
        user.ip_address,
        user_id=user.id,
        customer_disabled=customer is None or customer.disabled,
        caller_id=user.caller_id,
        caller_id_bind_on_first_use=user.caller_id_bind_on_first_use,
        shared_users=user.shared_users,
        active_sessions=queries.active_sessions(db, user.id),
        limits=() if running is None else _limits(db, user, running, tz, now),
        time_zone=tz,
        wireless_enc_algo=user.wireless_enc_algo,
        wireless_enc_key=user.wireless_enc_key,
        wireless_psk=user.wireless_psk,
        ipv6_dns=user.ipv6_dns,
        attributes=_attributes(db, user, running),
        outer_auths=_outer_auths(db, user),
        inner_auths=_inner_auths(db, user),
        otp_secret=user.otp_secret,
        otp_step=user.otp_step,
    )


def _outer_auths(db: Session, user: models.User) -> frozenset[AuthMethod] | None:
    """What the user's group allows (v7 `outer-auths`); None (any) without a group."""
    group = None if user.group_id is None else db.get(models.UserGroup, user.group_id)
    return None if group is None else auth_methods(group.outer_auths)


def _inner_auths(db: Session, user: models.User) -> frozenset[InnerAuth] | None:
    """The methods inside a tunnel the group allows (v7 `inner-auths`); None without a group."""
    group = None if user.group_id is None else db.get(models.UserGroup, user.group_id)
    return None if group is None else inner_methods(group.inner_auths)


def _attributes(db: Session, user: models.User, running: ProfileSlot | None) -> tuple[Pair, ...]:
    texts = []
    if running is not None:
        profile = db.get(models.Profile, running.profile_id)
        texts.append(profile.attributes if profile is not None else "")
    if user.group_id is not None:
        group = db.get(models.UserGroup, user.group_id)
        texts.append(group.attributes if group is not None else "")
    texts.append(user.attributes)
    if not any(texts):
        return ()
    defined = db.scalars(
        select(models.Attribute).where(models.Attribute.subscriber_id == user.subscriber_id)
    )
    custom = {
        a.name: CustomAttribute(a.name, a.vendor_id, a.type_id, a.value_type) for a in defined
    }
    return attribute_pairs(texts, custom)
