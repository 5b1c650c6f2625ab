"""The policy in memory: what access decisions read, as plain values, and the facts of one user.

`Policy` holds the rows a decision depends on (customers, profiles, limitations and the windows
that bind them to profiles, user groups, custom attributes) by id, and each user's `UserState`
(its policy columns, its profile queue with the running entry's counters, its open sessions and
the sessions that count against a limitation with a reset interval) by subscriber and username.
services/policy.py fills and updates it; `user_facts` builds from it exactly the `UserFacts` that
services/facts.py reads from the database, so `authorize` decides alike from either.
`decision_facts` keeps a user's facts and terms (core/authorize.py) until the next moment they
may change, for the user's state as it is: a new state, any other row's change, or that moment
makes them afresh.

Pure: no I/O, no clock; `now` is a parameter. Records are immutable: an update replaces them, so
a reader on another thread sees an old record or a new one, never half of each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace

from userman.core.authorize import (
    AuthMethod,
    CustomAttribute,
    InnerAuth,
    Terms,
    UserFacts,
    terms,
)
from userman.core.limits import (
    LimitationFacts,
    Usage,
    counting_period_start,
    next_counting_period_start,
)
from userman.core.profiles import ProfileSlot, ProfileState, select_profile
from userman.core.windows import Window

__all__ = [
    "AttributeRecord",
    "Binding",
    "CustomerRecord",
    "Entry",
    "GroupRecord",
    "LimitationRecord",
    "Policy",
    "ProfileRecord",
    "SessionUsage",
    "UsageChange",
    "UserRecord",
    "UserState",
    "attribute_pairs",
    "decision_facts",
    "group_auths",
    "group_inner_auths",
    "user_facts",
    "with_usage",
]


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    id: int
    disabled: bool
    time_zone: dt.tzinfo  # its `time-zone`, parsed (UTC when it has none that parses)
    evicts: bool  # a subscriber's on-shared-users-limit=disconnect-oldest


@dataclass(frozen=True, slots=True)
class ProfileRecord:
    id: int
    name: str
    validity: dt.timedelta | None  # None: valid without end
    override_shared_users: str
    attributes: str


@dataclass(frozen=True, slots=True)
class LimitationRecord:
    """A limitation's columns (`facts` without windows) and its subscriber, whose time zone
    its reset-counters periods follow."""

    id: int
    subscriber_id: int
    facts: LimitationFacts


@dataclass(frozen=True, slots=True)
class Binding:
    """A profile-limitation row: when the limitation applies to the profile."""

    id: int
    profile_id: int
    limitation_id: int
    window: Window


@dataclass(frozen=True, slots=True)
class GroupRecord:
    id: int
    attributes: str
    outer_auths: frozenset[AuthMethod] | None = None  # None: any method
    inner_auths: frozenset[InnerAuth] | None = None  # None: any method inside a tunnel


@dataclass(frozen=True, slots=True)
class AttributeRecord:
    id: int
    subscriber_id: int
    definition: CustomAttribute


@dataclass(frozen=True, slots=True)
class UserRecord:
    """The user's columns that a decision reads."""

    id: int
    subscriber_id: int
    customer_id: int
    username: str
    password: str
    disabled: bool
    shared_users: int | None
    caller_id: str
    caller_id_bind_on_first_use: bool
    ip_address: str
    ipv6_dns: str
    wireless_enc_algo: str
    wireless_enc_key: str
    wireless_psk: str
    group_id: int | None
    attributes: str
    otp_secret: str
    otp_step: int | None  # the step of the last one-time code used (core/totp.py)


@dataclass(frozen=True, slots=True)
class Entry:
    """A user-profile entry not used up, with what accounting counted on it."""

    id: int
    profile_id: int
    state: ProfileState
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    used: Usage


@dataclass(frozen=True, slots=True)
class SessionUsage:
    """One of the user's sessions, as a limitation's period counts it."""

    id: int
    till_time: dt.datetime
    active: bool
    used: Usage


@dataclass(frozen=True, slots=True)
class UserState:
    """A user as a decision sees it. `sessions` holds its open sessions and those that ended
    at or after `complete_since`: a period that began earlier cannot be counted from it."""

    user: UserRecord
    entries: tuple[Entry, ...]  # oldest assignment first
    sessions: tuple[SessionUsage, ...]
    complete_since: dt.datetime


