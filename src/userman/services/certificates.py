"""`userman certificate add|import|print|export|remove|revoke`, the installation's settings that
name certificates (`database set certificate= radsec-certificate= trusted-ca=`) and the size of
the TLS fragments EAP sends (`eap-fragment-size=`), and what the server reads to build its TLS
contexts (`tls_material`, `tls_stamp`).

Certificates are the installation's, as in RouterOS v7 (one `certificate` and one
`radsec-certificate` per User Manager): the EAP and RadSec ports serve every subscriber, so
there is one server certificate for each, not one per subscriber. Only the local superuser
makes, imports, removes and revokes them, and exports a key; anyone of owner level may print
them and export a certificate or a CRL (a subscriber hands its CA to its Wi-Fi clients). Keys
are sealed at rest like user passwords (models.Certificate.key, store/secrets.py) and are
never printed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import String, select, type_coerce
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from userman.core.errors import (
    ConflictError,
    InvalidValueError,
    NotFoundError,
    PermissionDeniedError,
    UnknownPropertyError,
)
from userman.core.values import parse_bool
from userman.eap.fragments import FRAGMENT_SIZE, SIZES
from userman.services import pki, settings, verbs
from userman.services.fields import check_characters
from userman.services.menus import Menu
from userman.services.request import Context, Outcome, Request
from userman.store import models
from userman.store.conflicts import unique_columns

__all__ = [
    "CERTIFICATE",
    "EAP_FRAGMENT_SIZE",
    "RADSEC_CERTIFICATE",
    "TRUSTED_CA",
    "ServerTls",
    "TlsMaterial",
    "add",
    "export",
    "import_",
    "print_",
    "remove",
    "revoke",
    "tls_material",
    "tls_stamp",
]

AREA = "certificate"
NAME_LIMIT = 64
CA_DAYS = 3650  # a CA made here: ten years
DAYS = 365  # a certificate a CA here signs
NONE = "none"

CERTIFICATE = "certificate"  # the EAP server's (EAP-TLS, TTLS, PEAP)
RADSEC_CERTIFICATE = "radsec-certificate"  # the RadSec (RADIUS over TLS) server's
TRUSTED_CA = "trusted-ca"  # the CAs whose client certificates are trusted (EAP-TLS, RadSec)
SERVER_SETTINGS = (CERTIFICATE, RADSEC_CERTIFICATE)
SETTINGS = (*SERVER_SETTINGS, TRUSTED_CA)
# The most TLS octets an EAP fragment carries (eap/fragments.py), less where a router's
# Framed-MTU asks for fewer: lowered where large UDP datagrams are lost on the way to routers.
EAP_FRAGMENT_SIZE = "eap-fragment-size"


# -- who may ----------------------------------------------------------------------------------


def _superuser(ctx: Context, doing: str) -> None:
    if not ctx.actor.is_superuser:
        raise PermissionDeniedError(
            "the superuser", f"to {doing}: certificates are the installation's"
        )


def _owner(ctx: Context) -> None:
    if not ctx.actor.sees_everything:
        raise PermissionDeniedError("owner permissions", "to see the installation's certificates")


# -- rows -------------------------------------------------------------------------------------


def _find(db: Session, name: str) -> models.Certificate:
    row = db.scalar(select(models.Certificate).where(models.Certificate.name == name))
    if row is None:
        raise NotFoundError(AREA, name)
    return row


def _check_name(db: Session, name: str) -> None:
    if not name:
        raise InvalidValueError("name", "say what the certificate is called (name=...)")
    if len(name) > NAME_LIMIT:
        raise InvalidValueError("name", f"is {len(name)} characters long (at most {NAME_LIMIT})")
    check_characters(name, "name", bidi=False)
    if name == NONE or "," in name or name.strip() != name:
        raise InvalidValueError("name", "is not `none`, has no comma and no spaces at its ends")
    if db.scalar(select(models.Certificate.id).where(models.Certificate.name == name)):
        raise ConflictError("name", f"a certificate named {name} exists")


def _flush_new(db: Session, row: models.Certificate) -> None:
    """Write a new certificate. Two commands that add one name at once both pass
    `_check_name`; the unique index stops the later one, answered as the check would have."""
    name = row.name
    db.add(row)
    try:
        db.flush()
    except IntegrityError as error:
        if unique_columns(error) == (models.Certificate.__tablename__, frozenset({"name"})):
            raise ConflictError("name", f"a certificate named {name} exists") from None
        raise


def _chain(row: models.Certificate) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(row.chain.encode())


def _args(request: Request, verb: str, allowed: Sequence[str]) -> dict[str, str]:
    for name in request.args:
        if name not in allowed:
            raise UnknownPropertyError(name, f"certificate {verb}")
    return dict(request.args)


def _read(path: str, prop: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        why = error.strerror if isinstance(error, OSError) else "it is not PEM text"
        raise InvalidValueError(prop, f"cannot read {path}: {why}") from None


def _issuer_of(db: Session, cert: x509.Certificate) -> models.Certificate | None:
    """The CA here that signed `cert`, if one did."""
    for row in db.scalars(select(models.Certificate).where(models.Certificate.is_ca)):
        if pki.issued_by(cert, _chain(row)[0]):
            return row
    return None


def _signer(row: models.Certificate) -> pki.CertificateIssuerPrivateKeyTypes:
    key = serialization.load_pem_private_key(row.key.encode(), password=None)
    assert isinstance(key, pki.ISSUER_KEYS)
    return key


def _write_crl(
    row: models.Certificate, now: dt.datetime, revoked: Sequence[tuple[int, dt.datetime]]
) -> None:
    """A new CRL for the CA `row` (it has its key): the last one's entries and `revoked`."""
    row.crl_number += 1
    row.crl = pki.crl_pem(_chain(row)[0], _signer(row), row.crl, revoked, row.crl_number, now)


