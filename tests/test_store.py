"""The therapy store: saved before the panel switches on, unreadable data kept aside and
reported, older layouts migrated, a newer one refused loudly, years of history loaded fast."""

from __future__ import annotations

from collections.abc import Generator
import copy
from datetime import timedelta
import json
from pathlib import Path
import tempfile
import time
from typing import Any
from unittest.mock import patch

from homeassistant.components.person import DOMAIN as PERSON_DOMAIN, async_create_person
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir, storage
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy import DATA_STORE
from custom_components.red_light_therapy.const import (
    DEFAULT_SESSION_MINUTES,
    DOMAIN,
    MAX_SESSION_MINUTES,
)
from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator, codec
from custom_components.red_light_therapy.panels.blockbluelight.codec import Frame
from custom_components.red_light_therapy.store import (
    HISTORY_KEY,
    HISTORY_VERSION,
    STORAGE_KEY,
    STORAGE_MINOR_VERSION,
    STORAGE_VERSION,
    TherapyStore,
)
from custom_components.red_light_therapy.store_files import (
    _UNREAD,
    VersionedStore,
    _load_json_in_pieces,
)
from custom_components.red_light_therapy.therapy import (
    BandDose,
    SessionRecord,
)
from custom_components.red_light_therapy.therapy.stored import history_period, read_stored

from .common import saved_history, stored_files
from .common_store import restart, set_up, unload
from .store_documents import (
    JSON_VALUES,
    OTHER_PANEL,
    change_at,
    damaged_documents,
    stored_records,
    surviving_records,
    untouched,
    valid_document,
)
from .therapy.builders import session_record

LIGHT = "light.blockbluelight_f522"
START = "button.blockbluelight_f522_start_session"
TODAY = "sensor.blockbluelight_f522_dose_today"

# Captured at import, before the ``hass`` fixture replaces Store loading with ``hass_storage``.
_REAL_LOAD = storage.Store._async_load


OLD_VERSION = 1
"""The first layout: the history inside the main file (``history.records``)."""


def _stored(data: Any, *, version: int = OLD_VERSION, minor: int = 1) -> dict[str, Any]:
    return {"version": version, "minor_version": minor, "key": STORAGE_KEY, "data": data}


def _record(index: int, panel_id: str | None, days_ago: float) -> dict[str, Any]:
    start = dt_util.utcnow() - timedelta(days=days_ago)
    return session_record(
        f"record-{index:05d}",
        start,
        length=timedelta(minutes=10),
        dose=BandDose(4.8, 2.4),
        area="whole_body",
        on_seconds=600.0,
        panel_id=panel_id,
    ).to_dict()


# -- the session is saved before the panel is switched on ---------------------------------


async def test_session_is_saved_before_the_panel_switches_on(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    hass_storage: dict[str, Any],
) -> None:
    """At the moment the panel receives the power-on frame, the session is already on disk."""
    seen: list[dict[str, Any]] = []
    execute = emulator._execute

    def snapshot_at_power_on(frame: Frame) -> list[Frame]:
        if frame.command == codec.CMD_POWER and codec.parse_power(frame):
            seen.append(copy.deepcopy(hass_storage[STORAGE_KEY]["data"]["active"]))
        return execute(frame)

    emulator._execute = snapshot_at_power_on  # type: ignore[method-assign]
    await hass.services.async_call("button", "press", {"entity_id": START}, blocking=True)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert emulator.is_on
    (active,) = seen
    stored = active[dimmed_integration.entry_id]
    assert stored["status"] == "planned"
    assert stored["segments"] == []
    # The panel's own countdown was armed before that: a crash from here on leaves it safe.
    commands = [frame.command for frame in emulator.commands]
    assert codec.CMD_TIMER in commands[: commands.index(codec.CMD_POWER)]
    session = dimmed_integration.runtime_data.sessions.session
    assert session is not None
    assert stored["id"] == session.id
    # Once acknowledged, the running session (with its on-time) is saved too.
    saved = hass_storage[STORAGE_KEY]["data"]["active"][dimmed_integration.entry_id]
    assert saved["status"] == "running"
    assert saved["segments"][0]["start"] == session.started_at.isoformat()


