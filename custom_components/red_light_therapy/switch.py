"""Pause and resume the protocol run a panel shows (see ``protocol_entities``)."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .models import RedLightTherapyConfigEntry
from .protocol_entities import ProtocolRunSwitch

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RedLightTherapyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    async_add_entities([ProtocolRunSwitch(entry.runtime_data)])
