"""Property-based invariants of the dose model, sessions and the safety check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.red_light_therapy.therapy.areas import DEFAULT_LIMITS, Limits
from custom_components.red_light_therapy.therapy.bands import DoseBand
from custom_components.red_light_therapy.therapy.dose import dose_for_seconds, seconds_for_dose
from custom_components.red_light_therapy.therapy.history import (
    History,
    SessionRecord,
    is_treatment,
)
from custom_components.red_light_therapy.therapy.irradiance import (
    BandIrradiance,
    ChannelSpec,
    IrradianceProfile,
    MeasuredPoint,
)
from custom_components.red_light_therapy.therapy.limits import (
    DAILY_WINDOW,
    Outcome,
    SessionRequest,
    check,
    check_extension,
    fit_running,
)
from custom_components.red_light_therapy.therapy.session import (
    Session,
    SessionOrigin,
    SessionStatus,
)

from .builders import new_session

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
REL = 1e-9

irradiances = st.builds(
    BandIrradiance,
    st.floats(0, 500, allow_nan=False),
    st.floats(0, 500, allow_nan=False),
)
positive_irradiances = irradiances.filter(lambda e: e.total > 0.01)
limits_st = st.builds(
    lambda dose, minutes, headroom, spacing, weekly: Limits(
        dose, minutes, dose * headroom, spacing, weekly
    ),
    st.floats(0.5, 100),
    st.floats(1, 60),
    st.floats(1, 3),
    st.floats(0, 72),
    st.integers(1, 7),
)


@given(irradiances, st.floats(0, 1e5), st.floats(0, 1e5))
def test_dose_grows_with_time(e: BandIrradiance, a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert dose_for_seconds(e, lo).total <= dose_for_seconds(e, hi).total


@given(positive_irradiances, st.floats(0, 1000), st.sampled_from(list(DoseBand)))
def test_dose_duration_round_trip(e: BandIrradiance, dose: float, band: DoseBand) -> None:
    if e.for_band(band) <= 0.01:
        return
    seconds = seconds_for_dose(e, dose, band)
    assert dose_for_seconds(e, seconds).for_band(band) == pytest.approx(dose, rel=1e-9, abs=1e-9)


@given(positive_irradiances, st.floats(0, 1e5))
def test_duration_dose_round_trip(e: BandIrradiance, seconds: float) -> None:
    assert seconds_for_dose(e, dose_for_seconds(e, seconds).total) == pytest.approx(
        seconds, rel=1e-9, abs=1e-6
    )


@st.composite
def timelines(draw: st.DrawFn) -> list[tuple[str, float]]:
    """Alternating on/off spans in seconds, starting on."""
    spans = draw(st.lists(st.floats(0, 3600), min_size=1, max_size=12))
    return [("on" if i % 2 == 0 else "off", s) for i, s in enumerate(spans)]


@given(irradiances, timelines(), st.floats(0, 10_000))
def test_paused_time_adds_nothing_and_on_time_adds(
    e: BandIrradiance, timeline: list[tuple[str, float]], probe: float
) -> None:
    session = Session(id="p", area="face", distance_cm=15, planned_seconds=1, irradiance=e)
    t = T0
    session.start(t)
    on_total = 0.0
    previous = session.delivered(t).total
    for state, span in timeline:
        t_next = t + timedelta(seconds=span)
        now = session.delivered(t_next).total
        if state == "on":
            on_total += (t_next - t).total_seconds()
            assert now >= previous - 1e-9
            session.pause(t_next)
        else:
            assert now == pytest.approx(previous, abs=1e-9)
            session.resume(t_next)
        previous = session.delivered(t_next).total
        t = t_next
    if session.status is SessionStatus.RUNNING:
        session.pause(t)
    assert session.on_seconds(t) == pytest.approx(on_total, abs=1e-6)
    later = t + timedelta(seconds=probe)
    assert session.delivered(later) == session.delivered(t)
    assert session.delivered(t).total == pytest.approx(
        e.total * on_total / 1000, rel=1e-9, abs=1e-9
    )


@st.composite
def histories(draw: st.DrawFn) -> History:
    count = draw(st.integers(0, 10))
    records = []
    for i in range(count):
        start = T0 - timedelta(hours=draw(st.floats(0.1, 24 * 10)))
        minutes = draw(st.floats(0, 30))
        records.append(
            SessionRecord(
                id=str(i),
                panel_id=None,
                area=draw(st.sampled_from(["face", "knee", "whole_body"])),
                origin=SessionOrigin.PLANNED,
                started_at=start,
                ended_at=min(start + timedelta(minutes=minutes), T0),
                dose=dose_for_seconds(draw(irradiances), minutes * 60),
                status=SessionStatus.COMPLETED,
            )
        )
    return History(records)


@settings(max_examples=300)
@given(
    histories(),
    limits_st,
    irradiances,
    st.floats(1, 7200),
    st.booleans(),
)
def test_allowed_sessions_never_exceed_any_limit(
    history: History, limits: Limits, e: BandIrradiance, seconds: float, override: bool
) -> None:
    request = SessionRequest("face", seconds, e, T0, override_spacing=override)
    verdict = check(request, history, limits)
    if verdict.outcome is Outcome.REFUSED:
        assert verdict.allowed_seconds == 0
        if verdict.next_allowed_at is not None:
            assert verdict.next_allowed_at > T0
            again = check(
                SessionRequest("face", seconds, e, verdict.next_allowed_at, override),
                history,
                limits,
            )
            assert again.allowed
        return
    allowed = verdict.allowed_seconds
    assert 0 < allowed <= seconds
    if verdict.outcome is Outcome.CLAMPED:
        assert allowed < seconds
    dose = dose_for_seconds(e, allowed).total
    assert verdict.expected_dose.total == pytest.approx(dose)
    assert allowed <= limits.max_session_minutes * 60 + 1e-9
    assert dose <= limits.max_session_dose * (1 + REL) + 1e-12
    daily = history.dose_in_window(T0 - DAILY_WINDOW, T0, "face", related=True).total
    assert daily + dose <= limits.max_daily_dose * (1 + REL) + 1e-12 or dose == 0
    if not override:
        spacing = timedelta(hours=limits.min_hours_between)
        assert all(
            T0 - r.ended_at >= spacing
            for r in history.records_for_area("face", related=True)
            if is_treatment(r)
        )
    # weekly: fewer than the maximum treatments in the last 7 local (UTC) days
    week = history.records_started_between(
        T0 - timedelta(days=6, hours=12), T0, "face", related=True
    )
    assert sum(is_treatment(r) for r in week) < limits.max_sessions_per_week


@settings(max_examples=200)
@given(
    histories(),
    st.sampled_from(list(DEFAULT_LIMITS.values())),
    positive_irradiances,
    st.floats(1, 1200),
    st.floats(0, 1200),
    st.floats(1, 3600),
)
def test_extensions_never_exceed_any_limit(  # noqa: PLR0917
    history: History,
    limits: Limits,
    e: BandIrradiance,
    planned: float,
    elapsed: float,
    extra: float,
) -> None:
    session = Session(id="x", area="face", distance_cm=15, planned_seconds=planned, irradiance=e)
    session.start(T0)
    at = T0 + timedelta(seconds=min(elapsed, planned))
    verdict = check_extension(session, extra, at, history, limits)
    if not verdict.allowed:
        return
    total_seconds = planned + verdict.allowed_seconds
    projected = e.total * total_seconds / 1000
    assert total_seconds <= limits.max_session_minutes * 60 + 1e-6 or verdict.allowed_seconds == 0
    assert (
        projected <= limits.max_session_dose * (1 + REL) + 1e-9
        or planned * e.total / 1000 > limits.max_session_dose
    )


@st.composite
def monotone_profiles(draw: st.DrawFn) -> IrradianceProfile:
    distances = sorted(draw(st.sets(st.integers(5, 200), min_size=1, max_size=6)))
    values = sorted(
        draw(st.lists(st.floats(0, 300), min_size=len(distances), max_size=len(distances))),
        reverse=True,
    )
    return IrradianceProfile(
        name="m",
        source="hypothesis",
        channels=(ChannelSpec("a", 660),),
        points=tuple(MeasuredPoint(d, {"a": v}) for d, v in zip(distances, values, strict=True)),
    )


@given(monotone_profiles(), st.floats(0, 1), st.floats(0, 1), st.integers(0, 100))
def test_interpolation_monotone_and_exact(
    profile: IrradianceProfile, a: float, b: float, level: int
) -> None:
    for point in profile.points:
        assert profile.irradiance(point.distance_cm).total == point.mw_cm2["a"]
    span = profile.max_distance_cm - profile.min_distance_cm
    near, far = sorted((a, b))
    d_near = profile.min_distance_cm + near * span
    d_far = profile.min_distance_cm + far * span
    levels = {"a": level}
    assert (
        profile.irradiance(d_near, levels).total >= profile.irradiance(d_far, levels).total - 1e-9
    )
    # levels scale linearly
    assert profile.irradiance(d_near, levels).total == pytest.approx(
        profile.irradiance(d_near).total * level / 100
    )
    # holding beyond the farthest point never falls below the farthest value
    assert (
        profile.irradiance(profile.max_distance_cm + 1 + a * 100).total
        == (profile.points[-1].mw_cm2["a"])
    )


@given(monotone_profiles(), st.floats(0, 1), st.floats(1, 500))
def test_calibration_hits_the_reading(profile: IrradianceProfile, a: float, reading: float) -> None:
    d = profile.min_distance_cm + a * (profile.max_distance_cm - profile.min_distance_cm)
    if profile.irradiance(d).total <= 1e-6:
        return
    assert profile.calibrated(d, reading).irradiance(d).total == pytest.approx(reading)


@settings(deadline=None)
@given(
    limits_st,
    positive_irradiances,
    positive_irradiances,
    st.floats(1, 1200),
    st.floats(0, 1200),
    st.one_of(st.none(), st.floats(0.1, 50)),
)
def test_a_refit_never_exceeds_a_session_limit(  # noqa: PLR0917
    limits: Limits,
    before: BandIrradiance,
    after: BandIrradiance,
    planned: float,
    elapsed: float,
    target: float | None,
) -> None:
    """Levels changed mid-session: the re-planned rest never takes the session past its
    minutes or its dose limit (unless it was past them already: then nothing is added)."""
    session = new_session("x", "face", planned, before, target_dose=target)
    session.start(T0)
    at = T0 + timedelta(seconds=min(elapsed, planned))
    session.change_irradiance(at, after)
    fit = fit_running(session, at, History(), limits)
    on = session.on_seconds(at)
    rest = fit.planned_seconds - on
    assert rest >= 0
    if rest == 0:
        return
    assert fit.planned_seconds <= limits.max_session_minutes * 60 * (1 + REL) + 1e-6
    delivered = session.delivered(at).total
    assert delivered + after.total * rest / 1000 <= limits.max_session_dose * (1 + REL) + 1e-9
    if target is not None and fit.limited_by is None:
        assert delivered + after.total * rest / 1000 == pytest.approx(target, rel=1e-6)
