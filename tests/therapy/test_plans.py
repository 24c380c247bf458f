"""Plans across 12 weeks, daylight-saving changes, misses, catch-ups, pauses."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
import json
from zoneinfo import ZoneInfo

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.red_light_therapy.therapy.areas import default_limits
from custom_components.red_light_therapy.therapy.dose import BandDose
from custom_components.red_light_therapy.therapy.errors import (
    ErrorCode,
    PlanError,
    ProtocolError,
    StoredDataError,
    TherapyError,
)
from custom_components.red_light_therapy.therapy.history import History, SessionRecord
from custom_components.red_light_therapy.therapy.plans import (
    MAX_START_AHEAD_DAYS,
    MissedPolicy,
    ProtocolPlan,
    ProtocolPlanStatus,
    SlotStatus,
    check_start_date,
    default_time_of_day,
)
from custom_components.red_light_therapy.therapy.protocols import PRESET_PROTOCOLS
from custom_components.red_light_therapy.therapy.session import SessionStatus

from .builders import session_record, skin_run as plan

BERLIN = ZoneInfo("Europe/Berlin")
SKIN = PRESET_PROTOCOLS["skin_rejuvenation"]  # 2 a week, 15 weeks, 40 h
HAIR = PRESET_PROTOCOLS["hair_growth"]  # 3 a week, 16 weeks
MON, WED, THU, FRI, SUN = 0, 2, 3, 4, 6


def session_on(
    day: date,
    *,
    rid: str | None = None,
    at: time = time(7, 35),
    status: SessionStatus = SessionStatus.COMPLETED,
    dose: float = 9.0,
    area: str = "face",
) -> SessionRecord:
    start = datetime.combine(day, at, tzinfo=BERLIN)
    return session_record(
        rid or f"{area}-{day.isoformat()}-{at}",
        start,
        length=timedelta(minutes=5),
        dose=BandDose(dose / 2, dose / 2),
        area=area,
        status=status,
        panel_id="panel",
    )


def local(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=BERLIN)


def test_twelve_weeks_across_spring_dst_with_misses() -> None:
    p = plan()
    slots = [s.date for s in p.evaluate(History(), local(date(2025, 3, 1))).sessions]
    assert len(slots) == 30
    assert slots[0] == date(2025, 3, 3)
    missed = {date(2025, 3, 13), date(2025, 4, 21)}
    history = History(session_on(d) for d in slots[:24] if d not in missed)
    now = local(date(2025, 5, 26), 6)  # Monday of week 13, before 07:30
    report = p.evaluate(history, now)
    by_date = {s.date: s for s in report.sessions}
    # 07:30 local before and after the change on 30 March
    before, after = by_date[date(2025, 3, 27)], by_date[date(2025, 3, 31)]
    assert before.scheduled_at.astimezone(BERLIN).time() == time(7, 30)
    assert after.scheduled_at.astimezone(BERLIN).time() == time(7, 30)
    assert before.scheduled_at.utcoffset() == timedelta(hours=1)
    assert after.scheduled_at.utcoffset() == timedelta(hours=2)
    assert by_date[date(2025, 3, 13)].status is SlotStatus.MISSED
    assert by_date[date(2025, 3, 6)].status is SlotStatus.DONE
    assert by_date[date(2025, 3, 6)].record_id is not None
    assert report.done == 22
    assert report.missed == 2
    assert report.skipped == 0
    assert report.total == 30
    assert report.progress_percent == pytest.approx(22 / 30 * 100)
    assert report.adherence_percent == pytest.approx(22 / 24 * 100)
    assert report.streak == 24 - 1 - slots.index(date(2025, 4, 21))
    assert report.next_due is not None
    assert report.next_due.date == date(2025, 5, 26)
    assert report.next_due.status is SlotStatus.UPCOMING
    assert not report.finished
    # later that morning the session is due, then missed the next day
    assert p.evaluate(history, local(date(2025, 5, 26), 9)).next_due.status is SlotStatus.DUE  # type: ignore[union-attr]
    assert p.evaluate(history, local(date(2025, 5, 27), 9)).missed == 3


def test_finished_course() -> None:
    p = plan()
    slots = [s.date for s in p.evaluate(History(), local(date(2025, 3, 1))).sessions]
    history = History(session_on(d) for d in slots)
    report = p.evaluate(history, local(slots[-1] + timedelta(days=1)))
    assert report.finished
    assert report.progress_percent == 100
    assert report.streak == 30
    assert report.next_due is None
    p.complete()
    assert p.status is ProtocolPlanStatus.COMPLETED


def test_no_sessions_yet() -> None:
    report = plan().evaluate(History(), local(date(2025, 3, 1)))
    assert report.adherence_percent is None
    assert report.streak == 0
    assert report.next_due.date == date(2025, 3, 3)  # type: ignore[union-attr]


def test_done_means_completed_or_most_of_the_dose() -> None:
    day = date(2025, 3, 3)
    p = plan()
    for dose, status, expected in (
        (8.0, SessionStatus.STOPPED, SlotStatus.DONE),
        (5.0, SessionStatus.STOPPED, SlotStatus.MISSED),
        (1.0, SessionStatus.COMPLETED, SlotStatus.DONE),
    ):
        history = History([session_on(day, dose=dose, status=status)])
        assert p.evaluate(history, local(date(2025, 3, 4))).sessions[0].status is expected
    # another area does not count; one session satisfies one planned session only
    other = History([session_on(day, area="knee")])
    assert p.evaluate(other, local(date(2025, 3, 4))).sessions[0].status is SlotStatus.MISSED


def test_catch_up_on_next_allowed_day() -> None:
    p = plan(missed_policy=MissedPolicy.CATCH_UP)
    history = History([session_on(date(2025, 3, 3)), session_on(date(2025, 3, 6))])
    # Monday 10 March missed: Tuesday is 48 h before Thursday (>= 40 h) -> catch up Tuesday
    pending = p.evaluate(history, local(date(2025, 3, 11), 6))
    slot = pending.sessions[2]
    assert slot.original_date == date(2025, 3, 10)
    assert slot.date == date(2025, 3, 11)
    assert slot.catch_up
    assert slot.status is SlotStatus.UPCOMING
    assert pending.next_due == slot
    assert p.evaluate(history, local(date(2025, 3, 11), 9)).sessions[2].status is SlotStatus.DUE
    # caught up
    history.append(session_on(date(2025, 3, 11)))
    done = p.evaluate(history, local(date(2025, 3, 12)))
    assert done.sessions[2].status is SlotStatus.DONE
    assert done.sessions[2].catch_up
    assert done.missed == 0
    assert done.streak == 3
    # not caught up either: missed for good
    lapsed = p.evaluate(
        History([session_on(date(2025, 3, 3)), session_on(date(2025, 3, 6))]),
        local(date(2025, 3, 12)),
    )
    assert lapsed.sessions[2].status is SlotStatus.MISSED
    assert lapsed.sessions[2].catch_up


def test_catch_up_respects_spacing_and_weekly_limits() -> None:
    # Thursday 6 March missed: Fri 7 is 72 h before Mon 10 -> fine
    p = plan(missed_policy=MissedPolicy.CATCH_UP)
    history = History([session_on(date(2025, 3, 3))])
    report = p.evaluate(history, local(date(2025, 3, 7), 6))
    assert report.sessions[1].date == date(2025, 3, 7)
    # a whole-body session (shares skin) on Thursday 06:00 pushes it by spacing:
    # Fri 07:30 is 25 h later (< 40 h), Sat 07:30 is 49 h later and 48 h before Monday
    history.append(session_on(date(2025, 3, 6), area="whole_body", at=time(6, 0)))
    report = p.evaluate(history, local(date(2025, 3, 7), 6))
    assert report.sessions[1].date == date(2025, 3, 8)
    # a weekly limit of 2 leaves no day before Monday
    strict = default_limits("face").with_changes(max_sessions_per_week=2)
    p2 = plan(missed_policy=MissedPolicy.CATCH_UP, limits=strict)
    report = p2.evaluate(history, local(date(2025, 3, 7), 6))
    assert report.sessions[1].status is SlotStatus.MISSED
    assert not report.sessions[1].catch_up


def test_every_other_day_protocol_cannot_catch_up() -> None:
    p = plan(
        protocol=HAIR,
        area="scalp",
        weekdays=frozenset({MON, WED, FRI}),
        missed_policy=MissedPolicy.CATCH_UP,
    )
    report = p.evaluate(History(), local(date(2025, 3, 4)))
    assert report.sessions[0].status is SlotStatus.MISSED
    assert not report.sessions[0].catch_up
    assert report.total == 48


def test_last_session_catch_up_window_is_a_week() -> None:
    short = SKIN.with_changes(weeks=1)
    p = plan(protocol=short, missed_policy=MissedPolicy.CATCH_UP)
    history = History([session_on(date(2025, 3, 3))])
    report = p.evaluate(history, local(date(2025, 3, 7)))
    assert report.sessions[1].date == date(2025, 3, 7)
    assert not report.finished


def test_october_dst_and_impossible_local_times() -> None:
    # 02:30 on Sundays: 26 Oct 2025 it happens twice (first taken); 30 Mar it never happens
    weekly = SKIN.with_changes(sessions_per_week=1, weeks=36)
    p = plan(
        protocol=weekly,
        weekdays=frozenset({SUN}),
        time_of_day=time(2, 30),
        start_date=date(2025, 3, 23),
    )
    sessions = {s.date: s for s in p.evaluate(History(), local(date(2025, 3, 1))).sessions}
    spring = sessions[date(2025, 3, 30)].scheduled_at
    assert spring.astimezone(UTC) == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    assert spring.astimezone(BERLIN).time() == time(3, 30)
    autumn = sessions[date(2025, 10, 26)].scheduled_at
    assert autumn.astimezone(UTC) == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)  # CEST 02:30
    assert sessions[date(2025, 11, 2)].scheduled_at.utcoffset() == timedelta(hours=1)
    # a Monday/Thursday course across the October change keeps 07:30
    p2 = plan(start_date=date(2025, 10, 20))
    history = History([session_on(date(2025, 10, 20)), session_on(date(2025, 10, 23))])
    report = p2.evaluate(history, local(date(2025, 10, 28)))
    assert report.sessions[2].date == date(2025, 10, 27)
    assert report.sessions[2].scheduled_at.astimezone(BERLIN).time() == time(7, 30)
    assert report.sessions[2].status is SlotStatus.MISSED
    assert report.done == 2


def test_skip_dates() -> None:
    p = plan()
    p.skip(date(2025, 3, 6))
    report = p.evaluate(History([session_on(date(2025, 3, 3))]), local(date(2025, 3, 11)))
    assert [s.status for s in report.sessions[:3]] == [
        SlotStatus.DONE,
        SlotStatus.SKIPPED,
        SlotStatus.MISSED,
    ]
    assert report.progress_percent == pytest.approx(100 / 29)
    assert report.adherence_percent == 50
    assert report.streak == 0


def test_pause_and_resume_shift_the_rest() -> None:
    p = plan()
    plain = p.evaluate(History(), local(date(2025, 3, 1))).sessions
    p.pause(local(date(2025, 3, 12)))
    assert p.status is ProtocolPlanStatus.PAUSED
    paused = p.evaluate(History(), local(date(2025, 3, 20)))
    assert [s.date for s in paused.sessions] == [
        date(2025, 3, 3),
        date(2025, 3, 6),
        date(2025, 3, 10),
    ]
    assert paused.next_due is None
    assert not paused.finished
    p.resume(local(date(2025, 3, 24), 0))
    resumed = p.evaluate(History(), local(date(2025, 3, 20))).sessions
    assert len(resumed) == 30
    dates = [s.date for s in resumed]
    assert date(2025, 3, 13) not in dates
    assert date(2025, 3, 20) not in dates
    assert dates[3] == date(2025, 3, 24)
    # three sessions fell in the pause: the course ends three sessions later
    assert plain[-1].date == date(2025, 6, 12)
    assert resumed[-1].date == date(2025, 6, 23)
    with pytest.raises(PlanError) as err:
        p.pause(local(date(2025, 3, 23)))
    assert err.value.code is ErrorCode.TIME_BEFORE_LAST_EVENT


def test_stop() -> None:
    p = plan()
    p.pause(local(date(2025, 3, 12)))
    p.stop(local(date(2025, 3, 14)))
    assert p.status is ProtocolPlanStatus.STOPPED
    report = p.evaluate(History([session_on(date(2025, 3, 3))]), local(date(2025, 4, 1)))
    assert len(report.sessions) == 3
    assert report.finished
    assert report.next_due is None
    p2 = plan()
    p2.stop(local(date(2025, 3, 5)))
    assert len(p2.evaluate(History(), local(date(2025, 3, 8))).sessions) == 1


@pytest.mark.parametrize(
    ("steps", "action"),
    [
        ([], "resume"),
        (["pause"], "pause"),
        (["pause"], "complete"),
        (["stop"], "stop"),
        (["stop"], "pause"),
        (["stop"], "skip"),
    ],
)
def test_illegal_transitions(steps: list[str], action: str) -> None:
    p = plan()
    t = local(date(2025, 3, 12))
    for step in steps:
        getattr(p, step)(t)
    calls = {
        "skip": lambda: p.skip(date(2025, 3, 13)),
        "complete": p.complete,
        "pause": lambda: p.pause(t),
        "resume": lambda: p.resume(t),
        "stop": lambda: p.stop(t),
    }
    with pytest.raises(PlanError) as err:
        calls[action]()
    assert err.value.code is ErrorCode.INVALID_TRANSITION


@pytest.mark.parametrize(
    "changes",
    [
        {"id": ""},
        {"tz": UTC},
        {"start_date": datetime(2025, 3, 3, tzinfo=UTC)},
        {"weekdays": frozenset()},
        {"weekdays": frozenset({0, 7})},
        {"weekdays": frozenset({MON})},
        {"weekdays": frozenset({MON, 1})},
    ],
)
def test_invalid_plans(changes: dict[str, object]) -> None:
    with pytest.raises(PlanError) as err:
        plan(**changes)
    assert err.value.code is ErrorCode.INVALID_PLAN


def test_plan_validates_protocol_for_its_area() -> None:
    with pytest.raises(ProtocolError):
        plan(protocol=HAIR, area="face", weekdays=frozenset({MON, WED, FRI}))
    with pytest.raises(TherapyError) as err:
        plan(area="eyes")
    assert err.value.code is ErrorCode.EYE_AREA_FORBIDDEN


def test_round_trip() -> None:
    p = plan(
        missed_policy=MissedPolicy.CATCH_UP,
        limits=default_limits("face").with_changes(max_sessions_per_week=4),
    )
    p.skip(date(2025, 3, 6))
    p.pause(local(date(2025, 3, 12)))
    p.resume(local(date(2025, 3, 20)))
    data = json.loads(json.dumps(p.to_dict()))
    again = ProtocolPlan.from_dict(data)
    assert again == p
    assert again.to_dict() == p.to_dict()
    assert ProtocolPlan.from_dict(plan().to_dict()) == plan()
    bad = dict(data, tz="Mars/Olympus")
    with pytest.raises(StoredDataError):
        ProtocolPlan.from_dict(bad)
    with pytest.raises(StoredDataError):
        ProtocolPlan.from_dict({"id": "x"})


# -- a run starts when it is created -----------------------------------------------------------


def test_a_new_run_never_plans_a_session_before_it_was_created() -> None:
    """Created on Monday at 09:00 with sessions at 07:30: Monday's 07:30 is not planned and
    not missed; the course starts on Thursday and keeps its 30 sessions."""
    created = datetime.combine(date(2025, 3, 3), time(9), tzinfo=BERLIN)
    p = plan(created_at=created)
    report = p.evaluate(History(), created)
    assert report.sessions[0].date == date(2025, 3, 6)
    assert report.next_due == report.sessions[0]
    assert len(report.sessions) == report.total == 30
    assert report.missed == 0
    assert plan().evaluate(History(), created).sessions[0].date == date(2025, 3, 3)


def test_a_session_recorded_before_the_run_never_counts_for_it() -> None:
    """A face session at 07:35, then a run created at 08:00 whose first session is at 20:00 the
    same day: that session is still to do."""
    created = datetime.combine(date(2025, 3, 3), time(8), tzinfo=BERLIN)
    before = session_on(date(2025, 3, 3), at=time(7, 35))
    after = session_on(date(2025, 3, 3), at=time(20, 1))
    history = History([before])
    p = plan(created_at=created, time_of_day=time(20))
    report = p.evaluate(history, local(date(2025, 3, 3), 21))
    assert report.done == 0
    assert report.sessions[0].status is SlotStatus.DUE
    assert plan(time_of_day=time(20)).evaluate(history, local(date(2025, 3, 3), 21)).done == 1
    report = p.evaluate(History([before, after]), local(date(2025, 3, 3), 21))
    assert report.done == 1
    assert report.sessions[0].record_id == after.id


def test_created_at_survives_a_round_trip() -> None:
    created = datetime(2025, 3, 3, 8, tzinfo=UTC)
    p = plan(created_at=created)
    back = ProtocolPlan.from_dict(json.loads(json.dumps(p.to_dict())))
    assert back.created_at == created
    assert ProtocolPlan.from_dict({**p.to_dict(), "created_at": None}).created_at is None


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (time(18, 7), time(18, 15)),
        (time(18, 0), time(18, 0)),
        (time(18, 0, 1), time(18, 15)),
        (time(18, 45, 30), time(19, 0)),
        (time(23, 50), time(23, 59)),
        (time(0, 0), time(0, 0)),
    ],
)
def test_default_time_of_day_is_never_behind_now(now: time, expected: time) -> None:
    assert default_time_of_day(datetime.combine(date(2025, 3, 5), now, tzinfo=BERLIN)) == expected


def test_start_dates_from_today_to_a_year_ahead() -> None:
    today = date(2025, 3, 3)
    assert check_start_date(today, today) == today
    latest = today + timedelta(days=MAX_START_AHEAD_DAYS)
    assert check_start_date(latest, today) == latest
    with pytest.raises(PlanError) as err:
        check_start_date(date(2020, 1, 1), today)
    assert err.value.code is ErrorCode.START_DATE_IN_PAST
    assert err.value.placeholders == {"date": "2020-01-01", "today": "2025-03-03"}
    with pytest.raises(PlanError) as err:
        check_start_date(latest + timedelta(days=1), today)
    assert err.value.code is ErrorCode.START_DATE_TOO_LATE
    assert err.value.placeholders["latest"] == latest.isoformat()


def test_a_plan_whose_dates_run_off_the_calendar_is_refused() -> None:
    """A stored run starting 9999-12-31 is refused on loading (logged and ignored by the
    glue) instead of raising OverflowError on every evaluation."""
    with pytest.raises(PlanError) as err:
        plan(start_date=date(9999, 12, 31))
    assert err.value.code is ErrorCode.START_DATE_TOO_LATE
    with pytest.raises(TherapyError):
        ProtocolPlan.from_dict(plan().to_dict() | {"start_date": "9999-12-31"})


def test_a_stopped_run_keeps_no_pending_session() -> None:
    """Stopped at 08:00 on a session day: the 07:30 session (due, not done) is dropped, as is
    everything after; what was done stays."""
    p = plan()
    history = History([session_on(date(2025, 3, 3))])
    stop_at = datetime.combine(date(2025, 3, 6), time(8), tzinfo=BERLIN)
    p.stop(stop_at)
    report = p.evaluate(history, stop_at)
    assert [s.status for s in report.sessions] == [SlotStatus.DONE]
    assert report.next_due is None
    assert report.finished


@settings(max_examples=100, deadline=None)
@given(
    minutes=st.integers(0, 24 * 60 - 1),
    seconds=st.integers(0, 59),
    day_offset=st.integers(0, 6),
    sessions_before=st.integers(0, 3),
)
def test_a_new_run_starts_ahead_and_counts_nothing_before_it(
    minutes: int, seconds: int, day_offset: int, sessions_before: int
) -> None:
    """Whenever a run is created with the default time of day: its first session lies at or
    after its creation, on its start day or within a week, the course keeps its length, and
    sessions recorded earlier that day on its area count for nothing."""
    day = date(2025, 3, 3) + timedelta(days=day_offset)
    created = datetime.combine(day, time(minutes // 60, minutes % 60, seconds), tzinfo=BERLIN)
    history = History(
        [
            session_on(day, at=time(0, k * 2), rid=f"before-{k}")
            for k in range(sessions_before)
            if datetime.combine(day, time(0, k * 2 + 5), tzinfo=BERLIN) <= created
        ]
    )
    p = plan(
        start_date=day,
        weekdays=frozenset({day.weekday(), (day.weekday() + 3) % 7}),
        time_of_day=default_time_of_day(created),
        created_at=created,
    )
    report = p.evaluate(history, created)
    first = report.sessions[0]
    assert first.scheduled_at >= created
    assert first.date - day <= timedelta(days=7)
    assert report.done == 0
    assert report.missed == 0
    assert len(report.sessions) == report.total
