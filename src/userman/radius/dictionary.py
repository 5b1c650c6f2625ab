"""RADIUS dictionaries in the FreeRADIUS text format: attribute and vendor definitions, the loader.

Owns the directives ATTRIBUTE, VALUE, VENDOR (with format=t,l), BEGIN-VENDOR/END-VENDOR and
$INCLUDE, the data type names, the flags (encrypt=1/2/3, has_tag, concat), the frozen
`Dictionary` they load into, and the shipped set (`default_dictionary()`, read through
importlib.resources so it works from a wheel). It knows nothing about packets or wire values.
Format reference: https://www.freeradius.org/documentation/freeradius-server/3.2.3/reference/dictionary.html
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from userman.radius.errors import DictionaryError

__all__ = [
    "AttributeDef",
    "DataType",
    "Dictionary",
    "Encrypt",
    "Vendor",
    "default_dictionary",
    "load_dictionary",
    "unknown_attribute",
]

VENDOR_SPECIFIC = 26


class DataType(Enum):
    """The value type of an attribute, named as in FreeRADIUS dictionaries (RFC 8044 names)."""

    STRING = "string"
    OCTETS = "octets"
    IPADDR = "ipaddr"
    IPV6ADDR = "ipv6addr"
    IPV4PREFIX = "ipv4prefix"
    IPV6PREFIX = "ipv6prefix"
    COMBO_IP = "combo-ip"
    INTEGER = "integer"
    INTEGER64 = "integer64"
    DATE = "date"
    BYTE = "byte"
    SHORT = "short"
    SIGNED = "signed"
    IFID = "ifid"
    ETHER = "ether"
    TLV = "tlv"
    VSA = "vsa"

    # Members are singletons compared by identity; Enum's own hash hashes the name, in Python,
    # and the codec looks a type up in its tables for every value of every packet.
    __hash__ = object.__hash__


# Other spellings FreeRADIUS (v3 and v4) accepts for the same wire types.
_TYPE_ALIASES: dict[str, DataType] = {
    "text": DataType.STRING,
    "abinary": DataType.OCTETS,
    "combo-ipaddr": DataType.COMBO_IP,
    "ipv4addr": DataType.IPADDR,
    "uint8": DataType.BYTE,
    "uint16": DataType.SHORT,
    "uint32": DataType.INTEGER,
    "uint64": DataType.INTEGER64,
    "int32": DataType.SIGNED,
}

# Types whose VALUE lines name numbers.
NUMERIC_TYPES = frozenset(
    {DataType.INTEGER, DataType.INTEGER64, DataType.BYTE, DataType.SHORT, DataType.SIGNED}
)

_NUMERIC_RANGE: dict[DataType, tuple[int, int]] = {
    DataType.BYTE: (0, 0xFF),
    DataType.SHORT: (0, 0xFFFF),
    DataType.INTEGER: (0, 0xFFFF_FFFF),
    DataType.INTEGER64: (0, 0xFFFF_FFFF_FFFF_FFFF),
    DataType.SIGNED: (-(2**31), 2**31 - 1),
}


class Encrypt(IntEnum):
    """How an attribute's value is hidden on the wire (the dictionary's `encrypt=N` flag)."""

    NONE = 0
    USER_PASSWORD = 1  # RFC 2865 section 5.2
    TUNNEL_PASSWORD = 2  # RFC 2868 section 3.5 and RFC 2548 section 2.4.2 (salted)
    ASCEND_SECRET = 3  # Ascend-Send-Secret; kept as raw bytes, never revealed


@dataclass(frozen=True, slots=True)
class Vendor:
    """A VENDOR line: SMI enterprise number and its VSA format (type and length octets)."""

    name: str
    id: int
    type_size: int = 1
    length_size: int = 1


@dataclass(frozen=True, slots=True)
class AttributeDef:
    """One attribute definition.

    `code` is the attribute number inside its parent: the vendor's number space when
    `vendor_id` is set, the parent TLV's when `parents` (the codes of the enclosing TLVs) is
    not empty. `vendor_format` is (type octets, length octets) of the vendor's VSAs.
    `values` maps VALUE names to numbers; `children` maps a TLV's sub-attribute codes.
    `folded` is the name casefolded, made once: names are compared case-insensitively, and a
    packet's attributes are looked up by name many times for each packet.
    """

    name: str
    code: int
    type: DataType
    vendor_id: int = 0
    encrypt: Encrypt = Encrypt.NONE
    has_tag: bool = False
    concat: bool = False
    parents: tuple[int, ...] = ()
    vendor_format: tuple[int, int] = (1, 1)
    values: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    children: Mapping[int, AttributeDef] = field(default_factory=dict, compare=False, repr=False)
    _names: Mapping[int, str] = field(default_factory=dict, compare=False, repr=False)
    _folded: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    folded: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "folded", self.name.casefold())

    @property
    def oid(self) -> str:
        """The dotted number FreeRADIUS uses in `Attr-<oid>` names, e.g. `26.14988.8`."""
        path = (*self.parents, self.code)
        if self.vendor_id:
            path = (VENDOR_SPECIFIC, self.vendor_id, *path)
        return ".".join(str(n) for n in path)

    def value_name(self, number: int) -> str | None:
        """The VALUE name of `number`, or None."""
        return self._names.get(number)

    def value_of(self, name: str) -> int | None:
        """The number of VALUE `name` (case-insensitive), or None."""
        found = self.values.get(name)
        return found if found is not None else self._folded.get(name.casefold())

    def child(self, code: int) -> AttributeDef:
        """The TLV sub-attribute `code`; an octets placeholder when undefined."""
        found = self.children.get(code)
        if found is not None:
            return found
        return unknown_attribute(
            code, self.vendor_id, (*self.parents, self.code), vendor_format=self.vendor_format
        )


def unknown_attribute(
    code: int,
    vendor_id: int = 0,
    parents: tuple[int, ...] = (),
    *,
    vendor_format: tuple[int, int] = (1, 1),
) -> AttributeDef:
    """An octets definition named `Attr-<oid>` for an attribute no dictionary defines."""
    placeholder = AttributeDef(
        "", code, DataType.OCTETS, vendor_id, parents=parents, vendor_format=vendor_format
    )
    return AttributeDef(
        f"Attr-{placeholder.oid}",
        code,
        DataType.OCTETS,
        vendor_id,
        parents=parents,
        vendor_format=vendor_format,
    )


class Dictionary:
    """A loaded, read-only set of vendors and attributes; names are global and case-insensitive."""

    __slots__ = ("_by_code", "_by_name", "_vendors_by_id", "_vendors_by_name")

    def __init__(
        self,
        attributes: Mapping[str, AttributeDef],
        by_code: Mapping[tuple[int, int], str],
        vendors: Mapping[int, Vendor],
    ) -> None:
        self._by_name = {name.casefold(): d for name, d in attributes.items()}
        self._by_code = {key: self._by_name[name.casefold()] for key, name in by_code.items()}
        self._vendors_by_id = dict(vendors)
        self._vendors_by_name = {v.name.casefold(): v for v in vendors.values()}

    def __iter__(self) -> Iterator[AttributeDef]:
        """Every top-level and vendor attribute, once, in (vendor, code) order."""
        return iter(self._by_code[key] for key in sorted(self._by_code))

    def __len__(self) -> int:
        return len(self._by_code)

    @property
    def vendors(self) -> tuple[Vendor, ...]:
        return tuple(self._vendors_by_id[key] for key in sorted(self._vendors_by_id))

    def vendor(self, key: str | int) -> Vendor | None:
        """A vendor by name (case-insensitive) or number."""
        if isinstance(key, int):
            return self._vendors_by_id.get(key)
        return self._vendors_by_name.get(key.casefold())

    def find(self, name: str) -> AttributeDef | None:
        """The attribute called `name` (an alias, a TLV child, or `Attr-<oid>`), or None."""
        found = self._by_name.get(name.casefold())
        if found is not None or not name.startswith("Attr-"):
            return found
        return self._from_oid(name[5:])

    def attribute(self, name: str) -> AttributeDef:
        """The attribute called `name`; KeyError if there is none."""
        found = self.find(name)
        if found is None:
            raise KeyError(name)
        return found

    def by_code(self, code: int, vendor_id: int = 0) -> AttributeDef | None:
        """The attribute with number `code` in `vendor_id`'s space (0: the RFC space), or None."""
        return self._by_code.get((vendor_id, code))

    def lookup(self, code: int, vendor_id: int = 0) -> AttributeDef:
        """Like `by_code`, but an `Attr-...` octets placeholder for an undefined attribute."""
        found = self._by_code.get((vendor_id, code))
        if found is not None:
            return found
        return unknown_attribute(code, vendor_id, vendor_format=self.vendor_format(vendor_id))

    def vendor_format(self, vendor_id: int) -> tuple[int, int]:
        """(type octets, length octets) of the vendor's VSAs; (1, 1) for an unknown vendor."""
        vendor = self._vendors_by_id.get(vendor_id)
        return (vendor.type_size, vendor.length_size) if vendor else (1, 1)

    def _from_oid(self, oid: str) -> AttributeDef | None:
        parts = oid.split(".")
        if not all(p.isdigit() and len(p) < 11 for p in parts):
            return None
        numbers = [int(p) for p in parts]
        vendor_id = 0
        if numbers[0] == VENDOR_SPECIFIC and len(numbers) >= 3:
            vendor_id = numbers[1]
            numbers = numbers[2:]
        found = self.lookup(numbers[0], vendor_id)
        for code in numbers[1:]:
            found = found.child(code)
        return found


