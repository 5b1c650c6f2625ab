"""User passwords and router shared secrets sealed at rest: AES-256-GCM with a key file kept
outside the database (docs/security.md, "Data at rest").

A sealed value is the text `enc1:<key id>:<base64 of nonce (12 bytes) + ciphertext + tag>`,
with the column's name (`user.password`) as associated data, so a value copied to another
column does not open. `Sealed`, the type of those columns, seals what is written and opens
what is read, for the ORM and Core statements alike (the policy load opens each row once);
a value not in that form is clear text from before and reads as it is. The key file holds one
key a line (`<key id> <base64 key>`), the first being the one that seals; the others only open
(during and after `userman key rotate`). Each engine has its own keys (`attach`); a value whose
key is not there is a `SecretsError` that names the key and the file, never a crash.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import secrets as random
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    Column,
    Engine,
    String,
    Table,
    Text,
    bindparam,
    select,
    type_coerce,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from userman.core.errors import DatabaseError

__all__ = [
    "PREFIX",
    "Keyring",
    "Sealed",
    "SealedText",
    "SecretsError",
    "attach",
    "keyring_of",
    "rotate",
    "sealed_columns",
    "stored_columns",
    "unreadable",
]

log = logging.getLogger(__name__)

PREFIX = "enc1:"
SHAPE = re.compile(r"enc1:[0-9a-f]+:[A-Za-z0-9+/]+={0,2}")  # what `seal` writes
NONCE = 12
KEY_BYTES = 32  # AES-256
RECHECK = 1.0  # seconds between looks at the key file before sealing (rotate waits twice that)


class SecretsError(DatabaseError):
    """A sealed value that cannot be opened: its key is missing or the value was altered."""


class Keyring:
    """The keys of one database: from `path` (made on the first seal when missing, mode 0600),
    or, with no path, kept in memory only (an in-memory database)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._keys: dict[str, AESGCM] = {}
        self._order: list[str] = []  # key ids as in the file: the first seals
        self._seen: tuple[int, int, int] | None = None  # the file's (inode, mtime, size) read
        self._checked = 0.0  # when `seal` last looked at the key file (time.monotonic)
        self._load()

    # -- the key file ---------------------------------------------------------------------

    def _stat(self) -> tuple[int, int, int] | None:
        if self.path is None:
            return None
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _load(self) -> None:
        """Read the key file again when it changed (another process rotated the keys)."""
        if self.path is None:
            return
        seen = self._stat()
        if seen == self._seen:
            return
        keys: dict[str, AESGCM] = {}
        order: list[str] = []
        if seen is not None:
            try:
                text = self.path.read_text()
            except OSError as error:
                raise SecretsError(f"cannot read the key file {self.path}: {error}") from None
            for number, line in enumerate(text.splitlines(), 1):
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                key_id, _, encoded = line.strip().partition(" ")
                try:
                    key = base64.b64decode(encoded.strip(), validate=True)
                except binascii.Error:
                    key = b""
                if len(key) != KEY_BYTES or not key_id:
                    raise SecretsError(
                        f"the key file {self.path}, line {number}: not `<key id> <base64 of "
                        f"{KEY_BYTES} bytes>`"
                    )
                keys[key_id] = AESGCM(key)
                order.append(key_id)
        self._keys, self._order, self._seen = keys, order, seen

    def _write(self, lines: Sequence[str]) -> None:
        """Replace the key file (mode 0600) in one step."""
        assert self.path is not None
        temporary = self.path.with_name(self.path.name + ".new")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write("".join(f"{line}\n" for line in lines))
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o600)
        temporary.replace(self.path)
        self._seen = None
        self._load()

    def _lines(self) -> list[str]:
        assert self.path is not None
        if not self.path.exists():
            return []
        return [
            line.strip()
            for line in self.path.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]

    def _create(self) -> None:
        """The first key: written with O_EXCL, so two processes starting at once agree."""
        key_id, line = _new_key()
        if self.path is None:
            self._keys[key_id] = AESGCM(base64.b64decode(line.split()[1]))
            self._order.insert(0, key_id)
            return
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            self._seen = None
            self._load()
            return
        with os.fdopen(fd, "w") as file:
            file.write(f"{line}\n")
            file.flush()
            os.fsync(file.fileno())
        log.info("made the key file %s: keep a copy of it apart from the backups", self.path)
        self._seen = None
        self._load()

    @property
    def current(self) -> str | None:
        """The id of the key that seals, if there is a key yet."""
        return self._order[0] if self._order else None

    @property
    def key_ids(self) -> list[str]:
        return list(self._order)

    def add_current(self) -> str:
        """A new key that seals from now on, the others kept for opening (rotation)."""
        key_id, line = _new_key()
        if self.path is None:
            self._keys[key_id] = AESGCM(base64.b64decode(line.split()[1]))
            self._order.insert(0, key_id)
            return key_id
        self._write([line, *self._lines()])
        return key_id

    def keep_only(self, key_id: str) -> None:
        """Forget every key but this one (a finished rotation)."""
        if self.path is None:
            self._keys = {key_id: self._keys[key_id]}
            self._order = [key_id]
            return
        self._write([line for line in self._lines() if line.split()[0] == key_id])

    # -- sealing --------------------------------------------------------------------------

    def seal(self, clear: str, purpose: str) -> str:
        now = time.monotonic()
        if now - self._checked >= RECHECK:  # a rotation elsewhere: seal with its new key
            self._checked = now
            self._load()
        if not self._order:
            self._create()
        key_id = self._order[0]
        nonce = os.urandom(NONCE)
        box = self._keys[key_id].encrypt(nonce, clear.encode("utf-8"), purpose.encode())
        return f"{PREFIX}{key_id}:{base64.b64encode(nonce + box).decode('ascii')}"

    def open(self, stored: str, purpose: str) -> str:
        """The clear text of a sealed value (a value not sealed is returned as it is)."""
        if not stored.startswith(PREFIX):
            return stored
        key_id, _, encoded = stored[len(PREFIX) :].partition(":")
        cipher = self._keys.get(key_id)
        if cipher is None:
            self._load()  # another process may have rotated the keys
            cipher = self._keys.get(key_id)
        if cipher is None:
            where = f"the key file {self.path}" if self.path else "this in-memory database"
            raise SecretsError(
                f"cannot read {purpose}: it was sealed with key {key_id}, which {where} does "
                "not hold (a database copied without its key file?)"
            )
        try:  # the policy load opens every user's: a2b_base64 is twice b64decode's speed
            raw = binascii.a2b_base64(encoded, strict_mode=True)
            return cipher.decrypt(raw[:NONCE], raw[NONCE:], purpose.encode()).decode("utf-8")
        except (binascii.Error, ValueError, InvalidTag):
            raise SecretsError(
                f"cannot read {purpose}: the sealed value does not open with key {key_id} "
                "(altered, or copied from another column)"
            ) from None

    def opens(self, stored: str, purpose: str) -> bool:
        """Whether `stored` is a value sealed with one of these keys for this column."""
        if not stored.startswith(PREFIX):
            return False
        try:
            self.open(stored, purpose)
        except SecretsError:
            return False
        return True


