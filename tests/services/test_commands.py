"""The menus through the services, on SQLite and PostgreSQL: the manual's configuration example,
defaults, and the rule that a bad value changes nothing."""

from __future__ import annotations

import pytest

from userman.core.errors import (
    ConflictError,
    InvalidValueError,
    NotFoundError,
    UnknownPropertyError,
)
from userman.services import Actor, Userman

ROOT = Actor.superuser()


def run(app: Userman, command: str, *positional: str, **args: str) -> list[dict[str, object]]:
    *path, verb = command.split()
    outcome = app.execute(ROOT, tuple(path), verb, positional, args)
    return [item.json for item in outcome.items]


def printed(app: Userman, menu: str) -> list[dict[str, object]]:
    return run(app, f"{menu} print")


def manual_example(app: Userman) -> None:
    """The manual's "Configuration Examples", server side, as written there."""
    run(app, "customer set", "admin", password="adminpassword")
    run(
        app,
        "customer set",
        "admin",
        access="own-routers,own-users,own-profiles,own-limits,config-payment-gw",
    )
    run(app, "profile add", name="profile1")
    run(
        app,
        "router add",
        customer="admin",
        **{"ip-address": "127.0.0.1", "log": "auth-fail", "name": "router1"},
        **{"shared-secret": "12345"},
    )
    run(
        app,
        "user add",
        customer="admin",
        disabled="no",
        password="test",
        username="test",
        **{"shared-users": "1"},
    )
    run(app, "user create-and-activate-profile", "test", customer="admin", profile="profile1")


def test_first_start_has_the_default_customer_admin(app: Userman) -> None:
    # Manual: "A default Customer with login admin and empty password is created".
    [admin] = printed(app, "customer")
    assert admin["login"] == "admin"
    assert admin["permissions"] == "owner"
    assert admin["backup-allowed"] is True
    assert admin["currency"] == "USD"
    assert "password" not in admin  # stored as an argon2 hash, never shown
    assert admin["public-id"]


def test_prepare_twice_keeps_one_admin(app: Userman) -> None:
    app.prepare()
    assert len(printed(app, "customer")) == 1


def test_manual_configuration_example(app: Userman) -> None:
    manual_example(app)
    [router] = printed(app, "router")
    assert router["name"] == "router1"
    assert router["customer"] == "admin"
    assert router["ip-address"] == "127.0.0.1"
    assert router["log"] == "auth-fail"
    assert "shared-secret" not in router  # only with show-sensitive
    [shown] = [i.json for i in app.execute(ROOT, ("router",), "print", ("show-sensitive",)).items]
    assert shown["shared-secret"] == "12345"
    [user] = printed(app, "user")
    assert user["username"] == "test"
    assert user["shared-users"] == 1
    assert user["disabled"] is False
    [profile] = printed(app, "profile")
    assert profile["name"] == "profile1"
    assert profile["starts-at"] == "logon"
    assert profile["owner"] == "admin"
    [admin] = printed(app, "customer")
    assert admin["access"] == "own-routers,own-users,own-profiles,own-limits,config-payment-gw"


@pytest.mark.parametrize(
    ("command", "args", "error", "prop"),
    [
        ("user add", {"username": "u", "shared-users": "many"}, InvalidValueError, "shared-users"),
        ("user add", {"username": "u", "colour": "red"}, UnknownPropertyError, "colour"),
        ("user add", {"username": "u", "customer": "nobody"}, NotFoundError, None),
        ("router add", {"name": "r", "ip-address": "10.0.0.300"}, InvalidValueError, "ip-address"),
        ("router add", {"name": "r", "log": "auth-fail,bogus"}, InvalidValueError, "log"),
        ("router add", {"name": "r"}, InvalidValueError, "ip-address"),
        ("profile add", {"name": "p", "validity": "1x"}, InvalidValueError, "validity"),
        ("profile add", {"name": "p", "starts-at": "later"}, InvalidValueError, "starts-at"),
        ("customer add", {"login": "c", "permissions": "all"}, InvalidValueError, "permissions"),
        ("user add", {"password": "x"}, InvalidValueError, "username"),
    ],
)
def test_a_bad_value_names_the_property_and_changes_nothing(
    app: Userman, command: str, args: dict[str, str], error: type[Exception], prop: str | None
) -> None:
    menu = command.split(maxsplit=1)[0]
    before = printed(app, menu)
    with pytest.raises(error) as raised:
        run(app, command, **args)
    if prop is not None:
        assert str(raised.value).startswith(f"{prop}: ")
    assert printed(app, menu) == before