@dataclass(frozen=True, slots=True)
class UsageChange:
    """What an accounting batch wrote for one user, as stored once it commits: each session it
    wrote (by id) and the counters of each user-profile entry it counted on (by entry id)."""

    sessions: Mapping[int, SessionUsage]
    entries: Mapping[int, Usage]


def with_usage(state: UserState, change: UsageChange) -> UserState:
    """The user's state once `change` is stored: the sessions it wrote replace those held (a
    session kept only while open or ended since `complete_since`, as a load keeps it), and the
    entries it counted on have its counters."""
    sessions = [held for held in state.sessions if held.id not in change.sessions]
    sessions += (
        written
        for written in change.sessions.values()
        if written.active or written.till_time >= state.complete_since
    )
    entries = state.entries
    if change.entries:  # built, not `replace`d: this runs for every user of every batch
        entries = tuple(
            Entry(e.id, e.profile_id, e.state, e.start_time, e.end_time, change.entries[e.id])
            if e.id in change.entries
            else e
            for e in entries
        )
    return UserState(state.user, entries, tuple(sessions), state.complete_since)


class Policy:
    """Everything decisions read, by id; users by (subscriber id, username)."""

    def __init__(self) -> None:
        self.customers: dict[int, CustomerRecord] = {}
        self.profiles: dict[int, ProfileRecord] = {}
        self.limitations: dict[int, LimitationRecord] = {}
        self.bindings: dict[int, Binding] = {}
        self.groups: dict[int, GroupRecord] = {}
        self.attributes: dict[int, AttributeRecord] = {}
        # Users by subscriber, then username (the record's own string: no key of its own to
        # hold, which counts at a million users), and by id.
        self.users: dict[int, dict[str, UserState]] = {}
        self.by_id: dict[int, UserState] = {}
        # Derived from the rows above, made on first use, dropped whenever they change.
        self._limits: dict[int, tuple[LimitationFacts, ...]] = {}
        self._custom: dict[int, Mapping[str, CustomAttribute]] = {}
        # Users' facts and terms by user id (`decision_facts`); False: always made afresh.
        self.memo: dict[int, Memo] = {}
        self.remember = True

    def user(self, subscriber_id: int, username: str) -> UserState | None:
        found = self.users.get(subscriber_id)
        return None if found is None else found.get(username)

    def put_user(self, state: UserState) -> None:
        user = state.user
        old = self.by_id.get(user.id)
        if old is not None and (old.user.subscriber_id, old.user.username) != (
            user.subscriber_id,
            user.username,
        ):
            self._unlist(old)  # renamed or moved
        self.users.setdefault(user.subscriber_id, {})[user.username] = state
        self.by_id[user.id] = state
        self.memo.pop(user.id, None)  # made from the old state: never used again, freed now

    def drop_user(self, user_id: int) -> None:
        self.memo.pop(user_id, None)
        old = self.by_id.pop(user_id, None)
        if old is not None:
            self._unlist(old)

    def _unlist(self, state: UserState) -> None:
        named = self.users.get(state.user.subscriber_id, {})
        held = named.get(state.user.username)
        if held is not None and held.user.id == state.user.id:
            del named[state.user.username]

    def rows_changed(self) -> None:
        """Forget what was derived from the rows (call after changing any but users)."""
        self._limits = {}
        self._custom = {}
        self.memo = {}

    def limits_of(self, profile_id: int) -> tuple[LimitationFacts, ...]:
        """The profile's limitations with their windows, in the order of its
        profile-limitation rows (services/facts.py's order)."""
        memo = self._limits  # a change replaces the dict: a late writer fills the old one
        found = memo.get(profile_id)
        if found is None:
            windows: dict[int, list[Window]] = {}
            for binding in sorted(self.bindings.values(), key=lambda b: b.id):
                if binding.profile_id == profile_id and binding.limitation_id in self.limitations:
                    windows.setdefault(binding.limitation_id, []).append(binding.window)
            found = tuple(
                replace(self.limitations[lid].facts, windows=tuple(wins))
                for lid, wins in windows.items()
            )
            memo[profile_id] = found
        return found

    def custom_of(self, subscriber_id: int) -> Mapping[str, CustomAttribute]:
        """The attribute menu of a subscriber, by name."""
        memo = self._custom
        found = memo.get(subscriber_id)
        if found is None:
            found = {
                a.definition.name: a.definition
                for a in self.attributes.values()
                if a.subscriber_id == subscriber_id
            }
            memo[subscriber_id] = found
        return found

    def evicts(self, subscriber_id: int) -> bool:
        """The subscriber's own on-shared-users-limit, for its routers left at `default`."""
        subscriber = self.customers.get(subscriber_id)
        return subscriber is not None and subscriber.evicts

    def period_floor(self, now: dt.datetime) -> dt.datetime:
        """The earliest moment a limitation's current counting period began at `now`: the
        sessions that ended before it count against no limitation (`now` when none resets)."""
        floor = now
        for record in self.limitations.values():
            customer = self.customers.get(record.subscriber_id)
            tz = customer.time_zone if customer is not None else dt.UTC
            facts = record.facts
            start = counting_period_start(
                facts.reset_counters_interval, facts.reset_counters_start_time, now, tz
            )
            if start is not None and start < floor:
                floor = start
        return floor


