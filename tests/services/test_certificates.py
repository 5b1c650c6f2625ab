"""`certificate add|import|print|export|remove|revoke` (services/certificates.py), the settings
that name certificates (`database set certificate= radsec-certificate= trusted-ca=`) and the
TLS material the servers read, on SQLite and PostgreSQL. The certificates are checked with the
real `openssl` binary: `openssl verify` against their CA, `openssl crl` for the CRL."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from sqlalchemy import String, event, select, type_coerce

from support import run
from userman.core.errors import (
    ConflictError,
    InvalidValueError,
    NotFoundError,
    PermissionDeniedError,
)
from userman.services import Actor, Userman, commands, pki
from userman.services.request import Request
from userman.store import models

ROOT = Actor.superuser()
NOW = dt.datetime.now(dt.UTC)
OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl binary is not installed")


def pki_world(app: Userman) -> None:
    """ca (a CA made here), srv (a server certificate it signs), alice (a client one, RSA)."""
    run(app, ROOT, "certificate add", name="ca", **{"common-name": "Test CA"})
    run(app, ROOT, "certificate add", name="srv", ca="ca", **{"common-name": "radius.example"})
    run(
        app,
        ROOT,
        "certificate add",
        name="alice",
        ca="ca",
        usage="client",
        **{"common-name": "alice@example.org", "key-type": "rsa"},
    )


def export(app: Userman, *words: str, actor: Actor = ROOT) -> str:
    return run(app, actor, "certificate export", *words).message + "\n"


def fields(app: Userman, name: str) -> dict[str, str]:
    [item] = run(app, ROOT, "certificate print", name).items
    return dict(item.fields)


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *args], capture_output=True, text=True, timeout=30, check=False)


# -- add ----------------------------------------------------------------------------------------


def test_a_ca_signs_a_server_and_a_client_certificate(app: Userman) -> None:
    pki_world(app)
    ca = fields(app, "ca")
    assert (ca["subject"], ca["issuer"], ca["ca"], ca["private-key"]) == (
        "CN=Test CA",
        "CN=Test CA",
        "yes",
        "yes",
    )
    srv = fields(app, "srv")
    assert (srv["issuer"], srv["ca"], srv["common-name"]) == ("CN=Test CA", "no", "radius.example")
    server = x509.load_pem_x509_certificates(export(app, "srv").encode())
    assert len(server) == 2  # the certificate, then its CA
    leaf = server[0]
    # RFC 5280 section 4.2.1.12: what the certificate is for.
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["radius.example"]
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert not usage.key_cert_sign
    client = x509.load_pem_x509_certificates(export(app, "alice").encode())[0]
    eku = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    san = client.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["alice@example.org"]
    assert client.public_key().key_size == 2048  # type: ignore[union-attr]
    usage = client.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_encipherment  # RSA: TLS 1.2's RSA key exchange


def test_add_says_what_is_wrong_and_changes_nothing(app: Userman) -> None:
    pki_world(app)
    with pytest.raises(ConflictError, match="name: a certificate named ca exists"):
        run(app, ROOT, "certificate add", name="ca", **{"common-name": "again"})
    with pytest.raises(NotFoundError, match=r"certificate: no such item \(nosuch\)"):
        run(app, ROOT, "certificate add", name="x", ca="nosuch", **{"common-name": "x"})
    with pytest.raises(InvalidValueError, match="ca: srv is not a CA with its key here"):
        run(app, ROOT, "certificate add", name="x", ca="srv", **{"common-name": "x"})
    with pytest.raises(InvalidValueError, match="common-name: is 1 to 64 characters"):
        run(app, ROOT, "certificate add", name="x")
    with pytest.raises(InvalidValueError, match="key-type: is one of ec, rsa"):
        run(app, ROOT, "certificate add", name="x", **{"common-name": "x", "key-type": "dsa"})
    with pytest.raises(InvalidValueError, match="days: would outlast the CA"):
        run(app, ROOT, "certificate add", name="x", ca="ca", days="9999", **{"common-name": "x"})
    with pytest.raises(InvalidValueError, match="subject-alt-name: URI:x"):
        run(
            app,
            ROOT,
            "certificate add",
            name="x",
            ca="ca",
            **{"common-name": "x", "subject-alt-name": "URI:x"},
        )
    assert [i.fields[0][1] for i in run(app, ROOT, "certificate print").items] == [
        "ca",
        "srv",
        "alice",
    ]


# -- import -------------------------------------------------------------------------------------


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_import_takes_a_chain_and_its_key(app: Userman, tmp_path: Path) -> None:
    ca = pki.make("Outside CA", 30, NOW)
    ca_cert = x509.load_pem_x509_certificate(ca.cert.encode())
    ca_key = pki.load_key(ca.key, "key", ca_cert)
    leaf = pki.make("vpn.example", 10, NOW, issuer=(ca_cert, ca_key))
    chain = write(tmp_path / "chain.pem", leaf.cert + ca.cert)
    key = write(tmp_path / "key.pem", leaf.key)
    run(app, ROOT, "certificate import", name="vpn", file=chain, **{"key-file": key})
    run(app, ROOT, "certificate import", name="outside-ca", file=write(tmp_path / "ca", ca.cert))
    vpn, outside = fields(app, "vpn"), fields(app, "outside-ca")
    assert (vpn["private-key"], vpn["ca"], vpn["issuer"]) == ("yes", "no", "CN=Outside CA")
    assert (outside["private-key"], outside["ca"]) == ("no", "yes")
    assert export(app, "vpn") == leaf.cert + ca.cert
    assert export(app, "vpn", "include-key") == leaf.cert + ca.cert + leaf.key
    # What `export include-key` writes imports with its key, from the one file.
    both = write(tmp_path / "both.pem", export(app, "vpn", "include-key"))
    run(app, ROOT, "certificate import", name="vpn-copy", file=both)
    assert fields(app, "vpn-copy")["private-key"] == "yes"
    assert fields(app, "vpn-copy")["fingerprint"] == vpn["fingerprint"]
    # The server may use it; a certificate without its key it may not.
    run(app, ROOT, "database set", **{"radsec-certificate": "vpn", "trusted-ca": "outside-ca"})
    with pytest.raises(InvalidValueError, match="certificate: outside-ca has no private key here"):
        run(app, ROOT, "database set", certificate="outside-ca")
    with pytest.raises(InvalidValueError, match="certificate: is none or certificate names"):
        run(app, ROOT, "database set", certificate="vpn,none")
    with pytest.raises(InvalidValueError, match="certificate: names one certificate"):
        run(app, ROOT, "database set", certificate="vpn,vpn2")
    with pytest.raises(InvalidValueError, match="trusted-ca: vpn is not a CA"):
        run(app, ROOT, "database set", **{"trusted-ca": "outside-ca,vpn"})
    # Its CA has no key here: it cannot be revoked here.
    with pytest.raises(InvalidValueError, match="vpn: was not issued by a CA here with its key"):
        run(app, ROOT, "certificate revoke", "vpn")


def test_import_refuses_what_is_wrong_naming_it_and_changes_nothing(
    app: Userman, tmp_path: Path
) -> None:
    ca = pki.make("Outside CA", 30, NOW)
    other = pki.make("Another CA", 30, NOW)
    ca_cert = x509.load_pem_x509_certificate(ca.cert.encode())
    ca_key = pki.load_key(ca.key, "key", ca_cert)
    leaf = pki.make("vpn.example", 10, NOW, issuer=(ca_cert, ca_key))
    old = pki.make("old.example", 1, NOW - dt.timedelta(days=3), issuer=(ca_cert, ca_key))
    future = pki.make("soon.example", 1, NOW + dt.timedelta(days=3), issuer=(ca_cert, ca_key))
    cases = [
        ({"file": write(tmp_path / "junk", "not a certificate\n")}, "file: holds no PEM"),
        ({"file": str(tmp_path / "missing.pem")}, "file: cannot read .*missing.pem"),
        ({"file": write(tmp_path / "old", old.cert)}, "file: the certificate expired on"),
        ({"file": write(tmp_path / "soon", future.cert)}, "file: the certificate is not valid"),
        (
            {"file": write(tmp_path / "disorder", ca.cert + leaf.cert)},
            "file: certificate 1 of the chain is not issued by certificate 2",
        ),
        (
            {"file": write(tmp_path / "wrong", leaf.cert + other.cert)},
            "file: certificate 1 of the chain is not issued by certificate 2",
        ),
        (
            {
                "file": write(tmp_path / "leaf", leaf.cert),
                "key-file": write(tmp_path / "k", ca.key),
            },
            "key-file: is not the key of the certificate",
        ),
        (
            {"file": tmp_path / "leaf", "key-file": write(tmp_path / "bad", "-----BEGIN x\n")},
            "key-file: holds no PEM private key",
        ),
        ({"name": "", "file": tmp_path / "leaf"}, "name: say what the certificate is called"),
        ({"name": "a,b", "file": tmp_path / "leaf"}, "name: is not `none`, has no comma"),
    ]
    for args, message in cases:
        values = {"name": "x", **{k: str(v) for k, v in args.items()}}
        with pytest.raises(InvalidValueError, match=message):
            run(app, ROOT, "certificate import", **values)
    assert run(app, ROOT, "certificate print").items == ()


def test_an_encrypted_key_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    made = pki.make("CA", 30, NOW)
    cert = x509.load_pem_x509_certificate(made.cert.encode())
    key = serialization.load_pem_private_key(made.key.encode(), None)
    locked = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    ).decode()
    with pytest.raises(InvalidValueError, match="key-file: is encrypted"):
        pki.load_key(locked, "key-file", cert)


# -- print, export: never the key ---------------------------------------------------------------


def test_print_never_shows_the_key_and_the_key_is_sealed_at_rest(
    db_url: str, tmp_path: Path
) -> None:
    app = Userman(db_url, key_file=tmp_path / "keys")  # PostgreSQL seals only with a key file
    app.prepare()
    pki_world(app)
    key = export(app, "srv", "include-key").split("-----END CERTIFICATE-----\n")[-1]
    assert key.startswith("-----BEGIN PRIVATE KEY-----")
    body = key.splitlines()[1]
    for item in run(app, ROOT, "certificate print").items:
        assert all("PRIVATE" not in text and body not in text for _, text in item.fields)
    assert "PRIVATE KEY" not in export(app, "srv")
    with app.database.session() as db:
        stored = db.scalars(select(type_coerce(models.Certificate.key, String))).all()
    assert stored
    assert all(value.startswith("enc1:") for value in stored)
    # A rotation of the key file seals them again, like every sealed column.
    assert app.rotate_key()[1] >= 3
    app.close()


def test_only_the_superuser_changes_certificates(app: Userman) -> None:
    pki_world(app)
    run(app, ROOT, "customer add", login="clerk", permissions="full", parent="admin")
    owner, clerk = app.actor("admin"), app.actor("clerk")
    # An owner sees them and exports a certificate or a CRL (its Wi-Fi clients need the CA).
    assert len(run(app, owner, "certificate print").items) == 3
    assert export(app, "ca", actor=owner).startswith("-----BEGIN CERTIFICATE-----")
    assert export(app, "ca", "crl", actor=owner).startswith("-----BEGIN X509 CRL-----")
    changes = [
        ("certificate add", (), {"name": "mine", "common-name": "mine"}),
        ("certificate import", (), {"name": "mine", "file": "/etc/hostname"}),
        ("certificate remove", ("alice",), {}),
        ("certificate revoke", ("alice",), {}),
        ("certificate export", ("srv", "include-key"), {}),
        ("certificate export", (), {"name": "srv", "include-key": "yes"}),
        ("database set", (), {"certificate": "srv"}),
    ]
    for actor in (owner, clerk):
        for command, words, args in changes:
            with pytest.raises(PermissionDeniedError):
                run(app, actor, command, *words, **args)
    for verb in ("print", "export"):
        with pytest.raises(PermissionDeniedError, match="needs owner permissions"):
            run(app, clerk, f"certificate {verb}", "ca")
    assert len(run(app, ROOT, "certificate print").items) == 3
    assert fields(app, "alice")["revoked"] == ""


# -- remove, revoke -----------------------------------------------------------------------------


def test_remove_is_refused_while_a_setting_names_the_certificate(app: Userman) -> None:
    pki_world(app)
    run(app, ROOT, "database set", certificate="srv", **{"trusted-ca": "ca"})
    with pytest.raises(ConflictError, match="srv: is in use by the setting certificate"):
        run(app, ROOT, "certificate remove", "alice,srv")
    with pytest.raises(ConflictError, match="ca: is in use by the setting trusted-ca"):
        run(app, ROOT, "certificate remove", "ca")
    assert len(run(app, ROOT, "certificate print").items) == 3  # alice too: all or nothing
    run(app, ROOT, "database set", certificate="none")
    assert run(app, ROOT, "certificate remove", "srv,alice").count == 2
    # The CA stays trusted; what it signed is gone.
    assert [i.fields[0][1] for i in run(app, ROOT, "certificate print").items] == ["ca"]
    with pytest.raises(NotFoundError):
        run(app, ROOT, "certificate remove", "srv")


def test_revoke_puts_the_certificate_on_its_cas_crl(app: Userman) -> None:
    pki_world(app)
    serial = int(fields(app, "alice")["serial"], 16)
    first = x509.load_pem_x509_crl(export(app, "ca", "crl").encode())
    assert len(first) == 0  # a CA made here has an empty CRL from the start
    message = run(app, ROOT, "certificate revoke", "alice").message
    assert message == "alice revoked; the CRL of ca lists it"
    assert fields(app, "alice")["revoked"] != ""
    crl = x509.load_pem_x509_crl(export(app, "ca", "crl").encode())
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    ca = x509.load_pem_x509_certificates(export(app, "ca").encode())[0]
    assert crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
    with pytest.raises(ConflictError, match="alice: is revoked already"):
        run(app, ROOT, "certificate revoke", "alice")
    with pytest.raises(InvalidValueError, match="certificate: alice is revoked"):
        run(app, ROOT, "database set", certificate="alice")
    run(app, ROOT, "certificate add", name="bob", ca="ca", usage="client", **{"common-name": "b"})
    with pytest.raises(InvalidValueError, match="radsec-certificate: bob is not for a TLS server"):
        run(app, ROOT, "database set", **{"radsec-certificate": "bob"})
    # Removed, it stays on the CRL: the next revocation keeps it.
    run(app, ROOT, "certificate remove", "alice")
    run(app, ROOT, "certificate revoke", "srv")
    crl = x509.load_pem_x509_crl(export(app, "ca", "crl").encode())
    assert len(crl) == 2
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None
    with pytest.raises(InvalidValueError, match="was not issued by a CA here"):
        run(app, ROOT, "certificate revoke", "ca")


# -- openssl ------------------------------------------------------------------------------------


@needs_openssl
def test_openssl_verifies_what_is_made_here_and_reads_the_crl(app: Userman, tmp_path: Path) -> None:
    pki_world(app)
    ca = write(tmp_path / "ca.pem", export(app, "ca"))
    for name, purpose in (("srv", "sslserver"), ("alice", "sslclient")):
        leaf = write(
            tmp_path / f"{name}.pem",
            export(app, name).split("-----END")[0] + "-----END CERTIFICATE-----\n",
        )
        done = openssl("verify", "-CAfile", ca, "-purpose", purpose, leaf)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"{leaf}: OK"
        # The other purpose is refused: the extended key usage says what each is for.
        other = "sslclient" if purpose == "sslserver" else "sslserver"
        assert openssl("verify", "-CAfile", ca, "-purpose", other, leaf).returncode != 0
    run(app, ROOT, "certificate revoke", "alice")
    crl = write(tmp_path / "crl.pem", export(app, "ca", "crl"))
    parsed = openssl("crl", "-in", crl, "-noout", "-text", "-CAfile", ca)
    assert parsed.returncode == 0, parsed.stderr
    assert "verify OK" in parsed.stderr + parsed.stdout
    assert fields(app, "alice")["serial"] in parsed.stdout.replace(" ", "").upper()
    alice = str(tmp_path / "alice.pem")
    revoked = openssl("verify", "-crl_check", "-CAfile", ca, "-CRLfile", crl, alice)
    assert revoked.returncode != 0
    assert "certificate revoked" in revoked.stdout + revoked.stderr
    srv = str(tmp_path / "srv.pem")
    assert openssl("verify", "-crl_check", "-CAfile", ca, "-CRLfile", crl, srv).returncode == 0


# -- what the server reads ----------------------------------------------------------------------


def material(app: Userman) -> object:
    return app.tls_material()


def test_the_servers_see_a_change_without_a_restart(app: Userman) -> None:
    empty = app.tls_material()
    assert (empty.eap, empty.radsec, empty.trusted, empty.crls) == (None, None, (), ())
    assert app.tls_stamp() == empty.stamp
    pki_world(app)
    assert app.tls_stamp() != empty.stamp  # a new certificate
    run(app, ROOT, "database set", certificate="srv", **{"trusted-ca": "ca"})
    seen = app.tls_material()
    assert seen.stamp == app.tls_stamp()
    assert seen.eap is not None
    assert seen.radsec is None
    assert seen.eap.chain == export(app, "srv")
    assert seen.eap.key == export(app, "srv", "include-key")[len(seen.eap.chain) :]
    assert seen.trusted == (export(app, "ca"),)
    assert seen.crls == (export(app, "ca", "crl"),)
    # A revocation changes the CRL, so the stamp: the server reads the material again.
    run(app, ROOT, "certificate revoke", "alice")
    assert app.tls_stamp() != seen.stamp
    after = app.tls_material()
    assert after.crls != seen.crls
    assert after.eap == seen.eap
    # A setting that changes, and one set to what it was, alike.
    run(app, ROOT, "database set", **{"radsec-certificate": "srv"})
    assert app.tls_stamp() != after.stamp
    stamp = app.tls_stamp()
    run(app, ROOT, "database set", **{"radsec-certificate": "srv"})
    assert app.tls_stamp() == stamp
    # Another process's change (SQL by hand) is seen too: the stamp reads the rows.
    with app.database.begin() as db:
        db.execute(
            models.Certificate.__table__.update()
            .where(models.Certificate.name == "ca")
            .values(crl="")
        )
    assert app.tls_stamp() != stamp
    assert app.tls_material().crls == ()


def test_the_eap_fragment_size_is_a_setting_the_servers_read(app: Userman) -> None:
    # The most TLS octets of one EAP fragment (RFC 5216 2.1.5): FreeRADIUS's 1024 by default,
    # 256 to 3000 so an Access-Challenge stays within RADIUS's 4096 octets (RFC 2865 3).
    def shown() -> str:
        return dict(run(app, ROOT, "database print").items[0].fields)["eap-fragment-size"]

    assert (shown(), app.tls_material().fragment_size) == ("1024", 1024)
    stamp = app.tls_stamp()
    run(app, ROOT, "database set", **{"eap-fragment-size": " 1400 "})
    assert (shown(), app.tls_material().fragment_size) == ("1400", 1400)
    assert app.tls_stamp() != stamp  # the servers read it again
    for wrong in ("255", "3001", "big", "", "1e3"):
        with pytest.raises(InvalidValueError, match=r"eap-fragment-size: is a number of octets"):
            run(app, ROOT, "database set", **{"eap-fragment-size": wrong, "trusted-ca": "none"})
        assert shown() == "1400"
    with pytest.raises(PermissionDeniedError, match="the superuser"):
        run(app, app.actor("admin"), "database set", **{"eap-fragment-size": "512"})
    run(app, ROOT, "database set", **{"eap-fragment-size": "1024"})  # the default: no row
    with app.database.session() as db:
        assert db.get(models.ServerSetting, "eap-fragment-size") is None
    assert app.tls_stamp() == stamp
    # A value typed into the table by hand that is no size is read as the default.
    with app.database.begin() as db:
        db.add(models.ServerSetting(name="eap-fragment-size", value="64"))
    assert (shown(), app.tls_material().fragment_size) == ("1024", 1024)


def test_one_name_given_twice_at_once_is_refused_as_the_check_says(app: Userman) -> None:
    """Both commands pass the check before the write (neither sees the other's uncommitted
    row); the unique index stops the later one, which says what the check says. The first
    has written its row and commits only once the second sends its INSERT (as in
    test_concurrent_adds)."""
    outcome: list[BaseException | None] = []
    writing = threading.Event()

    def spy(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if threading.current_thread() is other and statement.startswith("INSERT INTO certificate "):
            writing.set()

    def second() -> None:
        try:
            run(app, ROOT, "certificate add", name="twice", **{"common-name": "B"})
            outcome.append(None)
        except BaseException as error:  # handed to the test's thread
            outcome.append(error)

    other = threading.Thread(target=second)
    event.listen(app.database.engine, "before_cursor_execute", spy)
    try:
        with app.database.begin() as db:
            request = Request(("certificate",), "add", (), {"name": "twice", "common-name": "A"})
            commands.run(db, ROOT, request, NOW)
            other.start()
            assert writing.wait(30)
    finally:
        event.remove(app.database.engine, "before_cursor_execute", spy)
    other.join(30)
    [error] = outcome
    assert isinstance(error, ConflictError), repr(error)
    assert str(error) == "name: a certificate named twice exists"
    assert fields(app, "twice")["common-name"] == "A"
