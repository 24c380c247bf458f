"""The panel's sensors, each from a description.

The session timer (modelled on Home Assistant's timer helper), its end and dose, the dose today and
this week, the irradiance, and the protocol run the panel shows (next session, progress, adherence,
streak).

A sensor is its description (sensor_household.py): what it shows (``value_fn``), its attributes
(``attrs_fn``) and, for a dose over a calendar period, where the period starts
(``period_start_fn``; such a sensor is written once at local midnight, when its period turns).
Their states change when the session, the settings or a run change, never because time passed.

The protocol sensors show the panel's current run (``ProtocolManager.current``: the run on the
panel's treatment area, else the run with a session due, else the soonest); see select.py for
the Protocol select that picks it.

With two or more persons, each panel also has every person's "Dose today" and "Dose this week"
and the diagnostic "Unassigned sessions" (sensor_household.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from homeassistant.const import PERCENTAGE
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_track_time_change
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .entity import RedLightDescribedEntity
from .household_entities import person_shown
from .models import RedLightTherapyConfigEntry, RedLightTherapyData
from .protocol_manager import Run
from .sensor_household import (
    DOSE_UNIT,
    RedLightSensorEntityDescription,
    async_household_sensors,
    dose_sensors,
)
from .session_manager import TimerState

PARALLEL_UPDATES = 0

IRRADIANCE_UNIT = "mW/cm²"


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RedLightTherapyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the panel's sensors, and each person's doses when there are two persons or more."""
    data = entry.runtime_data
    descriptions = [*SENSORS, *async_household_sensors(hass, entry)]
    async_add_entities(RedLightSensor(data, description) for description in descriptions)


class RedLightSensor(RedLightDescribedEntity[RedLightSensorEntityDescription], SensorEntity):
    """A panel's sensor, as its description says."""

    entity_description: RedLightSensorEntityDescription

    @property
    def native_value(self) -> str | float | datetime | None:
        """The sensor's value, from its description."""
        return self.entity_description.value_fn(self._data)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The sensor's attributes, from its description."""
        return self.entity_description.attrs_fn(self._data)

    @property
    def last_reset(self) -> datetime | None:
        """The start of the sensor's period (today, this week), for a dose that resets."""
        period_start = self.entity_description.period_start_fn
        return None if period_start is None else period_start(dt_util.now())

    async def async_added_to_hass(self) -> None:
        """Write the state again at local midnight when the sensor's period resets then."""
        await super().async_added_to_hass()
        if self.entity_description.period_start_fn is not None:
            # The period changes at local midnight: one write a day, not a tick.
            self.async_on_remove(_async_at_midnight(self.hass, self.async_write_ha_state))


_MIDNIGHT: HassKey[_Midnight] = HassKey(f"{DOMAIN}_midnight")


class _Midnight:
    """One local-midnight timer shared by the period sensors of every panel.

    A timer each cost 1.5 KiB a sensor (issue 12, setup memory).
    """

    __slots__ = ("actions", "cancel")

    def __init__(self, hass: HomeAssistant) -> None:
        self.actions: dict[Callable[[], None], None] = {}
        self.cancel = async_track_time_change(hass, self._fire, hour=0, minute=0, second=0)

    @callback
    def _fire(self, _now: datetime) -> None:
        for action in list(self.actions):
            action()


@callback
def _async_at_midnight(hass: HomeAssistant, action: Callable[[], None]) -> CALLBACK_TYPE:
    """Call ``action`` at every local midnight until the returned callback is called."""
    midnight = hass.data.get(_MIDNIGHT)
    if midnight is None:
        midnight = hass.data[_MIDNIGHT] = _Midnight(hass)
    midnight.actions[action] = None

    @callback
    def _remove() -> None:
        midnight.actions.pop(action, None)
        if not midnight.actions and hass.data.get(_MIDNIGHT) is midnight:
            del hass.data[_MIDNIGHT]  # the last one: no timer left behind
            midnight.cancel()

    return _remove


# The session -------------------------------------------------------------------------------


def _format(delta: timedelta) -> str:
    """H:MM:SS, as the timer helper shows durations."""
    seconds = max(round(delta.total_seconds()), 0)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02}:{seconds % 60:02}"


def _timer_attributes(data: RedLightTherapyData) -> dict[str, Any]:
    """``duration``, ``remaining`` and ``finishes_at``, like a timer helper.

    ``remaining`` is the time left when the state last changed; a frontend counts down from
    ``finishes_at``. Nothing is written while time merely passes.
    """
    sessions = data.sessions
    session = sessions.session
    if session is None or session.started_at is None:
        return {"duration": _format(sessions.panel_settings.default_duration)}
    # Remaining as of the last change (start, pause, extend): a fixed value, not a tick.
    last = session.last_event_at or session.started_at
    attributes: dict[str, Any] = {
        "duration": _format(timedelta(seconds=session.planned_seconds)),
        "remaining": _format(timedelta(seconds=session.remaining_seconds(last))),
    }
    if session.ends_at is not None:
        attributes["finishes_at"] = session.ends_at.isoformat()
    if (name := person_shown(data.coordinator.hass, session.person)) is not None:
        attributes["person"] = name  # whose session runs, by name (never an entity id)
    return attributes


