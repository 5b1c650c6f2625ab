"""The manual's profile rules, with an explicit `now` (../shared/mikrotik-user-manager.txt,
"Sub-menu: /tool user-manager profile")."""

from __future__ import annotations

import datetime as dt

from userman.core.profiles import ProfileSlot, ProfileState, select_profile

NOW = dt.datetime(2026, 1, 31, 23, 30, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def slot(
    id_: int,
    state: ProfileState = ProfileState.WAITING,
    validity: dt.timedelta | None = DAY,
    start: dt.datetime | None = None,
) -> ProfileSlot:
    end = start + validity if start is not None and validity is not None else None
    return ProfileSlot(id_, f"p{id_}", state, validity, start, end)


def test_no_profile_means_no_valid_profile() -> None:
    assert select_profile((), NOW).running is None


def test_a_waiting_profile_starts_at_logon_with_its_end_fixed() -> None:
    # "When the user starts a new session, that User's 'start time' is fixed and accordingly the
    # 'end time' is calculated."
    selection = select_profile((slot(1),), NOW)
    assert selection.running is not None
    assert selection.running.state is ProfileState.RUNNING
    assert selection.running.start_time == NOW
    assert selection.running.end_time == NOW + DAY  # across the month's end
    assert selection.changed == (selection.running,)


def test_a_running_profile_is_used_instead_of_starting_the_next() -> None:
    # "If there is already one active profile when a user logs on, this profile is used".
    running = slot(1, ProfileState.RUNNING, start=NOW - dt.timedelta(hours=1))
    selection = select_profile((running, slot(2)), NOW)
    assert selection.running == running
    assert selection.changed == ()


def test_the_next_profile_starts_when_the_running_one_has_ended() -> None:
    # "the next inactive profile is then started ... when the previous actual profile reaches
    # it's 'end time'."
    ended = slot(1, ProfileState.RUNNING, start=NOW - 2 * DAY)
    selection = select_profile((ended, slot(2)), NOW)
    assert selection.running is not None
    assert selection.running.id == 2
    assert [(s.id, s.state) for s in selection.changed] == [
        (1, ProfileState.USED),
        (2, ProfileState.RUNNING),
    ]


def test_validity_ends_the_profile_exactly_at_its_end_time() -> None:
    ended = slot(1, ProfileState.RUNNING, start=NOW - DAY)
    assert select_profile((ended,), NOW).running is None


def test_a_profile_without_validity_never_ends() -> None:
    forever = slot(1, ProfileState.RUNNING, validity=None, start=NOW - 1000 * DAY)
    assert select_profile((forever,), NOW).running == forever


def test_when_nothing_is_left_there_is_no_valid_profile() -> None:
    # "If there are no more inactive profiles to start, the user is forced to log off."
    ended = slot(1, ProfileState.RUNNING, start=NOW - 2 * DAY)
    selection = select_profile((ended,), NOW)
    assert selection.running is None
    assert [s.state for s in selection.changed] == [ProfileState.USED]
