"""TOTP (core/totp.py) against the RFCs' vectors, and the skew and replay rules."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from userman.core import totp

# https://www.rfc-editor.org/rfc/rfc6238#appendix-B: the SHA-1 rows use this 20-byte seed.
SEED = b"12345678901234567890"

# https://www.rfc-editor.org/rfc/rfc6238#appendix-B: (Unix time, T as hex, 8-digit TOTP), SHA1.
RFC6238_SHA1 = [
    (59, 0x1, "94287082"),
    (1111111109, 0x23523EC, "07081804"),
    (1111111111, 0x23523ED, "14050471"),
    (1234567890, 0x273EF07, "89005924"),
    (2000000000, 0x3F940AA, "69279037"),
    (20000000000, 0x27BC86AA, "65353130"),
]

# https://www.rfc-editor.org/rfc/rfc4226#appendix-D: HOTP of the same seed, counters 0-9.
RFC4226_HOTP = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]


def at(seconds: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)


@pytest.mark.parametrize(("seconds", "step", "value"), RFC6238_SHA1)
def test_rfc6238_sha1_vectors(seconds: int, step: int, value: str) -> None:
    now = at(seconds)
    assert totp.step_of(now) == step
    assert totp.hotp(SEED, step, digits=8) == value
    assert totp.code_at(SEED, now, digits=8) == value
    # A 6-digit code is the 8-digit value mod 10**6 (RFC 4226 5.3: the same truncation).
    assert totp.code_at(SEED, now) == value[-6:]


@pytest.mark.parametrize(("counter", "value"), list(enumerate(RFC4226_HOTP)))
def test_rfc4226_hotp_vectors(counter: int, value: str) -> None:
    assert totp.hotp(SEED, counter) == value


SECRET = base64.b32encode(SEED).decode()  # GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ


@pytest.mark.parametrize(
    "text", [SECRET, SECRET.lower(), "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ", SECRET + "===="]
)
def test_base32_as_apps_take_it(text: str) -> None:
    assert totp.decode_secret(text) == SEED


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("GEZ1", "is not base32"),
        ("not base32!", "is not base32"),
        ("A", "is not base32"),
    ],
)
def test_not_base32(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        totp.decode_secret(text)


NOW = at(1111111111)  # step 0x23523ED
STEP = 0x23523ED


def test_the_code_of_now_is_accepted_for_its_step() -> None:
    result = totp.check(SEED, totp.hotp(SEED, STEP), NOW, None)
    assert result == totp.Check(totp.Outcome.ACCEPTED, STEP)


@pytest.mark.parametrize("offset", [-1, 1])
def test_one_step_of_skew_either_way(offset: int) -> None:
    result = totp.check(SEED, totp.hotp(SEED, STEP + offset), NOW, None)
    assert result == totp.Check(totp.Outcome.ACCEPTED, STEP + offset)


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_two_steps_away_is_wrong(offset: int) -> None:
    result = totp.check(SEED, totp.hotp(SEED, STEP + offset), NOW, None)
    assert result.outcome is totp.Outcome.WRONG


@pytest.mark.parametrize("code", ["000000", "14050471", "", "abcdef", "4050471"])
def test_wrong_codes(code: str) -> None:
    assert totp.check(SEED, code, NOW, None).outcome is totp.Outcome.WRONG


def test_a_code_works_once() -> None:
    """RFC 6238 5.2: the verifier must not accept the second attempt of the same OTP."""
    code = totp.hotp(SEED, STEP)
    first = totp.check(SEED, code, NOW, None)
    assert first.step == STEP
    again = totp.check(SEED, code, NOW + dt.timedelta(seconds=5), first.step)
    assert again.outcome is totp.Outcome.REPLAYED


def test_an_earlier_step_than_the_last_used_is_a_replay() -> None:
    # A code of the next step was used (the phone's clock ahead): the one of now is refused.
    code = totp.hotp(SEED, STEP)
    assert totp.check(SEED, code, NOW, STEP + 1).outcome is totp.Outcome.REPLAYED


def test_the_next_step_after_the_last_used_is_accepted() -> None:
    later = NOW + dt.timedelta(seconds=totp.STEP)
    code = totp.hotp(SEED, STEP + 1)
    assert totp.check(SEED, code, later, STEP) == totp.Check(totp.Outcome.ACCEPTED, STEP + 1)
