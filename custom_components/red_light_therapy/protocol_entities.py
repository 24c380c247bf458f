"""Entities of protocol runs: the protocol select, the run switch, the skip button and the
next session / progress sensors.

They show the panel's current run (``ProtocolManager.current``: the run on the panel's
treatment area, else the run with a session due, else the soonest). With several runs the
Treatment area select chooses which one they show, and picking a running protocol in the
Protocol select switches to it; the select's ``runs`` attribute lists every unfinished run
(so a pause of any run changes it), and the calendar lists every run's sessions. Their states
change when the manager re-evaluates (a session recorded, a run changed, the one scheduled
callback), never with time. The Protocol run switch (on running, off paused) and the Skip
button act on the run the select shows, through the same ``ProtocolManager`` commands as the
``pause_protocol`` / ``resume_protocol`` / ``skip_session`` actions.

The select's options are keys: ``none`` and the preset keys (translated in strings.json); a
custom protocol (saved in the options, or a changed preset of a run) has no fixed key to
translate, so its option is its name, mapped back to its key when picked (its key only if that
name is already an option).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from homeassistant.components.button import ButtonEntity
from homeassistant.components.select import SelectEntity
from homeassistant.components.sensor import SensorDeviceClass, SensorEntity
from homeassistant.components.switch import SwitchEntity
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import PERCENTAGE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .entity import RedLightTherapyEntity
from .protocol_manager import Run
from .saved_protocols import saved_protocols
from .therapy import PRESET_PROTOCOLS, Protocol, ProtocolPlanStatus, SlotStatus

if TYPE_CHECKING:
    from . import RedLightTherapyData

NO_PROTOCOL = "none"


class ProtocolSelect(RedLightTherapyEntity, SelectEntity):
    """Pick the protocol to follow. Picking one starts a run with the defaults (today, the
    sessions spread over the week, now rounded); "none" stops the current run."""

    _attr_translation_key = "protocol"

    def __init__(self, data: RedLightTherapyData) -> None:
        super().__init__(data, "protocol")

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        entry = self.coordinator.config_entry

        async def _options_changed(_hass: HomeAssistant, _entry: ConfigEntry) -> None:
            self.async_write_ha_state()  # the saved protocols are the options

        self.async_on_remove(entry.add_update_listener(_options_changed))

    def _choices(self) -> dict[str, Protocol]:
        """Option -> protocol: presets by key, then the user's saved protocols and the
        protocols of unfinished runs that are not presets, by name."""
        choices: dict[str, Protocol] = dict(PRESET_PROTOCOLS)
        custom = [
            *saved_protocols(self.coordinator.config_entry).values(),
            *(run.plan.protocol for run in self._data.protocols.unfinished),
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
        return [NO_PROTOCOL, *self._choices()]

    @property
    def current_option(self) -> str:
        run = self._data.protocols.current
        return self._option(run.plan.protocol.key) if run else NO_PROTOCOL

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Every unfinished run of the panel, the shown one first."""
        protocols = self._data.protocols
        current = protocols.current
        shown = current.plan.id if current else None
        runs = sorted(protocols.unfinished, key=lambda run: run.plan.id != shown)
        return {"runs": [run_summary(run) for run in runs]}

    async def async_select_option(self, option: str) -> None:
        protocols = self._data.protocols
        sessions = self._data.sessions
        if option == NO_PROTOCOL:
            if (run := protocols.current) is not None:
                await protocols.async_stop(run.plan.area)
            return
        protocol = self._choices()[option]
        running = next(
            (run for run in protocols.unfinished if run.plan.protocol.key == protocol.key), None
        )
        if running is None:
            running = await protocols.async_start(protocol)
        # The entities show the run on the panel's treatment area: show this one.
        if sessions.area != running.plan.area:
            await sessions.async_set_setting("area", running.plan.area)


def run_summary(run: Run) -> dict[str, Any]:
    """What the select says about one run."""
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


def _shown_run(data: RedLightTherapyData) -> Run:
    """The run the select shows, for a command; a translated refusal when there is none."""
    run = data.protocols.current
    if run is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="no_protocol_run",
            translation_placeholders={"name": data.coordinator.name},
        )
    return run


