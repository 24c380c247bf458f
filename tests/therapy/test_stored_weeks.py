"""The history kept one file per week: one-line records read back exactly and untrusted, the
index of weeks, ids unique across files, and the person each record belongs to."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.red_light_therapy.therapy import (
    BandDose,
    BandIrradiance,
    ProtocolPlan,
    Session,
    SessionOrigin,
    SessionRecord,
    SessionStatus,
)
from custom_components.red_light_therapy.therapy.errors import StoredDataError
from custom_components.red_light_therapy.therapy.stored import (
    StoredTherapy,
    history_index,
    history_period,
    is_period,
    read_history_files,
    read_history_index,
    read_stored,
)

from ..store_documents import JSON_VALUES, valid_document

NOW = datetime(2025, 6, 4, 12, tzinfo=UTC)

TEXT_IDS = st.text(min_size=1, max_size=12)
TIMES = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2190, 1, 1), timezones=st.just(UTC)
)
RECORDS = st.builds(
    lambda id_, panel, area, origin, start, seconds, red, nir, status, on, person: SessionRecord(
        id=id_,
        panel_id=panel,
        area=area,
        origin=origin,
        started_at=start,
        ended_at=start + timedelta(seconds=seconds),
        dose=BandDose(red, nir),
        status=status,
        on_seconds=on,
        person=person,
    ),
    TEXT_IDS,
    st.none() | TEXT_IDS,
    st.sampled_from(["face", "knee", "whole_body", "back"]),
    st.sampled_from(list(SessionOrigin)),
    TIMES,
    st.floats(0, 7 * 86400),
    st.floats(0, 1000),
    st.floats(0, 1000),
    st.sampled_from([SessionStatus.COMPLETED, SessionStatus.STOPPED, SessionStatus.ABORTED]),
    st.floats(0, 7 * 86400),
    st.none() | st.sampled_from(["person.ada", "person.bob"]),
)


@settings(max_examples=300, deadline=None)
@given(RECORDS)
def test_a_record_reads_back_from_its_line_exactly(record: SessionRecord) -> None:
    """Any record, a line where its ids allow it (a dict otherwise), reads back equal: the
    same instants to the microsecond, the same dose and on-time, the same person."""
    stored = record.to_row()
    assert isinstance(stored, str) == all(
        text is None or (text != "-" and text.split() == [text])
        for text in (record.id, record.panel_id, record.person)
    )
    assert SessionRecord.from_row(stored) == record


def test_a_line_is_one_short_line() -> None:
    start = datetime(2026, 12, 2, 12, tzinfo=UTC)
    record = SessionRecord(
        "01JDXYZABCDEFGHJKMNPQRSTVW",
        "01JDXYZABCDEFGHJKMNPQRSTVX",
        "face",
        SessionOrigin.PLANNED,
        start,
        start + timedelta(minutes=10),
        BandDose(4.8, 2.4),
        SessionStatus.COMPLETED,
        600.0,
    )
    row = record.to_row()
    assert row == (
        "01JDXYZABCDEFGHJKMNPQRSTVW 01JDXYZABCDEFGHJKMNPQRSTVX face planned "
        "2026-12-02T12:00:00+00:00 600.0 4.8 2.4 completed 600.0 -"
    )


TOKENS = st.sampled_from(
    ["id", "-", "face", "eyes", "planned", "completed", "running", "2026-12-02T12:00:00+00:00",
     "9999-12-31T00:00:00+00:00", "600.0", "nan", "inf", "-1", "1e308", "1_0", "person.ada"]
)  # fmt: skip
LINES = st.lists(TOKENS | st.text(max_size=6), min_size=9, max_size=12).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON_VALUES, st.text(max_size=80), LINES))
def test_a_damaged_line_is_refused_as_stored_data(value: Any) -> None:
    """Anything a damaged file holds where a record belongs either reads as a record or is
    refused with ``StoredDataError`` (which the loader turns into a left-out record)."""
    with contextlib.suppress(StoredDataError):
        assert isinstance(SessionRecord.from_row(value), SessionRecord)


@pytest.mark.parametrize(
    "row",
    [
        "id panel face planned 2026-12-02T12:00:00+00:00 nan 4.8 2.4 completed 600.0 -",
        "id panel face planned 2026-12-02T12:00:00+00:00 600 inf 2.4 completed 600.0 -",
        "id panel eyes planned 2026-12-02T12:00:00+00:00 600 4.8 2.4 completed 600.0 -",
        "id panel face planned 9999-12-02T12:00:00+00:00 600 4.8 2.4 completed 600.0 -",
        "id panel face planned 2026-12-02T12:00:00 600 4.8 2.4 completed 600.0 -",
        "id panel face planned 2026-12-02T12:00:00+00:00 600 4.8 2.4 running 600.0 -",
        "id panel face planned 2026-12-02T12:00:00+00:00 -5 4.8 2.4 completed 600.0 -",
        "id panel face planned 2026-12-02T12:00:00+00:00 600 4.8 2.4 completed",
    ],
)
def test_a_line_that_cannot_be_trusted_is_refused(row: str) -> None:
    with pytest.raises(StoredDataError):
        SessionRecord.from_row(row)


@pytest.mark.parametrize("person", [3, ["person.ada"], {"id": 1}, "", "person ada", True])
def test_a_person_that_is_not_an_entity_id_reads_as_unassigned(person: Any) -> None:
    """The record, session and run are kept (their dose counts); only the person is lost."""
    document = valid_document("panel", NOW)
    document["history"]["records"][0]["person"] = person
    document["active"]["panel"]["person"] = person
    document["plans"]["plan-1"]["person"] = person
    loaded = read_stored(document, NOW)
    assert loaded.dropped == []
    assert loaded.history.records[0].person is None
    assert loaded.active["panel"].person is None
    assert ProtocolPlan.from_dict(loaded.plans["plan-1"]).person is None


def test_persons_round_trip_on_records_sessions_and_runs() -> None:
    document = valid_document("panel", NOW)
    loaded = read_stored(document, NOW)
    record = loaded.history.records[0]
    assert record.person is None
    assert "person" not in record.to_dict()  # unassigned costs nothing
    owned = SessionRecord.from_dict({**record.to_dict(), "person": "person.ada"})
    assert owned.person == "person.ada"
    assert SessionRecord.from_row(owned.to_row()) == owned
    session = Session("s", "knee", 20.0, 600.0, BandIrradiance(10.0, 5.0), person="person.bob")
    assert Session.from_dict(session.to_dict()).person == "person.bob"
    plan = ProtocolPlan.from_dict({**document["plans"]["plan-1"], "person": "person.ada"})
    assert ProtocolPlan.from_dict(plan.to_dict()).person == "person.ada"
    session.start(NOW)
    session.finish(NOW + timedelta(minutes=5), SessionStatus.COMPLETED)
    assert SessionRecord.from_session(session).person == "person.bob"


def test_a_week_is_the_iso_week_in_utc() -> None:
    assert history_period(datetime(2026, 12, 2, 12, tzinfo=UTC)) == "2026-W49"
    # Sunday 23:30 in New York is Monday in UTC: the week does not depend on the time zone.
    sunday_evening = datetime(2026, 12, 6, 23, 30, tzinfo=ZoneInfo("America/New_York"))
    assert history_period(sunday_evening) == "2026-W50"
    assert history_period(datetime(2021, 1, 3, tzinfo=UTC)) == "2020-W53"
    assert is_period("2020-W53")
    for value in ("2021-W53", "2026-W00", "0000-W01", "9999-W01", "2026-w49", "2026-W4", 2026):
        assert not is_period(value)


@settings(max_examples=200, deadline=None)
@given(st.sets(TIMES, max_size=40))
def test_the_index_of_weeks_reads_back_as_the_same_weeks(starts: set[datetime]) -> None:
    weeks = {history_period(start) for start in starts}
    index = history_index(weeks)
    loaded = StoredTherapy()
    read_history_index({"periods": index}, loaded)
    assert loaded.dropped == []
    assert loaded.periods == sorted(weeks)
    assert len(index) <= len(weeks)


def test_years_of_daily_use_index_in_one_entry() -> None:
    weeks = {history_period(NOW - timedelta(days=day)) for day in range(3 * 365)}
    assert history_index(weeks) == [f"{min(weeks)}..{max(weeks)}"]


@pytest.mark.parametrize(
    "entry", ["2026-W49..2026-W01", "x", 3, None, "2026-W60", "1970-W01..2199-W52x"]
)
def test_an_index_entry_that_is_not_a_week_is_left_out(entry: Any) -> None:
    loaded = StoredTherapy()
    read_history_index({"periods": ["2026-W48", entry]}, loaded)
    assert loaded.periods == ["2026-W48"]
    assert len(loaded.dropped) == 1


def test_weeks_are_read_record_by_record_with_ids_unique_across_them() -> None:
    """A bad record is left out and its week marked for rewriting; the same record in two
    weeks is kept once; two different records under one id are both kept, one renamed."""
    start = datetime(2026, 11, 30, 12, tzinfo=UTC)
    one = SessionRecord(
        "a", "p", "face", SessionOrigin.PLANNED, start, start + timedelta(minutes=5),
        BandDose(1.0, 1.0), SessionStatus.COMPLETED, 300.0,
    )  # fmt: skip
    other = SessionRecord(
        "a", "p", "knee", SessionOrigin.PLANNED, start + timedelta(days=7),
        start + timedelta(days=7, minutes=5), BandDose(2.0, 1.0), SessionStatus.COMPLETED, 300.0,
    )  # fmt: skip
    files: dict[str, object] = {
        "2026-W49": {"records": [one.to_row(), "garbage", one.to_row()]},
        "2026-W50": {"records": [other.to_row()]},
        "2026-W51": ["not", "an", "object"],
    }
    loaded = StoredTherapy()
    read_history_files(files, loaded)
    assert [record.area for record in loaded.history] == ["face", "knee"]
    assert len({record.id for record in loaded.history}) == 2
    assert loaded.rewrite == {"2026-W49", "2026-W50", "2026-W51"}
    assert len(loaded.dropped) == 4
    assert loaded.placement == {"a": "2026-W49", loaded.history.records[1].id: "2026-W50"}
