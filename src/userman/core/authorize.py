"""The access decision: credentials + what the store knows of the user -> accept or reject; pure.

`authorize()` checks that the user's group allows the method the request used (PAP, CHAP,
MS-CHAPv1, MS-CHAPv2, or the EAP method that carried them), the password by that method, then
the user's state and profile queue, and returns a `Decision` with the reply attributes as
(name, value) pairs or a reject reason from `RejectReason`. It does no I/O: the caller loads
`UserFacts`, passes `now`, and stores `Decision.profile_changes` (and the `otp_step` of a
one-time code, `check_plain_password`, before the Accept).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

from userman.core.context import RequestContext
from userman.core.limits import (
    Limit,
    LimitationFacts,
    Remaining,
    Usage,
    applicable,
    applicable_until,
    covered_until,
    exhausted,
    outside_windows,
    remaining,
    reply_limits,
    seconds_until,
    session_timeout,
    strictest,
)
from userman.core.profiles import ProfileSlot, ProfileState, select_profile
from userman.core.ratelimit import combine, format_rate_limit
from userman.core.totp import Outcome, check, decode_secret
from userman.radius import chap, mschap

__all__ = [
    "OTP_DIGITS",
    "AccessRequest",
    "AuthMethod",
    "CertificateCredentials",
    "ChapCredentials",
    "Credentials",
    "CustomAttribute",
    "Decision",
    "InnerAuth",
    "MschapV1Credentials",
    "MschapV2Credentials",
    "PapCredentials",
    "PasswordCheck",
    "RejectReason",
    "Standing",
    "Terms",
    "UserFacts",
    "auth_methods",
    "authorize",
    "check_plain_password",
    "class_for",
    "inner_methods",
    "method_of",
    "reauthorize",
    "same_caller",
    "shared_users_limit",
    "standing",
    "terms",
    "used_up",
    "user_of_class",
]


@dataclass(frozen=True, slots=True)
class PapCredentials:
    password: bytes  # User-Password, revealed


@dataclass(frozen=True, slots=True)
class ChapCredentials:
    chap_password: bytes  # CHAP-Password: ident + 16-octet response
    challenge: bytes  # CHAP-Challenge, or the Request Authenticator (RFC 2865 5.3)


@dataclass(frozen=True, slots=True)
class MschapV1Credentials:
    challenge: bytes  # MS-CHAP-Challenge
    response: bytes  # MS-CHAP-Response


@dataclass(frozen=True, slots=True)
class MschapV2Credentials:
    challenge: bytes  # MS-CHAP-Challenge
    response: bytes  # MS-CHAP2-Response


@dataclass(frozen=True, slots=True)
class CertificateCredentials:
    """A client certificate that the TLS handshake of EAP-TLS verified (eap/tls.py): the
    trusted CA, its validity and the CRL are checked there; the certificate is the proof."""

    serial: int


Credentials = (
    PapCredentials
    | ChapCredentials
    | MschapV1Credentials
    | MschapV2Credentials
    | CertificateCredentials
)


class AuthMethod(Enum):
    """The outer authentication methods a v7 user group allows (`outer-auths`), by v7 name."""

    PAP = "pap"
    CHAP = "chap"
    MSCHAP1 = "mschap1"
    MSCHAP2 = "mschap2"
    EAP_TLS = "eap-tls"
    EAP_TTLS = "eap-ttls"
    EAP_PEAP = "eap-peap"
    EAP_MSCHAP2 = "eap-mschap2"


class InnerAuth(Enum):
    """The methods inside a TLS tunnel a v7 user group allows (`inner-auths`), by v7 name."""

    TTLS_PAP = "ttls-pap"
    TTLS_CHAP = "ttls-chap"
    TTLS_MSCHAP1 = "ttls-mschap1"
    TTLS_MSCHAP2 = "ttls-mschap2"
    TTLS_EAP = "ttls-eap"  # inner EAP: EAP-MSCHAPv2, the one userman runs there
    PEAP_MSCHAP2 = "peap-mschap2"


# The method of credentials that came in plain RADIUS attributes, not over EAP.
PLAIN_METHODS: dict[type, AuthMethod] = {
    PapCredentials: AuthMethod.PAP,
    ChapCredentials: AuthMethod.CHAP,
    MschapV1Credentials: AuthMethod.MSCHAP1,
    MschapV2Credentials: AuthMethod.MSCHAP2,
    CertificateCredentials: AuthMethod.EAP_TLS,  # only EAP-TLS proves a certificate
}


@dataclass(frozen=True, slots=True)
class AccessRequest:
    username: str
    credentials: Credentials | None
    context: RequestContext = field(default_factory=RequestContext)
    # False: the User-Name was not UTF-8 (`username` shows its octets escaped): no user's.
    readable: bool = True
    # The EAP method that carried `credentials` (eap/): its outer method; None: plain RADIUS.
    eap: AuthMethod | None = None
    # The method inside the tunnel (TTLS, PEAP) that carried `credentials`; None: no tunnel.
    inner: InnerAuth | None = None


def auth_methods(text: str) -> frozenset[AuthMethod]:
    """The methods a group's `outer-auths` text ("pap,chap,eap-mschap2") names."""
    known = {method.value: method for method in AuthMethod}
    return frozenset(known[name] for name in text.split(",") if name in known)