async def test_a_refused_power_on_leaves_no_active_session_stored(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    hass_storage: dict[str, Any],
) -> None:
    emulator.drop_connection()
    emulator.refuse_connections = 1000
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call("button", "press", {"entity_id": START}, blocking=True)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass_storage[STORAGE_KEY]["data"]["active"] == {}
    assert dimmed_integration.runtime_data.sessions.session is None


# -- unreadable data: kept aside, reported, the integration starts empty ------------------


@pytest.fixture
def disk_file(tmp_path: Path) -> Generator[Path]:
    """The therapy store read from real files (its main file is the one returned; every
    other store stays in ``hass_storage``, and so do the writes)."""
    path = tmp_path / ".storage" / STORAGE_KEY
    path.parent.mkdir()
    with (
        patch.object(VersionedStore, "_async_load", _REAL_LOAD),
        patch.object(VersionedStore, "path", property(lambda self: str(path.parent / self.key))),
    ):
        yield path


# Small blocking file operations on a temporary directory, kept out of the async tests.


def _write(path: Path, content: str) -> None:
    path.write_text(content)


def _read(path: Path) -> str:
    return path.read_text()


def _exists(path: Path) -> bool:
    return path.exists()


def _make_dir_with_file(path: Path) -> None:
    path.mkdir()
    _write(path / "inside", "kept")


def _backups(path: Path, marker: str) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}{marker}*"))


