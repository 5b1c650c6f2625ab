r"""Fuzzing what reads outside input: either it parses, or its own error is raised, never else.

    uv run python bench/fuzz.py decoder --runs 1000000
    uv run python bench/fuzz.py script  --runs 1000000
    uv run python bench/fuzz.py values  --runs 1000000
    uv run python bench/fuzz.py decoder --reproduce fuzz-findings/decoder/*   # replay inputs

Targets, each with the one error its parser documents for bad input:

    decoder  RADIUS packets: radius/packet.decode with the server's dictionary, without and
             with the router's secret, and with the test dictionary (TLVs, vendor formats);
             the verify_* functions and the duplicate cache's key; on what decodes, the
             server's translation (server/requests.access_request, accounting_record) and a
             re-encode. Allowed: DecodeError (EncodeError from the re-encode).
    script   RouterOS scripts and console lines: cli/script.parse_rsc (what `userman import`
             parses, before anything is applied) and cli/syntax.parse_line (the console), and
             every value read back through quote_value -> split_words unchanged. Allowed:
             ScriptError and CommandSyntaxError (both UsermanError).
    values   core/values.parse_* (durations, sizes, rates, yes/no, sets, counts, times of day,
             date-times: each read back from its own format_*), core/windows (weekdays, time
             zones and offsets, and a window open/close/next-boundary at a moment), and
             radius/values (coerce_value, decode_value and encode_value, read back).
             Allowed: InvalidValueError, EncodeError and DecodeError respectively.

A finding is any other exception, a broken read-back, or an input that runs longer than
--hang-seconds (1 s): it is saved under --findings DIR/<target>/ and its traceback printed once
per place it was raised; the exit status is 1 when there is any. Coverage-guided with atheris
(libFuzzer) when it is installed (a development dependency on Linux x86_64, CPython 3.11-3.13:
`uv sync` brings it; elsewhere `pip install atheris` where a wheel exists); otherwise, or with
`--engine random`, a pure-Python random mutator of the same seeds (no coverage feedback: it
keeps an input that gives an error message not seen before). Seeds: the RFC 2865 vectors
(tests/radius/vectors), packets made with the codec, and the scripts in tests/cli. Prints
inputs per second every 10 s and a summary at the end. It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "radius" / "vectors"
SCRIPTS = ROOT / "tests" / "cli"
SECRET = b"xyzzy5461"
REQUEST_AUTH = bytes(range(16))
SOURCE = "192.0.2.1"

# A check takes one input and returns a label of what happened ("ok", or the documented error
# without its numbers: the random engine keeps an input whose label is new). Anything it raises
# is a finding.
Check = Callable[[bytes], str]


class Broken(AssertionError):
    """A read-back that gives another value, or a result of the wrong kind."""


class Hang(BaseException):
    """An input that ran past --hang-seconds (BaseException: no parser's `except` takes it)."""


def label(error: Exception) -> str:
    return f"{type(error).__name__}: {re.sub(r'[0-9]+', 'N', str(error))[:80]}"


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise Broken(what)


# -- the decoder -------------------------------------------------------------------------------


def radius_vectors() -> list[bytes]:
    """The packets of tests/radius/vectors/rfc2865-section7.txt."""
    out = []
    for block in (VECTORS / "rfc2865-section7.txt").read_text().split("[")[1:]:
        hex_text = "".join(line.split("#", 1)[0] for line in block.splitlines()[1:])
        out.append(bytes.fromhex(hex_text))
    return out


def decoder_target() -> tuple[Check, list[bytes], list[bytes]]:
    from userman.radius import (  # noqa: PLC0415 - imported once atheris can instrument it
        Code,
        DecodeError,
        EncodeError,
        Packet,
        build,
        decode,
        default_dictionary,
        encode,
        load_dictionary,
        make_avp,
        verify_message_authenticator,
        verify_request_authenticator,
        verify_response_authenticator,
    )
    from userman.radius.dedup import request_key  # noqa: PLC0415
    from userman.server.requests import access_request, accounting_record  # noqa: PLC0415

    server = default_dictionary()
    test = load_dictionary(VECTORS / "dictionary.test", include_default=True)
    fixed_salt = b"\x80\x01"

    def check(data: bytes) -> str:
        request_key(data, SOURCE, 1812)
        for result in (
            verify_request_authenticator(data, SECRET),
            verify_response_authenticator(data, SECRET, REQUEST_AUTH),
        ):
            expect(isinstance(result, bool), "verify_* answered other than True or False")
        for result in (
            verify_message_authenticator(data, SECRET),
            verify_message_authenticator(data, SECRET, REQUEST_AUTH),
        ):
            expect(result in (True, False, None), "verify_message_authenticator's answer")
        outcome = "ok"
        # What the server does: decode with the router's secret, then translate.
        for secret in (None, SECRET):
            try:
                pkt = decode(data, server, secret=secret)
            except DecodeError as error:
                outcome = label(error)
                continue
            expect(isinstance(pkt, Packet), "decode returned other than a Packet")
            if pkt.code is Code.ACCESS_REQUEST:
                access_request(server, pkt, SOURCE)
            elif pkt.code is Code.ACCOUNTING_REQUEST:
                try:
                    accounting_record(server, pkt, SOURCE)
                except DecodeError as error:
                    outcome = label(error)
        # The test dictionary's structures (TLVs, vendor formats), revealed as a response's.
        try:
            pkt = decode(data, test, secret=SECRET, request_authenticator=REQUEST_AUTH)
        except DecodeError as error:
            return label(error)
        try:
            encode(pkt, SECRET, request_authenticator=REQUEST_AUTH, salt=lambda n: fixed_salt)
        except EncodeError as error:
            return label(error)
        return outcome

    seeds = radius_vectors()
    common = [
        ("NAS-IP-Address", "10.0.0.2"),
        ("NAS-Port", 15728780),
        ("NAS-Port-Type", "Ethernet"),
        ("NAS-Port-Id", "bridge-to-clients"),
        ("Calling-Station-Id", "01:23:45:67:E1:BB"),
        ("Framed-IP-Address", "10.5.50.2"),
        ("Acct-Session-Id", "81f00003"),
        ("Proxy-State", b"\x01\x02"),
    ]
    requests: list[tuple[Code, list[Any]]] = [
        (Code.ACCESS_REQUEST, [("User-Name", "test"), ("User-Password", "test"), *common]),
        (
            Code.ACCESS_REQUEST,
            [("User-Name", "flopsy"), ("CHAP-Password", bytes(17)), ("CHAP-Challenge", bytes(16))],
        ),
        (
            Code.ACCESS_REQUEST,
            [
                ("User-Name", "ms"),
                ("MS-CHAP-Challenge", bytes(16)),
                ("MS-CHAP2-Response", bytes(50)),
                *common,
            ],
        ),
        (
            Code.ACCESS_REQUEST,
            [("User-Name", "v1"), ("MS-CHAP-Challenge", bytes(8)), ("MS-CHAP-Response", bytes(50))],
        ),
        (
            Code.ACCOUNTING_REQUEST,
            [
                ("User-Name", "test"),
                ("Acct-Status-Type", "Interim-Update"),
                ("Acct-Input-Octets", 1000),
                ("Acct-Input-Gigawords", 1),
                ("Acct-Output-Octets", 2000),
                ("Acct-Output-Gigawords", 0),
                ("Acct-Session-Time", 60),
                ("Acct-Terminate-Cause", "User-Request"),
                ("Acct-Delay-Time", 2),
                ("Event-Timestamp", 1_700_000_000),
                ("Class", b"userman:12345"),
                *common,
            ],
        ),
        (Code.STATUS_SERVER, [("NAS-Identifier", "router1")]),
        (Code.DISCONNECT_REQUEST, [("User-Name", "test"), ("Acct-Session-Id", "81f00003")]),
    ]
    for code, specs in requests:
        pkt = build(server, code, 7, REQUEST_AUTH, specs)
        seeds.append(encode(pkt, SECRET, message_authenticator=True, salt=lambda n: fixed_salt))
    replies: list[Any] = [
        ("Mikrotik-Rate-Limit", "10M/2M 20M/4M 8M/1M 10/10 8 1M/256k"),
        ("Session-Timeout", 86400),
        ("Class", b"userman:1"),
        ("Tunnel-Type", "VLAN", 1),
        ("Tunnel-Password", "pw", 1),
        ("MS-MPPE-Send-Key", bytes(32)),
        ("Framed-IPv6-Prefix", "2001:db8::/48"),
        ("Test-Std-Tlv", [("Test-Std-Tlv-Text", "t")]),
        make_avp(
            test,
            "Test-Tlv-Group",
            [("Test-Tlv-Name", "n"), ("Test-Tlv-Inner", [("Test-Tlv-Inner-Address", "10.0.0.1")])],
        ),
        ("Test21-String", "a"),
        ("Test40-Integer", 1),
    ]
    for code in (Code.ACCESS_ACCEPT, Code.COA_REQUEST):
        pkt = build(test, code, 9, REQUEST_AUTH, replies)
        seeds.append(
            encode(
                pkt,
                SECRET,
                request_authenticator=REQUEST_AUTH,
                message_authenticator=True,
                salt=lambda n: fixed_salt,
            )
        )
    tokens = [
        b"\x50\x12",  # Message-Authenticator, 16 octets
        b"\x1a\x0c\x00\x00\x3a\x8c",  # Vendor-Specific, Mikrotik
        b"\x1a\x0c\x00\x00\x01\x37",  # Vendor-Specific, Microsoft
        b"\x02\x12",  # User-Password
        b"\x28\x06\x00\x00\x00\x01",  # Acct-Status-Type Start
        b"\x2a\x06\xff\xff\xff\xff",  # Acct-Input-Octets
        b"\x34\x06\xff\xff\xff\xff",  # Acct-Input-Gigawords
        b"\x19\x0fuserman:12345",  # Class
        b"\x40\x06\x01\x00\x00\x0d",  # Tunnel-Type, tagged
        b"\x45\x15\x01\x80\x01",  # Tunnel-Password, tagged, salted
        b"\x61\x04\x00\x40",  # Framed-IPv6-Prefix
    ]
    return check, seeds, tokens


# -- the script parser -------------------------------------------------------------------------


def test_scripts() -> list[str]:
    """The sample scripts of tests/cli: the .rsc files, each of their sections alone, and every
    module-level text constant of the tests that is a User Manager script."""
    out = []
    for path in sorted(SCRIPTS.glob("*.rsc")):
        text = path.read_text()
        out.append(text)
        out.extend("/" + section for section in text.split("\n/")[1:])
    for path in sorted(SCRIPTS.glob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            value = node.value if isinstance(node, ast.Assign) else None
            text = value.value if isinstance(value, ast.Constant) else None
            if isinstance(text, str) and "user-manager" in text:
                out.append(text)
    return out


CONSOLE_LINES = [
    "add name=a shared-users=2",
    '/tool user-manager user add customer=admin username=test password="a b\\"c" \\41\\42',
    "/user-manager/user/add name=x group=default; print",
    "user set [find name=a] password=x",
    "..",
    "profile limitation print detail",
    "# a comment",
    'set 0 comment="$x" name=\\_y',
    "/ip pool add name=p ranges=10.0.0.1-10.0.0.9",
]


def script_target() -> tuple[Check, list[bytes], list[bytes]]:
    from userman.cli.script import ScriptError, parse_rsc  # noqa: PLC0415 - see decoder_target
    from userman.cli.syntax import (  # noqa: PLC0415
        CommandSyntaxError,
        parse_line,
        quote_value,
        split_words,
    )
    from userman.services import MENU_PATHS  # noqa: PLC0415

    menus = frozenset(MENU_PATHS)

    def check(data: bytes) -> str:
        # A file is read as UTF-8 (import); a console line or argv may carry undecodable
        # octets as lone surrogates, as Python reads them in a C locale.
        text = data.decode("utf-8", "surrogateescape")
        outcome = "ok"
        try:
            commands = parse_rsc(text, skip_foreign=len(data) % 2 == 1)
        except ScriptError as error:
            outcome = label(error)
            commands = []
        for command in commands:
            for value in (*command.positional, *command.args.values()):
                words = split_words(quote_value(value))
                expect(
                    [(w.name, w.value) for w in words] == [(None, value)],
                    f"{value!r} does not read back from {quote_value(value)!r}",
                )
        for line in text.split("\n", 3)[:3]:
            try:
                parse_line(line, ("user",), menus=menus)
            except CommandSyntaxError as error:
                outcome += f" | {label(error)}"
        return outcome

    seeds = [text.encode() for text in (*test_scripts(), *CONSOLE_LINES)]
    tokens = [
        token.encode()
        for token in (
            "/tool user-manager ",
            "/user-manager/",
            "user add ",
            "profile limitation ",
            "name=",
            '"',
            "\\",
            "\\\n    ",
            "\\\r\n",
            "\\41",
            "\\FF",
            "\\_",
            "#",
            ";",
            "[find]",
            "$x",
            "{",
            "..",
            "=",
            "/ip pool",
        )
    ]
    return check, seeds, tokens


# -- the value parsers -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Case:
    """One value parser: how it reads `text` (a check), and seeds of its own."""

    run: Callable[[bytes], str]
    seeds: Sequence[str | bytes] = field(default=())


def values_target() -> tuple[Check, list[bytes], list[bytes]]:
    import datetime as dt  # noqa: PLC0415

    from userman.core import values, windows  # noqa: PLC0415 - see decoder_target
    from userman.core.errors import InvalidValueError  # noqa: PLC0415
    from userman.radius import DataType, DecodeError, EncodeError  # noqa: PLC0415
    from userman.radius.values import (  # noqa: PLC0415
        coerce_value,
        decode_value,
        encode_value,
    )

    weekdays = [day.value for day in windows.Weekday]
    types = [t for t in DataType if t not in (DataType.TLV, DataType.VSA)]
    earliest = dt.datetime(1971, 1, 1, tzinfo=dt.UTC)
    latest = dt.datetime(2999, 1, 1, tzinfo=dt.UTC)

    def text_of(body: bytes) -> str:
        return body.decode("utf-8", "surrogateescape")

    def parsed(parse: Callable[[str], Any], back: Callable[[Any], str] | None) -> Check:
        def run(body: bytes) -> str:
            try:
                value = parse(text_of(body))
            except InvalidValueError as error:
                return label(error)
            if back is not None:
                shown = back(value)
                expect(parse(shown) == value, f"{value!r} does not read back from {shown!r}")
            return "ok"

        return run

    def datetime_back(value: dt.datetime) -> str:
        # The print form has whole seconds and no zone: read back what it can hold.
        return values.format_datetime(value.replace(microsecond=0, tzinfo=None))

    def datetime_run(body: bytes) -> str:
        try:
            value = values.parse_datetime(text_of(body))
        except InvalidValueError as error:
            return label(error)
        plain = value.replace(microsecond=0, tzinfo=None)
        shown = values.format_datetime(plain)
        expect(values.parse_datetime(shown) == plain, f"{plain!r} does not read back")
        return "ok"

    def window_run(body: bytes) -> str:
        """`zone|from|till|weekdays|now`: the window's answers at `now` agree."""
        parts = text_of(body).split("|")
        if len(parts) != 5:
            return "parts"
        try:
            tz = windows.parse_time_zone(parts[0])
            start = values.parse_time_of_day(parts[1])
            till = values.parse_time_of_day(parts[2])
            days = windows.parse_weekdays(parts[3])
            now = values.parse_datetime(parts[4], tz=dt.UTC)
            window = windows.Window(
                start.hour * 3600 + start.minute * 60 + start.second,
                till.hour * 3600 + till.minute * 60 + till.second,
                days,
            )
        except InvalidValueError as error:
            return label(error)
        if not earliest <= now <= latest:  # a server's clock: the years near datetime's ends
            return "far"
        is_open = windows.contains(window, now, tz)
        ends = windows.ends_at(window, now, tz)
        nxt = windows.next_boundary([window], now, tz)
        if window.always:
            expect(is_open and ends is None and nxt is None, "an always-open window")
            return "always"
        expect(is_open == (ends is not None), f"contains {is_open} but ends_at {ends}")
        expect(ends is None or ends > now, f"ends_at {ends} is not after {now}")
        expect(nxt is None or nxt > now, f"next_boundary {nxt} is not after {now}")
        expect(ends is None or (nxt is not None and nxt <= ends), f"next {nxt}, ends {ends}")
        return "open" if is_open else "shut"

    def zone_run(body: bytes) -> str:
        try:
            tz = windows.parse_time_zone(text_of(body))
        except InvalidValueError as error:
            return label(error)
        windows.time_zone_name(tz)
        return "ok"

    def weekdays_run(body: bytes) -> str:
        try:
            days = windows.parse_weekdays(text_of(body))
        except InvalidValueError as error:
            return label(error)
        shown = windows.format_weekdays(days)
        expect(windows.parse_weekdays(shown) == days, f"{days} does not read back from {shown}")
        return "ok"

    def read_back(data_type: DataType, value: object) -> None:
        wire = encode_value(data_type, value)
        expect(decode_value(data_type, wire) == value, f"{value!r} does not read back")

    def coerce_run(body: bytes) -> str:
        """A RADIUS type, then its value as text (as a custom attribute's value is given)."""
        if not body:
            return "empty"
        data_type = types[body[0] % len(types)]
        try:
            value = coerce_value(data_type, text_of(body[1:]))
        except EncodeError as error:
            return label(error)
        read_back(data_type, value)
        return "ok"

    def coerce_number_run(body: bytes) -> str:
        if not body:
            return "empty"
        data_type = types[body[0] % len(types)]
        try:
            value = coerce_value(data_type, int.from_bytes(body[1:9], signed=True))
        except EncodeError as error:
            return label(error)
        read_back(data_type, value)
        return "ok"

    def decode_run(body: bytes) -> str:
        if not body:
            return "empty"
        data_type = types[body[0] % len(types)]
        try:
            value = decode_value(data_type, body[1:])
        except DecodeError as error:
            return label(error)
        encode_value(data_type, value)  # anything that decodes encodes
        if data_type not in (DataType.IPV4PREFIX, DataType.IPV6PREFIX):  # host bits cleared
            read_back(data_type, value)
        return "ok"

    cases = [
        _Case(
            parsed(values.parse_duration, values.format_duration),
            ["30m", "1h30m", "1d02:00:00", "4w2d", "00:30", "8:00", "90", "1s500ms", "02:30:00.5"],
        ),
        _Case(parsed(values.parse_size, values.format_size), ["1G", "512k", "1073741824B", "2T"]),
        _Case(parsed(values.parse_rate, values.format_rate), ["512k", "6291456B", "10Mbps", "0"]),
        _Case(parsed(values.parse_bool, values.format_bool), ["yes", "no", "True"]),
        _Case(
            parsed(
                lambda text: values.parse_set(text, "weekdays", weekdays),
                lambda chosen: values.format_set(chosen, weekdays),
            ),
            ["monday,friday", "", "sunday, ,monday"],
        ),
        _Case(
            parsed(values.parse_count, values.format_count), ["unlimited", "5", "0", "99999999999"]
        ),
        _Case(
            parsed(lambda text: values.parse_count(text, allow_unlimited=False, minimum=1), str),
            ["1", "0"],
        ),
        _Case(
            parsed(values.parse_time_of_day, values.format_time_of_day),
            ["08:00:00", "8:00", "23:59:59", "0s", "23h59m59s"],
        ),
        _Case(
            datetime_run,
            ["may/23/2019 08:55:43", "feb/29/2024", "2019-05-23T08:55:43+02:00", "2019-05-23"],
        ),
        _Case(weekdays_run, ["sunday,monday", "", "Friday"]),
        _Case(zone_run, ["+02:00", "-05:30", "-00:00", "Europe/Riga", "UTC", "America/St_Johns"]),
        _Case(
            window_run,
            [
                "Europe/Riga|22:00:00|05:59:59|friday,saturday|2026-03-28T23:30:00+00:00",
                "Europe/Riga|03:00:00|03:59:59|sunday|2026-03-29T00:30:00",
                "America/New_York|01:00:00|01:30:00|sunday|2026-11-01T05:15:00+00:00",
                "+02:00|0s|23:59:59|monday|may/23/2019 08:55:43",
                "-05:30|08:00|17:00|monday,tuesday,wednesday|2026-01-05T12:00:00Z",
            ],
        ),
        _Case(
            coerce_run,
            [
                b"\x04" + b"10.0.0.1",  # the first byte picks the RADIUS type
                b"\x0b" + b"aa:bb:cc:dd:ee:ff",
                b"\x06" + b"2001:db8::/48",
                b"\x03" + b"0x10",
            ],
        ),
        _Case(coerce_number_run, [b"\x03\x00\x00\x00\x01", b"\x08\xff\xff\xff\xff"]),
        _Case(decode_run, [b"\x04\x0a\x00\x00\x01", b"\x06\x00\x30" + bytes(6), b"\x00abc"]),
    ]

    def check(data: bytes) -> str:
        if not data:
            return "empty"
        return cases[data[0] % len(cases)].run(data[1:])

    seeds = [
        bytes([index]) + (seed.encode() if isinstance(seed, str) else seed)
        for index, case in enumerate(cases)
        for seed in case.seeds
    ]
    tokens = [
        token.encode()
        for token in (*weekdays, "unlimited", "ms", "w", "d", ":", "|", "+", "Europe/", "/")
    ]
    return check, seeds, tokens


TARGETS: dict[str, Callable[[], tuple[Check, list[bytes], list[bytes]]]] = {
    "decoder": decoder_target,
    "script": script_target,
    "values": values_target,
}
MAX_LEN = {"decoder": 4096, "script": 1024, "values": 256}  # script: a few sections


# -- running -----------------------------------------------------------------------------------


@dataclass
class Findings:
    """What went wrong, once per place it was raised; each input saved under `directory`."""

    directory: Path
    hang_seconds: float | None  # None: no alarm (the slowest input is still timed)
    places: dict[str, tuple[int, str, Path]] = field(default_factory=dict)
    count: int = 0

    def add(self, data: bytes, error: BaseException) -> None:
        self.count += 1
        frames = traceback.extract_tb(error.__traceback__)
        if isinstance(error, Broken):  # where the read-back was checked, not `expect` itself
            frames = frames[:-1]
        inner = frames[-1] if frames else None
        place = f"{type(error).__name__} at {inner.filename}:{inner.lineno}" if inner else "?"
        seen = self.places.get(place)
        if seen is not None:
            self.places[place] = (seen[0] + 1, seen[1], seen[2])
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / hashlib.sha1(data).hexdigest()[:16]
        path.write_bytes(data)
        text = "".join(traceback.format_exception(error))
        self.places[place] = (1, text, path)
        print(f"\nFINDING {place} (input saved as {path}, {len(data)} octets):\n{text}", flush=True)


@dataclass
class Runner:
    """Runs the check on each input, counting, timing, catching and reporting."""

    name: str
    check: Check
    findings: Findings
    runs: int
    seconds: float
    started: float = field(default_factory=time.perf_counter)
    done: int = 0
    slowest: float = 0.0
    labels: set[str] = field(default_factory=set)
    last_report: float = field(default_factory=time.perf_counter)

    def one(self, data: bytes) -> str | None:
        """Run one input; its label when new (the random engine keeps such inputs)."""
        limit = self.findings.hang_seconds
        if limit is not None:
            signal.setitimer(signal.ITIMER_REAL, limit)
        began = time.perf_counter()
        outcome: str | None = None
        try:
            outcome = self.check(data)
        except (Exception, Hang) as error:
            self.findings.add(data, error)
        finally:
            if limit is not None:
                signal.setitimer(signal.ITIMER_REAL, 0)
        now = time.perf_counter()
        self.slowest = max(self.slowest, now - began)
        self.done += 1
        if now - self.last_report >= 10:
            self.last_report = now
            self.report("progress")
        if outcome is None or outcome in self.labels:
            return None
        self.labels.add(outcome)
        return outcome

    @property
    def finished(self) -> bool:
        return self.done >= self.runs or time.perf_counter() - self.started >= self.seconds

    def report(self, what: str) -> None:
        elapsed = time.perf_counter() - self.started
        print(
            f"{what}: {self.name}: {self.done:,} inputs in {elapsed:.0f} s "
            f"({self.done / max(elapsed, 1e-9):,.0f} inputs/s), {self.findings.count} findings "
            f"in {len(self.findings.places)} places, slowest input {self.slowest * 1000:.1f} ms",
            flush=True,
        )

    def summary(self, engine: str) -> int:
        self.report(f"done ({engine})")
        for place, (count, _, path) in self.findings.places.items():
            print(f"  {count:,} x {place}; e.g. {path}")
        return 1 if self.findings.places else 0


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang("the input ran past --hang-seconds")


def mutate(
    data: bytes, rng: random.Random, pool: Sequence[bytes], tokens: Sequence[bytes]
) -> bytes:
    """A few random edits of `data`: flips, interesting octets, inserted tokens, cut, copied
    and spliced ranges (what libFuzzer's mutators do, without its coverage feedback)."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 5)):
        op = rng.randrange(9)
        at = rng.randint(0, len(buf))
        if op == 0 and buf:
            buf[min(at, len(buf) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:
            buf[min(at, len(buf) - 1)] = rng.choice((0, 1, 2, 0x7F, 0x80, 0xFF, rng.randrange(256)))
        elif op == 2:
            buf[at:at] = rng.choice(tokens) if tokens else bytes([rng.randrange(256)])
        elif op == 3:
            buf[at:at] = rng.randbytes(rng.randint(1, 8))
        elif op == 4 and buf:
            del buf[at : at + rng.randint(1, 16)]
        elif op == 5 and buf:
            start = rng.randrange(len(buf))
            buf[at:at] = buf[start : start + rng.randint(1, 32)]
        elif op == 6:
            other = rng.choice(pool)
            start = rng.randint(0, len(other))
            buf[at:] = other[start : start + rng.randint(0, 64)]
        elif op == 7 and len(buf) >= 4:
            # A RADIUS-shaped edit: the Length field set to the size (a packet that parses on).
            buf[2:4] = min(len(buf), 0xFFFF).to_bytes(2)
        elif op == 8 and buf:
            del buf[at:]
    return bytes(buf)


def run_random(
    runner: Runner, seeds: list[bytes], tokens: list[bytes], seed: int, max_len: int
) -> None:
    rng = random.Random(seed)
    pool = list(seeds)
    for data in seeds:
        runner.one(data)
    while not runner.finished:
        data = mutate(rng.choice(pool), rng, pool, tokens)[:max_len]
        if runner.one(data) is not None and len(pool) < 5000:
            pool.append(data)


def run_atheris(
    atheris: Any,
    runner: Runner,
    *,
    seeds: list[bytes],
    tokens: list[bytes],
    args: argparse.Namespace,
    max_len: int,
) -> None:
    corpus = Path(args.corpus) if args.corpus else Path(tempfile.mkdtemp(prefix="fuzz-corpus-"))
    corpus.mkdir(parents=True, exist_ok=True)
    for data in seeds:
        (corpus / hashlib.sha1(data).hexdigest()).write_bytes(data)
    dictionary = corpus.parent / f".{corpus.name}.dict"
    # libFuzzer's dictionary format: one quoted token a line, every octet as \xNN.
    quoted = ("".join(f"\\x{octet:02x}" for octet in token) for token in tokens)
    dictionary.write_text("".join(f'"{text}"\n' for text in quoted))

    def one_input(data: bytes) -> None:
        runner.one(data)
        if runner.finished:
            status = runner.summary("atheris")
            if not args.corpus:
                shutil.rmtree(corpus, ignore_errors=True)
            dictionary.unlink(missing_ok=True)
            sys.stdout.flush()
            os._exit(status)  # libFuzzer's own exit would skip the summary

    atheris.Setup(
        [
            sys.argv[0],
            f"-max_len={max_len}",
            f"-seed={args.seed}",
            f"-dict={dictionary}",
            "-timeout=0",  # hangs are caught by --hang-seconds, with their traceback
            "-rss_limit_mb=4096",
            "-print_final_stats=0",
            str(corpus),
        ],
        one_input,
    )
    atheris.Fuzz()


def _engine(name: str) -> Any:
    """The atheris module, or None for the random engine."""
    if name == "random":
        return None
    try:
        import atheris  # noqa: PLC0415 - optional: a development dependency on some platforms
    except ImportError:
        if name == "atheris":
            raise SystemExit("atheris is not installed (see the README, Benchmarks)") from None
        print("atheris is not installed: the random engine runs instead", file=sys.stderr)
        return None
    return atheris


@contextlib.contextmanager
def _instrumented(atheris: Any, target: str) -> Iterator[None]:
    if atheris is None:
        yield
        return
    if target != "decoder":
        # str.startswith/endswith comparisons guide it. (Its RegEx hook is not used: its
        # stand-in for a compiled pattern does not take `pos`, which the scanner passes.)
        atheris.enabled_hooks.add("str")
    with atheris.instrument_imports(include=["userman"]):
        yield


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--runs", type=int, default=1_000_000, help="inputs to run")
    parser.add_argument("--seconds", type=float, default=float("inf"), help="or stop after this")
    parser.add_argument("--engine", choices=["auto", "atheris", "random"], default="auto")
    parser.add_argument("--seed", type=int, default=1, help="of the mutator's randomness")
    parser.add_argument("--hang-seconds", type=float, default=1.0)
    parser.add_argument("--findings", default="fuzz-findings", help="where findings are saved")
    parser.add_argument("--corpus", help="keep atheris's corpus in this directory")
    parser.add_argument("--reproduce", nargs="+", metavar="FILE", help="run these inputs only")
    args = parser.parse_args(argv)

    atheris = None if args.reproduce else _engine(args.engine)
    with _instrumented(atheris, args.target):
        check, seeds, tokens = TARGETS[args.target]()
    findings = Findings(Path(args.findings) / args.target, args.hang_seconds)
    runner = Runner(args.target, check, findings, args.runs, args.seconds)
    signal.signal(signal.SIGALRM, _alarm)
    if args.reproduce:
        for name in args.reproduce:
            runner.one(Path(name).read_bytes())
        return runner.summary("reproduce")
    max_len = MAX_LEN[args.target]
    if atheris is None:
        run_random(runner, seeds, tokens, args.seed, max_len)
        return runner.summary("random")
    run_atheris(atheris, runner, seeds=seeds, tokens=tokens, args=args, max_len=max_len)
    return runner.summary("atheris")  # pragma: no cover - run_atheris exits by itself


if __name__ == "__main__":
    sys.exit(main())