def inner_methods(text: str) -> frozenset[InnerAuth]:
    """The methods a group's `inner-auths` text ("ttls-pap,peap-mschap2") names."""
    known = {method.value: method for method in InnerAuth}
    return frozenset(known[name] for name in text.split(",") if name in known)


def method_of(request: AccessRequest) -> AuthMethod | None:
    """The outer method a request used: its EAP method, else its credentials' kind."""
    if request.eap is not None:
        return request.eap
    return None if request.credentials is None else PLAIN_METHODS[type(request.credentials)]


@dataclass(frozen=True, slots=True)
class CustomAttribute:
    """An attribute the operator defined in the attribute menu (v7), which no dictionary has:
    sent as `type_id` of `vendor_id` (0: a standard attribute) with a `value_type` value."""

    name: str
    vendor_id: int
    type_id: int
    value_type: str  # string, hex, ip-address, ip6-prefix, macaddress, uint32, uint64


@dataclass(frozen=True, slots=True)
class UserFacts:
    """What the store knows about the user that an access decision needs."""

    username: str
    password: str
    disabled: bool
    profiles: tuple[ProfileSlot, ...]
    framed_ip: str = ""
    user_id: int = 0  # sent back in Class, so accounting finds the user whatever its User-Name
    customer_disabled: bool = False  # the customer the user belongs to
    caller_id: str = ""  # the one Calling-Station-Id allowed; empty: any
    caller_id_bind_on_first_use: bool = False
    shared_users: int | None = None  # sessions at once; None: unlimited
    active_sessions: int = 0
    # At the limit: refuse (legacy User Manager), or end the oldest sessions and accept (v7).
    evict_oldest: bool = False
    # The limitations of the profile that runs now (select_profile), each with the usage that
    # counts against it (since its counting period began, within the profile's run).
    limits: tuple[tuple[LimitationFacts, Usage], ...] = ()
    time_zone: dt.tzinfo = dt.UTC  # the customer's, for windows and counter resets
    wireless_enc_algo: str = "none"
    wireless_enc_key: str = ""
    wireless_psk: str = ""
    ipv6_dns: str = ""  # the user's IPv6 DNS server; "" or "::" (unspecified): none
    # v7 custom reply attributes (Name, value text) of the profile, the group and the user, in
    # that order: a later one of the same name replaces an earlier one.
    attributes: tuple[tuple[str | CustomAttribute, str], ...] = ()
    # The router takes CoA-Requests (use-coa=yes): a window handing over to another limitation
    # and a profile handing over to the next one are sent to it as a CoA (services/enforce.py),
    # so they do not end the session's Session-Timeout; only the end of access does.
    coa: bool = False
    # The outer methods the user's group allows (v7 `outer-auths`); None: any (no group: the
    # built-in `default` group, which allows every method).
    outer_auths: frozenset[AuthMethod] | None = None
    # The methods inside a tunnel the user's group allows (v7 `inner-auths`); None: any.
    inner_auths: frozenset[InnerAuth] | None = None
    # v7's otp-secret (base32; "": none): the password is then the static one followed by
    # the TOTP code (core/totp.py); `otp_step` is the step of the last code used (None: none).
    otp_secret: str = ""
    otp_step: int | None = None


