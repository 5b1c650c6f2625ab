"""The menus' declarations (services/menus.py): every menu says what the modules that used to
compare its name need, a misspelt name stops the import, and each menu's `affects` names the
users a change of its items touches (what CoA and Disconnect are sent for)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from inmemory import do, make_app
from support import NOW
from userman.core.profiles import ProfileState
from userman.services import Userman, commands, enforce, menus, permissions
from userman.services.actor import LEVELS
from userman.services.menus import MENUS, Menu, Prop, Scope, Verb, Visibility
from userman.services.permissions import FAMILIES, write_level
from userman.store import models


def decision_tables(app: Userman) -> set[str]:
    """The tables a decision reads: those whose changes migration 0014's triggers note for the
    policy in memory (on SQLite, the triggers' own table names)."""
    with app.database.begin() as db:
        names = db.scalars(text("SELECT tbl_name FROM sqlite_master WHERE type = 'trigger'"))
        return {name for name in names if name != "policy_change"}


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Userman]:
    userman = make_app(tmp_path, sqlite_template)
    yield userman
    userman.close()


def test_a_menu_over_a_table_a_decision_reads_names_the_users_a_change_touches(
    app: Userman,
) -> None:
    """CoA needs the rule: without it an edit would leave open sessions with the old limits."""
    tables = decision_tables(app)
    assert {"user", "user_profile", "profile", "limitation"} <= tables  # the triggers are there
    missing = [
        menu.name
        for menu in MENUS.values()
        if menu.model.__tablename__ in tables and menu.affects is None
    ]
    assert missing == []


@pytest.mark.parametrize("menu", MENUS.values(), ids=lambda menu: menu.name)
def test_every_menu_declares_its_visibility_level_and_verbs(menu: Menu) -> None:
    assert menu.write_level in LEVELS
    if menu.visibility is Visibility.REACH:
        # reached by an access family, through its own customer or its owner's
        assert menu.area in FAMILIES
        owner = menu.by_name[menu.owner]
        above = MENUS[owner.ref] if owner.ref else None
        assert owner.ref == "customer" or (
            above is not None and above.by_name[above.owner].ref == "customer"
        )
    names = [verb.name for verb in menu.verbs]
    assert len(names) == len(set(names))
    assert all((menu.name, name) in commands.SPECIAL for name in names)
    if menu.disabled_cause:
        assert "disabled" in menu.by_name


def test_the_verbs_of_a_menu_are_the_generic_ones_and_its_declared_ones() -> None:
    assert commands.verbs_of("user")[-2:] == ("create-and-activate-profile", "add-batch-users")
    assert commands.verbs_of("history")[-2:] == ("undo", "redo")
    assert "add" not in commands.verbs_of("history")  # its entries are made by the server
    assert commands.verbs_of("database") == ("save", "load", "print", "set", "prune", "optimize")


def test_a_handler_of_a_verb_no_menu_declares_stops_the_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    misspelt = {**commands.SPECIAL, ("usr", "create-and-activate-profile"): commands.GENERIC["set"]}
    monkeypatch.setattr(commands, "SPECIAL", misspelt)
    with pytest.raises(RuntimeError, match="usr"):
        commands._check_special()


def test_a_declared_verb_without_a_handler_stops_the_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = menus.USER
    more = dataclasses.replace(user, verbs=(*user.verbs, Verb("frobnicate", Scope.ITEM)))
    monkeypatch.setitem(MENUS, "user", more)
    with pytest.raises(RuntimeError, match="frobnicate"):
        commands._check_special()


def test_a_reference_to_no_menu_stops_the_import(monkeypatch: pytest.MonkeyPatch) -> None:
    user = menus.USER
    props = tuple(
        dataclasses.replace(p, ref="user-grop") if p.name == "group" else p for p in user.props
    )
    monkeypatch.setitem(MENUS, "user", dataclasses.replace(user, props=props))
    with pytest.raises(ValueError, match="user-grop"):
        menus._check_references()


