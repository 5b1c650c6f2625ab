"""`userman certificate ...` from the shell (services/certificates.py): what it prints, how it
refuses (`failure: ...`, exit 1, nothing changed), and the PEM files it writes for the real
`openssl` to check."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

OPENSSL = shutil.which("openssl")


def shown(text: str) -> list[dict[str, str]]:
    """The items `certificate print` shows: blocks of `name: value` lines."""
    items = []
    for block in text.strip().split("\n\n"):
        pairs = (
            line.split(": ", 1) if ": " in line else (line.rstrip(":"), "")
            for line in block.splitlines()
        )
        items.append({name.strip(): value.strip('"') for name, value in pairs})
    return items


def test_make_print_export_and_use_from_the_shell(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    made = shown(run("certificate", "add", "name=ca", "common-name=Office CA").stdout)
    assert (made[0]["name"], made[0]["ca"], made[0]["private-key"]) == ("ca", "yes", "yes")
    run("certificate", "add", "name=radius", "common-name=radius.example", "ca=ca")
    printed = shown(run("certificate", "print").stdout)
    assert [item["name"] for item in printed] == ["ca", "radius"]
    assert printed[1]["issuer"] == "CN=Office CA"
    assert len(printed[1]["fingerprint"].split(":")) == 32  # SHA-256
    assert "PRIVATE" not in run("certificate", "print").stdout
    assert "PRIVATE" not in run("certificate", "export", "radius").stdout
    keyed = run("certificate", "export", "radius", "include-key").stdout
    assert keyed.count("BEGIN CERTIFICATE") == 2
    assert keyed.count("BEGIN PRIVATE KEY") == 1
    [item] = json.loads(run("--json", "certificate", "print", "radius").stdout)
    assert item["common-name"] == "radius.example"
    run("database", "set", "certificate=radius", "trusted-ca=ca")
    settings = run("database", "print").stdout
    assert "certificate: radius" in settings
    assert "trusted-ca: ca" in settings


def test_refusals_say_what_is_wrong(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("certificate", "add", "name=ca", "common-name=Office CA")
    run("certificate", "add", "name=radius", "common-name=radius.example", "ca=ca")
    (tmp_path / "junk.pem").write_text("junk\n")
    cases = [
        (
            ("certificate", "import", "name=x", f"file={tmp_path / 'junk.pem'}"),
            "failure: file: holds no PEM certificate that can be read\n",
        ),
        (
            ("database", "set", "certificate=ca,radius"),
            "failure: certificate: names one certificate\n",
        ),
        (
            ("certificate", "export", "radius", "crl"),
            "failure: crl: radius is not a CA with a CRL here\n",
        ),
        (
            ("certificate", "add", "name=y", "common-name=y", "colour=red"),
            "failure: colour: unknown property of certificate add\n",
        ),
    ]
    for words, message in cases:
        refused = run(*words, ok=False)
        assert (refused.exit_code, refused.stderr) == (1, message)
    run("database", "set", "certificate=radius")
    refused = run("certificate", "remove", "radius", ok=False)
    assert refused.stderr == (
        "failure: radius: is in use by the setting certificate (database set certificate=...)\n"
    )
    assert [item["name"] for item in shown(run("certificate", "print").stdout)] == ["ca", "radius"]
    # A customer, even the owner, changes none of it, nor reads a key.
    for words in (
        ("certificate", "add", "name=z", "common-name=z"),
        ("certificate", "export", "radius", "include-key"),
    ):
        denied = run("--as", "admin", *words, ok=False)
        assert denied.exit_code != 0
        assert "not permitted: needs the superuser" in denied.stderr
    assert "BEGIN CERTIFICATE" in run("--as", "admin", "certificate", "export", "ca").stdout


@pytest.mark.skipif(OPENSSL is None, reason="the openssl binary is not installed")
def test_openssl_reads_what_the_shell_exports(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert OPENSSL is not None
    run("certificate", "add", "name=ca", "common-name=Office CA", "key-type=rsa")
    run("certificate", "add", "name=laptop", "common-name=ann", "ca=ca", "usage=client")
    (tmp_path / "ca.pem").write_text(run("certificate", "export", "ca").stdout)
    chain = run("certificate", "export", "laptop").stdout
    (tmp_path / "laptop.pem").write_text(
        chain.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    )
    verify = [
        OPENSSL,
        "verify",
        "-purpose",
        "sslclient",
        "-CAfile",
        str(tmp_path / "ca.pem"),
        str(tmp_path / "laptop.pem"),
    ]
    assert subprocess.run(verify, capture_output=True, timeout=30, check=False).returncode == 0
    assert (
        run("certificate", "revoke", "laptop").stdout == "laptop revoked; the CRL of ca lists it\n"
    )
    (tmp_path / "crl.pem").write_text(run("certificate", "export", "ca", "crl").stdout)
    crl = subprocess.run(
        [OPENSSL, "crl", "-in", str(tmp_path / "crl.pem"), "-noout", "-text"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert crl.returncode == 0, crl.stderr
    assert "Revoked Certificates:" in crl.stdout
    check = [*verify[:2], "-crl_check", "-CRLfile", str(tmp_path / "crl.pem"), *verify[2:]]
    revoked = subprocess.run(check, capture_output=True, text=True, timeout=30, check=False)
    assert revoked.returncode != 0
    assert "certificate revoked" in revoked.stdout + revoked.stderr
