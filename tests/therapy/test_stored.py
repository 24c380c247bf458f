"""Reading stored data back: record by record, the untrusted left out and named, the rest kept."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
import pytest

from custom_components.red_light_therapy.therapy import (
    DEFAULT_PANEL_AREA,
    History,
    ProtocolPlan,
    SessionRecord,
    SessionStatus,
)
from custom_components.red_light_therapy.therapy.stored import read_stored

from ..store_documents import (
    OTHER_PANEL,
    damaged_documents,
    stored_records,
    surviving_records,
    untouched,
    valid_document,
)

NOW = datetime(2025, 6, 4, 12, tzinfo=UTC)
PANEL = "panel"
VALID = valid_document(PANEL, NOW)


def damaged(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(VALID)
    change(document)
    return document


def test_a_valid_document_loads_whole_with_nothing_dropped() -> None:
    loaded = read_stored(VALID, NOW)
    assert loaded.dropped == []
    assert [r.to_dict() for r in loaded.history] == VALID["history"]["records"]
    assert {k: s.to_dict() for k, s in loaded.active.items()} == VALID["active"]
    assert loaded.settings == VALID["settings"]
    assert loaded.plans == VALID["plans"]


def _first_record(document: dict[str, Any]) -> dict[str, Any]:
    return document["history"]["records"][0]  # type: ignore[no-any-return]


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def change(document: dict[str, Any]) -> None:
        node: Any = document
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value

    return change


RECORD = ("history", "records", 0)
BAD_RECORDS = {
    "a list where the record belongs": _set(RECORD, ["record-0"]),
    "no start": lambda d: _first_record(d).pop("started_at"),
    "year 9999": _set((*RECORD, "ended_at"), "9999-12-31T23:59:59+00:00"),
    "a naive time": _set((*RECORD, "started_at"), "2025-05-25T12:00:00"),
    "a dose of 1e308": _set((*RECORD, "dose", "red"), 1e308),
    "a dose of text": _set((*RECORD, "dose", "nir"), "lots"),
    "an eye area": _set((*RECORD, "area"), "left_eye"),
    "an unknown area": _set((*RECORD, "area"), "moon"),
    "a number for an id": _set((*RECORD, "id"), 7),
    "an integer too large for a float": _set((*RECORD, "on_seconds"), 10**400),
    "an integer too long to print": _set((*RECORD, "on_seconds"), 10**5000),
    "an open status": _set((*RECORD, "status"), "running"),
    "a copy of another": _set(RECORD, VALID["history"]["records"][1]),
}


@pytest.mark.parametrize("change", BAD_RECORDS.values(), ids=BAD_RECORDS.keys())
def test_a_bad_history_record_is_dropped_and_every_other_kept(change: Any) -> None:
    loaded = read_stored(damaged(change), NOW)
    assert len(loaded.dropped) == 1
    assert loaded.dropped[0].startswith("history record")
    assert [r.to_dict() for r in loaded.history] == VALID["history"]["records"][1:]
    assert loaded.active.keys() == VALID["active"].keys()


def test_two_different_records_under_one_id_are_both_kept() -> None:
    """Each is a session that ran: both doses count, the later one in the file gets an id
    of its own."""
    loaded = read_stored(damaged(_set((*RECORD, "id"), "record-1")), NOW)
    assert len(loaded.dropped) == 1
    kept = [r.to_dict() for r in loaded.history]
    assert len(kept) == len(VALID["history"]["records"])
    assert kept[0] == VALID["history"]["records"][0] | {"id": "record-1"}
    assert kept[1] == VALID["history"]["records"][1] | {"id": "record-1-1"}


def test_a_renamed_record_takes_an_id_no_other_has() -> None:
    records = VALID["history"]["records"]
    document = damaged(
        lambda d: d["history"].update(
            records=[records[0] | {"id": "r-2"}, records[1] | {"id": "r"}, records[2] | {"id": "r"}]
        )
    )
    loaded = read_stored(document, NOW)
    assert [r.id for r in loaded.history] == ["r-2", "r", "r-2.2"]


def test_records_out_of_order_load_sorted() -> None:
    document = damaged(lambda d: d["history"]["records"].reverse())
    loaded = read_stored(document, NOW)
    assert loaded.dropped == []
    assert [r.to_dict() for r in loaded.history] == VALID["history"]["records"]


PAUSED = ("active", PANEL)
BAD_ACTIVE = {
    "running with no segments": lambda d: d["active"][PANEL].update(status="running", segments=[]),
    "completed among the active": lambda d: d["active"][PANEL].update(
        status="completed", ended_at=d["active"][PANEL]["segments"][0]["end"]
    ),
    "paused with an open segment": _set((*PAUSED, "segments", 0, "end"), None),
    "planned with segments": _set((*PAUSED, "status"), "planned"),
    "a segment ending before it starts": _set(
        (*PAUSED, "segments", 0, "end"), (NOW - timedelta(days=1)).isoformat()
    ),
    "an irradiance of 1e308": _set((*PAUSED, "irradiance", "red"), 1e308),
    "planned for 1e308 seconds": _set((*PAUSED, "planned_seconds"), 1e308),
    "a list for a session": _set(PAUSED, []),
    "an open segment before the last": lambda d: d["active"][PANEL]["segments"].insert(
        0, {**d["active"][PANEL]["segments"][0], "end": None}
    ),
    "running with an end": lambda d: d["active"][PANEL].update(
        status="running",
        ended_at=NOW.isoformat(),
        segments=[{**d["active"][PANEL]["segments"][0], "end": None}],
    ),
    "ended before its last segment": lambda d: d["active"][PANEL].update(
        status="stopped", ended_at=d["active"][PANEL]["segments"][0]["start"]
    ),
}


@pytest.mark.parametrize("change", BAD_ACTIVE.values(), ids=BAD_ACTIVE.keys())
def test_a_bad_active_session_is_dropped_and_the_rest_kept(change: Any) -> None:
    loaded = read_stored(damaged(change), NOW)
    assert len(loaded.dropped) == 1
    assert loaded.dropped[0].startswith(f"active session of {PANEL}")
    assert list(loaded.active) == [OTHER_PANEL]
    assert len(loaded.history) == len(VALID["history"]["records"])


@pytest.mark.parametrize("area", ["eyes", "moon", 3, None])
def test_an_active_session_with_a_bad_area_is_kept_on_the_whole_body(area: Any) -> None:
    """It may be running: its dose still counts, against the area that shares every skin."""
    loaded = read_stored(damaged(_set((*PAUSED, "area"), area)), NOW)
    assert len(loaded.dropped) == 1
    session = loaded.active[PANEL]
    assert session.area == DEFAULT_PANEL_AREA.value
    assert session.status is SessionStatus.PAUSED
    assert session.delivered(NOW).total > 0


def test_a_protocol_run_whose_dates_overflow_is_dropped() -> None:
    """A stored run starting in year 9999 cannot be evaluated (its dates overflow): left out."""
    loaded = read_stored(damaged(_set(("plans", "plan-1", "start_date"), "9999-12-20")), NOW)
    assert len(loaded.dropped) == 1
    assert loaded.dropped[0].startswith("protocol run plan-1")
    assert loaded.plans == {}


def test_a_protocol_run_on_the_eyes_is_dropped() -> None:
    loaded = read_stored(damaged(_set(("plans", "plan-1", "area"), "eyes")), NOW)
    assert loaded.plans == {}
    assert len(loaded.dropped) == 1


@pytest.mark.parametrize(
    "document",
    [
        [],
        "text",
        VALID | {"history": "lots"},
        VALID | {"history": {"records": {}}},
        VALID | {"active": [1]},
        VALID | {"settings": 3},
        VALID | {"settings": {PANEL: 5}},
        VALID | {"plans": [{}]},
    ],
)
def test_a_section_of_the_wrong_shape_is_dropped_whole(document: Any) -> None:
    loaded = read_stored(document, NOW)
    assert len(loaded.dropped) == 1
    for section in ("history", "active", "settings", "plans"):
        if isinstance(document, dict) and document[section] == VALID[section]:
            continue
        assert not getattr(loaded, section)


def test_a_missing_section_is_reported() -> None:
    """Every layout read here has four sections (the migration adds them to older ones): a
    missing one was lost."""
    loaded = read_stored({"history": VALID["history"]}, NOW)
    assert len(loaded.dropped) == 3
    assert len(loaded.history) == len(VALID["history"]["records"])


# -- any damage --------------------------------------------------------------------------


def _assert_usable(loaded: Any) -> None:
    """What was loaded can be computed with: sums stay finite, sessions project, runs evaluate."""
    history: History = loaded.history
    assert math.isfinite(history.dose_in_window(NOW - timedelta(days=400), NOW).total)
    for session in loaded.active.values():
        assert not session.is_final
        assert math.isfinite(session.delivered(NOW).total)
        if session.started_at is not None and session.started_at <= NOW:
            SessionRecord.as_planned(session, NOW)
    for data in loaded.plans.values():
        ProtocolPlan.from_dict(data).evaluate(history, NOW)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged_documents(VALID))
def test_any_damage_loses_only_the_damaged_records(document: Any) -> None:
    """Any node replaced by any JSON value, keys deleted: reading never fails, every record
    the damage did not touch is kept, and each record left out is named."""
    loaded = read_stored(document, NOW)

    kept = [r.to_dict() for r in loaded.history]
    for record in surviving_records(VALID, document):
        assert record in kept
    records = stored_records(document)
    history_notes = [note for note in loaded.dropped if note.startswith("history record")]
    if records is None:
        assert len(loaded.history) == 0
        assert loaded.dropped
    else:
        assert len(records) - len(loaded.history) == len(history_notes)
    for panel_id in (PANEL, OTHER_PANEL):
        if untouched(VALID, document, "active", panel_id):
            assert loaded.active[panel_id].to_dict() == VALID["active"][panel_id]
    if untouched(VALID, document, "plans", "plan-1"):
        assert loaded.plans["plan-1"] == VALID["plans"]["plan-1"]
    if untouched(VALID, document, "settings", PANEL):
        assert loaded.settings[PANEL] == VALID["settings"][PANEL]
    _assert_usable(loaded)
