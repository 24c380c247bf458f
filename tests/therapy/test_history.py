"""History: records, windows, local days and weeks, serialisation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from custom_components.red_light_therapy.therapy.dose import BandDose
from custom_components.red_light_therapy.therapy.errors import (
    ErrorCode,
    HistoryError,
    StoredDataError,
)
from custom_components.red_light_therapy.therapy.history import History, SessionRecord
from custom_components.red_light_therapy.therapy.irradiance import BandIrradiance
from custom_components.red_light_therapy.therapy.session import (
    SessionStatus,
)

from .builders import new_session, on_throughout

BERLIN = ZoneInfo("Europe/Berlin")


def rec(
    rid: str,
    start: datetime,
    *,
    minutes: float = 10,
    area: str = "face",
    red: float = 1.0,
    nir: float = 2.0,
) -> SessionRecord:
    return on_throughout(rid, start, minutes * 60, BandDose(red, nir), area=area)


def test_append_sorts_and_rejects_duplicates() -> None:
    t = datetime(2025, 3, 1, 8, tzinfo=UTC)
    h = History([rec("b", t + timedelta(days=1)), rec("a", t)])
    assert [r.id for r in h] == ["a", "b"]
    assert len(h) == 2
    assert "a" in h
    assert h.records[0].id == "a"
    with pytest.raises(HistoryError) as err:
        h.append(rec("a", t))
    assert err.value.code is ErrorCode.DUPLICATE_RECORD


def test_windows_and_areas() -> None:
    t = datetime(2025, 3, 1, 8, tzinfo=UTC)
    h = History(
        [
            rec("a", t),
            rec("b", t + timedelta(hours=2), area="knee"),
            rec("c", t + timedelta(hours=4), area="whole_body"),
        ]
    )
    assert h.dose_in_window(t, t + timedelta(hours=5)).total == 9
    assert h.dose_in_window(t, t + timedelta(hours=5), "face").total == 3
    assert h.dose_in_window(t, t + timedelta(hours=5), "face", related=True).total == 6
    # a session straddling the window start counts in full
    assert h.dose_in_window(t + timedelta(minutes=5), t + timedelta(minutes=6)).total == 3
    assert h.dose_in_window(t + timedelta(minutes=10), t + timedelta(minutes=11)).total == 0
    assert [r.id for r in h.records_for_area("knee", related=True)] == ["b", "c"]
    assert [r.id for r in h.sessions_since(t + timedelta(hours=1))] == ["b", "c"]
    assert [r.id for r in h.sessions_since(t, "knee")] == ["b"]
    last = h.last_session("face")
    assert last is not None
    assert last.id == "a"
    assert h.last_session("face", related=True).id == "c"  # type: ignore[union-attr]
    assert h.last_session(before=t + timedelta(hours=3)).id == "b"  # type: ignore[union-attr]
    assert h.last_session("scalp") is None


def test_local_days_and_iso_weeks_across_dst() -> None:
    # 2025-03-30: Berlin springs forward (23 h day)
    h = History(
        [
            rec("sat_late", datetime(2025, 3, 29, 23, 30, tzinfo=BERLIN)),
            rec("sun_early", datetime(2025, 3, 30, 0, 15, tzinfo=BERLIN)),
            rec("sun_late", datetime(2025, 3, 30, 23, 50, tzinfo=BERLIN)),
            rec("mon", datetime(2025, 3, 31, 0, 10, tzinfo=BERLIN)),
        ]
    )
    assert h.dose_on_day(date(2025, 3, 29), BERLIN).total == 3
    assert h.dose_on_day(date(2025, 3, 30), BERLIN).total == 6
    assert h.dose_on_day(date(2025, 3, 31), BERLIN).total == 3
    # the same instants in UTC fall on other days
    assert h.dose_on_day(date(2025, 3, 29), UTC).total == 6
    sunday = datetime(2025, 3, 30, 12, tzinfo=BERLIN)
    assert h.dose_in_week(sunday, BERLIN).total == 9  # Mon 24 - Sun 30
    assert h.dose_in_week(sunday, BERLIN, "knee").total == 0
    monday = datetime(2025, 3, 31, 12, tzinfo=BERLIN)
    assert h.dose_in_week(monday, BERLIN) == BandDose(1, 2)


def test_from_session() -> None:
    session = new_session("x", "knee", 600, BandIrradiance(10, 10), panel_id="p9")
    with pytest.raises(HistoryError):
        SessionRecord.from_session(session)
    t = datetime(2025, 1, 1, tzinfo=UTC)
    session.start(t)
    session.finish(t + timedelta(seconds=100), SessionStatus.STOPPED)
    record = SessionRecord.from_session(session)
    assert record.dose == BandDose(1.0, 1.0)
    assert record.on_seconds == 100
    assert record.panel_id == "p9"
    assert record.status is SessionStatus.STOPPED


@pytest.mark.parametrize(
    "changes",
    [
        {"id": ""},
        {"ended_at": datetime(2024, 1, 1, tzinfo=UTC)},
        {"status": SessionStatus.RUNNING},
    ],
)
def test_invalid_records(changes: dict[str, object]) -> None:
    good = rec("a", datetime(2025, 1, 1, tzinfo=UTC)).to_dict()
    record = SessionRecord.from_dict(good)
    from dataclasses import replace

    with pytest.raises(HistoryError):
        replace(record, **changes)  # type: ignore[arg-type]


def test_round_trip_and_bad_data() -> None:
    t = datetime(2025, 1, 1, tzinfo=BERLIN)
    h = History(rec(str(i), t + timedelta(days=i)) for i in range(50))
    again = History.from_dict(h.to_dict())
    assert again.records == h.records
    with pytest.raises(StoredDataError):
        History.from_dict({"records": [{"id": "x"}]})
    data = h.to_dict()
    data["records"][0]["status"] = "running"
    with pytest.raises(StoredDataError) as err:
        History.from_dict(data)
    assert err.value.placeholders["cause"] == ErrorCode.INVALID_RECORD


def test_large_history_is_fast() -> None:
    import time

    t = datetime(2020, 1, 1, 7, tzinfo=UTC)
    h = History(rec(str(i), t + timedelta(hours=20 * i)) for i in range(5000))
    begin = time.perf_counter()
    for i in range(1000):
        at = t + timedelta(hours=97 * i)
        h.dose_in_window(at - timedelta(hours=24), at, "face", related=True)
        h.records_started_between(at - timedelta(days=7), at)
    assert time.perf_counter() - begin < 2.0


def test_an_open_session_as_it_will_be_recorded() -> None:
    """Another panel's open session counts toward the limits as it will be recorded."""
    t = datetime(2025, 1, 6, 7, 0, tzinfo=UTC)
    # 30 mW/cm²: 18 J/cm² in 600 s
    session = new_session("open", "knee", 600, BandIrradiance(10.0, 20.0), panel_id="other")
    with pytest.raises(HistoryError):
        SessionRecord.as_planned(session, t)  # never ran: nothing to project
    session.start(t)
    running = SessionRecord.as_planned(session, t + timedelta(seconds=100))
    assert running.started_at == t
    assert running.ended_at == t + timedelta(seconds=600)  # its planned end
    assert running.dose.total == pytest.approx(18.0)  # delivered and still planned
    assert running.dose.red == pytest.approx(6.0)
    assert running.on_seconds == pytest.approx(600)
    assert running.status is SessionStatus.COMPLETED  # a session for spacing and the week
    assert running.area == "knee"
    assert running.panel_id == "other"
    # Overdue (its panel not heard from): not more than planned, and ended when planned.
    overdue = SessionRecord.as_planned(session, t + timedelta(hours=5))
    assert overdue.ended_at == t + timedelta(seconds=600)
    assert overdue.dose.total == pytest.approx(18.0)
    # Paused: what it delivered until it paused.
    session.pause(t + timedelta(seconds=200))
    paused = SessionRecord.as_planned(session, t + timedelta(hours=1))
    assert paused.ended_at == t + timedelta(seconds=200)
    assert paused.dose.total == pytest.approx(6.0)
    assert paused.on_seconds == pytest.approx(200)
    session.finish(t + timedelta(seconds=300), SessionStatus.STOPPED)
    with pytest.raises(HistoryError):
        SessionRecord.as_planned(session, t + timedelta(hours=1))
