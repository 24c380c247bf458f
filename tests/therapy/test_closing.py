"""Closing a session, backdating an unplanned start, and the restart decision: the rules the
session manager carries out, tested without Home Assistant."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.red_light_therapy.therapy.irradiance import BandIrradiance
from custom_components.red_light_therapy.therapy.reconcile import (
    Reconciliation,
    RestartAction,
    reconcile,
)
from custom_components.red_light_therapy.therapy.session import (
    LOOK_MARGIN_S,
    Session,
    SessionStatus,
    UnplannedStart,
    backdated_start,
    start_found_on,
    unplanned_start,
)

from .conftest import T0

E = BandIrradiance(20.0, 30.0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def running(planned: float = 600, *, started: float = 0, deadline: float | None = None) -> Session:
    session = Session(id="s1", area="face", distance_cm=15, planned_seconds=planned, irradiance=E)
    session.start(at(started))
    if deadline is not None:
        session.device_deadline = at(deadline)
    return session


# -- Session.close ---------------------------------------------------------------------------


def test_close_is_capped_at_the_panels_countdown() -> None:
    """The panel's countdown switched it off at 600 s: an off heard at 700 s records 600 s."""
    session = running(deadline=600)
    assert session.close(at(700), SessionStatus.STOPPED) is SessionStatus.COMPLETED
    assert session.ended_at == at(600)
    assert session.on_seconds(at(900)) == 600
    assert session.device_deadline is None


def test_close_before_the_countdown_keeps_the_time_heard() -> None:
    session = running(deadline=600)
    assert session.close(at(300), SessionStatus.STOPPED) is SessionStatus.STOPPED
    assert session.ended_at == at(300)


def test_close_never_goes_before_the_last_event() -> None:
    """A countdown deadline earlier than the last event (a resume after it) is not obeyed."""
    session = running(deadline=100)
    session.pause(at(200))
    session.resume(at(300))
    session.device_deadline = at(250)
    session.close(at(400), SessionStatus.STOPPED)
    assert session.ended_at == at(300)


def test_a_paused_session_ignores_the_countdown() -> None:
    session = running(deadline=100)
    session.pause(at(50))
    session.device_deadline = at(100)
    assert session.close(at(500), SessionStatus.STOPPED) is SessionStatus.STOPPED
    assert session.ended_at == at(500)


def test_a_stop_within_a_second_of_the_end_completes() -> None:
    session = running(600)
    assert session.close(at(599.5), SessionStatus.STOPPED) is SessionStatus.COMPLETED


def test_an_aborted_session_never_completes() -> None:
    session = running(600)
    assert session.close(at(600), SessionStatus.ABORTED) is SessionStatus.ABORTED


def test_a_stop_can_stay_a_stop_at_the_end() -> None:
    """A removed panel's session is recorded as stopped, even at its planned end."""
    session = running(600)
    closed = session.close(at(600), SessionStatus.STOPPED, stop_at_end_completes=False)
    assert closed is SessionStatus.STOPPED
    assert session.status is SessionStatus.STOPPED


@settings(max_examples=200, deadline=None)
@given(
    planned=st.floats(min_value=1, max_value=3600),
    off=st.floats(min_value=0, max_value=7200),
    deadline=st.one_of(st.none(), st.floats(min_value=0, max_value=7200)),
)
def test_close_records_the_earliest_off_the_panel_could_have_had(
    planned: float, off: float, deadline: float | None
) -> None:
    """Whatever was heard, the recorded end is the off-time capped by the countdown and
    floored by the start; the on-time recorded is exactly that."""
    session = running(planned, deadline=deadline)
    session.close(at(off), SessionStatus.STOPPED)
    expected = min(off, deadline) if deadline is not None else off
    assert session.ended_at == at(max(expected, 0))
    assert session.on_seconds(at(10_000)) == pytest.approx(max(expected, 0), abs=1e-6)
    assert session.is_final


# -- backdated_start -------------------------------------------------------------------------


def test_an_unplanned_start_is_backdated_by_its_countdown() -> None:
    """A countdown set to 600 s with 540 s left has been on for a minute."""
    assert backdated_start(at(100), 600, 540) == at(40)