class RejectReason(Enum):
    """The catalogue of refusals; the value is the log text, `{user}` is the user name."""

    NO_CREDENTIALS = "no supported credentials in request from user <{user}>"
    UNKNOWN_USER = "unknown user <{user}>"
    UNREADABLE_NAME = "user name <{user}> is not UTF-8"
    WRONG_PASSWORD = "wrong password for user <{user}>"
    USER_DISABLED = "user <{user}> is disabled"
    CUSTOMER_DISABLED = "the customer of user <{user}> is disabled"
    CALLER_ID_MISMATCH = "caller-id of user <{user}> does not match"
    NO_VALID_PROFILE = "no valid profile found for user <{user}>"
    OUTSIDE_TIME_WINDOW = "user <{user}> is outside the profile's time windows"
    UPTIME_LIMIT_REACHED = "uptime limit reached for user <{user}>"
    DOWNLOAD_LIMIT_REACHED = "download limit reached for user <{user}>"
    UPLOAD_LIMIT_REACHED = "upload limit reached for user <{user}>"
    TRANSFER_LIMIT_REACHED = "transfer limit reached for user <{user}>"
    TOO_MANY_SESSIONS = "user <{user}> has reached its shared-users limit"
    METHOD_NOT_ALLOWED = "auth method not allowed for user <{user}>"
    # An EAP conversation that ended before any credentials were decided: an unknown or
    # expired State, a response the method could not read (eap/).
    EAP_FAILED = "EAP conversation of user <{user}> failed"
    # EAP-TLS (eap/tls.py): the client certificate the handshake refused, and why.
    CERTIFICATE_REVOKED = "certificate of user <{user}> is revoked"
    CERTIFICATE_EXPIRED = "certificate of user <{user}> has expired or is not yet valid"
    CERTIFICATE_UNKNOWN_CA = "certificate of user <{user}> is from an unknown CA"
    CERTIFICATE_MISSING = "user <{user}> sent no certificate"
    CERTIFICATE_REFUSED = "certificate of user <{user}> was not verified"
    TLS_FAILED = "TLS handshake with user <{user}> failed"
    OTP_REPLAYED = "one-time code of user <{user}> was used already"
    OTP_NOT_CARRIED = (
        "user <{user}> has an otp-secret: the one-time code goes after the password, which "
        "only PAP carries (not CHAP or MS-CHAP)"
    )

    def describe(self, user: str) -> str:
        return self.value.format(user=user)


@dataclass(frozen=True, slots=True)
class Decision:
    accept: bool
    reason: RejectReason | None = None
    reply: tuple[tuple[str | CustomAttribute, object], ...] = ()
    profile_changes: tuple[ProfileSlot, ...] = field(default=())
    bind_caller_id: str = ""  # caller-id-bind-on-first-use: the caller-id to store now
    evict: int = 0  # how many of the user's oldest sessions to end to make room (v7 mode)
    # The shared-users limit an accepted new session counts against (None: unlimited), which
    # is claimed in the database before the Accept is sent (store/claims.py).
    shared_users: int | None = None
    # The step of the one-time code this Accept used (core/totp.py), stored with the user
    # before the Accept is sent, on the condition that no later step is stored: once per user.
    otp_step: int | None = None


