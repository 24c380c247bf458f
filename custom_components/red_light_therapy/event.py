"""Session events: started, completed, stopped, refused, limit reached."""

from __future__ import annotations

from typing import Any

from homeassistant.components.event import EventEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import RedLightTherapyEntity
from .models import RedLightTherapyConfigEntry, RedLightTherapyData
from .session_manager import SessionEvent

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RedLightTherapyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the panel's session event entity."""
    async_add_entities([SessionEventEntity(entry.runtime_data)])


class SessionEventEntity(RedLightTherapyEntity, EventEntity):
    """Fires once per session event, for automations and the logbook."""

    _attr_translation_key = "session"
    _attr_event_types = [event.value for event in SessionEvent]

    def __init__(self, data: RedLightTherapyData) -> None:
        """Make the panel's session event entity."""
        super().__init__(data, "session_event")

    async def async_added_to_hass(self) -> None:
        """Fire each session event the panel's session manager sends."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self._data.sessions.events.async_add_event_listener(self._handle_event)
        )

    @callback
    def _handle_event(self, event: SessionEvent, data: dict[str, Any]) -> None:
        self._trigger_event(event.value, data)
        self.async_write_ha_state()

    @callback
    def _handle_coordinator_update(self) -> None:
        """Nothing to show between events."""