# --- loading ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Attr:
    """An ATTRIBUTE line while the files are being read (VALUEs may still be added)."""

    name: str
    path: tuple[int, ...]
    type: DataType
    vendor_id: int
    encrypt: Encrypt
    has_tag: bool
    concat: bool
    values: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Where:
    file: str
    line: int

    def error(self, message: str) -> DictionaryError:
        return DictionaryError(self.file, self.line, message)


class _Loader:
    """Reads dictionary files into mutable records, then freezes them into a `Dictionary`."""

    def __init__(self) -> None:
        self.attrs: dict[str, _Attr] = {}
        self.codes: dict[tuple[int, tuple[int, ...]], str] = {}
        self.vendors: dict[int, Vendor] = {}
        self.vendor_names: dict[str, Vendor] = {}
        self.pending_values: list[tuple[str, str, str, _Where]] = []
        self.open_files: list[str] = []

    def load(self, directory: Traversable, relative: str, label: str) -> None:
        target = directory.joinpath(*relative.split("/"))
        if label in self.open_files:
            raise DictionaryError(label, 0, "$INCLUDE loop")
        try:
            text = target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DictionaryError(label, 0, f"cannot read: {exc}") from None
        parent = directory.joinpath(*relative.split("/")[:-1]) if "/" in relative else directory
        self.open_files.append(label)
        self._parse(text, label, parent)
        self.open_files.pop()

    def _parse(self, text: str, label: str, directory: Traversable) -> None:
        block: Vendor | None = None
        where = _Where(label, 0)
        for number, raw in enumerate(text.splitlines(), start=1):
            where = _Where(label, number)
            fields = raw.split("#", 1)[0].split()
            if not fields:
                continue
            keyword, args = fields[0], fields[1:]
            if keyword in ("$INCLUDE", "$INCLUDE-"):
                if len(args) != 1:
                    raise where.error(f"{keyword} takes one file name")
                child = f"{label.rsplit('/', 1)[0]}/{args[0]}" if "/" in label else args[0]
                if keyword == "$INCLUDE-" and not directory.joinpath(*args[0].split("/")).is_file():
                    continue
                try:
                    self.load(directory, args[0], child)
                except DictionaryError as exc:
                    if (exc.file, exc.line) != (child, 0):
                        raise
                    raise where.error(f"$INCLUDE {args[0]}: {exc.message}") from None
            elif keyword == "ATTRIBUTE":
                self._attribute(args, block, where)
            elif keyword == "VALUE":
                if len(args) != 3:
                    raise where.error("VALUE takes an attribute name, a value name and a number")
                self.pending_values.append((args[0], args[1], args[2], where))
            elif keyword == "VENDOR":
                self._vendor(args, where)
            elif keyword == "BEGIN-VENDOR":
                if len(args) != 1:
                    raise where.error("BEGIN-VENDOR takes one vendor name")
                if block is not None:
                    raise where.error(f"BEGIN-VENDOR inside the block of vendor {block.name}")
                block = self.vendor_names.get(args[0].casefold())
                if block is None:
                    raise where.error(f"unknown vendor {args[0]!r}")
            elif keyword == "END-VENDOR":
                if len(args) != 1:
                    raise where.error("END-VENDOR takes one vendor name")
                if block is None or block.name.casefold() != args[0].casefold():
                    raise where.error(f"END-VENDOR {args[0]} does not close an open block")
                block = None
            else:
                raise where.error(f"unknown keyword {keyword!r}")
        if block is not None:
            raise where.error(f"end of file inside BEGIN-VENDOR {block.name}")

    def _vendor(self, args: list[str], where: _Where) -> None:
        if len(args) not in (2, 3):
            raise where.error("VENDOR takes a name, a number and an optional format=t,l")
        name, number = args[0], _number(args[1], where)
        type_size, length_size = 1, 1
        if len(args) == 3:
            spec = args[2]
            parts = spec.removeprefix("format=").split(",")
            if not spec.startswith("format=") or len(parts) != 2:
                raise where.error(f"bad vendor format {spec!r} (expected format=t,l)")
            type_size, length_size = (_number(p, where) for p in parts)
            if type_size not in (1, 2, 4) or length_size not in (0, 1, 2):
                raise where.error(f"unsupported vendor format {spec!r}")
        vendor = Vendor(name, number, type_size, length_size)
        for existing in (self.vendors.get(number), self.vendor_names.get(name.casefold())):
            if existing is not None and existing != vendor:
                raise where.error(f"VENDOR {name} {number} conflicts with {existing.name}")
        self.vendors[number] = vendor
        self.vendor_names[name.casefold()] = vendor

    def _attribute(self, args: list[str], block: Vendor | None, where: _Where) -> None:
        if len(args) not in (3, 4):
            raise where.error("ATTRIBUTE takes a name, a number, a type and optional flags")
        name, code_text, type_text = args[:3]
        vendor = block
        encrypt, has_tag, concat = Encrypt.NONE, False, False
        data_type = _data_type(type_text, where)
        if len(args) == 4:
            old_style_vendor = self.vendor_names.get(args[3].casefold())
            if old_style_vendor is not None and "=" not in args[3]:
                vendor = old_style_vendor  # FreeRADIUS 1.x form: the vendor as fourth field
            else:
                encrypt, has_tag, concat = _flags(args[3], where)
        path = tuple(_number(part, where) for part in code_text.split("."))
        vendor_id = vendor.id if vendor else 0
        limit = 2 ** (8 * vendor.type_size) - 1 if vendor else 255
        if not 0 <= path[0] <= limit or any(not 1 <= c <= 255 for c in path[1:]):
            raise where.error(f"attribute number {code_text} out of range")
        if data_type is DataType.VSA and (vendor or path != (VENDOR_SPECIFIC,)):
            raise where.error("type vsa is only for attribute 26 (Vendor-Specific)")
        if encrypt is Encrypt.USER_PASSWORD and data_type not in (DataType.STRING, DataType.OCTETS):
            raise where.error("encrypt=1 needs type string or octets")
        if has_tag and data_type not in (DataType.STRING, DataType.OCTETS, DataType.INTEGER):
            raise where.error("has_tag needs type string, octets or integer")
        if len(path) > 1:
            parent = self.codes.get((vendor_id, path[:-1]))
            if parent is None or self.attrs[parent.casefold()].type is not DataType.TLV:
                raise where.error(f"attribute {code_text} has no parent of type tlv")
        record = _Attr(name, path, data_type, vendor_id, encrypt, has_tag, concat)
        existing = self.attrs.get(name.casefold())
        if existing is not None:
            if (existing.path, existing.type, existing.vendor_id) != (path, data_type, vendor_id):
                raise where.error(f"attribute {name} is already defined differently")
            return
        self.attrs[name.casefold()] = record
        self.codes.setdefault((vendor_id, path), name)  # the first name of a number decodes

    def freeze(self) -> Dictionary:
        for attr_name, value_name, number_text, where in self.pending_values:
            attr = self.attrs.get(attr_name.casefold())
            if attr is None:
                raise where.error(f"VALUE for unknown attribute {attr_name!r}")
            if attr.type not in NUMERIC_TYPES:
                raise where.error(f"VALUE for {attr.name}, which is of type {attr.type.value}")
            number = _number(number_text, where)
            low, high = _NUMERIC_RANGE[attr.type]
            if not low <= number <= high:
                raise where.error(f"VALUE {value_name} {number} out of range for {attr.name}")
            if attr.values.get(value_name, number) != number:
                raise where.error(f"VALUE {attr.name} {value_name} is already defined differently")
            attr.values[value_name] = number
        built: dict[str, AttributeDef] = {}
        # Children first, so that every TLV is frozen with its finished sub-attributes.
        for record in sorted(self.attrs.values(), key=lambda a: -len(a.path)):
            built[record.name.casefold()] = self._build(record, built)
        by_code = {
            (vendor_id, path[0]): name
            for (vendor_id, path), name in self.codes.items()
            if len(path) == 1
        }
        return Dictionary(built, by_code, self.vendors)

    def _build(self, record: _Attr, built: Mapping[str, AttributeDef]) -> AttributeDef:
        vendor = self.vendors.get(record.vendor_id)
        children = {
            path[-1]: built[name.casefold()]
            for (vendor_id, path), name in self.codes.items()
            if vendor_id == record.vendor_id and path[:-1] == record.path
        }
        names: dict[int, str] = {}
        for value_name, number in record.values.items():
            names.setdefault(number, value_name)
        return AttributeDef(
            record.name,
            record.path[-1],
            record.type,
            record.vendor_id,
            record.encrypt,
            record.has_tag,
            record.concat,
            record.path[:-1],
            (vendor.type_size, vendor.length_size) if vendor else (1, 1),
            dict(record.values),
            children,
            names,
            {k.casefold(): v for k, v in record.values.items()},
        )