class ProtocolRunSwitch(RedLightTherapyEntity, SwitchEntity):
    """The shown run: on while it runs, off while paused; turning it off pauses the run and
    on resumes it (``pause_protocol`` / ``resume_protocol``). Unknown with no run, and then
    turning it either way is refused: an unavailable entity would be skipped silently by Home
    Assistant, so the user would never hear why nothing happened."""

    _attr_translation_key = "protocol_run"

    def __init__(self, data: RedLightTherapyData) -> None:
        super().__init__(data, "protocol_run")

    @property
    def is_on(self) -> bool | None:
        run = self._data.protocols.current
        return None if run is None else run.plan.status is ProtocolPlanStatus.ACTIVE

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        run = self._data.protocols.current
        if run is None:
            return None
        return {"protocol": run.plan.protocol.name, "area": run.plan.area}

    async def async_turn_on(self, **kwargs: Any) -> None:
        run = _shown_run(self._data)
        if run.plan.status is ProtocolPlanStatus.PAUSED:
            await self._data.protocols.async_resume(run.plan.area)

    async def async_turn_off(self, **kwargs: Any) -> None:
        run = _shown_run(self._data)
        if run.plan.status is ProtocolPlanStatus.ACTIVE:
            await self._data.protocols.async_pause(run.plan.area)


class SkipProtocolSessionButton(RedLightTherapyEntity, ButtonEntity):
    """Skip the shown run's next session (the due one, else the next planned one), like
    ``skip_session``: it counts neither done nor missed."""

    _attr_translation_key = "skip_protocol_session"

    def __init__(self, data: RedLightTherapyData) -> None:
        super().__init__(data, "skip_protocol_session")

    async def async_press(self) -> None:
        run = _shown_run(self._data)
        await self._data.protocols.async_skip(run.plan.area)


class _RunSensor(RedLightTherapyEntity, SensorEntity):
    @property
    def _run(self) -> Run | None:
        return self._data.protocols.current

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        run = self._run
        if run is None:
            return None
        return {
            "protocol": run.plan.protocol.name,
            "area": run.plan.area,
            "status": run.plan.status.value,
            "done": run.report.done,
            "missed": run.report.missed,
            "skipped": run.report.skipped,
            "total": run.report.total,
        }


class NextSessionSensor(RedLightTherapyEntity, SensorEntity):
    """When the next session of any active run on this panel is due."""

    _attr_translation_key = "next_session"
    _attr_device_class = SensorDeviceClass.TIMESTAMP

    def __init__(self, data: RedLightTherapyData) -> None:
        super().__init__(data, "next_session")

    @property
    def native_value(self) -> datetime | None:
        found = self._data.protocols.next_session
        return dt_util.as_utc(found[1].scheduled_at) if found else None

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        found = self._data.protocols.next_session
        if found is None:
            return None
        run, session = found
        return {
            "protocol": run.plan.protocol.name,
            "area": run.plan.area,
            "dose_j_cm2": run.plan.protocol.dose_j_cm2,
            "catch_up": session.catch_up,
        }


class ProgressSensor(_RunSensor):
    """Done sessions out of the course (skipped ones do not count)."""

    _attr_translation_key = "protocol_progress"
    _attr_native_unit_of_measurement = PERCENTAGE
    _attr_suggested_display_precision = 0

    def __init__(self, data: RedLightTherapyData) -> None:
        super().__init__(data, "protocol_progress")

    @property
    def native_value(self) -> float | None:
        run = self._run
        return round(run.report.progress_percent, 1) if run else None


class AdherenceSensor(_RunSensor):
    """Done out of done + missed; unknown until a session was due."""

    _attr_translation_key = "protocol_adherence"
    _attr_native_unit_of_measurement = PERCENTAGE
    _attr_suggested_display_precision = 0

    def __init__(self, data: RedLightTherapyData) -> None:
        super().__init__(data, "protocol_adherence")

    @property
    def native_value(self) -> float | None:
        run = self._run
        if run is None or run.report.adherence_percent is None:
            return None
        return round(run.report.adherence_percent, 1)


class StreakSensor(_RunSensor):
    """Sessions done in a row up to the latest one that was due."""

    _attr_translation_key = "protocol_streak"
    _attr_native_unit_of_measurement = "sessions"

    def __init__(self, data: RedLightTherapyData) -> None:
        super().__init__(data, "protocol_streak")

    @property
    def native_value(self) -> int | None:
        run = self._run
        return run.report.streak if run else None


def protocol_sensors(data: RedLightTherapyData) -> list[SensorEntity]:
    return [
        NextSessionSensor(data),
        ProgressSensor(data),
        AdherenceSensor(data),
        StreakSensor(data),
    ]
