"""The safety check: every reason code, clamping, refusals, next_allowed_at, DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from custom_components.red_light_therapy.therapy.areas import (
    DEFAULT_LIMITS,
    DEFAULT_PANEL_AREA,
    Area,
    Limits,
    default_limits,
    shares_skin,
    validate_area,
)
from custom_components.red_light_therapy.therapy.bands import DoseBand
from custom_components.red_light_therapy.therapy.dose import BandDose
from custom_components.red_light_therapy.therapy.errors import (
    AreaError,
    DoseError,
    ErrorCode,
    LimitsError,
    SessionStateError,
    StoredDataError,
)
from custom_components.red_light_therapy.therapy.history import History, SessionRecord
from custom_components.red_light_therapy.therapy.irradiance import BandIrradiance
from custom_components.red_light_therapy.therapy.limits import (
    MIN_USEFUL_SECONDS,
    Outcome,
    ReasonCode,
    SessionRequest,
    check,
    check_extension,
    deliverable_dose,
    fit_running,
    weekly_sessions,
)
from custom_components.red_light_therapy.therapy.session import (
    Session,
    SessionOrigin,
    SessionStatus,
)

from .builders import session_record

BERLIN = ZoneInfo("Europe/Berlin")
LIMITS = Limits(
    max_session_dose=20.0,
    max_session_minutes=20.0,
    max_daily_dose=30.0,
    min_hours_between=20.0,
    max_sessions_per_week=3,
)
E = BandIrradiance(20.0, 30.0)  # 50 mW/cm²: 20 J/cm² in 400 s
T = datetime(2025, 1, 8, 8, 0, tzinfo=BERLIN)  # Wednesday


def rec(
    rid: str, start: datetime, dose: float = 10.0, area: str = "face", minutes: float = 5
) -> SessionRecord:
    return session_record(
        rid, start, length=timedelta(minutes=minutes), dose=BandDose(dose / 2, dose / 2), area=area
    )


def req(seconds: float = 300, at: datetime = T, **kw: object) -> SessionRequest:
    return SessionRequest(area="face", seconds=seconds, irradiance=E, at=at, **kw)  # type: ignore[arg-type]


def test_allowed() -> None:
    v = check(req(300), History(), LIMITS)
    assert v.outcome is Outcome.ALLOWED
    assert v.allowed
    assert v.allowed_seconds == 300
    assert v.expected_dose.total == pytest.approx(15.0)
    assert v.reasons == ()
    assert v.next_allowed_at == T


def test_clamped_by_session_dose() -> None:
    v = check(req(600), History(), LIMITS)
    assert v.outcome is Outcome.CLAMPED
    assert v.allowed_seconds == 400
    assert v.codes == (ReasonCode.SESSION_DOSE,)
    assert v.reasons[0].limit_value == 20
    assert v.reasons[0].actual_value == pytest.approx(30)
    assert v.expected_dose.total == pytest.approx(20)


def test_clamped_by_minutes() -> None:
    dim = BandIrradiance(1.0, 0.0)
    v = check(SessionRequest("face", 1500, dim, T), History(), LIMITS)
    assert v.outcome is Outcome.CLAMPED
    assert v.allowed_seconds == 1200
    assert v.codes == (ReasonCode.SESSION_MINUTES,)
    assert v.reasons[0].actual_value == 25


def test_no_irradiance_only_minutes_apply() -> None:
    v = check(SessionRequest("face", 600, BandIrradiance(0, 0), T), History(), LIMITS)
    assert v.outcome is Outcome.ALLOWED
    assert v.expected_dose.total == 0


def test_clamped_by_rolling_daily_dose_with_override() -> None:
    h = History([rec("a", T - timedelta(hours=3), dose=18.0)])
    v = check(req(400, override_spacing=True), h, LIMITS)
    assert v.outcome is Outcome.CLAMPED
    assert v.allowed_seconds == 240  # 12 J/cm² left of 30
    assert set(v.codes) == {ReasonCode.DAILY_DOSE, ReasonCode.SPACING_OVERRIDDEN}
    daily = next(r for r in v.reasons if r.code is ReasonCode.DAILY_DOSE)
    assert daily.actual_value == pytest.approx(38.0)
    spacing = next(r for r in v.reasons if r.code is ReasonCode.SPACING_OVERRIDDEN)
    assert spacing.limit_value == 20
    assert spacing.actual_value == pytest.approx(3 - 5 / 60)


def test_refused_by_spacing_with_next_allowed_at() -> None:
    h = History([rec("a", T - timedelta(hours=10))])
    v = check(req(), h, LIMITS)
    assert v.outcome is Outcome.REFUSED
    assert not v.allowed
    assert v.allowed_seconds == 0
    assert v.expected_dose.total == 0
    assert v.codes == (ReasonCode.SPACING,)
    assert v.next_allowed_at == T - timedelta(hours=10) + timedelta(minutes=5, hours=20)
    assert check(req(at=v.next_allowed_at), h, LIMITS).outcome is Outcome.ALLOWED  # type: ignore[arg-type]


def test_spacing_counts_shared_skin_only() -> None:
    h = History([rec("a", T - timedelta(hours=1), area="knee")])
    assert check(req(), h, LIMITS).outcome is Outcome.ALLOWED
    h.append(rec("b", T - timedelta(hours=2), area="whole_body"))
    assert check(req(), h, LIMITS).codes == (ReasonCode.SPACING,)


def test_zero_spacing_is_never_checked() -> None:
    h = History([rec("a", T - timedelta(hours=1), dose=1)])
    assert check(req(), h, LIMITS.with_changes(min_hours_between=0)).allowed


def test_a_refused_aborted_record_is_dose_but_not_a_session() -> None:
    """A press during a lockout, switched off at once, must not push the lockout further out
    or use up one of the week's sessions; whatever it emitted still counts as dose."""
    first = rec("a", T - timedelta(hours=10))
    refused = SessionRecord(
        id="refused",
        panel_id="p",
        area="face",
        origin=SessionOrigin.UNPLANNED,
        started_at=T - timedelta(hours=1),
        ended_at=T - timedelta(hours=1),
        dose=BandDose(1.0, 1.0),
        status=SessionStatus.ABORTED,
    )
    alone = check(req(), History([first]), LIMITS)
    with_refused = check(req(), History([first, refused]), LIMITS)
    assert with_refused.codes == alone.codes == (ReasonCode.SPACING,)
    assert with_refused.next_allowed_at == alone.next_allowed_at
    # the week: two sessions and three refused presses leave room for a third session
    weekly = LIMITS.with_changes(min_hours_between=0)
    h = History(
        [rec("mon", T - timedelta(days=2), dose=1), rec("tue", T - timedelta(days=1), dose=1)]
    )
    for n in range(3):
        h.append(
            SessionRecord(
                id=f"r{n}",
                panel_id="p",
                area="face",
                origin=SessionOrigin.UNPLANNED,
                started_at=T - timedelta(hours=n + 1),
                ended_at=T - timedelta(hours=n + 1),
                dose=BandDose(0.0, 0.0),
                status=SessionStatus.ABORTED,
            )
        )
    assert check(req(), h, weekly).outcome is Outcome.ALLOWED
    # its dose counts toward the rolling day: 2 J/cm² of 30 used leaves 28 (560 s at 50 mW)
    daily = check(
        req(600, override_spacing=True),
        History([refused]),
        LIMITS.with_changes(max_session_dose=30.0, max_session_minutes=30.0),
    )
    assert daily.allowed_seconds == 560
    assert ReasonCode.DAILY_DOSE in daily.codes