OTP_DIGITS = 6  # the TOTP code at the end of the password of a user with an otp-secret


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    """Whether a password matched; if not, why (None: a wrong password, WRONG_PASSWORD).
    `otp_step`: the step of the one-time code it carried, to store."""

    matched: bool
    reason: RejectReason | None = None
    otp_step: int | None = None


def check_plain_password(facts: UserFacts, password: bytes, now: dt.datetime) -> PasswordCheck:
    """Check a password given in clear (PAP's User-Password, TTLS's inner PAP): the user's
    password, or for a user with an otp-secret that password followed by the code of a step
    within one of `now`'s (RFC 6238 5.2) and after the last one used. Both parts are always
    compared, so a wrong static part takes as long as a wrong code."""
    offered = password.rstrip(b"\0")  # RFC 2865 5.2: NUL padding carries no meaning
    if not facts.otp_secret:
        return PasswordCheck(chap.verify_pap(offered, facts.password.encode()))
    static, code = offered[:-OTP_DIGITS], offered[-OTP_DIGITS:]
    static_ok = chap.verify_pap(static, facts.password.encode()) and len(code) == OTP_DIGITS
    try:
        key = decode_secret(facts.otp_secret)
    except ValueError:  # stored before validation, or by hand: no code can match it
        return PasswordCheck(False)
    found = check(key, code.decode("ascii", "replace"), now, facts.otp_step)
    if not static_ok or found.outcome is Outcome.WRONG:
        return PasswordCheck(False)
    if found.outcome is Outcome.REPLAYED:
        return PasswordCheck(False, RejectReason.OTP_REPLAYED)
    return PasswordCheck(True, None, found.step)


def _check_password(
    request: AccessRequest, facts: UserFacts, now: dt.datetime
) -> tuple[PasswordCheck, tuple[tuple[str, object], ...]]:
    """Whether the credentials match, and the reply attributes the method adds on success."""
    creds = request.credentials
    if isinstance(creds, PapCredentials):
        return check_plain_password(facts, creds.password, now), ()
    if facts.otp_secret:
        # CHAP and MS-CHAP send a hash of the password with a challenge, not the password:
        # the code cannot be taken off it (hashing the static password with each acceptable
        # code is not done); a tunnel's inner PAP is the way for such users. A certificate
        # (EAP-TLS) carries no code either.
        return PasswordCheck(False, RejectReason.OTP_NOT_CARRIED), ()
    if isinstance(creds, CertificateCredentials):
        return PasswordCheck(True), ()  # the TLS handshake verified it (eap/tls.py)
    matched, reply = _check_hashed_password(request, creds, facts.password)
    return PasswordCheck(matched), reply


def _check_hashed_password(
    request: AccessRequest, creds: Credentials | None, secret: str
) -> tuple[bool, tuple[tuple[str, object], ...]]:
    """CHAP, MS-CHAPv1 and MS-CHAPv2: the response made from `secret` and the challenge."""
    if isinstance(creds, ChapCredentials):
        return chap.verify_chap(creds.chap_password, creds.challenge, secret.encode()), ()
    if isinstance(creds, MschapV1Credentials):
        v1 = mschap.verify_mschap_v1(secret, creds.challenge, creds.response)
        if v1 is None:
            return False, ()
        # RFC 2548 2.4.1: the MPPE keys for an MS-CHAPv1 session.
        return True, (("MS-CHAP-MPPE-Keys", v1.mppe_keys),)
    if isinstance(creds, MschapV2Credentials):
        v2 = mschap.verify_mschap_v2(
            request.username.encode(), secret, creds.challenge, creds.response
        )
        if v2 is None:
            return False, ()
        # RFC 2548 2.3.3 and 2.4.2-2.4.3: the authenticator response and the MPPE keys.
        return True, (
            ("MS-CHAP2-Success", v2.success),
            ("MS-MPPE-Recv-Key", v2.recv_key),
            ("MS-MPPE-Send-Key", v2.send_key),
            ("MS-MPPE-Encryption-Policy", 1),
            ("MS-MPPE-Encryption-Types", 6),
        )
    return False, ()


