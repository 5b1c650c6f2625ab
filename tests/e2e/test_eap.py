"""EAP through a real `userman serve`, asked by hostapd's eapol_test (Debian's `eapoltest`):
EAP-MSCHAPv2 and EAP-TLS (TLS 1.2 and 1.3) with certificates made by `userman certificate`.
The right credentials are accepted and the MPPE keys eapol_test derives from the conversation
equal those userman sends (RFC 3579, RFC 2548); a wrong password, a revoked certificate, one
from an unknown CA, and a user whose group does not allow the method, are rejected with their
reason. One server for the module; one more with `--workers 2`, where each conversation must
stay in one worker.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import shlex
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from served import Server, configure, imported, start_server, stop_server
from support import require_program
from userman.core import totp

pytestmark = pytest.mark.e2e

OTP_KEY = b"userman one-time key"

CONFIGURATION = f"""
/tool user-manager router
add ip-address=127.0.0.1 name=router1 shared-secret=12345 log=auth-ok,auth-fail
/tool user-manager profile
add name=profile1 starts-at=now
/user-manager user group
add name=no-eap outer-auths=pap,chap,mschap1,mschap2
add name=eap outer-auths=eap-mschap2
add name=ttls-pap outer-auths=eap-ttls inner-auths=ttls-pap
/tool user-manager user
add username=test password=test
/user-manager user
add name=grouped password=test group=eap
add name=plain password=test group=no-eap
add name=alice password=x
add name=mallory password=x
add name=carol password=x group=eap
add name=dave password=x
add name=papper password=test group=ttls-pap
add name=otp password=static otp-secret={base64.b32encode(OTP_KEY).decode()}
/user-manager user-profile
add user=test profile=profile1
add user=grouped profile=profile1
add user=plain profile=profile1
add user=alice profile=profile1
add user=mallory profile=profile1
add user=carol profile=profile1
add user=dave profile=profile1
add user=papper profile=profile1
add user=otp profile=profile1
"""

# The certificates, made by `userman certificate` before the server starts: a trusted CA, the
# server's certificate, clients (mallory's revoked), and a client of a CA nobody trusts.
CERTIFICATES = [
    ("add", "name=office-ca", "common-name=Office CA"),
    ("add", "name=radius", "common-name=radius.example", "ca=office-ca"),
    ("add", "name=alice", "common-name=alice", "ca=office-ca", "usage=client"),
    ("add", "name=mallory", "common-name=mallory", "ca=office-ca", "usage=client"),
    ("add", "name=carol", "common-name=carol", "ca=office-ca", "usage=client"),
    ("add", "name=dave", "common-name=dave", "ca=office-ca", "usage=client"),
    ("revoke", "mallory"),
    ("add", "name=other-ca", "common-name=Other CA"),
    ("add", "name=eve", "common-name=alice", "ca=other-ca", "usage=client"),
]


@pytest.fixture(scope="module")
def eapol_test() -> str:
    return require_program("eapol_test")


def configured(folder: Path) -> str:
    db_url = imported(folder, CONFIGURATION)
    configure(
        db_url,
        *(shlex.join(("certificate", *command)) for command in CERTIFICATES),
        "database set certificate=radius trusted-ca=office-ca",
    )
    (folder / "ca.pem").write_text(configure(db_url, "certificate export office-ca")[0])
    for name in ("alice", "mallory", "carol", "eve", "dave"):
        [pem] = configure(db_url, f"certificate export {name} include-key")
        (folder / f"{name}.pem").write_text(pem)
    return db_url


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("eap")


@pytest.fixture(scope="module")
def server(folder: Path) -> Iterator[Server]:
    served = start_server(configured(folder), folder / "serve.log")
    yield served
    stop_server(served)


OPTIONS = ("-s", "12345", "-t", "10", "-r", "0")  # the secret; 10 s at most; no retries


def peer(  # noqa: PLR0917
    eapol_test: str, server: Server, folder: Path, identity: str, password: str, name: str = ""
) -> subprocess.CompletedProcess[str]:
    """One EAP-MSCHAPv2 log-on by eapol_test (no retries, 10 s at most)."""
    network = f'eap=MSCHAPV2\n  identity="{identity}"\n  password="{password}"'
    return eapol(eapol_test, server, folder / f"{name or identity}-{password}.conf", network)


def eapol(
    eapol_test: str, server: Server, conf: Path, network: str, again: int = 0
) -> subprocess.CompletedProcess[str]:
    """One log-on by eapol_test with this network block (no retries, 10 s at most), and
    `again` re-authentications on the same association (which try to resume TLS)."""
    conf.write_text(f"network={{\n  key_mgmt=WPA-EAP\n  {network}\n}}\n")
    options = (*OPTIONS[:-1], str(again))
    return subprocess.run(
        [eapol_test, "-c", str(conf), "-a", "127.0.0.1", "-p", str(server.auth_port), *options],
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


TLS_VERSIONS = {"tls1.2": "tls_disable_tlsv1_3=1", "tls1.3": "tls_disable_tlsv1_3=0"}


def tls_peer(  # noqa: PLR0917
    eapol_test: str, server: Server, certificates: Path, folder: Path, client: str, version: str
) -> subprocess.CompletedProcess[str]:
    """One EAP-TLS log-on with `client`'s certificate (from `userman certificate export`)."""
    cert = certificates / f"{client}.pem"
    network = (
        f'eap=TLS\n  identity="{client}"\n  ca_cert="{certificates / "ca.pem"}"\n'
        f'  client_cert="{cert}"\n  private_key="{cert}"\n'
        f'  phase1="{TLS_VERSIONS[version]}"'
    )
    return eapol(eapol_test, server, folder / f"tls-{client}-{version}.conf", network)


