"""The generic verbs on every menu, and the special ones: add-batch-users, close-session,
database save and load. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from userman.core.errors import (
    ConflictError,
    InvalidValueError,
    NotFoundError,
    PermissionDeniedError,
    UnknownPropertyError,
)
from userman.services import Actor, Outcome, Userman
from userman.store import models

ROOT = Actor.superuser()


def run(app: Userman, command: str, *positional: str, **args: str) -> Outcome:
    *path, verb = command.split()
    return app.execute(ROOT, tuple(path), verb, positional, args)


def shown(app: Userman, menu: str, *options: str) -> list[dict[str, object]]:
    return [item.json for item in run(app, f"{menu} print", *options).items]


def test_print_where_count_only_and_find(app: Userman) -> None:
    for name, validity in (("p1", "1d"), ("p2", "2d"), ("x3", "1d")):
        run(app, "profile add", name=name, validity=validity)
    outcome = app.execute(ROOT, ("profile",), "print", ("where",), {"validity": "1d"})
    assert [i.json["name"] for i in outcome.items] == ["p1", "x3"]
    assert outcome.numbers == (0, 2)  # the numbers print gives them
    regex = app.execute(ROOT, ("profile",), "print", ("where", "name~^p"))
    assert [i.json["name"] for i in regex.items] == ["p1", "p2"]
    assert run(app, "profile print", "count-only").count == 3
    counted = app.execute(ROOT, ("profile",), "print", ("count-only", "where", "name~x"))
    assert counted.count == 1
    found = app.execute(ROOT, ("profile",), "find", (), {"validity": "2d"})
    assert found.numbers == (1,)
    with pytest.raises(UnknownPropertyError):
        app.execute(ROOT, ("profile",), "print", ("where",), {"colour": "red"})
    with pytest.raises(InvalidValueError, match="regular expression"):
        app.execute(ROOT, ("profile",), "print", ("where", "name~("))


# `print where PROP~REGEX` runs a tenant's pattern on tenant-written text: with a backtracking
# matcher, `^(a+)+$` on a 26-character comment froze the process (RADIUS too) for 4.3 s.
PATHOLOGICAL = {"^(a+)+$": 0, "(a|aa)+$": 0, "(.*a){20}": 1, "^a{990}": 1}
LONG_COMMENTS = ("a" * 990 + "!", "b" * 999)  # comments hold at most 1,000 characters


def test_where_patterns_answer_in_linear_time(app: Userman, prepared_db_url: str) -> None:
    """The verb's own matching, in a child process so that a regression fails, not hangs."""
    for number, comment in enumerate(LONG_COMMENTS):
        run(app, "user add", username=f"long{number}", comment=comment)
    script = (
        "import json, sys\n"
        "from userman.services import Actor, Userman\n"
        "app = Userman(sys.argv[1])\n"
        "counts = {p: app.execute(Actor.superuser(), ('user',), 'print',\n"
        "          ('count-only', 'where', f'comment~{p}')).count for p in sys.argv[2:]}\n"
        "app.close()\n"
        "print(json.dumps(counts))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, prepared_db_url, *PATHOLOGICAL],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == PATHOLOGICAL


@pytest.mark.parametrize(
    ("condition", "why"),
    [
        (r"comment~^(a)\1$", "a backreference"),
        ("username~a(?=b)", "lookahead and lookbehind"),
        ("username~(?<!a)b", "lookahead and lookbehind"),
        ("comment~" + "a" * 1001, "at most 1000 characters"),
    ],
)
def test_where_refuses_what_needs_backtracking_naming_the_property(
    app: Userman, condition: str, why: str
) -> None:
    for verb in ("print", "find"):
        with pytest.raises(InvalidValueError) as refused:
            app.execute(ROOT, ("user",), verb, ("where", condition))
        assert refused.value.prop == condition.partition("~")[0]
        assert why in refused.value.reason


def test_items_by_number_and_lists_of_numbers(app: Userman) -> None:
    for name in ("a", "b", "c"):
        run(app, "user add", username=name)
    run(app, "user disable", "0,2")
    assert [u["disabled"] for u in shown(app, "user")] == [True, False, True]
    run(app, "user enable", "*" + str(shown(app, "user")[2][".id"])[1:])
    assert [u["disabled"] for u in shown(app, "user")] == [True, False, False]
    run(app, "user remove", "1")
    assert [u["username"] for u in shown(app, "user")] == ["a", "c"]
    with pytest.raises(NotFoundError):
        run(app, "user set", "7", comment="x")


def test_copy_from_starts_from_another_item(app: Userman) -> None:
    run(app, "profile limitation add", name="l1", **{"rate-limit-rx": "512k", "uptime-limit": "1h"})
    run(app, "profile limitation add", name="l2", **{"copy-from": "l1", "uptime-limit": "2h"})
    l1, l2 = shown(app, "profile limitation")
    assert l2["rate-limit-rx"] == l1["rate-limit-rx"] == 512000
    assert l2["uptime-limit"] == "2h"
    assert l2["name"] == "l2"


def test_copy_from_makes_a_new_public_id(app: Userman) -> None:
    run(
        app, "customer add", login="shop", parent="admin", company="Shop", **{"time-zone": "+02:00"}
    )
    run(app, "customer add", login="shop2", parent="admin", **{"copy-from": "shop"})
    shop, shop2 = shown(app, "customer")[1:]
    assert (shop2["company"], shop2["time-zone"], shop2["parent"]) == ("Shop", "+02:00", "admin")
    assert shop2["public-id"]
    assert shop2["public-id"] != shop["public-id"]


def test_v7_names_are_accepted(app: Userman) -> None:
    app.execute(ROOT, ("user",), "add", (), {"name": "v7user", "password": "p"})
    app.execute(ROOT, ("router",), "add", (), {"name": "r", "address": "10.0.0.1"})
    app.execute(ROOT, ("profile",), "add", (), {"name": "p", "starts-when": "assigned"})
    app.execute(ROOT, ("limitation",), "add", (), {"name": "l"})
    app.execute(ROOT, ("profile-limitation",), "add", (), {"profile": "p", "limitation": "l"})
    app.execute(ROOT, ("user-profile",), "add", (), {"user": "v7user", "profile": "p"})
    assert shown(app, "user")[0]["username"] == "v7user"
    assert shown(app, "router")[0]["ip-address"] == "10.0.0.1"
    assert shown(app, "profile")[0]["starts-at"] == "now"
    [window] = shown(app, "profile profile-limitation")
    assert (window["profile"], window["limitation"], window["till-time"]) == ("p", "l", "23:59:59")
    [queued] = shown(app, "user-profile")
    # starts-when=assigned: the profile runs from the moment it is added.
    assert (queued["user"], queued["profile"], queued["state"]) == ("v7user", "p", "running")


@pytest.mark.parametrize("written", ["unlimited", "0s", "UNLIMITED", "0"])
def test_validity_unlimited_and_0s_both_mean_no_end(app: Userman, written: str) -> None:
    """v7 writes `validity=unlimited` (its default), legacy exports `validity=0s` (the research
    notes, 5: "validity=0s = unlimited"): both are a profile valid without end, which print
    shows as v7 does, and export leaves out as the default."""
    run(app, "profile add", name="open", validity=written, **{"starts-at": "now"})
    run(app, "profile add", name="day", validity="1d")
    assert [p["validity"] for p in shown(app, "profile")] == ["unlimited", "1d"]
    found = app.execute(ROOT, ("profile",), "print", ("where",), {"validity": "0s"})
    assert [i.json["name"] for i in found.items] == ["open"]
    run(app, "user add", username="u")
    run(app, "user create-and-activate-profile", "u", profile="open")
    [entry] = shown(app, "user-profile")
    assert (entry["state"], entry["end-time"]) == ("running", "")  # runs without end
    exported = [dict(line.args) for line in run(app, "profile export").exported]
    assert ["validity" in line for line in exported] == [False, True]
    run(app, "profile set", "day", validity="unlimited")
    assert shown(app, "profile")[1]["validity"] == "unlimited"
    with pytest.raises(InvalidValueError, match="validity"):
        run(app, "profile set", "day", validity="forever")


def test_group_default_is_v7s_built_in_group(app: Userman) -> None:
    """v7 makes a user group `default` (every method, no attributes) and puts a user in it
    unless told otherwise (research notes 2.11, 2.12): here that is a user without a group, so
    `group=default` means none, until the subscriber has a group of that name."""
    run(app, "user add", username="a", group="default")
    run(app, "user add-batch-users", **{"number-of-users": "1", "group": "default"})
    assert [u["group"] for u in shown(app, "user")] == ["", ""]
    with pytest.raises(InvalidValueError, match='group: no user group "nogroup"'):
        run(app, "user add", username="b", group="nogroup")
    run(app, "user group add", name="default", attributes="Framed-Pool:v7")
    run(app, "user set", "a", group="default")
    assert shown(app, "user")[0]["group"] == "default"  # the group of that name, now
    run(app, "user set", "a", group="")
    assert shown(app, "user")[0]["group"] == ""


def test_add_batch_users_makes_distinct_users_with_their_profile(app: Userman) -> None:
    run(app, "profile add", name="voucher", validity="1d", **{"starts-at": "now"})
    seen: list[tuple[int, int]] = []
    outcome = app.execute(
        ROOT,
        ("user",),
        "add-batch-users",
        (),
        {
            "number-of-users": "25",
            "username-prefix": "hs-",
            "username-length": "5",
            "password-length": "8",
            "characters": "numbers",
            "profile": "voucher",
            "shared-users": "1",
        },
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[-1] == (25, 25)
    users = shown(app, "user", "show-sensitive")
    names = {str(u["username"]) for u in users}
    assert len(names) == 25
    assert all(re.fullmatch(r"hs-\d{5}", name) for name in names)
    assert all(re.fullmatch(r"\d{8}", str(u["password"])) for u in users)
    assert all(u["shared-users"] == 1 and u["actual-profile"] == "voucher" for u in users)
    assert len(outcome.items) == 25
    assert all("password" in item.json for item in outcome.items)  # for the vouchers


@pytest.mark.parametrize(
    ("args", "prop"),
    [
        ({"number-of-users": "0"}, "number-of-users"),
        ({"number-of-users": "3", "characters": "symbols"}, "characters"),
        ({"number-of-users": "3", "profile": "nothing"}, None),
        ({"number-of-users": "500", "username-length": "1"}, "username-length"),
        ({"number-of-users": "3", "colour": "red"}, "colour"),
    ],
)
def test_add_batch_users_refuses_bad_arguments(
    app: Userman, args: dict[str, str], prop: str | None
) -> None:
    with pytest.raises((InvalidValueError, UnknownPropertyError, NotFoundError)) as raised:
        app.execute(ROOT, ("user",), "add-batch-users", (), args)
    if prop is not None:
        assert str(raised.value).startswith(prop)
    assert shown(app, "user") == []


def add_session(app: Userman, acct_session_id: str, *, active: bool = True) -> None:
    now = dt.datetime.now(dt.UTC)
    with app.database.begin() as db:
        db.add(
            models.UserSession(
                subscriber_id=1,
                customer_id=1,
                username="test",
                acct_session_id=acct_session_id,
                from_time=now,
                till_time=now,
                active=active,
            )
        )


def test_close_session_ends_open_sessions(app: Userman) -> None:
    add_session(app, "s1")
    add_session(app, "s2")
    outcome = run(app, "session close-session", "0")
    assert outcome.count == 1
    first, second = shown(app, "session")
    assert first["active"] is False
    assert first["terminate-cause"] == "um-admin-request"
    assert second["active"] is True
    assert run(app, "session close-session", "0").count == 0  # already closed


def test_database_save_and_load_restore_a_subscriber(app: Userman, tmp_path: Path) -> None:
    run(app, "profile add", name="p1")
    run(app, "router add", name="r1", **{"ip-address": "10.0.0.1", "shared-secret": "s"})
    run(app, "user add", username="u1", password="pw")
    run(app, "user create-and-activate-profile", "u1", profile="p1")
    add_session(app, "s1")
    before = {menu: shown(app, menu, "show-sensitive") for menu in ("profile", "router", "user")}
    backup = tmp_path / "monday"
    saved = run(app, "database save", name=str(backup))
    assert (tmp_path / "monday.umb").exists()
    assert saved.count is not None
    assert saved.count > 5
    with pytest.raises(InvalidValueError, match="exists"):
        run(app, "database save", name=str(backup))
    run(app, "user remove", "u1")
    run(app, "profile add", name="p2")
    run(app, "database load", name=str(backup))
    after = {menu: shown(app, menu, "show-sensitive") for menu in ("profile", "router", "user")}

    def without_ids(rows: dict[str, list[dict[str, object]]]) -> dict[str, list[object]]:
        return {m: [{k: v for k, v in r.items() if k != ".id"} for r in v] for m, v in rows.items()}

    assert without_ids(after) == without_ids(before)
    assert len(shown(app, "session")) == 1
    assert [u["actual-profile"] for u in after["user"]] == [""]  # waiting for its logon
    assert len(shown(app, "user-profile")) == 1


def test_backups_need_backup_allowed_and_stay_within_a_subscriber(
    app: Userman, tmp_path: Path
) -> None:
    app.backup_dir = tmp_path
    run(app, "customer add", login="isp2", password="x")
    run(app, "customer set", "admin", **{"backup-allowed": "no"})
    admin, isp2 = app.actor("admin"), app.actor("isp2")
    with pytest.raises(PermissionDeniedError, match="backup-allowed"):
        app.execute(admin, ("database",), "save", (), {"name": "a"})
    app.execute(isp2, ("database",), "save", (), {"name": "b"})
    [isp2_backup] = tmp_path.rglob("b.umb")
    assert isp2_backup.parent.parent == tmp_path  # <backup dir>/<public-id>/b.umb
    run(app, "database save", name="all")
    assert (tmp_path / "all.umb").exists()
    run(app, "customer set", "admin", **{"backup-allowed": "yes"})
    admin = app.actor("admin")
    with pytest.raises(PermissionDeniedError, match="by its path"):
        app.execute(admin, ("database",), "save", (), {"name": str(tmp_path / "x")})
    with pytest.raises(PermissionDeniedError, match="by its path"):
        app.execute(admin, ("database",), "load", (), {"name": "../b"})
    public_id = next(c["public-id"] for c in shown(app, "customer") if c["login"] == "admin")
    (tmp_path / str(public_id)).mkdir()
    (tmp_path / str(public_id) / "b.umb").write_bytes(isp2_backup.read_bytes())
    with pytest.raises(PermissionDeniedError, match="another subscriber"):
        app.execute(admin, ("database",), "load", (), {"name": "b"})
    (tmp_path / "junk.umb").write_text("{}")
    with pytest.raises(InvalidValueError, match="not a userman backup"):
        run(app, "database load", name=str(tmp_path / "junk"))


def test_a_backup_whose_login_another_subscriber_took_since_does_not_load(
    app: Userman, tmp_path: Path
) -> None:
    # A login is the installation's: a customer of the backup whose login another subscriber
    # has taken since it was saved stops the load, which changes nothing and says not whose.
    app.backup_dir = tmp_path
    run(app, "customer add", login="isp2", password="x")
    run(app, "customer add", login="bob", parent="admin", permissions="read-only")
    admin = app.actor("admin")
    app.execute(admin, ("database",), "save", (), {"name": "before"})
    run(app, "customer set", "bob", login="robert")
    run(app, "customer add", login="bob", parent="isp2", permissions="read-only")
    customers = shown(app, "customer")
    with pytest.raises(ConflictError) as refused:
        app.execute(admin, ("database",), "load", (), {"name": "before"})
    assert str(refused.value) == (
        'login: "bob" is taken: no two items may share it; the backup was not loaded'
    )
    assert shown(app, "customer") == customers
    run(app, "customer set", "bob", login="bobby")
    app.execute(admin, ("database",), "load", (), {"name": "before"})
    assert sorted(str(c["login"]) for c in shown(app, "customer")) == [
        "admin",
        "bob",
        "bobby",
        "isp2",
    ]


def test_random_password_generates_one(app: Userman) -> None:
    # The manual: random-password "Randomly generates password for a user."
    run(app, "user add", username="r", **{"random-password": "yes"})
    run(app, "user add", username="s", password="given", **{"random-password": "no"})
    r, s = shown(app, "user", "show-sensitive")
    assert re.fullmatch(r"[a-z2-9]{8}", str(r["password"]))
    assert s["password"] == "given"
    before = r["password"]
    run(app, "user set", "r", **{"random-password": "yes"})
    assert shown(app, "user", "show-sensitive")[0]["password"] != before
    with pytest.raises(InvalidValueError, match="random-password"):
        run(app, "user add", username="t", password="x", **{"random-password": "yes"})


def test_custom_attribute_names_must_be_known(app: Userman) -> None:
    run(app, "profile add", name="p", attributes="Idle-Timeout:60,Mikrotik-Group:gold")
    with pytest.raises(InvalidValueError, match="Acme-Tier"):
        run(app, "profile set", "p", attributes="Acme-Tier:3")
    run(app, "attribute add", name="Acme-Tier", **{"vendor-id": "9999", "type-id": "7"})
    run(app, "profile set", "p", attributes="Acme-Tier:3")


def test_a_profile_limitation_needs_both_its_profile_and_its_limitation(app: Userman) -> None:
    run(app, "profile add", name="p")
    with pytest.raises(InvalidValueError, match=r"^limitation: required"):
        run(app, "profile profile-limitation add", profile="p")
    with pytest.raises(InvalidValueError, match=r"^profile: required"):
        run(app, "profile profile-limitation add")
    assert shown(app, "profile profile-limitation") == []