def _queue(policy: Policy, state: UserState) -> tuple[ProfileSlot, ...]:
    slots = []
    for entry in state.entries:
        profile = policy.profiles.get(entry.profile_id)
        if profile is not None:
            slots.append(
                ProfileSlot(
                    entry.id,
                    profile.name,
                    entry.state,
                    profile.validity,
                    entry.start_time,
                    entry.end_time,
                    profile.override_shared_users,
                    profile.id,
                )
            )
    return tuple(slots)


def _counted(state: UserState, running: ProfileSlot) -> Usage:
    """What accounting counted on the running entry; 0 for one that starts now."""
    for entry in state.entries:
        if entry.id == running.id:
            return entry.used if entry.state is ProfileState.RUNNING else Usage()
    return Usage()


def _period_usage(state: UserState, since: dt.datetime) -> Usage | None:
    """The sessions open or ended since `since`, summed (a session that straddles it whole);
    None when the state does not reach back that far."""
    if since < state.complete_since:
        return None
    uptime = download = upload = 0
    for session in state.sessions:
        if session.active or session.till_time >= since:
            uptime += session.used.uptime
            download += session.used.download
            upload += session.used.upload
    return Usage(uptime, download, upload)


def _limits(
    policy: Policy, state: UserState, running: ProfileSlot, tz: dt.tzinfo, now: dt.datetime
) -> tuple[tuple[LimitationFacts, Usage], ...] | None:
    started = running.start_time or now
    out = []
    for limitation in policy.limits_of(running.profile_id):
        period = counting_period_start(
            limitation.reset_counters_interval, limitation.reset_counters_start_time, now, tz
        )
        if period is None:  # no reset: all the profile's usage, as its entry counted it
            out.append((limitation, _counted(state, running)))
            continue
        used = _period_usage(state, max(started, period))
        if used is None:
            return None
        out.append((limitation, used))
    return tuple(out)


Pair = tuple[str | CustomAttribute, str]


def _attributes(policy: Policy, user: UserRecord, running: ProfileSlot | None) -> tuple[Pair, ...]:
    texts = []
    if running is not None:
        profile = policy.profiles.get(running.profile_id)
        texts.append(profile.attributes if profile is not None else "")
    if user.group_id is not None:
        group = policy.groups.get(user.group_id)
        texts.append(group.attributes if group is not None else "")
    texts.append(user.attributes)
    if not any(texts):
        return ()
    return attribute_pairs(texts, policy.custom_of(user.subscriber_id))


def attribute_pairs(texts: list[str], custom: Mapping[str, CustomAttribute]) -> tuple[Pair, ...]:
    """`Name:value,Name:value` texts as the attributes property stores them, in order; a name
    of the attribute menu becomes its definition, any other is a dictionary's name."""
    pairs: list[Pair] = []
    for text in texts:
        for item in filter(None, text.split(",")):
            name, _, value = item.partition(":")
            pairs.append((custom.get(name, name), value))
    return tuple(pairs)


