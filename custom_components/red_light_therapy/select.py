"""Which skin a panel's sessions count against, and which protocol it follows.

The Protocol select shows the panel's current run (``ProtocolManager.current``: the run on the
panel's treatment area, else the run with a session due, else the soonest). With several runs
the Treatment area select chooses which one the panel's entities show, and picking a running
protocol in the Protocol select switches to it; the select's ``runs`` attribute lists every
unfinished run (so a pause of any run changes it), and the calendar lists every run's
sessions. Its state changes when the manager re-evaluates (a session recorded, a run changed,
the one scheduled callback), never with time. The Protocol run switch (switch.py) and the Skip
button (button.py) act on the run it shows.

The Protocol select's options are keys: ``none`` and the preset keys (translated in
strings.json); a custom protocol (saved in the options, or a changed preset of a run) has no
fixed key to translate, so its option is its name, mapped back to its key when picked (its key
only if that name is already an option).

The "Who is using the panel" select (two or more persons only, see household_entities.py)
offers the household's persons by name and keeps the choice in the panel's settings.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.select import SelectEntity
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import RedLightTherapyEntity
from .household_entities import (
    async_remove_departed,
    current_person,
    has_person_entities,
    person_labels,
)
from .models import RedLightTherapyConfigEntry, RedLightTherapyData
from .persons import async_persons
from .protocol_manager import Run
from .saved_protocols import saved_protocols
from .therapy import PRESET_PROTOCOLS, Area, Protocol, SlotStatus

PARALLEL_UPDATES = 0

NO_PROTOCOL = "none"
CURRENT_PERSON_KEY = "current_person"


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RedLightTherapyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the panel's selects: treatment area, protocol, and who uses it (two persons or more)."""
    entities: list[SelectEntity] = [
        TreatmentAreaSelect(entry.runtime_data),
        ProtocolSelect(entry.runtime_data),
    ]
    keep: set[str] = set()
    if has_person_entities(async_persons(hass)):
        entities.append(CurrentPersonSelect(entry.runtime_data))
        keep.add(CURRENT_PERSON_KEY)
    # Down to one person: the select of a household is no longer offered.
    async_remove_departed(hass, entry, "select", lambda key: key == CURRENT_PERSON_KEY, keep)
    async_add_entities(entities)


class TreatmentAreaSelect(RedLightTherapyEntity, SelectEntity):
    """Which skin a session treats by default (the limits are per area). Never the eyes."""

    _attr_translation_key = "treatment_area"
    _attr_entity_category = EntityCategory.CONFIG
    _attr_options = [area.value for area in Area]

    def __init__(self, data: RedLightTherapyData) -> None:
        """Make the treatment area select."""
        super().__init__(data, "treatment_area")

    @property
    def current_option(self) -> str:
        """The panel's treatment area."""
        return self._data.sessions.panel_settings.area

    async def async_select_option(self, option: str) -> None:
        """Save the panel's treatment area."""
        await self._data.sessions.panel_settings.async_set_area(option)


class ProtocolSelect(RedLightTherapyEntity, SelectEntity):
    """Pick the protocol to follow.

    Picking one starts a run with the defaults (today, the sessions spread over the week, now
    rounded); "none" stops the current run.
    """

    _attr_translation_key = "protocol"

    def __init__(self, data: RedLightTherapyData) -> None:
        """Make the protocol select."""
        super().__init__(data, "protocol")

    async def async_added_to_hass(self) -> None:
        """Show the saved protocols again whenever the options change."""
        await super().async_added_to_hass()
        entry = self.coordinator.config_entry

        async def _options_changed(_hass: HomeAssistant, _entry: ConfigEntry) -> None:
            self.async_write_ha_state()  # the saved protocols are the options

        self.async_on_remove(entry.add_update_listener(_options_changed))

    def _choices(self) -> dict[str, Protocol]:
        """Return the protocol behind each option.

        Presets by key, then the user's saved protocols and the protocols of unfinished runs that
        are not presets, by name.
        """
        choices: dict[str, Protocol] = dict(PRESET_PROTOCOLS)
        custom = [
            *saved_protocols(self.coordinator.config_entry).values(),
            *(run.plan.protocol for run in self._data.protocols.current_runs),
        ]
        known = set(choices)
        for protocol in custom:
            if protocol.key in known:
                continue
            known.add(protocol.key)
            label = protocol.name.strip()
            taken = label == NO_PROTOCOL or label in choices
            choices[protocol.key if taken else label] = protocol
        return choices

    def _option(self, key: str) -> str:
        return next((option for option, p in self._choices().items() if p.key == key), key)

    @property
    def options(self) -> list[str]:
        """The option "none", then every protocol that can be followed."""
        return [NO_PROTOCOL, *self._choices()]

    @property
    def current_option(self) -> str:
        """The protocol of the shown run, "none" without one."""
        run = self._data.protocols.current
        return self._option(run.plan.protocol.key) if run else NO_PROTOCOL

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Every unfinished run of the panel, the shown one first."""
        protocols = self._data.protocols
        current = protocols.current
        shown = current.plan.id if current else None
        runs = sorted(protocols.current_runs, key=lambda run: run.plan.id != shown)
        return {"runs": [run_summary(run) for run in runs]}

    async def async_select_option(self, option: str) -> None:
        """Follow the chosen protocol, or stop the current run for "none".

        A protocol with an unfinished run shows that run; otherwise a run starts with the defaults.
        The panel's treatment area becomes the run's.
        """
        protocols = self._data.protocols
        sessions = self._data.sessions
        if option == NO_PROTOCOL:
            if (run := protocols.current) is not None:
                await protocols.async_stop(run.plan.area)
            return
        protocol = self._choices()[option]
        running = next(
            (run for run in protocols.current_runs if run.plan.protocol.key == protocol.key), None
        )
        if running is None:
            running = await protocols.async_start(protocol)
        # The entities show the run on the panel's treatment area: show this one.
        if sessions.panel_settings.area != running.plan.area:
            await sessions.panel_settings.async_set_area(running.plan.area)


class CurrentPersonSelect(RedLightTherapyEntity, SelectEntity):
    """Who is using the panel.

    Whose session its button, the light and actions without a ``person`` start. Options are the
    persons' names; nothing chosen shows as unknown.
    """

    _attr_translation_key = CURRENT_PERSON_KEY

    def __init__(self, data: RedLightTherapyData) -> None:
        """Make the select of who is using the panel."""
        super().__init__(data, CURRENT_PERSON_KEY)

    def _labels(self) -> dict[str, str]:
        return person_labels(async_persons(self.hass))

    @property
    def options(self) -> list[str]:
        """The household's persons, by name."""
        return list(self._labels().values())

    @property
    def current_option(self) -> str | None:
        """The name of the person using the panel, unknown when nobody is."""
        person = current_person(self._data)
        return None if person is None else self._labels().get(person)

    async def async_select_option(self, option: str) -> None:
        """Save who is using the panel."""
        # Home Assistant checks the option is one of ``options`` before calling this.
        person = next(key for key, label in self._labels().items() if label == option)
        await self._data.sessions.panel_settings.async_set_person(person)


def run_summary(run: Run) -> dict[str, Any]:
    """Return what the select says about one run."""
    plan, report = run.plan, run.report
    due = report.next_due
    return {
        "protocol": plan.protocol.name,
        "area": plan.area,
        "status": plan.status.value,
        "next_session": due.scheduled_at.isoformat() if due else None,
        "due_now": any(s.status is SlotStatus.DUE for s in report.sessions),
        "done": report.done,
        "total": report.total,
    }
