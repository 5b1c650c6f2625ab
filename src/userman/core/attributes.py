"""A reply attribute's (name, value) pair as the AVP it makes, or why it makes none.

Owns the v7 attribute menu's value types as wire types (`VALUE_TYPES`) and `reply_avp`, which
types a value of `attributes=Name:value` for a dictionary's attribute or a custom one: the
same check when the property is written (services/verbs.py) as when a reply is built. Pure:
no storage, no sockets; errors are radius's `EncodeError`.
"""

from __future__ import annotations

from userman.core.authorize import CustomAttribute
from userman.radius.dictionary import AttributeDef, DataType, Dictionary
from userman.radius.errors import EncodeError
from userman.radius.packet import AVP, make_avp
from userman.radius.values import coerce_value, encode_value

__all__ = ["VALUE_TYPES", "reply_avp"]

# The attribute menu's value types (v7) as the wire types they are.
VALUE_TYPES = {
    "string": DataType.STRING,
    "hex": DataType.OCTETS,
    "ip-address": DataType.COMBO_IP,
    "ip6-prefix": DataType.IPV6PREFIX,
    "macaddress": DataType.ETHER,
    "uint32": DataType.INTEGER,
    "uint64": DataType.INTEGER64,
}
MAX_VALUE = 253  # RFC 2865 section 5: an attribute's value is at most 253 octets


def reply_avp(dictionary: Dictionary, name: str | CustomAttribute, value: object) -> AVP:
    """The AVP `name` with `value`: a dictionary's attribute by its name, or a custom one as its
    value type says (`hex` text is the octets in hexadecimal, `0x` allowed). EncodeError says
    why the value does not fit."""
    if isinstance(name, str):
        avp = make_avp(dictionary, name, value)
    else:
        data_type = VALUE_TYPES[name.value_type]
        if data_type is DataType.OCTETS and isinstance(value, str):
            try:
                value = bytes.fromhex(value.removeprefix("0x"))
            except ValueError:
                raise EncodeError(f"{name.name}: {value!r} is not hex") from None
        definition = AttributeDef(name.name, name.type_id, data_type, name.vendor_id)
        avp = AVP(definition, coerce_value(data_type, value))
    if avp.definition.type not in (DataType.TLV, DataType.VSA) and not avp.definition.concat:
        size = len(encode_value(avp.definition.type, avp.value))
        if size > MAX_VALUE:
            raise EncodeError(f"{avp.definition.name}: {size} octets (at most {MAX_VALUE})")
    return avp