CLASS_PREFIX = b"userman:"
CLASS_DIGITS = 18  # any row id fits: a 64-bit signed integer has 19 digits


def class_for(user_id: int) -> bytes:
    """The Class of an Access-Accept (RFC 2865 5.25): the router echoes it in accounting."""
    return CLASS_PREFIX + str(user_id).encode()


def user_of_class(value: bytes | None) -> int | None:
    """The user a Class that `class_for` made names; None for any other Class."""
    if value is None or not value.startswith(CLASS_PREFIX):
        return None
    digits = value[len(CLASS_PREFIX) :]
    if not (digits.isdigit() and digits.isascii()) or len(digits) > CLASS_DIGITS:
        return None  # not one of ours: a router cannot name an id beyond any row's
    return int(digits)


def same_caller(allowed: str, calling: str) -> bool:
    """Whether Calling-Station-Id `calling` is the caller-id `allowed`. MAC addresses match in
    any of the usual spellings (01:23:45:67:89:AB, 01-23-45-67-89-ab, 0123.4567.89ab)."""
    if allowed.casefold() == calling.casefold():
        return True
    plain = [re.sub(r"[-:.]", "", text).casefold() for text in (allowed, calling)]
    is_mac = all(re.fullmatch(r"[0-9a-f]{12}", text) for text in plain)
    return is_mac and plain[0] == plain[1]


def shared_users_limit(facts: UserFacts, running: ProfileSlot) -> int | None:
    """The manual: the profile's override-shared-users, when not `off`, overrides the user's
    shared-users. None is unlimited."""
    override = running.override_shared_users
    if override == "off":
        return facts.shared_users
    if override == "unlimited":
        return None
    return int(override)


def authorize(
    request: AccessRequest,
    facts: UserFacts | None,
    now: dt.datetime,
    held: Terms | None = None,
) -> Decision:
    """Accept or reject `request`; the order of checks follows User Manager's: the password,
    the user and its customer, the caller-id, the profile, then the sessions at once.
    `held`: `terms(facts, then)` made earlier (a memo, core/policy.py), for `now` between
    `then` and its `until`: the decision is the same as with terms made now."""
    if not request.readable:
        return Decision(False, RejectReason.UNREADABLE_NAME)
    if request.credentials is None:
        return Decision(False, RejectReason.NO_CREDENTIALS)
    if facts is None:
        return Decision(False, RejectReason.UNKNOWN_USER)
    # v7: the user's group names the outer methods it may log on with (`outer-auths`).
    if facts.outer_auths is not None and method_of(request) not in facts.outer_auths:
        return Decision(False, RejectReason.METHOD_NOT_ALLOWED)
    # ... and the methods inside a TTLS or PEAP tunnel (`inner-auths`).
    inner = request.inner
    if inner is not None and facts.inner_auths is not None and inner not in facts.inner_auths:
        return Decision(False, RejectReason.METHOD_NOT_ALLOWED)
    checked, method_reply = _check_password(request, facts, now)
    if not checked.matched:
        return Decision(False, checked.reason or RejectReason.WRONG_PASSWORD)
    if facts.disabled:
        return Decision(False, RejectReason.USER_DISABLED)
    if facts.customer_disabled:
        return Decision(False, RejectReason.CUSTOMER_DISABLED)
    calling = request.context.calling_station_id
    bind = ""
    if facts.caller_id:
        if not same_caller(facts.caller_id, calling):
            return Decision(False, RejectReason.CALLER_ID_MISMATCH)
    elif facts.caller_id_bind_on_first_use and calling:
        bind = calling  # the first caller-id seen becomes the only one allowed
    decision = _grant(facts, now, method_reply, bind, open_session=False, held=held)
    if decision.accept and checked.otp_step is not None:
        return replace(decision, otp_step=checked.otp_step)
    return decision