@pytest.mark.parametrize(("set_s", "remaining"), [(None, None), (0, 0), (600, None)])
def test_without_a_countdown_the_start_is_when_it_was_seen(
    set_s: int | None, remaining: int | None
) -> None:
    assert backdated_start(at(100), set_s, remaining) == at(100)


@settings(max_examples=200, deadline=None)
@given(set_s=st.integers(1, 86_400), remaining=st.integers(0, 100_000))
def test_a_backdated_start_lies_within_the_countdown(set_s: int, remaining: int) -> None:
    start = backdated_start(at(100_000), set_s, remaining)
    assert at(100_000 - set_s) <= start <= at(100_000)


# -- unplanned_start -------------------------------------------------------------------------

LOOK = 300.0
"""A Wi-Fi panel's look interval (seconds)."""


def test_a_press_found_by_a_look_counts_from_the_last_look_that_saw_it_off() -> None:
    start = unplanned_start(
        at(1000),
        timer_set_s=None,
        timer_remaining_s=None,
        seen_off_at=at(760),
        look_interval_s=LOOK,
    )
    assert start.at == at(760)
    assert start.estimated


def test_a_press_pushed_on_a_watching_link_counts_from_the_push() -> None:
    """The link saw the panel off until the push: nothing to estimate."""
    start = unplanned_start(
        at(1000),
        timer_set_s=None,
        timer_remaining_s=None,
        seen_off_at=at(1000),
        look_interval_s=LOOK,
    )
    assert start.at == at(1000)
    assert not start.estimated


@pytest.mark.parametrize("seen_off", [None, -10_000.0])
def test_never_seen_off_lately_counts_one_look_back(seen_off: float | None) -> None:
    start = unplanned_start(
        at(1000),
        timer_set_s=None,
        timer_remaining_s=None,
        seen_off_at=None if seen_off is None else at(seen_off),
        look_interval_s=LOOK,
    )
    assert start.at == at(1000 - LOOK - LOOK_MARGIN_S)
    assert start.estimated


def test_a_countdown_dates_the_start_exactly() -> None:
    start = unplanned_start(
        at(1000), timer_set_s=600, timer_remaining_s=540, seen_off_at=at(800), look_interval_s=LOOK
    )
    assert start.at == at(940)
    assert not start.estimated


def test_a_countdown_at_zero_dates_nothing() -> None:
    """A panel on with its countdown at zero is not counting: the countdown remembered from
    the session before (240 s armed, now 0) says nothing of when the button was pressed."""
    start = unplanned_start(
        at(1000),
        timer_set_s=240,
        timer_remaining_s=0,
        seen_off_at=at(800),
        look_interval_s=LOOK,
        not_before=at(700),
    )
    assert start.at == at(800)
    assert start.estimated


def test_a_countdown_never_dates_a_start_into_the_session_before() -> None:
    """A countdown armed elsewhere, read against a remembered setting, cannot put the start
    before the panel's last session ended."""
    start = unplanned_start(
        at(1000),
        timer_set_s=600,
        timer_remaining_s=100,
        seen_off_at=at(800),
        look_interval_s=LOOK,
        not_before=at(700),
    )
    assert start.at == at(700)


def test_never_before_the_panels_last_session_ended() -> None:
    start = unplanned_start(
        at(1000),
        timer_set_s=None,
        timer_remaining_s=None,
        seen_off_at=None,
        look_interval_s=LOOK,
        not_before=at(900),
    )
    assert start.at == at(900)


@settings(max_examples=300, deadline=None)
@given(
    seen_on=st.floats(0, 1e6),
    off_before=st.none() | st.floats(-1e5, 1e6),
    ended_before=st.none() | st.floats(-1e5, 1e6),
    look=st.floats(0, 3600),
)
def test_an_unplanned_start_lies_between_the_last_sight_off_and_the_sight_on(
    seen_on: float, off_before: float | None, ended_before: float | None, look: float
) -> None:
    """Never after it was seen on, never before it was last seen off (nor its last session's
    end), never more than one look (and the margin) before it was seen on."""
    seen_off = None if off_before is None else at(seen_on - off_before)
    ended = None if ended_before is None else at(seen_on - ended_before)
    start = unplanned_start(
        at(seen_on),
        timer_set_s=None,
        timer_remaining_s=None,
        seen_off_at=seen_off,
        look_interval_s=look,
        not_before=ended,
    )
    assert start.at <= at(seen_on)
    assert start.at >= at(seen_on) - timedelta(seconds=look + LOOK_MARGIN_S)
    for known in (seen_off, ended):
        if known is not None and known <= at(seen_on):
            assert start.at >= known
    assert start.estimated == (start.at < at(seen_on))


