"""A run's slot while a session is open on its area (in progress, never due), and the free
time of day a run started without one takes (clear of the panel's other runs)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.red_light_therapy.therapy.dose import BandDose
from custom_components.red_light_therapy.therapy.history import History, SessionRecord
from custom_components.red_light_therapy.therapy.plans import (
    PENDING,
    MissedPolicy,
    SlotStatus,
    default_time_of_day,
    free_time_of_day,
)

from .builders import BERLIN, SKIN, session_record, skin_run

MONDAY = date(2025, 3, 3)  # the runs' start, in a week without a daylight-saving change


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


def done_on(day: date, hour: int = 7, minute: int = 35) -> SessionRecord:
    """A completed face session with the full protocol dose, started on ``day``."""
    dose = SKIN.dose_j_cm2
    return session_record(
        f"done-{day.isoformat()}",
        at(day, hour, minute),
        length=timedelta(minutes=5),
        dose=BandDose(dose, dose),
    )


# -- in progress -------------------------------------------------------------------------------


def test_a_session_open_on_the_area_makes_the_due_slot_in_progress() -> None:
    """Monday 07:40: the 07:30 session is due; with a face session running since 07:35 it is
    in progress instead, still the next one to do, and counts neither as done nor missed."""
    now = at(MONDAY, 7, 40)
    without = skin_run().evaluate(History(), now)
    assert without.sessions[0].status is SlotStatus.DUE

    report = skin_run().evaluate(History(), now, [("face", at(MONDAY, 7, 35))])
    first = report.sessions[0]
    assert first.status is SlotStatus.IN_PROGRESS
    assert first.record_id is None
    assert report.next_due == first
    assert (report.done, report.missed) == (0, 0)
    assert not report.finished


def test_a_session_opened_before_the_planned_time_is_the_slot_in_progress() -> None:
    """Monday 07:10, a face session started at 07:05: the 07:30 slot is being done early."""
    report = skin_run().evaluate(History(), at(MONDAY, 7, 10), [("face", at(MONDAY, 7, 5))])
    assert report.sessions[0].status is SlotStatus.IN_PROGRESS


@pytest.mark.parametrize(
    ("area", "opened", "created"),
    [
        pytest.param("knee", at(MONDAY, 7, 35), None, id="another area"),
        pytest.param("face", at(MONDAY - timedelta(days=1), 7, 35), None, id="another day"),
        pytest.param("face", at(MONDAY, 7, 1), at(MONDAY, 7, 2), id="before the run existed"),
    ],
)
def test_an_open_session_that_is_not_the_slot_leaves_it_due(
    area: str, opened: datetime, created: datetime | None
) -> None:
    report = skin_run(created_at=created).evaluate(History(), at(MONDAY, 7, 40), [(area, opened)])
    assert report.sessions[0].status is SlotStatus.DUE


def test_a_recorded_session_wins_over_an_open_one() -> None:
    """Done at 07:35, and another face session open since 07:50: the slot is done, and the
    open session does not turn Thursday's slot into anything but upcoming."""
    report = skin_run().evaluate(
        History([done_on(MONDAY)]), at(MONDAY, 8), [("face", at(MONDAY, 7, 50))]
    )
    assert report.sessions[0].status is SlotStatus.DONE
    assert report.sessions[1].status is SlotStatus.UPCOMING


def test_a_session_running_past_midnight_keeps_its_slot_from_being_missed() -> None:
    """Started Monday 23:55 for a 23:50 slot and still open at 00:05 Tuesday: in progress on
    Monday, where without it Monday is missed and caught up on Tuesday."""
    plan = skin_run(time_of_day=time(23, 50), missed_policy=MissedPolicy.CATCH_UP)
    now = at(MONDAY + timedelta(days=1), 0, 5)
    without = plan.evaluate(History(), now).sessions[0]
    assert (without.catch_up, without.date) == (True, MONDAY + timedelta(days=1))

    report = plan.evaluate(History(), now, [("face", at(MONDAY, 23, 55))])
    first = report.sessions[0]
    assert first.status is SlotStatus.IN_PROGRESS
    assert (first.catch_up, first.date) == (False, MONDAY)
    assert report.missed == 0


def test_an_open_session_on_the_catch_up_day_is_the_catch_up_in_progress() -> None:
    """Monday missed; Tuesday 07:30 is its catch-up, and a face session open since 07:35 is it."""
    plan = skin_run(missed_policy=MissedPolicy.CATCH_UP)
    tuesday = MONDAY + timedelta(days=1)
    report = plan.evaluate(History(), at(tuesday, 7, 40), [("face", at(tuesday, 7, 35))])
    first = report.sessions[0]
    assert (first.catch_up, first.date) == (True, tuesday)
    assert first.status is SlotStatus.IN_PROGRESS


def test_a_stopped_run_drops_the_slot_in_progress() -> None:
    plan = skin_run()
    plan.stop(at(MONDAY, 7, 45))
    report = plan.evaluate(History(), at(MONDAY, 7, 50), [("face", at(MONDAY, 7, 35))])
    assert report.sessions == ()
    assert report.next_due is None


