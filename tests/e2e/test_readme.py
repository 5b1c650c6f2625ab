"""Every command line the README shows works as written.

The indented (or fenced) lines that start with `uv run userman` or `userman` run in their order,
as an operator runs them: in a fresh folder with the default database, each a process of its
own that must exit 0. `serve` starts with free loopback ports appended, stays up while the
lines after it run (so they go through its control socket), and must answer a PAP log-on of the
manual example's user; it is stopped by its PID at the end. The command lines in the text
(`userman serve [--db URL] ...`, `userman settings print [show-sensitive]`, `userman user print
--json`) are checked against `--help` instead: their command, menu, verb, options and property
names must be ones the program accepts, wherever the line puts the options.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from click.testing import CliRunner

from served import free_tcp_port, free_udp_port, launch, run_userman, stop_process
from userman.cli.main import cli

pytestmark = pytest.mark.e2e

README = Path(__file__).parents[2] / "README.md"
PROGRAM = re.compile(r"^(?:uv run )?userman(?:\s|$)")
GLOBAL_OPTIONS = {"--db", "--key-file", "--json", "--as", "--help", "--version"}


def shown_lines(text: str) -> list[str]:
    """The README's command lines: indented or fenced, starting with the program's name,
    continued over a trailing backslash."""
    found: list[str] = []
    fenced = False
    pending = ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not (fenced or raw.startswith(("    ", "\t"))):
            continue
        line = pending + raw.strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if PROGRAM.match(line):
            found.append(line)
    return found


def code_spans(text: str) -> list[str]:
    """The text's `code spans`, fenced blocks left out: a fence's three backticks would pair
    with the spans' and shift every pairing after it (a span would then be prose)."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.findall(r"`([^`]+)`", prose)


def synopses(text: str) -> list[str]:
    """The command lines written in the text as code (`userman ...`), whitespace collapsed."""
    spans = (" ".join(span.split()) for span in code_spans(text))
    return [span for span in spans if PROGRAM.match(span)]


def argv(line: str) -> list[str]:
    """The words after the program's name, as a shell splits them (# starts a comment)."""
    words = shlex.split(line, comments=True)
    return words[words.index("userman") + 1 :]


def test_the_readme_shows_command_lines() -> None:
    """The parsers find what they are for: the manual's example, and the serve synopsis."""
    text = README.read_text()
    lines = shown_lines(text)
    assert (
        "uv run userman serve     # RADIUS on UDP 1812 and 1813, web pages and API on TCP 8080"
        in lines
    )
    assert (
        "uv run userman user create-and-activate-profile test customer=admin profile=profile1"
        in lines
    )
    assert any(span.startswith("userman serve [--db URL] [--bind ADDR]") for span in synopses(text))
    # Spans paired right: none runs over a paragraph's end (a stray backtick would make them).
    assert [span for span in code_spans(text) if "\n\n" in span] == []


# --- the lines, run ---------------------------------------------------------------------------


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    auth_port: int
    http_port: int
    log: Path


def environment() -> dict[str, str]:
    """The operator's: no database or control socket chosen by the environment."""
    env = {k: v for k, v in os.environ.items() if k not in {"USERMAN_DB", "USERMAN_CONTROL"}}
    return {**env, "LC_ALL": "C"}


def start(words: list[str], folder: Path) -> Served:
    auth, acct, http = free_udp_port(), free_udp_port(), free_tcp_port()
    ports = ["--bind", "127.0.0.1", "--auth-port", str(auth), "--acct-port", str(acct)]
    log = folder / "serve.log"
    process = launch([*words, *ports, "--http-port", str(http)], log, cwd=folder, env=environment())
    return Served(process, auth, http, log)