# -- the verbs --------------------------------------------------------------------------------


ADD_PROPERTIES = ("name", "common-name", "days", "ca", "usage", "key-type", "subject-alt-name")


def add(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """`certificate add name= common-name= [days=] [ca=] [usage=server|client] [key-type=ec|rsa]
    [subject-alt-name=DNS:a,IP:b,email:c]`: a self-signed CA, or one that the CA `ca` signs."""
    _superuser(ctx, "make a certificate")
    if request.positional:
        raise InvalidValueError(request.positional[0], "add takes only name=value pairs")
    args = _args(request, "add", ADD_PROPERTIES)
    name = args.get("name", "")
    _check_name(ctx.db, name)
    issuer = _find(ctx.db, args["ca"]) if args.get("ca") else None
    if issuer is not None and not (issuer.is_ca and issuer.key):
        raise InvalidValueError("ca", f"{issuer.name} is not a CA with its key here")
    if issuer is None and ("usage" in args or "subject-alt-name" in args):
        raise InvalidValueError("ca", "usage and subject-alt-name are for a certificate a CA signs")
    days_text = args.get("days", str(DAYS if issuer else CA_DAYS))
    if not days_text.isdigit():
        raise InvalidValueError("days", "is a whole number of days")
    made = pki.make(
        args.get("common-name", ""),
        int(days_text),
        ctx.now,
        key_type=args.get("key-type", "ec"),
        usage=args.get("usage", "server"),
        alt_names=[n for n in args.get("subject-alt-name", "").split(",") if n],
        issuer=None if issuer is None else (_chain(issuer)[0], _signer(issuer)),
    )
    chain = made.cert + ("" if issuer is None else issuer.chain)
    row = models.Certificate(
        name=name,
        chain=chain,
        key=made.key,
        is_ca=issuer is None,
        issuer_id=None if issuer is None else issuer.id,
        crl="",
        crl_number=0,
    )
    if row.is_ca:
        _write_crl(row, ctx.now, ())  # an empty CRL from the start: a verifier finds one
    _flush_new(ctx.db, row)
    return Outcome(None, (_item(row),))


def import_(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """`certificate import name= file=PEM [key-file=PEM]`: a certificate and its chain, and
    perhaps its key (from key-file, or from file when it holds one too); refused, with nothing
    changed, unless every part reads, is valid now and belongs together."""
    _superuser(ctx, "import a certificate")
    if request.positional:
        raise InvalidValueError(request.positional[0], "import takes only name=value pairs")
    args = _args(request, "import", ("name", "file", "key-file"))
    name = args.get("name", "")
    _check_name(ctx.db, name)
    if not args.get("file"):
        raise InvalidValueError("file", "say which PEM file holds the certificate (file=PATH)")
    text = _read(args["file"], "file")
    chain = pki.load_chain(text, "file", ctx.now)
    key = ""
    if args.get("key-file"):
        key = pki.key_pem(pki.load_key(_read(args["key-file"], "key-file"), "key-file", chain[0]))
    elif "PRIVATE KEY-----" in text:  # one file with both, as `export include-key` writes
        key = pki.key_pem(pki.load_key(text, "file", chain[0]))
    issuer = _issuer_of(ctx.db, chain[0])
    row = models.Certificate(
        name=name,
        chain=pki.chain_pem(chain),
        key=key,
        is_ca=pki.is_ca(chain[0]),
        issuer_id=None if issuer is None or issuer.id is None else issuer.id,
        crl="",
        crl_number=0,
    )
    if row.is_ca and key:
        _write_crl(row, ctx.now, ())
    _flush_new(ctx.db, row)
    return Outcome(None, (_item(row),))


def _flags(row: models.Certificate) -> str:
    return ("A" if row.is_ca else "") + ("K" if row.key else "") + ("R" if row.revoked else "")


def _item(row: models.Certificate) -> verbs.Item:
    """A certificate as print shows it: never anything of its key but whether there is one."""
    s = pki.summary(_chain(row)[0])
    fields = (
        ("name", row.name),
        ("common-name", s.common_name),
        ("subject", s.subject),
        ("issuer", s.issuer),
        ("not-before", f"{s.not_before:%Y-%m-%d %H:%M:%S}"),
        ("not-after", f"{s.not_after:%Y-%m-%d %H:%M:%S}"),
        ("fingerprint", s.fingerprint),
        ("serial", f"{s.serial:X}"),
        ("ca", "yes" if row.is_ca else "no"),
        ("private-key", "yes" if row.key else "no"),
        ("revoked", "" if row.revoked is None else f"{row.revoked:%Y-%m-%d %H:%M:%S}"),
    )
    return verbs.Item(f"*{row.id:X}", _flags(row), fields, dict(fields))


def print_(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """`certificate print [NAME...]` (or name=NAME): every certificate, or those named."""
    _owner(ctx)
    args = _args(request, "print", ("name",))
    names = [*request.positional, *([args["name"]] if "name" in args else [])]
    query = select(models.Certificate).order_by(models.Certificate.id)
    rows = [_find(ctx.db, name) for name in names] if names else list(ctx.db.scalars(query))
    return Outcome(None, tuple(_item(row) for row in rows), listing=True)


EXPORT_OPTIONS = ("include-key", "crl")


def export(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """`certificate export NAME [crl] [include-key]` (or name=NAME crl=yes include-key=yes):
    its PEM chain, or the CA's CRL; the key only with `include-key`, for the superuser."""
    _owner(ctx)
    args = _args(request, "export", ("name", *EXPORT_OPTIONS))
    words = [w for w in request.positional if w not in EXPORT_OPTIONS]
    words += [args["name"]] if "name" in args else []
    # The REST API passes name=value pairs only: crl=yes, include-key=yes.
    options = {w for w in request.positional if w in EXPORT_OPTIONS}
    options |= {o for o in EXPORT_OPTIONS if o in args and parse_bool(args[o], o)}
    if "include-key" in options:
        _superuser(ctx, "export a private key")
    if len(words) != 1:
        raise InvalidValueError("numbers", "export takes one certificate by its name")
    row = _find(ctx.db, words[0])
    if "crl" in options:
        if "include-key" in options:
            raise InvalidValueError("include-key", "is not for a CRL")
        if not row.crl:
            raise InvalidValueError("crl", f"{row.name} is not a CA with a CRL here")
        return Outcome(None, message=row.crl.rstrip("\n"))
    text = row.chain
    if "include-key" in options:
        if not row.key:
            raise InvalidValueError("include-key", f"{row.name} has no private key here")
        text += row.key
    return Outcome(None, message=text.rstrip("\n"))


def _users(db: Session, name: str) -> list[str]:
    """The settings that name the certificate `name`."""
    return [
        setting for setting in SETTINGS if name in (settings.value(db, setting) or "").split(",")
    ]


def remove(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """`certificate remove NAME[,NAME...]`: refused while a setting names one of them; what
    they issued stays (it can no longer be revoked here)."""
    _superuser(ctx, "remove a certificate")
    if request.args:
        raise InvalidValueError(next(iter(request.args)), "remove takes no values")
    names = [n for word in request.positional for n in word.split(",") if n]
    if not names:
        raise InvalidValueError("numbers", "say which certificates to remove")
    rows = [_find(ctx.db, name) for name in names]
    for row in rows:
        used = _users(ctx.db, row.name)
        if used:
            raise ConflictError(
                row.name, f"is in use by the setting {', '.join(used)} (database set {used[0]}=...)"
            )
    for row in rows:
        for issued in ctx.db.scalars(
            select(models.Certificate).where(models.Certificate.issuer_id == row.id)
        ):
            issued.issuer_id = None
        ctx.db.delete(row)
    ctx.db.flush()
    return Outcome(None, count=len(rows))


def revoke(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """`certificate revoke NAME`: onto the CRL of the CA here that signed it, written anew."""
    _superuser(ctx, "revoke a certificate")
    if request.args:
        raise InvalidValueError(next(iter(request.args)), "revoke takes no values")
    if len(request.positional) != 1:
        raise InvalidValueError("numbers", "revoke takes one certificate by its name")
    row = _find(ctx.db, request.positional[0])
    if row.revoked is not None:
        raise ConflictError(row.name, "is revoked already")
    issuer = None if row.issuer_id is None else ctx.db.get(models.Certificate, row.issuer_id)
    if issuer is None or not issuer.key:
        raise InvalidValueError(
            row.name, "was not issued by a CA here with its key: its CA's own CRL must list it"
        )
    row.revoked = ctx.now
    _write_crl(issuer, ctx.now, [(_chain(row)[0].serial_number, ctx.now)])
    ctx.db.flush()
    return Outcome(None, message=f"{row.name} revoked; the CRL of {issuer.name} lists it")


# -- the settings that name certificates --------------------------------------------------------


def _parse_names(text: str, name: str) -> str | None:
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names or names == [NONE]:
        return None
    if NONE in names:
        raise InvalidValueError(name, "is none or certificate names, not both")
    if name in SERVER_SETTINGS and len(names) > 1:
        raise InvalidValueError(name, "names one certificate")
    return ",".join(names)


def _show(stored: str | None) -> str:
    return stored or NONE


def _check_server(ctx: Context, stored: str | None, name: str) -> None:
    """A server certificate has its key here, is valid now, is not revoked and is for a TLS
    server."""
    if stored is None:
        return
    row = _find(ctx.db, stored)
    if not row.key:
        raise InvalidValueError(
            name, f"{row.name} has no private key here (import it with key-file=)"
        )
    if row.revoked is not None:
        raise InvalidValueError(name, f"{row.name} is revoked")
    cert = _chain(row)[0]
    if cert.not_valid_after_utc < ctx.now:
        raise InvalidValueError(name, f"{row.name} expired on {cert.not_valid_after_utc:%Y-%m-%d}")
    if not pki.serves(cert):
        raise InvalidValueError(
            name, f"{row.name} is not for a TLS server (its extended key usage has no serverAuth)"
        )


def _check_trusted(ctx: Context, stored: str | None, name: str) -> None:
    for each in (stored or "").split(","):
        if each and not _find(ctx.db, each).is_ca:
            raise InvalidValueError(name, f"{each} is not a CA")


def _parse_size(text: str, name: str) -> str | None:
    """What `database set eap-fragment-size=` keeps (None: the default, no row)."""
    try:
        size = int(text.strip())
    except ValueError:
        size = None
    if size is None or size not in SIZES:
        raise InvalidValueError(
            name, f"is a number of octets from {SIZES.start} to {SIZES.stop - 1}, not {text!r}"
        )
    return None if size == FRAGMENT_SIZE else str(size)


def _fragment_size(stored: str | None) -> int:
    """The fragment size `stored` says; the default when unset or unreadable (typed into the
    table by hand)."""
    try:
        size = int(stored or "")
    except ValueError:
        return FRAGMENT_SIZE
    return size if size in SIZES else FRAGMENT_SIZE


def _show_size(stored: str | None) -> str:
    return str(_fragment_size(stored))


settings.declare(
    settings.InstallationSetting(CERTIFICATE, _parse_names, _show, _check_server),
    settings.InstallationSetting(RADSEC_CERTIFICATE, _parse_names, _show, _check_server),
    settings.InstallationSetting(TRUSTED_CA, _parse_names, _show, _check_trusted),
    settings.InstallationSetting(EAP_FRAGMENT_SIZE, _parse_size, _show_size),
)


# -- what the server reads ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerTls:
    """A server's certificate: its PEM chain (the certificate first) and its key's PEM."""

    name: str
    chain: str
    key: str


@dataclass(frozen=True, slots=True)
class TlsMaterial:
    """What the EAP and RadSec servers build their TLS contexts from, and the stamp of the rows
    it was read from: the server reads `tls_stamp` every poll and this again when it differs.
    `trusted` are the PEMs of the trusted CAs (their chains), `crls` the CRLs of those that
    have one (every CA made here or imported with its key has one); `fragment_size` the most
    TLS octets of one EAP fragment."""

    stamp: str
    eap: ServerTls | None
    radsec: ServerTls | None
    trusted: tuple[str, ...]
    crls: tuple[str, ...]
    fragment_size: int = FRAGMENT_SIZE


def tls_stamp(db: Session) -> str:
    """A digest of every certificate row as stored (the key sealed: it is not opened) and of
    the settings that name them: equal stamps, equal material. Any change, by any process,
    a command or SQL by hand, changes it."""
    table = models.Certificate.__table__
    columns = [type_coerce(column, String) for column in table.c]
    digest = hashlib.sha256()
    for row in db.execute(select(*columns).order_by(table.c.id)):
        for value in row:
            text = "" if value is None else str(value)
            digest.update(f"{len(text)}:{text};".encode())
        digest.update(b"\n")
    for name in (*SETTINGS, EAP_FRAGMENT_SIZE):
        digest.update(f"{name}={settings.value(db, name) or ''}\n".encode())
    return digest.hexdigest()


def _server(db: Session, name: str) -> ServerTls | None:
    stored = settings.value(db, name)
    if not stored:
        return None
    row = db.scalar(select(models.Certificate).where(models.Certificate.name == stored))
    if row is None or not row.key:
        return None
    return ServerTls(row.name, row.chain, row.key)


def tls_material(db: Session) -> TlsMaterial:
    """The servers' certificates, keys, trusted CAs and CRLs as the settings name them now."""
    stamp = tls_stamp(db)
    trusted: list[str] = []
    crls: list[str] = []
    for name in (settings.value(db, TRUSTED_CA) or "").split(","):
        row = db.scalar(select(models.Certificate).where(models.Certificate.name == name))
        if name and row is not None:
            trusted.append(row.chain)
            if row.crl:
                crls.append(row.crl)
    return TlsMaterial(
        stamp,
        _server(db, CERTIFICATE),
        _server(db, RADSEC_CERTIFICATE),
        tuple(trusted),
        tuple(crls),
        _fragment_size(settings.value(db, EAP_FRAGMENT_SIZE)),
    )