# Monday 00:00 to Thursday 23:45 of the first week, in minutes: two slots, Mon and Thu 07:30.
MINUTES_IN_WEEK = st.integers(0, 4 * 24 * 60 - 1)


@settings(max_examples=150, deadline=None)
@given(
    now_minute=MINUTES_IN_WEEK,
    opened_before=st.integers(0, 24 * 60),
    area=st.sampled_from(["face", "knee", "whole_body"]),
    done_monday=st.booleans(),
)
def test_an_open_session_makes_only_its_days_slot_in_progress_never_due(
    now_minute: int, opened_before: int, area: str, done_monday: bool
) -> None:
    """For any moment of the first week and a session opened up to a day before it: a face
    session turns exactly the pending or missed slot of its local day into in progress (never
    due) and changes nothing else; a session on another area changes nothing at all."""
    now = at(MONDAY, 0) + timedelta(minutes=now_minute)
    opened = max(now - timedelta(minutes=opened_before), at(MONDAY, 0))
    history = History([done_on(MONDAY)] if done_monday else [])
    plan = skin_run()
    without = plan.evaluate(history, now)
    report = plan.evaluate(history, now, [(area, opened)])
    if area != "face":
        assert report == without
        return
    opened_day = opened.astimezone(BERLIN).date()
    assert len(report.sessions) == len(without.sessions)
    for slot, before in zip(report.sessions, without.sessions, strict=True):
        if slot.date == opened_day and before.status in (*PENDING, SlotStatus.MISSED):
            assert slot.status is SlotStatus.IN_PROGRESS
        else:
            assert slot == before
        if slot.date == opened_day:
            assert slot.status is not SlotStatus.DUE


# -- free time of day --------------------------------------------------------------------------


def minutes_of(t: time) -> int:
    return t.hour * 60 + t.minute


def overlaps(a: int, a_length: float, b: int, b_length: float) -> bool:
    """Whether daily sessions starting at minute ``a`` and ``b`` of the day share any moment
    (one that runs past midnight goes on into the next day)."""
    return any(a < b + shift + b_length and b + shift < a + a_length for shift in (-1440, 0, 1440))


def test_a_run_started_without_a_time_keeps_clear_of_the_panels_other_run() -> None:
    """At 07:20 the default is 07:30, but another run holds 07:30 for 10 minutes and one
    07:45 for 20: the new 12-minute run takes 08:15, the first quarter hour clear of both."""
    now = at(MONDAY, 7, 20)
    assert default_time_of_day(now) == time(7, 30)
    busy = [(time(7, 30), 10.0), (time(7, 45), 20.0)]
    assert free_time_of_day(now, 12, busy) == time(8, 15)
    assert free_time_of_day(now, 12) == time(7, 30)


def test_a_run_that_ends_as_another_begins_does_not_overlap() -> None:
    """Sessions back to back share no moment: a 15-minute run fits at 07:30 before one at
    07:45, and one at 08:00 after a 15-minute one at 07:45."""
    now = at(MONDAY, 7, 20)
    assert free_time_of_day(now, 15, [(time(7, 45), 15.0)]) == time(7, 30)
    assert free_time_of_day(now, 20, [(time(7, 30), 30.0)]) == time(8, 0)


def test_a_session_running_past_midnight_is_kept_clear_of_too() -> None:
    """Just after midnight, another run's 23:55 session runs on until 00:15: a new 10-minute
    run takes 00:15, not 00:00."""
    assert free_time_of_day(at(MONDAY, 0), 10, [(time(23, 55), 20.0)]) == time(0, 15)


def test_with_no_quarter_hour_left_today_the_run_takes_the_plain_default() -> None:
    now = at(MONDAY, 23, 20)
    assert free_time_of_day(now, 10, [(time(23, 30), 30.0)]) == time(23, 30)


BUSY = st.lists(
    st.tuples(
        st.builds(time, st.integers(0, 23), st.integers(0, 59)),
        st.floats(0.5, 120, allow_nan=False),
    ),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(
    now_minute=st.integers(0, 24 * 60 - 1),
    second=st.integers(0, 59),
    length=st.floats(0.5, 120, allow_nan=False),
    busy=BUSY,
)
def test_the_free_time_never_overlaps_another_run_and_is_the_earliest(
    now_minute: int, second: int, length: float, busy: list[tuple[time, float]]
) -> None:
    """For any moment and other runs: the time is never behind now; it keeps clear of every
    other run's session window unless no quarter hour of the rest of today does (then it is
    the plain default); and no earlier quarter hour from the default was free."""
    now = at(MONDAY, 0) + timedelta(minutes=now_minute, seconds=second)
    first = default_time_of_day(now)
    chosen = free_time_of_day(now, length, busy)
    assert now.replace(second=0) <= at(MONDAY, chosen.hour, chosen.minute)
    assert chosen.second == 0

    def free(minute: int) -> bool:
        return not any(overlaps(minute, length, minutes_of(t), n) for t, n in busy)

    quarters = range(minutes_of(first), 24 * 60, 15)
    if any(free(q) for q in quarters):
        assert free(minutes_of(chosen))
        assert minutes_of(chosen) in quarters
        assert not any(free(q) for q in quarters if q < minutes_of(chosen))
    else:
        assert chosen == first
