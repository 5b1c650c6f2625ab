"""The access decision, one row per outcome, with an explicit `now`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress

import pytest

from userman.core.authorize import (
    AccessRequest,
    AuthMethod,
    CertificateCredentials,
    ChapCredentials,
    Credentials,
    InnerAuth,
    MschapV1Credentials,
    MschapV2Credentials,
    PapCredentials,
    RejectReason,
    UserFacts,
    auth_methods,
    authorize,
    inner_methods,
    method_of,
    standing,
)
from userman.core.context import RequestContext
from userman.core.limits import LimitationFacts, Usage
from userman.core.profiles import ProfileSlot, ProfileState
from userman.core.windows import Window
from userman.radius import chap, mschap

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
WAITING = ProfileSlot(1, "profile1", ProfileState.WAITING, dt.timedelta(hours=1))
FACTS = UserFacts("test", "test", disabled=False, profiles=(WAITING,))
CHALLENGE16 = bytes(range(16))
PEER = bytes(range(16, 32))


def creds(method: str, password: str) -> Credentials:
    if method == "pap":
        return PapCredentials(password.encode())
    if method == "chap":
        return ChapCredentials(
            bytes([1]) + chap.chap_response(1, password.encode(), CHALLENGE16), CHALLENGE16
        )
    if method == "mschapv1":
        return MschapV1Credentials(
            CHALLENGE16[:8], mschap.mschap_v1_response(1, password, CHALLENGE16[:8])
        )
    return MschapV2Credentials(
        CHALLENGE16, mschap.mschap_v2_response(1, b"test", password, CHALLENGE16, PEER)
    )


METHODS = ["pap", "chap", "mschapv1", "mschapv2"]


@pytest.mark.parametrize("method", METHODS)
def test_the_right_password_is_accepted(method: str) -> None:
    decision = authorize(AccessRequest("test", creds(method, "test")), FACTS, NOW)
    assert decision.accept
    assert decision.reason is None
    names = [name for name, _ in decision.reply]
    assert "Session-Timeout" in names  # the profile's validity ends in an hour
    if method == "mschapv2":
        assert {"MS-CHAP2-Success", "MS-MPPE-Send-Key", "MS-MPPE-Recv-Key"} <= set(names)
    if method == "mschapv1":
        assert "MS-CHAP-MPPE-Keys" in names


@pytest.mark.parametrize("method", METHODS)
def test_a_wrong_password_is_rejected(method: str) -> None:
    decision = authorize(AccessRequest("test", creds(method, "nope")), FACTS, NOW)
    assert decision.reason is RejectReason.WRONG_PASSWORD
    assert decision.reply == ()


@pytest.mark.parametrize(
    ("facts", "credentials", "reason"),
    [
        (None, PapCredentials(b"test"), RejectReason.UNKNOWN_USER),
        (FACTS, None, RejectReason.NO_CREDENTIALS),
        (
            UserFacts("test", "test", disabled=True, profiles=(WAITING,)),
            PapCredentials(b"test"),
            RejectReason.USER_DISABLED,
        ),
        (
            UserFacts("test", "test", disabled=False, profiles=()),
            PapCredentials(b"test"),
            RejectReason.NO_VALID_PROFILE,
        ),
    ],
)
def test_rejections(
    facts: UserFacts | None, credentials: Credentials | None, reason: RejectReason
) -> None:
    decision = authorize(AccessRequest("test", credentials), facts, NOW)
    assert not decision.accept
    assert decision.reason is reason


def test_the_manuals_log_text_for_no_valid_profile() -> None:
    # Manual, "Log": description="no valid profile found for user <Client1>"
    assert RejectReason.NO_VALID_PROFILE.describe("Client1") == (
        "no valid profile found for user <Client1>"
    )


def test_the_first_logon_starts_the_profile_and_a_static_ip_is_sent() -> None:
    facts = UserFacts("test", "test", False, (WAITING,), framed_ip="10.5.50.2")
    decision = authorize(AccessRequest("test", PapCredentials(b"test")), facts, NOW)
    [started] = decision.profile_changes
    assert (started.state, started.start_time, started.end_time) == (
        ProfileState.RUNNING,
        NOW,
        NOW + dt.timedelta(hours=1),
    )
    assert ("Framed-IP-Address", ipaddress.ip_address("10.5.50.2")) in decision.reply
    assert ("Session-Timeout", 3600) in decision.reply


def pap(calling: str = "") -> AccessRequest:
    return AccessRequest(
        "test", PapCredentials(b"test"), RequestContext(calling_station_id=calling)
    )


def facts(**changes: object) -> UserFacts:
    return dataclasses.replace(FACTS, **changes)  # type: ignore[arg-type]


def test_a_disabled_customer_disables_its_users() -> None:
    decision = authorize(pap(), facts(customer_disabled=True), NOW)
    assert decision.reason is RejectReason.CUSTOMER_DISABLED


@pytest.mark.parametrize(
    ("allowed", "calling", "accepted"),
    [
        ("01:23:45:67:89:AB", "01:23:45:67:89:AB", True),
        ("01:23:45:67:89:AB", "01-23-45-67-89-ab", True),  # the same MAC, spelled otherwise
        ("01:23:45:67:89:AB", "0123.4567.89ab", True),
        ("01:23:45:67:89:AB", "01:23:45:67:89:AC", False),
        ("01:23:45:67:89:AB", "", False),
        ("+37120000000", "+37120000000", True),  # not a MAC: compared as text
        ("+37120000000", "+37120000001", False),
    ],
)
def test_caller_id_must_match(allowed: str, calling: str, accepted: bool) -> None:
    # Manual, user: caller-id; research 4.3 step 3.
    decision = authorize(pap(calling), facts(caller_id=allowed), NOW)
    assert decision.accept is accepted
    if not accepted:
        assert decision.reason is RejectReason.CALLER_ID_MISMATCH


def test_caller_id_bind_on_first_use_binds_the_first_caller() -> None:
    bound = authorize(pap("AA:BB:CC:DD:EE:FF"), facts(caller_id_bind_on_first_use=True), NOW)
    assert bound.accept
    assert bound.bind_caller_id == "AA:BB:CC:DD:EE:FF"
    already = facts(caller_id="AA:BB:CC:DD:EE:FF", caller_id_bind_on_first_use=True)
    assert authorize(pap("AA:BB:CC:DD:EE:FF"), already, NOW).bind_caller_id == ""
    assert not authorize(pap("11:22:33:44:55:66"), already, NOW).accept


@pytest.mark.parametrize(
    ("shared", "override", "active", "accepted"),
    [
        (None, "off", 100, True),  # unlimited
        (1, "off", 0, True),
        (1, "off", 1, False),  # the manual's example: shared-users=1
        (2, "off", 1, True),
        (1, "unlimited", 5, True),  # the profile's override-shared-users wins
        (5, "2", 2, False),
        (1, "3", 2, True),
    ],
)
def test_shared_users_and_the_profiles_override(
    shared: int | None, override: str, active: int, accepted: bool
) -> None:
    slot = dataclasses.replace(WAITING, override_shared_users=override)
    user = facts(shared_users=shared, active_sessions=active, profiles=(slot,))
    decision = authorize(pap(), user, NOW)
    assert decision.accept is accepted
    if not accepted:
        assert decision.reason is RejectReason.TOO_MANY_SESSIONS


@pytest.mark.parametrize(("limit", "active", "evict"), [(1, 1, 1), (2, 3, 2), (2, 1, 0)])
def test_v7_mode_makes_room_by_ending_the_oldest_sessions(
    limit: int, active: int, evict: int
) -> None:
    # Research notes 4.3 step 7: v7 disconnects the oldest session, then accepts.
    user = facts(shared_users=limit, active_sessions=active, evict_oldest=True)
    decision = authorize(pap(), user, NOW)
    assert decision.accept
    assert decision.evict == evict


# -- where a user stands, for the user page ---------------------------------------------------

TEN_HOURS = LimitationFacts(
    "ten-hours", uptime_limit=36_000, transfer_limit=2**30, windows=(Window(),)
)


def test_a_running_profile_has_the_least_of_the_uptime_left_and_its_validity() -> None:
    """The user page's "time left" is what the Access-Accept's Session-Timeout counts from: the
    uptime left and the profile's end (research 4.4), not "unlimited" for a profile that ends."""
    running = dataclasses.replace(
        WAITING, state=ProfileState.RUNNING, start_time=NOW, end_time=NOW + dt.timedelta(days=1)
    )
    no_limits = standing(facts(profiles=(running,)), NOW + dt.timedelta(hours=20))
    assert (no_limits.time_left, no_limits.starts_at_logon) == (4 * 3600, False)
    used = Usage(uptime=34_000, download=100)
    limited = standing(facts(profiles=(running,), limits=((TEN_HOURS, used),)), NOW)
    assert limited.time_left == 2000  # the uptime left is the nearer end
    assert (limited.left.transfer, limited.left.download) == (2**30 - 100, None)
    decision = authorize(pap(), facts(profiles=(running,), limits=((TEN_HOURS, used),)), NOW)
    assert ("Session-Timeout", limited.time_left) in decision.reply