def _session_end(data: RedLightTherapyData) -> datetime | None:
    """When the running session ends; unknown when none runs or it is paused."""
    session = data.sessions.session
    return session.ends_at if session else None


def _session_dose(data: RedLightTherapyData) -> float | None:
    """Return the dose of the session: the one it is heading for, or the last one's.

    While a session runs or is paused, the dose it is heading for (its planned end at the
    current levels), not the dose as of its last change (0 all through a session that is never
    changed): without a write per second, no state can show the dose so far truly. Otherwise
    the dose the last session delivered. ``planned`` says which one is shown.
    """
    sessions = data.sessions
    session = sessions.session
    if session is not None and session.started_at is not None:
        return round(session.planned_dose().total, 3)
    record = sessions.last_session
    return round(record.dose.total, 3) if record else None


def _session_dose_attributes(data: RedLightTherapyData) -> dict[str, Any]:
    session = data.sessions.session
    return {"planned": session is not None and session.started_at is not None}


# Irradiance --------------------------------------------------------------------------------


def _irradiance(data: RedLightTherapyData) -> float | None:
    """Irradiance at the skin at the set distance and the channel levels."""
    irradiance = data.sessions.panel_settings.irradiance
    return round(irradiance.total, 2) if irradiance else None


def _irradiance_attributes(data: RedLightTherapyData) -> dict[str, Any]:
    irradiance = data.sessions.panel_settings.irradiance
    return {
        "red": round(irradiance.red, 2) if irradiance else None,
        "nir": round(irradiance.nir, 2) if irradiance else None,
        "distance_cm": data.sessions.panel_settings.distance_cm,
        "profile": data.sessions.panel_settings.profile.name,
    }


# The protocol run the panel shows ----------------------------------------------------------


def _next_session(data: RedLightTherapyData) -> datetime | None:
    """When the next session of any active run on this panel is due."""
    found = data.protocols.next_session
    return dt_util.as_utc(found[1].scheduled_at) if found else None


def _next_session_attributes(data: RedLightTherapyData) -> dict[str, Any] | None:
    found = data.protocols.next_session
    if found is None:
        return None
    run, session = found
    return {
        "protocol": run.plan.protocol.name,
        "area": run.plan.area,
        "dose_j_cm2": run.plan.protocol.dose_j_cm2,
        "catch_up": session.catch_up,
    }


def _run_value(
    value: Callable[[Run], float | int | None],
) -> Callable[[RedLightTherapyData], float | int | None]:
    """Return a figure of the shown run; unknown without one."""

    def _value(data: RedLightTherapyData) -> float | int | None:
        run = data.protocols.current
        return None if run is None else value(run)

    return _value


def _run_attributes(data: RedLightTherapyData) -> dict[str, Any] | None:
    run = data.protocols.current
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


def _adherence(run: Run) -> float | None:
    """Done out of done + missed; unknown until a session was due."""
    adherence = run.report.adherence_percent
    return None if adherence is None else round(adherence, 1)


SENSORS: tuple[RedLightSensorEntityDescription, ...] = (
    RedLightSensorEntityDescription(
        key="session_timer",
        translation_key="session_timer",
        device_class=SensorDeviceClass.ENUM,
        options=[state.value for state in TimerState],
        value_fn=lambda data: data.sessions.timer_state.value,
        attrs_fn=_timer_attributes,
    ),
    RedLightSensorEntityDescription(
        key="session_end",
        translation_key="session_end",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=_session_end,
    ),
    RedLightSensorEntityDescription(
        key="session_dose",
        translation_key="session_dose",
        native_unit_of_measurement=DOSE_UNIT,
        suggested_display_precision=2,
        value_fn=_session_dose,
        attrs_fn=_session_dose_attributes,
    ),
    *dose_sensors(),
    RedLightSensorEntityDescription(
        key="irradiance",
        translation_key="irradiance",
        native_unit_of_measurement=IRRADIANCE_UNIT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=_irradiance,
        attrs_fn=_irradiance_attributes,
    ),
    RedLightSensorEntityDescription(
        key="next_session",
        translation_key="next_session",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=_next_session,
        attrs_fn=_next_session_attributes,
    ),
    RedLightSensorEntityDescription(
        # Done sessions out of the course (skipped ones do not count).
        key="protocol_progress",
        translation_key="protocol_progress",
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=0,
        value_fn=_run_value(lambda run: round(run.report.progress_percent, 1)),
        attrs_fn=_run_attributes,
    ),
    RedLightSensorEntityDescription(
        key="protocol_adherence",
        translation_key="protocol_adherence",
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=0,
        value_fn=_run_value(_adherence),
        attrs_fn=_run_attributes,
    ),
    RedLightSensorEntityDescription(
        # Sessions done in a row up to the latest one that was due.
        key="protocol_streak",
        translation_key="protocol_streak",
        native_unit_of_measurement="sessions",
        value_fn=_run_value(lambda run: run.report.streak),
        attrs_fn=_run_attributes,
    ),
)