def reauthorize(facts: UserFacts, now: dt.datetime) -> Decision:
    """The decision for a session that is already open, asked again when time passes or limits
    are edited (services/enforce.py): what `authorize` checks after the credentials and the
    caller-id, but not shared-users, which already counts this session."""
    if facts.disabled:
        return Decision(False, RejectReason.USER_DISABLED)
    if facts.customer_disabled:
        return Decision(False, RejectReason.CUSTOMER_DISABLED)
    return _grant(facts, now, (), "", open_session=True)


@dataclass(frozen=True, slots=True)
class Terms:
    """What the user's facts grant at a moment, whatever the request: the decision `_grant`
    makes after the credentials and the caller-id, but for the request's own part (shared-users
    against this session, the method's reply attributes, Session-Timeout counted from `now`).

    `until`: the first moment after which it may differ from `terms(facts, later)` for the same
    facts (the running profile's end, the next edge of a window of its limitations); None:
    never. A selection that changes the profile queue holds only at its own moment."""

    refusal: Decision | None  # the profile, its windows or its limits refuse
    running: ProfileSlot | None
    changed: tuple[ProfileSlot, ...]
    reply: tuple[tuple[str | CustomAttribute, object], ...]  # the reply after the method's own
    uptime_left: int | None
    ends: tuple[dt.datetime, ...]  # the moments the session must end by (`_ends`)
    until: dt.datetime | None


def terms(facts: UserFacts, now: dt.datetime) -> Terms:
    """The profile, its windows and limits, and the reply they make, at `now`."""
    selection = select_profile(facts.profiles, now)
    changed = selection.changed
    running = selection.running
    # A selection that starts or ends a profile is made at `now` and stored: it holds no longer.
    until: dt.datetime | None = now if changed else None
    if running is None:
        refusal = Decision(False, RejectReason.NO_VALID_PROFILE, profile_changes=changed)
        return Terms(refusal, None, changed, (), None, (), until)
    if running.end_time is not None:
        until = _earliest(until, running.end_time)
    limitations = [limitation for limitation, _ in facts.limits]
    tz = facts.time_zone
    until = _earliest(until, applicable_until(limitations, now, tz))
    now_applying = applicable(limitations, now, tz)

    def refused(reason: RejectReason) -> Terms:
        refusal = Decision(False, reason, profile_changes=changed)
        return Terms(refusal, running, changed, (), None, (), until)

    if not now_applying and limitations and outside_windows(limitations, now, tz):
        # A profile whose windows do not cover now refuses ("internet only 07:00-16:00").
        return refused(RejectReason.OUTSIDE_TIME_WINDOW)
    left = _remaining(facts, now, now_applying)
    ran_out = exhausted(left)
    if ran_out is not None:
        return refused(LIMIT_REASONS[ran_out])
    reply: list[tuple[str | CustomAttribute, object]] = []
    if facts.framed_ip:
        reply.append(("Framed-IP-Address", ipaddress.ip_address(facts.framed_ip)))
    reply.extend(_limitation_reply(now_applying))
    reply.extend(_user_reply(facts))
    if facts.user_id:
        reply.append(("Class", class_for(facts.user_id)))
    reply.extend(reply_limits(left))
    ends = tuple(_ends(facts, running, limitations, now))
    return Terms(None, running, changed, tuple(reply), left.uptime, ends, until)


