"""argon2 takes turns (services/passwords.py): never more than SLOTS hashes at once, and a check
that finds no slot within WAIT seconds is refused as busy instead of queueing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from argon2 import PasswordHasher

from userman.core.errors import BusyError
from userman.services import passwords


class _Counting(PasswordHasher):
    """A real (small) argon2 that notes how many of its checks run at once."""

    def __init__(self) -> None:
        super().__init__(time_cost=2, memory_cost=1024, parallelism=1)
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            return super().verify(hash, password)
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> _Counting:
    hasher = _Counting()
    monkeypatch.setattr(passwords, "_hasher", hasher)
    monkeypatch.setattr(passwords, "WAIT", 30.0)  # here every check waits its turn
    return hasher


@pytest.fixture
def all_slots_taken(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(passwords, "WAIT", 0.05)
    for _ in range(passwords.SLOTS):
        assert passwords._slots.acquire(timeout=5)
    yield
    for _ in range(passwords.SLOTS):
        passwords._slots.release()


def test_hash_and_verify() -> None:
    stored = passwords.hash_password("secret")
    assert passwords.verify(stored, "secret")
    assert not passwords.verify(stored, "guess")
    assert not passwords.verify("not a hash", "secret")


def test_never_more_than_the_slots_at_once(counting: _Counting) -> None:
    stored = counting.hash("secret")
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: passwords.verify(stored, "guess"), range(24)))
    assert results == [False] * 24
    assert counting.most == passwords.SLOTS
    assert counting.running == 0


@pytest.mark.usefixtures("all_slots_taken")
def test_a_full_house_refuses_at_once_and_changes_nothing() -> None:
    stored = passwords.decoy()
    with pytest.raises(BusyError) as refused:
        passwords.verify(stored, "decoy")
    assert refused.value.retry_after == passwords.RETRY_AFTER
    assert "try again" in str(refused.value)
    with pytest.raises(BusyError):
        passwords.hash_password("new")


def test_a_refusal_gives_no_slot_away(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "WAIT", 0.05)
    taken = [passwords._slots.acquire(timeout=5) for _ in range(passwords.SLOTS)]
    try:
        with pytest.raises(BusyError):
            passwords.verify(passwords.decoy(), "x")
    finally:
        for _ in taken:
            passwords._slots.release()
    assert passwords.verify(passwords.decoy(), "decoy")  # every slot is free again