@pytest.mark.parametrize("version", list(TLS_VERSIONS))
def test_eap_tls_with_a_trusted_certificate_is_accepted_and_the_keys_agree(
    eapol_test: str, server: Server, folder: Path, tmp_path: Path, version: str
) -> None:
    result = tls_peer(eapol_test, server, folder, tmp_path, "alice", version)
    assert result.returncode == 0, result.stdout[-3000:]
    assert result.stdout.rstrip().endswith("SUCCESS")
    assert keys_agree(result), result.stdout[-3000:]
    assert ("TLSv1.3" in result.stdout) == (version == "tls1.3")


@pytest.mark.parametrize(
    ("client", "reason"),
    [
        ("mallory", "certificate of user <mallory> is revoked"),
        ("eve", "certificate of user <eve> is from an unknown CA"),
        ("carol", "auth method not allowed for user <carol>"),
    ],
)
def test_eap_tls_refuses_a_revoked_an_unknown_or_a_disallowed_certificate(  # noqa: PLR0917
    eapol_test: str, server: Server, folder: Path, tmp_path: Path, client: str, reason: str
) -> None:
    result = tls_peer(eapol_test, server, folder, tmp_path, client, "tls1.2")
    assert result.returncode != 0
    assert "code=3 (Access-Reject)" in result.stdout, result.stdout[-3000:]
    assert reply_message(result) == reason


def test_a_certificate_revoked_while_serving_is_refused_without_a_restart(
    eapol_test: str, server: Server, folder: Path, tmp_path: Path
) -> None:
    # server/tlscontexts.py: the CRL's change is seen by the next poll of the stamp.
    assert tls_peer(eapol_test, server, folder, tmp_path, "dave", "tls1.2").returncode == 0
    server.cli("certificate", "revoke", "dave")
    deadline = time.monotonic() + 10
    while True:
        result = tls_peer(eapol_test, server, folder, tmp_path, "dave", "tls1.2")
        if result.returncode != 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert reply_message(result) == "certificate of user <dave> is revoked"
    logged = server.cli("log", "print").stdout  # logged as a decision's refusal would be
    assert 'description="certificate of user <dave> is revoked"' in logged


def tunnel_peer(  # noqa: PLR0917
    eapol_test: str,
    server: Server,
    certificates: Path,
    folder: Path,
    method: str,
    phase2: str,
    identity: str,
    password: str,
    version: str = "tls1.2",
) -> subprocess.CompletedProcess[str]:
    """One PEAP or TTLS log-on, the outer identity anonymous, the server's certificate checked."""
    network = (
        f'eap={method}\n  identity="{identity}"\n  password="{password}"\n'
        '  anonymous_identity="anonymous@example.org"\n'
        f'  ca_cert="{certificates / "ca.pem"}"\n'
        f'  phase1="peapver=0 {TLS_VERSIONS[version]}"\n  phase2="{phase2}"'
    )
    conf = folder / f"{method}-{phase2.replace('=', '-')}-{identity}-{password}-{version}.conf"
    return eapol(eapol_test, server, conf, network)


