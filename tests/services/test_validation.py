"""Validation through the verbs, on SQLite and PostgreSQL: attribute values checked against their
types when written, *IDs and print numbers beyond any row, backup names, and values stored before
a rule that still read and leave their item changeable (validate on write, not on read)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from userman.core.errors import InvalidValueError, NotFoundError
from userman.services import Actor, Outcome, Userman
from userman.store import models

ROOT = Actor.superuser()


def run(app: Userman, command: str, *positional: str, **args: str) -> Outcome:
    *path, verb = command.split()
    return app.execute(ROOT, tuple(path), verb, positional, args)


def refused(app: Userman, command: str, *positional: str, **args: str) -> InvalidValueError:
    with pytest.raises(InvalidValueError) as caught:
        run(app, command, *positional, **args)
    return caught.value


@pytest.mark.parametrize(
    ("attributes", "why"),
    [
        ("Framed-IP-Address:999.1.1.1", "999.1.1.1"),
        ("Framed-IP-Address:10.0.0.1,Session-Timeout:soon", "soon"),
        ("Session-Timeout:99999999999", "out of range"),
        ("Reply-Message:" + "x" * 254, "at most 253"),
        ("Office-Address:10.0.0.300", "10.0.0.300"),  # the attribute menu's ip-address
        ("Office-Counter:-1", "Office-Counter:-1"),  # uint32
        ("Office-Key:xyz", "not hex"),
    ],
)
def test_an_attribute_value_that_does_not_fit_its_type_is_refused(
    app: Userman, attributes: str, why: str
) -> None:
    run(
        app,
        "attribute add",
        name="Office-Address",
        **{"type-id": "200", "value-type": "ip-address"},
    )
    run(app, "attribute add", name="Office-Counter", **{"type-id": "201", "value-type": "uint32"})
    run(app, "attribute add", name="Office-Key", **{"type-id": "202", "value-type": "hex"})
    for menu, key in (("user", "username"), ("profile", "name"), ("user group", "name")):
        error = refused(app, f"{menu} add", **{key: "x1", "attributes": attributes})
        assert error.prop == "attributes"
        assert why in error.reason
        assert run(app, f"{menu} print").items == ()
    good = "Framed-IP-Address:10.0.0.1,Office-Address:10.1.1.1,Office-Counter:5,Office-Key:0x0a0b"
    run(app, "user add", username="ok", attributes=good)
    assert run(app, "user get", "ok").items[0].json["attributes"] == good


def test_values_stored_before_a_rule_still_read_and_their_item_still_changes(app: Userman) -> None:
    run(app, "user add", username="legacy", attributes="Session-Timeout:60")
    run(app, "profile add", name="p1", price="5")
    with app.database.begin() as db:  # as an older version, or another tool, left them
        db.execute(
            update(models.User).values(
                username="*5", shared_users=0, attributes="Session-Timeout:soon"
            )
        )
        db.execute(update(models.Customer).values(time_zone="Mars/Base"))
    [user] = run(app, "user print").items
    assert (user.json["username"], user.json["shared-users"]) == ("*5", 0)
    assert run(app, "user print", "where", username="*5").items  # found as stored
    run(app, "user set", user.id, comment="still here")  # the bad values are not given
    assert run(app, "user get", user.id).items[0].json["comment"] == "still here"
    run(app, "customer set", "admin", comment="zone kept")
    assert run(app, "customer get", "admin").items[0].json["time-zone"] == "Mars/Base"
    assert refused(app, "user set", user.id, **{"shared-users": "0"}).prop == "shared-users"
    assert refused(app, "customer set", "admin", **{"time-zone": "Mars/Base"}).prop == "time-zone"


def test_a_long_iana_zone_is_stored(app: Userman) -> None:
    # The column was 16 characters before migration 0015: PostgreSQL refused this one.
    run(app, "customer set", "admin", **{"time-zone": "America/Argentina/Buenos_Aires"})
    zone = run(app, "customer get", "admin").items[0].json["time-zone"]
    assert zone == "America/Argentina/Buenos_Aires"


def test_an_id_or_number_beyond_any_row_is_a_bad_value_naming_what_took_it(app: Userman) -> None:
    run(app, "user add", username="ann")
    for key in ("*99999999999999999999999", "*80000000", "99999999999999999999999"):
        error = refused(app, "user set", key, comment="x")
        assert error.prop == "numbers"
        assert refused(app, "user get", key).prop == "numbers"
    with pytest.raises(NotFoundError):
        run(app, "user get", "*7FFFFFFF")  # the largest *ID (ids are INTEGER): no such row
    with pytest.raises(NotFoundError):
        run(app, "user get", "9223372036854775807")  # the largest print number
    with pytest.raises(NotFoundError):
        run(app, "user get", "ann\x00")  # PostgreSQL would refuse the NUL in its query
    error = refused(app, "user set", "ann", group="*FFFFFFFFFFFFFFFFFFFF")
    assert (error.prop, "not an item's *ID" in error.reason) == ("group", True)
    assert run(app, "user get", "ann").items[0].json["comment"] == ""


@pytest.mark.parametrize(
    ("name", "why"),
    [("a" * 300, "at most 100"), ("a\x00b", "U+0000"), ("x\u202egpj", "bidirectional")],
)
def test_a_backup_name_that_is_no_file_name_is_refused(
    app: Userman, tmp_path: Path, name: str, why: str
) -> None:
    app.backup_dir = tmp_path / "backups"
    error = refused(app, "database save", name=name)
    assert (error.prop, why in error.reason) == ("name", True)
    assert not app.backup_dir.exists()
    assert refused(app, "database load", name=name).prop == "name"


def test_a_superusers_path_the_file_system_refuses_is_a_bad_name(
    app: Userman, tmp_path: Path
) -> None:
    error = refused(app, "database save", name=str(tmp_path / ("x" * 300) / "b"))
    assert error.prop == "name"