def run(words: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    return run_userman(*words, cwd=folder, env=environment())


def pap(radclient: str, port: int, user: str, password: str, secret: str) -> str:
    result = subprocess.run(
        [radclient, "-x", "-r", "2", "-t", "3", f"127.0.0.1:{port}", "auth", secret],
        input=f"User-Name={user},User-Password={password},Message-Authenticator=0x00",
        capture_output=True,
        text=True,
        timeout=30,
        env=environment(),
        check=False,
    )
    found = re.search(r"Received (\S+)", result.stdout)
    return found.group(1) if found else f"nothing ({result.stderr.strip()})"


def test_every_command_line_runs_as_written(radclient: str, tmp_path: Path) -> None:
    served: list[Served] = []
    try:
        for line in shown_lines(README.read_text()):
            words = argv(line)
            if words[:1] == ["serve"]:
                served.append(start(words, tmp_path))
                continue
            result = run(words, tmp_path)
            assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"
        assert served, "the README shows how to start the server"
        # The server answers the manual example's user: through a router at this test's own
        # address, since the example's router is at 10.0.0.2.
        local = ["router", "add", "name=here", "ip-address=127.0.0.1", "shared-secret=s3cret"]
        assert run(local, tmp_path).returncode == 0
        assert pap(radclient, served[0].auth_port, "test", "test", "s3cret") == "Access-Accept"
        assert pap(radclient, served[0].auth_port, "test", "nope", "s3cret") == "Access-Reject"
    finally:
        codes = [stop_process(server.process) for server in served]
    assert codes == [0] * len(served)
    assert (tmp_path / "userman-data" / "userman.db").is_file()  # the default, made on its own
    assert "Traceback" not in served[0].log.read_text()


# --- the synopses, against --help -------------------------------------------------------------


def asked_for_help(*words: str) -> subprocess.CompletedProcess[str]:
    """`userman WORDS --help`, in this process: the help is the same text a subprocess prints
    (no terminal either way), and about a hundred of them took a process each (2.5 minutes)."""
    result = CliRunner().invoke(cli, [*words, "--help"], env={"USERMAN_CONTROL": "off"})
    return subprocess.CompletedProcess(words, result.exit_code, result.stdout, result.stderr)


@cache
def helped(*words: str) -> str:
    result = asked_for_help(*words)
    assert result.returncode == 0, f"userman {' '.join(words)} --help\n{result.stderr}"
    return result.stdout


def placeholder(word: str) -> bool:
    """URL, ADDR, N, FILE.rsc, <menu>, ...: a word the reader replaces."""
    return word == "..." or word.startswith("<") or bool(re.fullmatch(r"[A-Z][A-Z.a-z]*", word))


def listed(text: str, heading: str) -> list[str]:
    """The comma-separated words after `heading` in a menu's help (wrapped lines joined)."""
    found = re.search(rf"^{heading}\s+(.*?)\n(?=\S)", text, re.S | re.M)
    return [] if found is None else [word.strip() for word in found.group(1).split(",")]


def menu_path(words: list[str]) -> list[str]:
    """The longest run of words that a menu's help exists for (`profile limitation`)."""
    top = helped()
    if not re.search(rf"^  {re.escape(words[0])}\s", top, re.M):
        return []
    path = [words[0]]
    for word in words[1:]:
        if word not in listed(helped(*path), "Menus:") and f"{' '.join(path)} {word}" not in (
            listed(helped(*path), "Menus:")
        ):
            break
        path.append(word)
    return path


@pytest.mark.parametrize("span", synopses(README.read_text()))
def test_every_command_line_in_the_text_is_accepted(span: str) -> None:
    words = [w for w in span.replace("[", " ").replace("]", " ").split() if w != "|"]
    words = words[words.index("userman") + 1 :]
    options = [w.partition("=")[0] for w in words if w.startswith("--")]
    commands = re.findall(r"^  (\S+)  ", helped().split("Menus and their verbs")[0], re.M)
    # An option that takes a value (its help shows `--bind TEXT`) is followed by it.
    helps = helped() + "".join(helped(w) for w in words if w in commands)
    takes_value = {o for o in options if re.search(rf"^\s+{o} [A-Z]", helps, re.M)}
    values = {i + 1 for i, w in enumerate(words) if w in takes_value}
    rest = [w for i, w in enumerate(words) if not w.startswith("-") and i not in values]
    if not rest or placeholder(rest[0]):
        assert set(options) <= GLOBAL_OPTIONS, span
        return
    command = rest[0]
    if command in commands:
        # A command of a group (`key rotate`) has options of its own.
        below = [w for w in rest[1:2] if not placeholder(w)]
        shown = helped(command) + (helped(command, *below) if below else "")
        accepted = set(re.findall(r"--[a-z][a-z-]*", shown)) | GLOBAL_OPTIONS
        assert set(options) <= accepted, span
        # Placed as the line places them, every option is taken (--help is looked at first).
        parsed = asked_for_help(*words)
        assert parsed.returncode == 0, f"{span}\n{parsed.stderr}"
        return
    path = menu_path(rest)
    assert path, f"{span}: no such command or menu: {command}"
    assert set(options) <= GLOBAL_OPTIONS, span
    text = helped(*path)
    after = rest[len(path) :]
    if not after or placeholder(after[0]):
        return
    verb, *arguments = after
    assert verb in listed(text, "Verbs:"), f"{span}: {verb} is not a verb of {' '.join(path)}"
    properties = set(re.findall(r"^  ([a-z][a-z0-9-]*)  ", text, re.M))
    for argument in arguments:
        name, equals, _ = argument.partition("=")
        if equals:
            assert name in properties, f"{span}: {name} is not a property of {' '.join(path)}"