def _new_key() -> tuple[str, str]:
    key_id = random.token_hex(4)
    return key_id, f"{key_id} {base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}"


# Each engine's keys, by its dialect (the one thing a column type is handed).
_KEYRINGS: weakref.WeakKeyDictionary[Dialect, Keyring] = weakref.WeakKeyDictionary()


def attach(engine: Engine, keyring: Keyring | None) -> None:
    """Seal and open this engine's `Sealed` columns with `keyring` (None: store clear text)."""
    if keyring is None:
        _KEYRINGS.pop(engine.dialect, None)
    else:
        _KEYRINGS[engine.dialect] = keyring


def keyring_of(dialect: Dialect) -> Keyring | None:
    return _KEYRINGS.get(dialect)


class Sealed(TypeDecorator[str]):
    """Text sealed with the engine's keys when written and opened when read.

    A value already sealed with one of the keys for this column is written as it is (history
    undo and backups put back what they read with `stored_columns`); one in that form that does
    not open is refused (`unreadable` finds them first, for a clear error), never sealed again
    as if it were clear text. Without keys (a database
    server with no key file given) values are written clear and sealed ones cannot be read.
    """

    impl = String(255)  # the columns' type before sealing: 152 bytes of clear text fit
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        keyring = _KEYRINGS.get(dialect)
        if not value or keyring is None:
            # Empty stays empty: a sealed value shows its length anyway, and a column most rows
            # leave empty (a user's otp-secret) costs the policy load nothing to open.
            return value
        if SHAPE.fullmatch(value):
            if not keyring.opens(value, self.purpose):
                keyring.open(value, self.purpose)  # raises the SecretsError that says why
            return value
        return keyring.seal(value, self.purpose)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or not value.startswith(PREFIX):
            return value
        keyring = _KEYRINGS.get(dialect)
        if keyring is None:
            raise SecretsError(
                f"cannot read {self.purpose}: it is sealed, and no key file is configured "
                "(?key_file=PATH in the database URL, or $USERMAN_KEY_FILE)"
            )
        return keyring.open(value, self.purpose)


