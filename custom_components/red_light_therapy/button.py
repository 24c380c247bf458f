"""Start and stop a session, and skip a protocol session, from a dashboard."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import RedLightTherapyEntity
from .models import RedLightTherapyConfigEntry, RedLightTherapyData
from .protocol_entities import SkipProtocolSessionButton

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RedLightTherapyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    data = entry.runtime_data
    async_add_entities(
        [StartSessionButton(data), StopSessionButton(data), SkipProtocolSessionButton(data)]
    )


class StartSessionButton(RedLightTherapyEntity, ButtonEntity):
    """Start a session of the default length."""

    _attr_translation_key = "start_session"

    def __init__(self, data: RedLightTherapyData) -> None:
        super().__init__(data, "start_session")

    async def async_press(self) -> None:
        await self._data.sessions.async_start()


class StopSessionButton(RedLightTherapyEntity, ButtonEntity):
    """Stop the running or paused session."""

    _attr_translation_key = "stop_session"

    def __init__(self, data: RedLightTherapyData) -> None:
        super().__init__(data, "stop_session")

    async def async_press(self) -> None:
        await self._data.sessions.async_stop()
