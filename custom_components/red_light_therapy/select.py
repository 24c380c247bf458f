"""The treatment area a panel's sessions count against."""

from __future__ import annotations

from homeassistant.components.select import SelectEntity
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import RedLightTherapyEntity
from .models import RedLightTherapyConfigEntry, RedLightTherapyData
from .protocol_entities import ProtocolSelect
from .therapy import Area

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RedLightTherapyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    async_add_entities(
        [TreatmentAreaSelect(entry.runtime_data), ProtocolSelect(entry.runtime_data)]
    )


class TreatmentAreaSelect(RedLightTherapyEntity, SelectEntity):
    """Which skin a session treats by default (the limits are per area). Never the eyes."""

    _attr_translation_key = "treatment_area"
    _attr_entity_category = EntityCategory.CONFIG
    _attr_options = [area.value for area in Area]

    def __init__(self, data: RedLightTherapyData) -> None:
        super().__init__(data, "treatment_area")

    @property
    def current_option(self) -> str:
        return self._data.sessions.area

    async def async_select_option(self, option: str) -> None:
        await self._data.sessions.async_set_setting("area", option)