class SealedText(Sealed):
    """`Sealed` for values longer than a column of 255 characters holds (a certificate's
    private key in PEM): the same sealing, in a column of unbounded text."""

    impl = Text()
    cache_ok = True


def unreadable(dialect: Dialect, table: Table, values: dict[str, Any]) -> list[str]:
    """Why the sealed values among `values` (as stored) cannot be written back: each a
    SecretsError's text (a key since forgotten, a backup from another database)."""
    found: list[str] = []
    for column in sealed_columns(table):
        value = values.get(column.name)
        if not isinstance(value, str) or not SHAPE.fullmatch(value):
            continue
        keyring = _KEYRINGS.get(dialect)
        purpose = column.type.purpose  # type: ignore[attr-defined]
        try:
            if keyring is None:
                Sealed(purpose).process_result_value(value, dialect)
            else:
                keyring.open(value, purpose)
        except SecretsError as error:
            found.append(str(error))
    return found


def sealed_columns(table: Table) -> list[Column[Any]]:
    return [column for column in table.c if isinstance(column.type, Sealed)]


def stored_columns(table: Table) -> list[ColumnElement[Any]]:
    """The table's columns for a select that reads sealed values as stored, not opened."""
    return [
        type_coerce(column, String).label(column.name)
        if isinstance(column.type, Sealed)
        else column
        for column in table.c
    ]


CHUNK = 10_000  # rows re-sealed per statement


def _reseal(engine: Engine, tables: Sequence[Table], keep: str) -> int:
    """Seal again, with the current key, every value not sealed with `keep` (clear ones too)."""
    count = 0
    for table in tables:
        for column in sealed_columns(table):
            raw = type_coerce(column, String)
            change = (
                update(table)
                .where(table.c.id == bindparam("row"))
                .values({column.name: bindparam("clear")})
            )
            after = 0
            while True:
                with engine.begin() as connection:
                    rows = connection.execute(
                        select(table.c.id, column)
                        .where(table.c.id > after, raw != "", raw.not_like(f"{PREFIX}{keep}:%"))
                        .order_by(table.c.id)
                        .limit(CHUNK)
                    ).all()
                    if not rows:
                        break
                    after = rows[-1][0]
                    connection.execute(change, [{"row": i, "clear": v} for i, v in rows])
                    count += len(rows)
    return count


def rotate(engine: Engine, tables: Sequence[Table], *, keep_old: bool = False) -> tuple[str, int]:
    """A new key in the key file that seals from now on; every sealed (and clear) value of
    these tables sealed again with it; then, unless `keep_old`, the old keys forgotten. The old
    keys open values until the end, also for other processes (they read the key file again when
    it changes). The new key's id and how many values were sealed again."""
    keyring = _KEYRINGS.get(engine.dialect)
    if keyring is None:
        raise SecretsError(
            "no key file is configured for this database (?key_file=PATH in the database URL, "
            "or $USERMAN_KEY_FILE)"
        )
    key_id = keyring.add_current()
    started = time.monotonic()
    count = _reseal(engine, tables, key_id)
    # A value another process sealed before it saw the new key (it looks every RECHECK
    # seconds): sealed again too, before the old keys go.
    time.sleep(max(0.0, started + 2 * RECHECK - time.monotonic()))
    count += _reseal(engine, tables, key_id)
    if not keep_old:
        keyring.keep_only(key_id)
    log.info("key %s now seals; %d values sealed again", key_id, count)
    return key_id, count
