"""History, undo and redo through the services, on SQLite and PostgreSQL.

Manual, "Sub-menu: /tool user-manager history": "This subsection allows overviewing any changes
confirmed in UM database. Some of them can be reverted back." Its print shows ACTION (`UMS user
user1 added`, `multiple objects removed`), SUB-CHANGES and TIME, with the flags "U - undoable,
R - redoable, F - failed".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from argon2 import PasswordHasher
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from userman.core.errors import ConflictError, PermissionDeniedError, UsermanError
from userman.core.profiles import ProfileState
from userman.services import Actor, Userman, verbs
from userman.services.request import Outcome, Request
from userman.store import models

ROOT = Actor.superuser()
VERBS = frozenset(
    {"add", "set", "remove", "enable", "disable", "create-and-activate-profile", "undo", "redo"}
)
# Not the log of history itself, nor the change log of the policy in memory, which notes every
# write (an undo is one more).
TABLES = [
    t for t in models.Base.metadata.sorted_tables if t.name not in ("history", "policy_change")
]


def request(command: str) -> Request:
    """`profile limitation set l1 rate-limit-rx=1M` as a Request (values have no spaces)."""
    words = command.split()
    at = next(i for i, word in enumerate(words) if word in VERBS)
    rest = words[at + 1 :]
    positional = tuple(w for w in rest if "=" not in w)
    args = dict(w.split("=", 1) for w in rest if "=" in w)
    return Request(tuple(words[:at]), words[at], positional, args)


def do(app: Userman, command: str, actor: Actor = ROOT) -> Outcome:
    req = request(command)
    return app.execute(actor, req.path, req.verb, req.positional, req.args)


def undo(app: Userman, actor: Actor = ROOT) -> Outcome:
    return app.execute(actor, ("history",), "undo")


def redo(app: Userman, actor: Actor = ROOT) -> Outcome:
    return app.execute(actor, ("history",), "redo")


def snapshot(app: Userman) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table but history, in id order."""
    with app.database.begin() as db:
        return {
            table.name: [
                dict(row._mapping) for row in db.execute(select(table).order_by(*table.primary_key))
            ]
            for table in TABLES
        }


def entries(app: Userman, actor: Actor = ROOT) -> list[tuple[str, str, int, str]]:
    """`history print` as (flags, action, sub-changes, reason), oldest first."""
    outcome = app.execute(actor, ("history",), "print")
    return [
        (
            item.flags,
            str(item.json["action"]),
            int(str(item.json["sub-changes"])),
            str(item.json["reason"]),
        )
        for item in outcome.items
    ]


def state(app: Userman) -> tuple[int, dict[str, list[dict[str, Any]]]]:
    """How many entries history has, and every other row."""
    return recorded(app), snapshot(app)


def recorded(app: Userman) -> int:
    with app.database.begin() as db:
        return int(db.scalar(select(func.count()).select_from(models.HistoryEntry)) or 0)


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Customers' argon2 hashes at the lowest cost: these tests are about rows, not hashing."""
    monkeypatch.setattr(
        verbs, "hash_password", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash
    )


# Every menu's verbs, each undone and redone right after it runs.
LIFECYCLES: dict[str, tuple[list[str], list[str]]] = {
    "customer": (
        [],
        [
            "customer add login=c1 parent=admin permissions=full",
            "customer set c1 comment=x email=c1@example.com",
            "customer disable c1",
            "customer enable c1",
            "customer remove c1",
            "customer add login=sub2",  # a new subscriber: a customer whose parent is itself
        ],
    ),
    "router": (
        [],
        [
            "router add name=r1 ip-address=10.0.0.1 shared-secret=s log=auth-ok,acct-ok",
            "router set r1 ip-address=10.0.0.2 coa-port=3799 use-coa=yes",
            "router disable r1",
            "router enable r1",
            "router remove r1",
        ],
    ),
    "profile": (
        [],
        [
            "profile add name=p1 validity=30d price=9.99 starts-at=now",
            "profile set p1 name=p2 override-shared-users=3",
            "profile remove p2",
        ],
    ),
    "profile limitation": (
        [],
        [
            "profile limitation add name=l1 download-limit=1G rate-limit-rx=1M",
            "limitation set l1 uptime-limit=1h reset-counters-interval=daily",
            "profile limitation remove l1",
        ],
    ),
    "profile profile-limitation": (
        ["profile add name=p1", "profile limitation add name=l1"],
        [
            "profile profile-limitation add profile=p1 limitation=l1 weekdays=monday",
            "profile profile-limitation set 0 from-time=08:00:00 till-time=17:00:00",
            "profile profile-limitation remove 0",
        ],
    ),
    "user group": (
        [],
        [
            "user group add name=g1 outer-auths=pap",
            "user-group set g1 inner-auths=peap-mschap2",
            "user group remove g1",
        ],
    ),
    "attribute": (
        [],
        [
            "attribute add name=a1 vendor-id=14988 type-id=8",
            "attribute set a1 value-type=uint32",
            "attribute remove a1",
        ],
    ),
    "user": (
        ["profile add name=p1 starts-at=now validity=1h", "user group add name=g1"],
        [
            "user add username=u1 password=secret shared-users=1",
            "user set u1 group=g1 caller-id=aa:bb comment=hi",
            "user disable u1",
            "user enable u1",
            "user create-and-activate-profile u1 profile=p1",
            "user create-and-activate-profile u1 profile=p1",
            "user set u1 group=",
            "user remove u1",  # and, by the database's cascade, its two profiles
        ],
    ),
}


