"""The RouterOS command language: words, escapes, menu paths of both generations, scripts.

Lines marked "manual" are from the configuration example in mikrotik-user-manager.txt.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from userman.cli import syntax
from userman.cli.syntax import (
    Command,
    CommandSyntaxError,
    Navigate,
    Word,
    parse_argv,
    parse_argv_command,
    parse_command,
    parse_line,
    parse_script,
    quote_value,
    split_words,
)
from userman.core.errors import UsermanError

MENUS = frozenset(
    {
        ("customer",),
        ("user",),
        ("profile",),
        ("profile", "limitation"),
        ("profile", "profile-limitation"),
        ("limitation",),
        ("profile-limitation",),
        ("router",),
        ("session",),
        ("log",),
        ("history",),
        ("database",),
    }
)


def values(line: str) -> list[tuple[str | None, str]]:
    return [(w.name, w.value) for w in split_words(line)]


def test_all_is_pinned() -> None:
    assert sorted(syntax.__all__) == [
        "Command",
        "CommandSyntaxError",
        "ForeignMenuError",
        "Navigate",
        "Word",
        "parse_args",
        "parse_argv",
        "parse_argv_command",
        "parse_command",
        "parse_line",
        "parse_script",
        "quote_value",
        "split_words",
    ]


def test_error_is_a_userman_error_with_position() -> None:
    err = CommandSyntaxError("bad", 3, 7, "add x")
    assert isinstance(err, UsermanError)
    assert (err.message, err.line, err.column, err.text) == ("bad", 3, 7, "add x")
    assert str(err) == "line 3, column 7: bad"


# -- words -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("add name=x", [(None, "add"), ("name", "x")]),
        (
            'add name="quoted value with spaces"',
            [(None, "add"), ("name", "quoted value with spaces")],
        ),
        ('set comment=""', [(None, "set"), ("comment", "")]),
        ("set comment=", [(None, "set"), ("comment", "")]),
        ('set x="a\\"b"', [(None, "set"), ("x", 'a"b')]),
        ('set x="a\\\\b"', [(None, "set"), ("x", "a\\b")]),
        ('set x="1\\n2\\t3\\r"', [(None, "set"), ("x", "1\n2\t3\r")]),
        ('set x="a\\_b"', [(None, "set"), ("x", "a b")]),
        ("set x=a\\_b", [(None, "set"), ("x", "a b")]),
        ('set x="\\?\\$"', [(None, "set"), ("x", "?$")]),
        ('set x="\\41\\42"', [(None, "set"), ("x", "AB")]),
        ('set x="\\D0\\90"', [(None, "set"), ("x", "\u0410")]),  # UTF-8 bytes, as v6 exports them
        ('set x="\\a\\b\\f\\v"', [(None, "set"), ("x", "\a\b\f\v")]),
        ('set x="caf\u00e9"', [(None, "set"), ("x", "caf\u00e9")]),
        ('set x=ab"c d"e', [(None, "set"), ("x", "abc de")]),
        ("set comment=a=b", [(None, "set"), ("comment", "a=b")]),
        ('"a=b"', [(None, "a=b")]),
        ("set x=a#b", [(None, "set"), ("x", "a#b")]),
        ("  add   a=1\tb=2  ", [(None, "add"), ("a", "1"), ("b", "2")]),
        ("add .id=*1", [(None, "add"), (".id", "*1")]),
        ("add x=10.0.0.0/24", [(None, "add"), ("x", "10.0.0.0/24")]),
        ("add x=y\n", [(None, "add"), ("x", "y")]),
        ("", []),
        ("   ", []),
        ("# a comment", []),
        ("  # a comment with name=x", []),
    ],
)
def test_split_words(line: str, expected: list[tuple[str | None, str]]) -> None:
    assert values(line) == expected


def test_words_know_where_they_start_and_whether_they_are_bare() -> None:
    assert split_words('add  name="x y" z') == [
        Word(None, "add", 1, 1, bare=True),
        Word("name", "x y", 1, 6, bare=False),
        Word(None, "z", 1, 17, bare=True),
    ]


@pytest.mark.parametrize(
    ("line", "column", "message"),
    [
        ('add name="open', 10, "this quote is never closed"),
        ("set [find name=x] a=b", 5, "[find ...]"),
        ("set x=a]", 8, "unexpected ']'"),
        ("add x=$y", 7, "variables"),
        ('add x="a$y"', 9, "variables"),
        ("if {", 4, "blocks"),
        ("add =x", 5, "property name is missing"),
        ("add a b:c=d", 7, "'b:c' is not a property name"),
        ('add x="\\q"', 8, "unknown escape '\\q'"),
        ('add x="\\4"', 8, "unknown escape"),
        ('add x="\\4g"', 8, "unknown escape"),
        ("add x=\\", 7, "ends with '\\'"),
        ("add x=1; print", 8, "';' starts another command"),
        ("add x=1\nprint", 8, "a new line starts another command"),
        ('add x="\\FF"', 5, "not UTF-8"),
    ],
)
def test_split_words_errors_name_the_column(line: str, column: int, message: str) -> None:
    with pytest.raises(CommandSyntaxError) as info:
        split_words(line)
    assert (info.value.line, info.value.column) == (1, column)
    assert message in info.value.message
    assert info.value.text == line.split("\n", maxsplit=1)[0]


# -- quote_value -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("test", "test"),
        ("10.0.0.2", "10.0.0.2"),
        ("own-routers,own-users", "own-routers,own-users"),
        ("", '""'),
        ("a b", '"a b"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("c:\\x", '"c:\\\\x"'),
        ("$5?", '"\\$5\\?"'),
        ("a\nb\tc", '"a\\nb\\tc"'),
        ("\x00\x7f", '"\\00\\7F"'),
        ("caf\u00e9", '"caf\u00e9"'),
        ("a=b", '"a=b"'),
        ("#x", '"#x"'),
        ("[find]", '"[find]"'),
    ],
)
def test_quote_value(value: str, quoted: str) -> None:
    assert quote_value(value) == quoted


@given(st.text(st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S", "Zs"])))
def test_quoted_printable_values_read_back(value: str) -> None:
    assert split_words(f"set comment={quote_value(value)}") == [
        Word(None, "set", 1, 1),
        Word("comment", value, 1, 5, bare=quote_value(value) == value and value != ""),
    ]


@given(st.text(st.characters(codec="utf-8")))
def test_any_quoted_value_reads_back_also_positionally(value: str) -> None:
    words = split_words(f"set {quote_value(value)} x={quote_value(value)}")
    assert [(w.name, w.value) for w in words] == [(None, "set"), (None, value), ("x", value)]


@given(st.text(max_size=30))
def test_split_words_raises_only_its_own_error(line: str) -> None:
    try:
        split_words(line)
    except CommandSyntaxError as err:
        column = err.column
    else:
        return
    assert 1 <= column <= len(line) + 1


# -- argv ------------------------------------------------------------------------------------


def test_parse_argv() -> None:
    assert parse_argv(["admin", "password=x"]) == (("admin",), {"password": "x"})
    assert parse_argv(["comment=a b=c", "name="]) == ((), {"comment": "a b=c", "name": ""})
    assert parse_argv([]) == ((), {})


@pytest.mark.parametrize(
    ("argv", "column", "message"),
    [
        (["add", "=x"], 5, "property name is missing"),
        (["add", "a b=c"], 5, "'a b' is not a property name"),
        (["add", "a=1", "a=2"], 9, "a is given more than once"),
    ],
)
def test_parse_argv_errors(argv: list[str], column: int, message: str) -> None:
    with pytest.raises(CommandSyntaxError) as info:
        parse_argv(argv)
    assert info.value.column == column
    assert message in info.value.message
    assert info.value.text == " ".join(argv)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["user", "add", "username=test", "password=test"],
            Command(("user",), "add", (), {"username": "test", "password": "test"}),
        ),
        (
            ["customer", "set", "admin", "password=x"],
            Command(("customer",), "set", ("admin",), {"password": "x"}),
        ),
        (["session", "print"], Command(("session",), "print")),
        (
            ["profile", "limitation", "add", "name=x", "comment=two words"],
            Command(("profile", "limitation"), "add", (), {"name": "x", "comment": "two words"}),
        ),
    ],
)
def test_parse_argv_command(argv: list[str], expected: Command) -> None:
    assert parse_argv_command(argv, menus=MENUS) == expected


@pytest.mark.parametrize("argv", [[], ["user"], ["profile", "limitation"]])
def test_parse_argv_command_needs_a_verb(argv: list[str]) -> None:
    with pytest.raises(CommandSyntaxError, match="no command given"):
        parse_argv_command(argv, menus=MENUS)


# -- commands --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "menu_path", "expected"),
    [
        # the manual's configuration example
        (
            "/tool user-manager customer set admin password=adminpassword",
            (),
            Command(("customer",), "set", ("admin",), {"password": "adminpassword"}),
        ),
        (
            "set admin access=own-routers,own-users,own-profiles,own-limits,config-payment-gw",
            ("customer",),
            Command(
                ("customer",),
                "set",
                ("admin",),
                {"access": "own-routers,own-users,own-profiles,own-limits,config-payment-gw"},
            ),
        ),
        ("add name=profile1", ("profile",), Command(("profile",), "add", (), {"name": "profile1"})),
        (
            "add customer=admin ip-address=10.0.0.2 log=auth-fail name=router1 shared-secret=12345",
            ("router",),
            Command(
                ("router",),
                "add",
                (),
                {
                    "customer": "admin",
                    "ip-address": "10.0.0.2",
                    "log": "auth-fail",
                    "name": "router1",
                    "shared-secret": "12345",
                },
            ),
        ),
        (
            "user create-and-activate-profile test customer=admin profile=profile1",
            (),
            Command(
                ("user",),
                "create-and-activate-profile",
                ("test",),
                {"customer": "admin", "profile": "profile1"},
            ),
        ),
        ("tool user-manager log print", (), Command(("log",), "print")),
        ("print", ("history",), Command(("history",), "print")),
        # paths of both generations, relative and absolute
        (
            "/user-manager user add name=a",
            ("router",),
            Command(("user",), "add", (), {"name": "a"}),
        ),
        ("/user-manager/user/add name=a", (), Command(("user",), "add", (), {"name": "a"})),
        ("/tool/user-manager/user add name=a", (), Command(("user",), "add", (), {"name": "a"})),
        (
            "profile limitation add name=x",
            (),
            Command(("profile", "limitation"), "add", (), {"name": "x"}),
        ),
        (
            "limitation add name=x",
            ("profile",),
            Command(("profile", "limitation"), "add", (), {"name": "x"}),
        ),
        ("limitation add name=x", (), Command(("limitation",), "add", (), {"name": "x"})),
        ("../router print", ("user",), Command(("router",), "print")),
        (".. router print", ("user",), Command(("router",), "print")),
        ("/user-manager set enabled=yes", ("user",), Command((), "set", (), {"enabled": "yes"})),
        ("remove 10.0.0.0/24", ("router",), Command(("router",), "remove", ("10.0.0.0/24",))),
        ('set "admin"', ("customer",), Command(("customer",), "set", ("admin",))),
    ],
)
def test_parse_command(line: str, menu_path: tuple[str, ...], expected: Command) -> None:
    assert parse_command(line, menu_path, menus=MENUS) == expected


def test_command_args_are_read_only_and_ordered() -> None:
    command = parse_command("add b=2 a=1", ("user",), menus=MENUS)
    assert list(command.args) == ["b", "a"]
    with pytest.raises(TypeError):
        command.args["c"] = "3"  # type: ignore[index]
    assert hash(command) == hash(Command(("user",), "add", (), {"a": "1", "b": "2"}))


@pytest.mark.parametrize(
    ("line", "menu_path", "expected"),
    [
        ("/tool user-manager user", (), Navigate(("user",))),
        ("/user-manager/profile/limitation", (), Navigate(("profile", "limitation"))),
        ("/tool user-manager", ("user",), Navigate(())),
        ("/", ("user",), Navigate(())),
        ("..", ("profile", "limitation"), Navigate(("profile",))),
        ("..", (), Navigate(())),
        ("limitation", ("profile",), Navigate(("profile", "limitation"))),
        ("", (), None),
        ("# comment", (), None),
    ],
)
def test_parse_line(
    line: str, menu_path: tuple[str, ...], expected: Command | Navigate | None
) -> None:
    assert parse_line(line, menu_path, menus=MENUS) == expected


@pytest.mark.parametrize(
    ("line", "column", "message"),
    [
        ("/ip pool add name=x", 1, "'/ip pool add' is not a User Manager menu"),
        ("/tool", 1, "not a User Manager menu"),
        (
            "/tool user-manager user name=x",
            25,
            "a command (such as add, set or print) must come before name=",
        ),
        ('user "add"', 6, "must come before 'add'"),
        ("/tool user-manager user", 24, "a menu alone"),
        ("", 1, "no command given"),
        ("/user-manager/user/add/x", 1, "goes past the command 'add'"),
        ("user 0", 6, "'0' is neither a menu nor a command"),
        ("user add name=a name=b", 17, "name is given more than once"),
    ],
)
def test_parse_command_errors(line: str, column: int, message: str) -> None:
    with pytest.raises(CommandSyntaxError) as info:
        parse_command(line, menus=MENUS)
    assert info.value.column == column
    assert message in info.value.message


# -- scripts ---------------------------------------------------------------------------------

LEGACY_EXPORT = """\
# may/23/2019 08:55:43 by RouterOS 6.47.8
# software id = ABCD-1234
#
/tool user-manager database
set db-path=user-manager
/tool user-manager customer
set admin access=\\
    own-routers,own-users,own-profiles,own-limits,config-payment-gw