def _assert_started_empty(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert entry.state is ConfigEntryState.LOADED
    store = hass.data[DATA_STORE]
    assert len(store.history) == 0
    assert store.active == {}
    assert hass.states.get(TODAY).state == "0.0"


BAD_CONTENTS = {
    "not_an_object": "[]",
    "no_version": json.dumps({"data": {"history": {"records": []}}}),
    "no_data": json.dumps({"version": STORAGE_VERSION, "key": STORAGE_KEY}),
    "null_data": json.dumps(_stored(None)),
    "empty_object": "{}",
}


@pytest.mark.parametrize("content", BAD_CONTENTS.values(), ids=BAD_CONTENTS.keys())
@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_invalid_content_is_kept_aside_and_reported(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    disk_file: Path,
    issue_registry: ir.IssueRegistry,
    content: str,
) -> None:
    """A file that is not a store at all: moved to ``*.unreadable-<time>``, a repair issue."""
    _write(disk_file, content)

    await set_up(hass, config_entry)

    assert not _exists(disk_file)
    (backup,) = _backups(disk_file, ".unreadable-")
    assert _read(backup) == content  # nothing lost: the backup is the file as it was
    issue = issue_registry.async_get_issue(DOMAIN, "store_unreadable")
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_placeholders["backup"] == str(backup)
    assert issue.translation_placeholders["error"]
    _assert_started_empty(hass, config_entry)


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_a_file_that_cannot_be_read_is_kept_aside_and_reported(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    disk_file: Path,
    issue_registry: ir.IssueRegistry,
) -> None:
    """An I/O error (here: a directory where the file should be) is an unreadable store."""
    _make_dir_with_file(disk_file)

    await set_up(hass, config_entry)

    (backup,) = _backups(disk_file, ".unreadable-")
    assert _read(backup / "inside") == "kept"
    assert issue_registry.async_get_issue(DOMAIN, "store_unreadable") is not None
    _assert_started_empty(hass, config_entry)


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_corrupt_json_is_kept_aside_and_reported_by_home_assistant(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    disk_file: Path,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Undecodable JSON never reaches the integration: Home Assistant's ``Store`` renames it
    ``*.corrupt.<time>``, raises its own ``storage_corruption`` repair issue and loads nothing.
    The integration then starts empty (without an issue of its own)."""
    content = '{"version": 1, "minor_version": 1, "data": {"history": {"recor'
    _write(disk_file, content)

    await set_up(hass, config_entry)

    assert not _exists(disk_file)
    (backup,) = _backups(disk_file, ".corrupt.")
    assert _read(backup) == content
    issues = [
        issue
        for (domain, issue_id), issue in issue_registry.issues.items()
        if domain == "homeassistant" and issue_id.startswith(f"storage_corruption_{STORAGE_KEY}")
    ]
    assert len(issues) == 1
    assert issues[0].severity is ir.IssueSeverity.CRITICAL
    assert issues[0].translation_placeholders["corrupt_path"] == str(backup)
    _assert_started_empty(hass, config_entry)


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_after_an_unreadable_store_new_sessions_are_saved_again(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    disk_file: Path,
    hass_storage: dict[str, Any],
) -> None:
    _write(disk_file, "[]")
    await set_up(hass, config_entry)

    two_hours_ago = (dt_util.utcnow() - timedelta(hours=2)).isoformat()
    data = {"entity_id": LIGHT, "started_at": two_hours_ago, "minutes": 5}
    await hass.services.async_call(DOMAIN, "log_session", data, blocking=True)

    assert len(saved_history(hass_storage)) == 1


# -- untrusted records: left out, the file copied aside, reported, everything else loaded --

DURATION = "number.blockbluelight_f522_session_duration"
AREA = "select.blockbluelight_f522_treatment_area"


def _damage(path: tuple[Any, ...], value: Any = None, *, remove: bool = False) -> Any:
    def change(document: dict[str, Any], panel_id: str) -> None:
        steps = tuple(panel_id if step is PANEL else step for step in path)
        change_at(document, steps, value, remove=remove)

    return change


PANEL = object()
"""Stands for the config entry's id in a damage path."""
RECORDS = ("history", "records")
UNTRUSTED = {
    "a list where a record belongs": (_damage((*RECORDS, 0), ["record-0"]), 5, True),
    "a record missing its dose": (_damage((*RECORDS, 1, "dose"), remove=True), 5, True),
    "a record in year 9999": (
        _damage((*RECORDS, 2, "ended_at"), "9999-12-31T23:59:59+00:00"),
        5,
        True,
    ),
    "a dose of 1e308": (_damage((*RECORDS, 3, "dose", "red"), 1e308), 5, True),
    "a record on the eyes": (_damage((*RECORDS, 4, "area"), "eyes"), 5, True),
    "a running session with no segments": (
        lambda d, p: d["active"][p].update(status="running", segments=[]),
        6,
        False,
    ),
    "a completed session among the active ones": (
        lambda d, p: d["active"][p].update(
            status="completed", ended_at=d["active"][p]["segments"][0]["end"]
        ),
        6,
        False,
    ),
    "non-numeric minutes": (_damage(("settings", PANEL, "minutes"), "ten"), 6, True),
    "an eye area setting": (_damage(("settings", PANEL, "area"), "left_eye"), 6, True),
    "a protocol run in year 9999": (
        _damage(("plans", "plan-1", "start_date"), "9999-12-20"),
        6,
        True,
    ),
}


@pytest.mark.parametrize("case", UNTRUSTED.values(), ids=UNTRUSTED.keys())
@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_untrusted_records_are_left_out_and_everything_else_loads(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    disk_file: Path,
    hass_storage: dict[str, Any],
    case: tuple[Any, int, bool],
) -> None:
    """Valid JSON of the wrong shape in one record: the panel sets up, every other record
    loads, the file as it was is copied aside, a repair says how many records were left out
    and where the copy is, and the cleaned data is saved (the next start is clean)."""
    change, records, paused_kept = case
    document = valid_document(config_entry.entry_id, dt_util.utcnow())
    change(document, config_entry.entry_id)
    content = json.dumps(_stored(document))
    _write(disk_file, content)

    await set_up(hass, config_entry)

    assert config_entry.state is ConfigEntryState.LOADED
    assert hass.states.get(LIGHT) is not None
    store = hass.data[DATA_STORE]
    assert len(store.history) == records
    # The paused session stays (or, damaged, is gone); the other panel's stays whole.
    assert OTHER_PANEL in store.active
    assert (config_entry.entry_id in store.active) == paused_kept
    (backup,) = _backups(disk_file, ".before-repair-")
    assert _read(backup) == content
    issues = ir.async_get(hass)
    issue = issues.async_get_issue(DOMAIN, "store_repaired")
    assert issue is not None
    assert issue.translation_placeholders == {"count": "1", "backup": str(backup)}
    assert issues.async_get_issue(DOMAIN, "store_unreadable") is None
    saved = hass_storage[STORAGE_KEY]["data"]
    assert read_stored(saved, dt_util.utcnow(), history=False).dropped == []
    assert len(saved_history(hass_storage)) == records


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_without_a_copy_the_damaged_file_is_not_overwritten(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    disk_file: Path,
    hass_storage: dict[str, Any],
) -> None:
    """The copy aside fails (a full disk): the trusted records load, the repair names the
    file itself, and nothing is saved over it until something changes."""
    document = valid_document(config_entry.entry_id, dt_util.utcnow())
    document["history"]["records"][0]["area"] = "eyes"
    content = json.dumps(_stored(document))
    _write(disk_file, content)

    with patch("custom_components.red_light_therapy.store_load.shutil.copy2", side_effect=OSError):
        await set_up(hass, config_entry)

    assert len(hass.data[DATA_STORE].history) == 5
    assert _backups(disk_file, ".before-repair-") == []
    issue = ir.async_get(hass).async_get_issue(DOMAIN, "store_repaired")
    assert issue is not None
    assert issue.translation_placeholders["backup"] == str(disk_file)
    assert _read(disk_file) == content
    assert STORAGE_KEY not in hass_storage


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_an_older_layout_of_the_wrong_shape_is_repaired(
    hass: HomeAssistant, config_entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """An older minor version whose data is not an object: nothing to migrate, reported."""
    hass_storage[STORAGE_KEY] = _stored([], minor=0)

    await set_up(hass, config_entry)

    assert config_entry.state is ConfigEntryState.LOADED
    issue = ir.async_get(hass).async_get_issue(DOMAIN, "store_repaired")
    assert issue is not None
    assert issue.translation_placeholders["count"] == "1"


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_bad_settings_fall_back_to_their_defaults(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    issue_registry: ir.IssueRegistry,
) -> None:
    """Text for the minutes, an eye area, an infinite distance: the entities show the
    defaults and the panel works; a number out of range is clamped into it."""
    document = valid_document(config_entry.entry_id, dt_util.utcnow())
    document["settings"][config_entry.entry_id] = {
        "minutes": 10**400,
        "area": "eyes",
        "distance_cm": "far",
        "calibration": [1, 2],
    }
    hass_storage[STORAGE_KEY] = _stored(document)

    await set_up(hass, config_entry)

    assert config_entry.state is ConfigEntryState.LOADED
    # The minutes fell back to the factory default: what fits the area at full output.
    factory = (
        config_entry.runtime_data.sessions.panel_settings.default_duration.total_seconds() / 60
    )
    assert float(hass.states.get(DURATION).state) == factory <= DEFAULT_SESSION_MINUTES
    assert hass.states.get(AREA).state == "whole_body"
    issue = issue_registry.async_get_issue(DOMAIN, "store_repaired")
    assert issue is not None
    assert issue.translation_placeholders["count"] == "4"

    document["settings"][config_entry.entry_id] = {"minutes": 500, "distance_cm": 2}
    hass_storage[STORAGE_KEY] = _stored(document)
    await hass.config_entries.async_unload(config_entry.entry_id)
    hass.data[DATA_STORE] = store = TherapyStore(hass)
    await store.async_load()
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert float(hass.states.get(DURATION).state) == MAX_SESSION_MINUTES
    assert config_entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.blockbluelight_f522_irradiance").state != "unavailable"


async def _reload_with(
    hass: HomeAssistant, entry: MockConfigEntry, hass_storage: dict[str, Any], document: Any
) -> TherapyStore:
    """Start the integration again on ``document``: a fresh store read, the panel set up."""
    await unload(hass, entry)
    ir.async_get(hass).async_delete(DOMAIN, "store_repaired")
    for key in stored_files(hass_storage):
        del hass_storage[key]
    hass_storage[STORAGE_KEY] = _stored(document)
    return await restart(hass, entry)


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_any_damage_to_the_store_never_stops_the_panel(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    issue_registry: ir.IssueRegistry,
) -> None:
    """Hypothesis damages a valid store (any node replaced by any JSON value, keys and list
    items removed): the panel always sets up with its entities, every record the damage did
    not touch loads, and a record left out always raises the repair."""
    await set_up(hass, config_entry)
    valid = valid_document(config_entry.entry_id, dt_util.utcnow())

    @settings(
        max_examples=30,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.data())
    def examples(data: st.DataObject) -> None:
        documents.append(data.draw(damaged_documents(valid)))

    documents: list[Any] = []
    examples()  # drawn first: hypothesis runs synchronously, the panel is set up below
    for document in documents:
        if document is None:
            continue  # null data: only a real file can hold it (test_invalid_content_...)
        store = await _reload_with(hass, config_entry, hass_storage, copy.deepcopy(document))

        assert config_entry.state is ConfigEntryState.LOADED, document
        assert hass.states.get(LIGHT) is not None, document
        assert hass.states.get(TODAY) is not None, document
        kept = [record.to_dict() for record in store.history]
        for record in surviving_records(valid, document):
            assert record in kept, document
        stored = stored_records(document)
        if stored is None or len(kept) < len(stored):
            assert issue_registry.async_get_issue(DOMAIN, "store_repaired") is not None
        for panel_id in (config_entry.entry_id, OTHER_PANEL):
            if untouched(valid, document, "active", panel_id):
                assert store.active[panel_id].to_dict() == valid["active"][panel_id]


# -- versions ------------------------------------------------------------------------------


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_an_older_minor_version_loads_with_missing_keys_filled(
    hass: HomeAssistant, config_entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """An older layout (only the history) migrates: its records count, the rest is added."""
    record = _record(1, config_entry.entry_id, days_ago=0.01)
    hass_storage[STORAGE_KEY] = _stored({"history": {"records": [record]}}, minor=0)

    await set_up(hass, config_entry)

    assert config_entry.state is ConfigEntryState.LOADED
    store = hass.data[DATA_STORE]
    assert [r.id for r in store.history] == ["record-00001"]
    assert config_entry.runtime_data.sessions.last_session is not None
    # The record ended a few minutes ago: today's dose unless that was before midnight.
    ended = dt_util.parse_datetime(record["ended_at"])
    assert ended is not None
    today = dt_util.as_local(ended) >= dt_util.start_of_local_day()
    assert float(hass.states.get(TODAY).state) == pytest.approx(7.2 if today else 0.0)
    saved = hass_storage[STORAGE_KEY]
    assert (saved["version"], saved["minor_version"]) == (STORAGE_VERSION, STORAGE_MINOR_VERSION)
    assert set(saved["data"]) >= {"active", "settings", "plans"}
    assert "history" not in saved["data"]
    assert saved_history(hass_storage) == [record]


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_a_newer_minor_version_loads(
    hass: HomeAssistant, config_entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """Minor versions only add keys: a newer one is readable by this release."""
    record = _record(1, config_entry.entry_id, days_ago=3)
    week = history_period(dt_util.parse_datetime(record["started_at"]))
    hass_storage[f"{HISTORY_KEY}.{week}"] = {
        "version": 1,
        "minor_version": 2,
        "key": f"{HISTORY_KEY}.{week}",
        "data": {"records": [SessionRecord.from_dict(record).to_row()], "new": 1},
    }
    hass_storage[HISTORY_KEY] = {
        "version": 1,
        "minor_version": 2,
        "key": HISTORY_KEY,
        "data": {"periods": [week]},
    }
    hass_storage[STORAGE_KEY] = _stored(
        {
            "active": {},
            "settings": {config_entry.entry_id: {"minutes": 12}},
            "plans": {},
            "something_new": {"x": 1},
        },
        version=STORAGE_VERSION,
        minor=STORAGE_MINOR_VERSION + 1,
    )

    await set_up(hass, config_entry)

    assert config_entry.state is ConfigEntryState.LOADED
    assert len(hass.data[DATA_STORE].history) == 1
    assert config_entry.runtime_data.sessions.panel_settings.default_duration == timedelta(
        minutes=12
    )


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_a_newer_major_version_is_kept_aside_and_reported(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    disk_file: Path,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Data written by a newer release (after a downgrade) is not silently dropped: the file
    is kept aside, a repair issue names the version, and the panels still work."""
    content = json.dumps(
        _stored({"history": {"records": []}, "future": True}, version=STORAGE_VERSION + 1)
    )
    _write(disk_file, content)

    await set_up(hass, config_entry)

    (backup,) = _backups(disk_file, ".unreadable-")
    assert _read(backup) == content
    issue = issue_registry.async_get_issue(DOMAIN, "store_unreadable")
    assert issue is not None
    assert f"version {STORAGE_VERSION + 1}" in issue.translation_placeholders["error"]
    _assert_started_empty(hass, config_entry)


# -- years of history ----------------------------------------------------------------------


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_two_thousand_records_load_and_the_first_refresh_stays_fast(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Five and a half years of daily sessions, the last a week and a half ago (so the
    weekly count allows one more whatever the time of day): setup (load, first refresh,
    platforms) and a session start (the limits check over the history) stay well under a
    loose bound."""
    records = [_record(i, config_entry.entry_id, days_ago=2000 - i + 9.5) for i in range(2000)]
    hass_storage[STORAGE_KEY] = _stored(
        {"history": {"records": records}, "active": {}, "settings": {}, "plans": {}}
    )

    started = time.perf_counter()
    await set_up(hass, config_entry)
    setup_seconds = time.perf_counter() - started

    assert config_entry.state is ConfigEntryState.LOADED
    assert len(hass.data[DATA_STORE].history) == 2000
    assert config_entry.runtime_data.sessions.last_session.id == "record-01999"
    assert setup_seconds < 2.0

    sessions = config_entry.runtime_data.sessions
    started = time.perf_counter()
    plan = sessions.planner.plan(minutes=5)
    assert time.perf_counter() - started < 0.5
    assert plan.verdict.outcome.value in {"allowed", "clamped"}


# -- the file is decoded in pieces (years of history never hold the event loop) ---------


def _read_in_pieces(text: str) -> Any:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "store"
        path.write_text(text, encoding="utf-8")
        return _load_json_in_pieces(str(path))


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES, st.sampled_from([None, 2]), st.integers(0, 400))
def test_the_file_decoded_in_pieces_is_the_json(value: Any, indent: int | None, cut: int) -> None:
    """Any JSON, indented as Home Assistant writes it or compact, decodes to what ``json``
    gives; a cut-off or otherwise invalid file is left to Home Assistant's loader."""
    text = json.dumps(
        {"version": 1, "data": {"history": {"records": [value, value]}}}, indent=indent
    )
    assert _read_in_pieces(text) == json.loads(text)
    assert _read_in_pieces(json.dumps(value, indent=indent)) == value
    broken = text[: cut % len(text)]
    try:
        expected = json.loads(broken)
    except ValueError:
        expected = _UNREAD
    assert _read_in_pieces(broken) == expected
    assert _read_in_pieces(text + " x") is _UNREAD


@pytest.mark.parametrize("text", ['{"a" 1}', "{1: 2}", '{"a": 1 "b": 2}', "[1 2]", "\ufeff{}"])
def test_invalid_json_is_left_to_home_assistant(text: str) -> None:
    assert _read_in_pieces(text) is _UNREAD


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_an_older_minor_version_on_disk_is_migrated_and_saved(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    disk_file: Path,
    hass_storage: dict[str, Any],
) -> None:
    record = _record(1, config_entry.entry_id, days_ago=0.01)
    _write(disk_file, json.dumps(_stored({"history": {"records": [record]}}, minor=0)))

    await set_up(hass, config_entry)

    assert [r.id for r in hass.data[DATA_STORE].history] == ["record-00001"]
    saved = hass_storage[STORAGE_KEY]
    assert (saved["version"], saved["minor_version"]) == (STORAGE_VERSION, STORAGE_MINOR_VERSION)
    assert saved_history(hass_storage) == [record]
    assert ir.async_get(hass).async_get_issue(DOMAIN, "store_repaired") is None


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
@pytest.mark.parametrize(
    ("minor", "migrated", "expected"),
    [
        (1, None, "person.ada"),  # 2.1, from before households: the one-time migration
        (STORAGE_MINOR_VERSION, True, None),  # already migrated: never again
    ],
)
async def test_the_household_migration_runs_once_with_the_version_bump(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    *,
    minor: int,
    migrated: bool | None,
    expected: str | None,
) -> None:
    """A store from before households (2.1) in a home of one person: at the first setup its
    unassigned records become that person's, and the flag is saved with version 2.2. A store
    that was migrated (the person was added later) is never rewritten: its unassigned records
    stay as they are stored (shown as the only person's anyway)."""
    assert await async_setup_component(hass, PERSON_DOMAIN, {})
    await async_create_person(hass, "Ada")
    await hass.async_block_till_done()
    records = [_record(i, config_entry.entry_id, days_ago=i) for i in (1, 2)]
    week_rows: dict[str, list[Any]] = {}
    for record in records:
        row = SessionRecord.from_dict(record)
        week_rows.setdefault(history_period(row.started_at), []).append(row.to_row())
    for week, rows in week_rows.items():
        hass_storage[f"{HISTORY_KEY}.{week}"] = {
            "version": HISTORY_VERSION,
            "minor_version": 1,
            "key": f"{HISTORY_KEY}.{week}",
            "data": {"records": rows},
        }
    hass_storage[HISTORY_KEY] = {
        "version": HISTORY_VERSION,
        "minor_version": 1,
        "key": HISTORY_KEY,
        "data": {"periods": sorted(week_rows)},
    }
    data: dict[str, Any] = {"active": {}, "settings": {}, "plans": {}}
    if migrated is not None:
        data["households_migrated"] = migrated
    hass_storage[STORAGE_KEY] = _stored(data, version=STORAGE_VERSION, minor=minor)

    await set_up(hass, config_entry)
    await hass.async_block_till_done()

    assert config_entry.state is ConfigEntryState.LOADED
    store = hass.data[DATA_STORE]
    assert [(r.id, r.person) for r in store.history] == [
        (record["id"], expected) for record in reversed(records)
    ]
    assert store.households_migrated
    await store.async_save()
    saved = hass_storage[STORAGE_KEY]
    assert (saved["minor_version"], saved["data"]["households_migrated"]) == (
        STORAGE_MINOR_VERSION,
        True,
    )
    assert [row.get("person") for row in saved_history(hass_storage)] == [expected] * 2