def user_facts(
    policy: Policy,
    state: UserState,
    now: dt.datetime,
    *,
    coa: bool = False,
    evict_oldest: bool = False,
) -> UserFacts | None:
    """The user's facts at `now`, as services/facts.py reads them from the database; None
    when a limitation counts sessions from before what `state` holds (read them there)."""
    user = state.user
    customer = policy.customers.get(user.customer_id)
    tz = customer.time_zone if customer is not None else dt.UTC
    queue = _queue(policy, state)
    running = select_profile(queue, now).running
    limits: tuple[tuple[LimitationFacts, Usage], ...] = ()
    if running is not None:
        found = _limits(policy, state, running, tz, now)
        if found is None:
            return None
        limits = found
    active = sum(1 for session in state.sessions if session.active)
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
        active_sessions=active,
        evict_oldest=evict_oldest and active > 0,
        limits=limits,
        time_zone=tz,
        wireless_enc_algo=user.wireless_enc_algo,
        wireless_enc_key=user.wireless_enc_key,
        wireless_psk=user.wireless_psk,
        ipv6_dns=user.ipv6_dns,
        attributes=_attributes(policy, user, running),
        coa=coa,
        outer_auths=group_auths(policy, user),
        inner_auths=group_inner_auths(policy, user),
        otp_secret=user.otp_secret,
        otp_step=user.otp_step,
    )


def group_auths(policy: Policy, user: UserRecord) -> frozenset[AuthMethod] | None:
    """What the user's group allows; None (any) without a group, as services/facts.py."""
    group = None if user.group_id is None else policy.groups.get(user.group_id)
    return None if group is None else group.outer_auths


def group_inner_auths(policy: Policy, user: UserRecord) -> frozenset[InnerAuth] | None:
    """The methods inside a tunnel the user's group allows; None (any) without a group."""
    group = None if user.group_id is None else policy.groups.get(user.group_id)
    return None if group is None else group.inner_auths


MEMO_HELD = 50_000  # users' memos held at most: past that all are forgotten and made again


@dataclass(frozen=True, slots=True)
class Memo:
    """A user's facts and terms, made at `since` from `state` for a router's `coa` and
    `evict_oldest`, good before `until` (None: until the state or a row changes)."""

    state: UserState
    coa: bool
    evict_oldest: bool
    since: dt.datetime
    until: dt.datetime | None
    facts: UserFacts
    terms: Terms


def decision_facts(
    policy: Policy,
    state: UserState,
    now: dt.datetime,
    *,
    coa: bool = False,
    evict_oldest: bool = False,
) -> tuple[UserFacts, Terms] | None:
    """`user_facts` and the `terms` they grant at `now`, as made at an earlier moment when
    nothing they derive from has changed since: the same `state` (a change to the user, its
    profile queue or sessions puts a new one), no change to any other row (`rows_changed`
    forgets all), and `now` before the first moment either may differ (the running profile's
    end, a window's edge, a counting period's reset). None as `user_facts`."""
    memo = policy.memo  # first: a change replaces it, and then a late writer fills the old one
    held = memo.get(state.user.id)
    if (
        held is not None
        and held.state is state
        and held.coa is coa
        and held.evict_oldest is evict_oldest
        and held.since <= now
        and (held.until is None or now < held.until)
    ):
        return held.facts, held.terms
    facts = user_facts(policy, state, now, coa=coa, evict_oldest=evict_oldest)
    if facts is None:
        return None
    granted = terms(facts, now)
    until = _facts_until(facts, granted, now)
    if policy.remember and (until is None or now < until):
        if len(memo) >= MEMO_HELD:
            memo.clear()
        memo[state.user.id] = Memo(state, coa, evict_oldest, now, until, facts, granted)
    return facts, granted


def _facts_until(facts: UserFacts, granted: Terms, now: dt.datetime) -> dt.datetime | None:
    """The first moment after `now` when `user_facts` may count otherwise, or the terms
    differ: the terms' own `until` and the next reset of a limitation's counting period."""
    until = granted.until
    running = granted.running
    for limitation, _ in facts.limits:
        reset = next_counting_period_start(
            limitation.reset_counters_interval,
            limitation.reset_counters_start_time,
            now,
            facts.time_zone,
        )
        if reset is None:
            continue
        if running is None or running.start_time is None:
            return now  # counted from `now` itself (`_limits`): good for this moment only
        if until is None or reset < until:
            until = reset
    return until
