"""The conversations in progress: bounded in number and in idle time (eap/conversations.py)."""

from __future__ import annotations

from userman.eap.conversations import Conversations


def test_a_conversation_is_found_by_its_router_and_state() -> None:
    live: Conversations[str] = Conversations()
    assert live.add((1, b"s1"), "first", 0.0)
    assert live.get((1, b"s1"), 1.0) == "first"
    assert live.get((2, b"s1"), 1.0) is None  # another router's State names nothing of its
    live.remove((1, b"s1"))
    assert live.get((1, b"s1"), 1.0) is None


def test_an_idle_conversation_is_forgotten_and_a_used_one_kept() -> None:
    live: Conversations[str] = Conversations(idle=60.0)
    live.add((1, b"a"), "a", 0.0)
    live.add((1, b"b"), "b", 10.0)
    assert live.get((1, b"a"), 50.0) == "a"  # used at 50: lives until 110
    assert live.get((1, b"b"), 70.0) is None  # idle since 10
    assert live.get((1, b"a"), 109.0) == "a"
    assert live.get((1, b"a"), 169.0) is None
    assert len(live) == 0


def test_when_full_the_new_conversation_is_refused_not_the_old_ones() -> None:
    live: Conversations[int] = Conversations(capacity=3, idle=60.0)
    for n in range(3):
        assert live.add((1, bytes([n])), n, float(n))
    assert not live.add((1, b"flood"), 99, 5.0)
    assert [live.get((1, bytes([n])), 6.0) for n in range(3)] == [0, 1, 2]
    # Once the old ones have been idle long enough, room is made for new ones.
    assert live.add((1, b"later"), 7, 70.0)
    assert len(live) == 1