def test_names_are_unique_within_a_subscriber(app: Userman) -> None:
    run(app, "profile add", name="p1")
    with pytest.raises(ConflictError):
        run(app, "profile add", name="p1")
    run(app, "router add", name="r1", **{"ip-address": "192.0.2.1"})
    with pytest.raises(ConflictError):  # requests are matched to routers by address
        run(app, "router add", name="r2", **{"ip-address": "192.0.2.1"})


def test_set_and_remove_by_name_and_id(app: Userman) -> None:
    run(app, "user add", username="a", password="x")
    [user] = printed(app, "user")
    run(app, "user set", str(user[".id"]), disabled="yes")
    assert printed(app, "user")[0]["disabled"] is True
    run(app, "user remove", "a")
    assert printed(app, "user") == []
    with pytest.raises(NotFoundError):
        run(app, "user remove", "a")


def test_a_second_subscriber_makes_the_customer_required(app: Userman) -> None:
    run(app, "customer add", login="isp2", password="pw")
    with pytest.raises(InvalidValueError, match="customer"):
        run(app, "profile add", name="p")
    run(app, "profile add", name="p", owner="isp2")
    run(app, "profile add", name="p", owner="admin")  # the same name in another domain
    assert sorted(str(p["owner"]) for p in printed(app, "profile")) == ["admin", "isp2"]


def test_a_sub_customer_lives_in_its_parents_subscriber(app: Userman) -> None:
    run(app, "customer add", login="helper", parent="admin", permissions="read-only")
    with pytest.raises(InvalidValueError, match="parent"):
        run(app, "customer add", login="orphan", permissions="read-only")
    logins = {c["login"]: c for c in printed(app, "customer")}
    assert logins["helper"]["parent"] == "admin"


def test_an_item_moves_only_within_its_subscriber(app: Userman) -> None:
    run(app, "customer add", login="isp2")
    run(app, "customer add", login="clerk", parent="admin", permissions="read-write")
    run(app, "user add", username="a", customer="admin")
    run(app, "user set", "a", customer="clerk")
    assert printed(app, "user")[0]["customer"] == "clerk"
    with pytest.raises(InvalidValueError, match="no customer"):  # not in its subscriber
        run(app, "user set", "a", customer="isp2")
    with pytest.raises(InvalidValueError, match="under itself"):
        run(app, "customer set", "admin", parent="clerk")


def test_an_item_in_use_cannot_be_removed(app: Userman) -> None:
    manual_example(app)
    with pytest.raises(ConflictError, match="in use"):
        run(app, "profile remove", "profile1")
    with pytest.raises(ConflictError, match="in use"):
        run(app, "customer remove", "admin")
    assert len(printed(app, "profile")) == 1
    run(app, "user remove", "test")  # its profile queue goes with it
    run(app, "profile remove", "profile1")


def test_a_subscriber_with_history_can_be_removed(app: Userman) -> None:
    run(app, "customer add", login="isp2")
    run(app, "profile add", name="p", owner="isp2")
    run(app, "profile remove", "p")  # isp2's domain now has history, and nothing else
    run(app, "customer remove", "isp2")
    assert [c["login"] for c in printed(app, "customer")] == ["admin"]
    assert any("UMS profile p removed" in str(e["action"]) for e in printed(app, "history"))
