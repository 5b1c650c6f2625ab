"""One-time passwords (v7 otp-secret) through a real `userman serve --workers 2`, asked by
radclient: the password followed by the TOTP code of now (RFC 6238) is accepted once, whichever
worker process answers; the same code again, a wrong code, and CHAP are refused with the
catalogue's reasons (sent as Reply-Message). The codes are computed here from the secret and the
clock, as an authenticator app computes them.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from served import Server, imported, radclient_send, start_server, stop_server
from userman.core import totp

pytestmark = pytest.mark.e2e

KEY = b"userman one-time key"
SECRET = base64.b32encode(KEY).decode()
AT_ONCE = 6  # radclient runs sending the same code at once, from source ports of their own

CONFIGURATION = f"""
/tool user-manager router
add customer=admin ip-address=127.0.0.1 name=router1 shared-secret=12345 log=auth-fail
/tool user-manager profile
add name=profile1 starts-at=now
/user-manager user
add name=otp password=static otp-secret={SECRET}
add name=race password=static otp-secret={SECRET}
/user-manager user-profile
add user=otp profile=profile1
add user=race profile=profile1
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("otp")
    db_url = imported(folder, CONFIGURATION)
    # Two processes start at once on two cores: a longer bound than one server's.
    running = start_server(db_url, folder / "serve.log", "--workers", "2", startup=60)
    yield running
    stop_server(running)


def code(steps: int = 0) -> str:
    return totp.hotp(KEY, totp.step_of(dt.datetime.now(dt.UTC)) + steps)


def auth(radclient: str, server: Server, user: str, password: str) -> tuple[str, str]:
    """The answer radclient received, and its Reply-Message."""
    result = radclient_send(
        radclient, server, "auth", f"User-Name={user},User-Password={password}", wait=3
    )
    return _answer(result)


def _answer(result: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    match = re.search(r"Received (\S+)", result.stdout)
    message = re.search(r'Reply-Message = "(.*)"', result.stdout)
    return (
        match.group(1) if match else f"nothing ({result.stderr})",
        message.group(1) if message else "",
    )


def test_the_code_of_now_is_accepted_once(radclient: str, server: Server) -> None:
    now = code()
    assert auth(radclient, server, "otp", "static" + now) == ("Access-Accept", "")
    replayed = ("Access-Reject", "one-time code of user <otp> was used already")
    for _ in range(3):  # from new source ports: either worker answers
        assert auth(radclient, server, "otp", "static" + now) == replayed


def test_a_wrong_code_or_static_part_is_refused(radclient: str, server: Server) -> None:
    wrong = ("Access-Reject", "wrong password for user <otp>")
    assert auth(radclient, server, "otp", "static" + code(steps=3)) == wrong
    assert auth(radclient, server, "otp", "other1" + code()) == wrong
    assert auth(radclient, server, "otp", "static") == wrong


def test_chap_is_refused_for_it_cannot_carry_the_code(radclient: str, server: Server) -> None:
    result = radclient_send(
        radclient, server, "auth", f"User-Name=otp,CHAP-Password=static{code()}", wait=3
    )
    answer, message = _answer(result)
    assert answer == "Access-Reject"
    assert message.startswith("user <otp> has an otp-secret"), message


def test_one_code_sent_at_once_to_both_workers_is_accepted_once(
    radclient: str, server: Server
) -> None:
    password = "static" + code()

    def one(_: int) -> str:
        return auth(radclient, server, "race", password)[0]

    with ThreadPoolExecutor(AT_ONCE) as pool:
        answers = list(pool.map(one, range(AT_ONCE)))
    assert sorted(answers) == ["Access-Accept"] + ["Access-Reject"] * (AT_ONCE - 1), answers
    logged = server.json("log", "print", "where", "user-orig=race")
    assert "one-time code of user <race> was used already" in {
        entry["description"] for entry in logged
    }