def test_refused_by_weekly_count_local_days() -> None:
    # Mon, Tue(-), Wed: 3 sessions in the last 7 local days (limit 3); spacing fine
    h = History(
        [
            rec("sat", datetime(2025, 1, 4, 8, tzinfo=BERLIN), dose=1),
            rec("sun", datetime(2025, 1, 5, 8, tzinfo=BERLIN), dose=1),
            rec("mon", datetime(2025, 1, 6, 8, tzinfo=BERLIN), dose=1),
        ]
    )
    v = check(req(), h, LIMITS)
    assert v.codes == (ReasonCode.WEEKLY_SESSIONS,)
    assert v.reasons[0].limit_value == 3
    assert v.reasons[0].actual_value == 3
    # the Saturday session leaves the 7-local-day window at the start of next Saturday
    assert v.next_allowed_at == datetime(2025, 1, 11, 0, 0, tzinfo=BERLIN)
    later = check(req(at=datetime(2025, 1, 11, 0, 0, tzinfo=BERLIN)), h, LIMITS)
    assert later.outcome is Outcome.ALLOWED
    just_before = datetime(2025, 1, 10, 23, 59, tzinfo=BERLIN)
    assert check(req(at=just_before), h, LIMITS).outcome is Outcome.REFUSED
    # What the dose sensor shows as the week's sessions is the count this refusal is by.
    area = req().area
    assert weekly_sessions(h, area, req().at, BERLIN) == v.reasons[0].actual_value
    assert weekly_sessions(h, area, just_before, BERLIN) == 3
    assert weekly_sessions(h, area, datetime(2025, 1, 11, 0, 0, tzinfo=BERLIN), BERLIN) == 2