def test_a_waiting_profile_starts_at_the_next_logon_with_its_whole_validity() -> None:
    """The manual: a `starts-at=logon` profile starts when the user logs on; nothing starts it
    by looking."""
    waiting = standing(FACTS, NOW)
    assert waiting.running is not None
    assert (waiting.starts_at_logon, waiting.time_left) == (True, 3600)
    endless = dataclasses.replace(WAITING, validity=None)
    assert standing(facts(profiles=(endless,)), NOW).time_left is None


def test_no_valid_profile_stands_for_nothing() -> None:
    nothing = standing(facts(profiles=()), NOW)
    assert (nothing.running, nothing.time_left) == (None, None)


# v7 user groups: `outer-auths` names the methods a group's users may log on with.
@pytest.mark.parametrize("method", METHODS)
def test_a_method_the_group_does_not_allow_is_refused(method: str) -> None:
    allowed = {
        "pap": "chap,mschap1",
        "chap": "pap",
        "mschapv1": "mschap2",
        "mschapv2": "eap-mschap2",
    }
    facts = dataclasses.replace(FACTS, outer_auths=auth_methods(allowed[method]))
    decision = authorize(AccessRequest("test", creds(method, "test")), facts, NOW)
    assert decision.reason is RejectReason.METHOD_NOT_ALLOWED
    assert decision.reason.describe("test") == "auth method not allowed for user <test>"


