"""The session timer (modelled on Home Assistant's timer helper) and its end time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import RedLightTherapyConfigEntry, RedLightTherapyData
from .entity import RedLightTherapyEntity
from .session_manager import TimerState

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RedLightTherapyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    data = entry.runtime_data
    async_add_entities([SessionTimerSensor(data), SessionEndSensor(data)])


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
        if session is None:
            return {"duration": _format(sessions.default_duration)}
        attributes: dict[str, Any] = {
            "duration": _format(session.duration),
            "remaining": _format(session.remaining),
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