def test_weekly_window_is_dst_safe() -> None:
    # A session every Monday 07:30; limit 1 a week. Spring forward on Sunday 30 March.
    limits = LIMITS.with_changes(max_sessions_per_week=1)
    monday = datetime(2025, 3, 24, 7, 30, tzinfo=BERLIN)
    h = History([rec("m1", monday, dose=1)])
    next_monday = datetime(2025, 3, 31, 7, 30, tzinfo=BERLIN)
    assert next_monday.astimezone(UTC) - monday.astimezone(UTC) == timedelta(hours=167)
    assert check(req(at=next_monday), h, limits).outcome is Outcome.ALLOWED
    sunday = datetime(2025, 3, 30, 23, 0, tzinfo=BERLIN)
    assert check(req(at=sunday), h, limits).codes == (ReasonCode.WEEKLY_SESSIONS,)


def test_weekly_uses_given_zone() -> None:
    # Sunday 23:30 UTC is Monday 00:30 in Berlin: the Monday-a-week-ago session has left
    h = History([rec("m", datetime(2025, 1, 6, 12, 0, tzinfo=UTC), dose=1)])
    at = datetime(2025, 1, 12, 23, 30, tzinfo=UTC)
    limits = LIMITS.with_changes(max_sessions_per_week=1)
    assert check(req(at=at), h, limits, tz=BERLIN).outcome is Outcome.ALLOWED
    assert check(req(at=at), h, limits).outcome is Outcome.REFUSED


def test_refused_below_minimum_by_daily_dose() -> None:
    # 29.5 J/cm² in the last 24 h: 0.5 J/cm² (10 s) left, below a useful minute
    h = History(
        [
            rec("a", T - timedelta(hours=23), dose=14.5),
            rec("b", T - timedelta(hours=21), dose=15.0),
        ]
    )
    v = check(req(300), h, LIMITS)
    assert v.outcome is Outcome.REFUSED
    assert set(v.codes) == {ReasonCode.DAILY_DOSE, ReasonCode.BELOW_MINIMUM}
    below = next(r for r in v.reasons if r.code is ReasonCode.BELOW_MINIMUM)
    assert below.limit_value == MIN_USEFUL_SECONDS
    assert below.actual_value == 10
    # 60 s need 3 J/cm²: after "a" leaves the window 15.5 are free
    assert v.next_allowed_at == T - timedelta(hours=23) + timedelta(minutes=5, hours=24)
    assert check(req(300, at=v.next_allowed_at), h, LIMITS).allowed  # type: ignore[arg-type]


def test_short_request_within_budget_is_allowed() -> None:
    assert check(req(20), History(), LIMITS).outcome is Outcome.ALLOWED


def test_refused_forever_when_session_limit_is_below_minimum() -> None:
    blinding = BandIrradiance(500.0, 500.0)  # 20 J/cm² in 20 s
    v = check(SessionRequest("face", 300, blinding, T), History(), LIMITS)
    assert v.outcome is Outcome.REFUSED
    assert set(v.codes) == {
        ReasonCode.SESSION_DOSE,
        ReasonCode.DAILY_DOSE,
        ReasonCode.BELOW_MINIMUM,
    }
    assert v.next_allowed_at is None


