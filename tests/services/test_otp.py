"""One-time passwords (v7 otp-secret) through the use cases, on SQLite and PostgreSQL: the
property (validated, hidden, sealed at rest), the decision of the database and of the policy in
memory, and a code that works once whichever of them decides (README "One-time passwords")."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text

import inmemory
from support import NOW, run
from userman.core import totp
from userman.core.authorize import (
    AccessRequest,
    ChapCredentials,
    PapCredentials,
    RejectReason,
)
from userman.core.errors import InvalidValueError
from userman.radius import chap
from userman.radius.packet import Code, decode
from userman.services import Actor, Userman
from userman.services.access import decide
from userman.services.routers import RouterInfo

ROOT = Actor.superuser()
KEY = b"12345678901234567890"
SECRET = base64.b32encode(KEY).decode()  # GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ


def setup(app: Userman, secret: str = SECRET) -> None:
    run(app, ROOT, "router add", name="r1", **{"ip-address": "10.0.0.1", "shared-secret": "s"})
    run(app, ROOT, "profile add", name="p", validity="0s", **{"starts-at": "now"})
    run(app, ROOT, "user add", username="u", password="pw", **{"otp-secret": secret})
    run(app, ROOT, "user create-and-activate-profile", "u", profile="p")


def router(app: Userman) -> RouterInfo:
    found = app.find_router("10.0.0.1")
    assert found is not None
    return found


def pap(password: str) -> AccessRequest:
    return AccessRequest("u", PapCredentials(password.encode()))


def code(now: dt.datetime = NOW, steps: int = 0) -> str:
    return totp.hotp(KEY, totp.step_of(now) + steps)


def raw(app: Userman, sql: str) -> list[object]:
    with app.database.engine.connect() as connection:
        return list(connection.execute(text(sql)).scalars())


# -- the property ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "why"),
    [("GEZ1", "is not base32"), ("not base32!", "is not base32"), ("A" * 153, "at most 152")],
)
def test_an_otp_secret_that_is_not_base32_is_refused_by_name(
    app: Userman, value: str, why: str
) -> None:
    with pytest.raises(InvalidValueError) as caught:
        run(app, ROOT, "user add", username="u", **{"otp-secret": value})
    assert caught.value.prop == "otp-secret"
    assert why in caught.value.reason
    assert run(app, ROOT, "user print").items == ()


def test_an_otp_secret_is_stored_as_apps_show_it_in_capitals(app: Userman) -> None:
    setup(app, secret="gezd gnbv gy3t qojq gezd gnbv gy3t qojq")
    [item] = run(app, ROOT, "user print", "show-sensitive").items
    assert item.json["otp-secret"] == SECRET
    # A copy is another person's account: it gets no copy of the secret.
    run(app, ROOT, "user add", username="v", **{"copy-from": "u"})
    copied = run(app, ROOT, "user get", "v", "show-sensitive").items[0].json
    assert (copied["password"], copied["otp-secret"]) == ("pw", "")
    run(app, ROOT, "user set", "u", **{"otp-secret": ""})  # none: the password alone
    assert app.authenticate(router(app), pap("pw"), NOW).accept


def test_the_otp_secret_is_hidden_unless_asked_and_sealed_at_rest(app: Userman) -> None:
    setup(app)
    for verb in ("print", "export"):
        outcome = app.execute(ROOT, ("user",), verb)
        assert SECRET not in repr(outcome), verb
        shown = app.execute(ROOT, ("user",), verb, ("show-sensitive",))
        assert SECRET in repr(shown), verb
    [stored] = raw(app, 'SELECT otp_secret FROM "user"')
    if app.database.keyring is not None:  # SQLite: the key file beside it
        assert str(stored).startswith("enc1:")
    history = " ".join(str(change) for change in raw(app, "SELECT changes FROM history"))
    assert SECRET not in history or app.database.keyring is None


# -- the database decides (services/aaa.py) -----------------------------------------------------


def test_the_password_and_the_code_of_now_log_on_once(app: Userman) -> None:
    setup(app)
    first = app.authenticate(router(app), pap("pw" + code()), NOW)
    assert first.accept
    assert raw(app, 'SELECT otp_step FROM "user"') == [totp.step_of(NOW)]
    again = app.authenticate(router(app), pap("pw" + code()), NOW + dt.timedelta(seconds=10))
    assert again.reason is RejectReason.OTP_REPLAYED
    # The code of the step before: earlier than the one used, a replay too.
    earlier = app.authenticate(router(app), pap("pw" + code(steps=-1)), NOW)
    assert earlier.reason is RejectReason.OTP_REPLAYED
    later = NOW + dt.timedelta(seconds=totp.STEP)
    assert app.authenticate(router(app), pap("pw" + code(later)), later).accept


@pytest.mark.parametrize(
    "password",
    ["pw", "pw000000", "nope" + code(), "pw" + code(steps=2), code()],
    ids=["no code", "wrong code", "static wrong", "too far ahead", "code alone"],
)
def test_a_wrong_password_or_code_is_refused_and_uses_no_step(app: Userman, password: str) -> None:
    setup(app)
    assert app.authenticate(router(app), pap(password), NOW).reason is RejectReason.WRONG_PASSWORD
    assert raw(app, 'SELECT otp_step FROM "user"') == [None]
    assert app.authenticate(router(app), pap("pw" + code()), NOW).accept


def test_chap_cannot_carry_the_code_and_is_refused_with_that_reason(app: Userman) -> None:
    setup(app)
    challenge = bytes(16)
    for secret in (b"pw", ("pw" + code()).encode()):
        response = bytes([1]) + chap.chap_response(1, secret, challenge)
        request = AccessRequest("u", ChapCredentials(response, challenge))
        assert app.authenticate(router(app), request, NOW).reason is RejectReason.OTP_NOT_CARRIED


# -- the policy in memory decides (services/access.py) ------------------------------------------


def test_memory_follows_a_used_code_and_its_memo_never_lets_it_through(app: Userman) -> None:
    setup(app)
    app.policy.load()
    found = decide(app.policy, router(app), pap("pw" + code()), NOW)
    assert found is not None
    decision, user_id = found
    assert decision.accept
    assert decision.otp_step == totp.step_of(NOW)
    assert user_id is not None
    # Committed before the Accept; the commit refreshes this process's policy (Database
    # after_commit), so the next decision from memory sees the step used.
    assert app.store_effects(router(app), pap("pw" + code()), decision, user_id, NOW)
    state = app.policy.user(1, "u")
    assert state is not None
    assert state.user.otp_step == totp.step_of(NOW)
    for seconds in (0, 5, 29):
        replay = decide(
            app.policy, router(app), pap("pw" + code()), NOW + dt.timedelta(seconds=seconds)
        )
        assert replay is not None
        assert replay[0].reason is RejectReason.OTP_REPLAYED


def test_two_decisions_from_memory_with_one_code_store_it_once(app: Userman) -> None:
    """Two processes (or two requests on the loop) decide from memory before either commits:
    the second commit finds the step used, and the database decides: a replay."""
    setup(app)
    app.policy.load()
    request = pap("pw" + code())
    first = decide(app.policy, router(app), request, NOW)
    second = decide(app.policy, router(app), request, NOW)
    assert first is not None
    assert second is not None
    assert first[0].accept
    assert second[0].accept  # neither has stored its step yet
    user_id = first[1]
    assert user_id is not None
    assert app.store_effects(router(app), request, first[0], user_id, NOW)
    assert not app.store_effects(router(app), request, second[0], user_id, NOW)
    assert app.authenticate(router(app), request, NOW).reason is RejectReason.OTP_REPLAYED


# -- through the server (the in-memory datagram twin) ------------------------------------------


def test_the_server_accepts_a_code_once(tmp_path: Path) -> None:
    app = inmemory.make_app(tmp_path)
    try:
        inmemory.do(app, "user set", "test", **{"otp-secret": SECRET})
        inmemory.do(app, "user create-and-activate-profile", "test", profile="p")
        app.policy.load()  # decided from memory, the step committed before the Accept
        now = dt.datetime.now(dt.UTC)
        codes = {}
        for name, password in (
            ("right", "test" + code(now)),
            ("again", "test" + code(now)),
            ("wrong", "test" + code(now, steps=3)),
        ):
            _, data = inmemory.access_request("test", password)
            _, sent = inmemory.exchange(app, data)
            codes[name] = decode(sent[0][0], inmemory.D).code
        assert codes == {
            "right": Code.ACCESS_ACCEPT,
            "again": Code.ACCESS_REJECT,
            "wrong": Code.ACCESS_REJECT,
        }
    finally:
        app.close()


def test_another_process_refuses_the_code_and_its_memory_follows(db_url: str) -> None:
    """Two processes on one database (two `Userman`s, each with its policy in memory, as two
    workers or two nodes): a code one accepted is refused by the other, which reads the step
    from the change log (migration 0021's trigger) and then refuses it from memory alone."""
    first, second = Userman(db_url), Userman(db_url)
    try:
        first.prepare()
        setup(first)
        first.policy.load()
        second.policy.load()
        request = pap("pw" + code())
        found = decide(first.policy, router(first), request, NOW)
        stale = decide(second.policy, router(second), request, NOW)  # before either commits
        assert found is not None
        assert stale is not None
        assert found[1] is not None
        assert stale[1] is not None
        assert found[0].accept
        assert stale[0].accept
        assert first.store_effects(router(first), request, found[0], found[1], NOW)
        assert not second.store_effects(router(second), request, stale[0], stale[1], NOW)
        assert second.authenticate(router(second), request, NOW).reason is RejectReason.OTP_REPLAYED
        second.policy.refresh()
        state = second.policy.user(1, "u")
        assert state is not None
        assert state.user.otp_step == totp.step_of(NOW)
        followed = decide(second.policy, router(second), request, NOW)
        assert followed is not None
        assert followed[0].reason is RejectReason.OTP_REPLAYED
    finally:
        second.close()
        first.close()