def _number(text: str, where: _Where) -> int:
    try:
        return int(text, 0) if text.lower().startswith("0x") else int(text, 10)
    except ValueError:
        raise where.error(f"{text!r} is not a number") from None


def _data_type(text: str, where: _Where) -> DataType:
    base = text.split("[", 1)[0].lower()  # "octets[16]": the fixed size is not enforced
    try:
        return DataType(base)
    except ValueError:
        found = _TYPE_ALIASES.get(base)
        if found is None:
            raise where.error(f"unknown type {text!r}") from None
        return found


def _flags(text: str, where: _Where) -> tuple[Encrypt, bool, bool]:
    encrypt, has_tag, concat = Encrypt.NONE, False, False
    for flag in text.split(","):
        if flag == "has_tag":
            has_tag = True
        elif flag == "concat":
            concat = True
        elif flag.startswith("encrypt="):
            try:
                encrypt = Encrypt(int(flag[8:]))
            except ValueError:
                raise where.error(f"unknown encryption {flag!r}") from None
        else:
            raise where.error(f"unknown flag {flag!r}")
    return encrypt, has_tag, concat


def load_dictionary(*paths: str | os.PathLike[str], include_default: bool = False) -> Dictionary:
    """Load dictionary files (each with its $INCLUDEs) into one `Dictionary`.

    With `include_default` the shipped dictionaries are loaded first, so site files can add
    vendors and attributes to them. Raises DictionaryError(file, line, message).
    """
    loader = _Loader()
    if include_default:
        shipped = resources.files("userman.radius").joinpath("dictionaries")
        loader.load(shipped, "dictionary", "dictionaries/dictionary")
    for path in paths:
        file = Path(path)
        loader.load(file.parent, file.name, str(file))
    return loader.freeze()


@functools.lru_cache(maxsize=1)
def default_dictionary() -> Dictionary:
    """The shipped dictionaries (RFCs, Microsoft, MikroTik), loaded once."""
    return load_dictionary(include_default=True)