def test_daily_free_at_none_when_minimum_exceeds_daily_cap() -> None:
    limits = Limits(20, 20, 20, 0, 7)
    strong = BandIrradiance(200.0, 200.0)  # 60 s = 24 J/cm² > daily 20; session cap 50 s
    v = check(SessionRequest("face", 300, strong, T), History(), limits, min_seconds=40)
    assert v.outcome is Outcome.CLAMPED
    h = History([rec("a", T - timedelta(hours=1), dose=15)])
    v = check(SessionRequest("face", 300, strong, T), h, limits, min_seconds=45)
    assert v.outcome is Outcome.REFUSED
    assert v.next_allowed_at == T - timedelta(hours=1) + timedelta(minutes=5, hours=24)
    v = check(
        SessionRequest("face", 300, strong, T),
        h,
        limits.with_changes(max_session_dose=20, max_daily_dose=20),
        min_seconds=55,
    )
    assert v.next_allowed_at is None


def test_combined_refusals_take_the_latest_time() -> None:
    h = History(
        [
            rec("a", datetime(2025, 1, 2, 8, tzinfo=BERLIN), dose=1),
            rec("b", datetime(2025, 1, 5, 8, tzinfo=BERLIN), dose=1),
            rec("c", T - timedelta(hours=2), dose=1),
        ]
    )
    v = check(req(), h, LIMITS)
    assert set(v.codes) == {ReasonCode.SPACING, ReasonCode.WEEKLY_SESSIONS}
    assert v.next_allowed_at == max(
        T - timedelta(hours=2) + timedelta(minutes=5, hours=20),
        datetime(2025, 1, 9, 0, 0, tzinfo=BERLIN),
    )


def test_invalid_request() -> None:
    with pytest.raises(DoseError) as err:
        check(req(0), History(), LIMITS)
    assert err.value.code is ErrorCode.INVALID_DURATION


def running_session(planned: float = 300, started: datetime = T) -> Session:
    session = Session(id="run", area="face", distance_cm=15, planned_seconds=planned, irradiance=E)
    session.start(started)
    return session


def test_extension_allowed_and_clamped() -> None:
    session = running_session()
    at = T + timedelta(seconds=100)
    v = check_extension(session, 60, at, History(), LIMITS)
    assert v.outcome is Outcome.ALLOWED
    assert v.allowed_seconds == 60
    assert v.expected_dose.total == pytest.approx(3.0)
    v = check_extension(session, 300, at, History(), LIMITS)
    assert v.outcome is Outcome.CLAMPED
    assert v.allowed_seconds == 100  # 400 s is the 20 J/cm² cap
    assert v.codes == (ReasonCode.SESSION_DOSE,)
    assert v.reasons[0].actual_value == pytest.approx(30.0)


def test_extension_minutes_and_daily() -> None:
    dim = Session(
        id="d", area="face", distance_cm=15, planned_seconds=1100, irradiance=BandIrradiance(1, 0)
    )
    dim.start(T)
    v = check_extension(dim, 300, T + timedelta(seconds=10), History(), LIMITS)
    assert v.allowed_seconds == 100
    assert v.codes == (ReasonCode.SESSION_MINUTES,)
    h = History([rec("a", T - timedelta(hours=1), dose=25.0)])
    session = running_session(60)
    v = check_extension(session, 60, T + timedelta(seconds=30), h, LIMITS)
    # 25 used + 3 planned: 2 J/cm² = 40 s left
    assert v.allowed_seconds == 40
    assert v.codes == (ReasonCode.DAILY_DOSE,)


def test_extension_refused_and_errors() -> None:
    session = running_session(400)
    v = check_extension(session, 60, T + timedelta(seconds=10), History(), LIMITS)
    assert v.outcome is Outcome.REFUSED
    assert v.codes == (ReasonCode.SESSION_DOSE, ReasonCode.BELOW_MINIMUM)
    assert v.next_allowed_at is None
    session.finish(T + timedelta(seconds=20))
    with pytest.raises(SessionStateError):
        check_extension(session, 60, T + timedelta(seconds=30), History(), LIMITS)
    with pytest.raises(DoseError):
        check_extension(running_session(), -1, T, History(), LIMITS)


