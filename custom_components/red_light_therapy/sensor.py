"""The session timer (modelled on Home Assistant's timer helper) and its end time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_track_time_change
from homeassistant.util import dt as dt_util

from .entity import RedLightTherapyEntity
from .models import RedLightTherapyConfigEntry, RedLightTherapyData
from .protocol_entities import protocol_sensors
from .session_manager import TimerState
from .therapy.limits import weekly_sessions

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RedLightTherapyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    data = entry.runtime_data
    async_add_entities(
        [
            SessionTimerSensor(data),
            SessionEndSensor(data),
            SessionDoseSensor(data),
            DoseTodaySensor(data),
            DoseWeekSensor(data),
            IrradianceSensor(data),
            *protocol_sensors(data),
        ]
    )


def _format(delta: timedelta) -> str:
    """H:MM:SS, as the timer helper shows durations."""
    seconds = max(round(delta.total_seconds()), 0)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02}:{seconds % 60:02}"


class SessionTimerSensor(RedLightTherapyEntity, SensorEntity):
    """idle / active / paused with duration, remaining and finishes_at, like a timer helper.

    ``remaining`` is the time left when the state last changed; a frontend counts down from
    ``finishes_at``. Nothing is written while time merely passes.
    """

    _attr_translation_key = "session_timer"
    _attr_device_class = SensorDeviceClass.ENUM
    _attr_options = [state.value for state in TimerState]

    def __init__(self, data: RedLightTherapyData) -> None:
        super().__init__(data, "session_timer")

    @property
    def native_value(self) -> str:
        return self._data.sessions.timer_state.value

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        sessions = self._data.sessions
        session = sessions.session
        if session is None or session.started_at is None:
            return {"duration": _format(sessions.default_duration)}
        # Remaining as of the last change (start, pause, extend): a fixed value, not a tick.
        last = session.last_event_at or session.started_at
        attributes: dict[str, Any] = {
            "duration": _format(timedelta(seconds=session.planned_seconds)),
            "remaining": _format(timedelta(seconds=session.remaining_seconds(last))),
        }
        if session.ends_at is not None:
            attributes["finishes_at"] = session.ends_at.isoformat()
        return attributes


class SessionEndSensor(RedLightTherapyEntity, SensorEntity):
    """When the running session ends; unknown when none runs or it is paused."""

    _attr_translation_key = "session_end"
    _attr_device_class = SensorDeviceClass.TIMESTAMP

    def __init__(self, data: RedLightTherapyData) -> None:
        super().__init__(data, "session_end")

    @property
    def native_value(self) -> datetime | None:
        session = self._data.sessions.session
        return session.ends_at if session else None


DOSE_UNIT = "J/cm²"
IRRADIANCE_UNIT = "mW/cm²"


class SessionDoseSensor(RedLightTherapyEntity, SensorEntity):
    """Dose of the current session at its planned end (attribute ``planned`` true), else the
    dose the last session delivered."""

    _attr_translation_key = "session_dose"
    _attr_native_unit_of_measurement = DOSE_UNIT
    _attr_suggested_display_precision = 2

    def __init__(self, data: RedLightTherapyData) -> None:
        super().__init__(data, "session_dose")

    @property
    def native_value(self) -> float | None:
        """While a session runs or is paused, the dose it is heading for (its planned end at
        the current levels), not the dose as of its last change (0 all through a session
        that is never changed): without a write per second, no state can show the dose so
        far truly. ``planned`` says which one is shown."""
        sessions = self._data.sessions
        session = sessions.session
        if session is not None and session.started_at is not None:
            return round(session.planned_dose().total, 3)
        record = sessions.last_session
        return round(record.dose.total, 3) if record else None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        session = self._data.sessions.session
        return {"planned": session is not None and session.started_at is not None}


class _PeriodDoseSensor(RedLightTherapyEntity, SensorEntity):
    """Dose recorded in a calendar period on skin the panel's treatment area shares (the
    area and whole body: every session when the area is whole body), on every panel;
    long-term statistics."""

    _attr_native_unit_of_measurement = DOSE_UNIT
    _attr_state_class = SensorStateClass.TOTAL
    _attr_suggested_display_precision = 2

    def _period_start(self, now: datetime) -> datetime:
        raise NotImplementedError

    @property
    def last_reset(self) -> datetime:
        return self._period_start(dt_util.now())

    @property
    def native_value(self) -> float:
        now = dt_util.now()
        sessions = self._data.sessions
        dose = sessions.history.dose_in_window(
            self._period_start(now), now, sessions.area, related=True
        )
        return round(dose.total, 3)

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        # The period changes at local midnight: one write a day, not a tick.
        self.async_on_remove(
            async_track_time_change(self.hass, self._async_midnight, hour=0, minute=0, second=0)
        )

    @callback
    def _async_midnight(self, _now: datetime) -> None:
        self.async_write_ha_state()


class DoseTodaySensor(_PeriodDoseSensor):
    """Also the panel's treatment area's daily limits (for a card's "x / y"): they change
    only with the area, which writes this sensor's state anyway."""

    _attr_translation_key = "dose_today"

    def __init__(self, data: RedLightTherapyData) -> None:
        super().__init__(data, "dose_today")

    def _period_start(self, now: datetime) -> datetime:
        return dt_util.start_of_local_day(now)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        limits = self._data.sessions.limits(self._data.sessions.area)
        return {
            "max_daily_dose": limits.max_daily_dose,
            "min_hours_between": limits.min_hours_between,
        }


class DoseWeekSensor(_PeriodDoseSensor):
    _attr_translation_key = "dose_week"

    def __init__(self, data: RedLightTherapyData) -> None:
        super().__init__(data, "dose_week")

    def _period_start(self, now: datetime) -> datetime:
        return dt_util.start_of_local_day(now - timedelta(days=now.weekday()))

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The treatment area's weekly limit and what it counts now (recorded sessions on
        shared skin started in the last 7 local days): that count changes only when a
        session is recorded or removed, or at local midnight, when this sensor is written
        anyway."""
        sessions = self._data.sessions
        area = sessions.area
        return {
            "sessions_in_7_days": weekly_sessions(
                sessions.history, area, dt_util.now(), dt_util.get_default_time_zone()
            ),
            "max_sessions_per_week": sessions.limits(area).max_sessions_per_week,
        }


class IrradianceSensor(RedLightTherapyEntity, SensorEntity):
    """Irradiance at the skin at the set distance and the channel levels."""

    _attr_translation_key = "irradiance"
    _attr_native_unit_of_measurement = IRRADIANCE_UNIT
    _attr_state_class = SensorStateClass.MEASUREMENT
    _attr_suggested_display_precision = 1

    def __init__(self, data: RedLightTherapyData) -> None:
        super().__init__(data, "irradiance")

    @property
    def native_value(self) -> float | None:
        irradiance = self._data.sessions.irradiance
        return round(irradiance.total, 2) if irradiance else None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        irradiance = self._data.sessions.irradiance
        return {
            "red": round(irradiance.red, 2) if irradiance else None,
            "nir": round(irradiance.nir, 2) if irradiance else None,
            "distance_cm": self._data.sessions.distance_cm,
            "profile": self._data.sessions.profile.name,
        }