def test_a_level_or_owner_misspelt_is_refused_when_the_menu_is_made() -> None:
    props = (Prop("name", "name"), Prop("owner", "owner_id", ref="customer"))
    with pytest.raises(ValueError, match="ful"):
        Menu("m", models.Profile, key="name", props=props, owner="owner", write_level="ful")
    with pytest.raises(ValueError, match="ownr"):
        Menu("m", models.Profile, key="name", props=props, owner="ownr")
    with pytest.raises(ValueError, match="names no users"):
        Menu("m", models.Profile, key="name", props=props, owner="owner", removed_cause="x")


def test_a_name_that_is_no_menu_has_no_level() -> None:
    """It used to get the default level (read-write): a misspelt name was a silent downgrade."""
    assert write_level("profile limitation") == write_level("limitation") == "full"
    assert write_level("database") == "owner"
    assert write_level("settings") == "full"
    with pytest.raises(KeyError, match="limitaton"):
        write_level("limitaton")


def rows(app: Userman, model: type[models.Base], **where: Any) -> list[Any]:
    with app.database.session() as db:
        stmt = select(model).filter_by(**where)
        return list(db.scalars(stmt))


def test_each_menu_s_rule_names_the_users_its_items_touch(app: Userman) -> None:
    """One user per way a change reaches it: its group, its customer, its running profile and
    that profile's limitation and binding, its own queue entry and session; a second user
    touched by none of them."""
    do(app, "user group add", name="g")
    do(app, "limitation add", name="l", **{"rate-limit-rx": "1M"})
    do(app, "profile-limitation add", profile="p", limitation="l")
    do(app, "customer add", login="c2", parent="admin")
    do(app, "user set", "test", group="g")
    do(app, "user create-and-activate-profile", "test", customer="admin", profile="p")
    do(app, "user add", username="other", password="x", customer="c2")
    do(app, "profile add", name="q")
    do(app, "user create-and-activate-profile", "other", customer="c2", profile="q")
    with app.database.begin() as db:
        test = db.scalar(select(models.User).where(models.User.username == "test"))
        assert test is not None
        db.add(
            models.UserSession(
                subscriber_id=test.subscriber_id,
                customer_id=test.customer_id,
                user_id=test.id,
                username="test",
                acct_session_id="s1",
                from_time=NOW,
                till_time=NOW,
            )
        )
    with app.database.begin() as db:
        test_id = db.scalar(select(models.User.id).where(models.User.username == "test"))
        admin = db.scalar(select(models.Customer).where(models.Customer.login == "admin"))
        items: dict[str, Any] = {
            "customer": admin,
            "user": db.get(models.User, test_id),
            "user group": db.scalar(select(models.UserGroup)),
            "profile": db.scalar(select(models.Profile).where(models.Profile.name == "p")),
            "profile limitation": db.scalar(select(models.Limitation)),
            "profile profile-limitation": db.scalar(select(models.ProfileLimitation)),
            "user-profile": db.scalar(
                select(models.UserProfile).where(models.UserProfile.user_id == test_id)
            ),
            "session": db.scalar(select(models.UserSession)),
        }
        for name, item in items.items():
            assert item is not None, name
            assert enforce.users_of(db, MENUS[name], [item]) == {test_id}, name
        assert enforce.users_of(db, MENUS["attribute"], []) == set()
        assert enforce.users_of(db, MENUS["router"], [db.scalar(select(models.Router))]) == set()


def test_a_used_profile_touches_nobody(app: Userman) -> None:
    do(app, "user create-and-activate-profile", "test", customer="admin", profile="p")
    with app.database.begin() as db:
        entry = db.scalar(select(models.UserProfile))
        assert entry is not None
        assert entry.state is ProfileState.RUNNING
        entry.state = ProfileState.USED
        db.flush()
        profile = db.get(models.Profile, entry.profile_id)
        assert enforce.users_of(db, MENUS["profile"], [profile]) == set()


def test_permissions_read_the_level_from_the_menu() -> None:
    assert permissions.write_level(MENUS["router"]) == "full"
    assert permissions.write_level(MENUS["user"]) == "read-write"
    assert permissions.write_level(MENUS["history"]) == "owner"
