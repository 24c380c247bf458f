"""The household on a panel: who is using it, and when its per-person entities change.

A panel's "Who is using the panel" select (select.py) and the per-person dose sensors
(sensor_household.py) exist only with two or more persons (``has_person_entities``), so a one-person
home's entity list is the same as before households. The choice is kept in the panel's
settings under ``SETTING_PERSON`` (a person entity id); ``current_person`` is who the panel's
button, the light and actions without a ``person`` are for.

The per-person entities follow the household by a reload: when the persons the entities are
made for change (a second person added, one removed, a person renamed), each panel's entry is
reloaded once and its entities are created for the household as it now is; those of a person
who left are removed from the entity registry. A one-person home never reloads, and a person
merely coming home or leaving (a state change) changes nothing.

A person's changed entity id is followed in the store (``async_follow_person_renames``); a
deleted person's records, sessions and runs go to ``household.DEPARTED``
(``async_follow_person_removals``), so a new person given the same entity id starts empty.
``person_shown`` is the ``person`` attribute of the light and the Session timer, in words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import CALLBACK_TYPE, Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er

from .const import DOMAIN
from .entity import entity_unique_id
from .models import RedLightTherapyConfigEntry, RedLightTherapyData
from .panel_settings import SETTING_PERSON
from .persons import PERSON_DOMAIN, Person, async_persons, person_labels as _person_labels
from .store import TherapyStore

UNASSIGNED_WORDS = "Unassigned"
"""What an entity shows for a session that belongs to nobody, in a home of several persons."""
DEPARTED_WORDS = "Someone no longer in this home"
"""What an entity shows for a session of a person who has been deleted."""

PERSON_KEY_PREFIXES = ("dose_today_person.", "dose_week_person.")
"""The keys of the per-person sensors start with these (the key ends with the person)."""


def has_person_entities(persons: list[Person]) -> bool:
    """Whether the household gets the per-person select and sensors: two or more persons."""
    return len(persons) >= 2


def stored_choice(data: RedLightTherapyData) -> str | None:
    """Return the panel's "Who is using the panel" choice as stored (possibly a departed person)."""
    # The settings dict the number and select entities write through ``async_set_setting``.
    choice = data.sessions.panel_settings.get(SETTING_PERSON)
    return choice if isinstance(choice, str) and choice else None


def current_person(data: RedLightTherapyData) -> str | None:
    """Who uses the panel when a request does not say (entity id; None: unassigned).

    ``household.panel_person``: the panel's choice while that person is in the household,
    else the only person, else the last person who used the panel, else nobody. A choice of
    a person who has been deleted reads as nothing chosen (``SessionPersons.current_person``,
    which the session start paths use).
    """
    return data.sessions.persons.current_person()


person_labels = _person_labels
"""Person entity id -> the name shown for it (``persons.person_labels``, where it now lives)."""


def _roster(hass: HomeAssistant) -> tuple[tuple[str, str], ...]:
    """Return the persons the per-person entities are made for (entity id, name); none below two."""
    persons = async_persons(hass)
    if not has_person_entities(persons):
        return ()
    return tuple((p.entity_id, p.name) for p in persons)


@callback
def async_follow_household(hass: HomeAssistant, entry: RedLightTherapyConfigEntry) -> CALLBACK_TYPE:
    """Reload ``entry`` when the persons its per-person entities are made for change."""
    shown = _roster(hass)

    @callback
    def _person_event(event: Event[EventStateChangedData]) -> None:
        nonlocal shown
        now = _roster(hass)
        if now != shown:
            shown = now
            hass.config_entries.async_schedule_reload(entry.entry_id)

    @callback
    def _is_person(event_data: EventStateChangedData) -> bool:
        return event_data["entity_id"].startswith(f"{PERSON_DOMAIN}.")

    return hass.bus.async_listen(EVENT_STATE_CHANGED, _person_event, event_filter=_is_person)


