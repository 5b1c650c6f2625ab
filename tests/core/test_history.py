"""The inverse of a change-set, ordered so a database with foreign keys accepts it."""

from __future__ import annotations

from userman.core.history import Move, Phase, RowChange, plan

ORDER = {"customer": 0, "user": 1, "user_profile": 2}


def test_undo_brings_parents_back_first_and_removes_children_first() -> None:
    # A command removed user 5 with its profile entry 9, changed customer 1, and added user 7
    # with its profile entry 8.
    changes = [
        RowChange("user", 5, {"id": 5, "name": "a"}, None),
        RowChange("user_profile", 9, {"id": 9, "user_id": 5}, None),
        RowChange("customer", 1, {"id": 1, "comment": "x"}, {"id": 1, "comment": "y"}),
        RowChange("user", 7, None, {"id": 7, "name": "b"}),
        RowChange("user_profile", 8, None, {"id": 8, "user_id": 7}),
    ]
    moves = plan(changes, ORDER, backwards=True)
    assert [(m.phase, m.table, m.row_id) for m in moves] == [
        (Phase.COME_BACK, "user", 5),  # the parent before its child
        (Phase.COME_BACK, "user_profile", 9),
        (Phase.RESTORE, "customer", 1),
        (Phase.GO, "user_profile", 8),  # the child before its parent
        (Phase.GO, "user", 7),
    ]
    restored = moves[2]
    assert restored.target == {"id": 1, "comment": "x"}
    assert restored.compared() == ["comment"]


def test_redo_is_the_other_way_round() -> None:
    change = RowChange("user", 7, None, {"id": 7, "subscriber_id": 1})
    [undo] = plan([change], ORDER, backwards=True)
    [redo] = plan([change], ORDER, backwards=False)
    assert (undo.phase, redo.phase) == (Phase.GO, Phase.COME_BACK)
    assert undo.compared() == ["id", "subscriber_id"]  # a row that goes must be as it was
    assert redo == Move("user", 7, None, {"id": 7, "subscriber_id": 1})


def test_a_restored_row_is_also_checked_to_be_in_its_subscriber() -> None:
    change = RowChange("user", 3, {"subscriber_id": 1, "c": 1}, {"subscriber_id": 1, "c": 2})
    [move] = plan([change], ORDER, backwards=True)
    assert move.compared() == ["subscriber_id", "c"]
