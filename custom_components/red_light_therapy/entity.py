"""Base entity: one device per panel, names from translations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.helpers.device_registry import CONNECTION_BLUETOOTH, DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN, MANUFACTURER_BLOCKBLUELIGHT
from .coordinator import PanelCoordinator

if TYPE_CHECKING:
    from . import RedLightTherapyData


class RedLightTherapyEntity(CoordinatorEntity[PanelCoordinator]):
    """An entity of one panel."""

    _attr_has_entity_name = True

    def __init__(self, data: RedLightTherapyData, key: str) -> None:
        super().__init__(data.coordinator)
        self._data = data
        entry = data.coordinator.config_entry
        address = entry.unique_id or entry.entry_id
        self._attr_unique_id = f"{address}_{key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, address)},
            connections={(CONNECTION_BLUETOOTH, address)},
            manufacturer=MANUFACTURER_BLOCKBLUELIGHT,
            model="Red light therapy panel",
            name=entry.title,
        )
