"""What `userman MENU --help`, `userman help [MENU]` and the console's `help` / `?` show: a
menu's verbs, submenus and properties, read from the one declaration of each menu
(services/menus.py; the subscriber's settings from their SETTINGS list) and from `verbs_of`,
the same answer the commands themselves go by. Knows nothing of click or the store.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from userman.core.patterns import MAX_LENGTH
from userman.services import MENU_ALIASES, MENU_PATHS, MENUS, Menu, Prop, verbs_of
from userman.services.subscriber_settings import SETTINGS, Setting

__all__ = ["MENU_NAMES", "menu_help", "menus_overview", "submenus"]

# Every menu by its legacy name, as the README lists them, then the three of their own kind.
MENU_NAMES: tuple[str, ...] = (*MENUS, "settings", "database", "certificate")
WIDTH = 100
SHORT_DEFAULT = 30  # longer defaults (the mail and voucher templates) are not shown
WHERE = (
    "print and find take `where PROP=VALUE` (equal to what print shows) and `where PROP~REGEX`"
    " (found anywhere in it; RE2 syntax, matched in time linear in the text: no backreferences"
    f" or lookaround; at most {MAX_LENGTH} characters)"
)


def submenus(path: Sequence[str]) -> list[str]:
    """The words that go one menu deeper from `path` (`profile` -> limitation, ...)."""
    depth = len(path)
    return sorted({p[depth] for p in MENU_PATHS if len(p) > depth and tuple(p[:depth]) == path})


def _aliases(name: str) -> list[str]:
    return [alias for alias, target in MENU_ALIASES.items() if target == name]


def _wrapped(head: str, text: str, indent: int) -> list[str]:
    """`head`, then `text` from column `indent` on, wrapped at WIDTH below itself."""
    lines = textwrap.wrap(
        text,
        WIDTH,
        initial_indent=" " * indent,
        subsequent_indent=" " * indent,
        break_on_hyphens=False,
    ) or [""]
    if len(head) < indent:
        return [head + lines[0][len(head) :], *lines[1:]]
    return [head, *lines]


def menus_overview(indent: int = 2) -> str:
    """Every menu and its verbs, a menu a line (wrapped), for `userman --help` and `help`."""
    width = max(len(name) for name in MENU_NAMES) + indent + 2
    lines: list[str] = []
    for name in MENU_NAMES:
        lines.extend(_wrapped(" " * indent + name, ", ".join(verbs_of(name)), width))
    aliases = ", ".join(f"{alias} ({target})" for alias, target in MENU_ALIASES.items())
    lines.extend(_wrapped(" " * indent + "v7 names:", aliases, width))
    return "\n".join(lines)


def _notes(menu: Menu, prop: Prop) -> str:
    if prop.ref is not None:
        key = MENUS[prop.ref].key
        notes = [f"a {prop.ref} ({key} or *ID)" if key else f"a {prop.ref} (*ID)"]
    elif prop.kind.many:
        notes = [f"comma-separated, of: {', '.join(prop.kind.options)}"]
    else:
        notes = [prop.kind.name]
    if prop.kind.limit is not None and prop.writable and prop.ref is None:
        notes.append(f"at most {prop.kind.limit} {prop.kind.unit}")
    if prop.default:
        notes.append(f"default {prop.default}")
    if prop.hashed:
        notes.append("stored as a hash, never shown")
    elif prop.sensitive:
        notes.append("shown with show-sensitive")
    if not prop.writable:
        notes.append("read-only")
    if prop.aliases:
        notes.append(f"also {', '.join(prop.aliases)}")
    if menu.key == prop.name:
        notes.append("names the item")
    return "; ".join(notes)


def _setting_notes(setting: Setting) -> str:
    notes = [setting.kind.name]
    default = setting.default
    if default and len(default) <= SHORT_DEFAULT and "\n" not in default:
        notes.append(f"default {default}")
    if setting.sensitive:
        notes.append("shown with show-sensitive")
    return "; ".join(notes)


def _table(rows: Sequence[tuple[str, str]]) -> list[str]:
    width = max(len(name) for name, _ in rows) + 4
    return [line for name, notes in rows for line in _wrapped(f"  {name}", notes, width)]


def menu_help(path: Sequence[str]) -> str:
    """A menu's help: its verbs, submenus and properties (name=value), each with its kind,
    its default and whether it is read-only or secret."""
    name = " ".join(path)
    canonical = MENU_ALIASES.get(name, name)
    lines = [f"/tool user-manager {canonical}" + (f" (also {name})" if name != canonical else "")]
    verbs = verbs_of(name)
    if verbs:
        lines.extend(_wrapped("Verbs:", ", ".join(verbs), 8))
    if "print" in verbs and MENUS.get(canonical) is not None:  # a menu of items
        lines.extend(_wrapped("Where:", WHERE, 8))
    deeper = submenus(tuple(path))
    if deeper:
        lines.extend(_wrapped("Menus:", ", ".join(f"{name} {word}" for word in deeper), 8))
    menu = MENUS.get(canonical)
    if menu is not None:
        lines.append("Properties (name=value):")
        lines.extend(_table([(p.name, _notes(menu, p)) for p in menu.props if not p.hidden]))
        hidden = ", ".join(prop.name for prop in menu.props if prop.hidden)
        if hidden:
            lines.append(f"Also accepted, never printed: {hidden}")
    elif canonical == "settings":
        lines.append("Properties (name=value; subscriber=LOGIN says whose, for the superuser):")
        lines.extend(_table([(s.name, _setting_notes(s)) for s in SETTINGS]))
    elif canonical == "database":
        lines.append("Properties (name=value):")
        lines.extend(
            _table(
                [
                    ("name", "save, load: the backup file NAME.umb (NAME.sqlite)"),
                    ("overwrite", "save: yes | no; default no"),
                    (
                        "format",
                        "save: umb | sqlite; default umb (sqlite: the whole SQLite"
                        " database, copied while the server runs; the superuser's)",
                    ),
                    (
                        "keep-sessions",
                        "set, print: time (at least 1d) | forever; default"
                        " forever (the superuser's)",
                    ),
                    ("keep-log", "set, print: time (at least 1d) | forever; default forever"),
                    (
                        "allow-private-destinations",
                        "set, print: yes | no; default no (the superuser's): whether"
                        " subscribers' SMTP servers and PayPal URLs may be at loopback,"
                        " private, link-local or other non-public addresses",
                    ),
                    (
                        "allow-local-coa",
                        "set, print: yes | no; default no (the superuser's): whether routers"
                        " with use-coa=yes may have a loopback, unspecified, link-local,"
                        " multicast or broadcast address (private ones need no permission)",
                    ),
                ]
            )
        )
        lines.extend(
            _table(
                [
                    (
                        "certificate",
                        "set, print: a certificate with its key | none; default none (the"
                        " superuser's): the EAP server's (EAP-TLS, TTLS, PEAP)",
                    ),
                    (
                        "radsec-certificate",
                        "set, print: a certificate with its key | none; default none (the"
                        " superuser's): the RadSec server's",
                    ),
                    (
                        "trusted-ca",
                        "set, print: CA certificates, comma-separated | none; default none"
                        " (the superuser's): whose client certificates are trusted",
                    ),
                    (
                        "eap-fragment-size",
                        "set, print: 256..3000 octets; default 1024 (the superuser's): the most"
                        " TLS octets in one EAP fragment, fewer where a router's Framed-MTU asks",
                    ),
                ]
            )
        )
        lines.append("prune deletes what keep-sessions and keep-log say is due (sessions added")
        lines.append("up per user and day first); optimize runs VACUUM and ANALYZE.")
    elif canonical == "certificate":
        lines.append("Properties (name=value; every change is the superuser's):")
        lines.extend(_table(CERTIFICATE_HELP))
    return "\n".join(lines)


CERTIFICATE_HELP = (
    ("name", "the certificate's name: add, import; print, export, remove, revoke take it bare"),
    ("common-name", "add: the subject's CN (a server's host name, a client's user name)"),
    ("days", "add: how long it is valid; default 3650 for a CA, 365 for one a CA signs"),
    ("ca", "add: the CA here that signs it; without: a self-signed CA"),
    ("usage", "add: server | client; default server (extended key usage)"),
    ("key-type", "add: ec (P-256) | rsa (2048 bits); default ec"),
    ("subject-alt-name", "add: DNS:name, IP:address, email:address, comma-separated"),
    ("file", "import: a PEM file of the certificate, then the ones that issued it"),
    ("key-file", "import: a PEM file of its private key (unencrypted)"),
    ("crl", "export: the CA's CRL instead of its certificate"),
    ("include-key", "export: the private key too (the superuser's)"),
)