def undone_and_redone(app: Userman, command: str) -> None:
    before = snapshot(app)
    do(app, command)
    after = snapshot(app)
    assert after != before, command
    assert entries(app)[-1][0] == "U"

    outcome = undo(app)
    assert not outcome.error
    assert outcome.message.startswith("undone: ")
    assert snapshot(app) == before, command
    assert entries(app)[-1][0] == "R"

    outcome = redo(app)
    assert not outcome.error
    assert outcome.message.startswith("redone: ")
    assert snapshot(app) == after, command
    assert entries(app)[-1][0] == "U"


@pytest.mark.parametrize("menu", LIFECYCLES)
def test_every_verb_is_undone_and_redone(app: Userman, menu: str) -> None:
    setup, commands = LIFECYCLES[menu]
    for command in setup:
        do(app, command)
    for command in commands:
        undone_and_redone(app, command)


def test_actions_and_sub_changes_read_like_the_manual(app: Userman) -> None:
    do(app, "customer add login=test1 parent=admin permissions=full")
    do(app, "profile add name=test starts-at=now")
    do(app, "user add username=user1")
    do(app, "user add username=user2")
    do(app, "user create-and-activate-profile user1 profile=test")
    do(app, "user create-and-activate-profile user1 profile=test")
    do(app, "user set user1 comment=vip")
    do(app, "user set user1 comment=vip")  # changes nothing: not recorded
    do(app, "user remove 0,1")
    assert [(flags, action, count) for flags, action, count, _ in entries(app)] == [
        ("U", "UMS customer test1 added", 1),
        ("U", "UMS profile test added", 1),
        ("U", "UMS user user1 added", 1),
        ("U", "UMS user user2 added", 1),
        ("U", "UMS user create-and-activate-profile user1", 1),
        ("U", "UMS user create-and-activate-profile user1", 1),
        ("U", "UMS user user1 changed", 1),
        # two users and, by the database's cascade, user1's two profiles
        ("U", "multiple objects removed", 4),
    ]
    before = snapshot(app)
    undo(app)
    restored = snapshot(app)
    assert [u["username"] for u in restored["user"]] == ["user1", "user2"]
    assert [(p["state"], p["profile_id"]) for p in restored["user_profile"]] == [
        (ProfileState.RUNNING, restored["profile"][0]["id"]),
        (ProfileState.WAITING, restored["profile"][0]["id"]),
    ]
    redo(app)
    assert snapshot(app) == before


def test_undo_walks_back_redo_walks_forward(app: Userman) -> None:
    start = snapshot(app)
    do(app, "profile add name=p1")
    do(app, "user add username=u1")
    do(app, "user create-and-activate-profile u1 profile=p1")
    end = snapshot(app)
    for _ in range(3):
        assert not undo(app).error
    assert snapshot(app) == start
    assert [flags for flags, *_ in entries(app)] == ["R", "R", "R"]
    with pytest.raises(ConflictError, match="nothing to undo"):
        undo(app)
    redone = [redo(app).message for _ in range(3)]
    assert redone == [
        "redone: UMS profile p1 added",
        "redone: UMS user u1 added",
        "redone: UMS user create-and-activate-profile u1",
    ]
    assert snapshot(app) == end
    with pytest.raises(ConflictError, match="nothing to redo"):
        redo(app)


def test_a_new_change_ends_redo(app: Userman) -> None:
    do(app, "profile add name=p1")
    do(app, "profile add name=p2")
    undo(app)
    undo(app)
    do(app, "user add username=u1")
    # As in an editor: the undone entries can no longer be redone (no U, no R).
    assert [flags for flags, *_ in entries(app)] == ["", "", "U"]
    with pytest.raises(ConflictError, match="nothing to redo"):
        redo(app)


