"""Codec throughput: userman's RADIUS encode/decode against pyrad2's, as a ratio in one run.

    uv run python bench/codec.py [--seconds 2]

Prints packets per second of CPU time for each side and userman's figure as a multiple of
pyrad2's: the encode of an Access-Request (User-Password hidden), its decode (User-Password
revealed), and the reply a server sends, an Access-Accept with three attributes and a
Message-Authenticator, its attributes made from names and values as the server makes them. It
measures; it asserts nothing. pyrad2 is a development dependency on Python 3.12 and later.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from userman.radius.dictionary import default_dictionary
from userman.radius.packet import Code, build, decode, encode

SECRET = b"12345"
REPLY = [("Class", b"userman:12345"), ("Session-Timeout", 86400), ("Acct-Interim-Interval", 300)]
ATTRIBUTES = [
    ("User-Name", "test"),
    ("User-Password", "test"),
    ("NAS-IP-Address", "127.0.0.1"),
    ("NAS-Port", 15728780),
    ("NAS-Port-Type", "Ethernet"),
    ("NAS-Port-Id", "bridge-to-clients"),
    ("Calling-Station-Id", "01:23:45:67:E1:BB"),
    ("Service-Type", "Framed-User"),
    ("Framed-Protocol", "PPP"),
]

# The same attributes for pyrad2, in the dictionary format it reads.
PYRAD_DICTIONARY = """\
ATTRIBUTE User-Name 1 string
ATTRIBUTE User-Password 2 string encrypt=1
ATTRIBUTE NAS-IP-Address 4 ipaddr
ATTRIBUTE NAS-Port 5 integer
ATTRIBUTE Service-Type 6 integer
ATTRIBUTE Framed-Protocol 7 integer
ATTRIBUTE Calling-Station-Id 31 string
ATTRIBUTE NAS-Port-Type 61 integer
ATTRIBUTE NAS-Port-Id 87 string
ATTRIBUTE Session-Timeout 27 integer
ATTRIBUTE Class 25 octets
ATTRIBUTE Acct-Interim-Interval 85 integer
ATTRIBUTE Message-Authenticator 80 octets
VALUE Service-Type Framed-User 2
VALUE Framed-Protocol PPP 1
VALUE NAS-Port-Type Ethernet 15
"""


def rate(work: Callable[[], object], seconds: float) -> float:
    """Calls of `work` per second of this process's CPU time: on a machine that other
    processes share, time spent waiting for a core does not count."""
    count = 0
    start = time.process_time()
    deadline = start + seconds
    while time.process_time() < deadline:
        for _ in range(100):
            work()
        count += 100
    return count / (time.process_time() - start)


Work = tuple[Callable[[], object], Callable[[], object], Callable[[], object]]


def userman_work() -> Work:
    dictionary = default_dictionary()
    pkt = build(dictionary, Code.ACCESS_REQUEST, 1, os.urandom(16), ATTRIBUTES)
    wire = encode(pkt, SECRET)

    def do_encode() -> object:
        return encode(pkt, SECRET)

    def do_decode() -> object:
        return decode(wire, dictionary, secret=SECRET)

    def do_reply() -> object:
        reply = build(dictionary, Code.ACCESS_ACCEPT, pkt.identifier, pkt.authenticator, REPLY)
        return encode(
            reply, SECRET, request_authenticator=pkt.authenticator, message_authenticator=True
        )

    return do_encode, do_decode, do_reply


def pyrad_work() -> Work | None:
    if importlib.util.find_spec("pyrad2") is None:
        return None
    from pyrad2 import packet as pyrad_packet  # noqa: PLC0415
    from pyrad2.dictionary import Dictionary  # noqa: PLC0415

    path = Path(tempfile.mkdtemp()) / "dictionary"
    path.write_text(PYRAD_DICTIONARY)
    dictionary = Dictionary(str(path))

    def make() -> pyrad_packet.AuthPacket:
        pkt = pyrad_packet.AuthPacket(code=1, id=1, secret=SECRET, dict=dictionary)
        for name, value in ATTRIBUTES:
            if name == "User-Password":
                pkt[name] = pkt.pw_crypt(value)
            else:
                pkt[name] = value
        return pkt

    pkt = make()
    wire = pkt.request_packet()

    def do_encode() -> object:
        return pkt.request_packet()

    def do_decode() -> object:
        decoded = pyrad_packet.AuthPacket(packet=wire, secret=SECRET, dict=dictionary)
        return decoded.pw_decrypt(decoded[2][0])

    def do_reply() -> object:
        reply = pkt.create_reply()
        reply.code = 2  # Access-Accept
        reply.add_message_authenticator()
        for name, value in REPLY:
            reply[name] = value
        return reply.reply_packet()

    return do_encode, do_decode, do_reply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    seconds = parser.parse_args().seconds
    ours = userman_work()
    theirs = pyrad_work()
    for index, label in enumerate(("encode", "decode", "reply")):
        mine = rate(ours[index], seconds)
        line = f"{label}: userman {mine:,.0f}/s"
        if theirs is not None:
            other = rate(theirs[index], seconds)
            line += f", pyrad2 {other:,.0f}/s, ratio {mine / other:.2f}x"
        print(line)


if __name__ == "__main__":
    main()
