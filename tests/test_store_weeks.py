"""The history in one file per week: a version 1 store migrates with nothing lost (even when
cut short), every week file is untrusted on its own, a session writes only its week, and
unassigned records can be given to one person."""

from __future__ import annotations

from collections.abc import Generator
import copy
from datetime import datetime, timedelta
import json
from pathlib import Path
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir, storage
from homeassistant.util import dt as dt_util
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy import DATA_STORE
from custom_components.red_light_therapy.const import DOMAIN
from custom_components.red_light_therapy.store import (
    HISTORY_KEY,
    HISTORY_VERSION,
    SETTINGS_SAVE_DELAY,
    STORAGE_KEY,
    STORAGE_VERSION,
)
from custom_components.red_light_therapy.store_files import VersionedStore
from custom_components.red_light_therapy.therapy import (
    History,
    ProtocolPlan,
    Session,
    SessionRecord,
    SessionStatus,
)
from custom_components.red_light_therapy.therapy.stored import history_index, history_period

from .common import advance, saved_history, stored_files
from .common_store import restart, set_up
from .store_documents import OTHER_PANEL, damaged_documents, valid_document

LIGHT = "light.blockbluelight_f522"
TODAY = "sensor.blockbluelight_f522_dose_today"

_REAL_LOAD = storage.Store._async_load


def _document(key: str, data: Any, version: int = HISTORY_VERSION) -> dict[str, Any]:
    return {"version": version, "minor_version": 1, "key": key, "data": data}