def test_undo_and_redo_take_no_values(app: Userman) -> None:
    do(app, "profile add name=p1")
    with pytest.raises(UsermanError, match="takes no values"):
        app.execute(ROOT, ("history",), "undo", ("0",))
    assert entries(app)[0][0] == "U"


def subscriber(app: Userman, login: str, **args: str) -> Actor:
    extra = " ".join(f"{k}={v}" for k, v in args.items())
    do(app, f"customer add login={login} {extra}".strip())
    return app.actor(login)


def test_an_owner_undoes_only_its_own_subscribers_changes(app: Userman) -> None:
    other = subscriber(app, "other")
    admin = app.actor("admin")
    # Making a subscriber is the superuser's entry alone (one naming it would keep it forever).
    assert entries(app, other) == []
    do(app, "profile add name=mine", admin)
    do(app, "profile add name=theirs", other)
    assert [action for _, action, _, _ in entries(app, admin)] == ["UMS profile mine added"]
    assert undo(app, admin).message == "undone: UMS profile mine added"
    assert [p["name"] for p in snapshot(app)["profile"]] == ["theirs"]
    # The superuser sees every subscriber's entries and takes the newest overall.
    assert undo(app).message == "undone: UMS profile theirs added"


def test_undo_needs_owner_permissions(app: Userman) -> None:
    do(app, "customer add login=clerk parent=admin permissions=read-write access=own-users")
    clerk = app.actor("clerk")
    do(app, "user add username=u1", clerk)
    with pytest.raises(PermissionDeniedError):
        undo(app, clerk)
    assert entries(app)[-1][0] == "U"


def failed_undo(app: Userman, reason: str) -> None:
    """The newest entry cannot be undone: the error names why, the entry is marked F (and
    stays undoable), and nothing else changed."""
    before = snapshot(app)
    count = recorded(app)
    outcome = undo(app)
    assert reason in outcome.error
    assert outcome.error.startswith("cannot undo ")
    assert snapshot(app) == before
    assert recorded(app) == count
    [(flags, _, _, why)] = [e for e in entries(app) if e[3]]
    assert flags == "UF"
    assert reason in why


def test_a_row_changed_since_is_not_undone(app: Userman) -> None:
    do(app, "user add username=u1")
    # The user logs on; the accounting writer (not a command) counts its traffic.
    with app.database.begin() as db:
        db.execute(update(models.User).values(download_used=1000))
    failed_undo(app, "user u1 changed since (download-used)")
    failed_undo(app, "user u1 changed since (download-used)")  # and again: still marked F


def test_a_row_still_in_use_is_not_removed(app: Userman) -> None:
    do(app, "profile add name=p1")
    do(app, "user add username=u1")
    undo(app)  # the user goes; the profile's entry is now the newest undoable
    with app.database.begin() as db:
        # A payment gateway (not a command) sells p1 to a user: the profile is now in use.
        profile = db.scalars(select(models.Profile)).one()
        user = models.User(
            subscriber_id=profile.subscriber_id, customer_id=profile.owner_id, username="buyer"
        )
        db.add(user)
        db.flush()
        now = dt.datetime.now(dt.UTC)
        db.add(
            models.UserProfile(
                subscriber_id=user.subscriber_id,
                user_id=user.id,
                profile_id=profile.id,
                assigned_at=now,
            )
        )
    failed_undo(app, "profile p1 is still in use")


def test_a_removal_whose_address_was_taken_since_is_not_undone(app: Userman) -> None:
    other = subscriber(app, "other")
    do(app, "router add name=r1 ip-address=10.0.0.1 customer=admin")
    do(app, "router add name=r2 ip-address=10.0.0.2 customer=admin")
    do(app, "router remove r1")
    # Another subscriber takes the address: addresses are unique across subscribers.
    do(app, "router add name=theirs ip-address=10.0.0.1", other)
    admin = app.actor("admin")
    before = snapshot(app)
    outcome = undo(app, admin)
    assert outcome.error == (
        'cannot undo "UMS router r1 removed": router r1 cannot come back: its name or address '
        "is taken, or an item it needs is gone"
    )
    assert snapshot(app) == before
    assert entries(app, admin)[-1][0] == "UF"
    # Once the address is free again, the same undo succeeds and the F mark goes.
    do(app, "router remove theirs", other)
    assert undo(app, admin).message == "undone: UMS router r1 removed"
    assert entries(app, admin)[-1][0] == "R"
    assert entries(app, admin)[-1][3] == ""


def test_renaming_onto_a_taken_name_is_a_conflict(app: Userman) -> None:
    # Found by the property test below: the check must run before the rename is flushed.
    do(app, "profile add name=pa")
    do(app, "profile add name=pb")
    do(app, "router add name=r1 ip-address=10.0.0.1")
    do(app, "router add name=r2 ip-address=10.0.0.2")
    before = snapshot(app)
    with pytest.raises(ConflictError):
        do(app, "profile set pa name=pb")
    with pytest.raises(ConflictError):
        do(app, "router set r1 ip-address=10.0.0.2")
    assert snapshot(app) == before