def test_areas() -> None:
    assert validate_area("Face") is Area.FACE
    assert validate_area(" whole_body ") is Area.WHOLE_BODY
    for eye in ("eye", "eyes", "left_eye", "Retina", "myopia"):
        with pytest.raises(AreaError) as err:
            validate_area(eye)
        assert err.value.code is ErrorCode.EYE_AREA_FORBIDDEN
    with pytest.raises(AreaError) as err:
        validate_area("elbowpit")
    assert err.value.code is ErrorCode.UNKNOWN_AREA
    assert set(DEFAULT_LIMITS) == set(Area)
    assert not any("eye" in a.value for a in Area)
    assert default_limits("scalp").max_session_dose >= 67  # Lanzafame's helmet dose fits
    assert default_limits("face").max_session_dose >= 9  # Wunsch & Matuschka
    assert DEFAULT_PANEL_AREA is Area.WHOLE_BODY
    assert shares_skin("face", "face")
    assert shares_skin("whole_body", "knee")
    assert shares_skin("knee", "whole_body")
    assert not shares_skin("knee", "face")
    for limits in DEFAULT_LIMITS.values():
        # a once-a-day schedule survives the 23 h spring-forward day
        assert limits.min_hours_between <= 23 or limits.min_hours_between <= 47
        assert limits.max_daily_dose >= limits.max_session_dose


@pytest.mark.parametrize(
    "changes",
    [
        {"max_session_dose": 0},
        {"max_session_minutes": float("nan")},
        {"min_hours_between": -1},
        {"max_sessions_per_week": 0},
        {"max_sessions_per_week": 2.5},
        {"max_daily_dose": 10},
    ],
)
def test_invalid_limits(changes: dict[str, object]) -> None:
    with pytest.raises(LimitsError) as err:
        LIMITS.with_changes(**changes)
    assert err.value.code is ErrorCode.INVALID_LIMITS


def test_limits_round_trip() -> None:
    assert Limits.from_dict(LIMITS.to_dict()) == LIMITS
    with pytest.raises(StoredDataError):
        Limits.from_dict({})


def test_extension_without_irradiance_only_minutes_apply() -> None:
    dark = Session(
        id="d", area="face", distance_cm=15, planned_seconds=600, irradiance=BandIrradiance(0, 0)
    )
    dark.start(T)
    v = check_extension(dark, 60, T + timedelta(seconds=5), History(), LIMITS)
    assert v.outcome is Outcome.ALLOWED
    assert v.expected_dose.total == 0


# Re-planning a running session after its levels changed ----------------------------------


def dose_session(target: float, band: DoseBand = DoseBand.BOTH) -> Session:
    """A session started for ``target`` J/cm² at 50 mW/cm² (``target`` * 20 s)."""
    session = Session(
        id="dose",
        area="face",
        distance_cm=15,
        planned_seconds=target * 20,
        irradiance=E,
        target_dose=target,
        target_band=band,
    )
    session.start(T)
    return session


def test_a_brighter_dose_session_ends_sooner_and_a_dimmer_one_later() -> None:
    session = dose_session(10.0)  # 200 s at 50 mW/cm²
    at = T + timedelta(seconds=100)  # 5 J/cm² delivered
    session.change_irradiance(at, BandIrradiance(40.0, 60.0))  # 100 mW/cm²
    fit = fit_running(session, at, History(), LIMITS)
    assert fit.planned_seconds == pytest.approx(150)  # 5 J/cm² more in 50 s
    assert fit.limited_by is None
    session.change_irradiance(at, BandIrradiance(10.0, 15.0))  # 25 mW/cm²
    fit = fit_running(session, at, History(), LIMITS)
    assert fit.planned_seconds == pytest.approx(300)  # 5 J/cm² more in 200 s
    assert fit.limited_by is None


def test_a_dose_session_aims_for_its_band() -> None:
    session = dose_session(4.0, DoseBand.RED)  # 4 J/cm² red at 20 mW/cm² red: 200 s
    session.replan(200)
    at = T + timedelta(seconds=100)  # 2 J/cm² red delivered
    session.change_irradiance(at, BandIrradiance(40.0, 0.0))
    fit = fit_running(session, at, History(), LIMITS)
    assert fit.planned_seconds == pytest.approx(150)  # 2 J/cm² red more in 50 s