/tool user-manager profile
add name=profile1 name-for-users="Profile \\
    one" validity=4w2d
/tool user-manager profile limitation
add download-limit=1G name=lim1 rate-limit-rx=512k uptime-limit=1d02:30:00
/tool user-manager router
add customer=admin ip-address=10.0.0.2 log=auth-fail name=router1 shared-secret=12345
/tool user-manager user
add customer=admin disabled=no password=test shared-users=1 username=test
/tool user-manager user create-and-activate-profile test customer=admin profile=profile1
add customer=admin password="p\\\"w" username=test2
"""


def test_legacy_export() -> None:
    commands = parse_script(LEGACY_EXPORT, MENUS)
    assert [(c.path, c.verb, c.line) for c in commands] == [
        (("database",), "set", 5),
        (("customer",), "set", 7),
        (("profile",), "add", 11),
        (("profile", "limitation"), "add", 14),
        (("router",), "add", 16),
        (("user",), "add", 18),
        (("user",), "create-and-activate-profile", 19),
        (("user",), "add", 20),
    ]
    assert commands[1] == Command(
        ("customer",),
        "set",
        ("admin",),
        {"access": "own-routers,own-users,own-profiles,own-limits,config-payment-gw"},
    )
    assert commands[2].args == {
        "name": "profile1",
        "name-for-users": "Profile one",
        "validity": "4w2d",
    }
    assert commands[3].args["uptime-limit"] == "1d02:30:00"
    assert commands[7].args["password"] == 'p"w'


V7_EXPORT = """\
# 2024-01-01 by RouterOS 7.13
/user-manager
set enabled=yes
/user-manager limitation
add download-limit=1G name=lim1 rate-limit-rx=10M uptime-limit=1h
/user-manager profile
add name=profile1 validity=unlimited
/user-manager profile-limitation
add from-time=8h limitation=lim1 profile=profile1 till-time=23h59m59s weekdays=monday,friday
/user-manager user
add name=test password=test shared-users=unlimited
/user-manager/user-profile add profile=profile1 user=test
"""


def test_v7_export() -> None:
    commands = parse_script(V7_EXPORT, MENUS | {("user-profile",)})
    assert [(c.path, c.verb) for c in commands] == [
        ((), "set"),
        (("limitation",), "add"),
        (("profile",), "add"),
        (("profile-limitation",), "add"),
        (("user",), "add"),
        (("user-profile",), "add"),
    ]
    assert commands[3].args["weekdays"] == "monday,friday"


def test_script_with_crlf_semicolons_and_blank_lines() -> None:
    text = (
        "/tool user-manager user\r\n\r\nadd username=a; add username=b\r\n  # indented comment\r\n"
    )
    commands = parse_script(text, MENUS)
    assert [c.args["username"] for c in commands] == ["a", "b"]


FULL_EXPORT = """\
/interface pppoe-client
add add-default-route=yes disabled=no interface=ether2 name=Client1 password=test user=test
/ip pool
add name=pool1 ranges=10.1.0.2-10.1.0.254
/tool user-manager router
add customer=admin ip-address=10.0.0.2 name=router1 shared-secret=12345
/radius add address=10.0.0.1 secret=12345 service=ppp
add customer=admin ip-address=10.0.0.3 name=router2 shared-secret=12345
/ip pool
add name=pool2
/user-manager user add name=x
"""


def test_foreign_sections_are_skipped_when_asked() -> None:
    commands = parse_script(FULL_EXPORT, MENUS, skip_foreign=True)
    assert [(c.path, c.args.get("name")) for c in commands] == [
        (("router",), "router1"),
        (("router",), "router2"),
        (("user",), "x"),
    ]


def test_foreign_sections_are_an_error_by_default() -> None:
    with pytest.raises(CommandSyntaxError) as info:
        parse_script(FULL_EXPORT, MENUS)
    assert (info.value.line, info.value.column) == (1, 1)
    assert info.value.text == "/interface pppoe-client"


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ('/tool user-manager user\nadd name="open\n', 2, 10, "never closed"),
        ("/tool user-manager user\n\nadd x=1 \\\n    y=[find]\n", 4, 7, "[find ...]"),
        ("/tool user-manager user\nadd a=1 \\\n    a=2\n", 3, 5, "a is given more than once"),
        (
            "# header\n/tool user-manager user\n  add name=x nope\n  bad=1\n",
            4,
            3,
            "must come before bad=",
        ),
    ],
)
def test_script_errors_name_line_and_column(
    text: str, line: int, column: int, message: str
) -> None:
    with pytest.raises(CommandSyntaxError) as info:
        parse_script(text, MENUS)
    assert (info.value.line, info.value.column) == (line, column)
    assert message in info.value.message
    assert info.value.text == text.split("\n")[line - 1]


@given(
    st.dictionaries(st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True), st.text(), max_size=5)
)
def test_exported_lines_read_back(args: dict[str, str]) -> None:
    words = " ".join(f"{name}={quote_value(value)}" for name, value in args.items())
    text = f"/tool user-manager user\nadd {words}\n"
    assert parse_script(text, MENUS) == [Command(("user",), "add", (), args)]