def _weeks(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
    weeks: dict[str, list[Any]] = {}
    for item in records:
        record = SessionRecord.from_dict(item)
        weeks.setdefault(history_period(record.started_at), []).append(record.to_row())
    return weeks


def _version_2(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``document`` (a version 1 layout) as the files of version 2, by key."""
    weeks = _weeks(document["history"]["records"])
    files = {f"{HISTORY_KEY}.{week}": _document(f"{HISTORY_KEY}.{week}", {"records": rows})
             for week, rows in weeks.items()}  # fmt: skip
    files[HISTORY_KEY] = _document(HISTORY_KEY, {"periods": history_index(weeks)})
    main = {key: value for key, value in document.items() if key != "history"}
    files[STORAGE_KEY] = _document(STORAGE_KEY, main, STORAGE_VERSION)
    return files


# -- migration from version 1 --------------------------------------------------------------


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_a_version_1_store_moves_its_history_into_weeks_with_nothing_lost(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    issue_registry: ir.IssueRegistry,
) -> None:
    """Six sessions over six days (two ISO weeks), open sessions, settings and a protocol
    run: every record lands in its week, the main file keeps the rest and no history, and a
    restart reads the same history back."""
    document = valid_document(config_entry.entry_id, dt_util.utcnow())
    records = document["history"]["records"]
    hass_storage[STORAGE_KEY] = _document(STORAGE_KEY, copy.deepcopy(document), 1)

    await set_up(hass, config_entry)

    assert config_entry.state is ConfigEntryState.LOADED
    assert saved_history(hass_storage) == records
    main = hass_storage[STORAGE_KEY]
    assert main["version"] == STORAGE_VERSION
    assert "history" not in main["data"]
    assert main["data"]["settings"] == document["settings"]
    assert main["data"]["plans"] == document["plans"]
    assert main["data"]["active"][OTHER_PANEL] == document["active"][OTHER_PANEL]
    weeks = sorted(_weeks(records))
    assert sorted(key for key in hass_storage if key.startswith(f"{HISTORY_KEY}.")) == [
        f"{HISTORY_KEY}.{week}" for week in weeks
    ]
    assert hass_storage[HISTORY_KEY]["data"] == {"periods": history_index(weeks)}
    assert issue_registry.async_get_issue(DOMAIN, "store_repaired") is None

    store = await restart(hass, config_entry)
    assert [record.to_dict() for record in store.history] == records
    assert issue_registry.async_get_issue(DOMAIN, "store_repaired") is None


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_a_migration_cut_short_runs_again_and_counts_each_session_once(
    hass: HomeAssistant, config_entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """Power lost after some weeks were written but before the main file was: the version 1
    file is still there, so the next start migrates again from it, and no session is
    counted twice (the dose today is the same as from the old file alone)."""
    document = valid_document(config_entry.entry_id, dt_util.utcnow())
    records = document["history"]["records"]
    partial = _version_2(document)
    del partial[STORAGE_KEY]
    hass_storage.update(partial)
    hass_storage[STORAGE_KEY] = _document(STORAGE_KEY, copy.deepcopy(document), 1)

    await set_up(hass, config_entry)

    assert len(config_entry.runtime_data.sessions.history) == len(records)
    assert saved_history(hass_storage) == records
    assert hass_storage[STORAGE_KEY]["version"] == STORAGE_VERSION


# -- each week file is untrusted on its own -------------------------------------------------


@pytest.fixture
def storage_dir(tmp_path: Path) -> Generator[Path]:
    """The store's files read from real files in ``.storage`` (writes stay in
    ``hass_storage``)."""
    folder = tmp_path / ".storage"
    folder.mkdir()
    with (
        patch.object(VersionedStore, "_async_load", _REAL_LOAD),
        patch.object(VersionedStore, "path", property(lambda self: str(folder / self.key))),
    ):
        yield folder


def _write_files(folder: Path, files: dict[str, Any]) -> None:
    for key, value in files.items():
        (folder / key).write_text(value if isinstance(value, str) else json.dumps(value))


def _valid_files(entry: MockConfigEntry) -> tuple[dict[str, Any], dict[str, Any]]:
    """A valid store for ``entry`` now, and the files of version 2 that hold it, by key."""
    document = valid_document(entry.entry_id, dt_util.utcnow())
    return document, _version_2(document)


async def _set_up_on(
    hass: HomeAssistant, entry: MockConfigEntry, storage_dir: Path, files: dict[str, Any]
) -> None:
    """Write ``files`` into the storage folder and set the panel up on them."""
    await hass.async_add_executor_job(_write_files, storage_dir, files)
    await set_up(hass, entry)


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_an_unreadable_week_is_kept_aside_and_every_other_week_loads(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    storage_dir: Path,
    issue_registry: ir.IssueRegistry,
) -> None:
    document, files = _valid_files(config_entry)
    first, _ = sorted(key for key in files if key.startswith(f"{HISTORY_KEY}."))
    files[first] = "[]"
    await _set_up_on(hass, config_entry, storage_dir, files)

    assert config_entry.state is ConfigEntryState.LOADED
    week = first.removeprefix(f"{HISTORY_KEY}.")
    kept = [record.to_dict() for record in hass.data[DATA_STORE].history]
    assert kept == [r for r in document["history"]["records"] if _week_of(r) != week]
    assert kept  # the other week's sessions
    (backup,) = await hass.async_add_executor_job(_backups, storage_dir, f"{first}.unreadable-")
    assert await hass.async_add_executor_job(backup.read_text) == "[]"
    issue = issue_registry.async_get_issue(DOMAIN, f"history_week_unreadable_{week.lower()}")
    assert issue is not None
    assert issue.translation_key == "history_week_unreadable"
    assert issue.translation_placeholders["backup"] == str(backup)
    monday = datetime.strptime(f"{week}-1", "%G-W%V-%u").date()
    assert issue.translation_placeholders["monday"] == monday.isoformat()
    assert issue_registry.async_get_issue(DOMAIN, "store_unreadable") is None


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_an_unreadable_main_file_loses_only_what_it_held_not_the_history(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    storage_dir: Path,
    issue_registry: ir.IssueRegistry,
) -> None:
    document, files = _valid_files(config_entry)
    files[STORAGE_KEY] = "[]"
    await _set_up_on(hass, config_entry, storage_dir, files)

    store = hass.data[DATA_STORE]
    assert [r.to_dict() for r in store.history] == document["history"]["records"]
    assert store.plans == {}
    assert issue_registry.async_get_issue(DOMAIN, "store_unreadable") is not None


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_an_unreadable_index_is_kept_aside_and_the_weeks_are_found_in_the_folder(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    storage_dir: Path,
    hass_storage: dict[str, Any],
    issue_registry: ir.IssueRegistry,
) -> None:
    document, files = _valid_files(config_entry)
    files[HISTORY_KEY] = '{"version": 7, "minor_version": 1, "key": "x", "data": {}}'
    await _set_up_on(hass, config_entry, storage_dir, files)

    assert [r.to_dict() for r in hass.data[DATA_STORE].history] == document["history"]["records"]
    (backup,) = await hass.async_add_executor_job(_backups, storage_dir, f"{HISTORY_KEY}.unread")
    assert await hass.async_add_executor_job(backup.read_text) == files[HISTORY_KEY]
    assert not [issue for (domain, _), issue in issue_registry.issues.items() if domain == DOMAIN]
    # The next save writes the index again.
    await hass.data[DATA_STORE].async_save()
    weeks = sorted(_weeks(document["history"]["records"]))
    assert hass_storage[HISTORY_KEY]["data"] == {"periods": history_index(weeks)}


def _week_of(record: dict[str, Any]) -> str:
    started = dt_util.parse_datetime(record["started_at"])
    assert started is not None
    return history_period(started)


def _backups(folder: Path, prefix: str) -> list[Path]:
    return sorted(folder.glob(f"{prefix}*"))


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_a_bad_record_in_a_week_is_left_out_and_that_week_copied_and_rewritten(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    storage_dir: Path,
    hass_storage: dict[str, Any],
    issue_registry: ir.IssueRegistry,
) -> None:
    document, files = _valid_files(config_entry)
    key = max(key for key in files if key.startswith(f"{HISTORY_KEY}."))
    files[key]["data"]["records"].append("record-x panel eyes planned 2026 1 1 1 done 1 -")
    original = json.dumps(files[key])
    await _set_up_on(hass, config_entry, storage_dir, files)

    assert [r.to_dict() for r in hass.data[DATA_STORE].history] == document["history"]["records"]
    (backup,) = await hass.async_add_executor_job(_backups, storage_dir, f"{key}.before-repair-")
    assert await hass.async_add_executor_job(backup.read_text) == original
    issue = issue_registry.async_get_issue(DOMAIN, "store_repaired")
    assert issue is not None
    assert issue.translation_placeholders == {"count": "1", "backup": str(backup)}
    # Only the damaged week was written again, without the bad line.
    assert saved_history(hass_storage) == [
        r for r in document["history"]["records"] if f"{HISTORY_KEY}.{_week_of(r)}" == key
    ]


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_this_weeks_file_loads_even_when_the_index_does_not_name_it(
    hass: HomeAssistant, config_entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """A crash after a session's week was written and before the index was: the session
    still counts (this week is always read)."""
    document = valid_document(config_entry.entry_id, dt_util.utcnow())
    record = copy.deepcopy(document["history"]["records"][-1])
    record.update(id="today", started_at=dt_util.utcnow().isoformat())
    record["ended_at"] = record["started_at"]
    week = history_period(dt_util.utcnow())
    hass_storage[f"{HISTORY_KEY}.{week}"] = _document(
        f"{HISTORY_KEY}.{week}", {"records": [SessionRecord.from_dict(record).to_row()]}
    )
    hass_storage[HISTORY_KEY] = _document(HISTORY_KEY, {"periods": []})
    hass_storage[STORAGE_KEY] = _document(
        STORAGE_KEY, {"active": {}, "settings": {}, "plans": {}}, STORAGE_VERSION
    )

    await set_up(hass, config_entry)

    assert [r.id for r in hass.data[DATA_STORE].history] == ["today"]
    assert float(hass.states.get(TODAY).state) > 0


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_any_damage_to_the_week_files_never_stops_the_panel(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    issue_registry: ir.IssueRegistry,
) -> None:
    """Hypothesis damages the week files and their index (any node replaced by any JSON
    value, keys and list items removed): the panel always sets up, every record in a file
    the damage did not touch loads, and a record left out always raises a repair."""
    await set_up(hass, config_entry)
    _, files = _valid_files(config_entry)
    main = files.pop(STORAGE_KEY)
    valid = {key: value["data"] for key, value in files.items()}

    @settings(
        max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(st.data())
    def examples(data: st.DataObject) -> None:
        damaged.append(data.draw(damaged_documents(valid)))

    damaged: list[Any] = []
    examples()  # drawn first: hypothesis runs synchronously, the panel is set up below

    def _on_disk(_folder: str) -> set[str]:
        """The storage folder, as ``hass_storage`` holds it."""
        prefix = f"{HISTORY_KEY}."
        return {key.removeprefix(prefix) for key in hass_storage if key.startswith(prefix)}

    for case in damaged:
        if not isinstance(case, dict):
            continue  # the whole set of files replaced: no file at all (a fresh install)
        for key in stored_files(hass_storage):
            del hass_storage[key]
        for key, data in case.items():
            hass_storage[key] = _document(key, data)
        hass_storage[STORAGE_KEY] = copy.deepcopy(main)
        ir.async_get(hass).async_delete(DOMAIN, "store_repaired")

        with patch("custom_components.red_light_therapy.store_load._periods_on_disk", _on_disk):
            store = await restart(hass, config_entry)

        assert config_entry.state is ConfigEntryState.LOADED, case
        assert hass.states.get(LIGHT) is not None, case
        kept = [record.to_dict() for record in store.history]
        untouched = [key for key in valid if key != HISTORY_KEY and case.get(key) == valid[key]]
        for key in untouched:
            for row in valid[key]["records"]:
                assert SessionRecord.from_row(row).to_dict() in kept, case
        present = sum(
            len(data["records"])
            for key, data in case.items()
            if key != HISTORY_KEY
            and isinstance(data, dict)
            and isinstance(data.get("records"), list)
        )
        if len(kept) < present:
            assert issue_registry.async_get_issue(DOMAIN, "store_repaired") is not None, case


# -- what a session writes, and the API ----------------------------------------------------


async def test_recording_and_removing_a_session_write_only_its_week(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    store = hass.data[DATA_STORE]
    document = valid_document(init_integration.entry_id, dt_util.utcnow())
    old = SessionRecord.from_dict(document["history"]["records"][0])
    store.history.append(old)
    await store.async_save()
    old_week = f"{HISTORY_KEY}.{history_period(old.started_at)}"
    before = copy.deepcopy(hass_storage[old_week])
    written: list[str] = []
    write = storage.Store._async_write_data

    async def _counting(self: storage.Store[Any], *args: Any) -> None:
        written.append(self.key)
        await write(self, *args)

    record = SessionRecord.from_dict(
        {**document["history"]["records"][1], "id": "new", "started_at": _now(), "ended_at": _now()}
    )
    week = f"{HISTORY_KEY}.{history_period(record.started_at)}"
    with patch.object(storage.Store, "_async_write_data", _counting):
        await store.async_record_session(record)
        assert written[0] == week
        assert written[-1] == STORAGE_KEY
        assert old_week not in written or old_week == week
        written.clear()
        assert await store.async_remove_session("new") == record
    assert hass_storage[old_week] == before or old_week == week
    assert "new" not in str(stored_files(hass_storage))
    assert [r.id for r in store.history] == [old.id]


async def test_a_started_session_is_written_before_anything_else_and_a_new_history_whole(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    store = hass.data[DATA_STORE]
    document = valid_document(init_integration.entry_id, dt_util.utcnow())
    session = Session.from_dict(document["active"][init_integration.entry_id])
    await store.async_start_session(session)
    stored = hass_storage[STORAGE_KEY]["data"]["active"][init_integration.entry_id]
    assert stored == session.to_dict()
    with pytest.raises(ValueError, match="belongs to a panel"):
        await store.async_start_session(Session("x", "knee", 20.0, 60.0, session.irradiance))
    # Its record ends it: the active session is gone from the main file, the record is in
    # its week.
    session.finish(session.last_event_at, SessionStatus.STOPPED)
    await store.async_record_session(SessionRecord.from_session(session))
    assert hass_storage[STORAGE_KEY]["data"]["active"] == {}
    assert [r["id"] for r in saved_history(hass_storage)] == [session.id]
    # A whole new history (the old surface): every week, old and new, is written.
    store.history = History(SessionRecord.from_dict(r) for r in document["history"]["records"])
    await store.async_save()
    assert saved_history(hass_storage) == document["history"]["records"]  # the session's is gone
    store.history = History()
    await store.async_save()
    assert saved_history(hass_storage) == []
    assert hass_storage[HISTORY_KEY]["data"] == {"periods": []}


def _now() -> str:
    return dt_util.utcnow().isoformat()


async def test_settings_and_runs_through_the_store_api(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    store = hass.data[DATA_STORE]
    panel = init_integration.entry_id
    settings_now = store.async_update_settings(panel, minutes=12, area="knee")
    assert (settings_now.minutes, settings_now.area) == (12, "knee")
    assert store.panel_settings(panel) == settings_now
    assert store.async_update_settings(panel, area=None).area is None
    with pytest.raises(TypeError):
        store.async_update_settings(panel, colour="red")
    document = valid_document(panel, dt_util.utcnow())
    plan = ProtocolPlan.from_dict(document["plans"]["plan-1"])
    await store.async_save_run(plan)
    assert store.runs() == {"plan-1": plan}
    assert hass_storage[STORAGE_KEY]["data"]["plans"]["plan-1"] == plan.to_dict()
    # Nobody outside the store changes a run behind its back (a change it would not save).
    assert store.plans == {"plan-1": plan.to_dict()}
    with pytest.raises(TypeError):
        store.plans["plan-1"]["status"] = "stopped"  # type: ignore[index]
    with pytest.raises(TypeError):
        store.plans["plan-2"] = plan.to_dict()  # type: ignore[index]
    await store.async_remove_run("plan-1")
    assert store.runs() == {}
    assert hass_storage[STORAGE_KEY]["data"]["plans"] == {}
    # A caller that cannot wait (a run completed by a session) has it written by a task.
    store.async_save_runs_later([plan])
    await hass.async_block_till_done()
    assert hass_storage[STORAGE_KEY]["data"]["plans"]["plan-1"] == plan.to_dict()


async def test_open_sessions_and_settings_change_only_through_the_store_api(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """Nobody outside the store changes its open sessions or settings behind its back (a
    change it would not save): its views refuse a change, its methods make and save it."""
    store = hass.data[DATA_STORE]
    panel = init_integration.entry_id
    document = valid_document(panel, dt_util.utcnow())
    session = Session.from_dict(document["active"][panel])
    with pytest.raises(TypeError):
        store.active[panel] = session  # type: ignore[index]
    store.async_set_setting(panel, "person", "person.ada")
    assert store.setting(panel, "person") == "person.ada"
    assert store.settings[panel]["person"] == "person.ada"
    with pytest.raises(TypeError):
        store.settings[panel]["minutes"] = 12  # type: ignore[index]
    assert store.setting(panel, "minutes") is None
    await advance(hass, freezer, timedelta(seconds=SETTINGS_SAVE_DELAY + 1))
    assert hass_storage[STORAGE_KEY]["data"]["settings"][panel]["person"] == "person.ada"
    await store.async_start_session(session)
    assert store.active[panel] is session
    # A session that never ran ends without a record; one that ran leaves its record.
    await store.async_end_session(panel)
    assert panel not in store.active
    assert hass_storage[STORAGE_KEY]["data"]["active"] == {}
    await store.async_start_session(session)
    session.finish(session.last_event_at, SessionStatus.STOPPED)
    record = SessionRecord.from_session(session)
    await store.async_end_session(panel, record)
    assert panel not in store.active
    assert hass_storage[STORAGE_KEY]["data"]["active"] == {}
    assert record.id in [r["id"] for r in saved_history(hass_storage)]


# -- persons ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_unassigned_history_sessions_and_runs_can_be_given_to_one_person(
    hass: HomeAssistant, config_entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """The household migration's step: after an upgrade everything belongs to no one; one
    call gives it to a person, and that survives a restart. One already assigned stays."""
    document = valid_document(config_entry.entry_id, dt_util.utcnow())
    document["history"]["records"][0]["person"] = "person.bob"
    hass_storage[STORAGE_KEY] = _document(STORAGE_KEY, copy.deepcopy(document), 1)
    await set_up(hass, config_entry)
    store = hass.data[DATA_STORE]
    assert [r.person for r in store.history] == ["person.bob"] + [None] * 5

    with pytest.raises(ValueError, match="not a person entity id"):
        store.assign_unassigned("Ada Lovelace")
    changed = store.assign_unassigned("person.ada")
    await store.async_save()

    assert changed == 5 + len(store.active) + len(store.plans)
    store = await restart(hass, config_entry)
    assert [r.person for r in store.history] == ["person.bob"] + ["person.ada"] * 5
    assert {session.person for session in store.active.values()} == {"person.ada"}
    assert {ProtocolPlan.from_dict(run).person for run in store.plans.values()} == {"person.ada"}
    assert saved_history(hass_storage)[1]["person"] == "person.ada"
    assert len(saved_history(hass_storage)) == 6
