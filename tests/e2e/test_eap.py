"""EAP-MSCHAPv2 through a real `userman serve`, asked by hostapd's eapol_test (Debian's
`eapoltest`): the right password is accepted and the MPPE keys eapol_test derives from the
conversation equal those userman sends (RFC 3579, RFC 2548, draft-kamath-pppext-eap-mschapv2);
a wrong one, and a user whose group does not allow eap-mschap2, are rejected. One server for
the module; one more with `--workers 2`, where each conversation must stay in one worker.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from served import Server, start_server, stop_server, userman
from support import require_program

pytestmark = pytest.mark.e2e

CONFIGURATION = """
/tool user-manager router
add ip-address=127.0.0.1 name=router1 shared-secret=12345 log=auth-ok,auth-fail
/tool user-manager profile
add name=profile1 starts-at=now
/user-manager user group
add name=no-eap outer-auths=pap,chap,mschap1,mschap2
add name=eap outer-auths=eap-mschap2
/tool user-manager user
add username=test password=test
/user-manager user
add name=grouped password=test group=eap
add name=plain password=test group=no-eap
/user-manager user-profile
add user=test profile=profile1
add user=grouped profile=profile1
add user=plain profile=profile1
"""


@pytest.fixture(scope="module")
def eapol_test() -> str:
    return require_program("eapol_test")


def configured(folder: Path) -> str:
    db_url = f"sqlite:///{folder / 'userman.db'}"
    script = folder / "config.rsc"
    script.write_text(CONFIGURATION)
    userman(db_url, "import", str(script))
    return db_url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("eap")
    served = start_server(configured(folder), folder / "serve.log")
    yield served
    stop_server(served)


OPTIONS = ("-s", "12345", "-t", "10", "-r", "0")  # the secret; 10 s at most; no retries


def peer(  # noqa: PLR0917
    eapol_test: str, server: Server, folder: Path, identity: str, password: str, name: str = ""
) -> subprocess.CompletedProcess[str]:
    """One EAP-MSCHAPv2 log-on by eapol_test (no retries, 10 s at most)."""
    conf = folder / f"{name or identity}-{password}.conf"
    conf.write_text(
        "network={\n  key_mgmt=WPA-EAP\n  eap=MSCHAPV2\n"
        f'  identity="{identity}"\n  password="{password}"\n}}\n'
    )
    return subprocess.run(
        [eapol_test, "-c", str(conf), "-a", "127.0.0.1", "-p", str(server.auth_port), *OPTIONS],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def keys_agree(result: subprocess.CompletedProcess[str]) -> bool:
    """eapol_test compares the MSK it derived with the MS-MPPE-Recv-Key | MS-MPPE-Send-Key
    of the Access-Accept, and says so."""
    return "MPPE keys OK: 1  mismatch: 0" in result.stdout


def reply_message(result: subprocess.CompletedProcess[str]) -> str:
    found = re.findall(
        r"Attribute 18 \(Reply-Message\) length=\d+\n\s+Value: '([^']*)'", result.stdout
    )
    return found[-1] if found else ""


@pytest.mark.parametrize("user", ["test", "grouped"])
def test_the_right_password_is_accepted_and_the_keys_agree(
    eapol_test: str, server: Server, tmp_path: Path, user: str
) -> None:
    result = peer(eapol_test, server, tmp_path, user, "test")
    assert result.returncode == 0, result.stdout[-3000:]
    assert result.stdout.rstrip().endswith("SUCCESS")
    assert keys_agree(result), result.stdout[-3000:]
    # RFC 3579 2 and 3.2: each Access-Challenge names its conversation, hints a timeout
    # and is signed.
    challenges = result.stdout.split("code=11 (Access-Challenge)")[1:]
    assert challenges
    for challenge in challenges:
        head = challenge.split("Received RADIUS packet")[0]
        assert "(State)" in head
        assert "(Session-Timeout)" in head
        assert "(Message-Authenticator)" in head


def test_a_wrong_password_is_rejected(eapol_test: str, server: Server, tmp_path: Path) -> None:
    result = peer(eapol_test, server, tmp_path, "test", "wrong")
    assert result.returncode != 0
    assert "code=3 (Access-Reject)" in result.stdout
    assert "EAP-MSCHAPV2: Received success" not in result.stdout
    assert reply_message(result) == "wrong password for user <test>"


def test_a_group_without_eap_mschap2_is_refused(
    eapol_test: str, server: Server, tmp_path: Path
) -> None:
    result = peer(eapol_test, server, tmp_path, "plain", "test")
    assert result.returncode != 0
    assert "code=3 (Access-Reject)" in result.stdout
    assert reply_message(result) == "auth method not allowed for user <plain>"
    logged = server.cli("log", "print").stdout
    assert 'description="auth method not allowed for user <plain>"' in logged


def test_with_workers_each_conversation_stays_in_one_worker(
    eapol_test: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # server/workers.py: SO_REUSEPORT spreads datagrams by source address and port, and
    # eapol_test, as a router, sends a whole conversation from one port; each run's port is
    # another, so the conversations spread over both workers, and each must end in success.
    folder = tmp_path_factory.mktemp("eap-workers")
    log = folder / "serve.log"
    served = start_server(configured(folder), log, "--workers", "2", startup=60)
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(
                pool.map(
                    lambda n: peer(eapol_test, served, folder, "test", "test", f"run{n}"),
                    range(8),
                )
            )
    finally:
        stop_server(served)
    for result in results:
        assert result.returncode == 0, result.stdout[-3000:]
        assert keys_agree(result)
