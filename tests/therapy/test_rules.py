"""The session rules in the therapy domain: the factory session length, what counts as a
treatment, the deciding limit of a refusal, what a refused plan would deliver, and removing a
record from the history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.red_light_therapy.therapy.areas import DEFAULT_LIMITS, Area, Limits
from custom_components.red_light_therapy.therapy.dose import dose_for_seconds
from custom_components.red_light_therapy.therapy.errors import ErrorCode, HistoryError
from custom_components.red_light_therapy.therapy.history import (
    MIN_TREATMENT_DOSE,
    MIN_TREATMENT_SECONDS,
    History,
    SessionRecord,
    is_treatment,
)
from custom_components.red_light_therapy.therapy.irradiance import BandIrradiance
from custom_components.red_light_therapy.therapy.limits import (
    DEFAULT_SESSION_MINUTES,
    REFUSING,
    Outcome,
    ReasonCode,
    SessionRequest,
    check,
    default_session_seconds,
)
from custom_components.red_light_therapy.therapy.session import SessionStatus

from .builders import on_throughout

T = datetime(2025, 1, 8, 8, 0, tzinfo=UTC)  # a Wednesday
FULL = BandIrradiance(24.0, 36.0)  # the default BlockBlueLight profile at 15 cm, full output
WHOLE_BODY = DEFAULT_LIMITS[Area.WHOLE_BODY]


def rec(
    rid: str,
    start: datetime,
    *,
    seconds: float = 300,
    e: BandIrradiance = FULL,
    area: str = "whole_body",
    status: SessionStatus = SessionStatus.COMPLETED,
) -> SessionRecord:
    return on_throughout(
        rid, start, seconds, dose_for_seconds(e, seconds), area=area, status=status
    )


# -- the factory session length ------------------------------------------------------------


def test_the_factory_session_fits_the_default_area_at_full_output() -> None:
    """10 minutes at 60 mW/cm² would be 36 J/cm² on the whole body (20 allowed): 5 whole
    minutes (18 J/cm²) run instead, and the check lets them run unclamped."""
    seconds = default_session_seconds(WHOLE_BODY, FULL)
    assert seconds == 300
    verdict = check(SessionRequest("whole_body", seconds, FULL, T), History(), WHOLE_BODY)
    assert verdict.outcome is Outcome.ALLOWED


def test_a_dim_panel_keeps_the_factory_length() -> None:
    assert default_session_seconds(WHOLE_BODY, BandIrradiance(6.0, 6.0)) == (
        DEFAULT_SESSION_MINUTES * 60
    )


def test_a_panel_too_bright_for_a_minute_gets_whole_seconds() -> None:
    bright = BandIrradiance(200.0, 300.0)  # 20 J/cm² in 40 s
    assert default_session_seconds(WHOLE_BODY, bright) == 40


@settings(max_examples=200, deadline=None)
@given(
    area=st.sampled_from(sorted(DEFAULT_LIMITS)),
    red=st.floats(0, 400),
    nir=st.floats(0, 400),
    preferred=st.floats(0.5, 60),
)
def test_the_default_length_always_fits_every_limit_of_a_fresh_history(
    area: Area, red: float, nir: float, preferred: float
) -> None:
    """Whatever the area, the irradiance and the preferred minutes: the default session is
    allowed as it is (never clamped, never refused) on a fresh history, never longer than
    preferred, and in whole minutes whenever a minute fits."""
    limits = DEFAULT_LIMITS[area]
    e = BandIrradiance(red, nir)
    seconds = default_session_seconds(limits, e, preferred)
    assert 0 < seconds <= preferred * 60
    if seconds < preferred * 60 and seconds >= 60:
        assert seconds % 60 == 0
    verdict = check(SessionRequest(area, seconds, e, T), History(), limits, min_seconds=1)
    assert verdict.outcome is Outcome.ALLOWED, verdict


# -- what counts as a treatment --------------------------------------------------------------


def test_a_six_second_test_is_not_a_treatment_but_counts_its_dose() -> None:
    test = rec("t", T - timedelta(hours=1), seconds=6)
    history = History([test])
    assert not is_treatment(test)
    verdict = check(SessionRequest("face", 120, FULL, T), history, WHOLE_BODY)
    assert verdict.outcome is Outcome.ALLOWED
    assert history.dose_in_window(T - timedelta(days=1), T, "face", related=True).total == (
        pytest.approx(0.36)
    )


@pytest.mark.parametrize(
    ("seconds", "e", "status", "treatment"),
    [
        (MIN_TREATMENT_SECONDS, FULL, SessionStatus.COMPLETED, True),
        (MIN_TREATMENT_SECONDS - 1, FULL, SessionStatus.COMPLETED, False),
        (50, FULL, SessionStatus.STOPPED, True),  # 3 J/cm²: a wound-healing dose
        (600, BandIrradiance(0.5, 1.0), SessionStatus.COMPLETED, False),  # 0.9 J/cm²
        (600, BandIrradiance(1.0, 1.0), SessionStatus.COMPLETED, True),  # 1.2 J/cm²
        (600, FULL, SessionStatus.ABORTED, False),
    ],
)
def test_what_counts_as_a_treatment(
    seconds: float, e: BandIrradiance, status: SessionStatus, treatment: bool
) -> None:
    record = rec("r", T, seconds=seconds, e=e, status=status)
    assert is_treatment(record) is treatment
    assert (record.dose.total >= MIN_TREATMENT_DOSE) or not treatment


def test_a_record_stored_without_its_on_time_counts_its_length() -> None:
    """Records stored before the on-time was kept (on_seconds 0) are judged by their length."""
    old = SessionRecord.from_dict(rec("o", T).to_dict() | {"on_seconds": 0.0})
    assert is_treatment(old)


@settings(max_examples=100, deadline=None)
@given(
    hours_ago=st.floats(0.01, 24 * 6),
    seconds=st.floats(0.1, MIN_TREATMENT_SECONDS - 0.1),
    count=st.integers(1, 12),
)
def test_tests_never_refuse_by_spacing_or_the_weekly_count(
    hours_ago: float, seconds: float, count: int
) -> None:
    """However many short tests, however recent: no spacing or weekly refusal."""
    history = History(
        rec(str(i), T - timedelta(hours=hours_ago) + timedelta(minutes=i), seconds=seconds)
        for i in range(count)
    )
    verdict = check(SessionRequest("whole_body", 60, FULL, T), history, WHOLE_BODY)
    assert not {ReasonCode.SPACING, ReasonCode.WEEKLY_SESSIONS} & set(verdict.codes)


# -- the deciding limit ----------------------------------------------------------------------


def test_the_deciding_limit_is_the_one_freeing_last() -> None:
    """Three sessions this week (the limit), the last 2 h ago: the spacing frees in 18 h, the
    weekly count on Tuesday next week. The weekly count decides, with its own time."""
    limits = Limits(20.0, 20.0, 30.0, 20.0, 3)
    history = History(
        [
            rec("a", T - timedelta(days=1, hours=2)),  # Tuesday
            rec("b", T - timedelta(days=4, hours=2)),  # Saturday
            rec("c", T - timedelta(hours=2)),  # Wednesday
        ]
    )
    verdict = check(SessionRequest("face", 120, FULL, T), history, limits, tz=UTC)
    assert verdict.outcome is Outcome.REFUSED
    assert set(verdict.codes) == {ReasonCode.SPACING, ReasonCode.WEEKLY_SESSIONS}
    by_code = {r.code: r for r in verdict.reasons}
    assert by_code[ReasonCode.SPACING].until == T - timedelta(hours=2) + timedelta(
        seconds=300, hours=20
    )
    weekly_until = datetime(2025, 1, 11, tzinfo=UTC)  # Saturday's session leaves the 7 days
    assert by_code[ReasonCode.WEEKLY_SESSIONS].until == weekly_until
    assert verdict.deciding is by_code[ReasonCode.WEEKLY_SESSIONS]
    assert verdict.next_allowed_at == weekly_until


def test_a_limit_that_never_frees_decides() -> None:
    """Too bright for even a minute within the session dose, and spaced too closely: waiting
    for the spacing would not help, so below-minimum (never) decides."""
    history = History([rec("a", T - timedelta(hours=2))])
    bright = BandIrradiance(400.0, 400.0)  # 20 J/cm² in 25 s
    verdict = check(SessionRequest("face", 300, bright, T), history, WHOLE_BODY)
    assert verdict.deciding is not None
    assert verdict.deciding.code is ReasonCode.BELOW_MINIMUM
    assert verdict.deciding.until is None
    assert verdict.next_allowed_at is None


@settings(max_examples=150, deadline=None)
@given(
    starts=st.lists(st.floats(0.1, 24 * 7), min_size=1, max_size=9),
    seconds=st.floats(1, 1800),
    weekly=st.integers(1, 7),
    spacing=st.floats(0, 48),
)
def test_the_deciding_limit_is_when_the_request_is_next_allowed(
    starts: list[float], seconds: float, weekly: int, spacing: float
) -> None:
    """A refusal's deciding reason is the refusing reason freeing last, and its time is
    ``next_allowed_at``; asking again then is allowed."""
    limits = Limits(20.0, 20.0, 30.0, spacing, weekly)
    e = BandIrradiance(5.0, 5.0)
    history = History(
        rec(str(i), T - timedelta(hours=h), e=e) for i, h in enumerate(sorted(starts))
    )
    verdict = check(SessionRequest("face", seconds, e, T), history, limits, tz=UTC)
    if verdict.outcome is not Outcome.REFUSED:
        assert verdict.deciding is None
        return
    assert verdict.deciding is not None
    assert verdict.next_allowed_at == verdict.deciding.until
    untils = [r.until for r in verdict.reasons if r.code in REFUSING]
    decided = verdict.deciding.until
    assert (decided is None) == (None in untils)
    if decided is not None:
        assert all(u is not None and u <= decided for u in untils)
        again = check(SessionRequest("face", seconds, e, decided), history, limits, tz=UTC)
        assert again.allowed


# -- what a refused plan would deliver -------------------------------------------------------


def test_a_refused_plan_still_says_what_it_would_deliver() -> None:
    history = History([rec("a", T - timedelta(hours=2))])
    verdict = check(SessionRequest("face", 120, FULL, T), history, WHOLE_BODY)
    assert verdict.outcome is Outcome.REFUSED
    assert verdict.allowed_seconds == 0
    assert verdict.deliverable_seconds == 120
    assert verdict.deliverable_dose.total == pytest.approx(7.2)
    # Within the per-session limits: 10 minutes at full output would be 36 J/cm².
    verdict = check(SessionRequest("face", 600, FULL, T), history, WHOLE_BODY)
    assert verdict.deliverable_seconds == 333
    assert verdict.deliverable_dose.total <= WHOLE_BODY.max_session_dose


def test_an_allowed_plan_delivers_what_it_allows() -> None:
    verdict = check(SessionRequest("face", 600, FULL, T), History(), WHOLE_BODY)
    assert verdict.outcome is Outcome.CLAMPED
    assert verdict.deliverable_seconds == verdict.allowed_seconds
    assert verdict.deliverable_dose == verdict.expected_dose


# -- removing a record -----------------------------------------------------------------------


def test_removing_a_record_gives_its_dose_and_its_lockout_back() -> None:
    first = rec("a", T - timedelta(days=2), seconds=1800)  # the longest record
    typo = rec("b", T - timedelta(hours=1))
    history = History([first, typo])
    request = SessionRequest("face", 120, FULL, T)
    assert check(request, history, WHOLE_BODY).outcome is Outcome.REFUSED

    assert history.remove("b") == typo

    assert "b" not in history
    assert list(history) == [first]
    assert check(request, history, WHOLE_BODY).outcome is Outcome.ALLOWED
    assert history.remove("a") == first
    assert len(history) == 0
    history.append(typo)  # the id can be used again, and windows still find it
    assert history.records_overlapping(T - timedelta(hours=2), T) == [typo]
    with pytest.raises(HistoryError) as err:
        history.remove("a")
    assert err.value.code is ErrorCode.UNKNOWN_RECORD