@pytest.mark.parametrize("method", METHODS)
def test_a_method_the_group_allows_is_decided_as_before(method: str) -> None:
    facts = dataclasses.replace(FACTS, outer_auths=auth_methods("pap,chap,mschap1,mschap2"))
    assert authorize(AccessRequest("test", creds(method, "test")), facts, NOW).accept
    wrong = authorize(AccessRequest("test", creds(method, "nope")), facts, NOW)
    assert wrong.reason is RejectReason.WRONG_PASSWORD


def test_credentials_over_eap_are_the_eap_method_s() -> None:
    request = AccessRequest("test", creds("mschapv2", "test"), eap=AuthMethod.EAP_MSCHAP2)
    assert method_of(request) is AuthMethod.EAP_MSCHAP2
    plain = dataclasses.replace(FACTS, outer_auths=auth_methods("mschap2"))
    assert authorize(request, plain, NOW).reason is RejectReason.METHOD_NOT_ALLOWED
    over_eap = dataclasses.replace(FACTS, outer_auths=auth_methods("eap-mschap2,bogus"))
    assert authorize(request, over_eap, NOW).accept
    assert authorize(request, FACTS, NOW).accept  # no group: any method


def test_a_method_inside_a_tunnel_must_be_one_the_group_allows() -> None:
    # v7 `inner-auths`: checked after `outer-auths`, for TTLS's and PEAP's inner credentials.
    request = AccessRequest(
        "test", creds("pap", "test"), eap=AuthMethod.EAP_TTLS, inner=InnerAuth.TTLS_PAP
    )
    outer = auth_methods("eap-ttls")
    allowed = dataclasses.replace(FACTS, outer_auths=outer, inner_auths=inner_methods("ttls-pap"))
    assert authorize(request, allowed, NOW).accept
    other = dataclasses.replace(allowed, inner_auths=inner_methods("ttls-chap,peap-mschap2,x"))
    assert authorize(request, other, NOW).reason is RejectReason.METHOD_NOT_ALLOWED
    no_outer = dataclasses.replace(allowed, outer_auths=auth_methods("eap-peap"))
    assert authorize(request, no_outer, NOW).reason is RejectReason.METHOD_NOT_ALLOWED
    assert authorize(request, FACTS, NOW).accept  # no group: any method


def test_a_certificate_is_the_proof_of_an_eap_tls_log_on() -> None:
    request = AccessRequest("test", CertificateCredentials(7), eap=AuthMethod.EAP_TLS)
    assert authorize(request, FACTS, NOW).accept
    assert method_of(dataclasses.replace(request, eap=None)) is AuthMethod.EAP_TLS
    otp = dataclasses.replace(FACTS, otp_secret="JBSWY3DPEHPK3PXP")
    assert authorize(request, otp, NOW).reason is RejectReason.OTP_NOT_CARRIED
