"""On while the panel's treatment area is locked out (spacing or weekly limit)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from homeassistant.components.binary_sensor import BinarySensorEntity
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .entity import RedLightTherapyEntity
from .models import RedLightTherapyConfigEntry, RedLightTherapyData

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RedLightTherapyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the panel's lockout sensor."""
    async_add_entities([LockoutBinarySensor(entry.runtime_data)])


class LockoutBinarySensor(RedLightTherapyEntity, BinarySensorEntity):
    """Whether a new session on the panel's area would be refused now, and until when.

    It flips off by one scheduled callback at the end of the lockout, not by polling.
    """

    _attr_translation_key = "lockout"

    def __init__(self, data: RedLightTherapyData) -> None:
        """Start with no lockout known and no end scheduled."""
        super().__init__(data, "lockout")
        self._until: datetime | None = None
        self._cancel: CALLBACK_TYPE | None = None

    def _refresh(self) -> None:
        self._until = self._data.sessions.planner.lockout_until(dt_util.utcnow())
        if self._cancel is not None:
            self._cancel()
            self._cancel = None
        if self._until is not None:
            self._cancel = async_track_point_in_utc_time(self.hass, self._expired, self._until)

    @callback
    def _expired(self, _now: datetime) -> None:
        self._cancel = None
        self._handle_coordinator_update()

    @callback
    def _handle_coordinator_update(self) -> None:
        self._refresh()
        super()._handle_coordinator_update()

    async def async_added_to_hass(self) -> None:
        """Read the lockout, and cancel its scheduled end when the entity goes."""
        await super().async_added_to_hass()
        self._refresh()
        self.async_on_remove(self._cancel_timer)

    def _cancel_timer(self) -> None:
        if self._cancel is not None:
            self._cancel()
            self._cancel = None

    @property
    def is_on(self) -> bool:
        """Whether a new session would be refused now."""
        return self._until is not None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The treatment area and when the lockout ends."""
        return {
            "area": self._data.sessions.panel_settings.area,
            "until": self._until.isoformat() if self._until else None,
        }
