"""Vouchers and CSV for a selection of users (a batch just made, or users picked in a list).

A voucher is the subscriber's voucher template (settings voucher-header, voucher-row once per
user, voucher-footer) with the legacy customer page's `%u_...%` constants filled in: the user's
own properties, and its profile's (the running one, else the first waiting). Values are
HTML-escaped; the template itself is the subscriber's own HTML. Passwords are part of a voucher,
so the actor needs the level that shows the user menu's secrets (show-sensitive).
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from userman.core.errors import InvalidValueError
from userman.core.profiles import ProfileState
from userman.core.values import format_duration, format_size
from userman.services import permissions, subscriber_settings, verbs
from userman.services.actor import Actor
from userman.services.menus import USER
from userman.services.signup import fill
from userman.store import models

__all__ = ["LIMIT", "Voucher", "as_csv", "render", "vouchers"]

LIMIT = 5000  # users on one page of vouchers
CSV_COLUMNS = ("username", "password", "profile", "customer")
CONSTANT_OF = {"customer": "u_owner"}


@dataclass(frozen=True, slots=True)
class Voucher:
    username: str
    password: str
    constants: dict[str, str]  # name without the % signs -> plain text


def _profile(db: Session, user: models.User) -> models.Profile | None:
    """The running profile, else the first waiting one."""
    rows = db.execute(
        select(models.UserProfile.state, models.Profile)
        .join(models.Profile, models.Profile.id == models.UserProfile.profile_id)
        .where(models.UserProfile.user_id == user.id, models.UserProfile.state != ProfileState.USED)
        .order_by(models.UserProfile.id)
    ).all()
    running = [profile for state, profile in rows if state is ProfileState.RUNNING]
    return running[0] if running else (rows[0][1] if rows else None)


def _limits(db: Session, profile: models.Profile | None) -> dict[str, str]:
    """The strictest of the profile's limitations, per quota ("" where none limits it)."""
    found = {"uptime": 0, "download": 0, "upload": 0, "transfer": 0}
    if profile is not None:
        limitations = db.scalars(
            select(models.Limitation)
            .join(
                models.ProfileLimitation,
                models.ProfileLimitation.limitation_id == models.Limitation.id,
            )
            .where(models.ProfileLimitation.profile_id == profile.id)
        )
        for limitation in limitations:
            for name, least in list(found.items()):
                value = int(getattr(limitation, f"{name}_limit"))
                if value and (not least or value < least):
                    found[name] = value
    uptime = found.pop("uptime")
    shown = {
        "u_limitUptime": format_duration(dt.timedelta(seconds=uptime)) if uptime else "",
    }
    for name, value in found.items():
        shown[f"u_limit{name.capitalize()}"] = format_size(value) if value else ""
    return shown


def _voucher(db: Session, user: models.User, group_names: dict[int, str]) -> Voucher:
    owner = db.get(models.Customer, user.customer_id)
    profile = _profile(db, user)
    currency = owner.currency if owner is not None else ""
    price = f"{profile.price} {currency}".strip() if profile is not None else ""
    validity = ""
    if profile is not None:
        validity = (
            format_duration(dt.timedelta(seconds=profile.validity))
            if profile.validity
            else "unlimited"
        )
    constants = {
        "u_username": user.username,
        "u_password": user.password,
        "u_owner": owner.login if owner is not None else "",
        "u_firstName": user.first_name,
        "u_lastName": user.last_name,
        "u_phone": user.phone,
        "u_location": user.location,
        "u_email": user.email,
        "u_comment": user.comment,
        "u_ipAddr": user.ip_address,
        "u_group": group_names.get(user.group_id or 0, ""),
        "u_profile": (profile.name_for_users or profile.name) if profile is not None else "",
        "u_actualProfileName": profile.name if profile is not None else "",
        "u_validity": validity,
        "u_price": price,
        **_limits(db, profile),
    }
    return Voucher(user.username, user.password, constants)


def vouchers(
    db: Session, actor: Actor, keys: Sequence[str], limit: int | None = LIMIT
) -> list[Voucher]:
    """The vouchers of the users `keys` name (username, *ID), in their order, each once; at most
    `limit` (a page to print), else InvalidValueError."""
    if limit is not None and len(keys) > limit:
        raise InvalidValueError("users", f"at most {limit} vouchers on a page: print them in parts")
    permissions.check_sensitive(actor, USER)  # a voucher shows the password
    stmt = select(models.UserGroup.id, models.UserGroup.name)
    if actor.subscriber_id is not None:
        stmt = stmt.where(models.UserGroup.subscriber_id == actor.subscriber_id)
    groups = {int(row.id): str(row.name) for row in db.execute(stmt)}
    found: list[Voucher] = []
    seen: set[int] = set()
    for key in keys:
        user: models.User = verbs.find(db, actor, USER, key)
        if user.id not in seen:
            seen.add(user.id)
            found.append(_voucher(db, user, groups))
    return found


def render(db: Session, subscriber_id: int, found: Sequence[Voucher]) -> str:
    """The vouchers as the subscriber's template makes them: header, a row each, footer."""
    settings = subscriber_settings.read(db, subscriber_id)
    parts = [str(settings["voucher-header"])]
    for voucher in found:
        escaped = {name: html.escape(value) for name, value in voucher.constants.items()}
        parts.append(fill(str(settings["voucher-row"]), escaped))
    parts.append(str(settings["voucher-footer"]))
    return "\n".join(parts)


def as_csv(found: Sequence[Voucher]) -> str:
    """username, password, profile, customer: one line per user, with a header line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for voucher in found:
        row = [voucher.constants[CONSTANT_OF.get(name, f"u_{name}")] for name in CSV_COLUMNS]
        # A spreadsheet must not take a name for a formula (CSV injection).
        writer.writerow(["'" + v if v[:1] in ("=", "+", "-", "@") else v for v in row])
    return out.getvalue()
