"""A household on a panel: the "Who is using the panel" select and each person's dose sensors.

Persons come from Home Assistant's real person integration. Records carry their person as the
store will keep it: until SessionRecord has a ``person`` field, a subclass adds it (as
tests/therapy/test_household.py does) and the record is put into the therapy store's history.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.person import DOMAIN as PERSON_DOMAIN, async_create_person
from homeassistant.components.select import (
    ATTR_OPTION,
    DOMAIN as SELECT_DOMAIN,
    SERVICE_SELECT_OPTION,
)
from homeassistant.const import ATTR_ENTITY_ID, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy import DATA_STORE
from custom_components.red_light_therapy.entity import entity_unique_id
from custom_components.red_light_therapy.household_entities import current_person
from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator
from custom_components.red_light_therapy.session_manager import async_panels_changed
from custom_components.red_light_therapy.store import SETTINGS_SAVE_DELAY, STORAGE_KEY
from custom_components.red_light_therapy.therapy.history import SessionRecord

from .common import act, advance, completed_record, settle

PACIFIC = ZoneInfo("US/Pacific")
WEDNESDAY_9AM = datetime(2025, 6, 4, 9, 0, tzinfo=PACIFIC)
TODAY = "sensor.blockbluelight_f522_dose_today"
WEEK = "sensor.blockbluelight_f522_dose_this_week"


@pytest.fixture(autouse=True)
def fixed_clock(freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to(WEDNESDAY_9AM)


async def _persons(hass: HomeAssistant, *names: str) -> None:
    assert await async_setup_component(hass, PERSON_DOMAIN, {})
    for name in names:
        await async_create_person(hass, name)
    await settle(hass)


async def _delete_person(hass: HomeAssistant, name: str) -> None:
    storage = hass.data[PERSON_DOMAIN][1]
    item = next(item for item in storage.async_items() if item["name"] == name)
    await storage.async_delete_item(item["id"])
    await settle(hass)


async def _rename_person(hass: HomeAssistant, name: str, new_name: str) -> None:
    storage = hass.data[PERSON_DOMAIN][1]
    item = next(item for item in storage.async_items() if item["name"] == name)
    await storage.async_update_item(item["id"], {"name": new_name})
    await settle(hass)


def _entities(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, str]:
    """The panel's registered entities: unique id key -> entity id."""
    prefix = entity_unique_id(entry, "")
    return {
        e.unique_id.removeprefix(prefix): e.entity_id
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    }


def _entity_id(hass: HomeAssistant, entry: MockConfigEntry, key: str) -> str:
    return _entities(hass, entry)[key]


