"""Session state machine, on-segments and delivered dose."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from custom_components.red_light_therapy.therapy.bands import DoseBand
from custom_components.red_light_therapy.therapy.errors import (
    DoseError,
    ErrorCode,
    SessionStateError,
    StoredDataError,
    TimeOrderError,
)
from custom_components.red_light_therapy.therapy.irradiance import BandIrradiance
from custom_components.red_light_therapy.therapy.session import (
    LOG_WINDOW_DAYS,
    Session,
    SessionOrigin,
    SessionStatus,
    check_logged_start,
)

from .conftest import T0

E = BandIrradiance(20.0, 30.0)


def s(seconds: float = 600, **kw: object) -> Session:
    return Session(
        id="s1", area="face", distance_cm=15, planned_seconds=seconds, irradiance=E, **kw
    )  # type: ignore[arg-type]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_full_run_with_pause_and_level_change() -> None:
    session = s(600, target_dose=30.0, target_band=DoseBand.BOTH, panel_id="p1")
    assert session.ends_at is None
    assert session.started_at is None
    assert session.last_event_at is None
    session.start(at(0))
    assert session.status is SessionStatus.RUNNING
    assert session.ends_at == at(600)
    session.pause(at(100))
    assert session.ends_at is None
    assert session.remaining_seconds(at(1000)) == 500
    session.resume(at(400))
    assert session.ends_at == at(900)
    session.change_irradiance(at(500), BandIrradiance(10.0, 0.0))
    assert session.ends_at == at(900)
    assert len(session.segments) == 3
    assert session.on_seconds(at(700)) == 400
    # 100 s + 100 s at 50 mW/cm², then 200 s at 10 mW/cm² red
    delivered = session.delivered(at(700))
    assert delivered.red == pytest.approx(2.0 + 2.0 + 2.0)
    assert delivered.nir == pytest.approx(3.0 + 3.0)
    session.extend(60)
    assert session.planned_seconds == 660
    assert session.ends_at == at(960)
    session.finish(at(960))
    assert session.last_event_at == at(960)
    assert session.status is SessionStatus.COMPLETED
    assert session.is_final
    assert session.ended_at == at(960)
    assert session.on_seconds(at(10_000)) == 660
    assert session.delivered(at(10_000)) == session.delivered(at(960))


def test_paused_time_adds_nothing() -> None:
    session = s()
    session.start(at(0))
    session.pause(at(60))
    assert session.delivered(at(60)) == session.delivered(at(6000))


def test_change_irradiance_while_paused_or_planned() -> None:
    session = s()
    session.change_irradiance(at(0), BandIrradiance(1, 1))
    session.start(at(10))
    assert session.segments[0].irradiance == BandIrradiance(1, 1)
    session.pause(at(20))
    session.change_irradiance(at(30), E)
    assert len(session.segments) == 1
    session.resume(at(40))
    assert session.segments[-1].irradiance == E


@pytest.mark.parametrize(
    ("steps", "action"),
    [
        ([], lambda x: x.pause(at(1))),
        ([], lambda x: x.resume(at(1))),
        ([], lambda x: x.finish(at(1), SessionStatus.COMPLETED)),
        (["start"], lambda x: x.start(at(2))),
        (["start"], lambda x: x.resume(at(2))),
        (["start", "pause"], lambda x: x.pause(at(3))),
        (["start", "finish"], lambda x: x.start(at(3))),
        (["start", "finish"], lambda x: x.finish(at(3))),
        (["start", "finish"], lambda x: x.extend(10)),
        (["start", "finish"], lambda x: x.change_irradiance(at(3), E)),
        (["start"], lambda x: x.finish(at(3), SessionStatus.RUNNING)),
    ],
)
def test_illegal_transitions(steps: list[str], action: object) -> None:
    session = s()
    for i, step in enumerate(steps, 1):
        getattr(session, step)(at(i))
    with pytest.raises(SessionStateError) as err:
        action(session)  # type: ignore[operator]
    assert err.value.code is ErrorCode.INVALID_TRANSITION


def test_planned_session_can_be_stopped_or_aborted() -> None:
    for status in (SessionStatus.STOPPED, SessionStatus.ABORTED):
        session = s()
        session.finish(at(5), status)
        assert session.status is status
        assert session.delivered(at(10)).total == 0


def test_finish_while_paused_keeps_segments_closed() -> None:
    session = s()
    session.start(at(0))
    session.pause(at(10))
    session.finish(at(20), SessionStatus.STOPPED)
    assert session.on_seconds(at(30)) == 10


def test_time_checks() -> None:
    session = s()
    session.start(at(10))
    with pytest.raises(TimeOrderError) as err:
        session.pause(at(5))
    assert err.value.code is ErrorCode.TIME_BEFORE_LAST_EVENT
    with pytest.raises(TimeOrderError) as err:
        session.pause(datetime(2025, 1, 1))
    assert err.value.code is ErrorCode.NAIVE_DATETIME
    with pytest.raises(DoseError):
        session.extend(0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"id": ""},
        {"planned_seconds": 0},
        {"distance_cm": 0},
        {"target_dose": -1.0},
    ],
)
def test_invalid_sessions(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {
        "id": "x",
        "area": "face",
        "distance_cm": 15,
        "planned_seconds": 60,
        "irradiance": E,
    }
    with pytest.raises((SessionStateError, DoseError)):
        Session(**(base | kwargs))  # type: ignore[arg-type]


def test_logged_session() -> None:
    session = Session.logged(
        id="l", area="knee", started_at=at(0), ended_at=at(300), irradiance=E, distance_cm=20
    )
    assert session.origin is SessionOrigin.LOGGED
    assert session.status is SessionStatus.COMPLETED
    assert session.delivered(at(300)).total == pytest.approx(15.0)
    with pytest.raises(DoseError):
        Session.logged(
            id="l", area="knee", started_at=at(0), ended_at=at(0), irradiance=E, distance_cm=20
        )


def test_round_trip() -> None:
    session = s(target_dose=9.0, target_band=DoseBand.RED, origin=SessionOrigin.UNPLANNED)
    assert Session.from_dict(session.to_dict()).to_dict() == session.to_dict()
    session.start(at(0))
    session.pause(at(10))
    session.resume(at(20))
    session.device_deadline = at(80)
    again = Session.from_dict(session.to_dict())
    assert again == session
    assert again.device_deadline == at(80)
    older = session.to_dict()
    del older["device_deadline"]  # stored before the field existed
    assert Session.from_dict(older).device_deadline is None
    session.finish(at(30), SessionStatus.ABORTED)
    assert Session.from_dict(session.to_dict()) == session
    import json

    assert Session.from_dict(json.loads(json.dumps(session.to_dict()))) == session


def test_bad_stored_session() -> None:
    data = s().to_dict()
    data["status"] = "exploded"
    with pytest.raises(StoredDataError):
        Session.from_dict(data)
    data = s().to_dict()
    data["ended_at"] = "2025-01-01T00:00:00"
    with pytest.raises(StoredDataError):
        Session.from_dict(data)
    data["ended_at"] = "yesterday"
    with pytest.raises(StoredDataError):
        Session.from_dict(data)
    data["ended_at"] = 5
    with pytest.raises(StoredDataError):
        Session.from_dict(data)
    data = s().to_dict()
    data["device_deadline"] = "2025-01-01T00:00:00"  # naive: not a moment in time
    with pytest.raises(StoredDataError):
        Session.from_dict(data)


def test_segment_across_spring_forward_counts_real_seconds() -> None:
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    session = s(3600)
    session.start(datetime(2025, 3, 30, 1, 59, tzinfo=berlin))
    session.finish(datetime(2025, 3, 30, 3, 1, tzinfo=berlin), SessionStatus.STOPPED)
    assert session.on_seconds(datetime(2025, 3, 30, 4, 0, tzinfo=berlin)) == 120


def test_planned_dose_is_where_the_session_heads_without_reading_a_clock() -> None:
    """600 s at 50 mW/cm² is 30 J/cm². Paused at 100 s, then 10 mW/cm² red from 500 s:
    5 J/cm² done by 100 s, 100 s more at 50 (5 J/cm²), 400 s left at 10 (4 J/cm²)."""
    session = s(600)
    assert session.planned_dose().total == pytest.approx(30.0)  # not started: the whole plan
    session.start(at(0))
    assert session.planned_dose().total == pytest.approx(30.0)
    session.pause(at(100))
    assert session.planned_dose().total == pytest.approx(30.0)
    session.resume(at(400))
    session.change_irradiance(at(500), BandIrradiance(10.0, 0.0))
    assert session.planned_dose().total == pytest.approx(5.0 + 5.0 + 4.0)
    assert session.planned_dose().nir == pytest.approx(3.0 + 3.0)
    session.finish(at(550), SessionStatus.STOPPED)  # stopped early: what it delivered
    assert session.planned_dose() == session.delivered(at(550))
    assert session.planned_dose().total == pytest.approx(5.0 + 5.0 + 0.5)


def test_a_logged_start_is_at_most_a_month_back() -> None:
    check_logged_start(T0 - timedelta(days=LOG_WINDOW_DAYS), T0)
    with pytest.raises(TimeOrderError) as err:
        check_logged_start(T0 - timedelta(days=LOG_WINDOW_DAYS, seconds=1), T0)
    assert err.value.code is ErrorCode.LOGGED_TOO_OLD
    assert err.value.placeholders == {"days": "30"}