def test_a_redo_whose_address_was_taken_since_fails_too(app: Userman) -> None:
    other = subscriber(app, "other")
    admin = app.actor("admin")
    do(app, "router add name=r1 ip-address=10.0.0.1", admin)
    undo(app, admin)
    do(app, "router add name=theirs ip-address=10.0.0.1", other)
    before = snapshot(app)
    outcome = redo(app, admin)
    assert outcome.error.startswith('cannot redo "UMS router r1 added": router r1 ')
    assert snapshot(app) == before
    [(flags, _, _, why)] = entries(app, admin)
    assert (flags, why) == ("RF", outcome.error.split(": ", 1)[1])


def test_an_undo_inside_a_failed_script_is_rolled_back_with_it(app: Userman) -> None:
    do(app, "user add username=u1")
    before = snapshot(app)
    script = [Request(("history",), "undo"), Request(("user",), "add", (), {"username": ""})]
    with pytest.raises(UsermanError):
        app.execute_many(ROOT, script)
    # The script failed as a whole: the undo inside it is rolled back too (on SQLite too,
    # where the driver could let the undo's savepoint commit by itself).
    assert snapshot(app) == before
    assert entries(app)[-1][0] == "U"


# Any sequence of commands, undone, gives back the database it started from; redone, the end.

NAMES = st.sampled_from(["a", "b"])
TEXT = st.sampled_from(["x", "y", ""])
ADDS = (
    "customer add login=c{0} parent=admin permissions=full comment={1}",
    "router add name=r{0} ip-address=10.0.0.1 comment={1}",
    "router add name=r{0} ip-address=10.0.0.2 shared-secret={1}",
    "profile add name=p{0} starts-at=now validity=1h comment={1}",
    "profile add name=p{0} price=1.5",
    "profile limitation add name=l{0} download-limit=1M",
    "profile profile-limitation add profile=p{0} limitation=l{2}",
    "user group add name=g{0}",
    "attribute add name=t{0} type-id=8",
    "user add username=u{0} password={1}",
    "user create-and-activate-profile u{0} profile=p{2}",
)
CHANGES = (
    "customer set c{0} comment={1}",
    "customer disable c{0}",
    "customer remove c{0}",
    "router set r{0} ip-address=10.0.1.{2}",  # not an address: fails
    "router enable r{0}",
    "router disable r{0}",
    "router remove r{0}",
    "profile set p{0} name-for-users={1} price=2",
    "profile set p{0} name=p{2}",
    "profile remove p{0}",
    "profile limitation set l{0} comment={1}",
    "profile limitation remove l{0}",
    "profile profile-limitation remove 0",
    "user group remove g{0}",
    "attribute remove t{0}",
    "user set u{0} group=g{2} comment={1}",
    "user set u{0} shared-users=many",  # not a count: fails
    "user disable u{0}",
    "user enable u{0}",
    "user remove u{0}",
    "user remove 0,1",
)


def _commands(templates: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.sampled_from(templates).flatmap(lambda t: st.builds(t.format, NAMES, TEXT, NAMES))


# Some items first, then anything: most commands find what they name, some fail.
SCRIPTS = st.builds(
    list.__add__,
    st.lists(_commands(ADDS), min_size=1, max_size=6),
    st.lists(_commands(ADDS + CHANGES), max_size=10),
)


def reset(app: Userman) -> None:
    """Back to a new database: only the default customer admin."""
    with app.database.begin() as db:
        for table in reversed(models.Base.metadata.sorted_tables):
            db.execute(table.delete())
    app.prepare()


def test_undoing_everything_gives_back_the_start(db_url: str) -> None:
    app = Userman(db_url)
    app.prepare()

    @settings(
        max_examples=60 if db_url.startswith("sqlite") else 10,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(SCRIPTS)
    def check(commands: list[str]) -> None:
        reset(app)
        start = now = state(app)
        for command in commands:
            try:
                do(app, command)
            except UsermanError:
                assert state(app) == now, command  # a failed command changes nothing
                continue
            now = state(app)
        changed, end = now
        event(f"commands that changed something: {min(changed, 6)}{'+' if changed >= 6 else ''}")
        event(f"rows at the end: {min(sum(map(len, end.values())), 10)}")
        for _ in range(changed):
            assert not undo(app).error
        assert snapshot(app) == start[1]
        for _ in range(changed):
            assert not redo(app).error
        assert snapshot(app) == end

    try:
        check()
    finally:
        app.close()
