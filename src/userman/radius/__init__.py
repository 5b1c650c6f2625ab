"""Sans-IO RADIUS: dictionaries, value codecs, packet encode/decode, authenticators, hiding.

Bytes in, values out. This package imports only the standard library (and a crypto package
for the MS-CHAP modules); it never opens sockets, logs, reads the clock or draws randomness.
The authentication methods (chap, mschap, mppe) are imported from their own modules.
"""

from __future__ import annotations

from userman.radius.dictionary import (
    AttributeDef,
    DataType,
    Dictionary,
    Encrypt,
    Vendor,
    default_dictionary,
    load_dictionary,
    unknown_attribute,
)
from userman.radius.errors import DecodeError, DictionaryError, EncodeError, RadiusError
from userman.radius.hiding import (
    hide_user_password,
    reveal_user_password,
    salt_decrypt,
    salt_encrypt,
)
from userman.radius.packet import (
    AVP,
    AttributeSpec,
    Code,
    Packet,
    Value,
    build,
    decode,
    encode,
    encode_attribute,
    encode_response,
    make_avp,
    verify_message_authenticator,
    verify_request_authenticator,
    verify_response_authenticator,
)
from userman.radius.values import ScalarValue, coerce_value, decode_value, encode_value

__all__ = [
    "AVP",
    "AttributeDef",
    "AttributeSpec",
    "Code",
    "DataType",
    "DecodeError",
    "Dictionary",
    "DictionaryError",
    "EncodeError",
    "Encrypt",
    "Packet",
    "RadiusError",
    "ScalarValue",
    "Value",
    "Vendor",
    "build",
    "coerce_value",
    "decode",
    "decode_value",
    "default_dictionary",
    "encode",
    "encode_attribute",
    "encode_response",
    "encode_value",
    "hide_user_password",
    "load_dictionary",
    "make_avp",
    "reveal_user_password",
    "salt_decrypt",
    "salt_encrypt",
    "unknown_attribute",
    "verify_message_authenticator",
    "verify_request_authenticator",
    "verify_response_authenticator",
]
