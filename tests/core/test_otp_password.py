"""The password of a user with an otp-secret (v7): the static password followed by the TOTP
code of now (RFC 6238), once; PAP only."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from userman.core import totp
from userman.core.authorize import (
    AccessRequest,
    ChapCredentials,
    Credentials,
    Decision,
    MschapV1Credentials,
    MschapV2Credentials,
    PapCredentials,
    RejectReason,
    UserFacts,
    authorize,
    check_plain_password,
)
from userman.core.profiles import ProfileSlot, ProfileState
from userman.radius import chap, mschap

# https://www.rfc-editor.org/rfc/rfc6238#appendix-B: the SHA-1 seed and the row at 1111111111
# (T = 0x23523ED, TOTP 14050471: the 6-digit code is 050471).
SEED = b"12345678901234567890"
SECRET = base64.b32encode(SEED).decode()
NOW = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=1111111111)
STEP = 0x23523ED
CODE = "050471"

WAITING = ProfileSlot(1, "profile1", ProfileState.WAITING, dt.timedelta(hours=1))
FACTS = UserFacts("test", "static", disabled=False, profiles=(WAITING,), otp_secret=SECRET)


def pap(password: str, facts: UserFacts = FACTS) -> Decision:
    return authorize(AccessRequest("test", PapCredentials(password.encode())), facts, NOW)


def test_the_rfc_vector_is_the_code_of_now() -> None:
    assert totp.code_at(SEED, NOW) == CODE


def test_static_password_and_code_are_accepted_and_the_step_is_to_be_stored() -> None:
    decision = authorize(
        AccessRequest("test", PapCredentials(b"static" + CODE.encode())), FACTS, NOW
    )
    assert decision.accept
    assert decision.otp_step == STEP


def test_nul_padding_of_the_user_password_is_no_part_of_the_code() -> None:
    # https://www.rfc-editor.org/rfc/rfc2865#section-5.2: padded to a multiple of 16 octets.
    padded = (b"static" + CODE.encode()).ljust(16, b"\0")
    assert check_plain_password(FACTS, padded, NOW).otp_step == STEP


@pytest.mark.parametrize("offset", [-1, 1])
def test_one_step_of_skew_either_way(offset: int) -> None:
    code = totp.hotp(SEED, STEP + offset)
    decision = authorize(
        AccessRequest("test", PapCredentials(b"static" + code.encode())), FACTS, NOW
    )
    assert decision.accept
    assert decision.otp_step == STEP + offset


@pytest.mark.parametrize(
    "password",
    [
        "static",  # no code
        "static" + totp.hotp(SEED, STEP + 2),  # two steps ahead
        "static" + totp.hotp(SEED, STEP - 2),
        "static000000",
        "wrong" + CODE,  # the static part wrong, the code right
        "static" + CODE + "1",
        CODE,
        "",
    ],
)
def test_a_wrong_code_or_static_part_is_a_wrong_password(password: str) -> None:
    decision = pap(password)
    assert not decision.accept
    assert decision.reason is RejectReason.WRONG_PASSWORD
    assert decision.otp_step is None


@pytest.mark.parametrize("used", [STEP, STEP + 1])
def test_a_code_of_a_step_used_already_or_earlier_is_a_replay(used: int) -> None:
    """RFC 6238 5.2: a code is not accepted a second time."""
    facts = dataclasses.replace(FACTS, otp_step=used)
    decision = authorize(
        AccessRequest("test", PapCredentials(b"static" + CODE.encode())), facts, NOW
    )
    assert decision.reason is RejectReason.OTP_REPLAYED
    assert (
        RejectReason.OTP_REPLAYED.describe("test")
        == "one-time code of user <test> was used already"
    )


def test_a_replay_with_the_static_part_wrong_is_a_wrong_password() -> None:
    facts = dataclasses.replace(FACTS, otp_step=STEP)
    assert check_plain_password(facts, b"wrong" + CODE.encode(), NOW).reason is None


def test_the_code_after_the_last_used_is_accepted() -> None:
    facts = dataclasses.replace(FACTS, otp_step=STEP - 1)
    assert check_plain_password(facts, b"static" + CODE.encode(), NOW).otp_step == STEP


def test_a_user_without_otp_secret_gives_no_step() -> None:
    plain = dataclasses.replace(FACTS, otp_secret="")
    checked = check_plain_password(plain, b"static", NOW)
    assert checked.matched
    assert checked.otp_step is None
    assert not check_plain_password(plain, b"static" + CODE.encode(), NOW).matched


def test_a_refused_decision_after_the_code_stores_no_step() -> None:
    disabled = dataclasses.replace(FACTS, disabled=True)
    decision = pap("static" + CODE, disabled)
    assert decision.reason is RejectReason.USER_DISABLED
    assert decision.otp_step is None


def test_a_stored_secret_that_is_not_base32_matches_nothing() -> None:
    broken = dataclasses.replace(FACTS, otp_secret="not base32!")
    assert not check_plain_password(broken, b"static" + CODE.encode(), NOW).matched


CHALLENGE16 = bytes(range(16))


def creds(method: str, password: str) -> Credentials:
    """What a client that knows `password` sends with each method (as test_authorize.py)."""
    if method == "chap":
        response = chap.chap_response(1, password.encode(), CHALLENGE16)
        return ChapCredentials(bytes([1]) + response, CHALLENGE16)
    if method == "mschapv1":
        challenge = CHALLENGE16[:8]
        return MschapV1Credentials(challenge, mschap.mschap_v1_response(1, password, challenge))
    peer = bytes(range(16, 32))
    response = mschap.mschap_v2_response(1, b"test", password, CHALLENGE16, peer)
    return MschapV2Credentials(CHALLENGE16, response)


@pytest.mark.parametrize("method", ["chap", "mschapv1", "mschapv2"])
def test_methods_that_cannot_carry_the_code_are_refused_with_their_reason(method: str) -> None:
    for password in ("static", "static" + CODE):
        decision = authorize(AccessRequest("test", creds(method, password)), FACTS, NOW)
        assert decision.reason is RejectReason.OTP_NOT_CARRIED
    assert "only PAP carries" in RejectReason.OTP_NOT_CARRIED.describe("test")


def test_the_security_notes_list_every_reject_reason() -> None:
    """docs/security.md, "Reject reasons and one-time passwords": the whole catalogue."""
    notes = (Path(__file__).parents[2] / "docs" / "security.md").read_text()
    for reason in RejectReason:
        name = reason.name.lower().replace("_", "-")
        assert f"| {name} | `{reason.describe('name')}` |" in notes, name
