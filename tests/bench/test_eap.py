"""The PEAP benchmark counts from eapol_test's own words (EAP successes, resumed handshakes,
MPPE key mismatches), and its table says what a figure is worth: a ratio to a FreeRADIUS rate
that was eapol_test's ceiling is an upper bound, failures are spelt out with the row, and a
resuming case where the server never resumed says so."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import freeradius_eap
from eapol import Conversation, Run, parse

from eap import Row, table

HANDSHAKE = "OpenSSL: Handshake finished - resumed={}\n"
SUCCESS = "CTRL-EVENT-EAP-SUCCESS EAP authentication completed successfully\n"


def test_a_conversation_is_counted_from_eapol_tests_output() -> None:
    output = (
        HANDSHAKE.format(0)
        + SUCCESS
        + HANDSHAKE.format(1)
        + SUCCESS
        + HANDSHAKE.format(1)
        + "MPPE keys OK: 2  mismatch: 1\nFAILURE\n"
    )
    found = parse(Conversation(wanted=3, returncode=255, output=output))
    assert (found.succeeded, found.failed) == (2, 1)
    assert (found.handshakes, found.resumed, found.mismatched) == (3, 2, 1)
    assert "2/3 succeeded, 1 MPPE mismatches, exit 255" in found.summary()


def run(rate: float, *, busy: float = 0.3, resumed: int = 0, failed: int = 0) -> Run:
    measured = Run(
        conversations=10,
        succeeded=int(rate * 10),
        failed=failed,
        resumed=resumed,
        handshakes=int(rate * 10),
        elapsed=10.0,
        server_cpu=rate * 10 * 0.002,
        generator_cpu=busy * 10.0,
        rss=1 << 26,
        hwm=1 << 26,
        per_auth=0.05,
    )
    if failed:
        measured.failures.append("0/1 succeeded, 0 MPPE mismatches, exit 255")
    return measured


def test_a_ratio_to_freeradius_at_eapol_tests_ceiling_is_an_upper_bound() -> None:
    rows = {
        ("peap", "userman"): Row("peap", "userman", [run(40)]),
        ("peap", "freeradius"): Row("peap", "freeradius", [run(80, busy=0.95)]),
    }
    text = table(rows, ["peap"])
    userman, freeradius = (line for line in text.splitlines() if line.startswith("PEAP"))
    assert "<=0.5x" in userman
    assert "80.0*" in freeradius
    assert "500" in userman  # 1 / 2 ms of CPU: what one core would do


def test_failures_and_a_server_that_never_resumed_are_spelt_out() -> None:
    rows = {
        ("peap-resumed", "userman"): Row("peap-resumed", "userman", [run(30, failed=2)]),
        ("peap-resumed", "freeradius"): Row("peap-resumed", "freeradius", [run(40, resumed=360)]),
    }
    text = table(rows, ["peap-resumed"])
    assert "userman serve !" in text
    assert "! PEAP, resuming, userman serve: 2 authentications failed" in text
    assert "0/1 succeeded" in text
    assert "! PEAP, resuming, userman serve: resumed 0 of the 290 handshakes" in text
    assert "FreeRADIUS eap: resumed" not in text


def test_freeradius_keeps_its_peap_sessions_where_it_can_resume_them(tmp_path: Path) -> None:
    # FreeRADIUS 3.2 resumes only from its persist_dir, which needs the cache's name.
    text = freeradius_eap._eap(tmp_path / "s.pem", tmp_path / "ca.pem", tmp_path / "cache")
    assert "enable = yes" in text
    assert 'name = "bench"' in text
    assert f'persist_dir = "{tmp_path / "cache"}"' in text
    assert "default_eap_type = mschapv2" in text


def test_a_rate_that_waited_mostly_on_eapol_tests_pauses_is_the_loads_ceiling() -> None:
    # eapol_test waits 100 ms before each re-authentication: 0.09 s per authentication at 9.
    paused = Row("peap-resumed", "freeradius", [run(150)], pause=0.09)
    paused.runs[0].per_auth = 0.1
    busy = Row("peap-resumed", "userman", [run(80)], pause=0.09)
    busy.runs[0].per_auth = 0.2
    text = table(
        {("peap-resumed", "userman"): busy, ("peap-resumed", "freeradius"): paused},
        ["peap-resumed"],
    )
    assert "150.0*" in text
    assert "<=0.533x" in text