async def _async_save_and_reload(hass: HomeAssistant, store: TherapyStore) -> None:
    """Write the store now and reload every enabled panel to read its runs again.

    Every enabled panel, not only the loaded ones: a panel that is reloading right now (a change
    of persons reloads them too) read its runs before this change.
    """
    await store.async_save()
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.disabled_by is None:
            hass.config_entries.async_schedule_reload(entry.entry_id)


@callback
def async_follow_person_renames(hass: HomeAssistant, store: TherapyStore) -> CALLBACK_TYPE:
    """Follow a person's changed entity id in the records, sessions, runs and panel choices.

    When a person's entity id is changed (Settings → Entities), their records, open sessions, runs
    and panel choices follow it (``TherapyStore.rename_person``), written at once; every panel is
    reloaded to read its runs again. Without this they would read as a departed person's.
    """

    @callback
    def _is_person_rename(event_data: er.EventEntityRegistryUpdatedData) -> bool:
        return (
            event_data["action"] == "update"
            and "old_entity_id" in event_data
            and event_data["old_entity_id"].startswith(f"{PERSON_DOMAIN}.")
        )

    async def _renamed(event: Event[er.EventEntityRegistryUpdatedData]) -> None:
        data: dict[str, Any] = dict(event.data)  # an update with old_entity_id (the filter)
        if store.rename_person(data["old_entity_id"], data["entity_id"]):
            await _async_save_and_reload(hass, store)

    return hass.bus.async_listen(
        er.EVENT_ENTITY_REGISTRY_UPDATED, _renamed, event_filter=_is_person_rename
    )


@callback
def async_follow_person_removals(hass: HomeAssistant, store: TherapyStore) -> CALLBACK_TYPE:
    """Give a deleted person's records, open sessions and runs to nobody (``DEPARTED``).

    Home Assistant gives a new person the entity id of a deleted one of the same name; without
    this the new person would inherit the deleted one's dose, limits and runs. Written at once;
    every panel is reloaded to read its runs again.
    """

    @callback
    def _is_person_removal(event_data: er.EventEntityRegistryUpdatedData) -> bool:
        return event_data["action"] == "remove" and event_data["entity_id"].startswith(
            f"{PERSON_DOMAIN}."
        )

    async def _removed(event: Event[er.EventEntityRegistryUpdatedData]) -> None:
        if store.depart_person(event.data["entity_id"]):
            await _async_save_and_reload(hass, store)

    return hass.bus.async_listen(
        er.EVENT_ENTITY_REGISTRY_UPDATED, _removed, event_filter=_is_person_removal
    )


@callback
def person_shown(hass: HomeAssistant, person: str | None) -> str | None:
    """Return whose session it is, in words, for an entity's ``person`` attribute.

    The person's name; a deleted person's (``DEPARTED``, or an id no person has) "Someone no
    longer in this home"; an unassigned one the only person's name (``household.owner``), or
    "Unassigned" in a home of several. None (no attribute) in a home without persons.
    """
    persons = async_persons(hass)
    if not persons:
        return None
    owner = person or (persons[0].entity_id if len(persons) == 1 else None)
    if owner is None:
        return UNASSIGNED_WORDS
    return _person_labels(persons).get(owner, DEPARTED_WORDS)


@callback
def async_remove_departed(
    hass: HomeAssistant,
    entry: RedLightTherapyConfigEntry,
    domain: str,
    is_person_key: Callable[[str], bool],
    keep: set[str],
) -> None:
    """Remove ``entry``'s per-person entities of ``domain`` whose key is not in ``keep``.

    Those of a person who left, or every one when the household is down to one person.
    """
    registry = er.async_get(hass)
    prefix = entity_unique_id(entry, "")
    for registered in er.async_entries_for_config_entry(registry, entry.entry_id):
        if registered.domain != domain or not registered.unique_id.startswith(prefix):
            continue
        key = registered.unique_id.removeprefix(prefix)
        if is_person_key(key) and key not in keep:
            registry.async_remove(registered.entity_id)


def pseudonymised(value: Any, names: dict[str, str]) -> Any:
    """``value`` with every person entity id replaced by its pseudonym (diagnostics)."""
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, dict):
        return {key: pseudonymised(item, names) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [pseudonymised(item, names) for item in value]
    return value