def _select(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    return _entity_id(hass, entry, "current_person")


async def _choose(hass: HomeAssistant, entity_id: str, option: str) -> None:
    await act(
        hass, SELECT_DOMAIN, SERVICE_SELECT_OPTION, {ATTR_ENTITY_ID: entity_id, ATTR_OPTION: option}
    )


def _record(rid: str, start: datetime, minutes: float, person: str | None) -> SessionRecord:
    """A completed session on the face at 24 mW/cm² (12 red, 12 NIR)."""
    return completed_record(rid, start, minutes, person, area="face", irradiance=(12.0, 12.0))


async def _add_records(hass: HomeAssistant, *records: SessionRecord) -> None:
    for record in records:
        hass.data[DATA_STORE].history.append(record)
    async_panels_changed(hass)
    await settle(hass)


def _value(hass: HomeAssistant, entity_id: str) -> float:
    return float(hass.states.get(entity_id).state)


async def test_one_person_adds_no_entity_and_a_second_person_adds_the_household_entities(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A home without persons, then with one: the same entities. A second person brings the
    select, both persons' dose sensors and the unassigned sessions; back to one person,
    exactly the first list."""
    before = _entities(hass, init_integration)
    await _persons(hass, "Alice")
    assert _entities(hass, init_integration) == before
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await settle(hass)
    assert _entities(hass, init_integration) == before  # one person set up: nothing new

    await async_create_person(hass, "Bob")
    await settle(hass)  # the entry reloads by itself
    added = set(_entities(hass, init_integration)) - set(before)
    assert added == {
        "current_person",
        "dose_today_person.alice",
        "dose_week_person.alice",
        "dose_today_person.bob",
        "dose_week_person.bob",
        "unassigned_sessions",
    }
    for key in added:
        assert hass.states.get(_entity_id(hass, init_integration, key)) is not None

    await _delete_person(hass, "Bob")
    assert _entities(hass, init_integration) == before


async def test_the_select_offers_the_persons_by_name_and_keeps_the_choice(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    await _persons(hass, "Bob", "Alice")
    select = _select(hass, init_integration)
    state = hass.states.get(select)
    assert state.attributes["options"] == ["Alice", "Bob"]
    assert state.name == "BlockBlueLight F522 Who is using the panel"
    assert state.state == STATE_UNKNOWN  # two persons, nobody used the panel yet
    assert current_person(init_integration.runtime_data) is None

    await _choose(hass, select, "Bob")
    assert hass.states.get(select).state == "Bob"
    assert current_person(init_integration.runtime_data) == "person.bob"
    await advance(hass, freezer, timedelta(seconds=SETTINGS_SAVE_DELAY))
    stored = hass_storage[STORAGE_KEY]["data"]["settings"][init_integration.entry_id]
    assert stored["person"] == "person.bob"

    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await settle(hass)
    assert hass.states.get(select).state == "Bob"

    # A renamed person keeps the choice, shown by the new name.
    await _rename_person(hass, "Bob", "Robert")
    state = hass.states.get(select)
    assert state.attributes["options"] == ["Alice", "Robert"]
    assert state.state == "Robert"
    bob_today = _entity_id(hass, init_integration, "dose_today_person.bob")
    assert hass.states.get(bob_today).name == "BlockBlueLight F522 Robert's dose today"


async def test_a_deleted_choice_reads_as_nothing_chosen(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    await _persons(hass, "Alice", "Bob", "Carol")
    select = _select(hass, init_integration)
    await _choose(hass, select, "Bob")
    await _delete_person(hass, "Bob")
    state = hass.states.get(select)
    assert state.attributes["options"] == ["Alice", "Carol"]
    assert state.state == STATE_UNKNOWN
    assert current_person(init_integration.runtime_data) is None


async def test_the_select_defaults_to_the_last_person_who_used_the_panel(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    await _persons(hass, "Alice", "Bob")
    earlier = dt_util.now() - timedelta(hours=3)
    panel_id = init_integration.entry_id
    await _add_records(
        hass,
        replace(_record("r1", earlier, 5, "person.bob"), panel_id=panel_id),
        _record("r2", earlier + timedelta(hours=1), 5, "person.alice"),  # another panel
    )
    assert hass.states.get(_select(hass, init_integration)).state == "Bob"
    assert current_person(init_integration.runtime_data) == "person.bob"


async def test_one_persons_current_person_is_the_only_person(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    await _persons(hass, "Alice")
    assert current_person(init_integration.runtime_data) == "person.alice"


async def test_each_persons_dose_sensors_show_their_own_records(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    await _persons(hass, "Alice", "Bob")
    entities = _entities(hass, init_integration)
    alice_today = entities["dose_today_person.alice"]
    alice_week = entities["dose_week_person.alice"]
    bob_today = entities["dose_today_person.bob"]
    bob_week = entities["dose_week_person.bob"]
    assert hass.states.get(alice_today).name == "BlockBlueLight F522 Alice's dose today"
    assert hass.states.get(bob_week).name == "BlockBlueLight F522 Bob's dose this week"

    now = dt_util.now()
    monday = now - timedelta(days=2, hours=1)
    await _add_records(
        hass,
        _record("a-today", now - timedelta(hours=2), 10, "person.alice"),  # 14.4 J/cm²
        _record("a-monday", monday, 5, "person.alice"),  # 7.2
        _record("b-today", now - timedelta(hours=1), 2.5, "person.bob"),  # 3.6
        _record("nobody", now - timedelta(hours=3), 1, None),  # 1.44, unassigned
    )
    assert _value(hass, alice_today) == pytest.approx(14.4)
    assert _value(hass, alice_week) == pytest.approx(21.6)
    assert _value(hass, bob_today) == pytest.approx(3.6)
    assert _value(hass, bob_week) == pytest.approx(3.6)
    # The panel's own sensors still count every record, the unassigned one included.
    assert _value(hass, TODAY) == pytest.approx(14.4 + 3.6 + 1.44)
    assert _value(hass, WEEK) == pytest.approx(14.4 + 7.2 + 3.6 + 1.44)

    today, week = hass.states.get(alice_today), hass.states.get(alice_week)
    assert today.attributes["state_class"] == "total"
    assert today.attributes["last_reset"] == dt_util.start_of_local_day(now).isoformat()
    start_of_monday = dt_util.start_of_local_day(now - timedelta(days=2))
    assert week.attributes["last_reset"] == start_of_monday.isoformat()
    # The limits as the panel's dose sensors show them; the weekly count is what Alice's
    # limits count: her sessions and the unassigned one, not Bob's.
    assert today.attributes["max_daily_dose"] == hass.states.get(TODAY).attributes["max_daily_dose"]
    assert week.attributes["sessions_in_7_days"] == 3
    assert hass.states.get(bob_week).attributes["sessions_in_7_days"] == 2
    assert hass.states.get(WEEK).attributes["sessions_in_7_days"] == 4


async def test_a_session_runs_on_while_a_second_person_is_added(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The reload that brings the household's entities does not end a running session."""
    await _persons(hass, "Alice")
    await dimmed_integration.runtime_data.sessions.runner.async_start(timedelta(minutes=10))
    await settle(hass)
    timer = _entity_id(hass, dimmed_integration, "session_timer")
    assert hass.states.get(timer).state == "active"

    await async_create_person(hass, "Bob")
    await settle(hass)
    assert "current_person" in _entities(hass, dimmed_integration)  # reloaded
    assert hass.states.get(timer).state == "active"
    assert emulator.is_on

    await advance(hass, freezer, timedelta(minutes=10))
    assert hass.states.get(timer).state == "idle"
    assert len(dimmed_integration.runtime_data.sessions.history) == 1


async def test_two_persons_with_one_name_are_told_apart(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    await _persons(hass, "Sam", "Sam")
    select = _select(hass, init_integration)
    assert hass.states.get(select).attributes["options"] == ["Sam", "Sam (2)"]
    await _choose(hass, select, "Sam (2)")
    assert hass.states.get(select).state == "Sam (2)"
    assert current_person(init_integration.runtime_data) == "person.sam_2"