@settings(max_examples=200, deadline=None)
@given(
    set_s=st.integers(1, 86_400),
    remaining=st.integers(1, 100_000),
    seen_off=st.none() | st.floats(0, 1e5),
)
def test_a_countdown_wins_over_the_sight_off(
    set_s: int, remaining: int, seen_off: float | None
) -> None:
    """A running countdown (at zero it dates nothing, see above) dates the start exactly."""
    start = unplanned_start(
        at(100_000),
        timer_set_s=set_s,
        timer_remaining_s=remaining,
        seen_off_at=None if seen_off is None else at(seen_off),
        look_interval_s=LOOK,
    )
    assert start.at == backdated_start(at(100_000), set_s, remaining)
    assert not start.estimated


# -- start_found_on ---------------------------------------------------------------------------


def test_a_start_that_finds_the_panel_on_runs_its_plan_from_when_it_came_on() -> None:
    """Pressed at the panel 70 s before the start: the plan runs from then, not from the start."""
    counted = start_found_on(UnplannedStart(at(0), True), at(70), 600)
    assert counted.at == at(0)
    assert counted.estimated
    assert counted.planned_seconds == 600  # ends 600 s after it may have come on
    assert not counted.reached


def test_a_start_that_finds_the_plan_emitted_ends_at_once_with_all_it_shone() -> None:
    counted = start_found_on(UnplannedStart(at(0), True), at(200), 60)
    assert counted.reached
    assert counted.planned_seconds == 200  # never clamped below what it emitted


def test_a_countdown_dated_start_is_no_estimate() -> None:
    counted = start_found_on(UnplannedStart(at(30), False), at(70), 600)
    assert counted.at == at(30)
    assert not counted.estimated


@settings(max_examples=300, deadline=None)
@given(
    since=st.floats(-1e5, 1e5),
    estimated=st.booleans(),
    acked=st.floats(0, 1e5),
    planned=st.floats(1, 1e5),
)
def test_a_start_found_on_emits_the_plan_in_all_and_never_counts_less_than_it_shone(
    since: float, estimated: bool, acked: float, planned: float
) -> None:
    """Counted from no later than the acknowledgement; the plan from there is what the limits
    approved, unless it had already shone longer: then it ends at once, all of it recorded."""
    counted = start_found_on(UnplannedStart(at(since), estimated), at(acked), planned)
    assert counted.at == min(at(since), at(acked))
    emitted = (at(acked) - counted.at).total_seconds()
    assert counted.planned_seconds >= emitted
    assert counted.reached == (emitted >= planned)
    if not counted.reached:
        assert counted.planned_seconds == planned
    assert counted.estimated == (estimated and counted.at < at(acked))


# -- reconcile --------------------------------------------------------------------------------


@pytest.mark.parametrize("panel_on", [True, False])
def test_nothing_open_or_paused_is_kept(panel_on: bool) -> None:
    assert reconcile(None, at(0), panel_on).action is RestartAction.KEEP
    session = running()
    session.pause(at(10))
    assert reconcile(session, at(20), panel_on).action is RestartAction.KEEP


@pytest.mark.parametrize("panel_on", [True, False])
def test_a_session_that_never_started_is_dropped(panel_on: bool) -> None:
    session = Session(id="s1", area="face", distance_cm=15, planned_seconds=60, irradiance=E)
    assert reconcile(session, at(0), panel_on) == Reconciliation(
        RestartAction.DROP, switch_off=panel_on
    )


def test_an_overdue_session_still_on_is_finished() -> None:
    assert reconcile(running(600), at(600), True).action is RestartAction.FINISH


def test_a_session_still_due_and_on_continues() -> None:
    assert reconcile(running(600), at(599), True).action is RestartAction.CONTINUE


@pytest.mark.parametrize(("now", "closed"), [(300, 300), (900, 600)])
def test_a_session_off_already_is_closed_at_its_end_or_now(now: float, closed: float) -> None:
    assert reconcile(running(600), at(now), False) == Reconciliation(
        RestartAction.CLOSE, close_at=at(closed)
    )