@pytest.mark.parametrize("version", list(TLS_VERSIONS))
def test_peap_mschapv2_the_right_password_is_accepted_and_the_keys_agree(
    eapol_test: str, server: Server, folder: Path, tmp_path: Path, version: str
) -> None:
    result = tunnel_peer(
        eapol_test, server, folder, tmp_path, "PEAP", "auth=MSCHAPV2", "test", "test", version
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert keys_agree(result), result.stdout[-3000:]
    # The outer identity was anonymous: the Accept names the inner user for accounting.
    accept = result.stdout.split("code=2 (Access-Accept)")[1]
    assert re.search(r"Attribute 1 \(User-Name\) length=\d+\n\s+Value: 'test'\n", accept)


def test_peap_mschapv2_a_wrong_password_is_rejected(
    eapol_test: str, server: Server, folder: Path, tmp_path: Path
) -> None:
    result = tunnel_peer(
        eapol_test, server, folder, tmp_path, "PEAP", "auth=MSCHAPV2", "test", "wrong"
    )
    assert result.returncode != 0
    assert reply_message(result) == "wrong password for user <test>"


def test_peap_for_a_group_without_eap_peap_is_refused(
    eapol_test: str, server: Server, folder: Path, tmp_path: Path
) -> None:
    result = tunnel_peer(
        eapol_test, server, folder, tmp_path, "PEAP", "auth=MSCHAPV2", "plain", "test"
    )
    assert result.returncode != 0
    assert reply_message(result) == "auth method not allowed for user <plain>"


TTLS_PHASE2 = {
    "pap": "auth=PAP",
    "chap": "auth=CHAP",
    "mschap1": "auth=MSCHAP",
    "mschap2": "auth=MSCHAPV2",
    "eap-mschap2": "autheap=MSCHAPV2",
}


@pytest.mark.parametrize("inner", list(TTLS_PHASE2))
def test_ttls_the_right_password_is_accepted_and_the_keys_agree(
    eapol_test: str, server: Server, folder: Path, tmp_path: Path, inner: str
) -> None:
    phase2 = TTLS_PHASE2[inner]
    result = tunnel_peer(eapol_test, server, folder, tmp_path, "TTLS", phase2, "test", "test")
    assert result.returncode == 0, result.stdout[-3000:]
    assert keys_agree(result), result.stdout[-3000:]


@pytest.mark.parametrize("inner", ["pap", "mschap2", "eap-mschap2"])
def test_ttls_a_wrong_password_is_rejected(
    eapol_test: str, server: Server, folder: Path, tmp_path: Path, inner: str
) -> None:
    phase2 = TTLS_PHASE2[inner]
    result = tunnel_peer(eapol_test, server, folder, tmp_path, "TTLS", phase2, "test", "wrong")
    assert result.returncode != 0
    assert reply_message(result) == "wrong password for user <test>"


def test_ttls_pap_with_tls_1_3(
    eapol_test: str, server: Server, folder: Path, tmp_path: Path
) -> None:
    # RFC 9427: TTLS over TLS 1.3, the keys from the TLS 1.3 exporter.
    result = tunnel_peer(
        eapol_test, server, folder, tmp_path, "TTLS", "auth=PAP", "test", "test", "tls1.3"
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert keys_agree(result), result.stdout[-3000:]


@pytest.mark.parametrize(
    ("user", "phase2", "refused"),
    [
        ("papper", "auth=PAP", False),  # its group: eap-ttls, and ttls-pap inside
        ("papper", "auth=MSCHAPV2", True),  # ttls-mschap2 is not in its inner-auths
        ("papper", "autheap=MSCHAPV2", True),  # nor ttls-eap
        ("grouped", "auth=PAP", True),  # its group allows eap-mschap2 alone, not eap-ttls
    ],
)
def test_ttls_a_method_the_group_does_not_allow_is_refused(  # noqa: PLR0917
    eapol_test: str,
    server: Server,
    folder: Path,
    tmp_path: Path,
    user: str,
    phase2: str,
    refused: bool,
) -> None:
    # The outer identity is anonymous: the inner user's group decides, inside the tunnel.
    result = tunnel_peer(eapol_test, server, folder, tmp_path, "TTLS", phase2, user, "test")
    if not refused:
        assert result.returncode == 0, result.stdout[-3000:]
        return
    assert result.returncode != 0
    assert reply_message(result) == f"auth method not allowed for user <{user}>"


def test_ttls_pap_carries_a_one_time_code_once_and_peap_cannot(
    eapol_test: str, server: Server, folder: Path, tmp_path: Path
) -> None:
    # v7 otp-secret: the static password, then the TOTP code (RFC 6238); inner PAP carries
    # it as PAP does, a code works once; MS-CHAPv2 (PEAP) carries a hash: refused, saying why.
    code = totp.hotp(OTP_KEY, totp.step_of(dt.datetime.now(dt.UTC)))
    ttls = ("TTLS", "auth=PAP", "otp", "static" + code)
    accepted = tunnel_peer(eapol_test, server, folder, tmp_path, *ttls)
    assert accepted.returncode == 0, accepted.stdout[-3000:]
    (tmp_path / "again").mkdir()
    replayed = tunnel_peer(eapol_test, server, folder, tmp_path / "again", *ttls)
    assert reply_message(replayed) == "one-time code of user <otp> was used already"
    peap = ("PEAP", "auth=MSCHAPV2", "otp", "static" + code)
    refused = tunnel_peer(eapol_test, server, folder, tmp_path, *peap)
    assert reply_message(refused).startswith("user <otp> has an otp-secret")


@pytest.mark.parametrize("method", ["TLS", "PEAP"])
@pytest.mark.parametrize("version", list(TLS_VERSIONS))
def test_a_reauthentication_resumes_the_tls_session(  # noqa: PLR0917
    eapol_test: str, server: Server, folder: Path, tmp_path: Path, method: str, version: str
) -> None:
    # RFC 5216 2.1.2, RFC 9190 2.1.3: the second log-on resumes the first's session (TLS 1.2
    # by session id: wpa_supplicant sends no ticket; TLS 1.3 by ticket), is decided again
    # (PEAP: its inner method runs again), and its keys agree too.
    if method == "TLS":
        cert = folder / "alice.pem"
        network = f'eap=TLS\n  identity="alice"\n  client_cert="{cert}"\n  private_key="{cert}"'
    else:
        network = 'eap=PEAP\n  identity="test"\n  password="test"\n  phase2="auth=MSCHAPV2"'
    network += f'\n  ca_cert="{folder / "ca.pem"}"\n  phase1="{TLS_VERSIONS[version]}"'
    result = eapol(eapol_test, server, tmp_path / "resume.conf", network, again=1)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "MPPE keys OK: 2  mismatch: 0" in result.stdout
    assert "Handshake finished - resumed=1" in result.stdout


def test_a_smaller_fragment_size_is_used_without_a_restart(
    eapol_test: str, server: Server, folder: Path, tmp_path: Path
) -> None:
    # `database set eap-fragment-size=256`: the server's certificate flight reaches eapol_test
    # in Access-Challenges whose EAP packet is at most 256 + 10 octets (RFC 5216 2.1.5), and
    # the log-on still succeeds; read by the next poll of the settings' stamp.
    log = folder / "serve.log"
    server.cli("database", "set", "eap-fragment-size=256")
    try:
        deadline = time.monotonic() + 10
        while "fragments of at most 256 octets" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        result = tunnel_peer(
            eapol_test, server, folder, tmp_path, "PEAP", "auth=MSCHAPV2", "test", "test"
        )
    finally:
        server.cli("database", "set", "eap-fragment-size=1024")
    assert result.returncode == 0, result.stdout[-3000:]
    assert max(challenge_eap_lengths(result)) == 256 + 10


def challenge_eap_lengths(result: subprocess.CompletedProcess[str]) -> list[int]:
    """The length of the EAP packet of each Access-Challenge eapol_test printed: its
    EAP-Message attributes' values joined (RFC 3579 3.1)."""
    challenges = result.stdout.split("RADIUS message: code=")[1:]
    return [
        sum(int(n) - 2 for n in re.findall(r"Attribute 79 \(EAP-Message\) length=(\d+)", text))
        for text in challenges
        if text.startswith("11 (Access-Challenge)")
    ]