def test_a_minutes_session_keeps_its_length_until_a_limit_cuts_it() -> None:
    session = running_session(300)
    at = T + timedelta(seconds=100)  # 5 J/cm²
    session.change_irradiance(at, BandIrradiance(10.0, 15.0))
    assert fit_running(session, at, History(), LIMITS).planned_seconds == pytest.approx(300)
    session.change_irradiance(at, BandIrradiance(80.0, 120.0))  # 200 mW/cm²
    fit = fit_running(session, at, History(), LIMITS)
    assert fit.planned_seconds == pytest.approx(175)  # 15 J/cm² left of 20: 75 s more
    assert fit.limited_by is ReasonCode.SESSION_DOSE


def test_a_dimmer_dose_session_is_cut_by_the_minutes_and_the_day() -> None:
    session = dose_session(19.0)  # 380 s at 50 mW/cm²
    at = T + timedelta(seconds=60)  # 3 J/cm²
    session.change_irradiance(at, BandIrradiance(4.0, 6.0))  # 10 mW/cm²: 1600 s for 16 more
    fit = fit_running(session, at, History(), LIMITS)
    assert fit.planned_seconds == pytest.approx(20 * 60)
    assert fit.limited_by is ReasonCode.SESSION_MINUTES
    # 25 J/cm² on the face earlier today leaves 2 J/cm² of the 30: 200 s at 10 mW/cm².
    history = History([rec("a", T - timedelta(hours=3), dose=25.0), rec("x", T, area="knee")])
    fit = fit_running(session, at, history, LIMITS)
    assert fit.planned_seconds == pytest.approx(60 + 200)
    assert fit.limited_by is ReasonCode.DAILY_DOSE


def test_at_the_limit_already_nothing_is_left() -> None:
    session = running_session(600, started=T)
    at = T + timedelta(seconds=400)  # 20 J/cm²: the session dose
    session.change_irradiance(at, BandIrradiance(30.0, 30.0))
    fit = fit_running(session, at, History(), LIMITS)
    assert fit.planned_seconds == pytest.approx(400)  # the on-time so far: stop now
    assert fit.limited_by is ReasonCode.SESSION_DOSE


def test_without_irradiance_only_the_minutes_apply() -> None:
    session = dose_session(10.0)
    at = T + timedelta(seconds=100)
    session.change_irradiance(at, BandIrradiance(0.0, 0.0))  # every channel at 0
    fit = fit_running(session, at, History(), LIMITS)
    assert fit.planned_seconds == pytest.approx(200)  # kept: no dose to aim with
    assert fit.limited_by is None


def test_a_finished_session_is_not_replanned() -> None:
    session = running_session()
    session.finish(T + timedelta(seconds=10))
    with pytest.raises(SessionStateError):
        fit_running(session, T + timedelta(seconds=20), History(), LIMITS)


def test_a_red_dose_on_a_mixed_panel_is_cut_by_the_total_cap() -> None:
    """The hair preset: 67 J/cm² of red under the scalp's 70 J/cm² total cap. On a 50/50
    red/NIR panel the cap is reached at 35 J/cm² of red; with red only, all 67 fit; the
    minutes cap cuts a dim panel; no red at all delivers nothing."""
    scalp = default_limits("scalp")
    check_at = SessionRequest("scalp", 67 * 1000 / 40.0, BandIrradiance(40.0, 40.0), T)
    verdict = check(check_at, History(), scalp)
    mixed = deliverable_dose(BandIrradiance(40.0, 40.0), 67.0, DoseBand.RED, scalp)
    assert mixed == pytest.approx(35.0)
    assert mixed == pytest.approx(40.0 * verdict.allowed_seconds / 1000, abs=0.05)
    assert deliverable_dose(BandIrradiance(80.0, 0.0), 67.0, DoseBand.RED, scalp) == 67.0
    dim = deliverable_dose(BandIrradiance(10.0, 0.0), 67.0, DoseBand.RED, scalp)
    assert dim == pytest.approx(10.0 * scalp.max_session_minutes * 60 / 1000)
    assert deliverable_dose(BandIrradiance(0.0, 50.0), 67.0, DoseBand.RED, scalp) == 0.0
    assert deliverable_dose(BandIrradiance(40.0, 40.0), 9.0, DoseBand.BOTH, scalp) == 9.0
