"""The error tree of the RADIUS codec: on bad input `userman.radius` raises nothing else.

    RadiusError             base of every codec error
    ├── DecodeError         bytes that are not a valid RADIUS packet or attribute value
    │                       (carries the byte `offset` and the `attribute` name when known)
    ├── EncodeError         a packet or value that cannot be put on the wire
    └── DictionaryError     a dictionary file that does not parse (carries `file` and `line`)

Adapters decide what a failure means (drop and count a packet, refuse a configuration);
this module only names the failures.
"""

from __future__ import annotations

__all__ = ["DecodeError", "DictionaryError", "EncodeError", "RadiusError"]


class RadiusError(Exception):
    """Base of every error raised by the RADIUS codec."""


class DecodeError(RadiusError):
    """Input bytes are not valid; `offset` is where in the packet, `attribute` which one."""

    def __init__(
        self, message: str, offset: int | None = None, attribute: str | None = None
    ) -> None:
        where = []
        if attribute is not None:
            where.append(f"attribute {attribute}")
        if offset is not None:
            where.append(f"offset {offset}")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)
        self.message = message
        self.offset = offset
        self.attribute = attribute


class EncodeError(RadiusError):
    """A packet or value cannot be encoded (too long, wrong type, missing key material)."""


class DictionaryError(RadiusError):
    """A dictionary file is invalid at `file`:`line`."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file = file
        self.line = line
        self.message = message