def _earliest(moment: dt.datetime | None, other: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return other
    return moment if other is None or moment <= other else other


def _grant(
    facts: UserFacts,
    now: dt.datetime,
    method_reply: tuple[tuple[str, object], ...],
    bind: str,
    *,
    open_session: bool,
    held: Terms | None = None,
) -> Decision:
    """The terms (`held`, or made now), shared-users (for a new session), and the reply."""
    granted = terms(facts, now) if held is None else held
    if granted.refusal is not None:
        return granted.refusal
    running = granted.running
    assert running is not None  # a grant without a refusal has its profile
    limit = shared_users_limit(facts, running)
    evict = 0
    if limit is not None and facts.active_sessions >= limit and not open_session:
        if not facts.evict_oldest or limit == 0:
            # Legacy User Manager refuses at the limit.
            reason = RejectReason.TOO_MANY_SESSIONS
            return Decision(False, reason, profile_changes=granted.changed)
        # v7: the oldest sessions make room (terminate-cause um-simultaneous-sessions).
        evict = facts.active_sessions - limit + 1
    reply: list[tuple[str | CustomAttribute, object]] = [*method_reply, *granted.reply]
    timeout = session_timeout(
        [granted.uptime_left, *(seconds_until(moment, now) for moment in granted.ends)]
    )
    if timeout is not None:
        reply.append(("Session-Timeout", timeout))
    counted = None if open_session else limit
    return Decision(True, None, tuple(reply), granted.changed, bind, evict, counted)


def _ends(
    facts: UserFacts,
    running: ProfileSlot,
    limitations: Sequence[LimitationFacts],
    now: dt.datetime,
) -> list[dt.datetime]:
    """The moments the session must end by (besides the uptime left): the profile's end, and
    the next change of the limitations that apply. For a router that takes CoA, a hand-over
    (to the next waiting profile, or to another limitation's window) is no end: the CoA brings
    the new limits; only the end of the last profile and the end of the windows are."""
    ends = []
    waiting = any(
        slot.state is ProfileState.WAITING and slot.id != running.id for slot in facts.profiles
    )
    if running.end_time is not None and not (facts.coa and waiting):
        ends.append(running.end_time)
    tz = facts.time_zone
    window = (covered_until if facts.coa else applicable_until)(limitations, now, tz)
    if window is not None:
        ends.append(window)
    return ends


def _remaining(
    facts: UserFacts,
    now: dt.datetime,
    now_applying: Sequence[LimitationFacts] | None = None,
) -> Remaining:
    """What is left of the quotas of the running profile's limitations that apply now
    (`now_applying`, when the caller knows them already)."""
    if now_applying is None:
        now_applying = applicable([lim for lim, _ in facts.limits], now, facts.time_zone)
    # By identity: `applicable` gives back the very facts it was given.
    applying = {id(lim) for lim in now_applying}
    return strictest(remaining(lim, used) for lim, used in facts.limits if id(lim) in applying)


@dataclass(frozen=True, slots=True)
class Standing:
    """Where the user stands now by the decision's own rules, for the pages that show it."""

    running: ProfileSlot | None  # the profile a logon now would run; None: no valid profile
    # `running` has not started: it waits for the user's next logon (starts-at=logon, or the
    # next one queued after a used profile), and its validity runs from there.
    starts_at_logon: bool
    left: Remaining  # of the limitations that apply now; None in a field: unlimited
    # Seconds online left: the least of the uptime left and the time to the running profile's
    # end (a waiting one: its validity); None: neither limits it.
    time_left: int | None


def standing(facts: UserFacts, now: dt.datetime) -> Standing:
    """The profile that runs (or would start at a logon now), what is left of its limits, and
    the time left until it ends: what `authorize` would grant, without starting anything."""
    running = select_profile(facts.profiles, now).running
    if running is None:
        return Standing(None, False, Remaining(), None)
    started = any(
        slot.id == running.id and slot.state is ProfileState.RUNNING for slot in facts.profiles
    )
    left = _remaining(facts, now)
    until_end = None if running.end_time is None else max(seconds_until(running.end_time, now), 0)
    present = [value for value in (left.uptime, until_end) if value is not None]
    return Standing(running, not started, left, min(present) if present else None)


def used_up(facts: UserFacts, now: dt.datetime) -> Limit | None:
    """The quota that is used up now, or None: what refuses a new session (`authorize`) is
    what ends a running one when an Interim-Update reports it used up."""
    return exhausted(_remaining(facts, now))


# The user's wireless-enc-algo as Mikrotik-Wireless-Enc-Algo numbers (MikroTik's dictionary).
ENC_ALGO = {"none": 0, "40bit-wep": 1, "104bit-wep": 2, "aes-ccm": 3, "tkip": 4}


def _user_reply(facts: UserFacts) -> list[tuple[str | CustomAttribute, object]]:
    """The user's wireless keys (the manual's user properties), its IPv6 DNS server (RFC 6911
    3.2, DNS-Server-IPv6-Address) and the custom attributes."""
    reply: list[tuple[str | CustomAttribute, object]] = []
    if facts.ipv6_dns not in ("", "::"):
        dns = ipaddress.IPv6Address(facts.ipv6_dns)
        if not dns.is_unspecified:
            reply.append(("DNS-Server-IPv6-Address", dns))
    if facts.wireless_enc_algo != "none":
        reply.append(("Mikrotik-Wireless-Enc-Algo", ENC_ALGO[facts.wireless_enc_algo]))
    if facts.wireless_enc_key:
        reply.append(("Mikrotik-Wireless-Enc-Key", facts.wireless_enc_key))
    if facts.wireless_psk:
        reply.append(("Mikrotik-Wireless-PSK", facts.wireless_psk))
    latest: dict[str, tuple[str | CustomAttribute, str]] = {}
    for attribute, value in facts.attributes:  # a later one of the same name wins
        latest[attribute if isinstance(attribute, str) else attribute.name] = (attribute, value)
    reply.extend(latest.values())
    return reply


LIMIT_REASONS = {
    Limit.UPTIME: RejectReason.UPTIME_LIMIT_REACHED,
    Limit.DOWNLOAD: RejectReason.DOWNLOAD_LIMIT_REACHED,
    Limit.UPLOAD: RejectReason.UPLOAD_LIMIT_REACHED,
    Limit.TRANSFER: RejectReason.TRANSFER_LIMIT_REACHED,
}


# The replies of the sets of limitations seen lately, by the identities of their facts (which
# the memo holds, so no identity is reused while its entry lives): a server keeps one set of
# facts per profile (core/policy.py), so most requests find theirs here.
_REPLIES: dict[tuple[int, ...], tuple[tuple[LimitationFacts, ...], list[tuple[str, object]]]] = {}
_REPLIES_HELD = 4096


def _limitation_reply(limitations: Sequence[LimitationFacts]) -> list[tuple[str, object]]:
    """What the limitations that apply now tell the router (research notes 4.4): the rate
    (Mikrotik-Rate-Limit), the group, the address pool and the address list. Where several
    set a group, pool or list, the first one's is sent."""
    key = tuple(map(id, limitations))
    held = _REPLIES.get(key)
    if held is None:
        if len(_REPLIES) >= _REPLIES_HELD:
            _REPLIES.clear()
        held = _REPLIES[key] = (tuple(limitations), _limitation_reply_of(limitations))
    return held[1]


def _limitation_reply_of(limitations: Sequence[LimitationFacts]) -> list[tuple[str, object]]:
    reply: list[tuple[str, object]] = []
    rate = format_rate_limit(combine(limitations)) if limitations else None
    if rate is not None:
        reply.append(("Mikrotik-Rate-Limit", rate))
    for attribute, column in (
        ("Mikrotik-Group", "group_name"),
        ("Framed-Pool", "ip_pool"),
        ("Mikrotik-Address-List", "address_list"),
    ):
        value = next((getattr(lim, column) for lim in limitations if getattr(lim, column)), "")
        if value:
            reply.append((attribute, value))
    return reply
