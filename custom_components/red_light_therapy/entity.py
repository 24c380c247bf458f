"""Base entity: one device per panel, names from translations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_ENTITY_ID, CONF_MAC, Platform
from homeassistant.core import HomeAssistant, split_entity_id
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.device_registry import (
    CONNECTION_BLUETOOTH,
    CONNECTION_NETWORK_MAC,
    DeviceInfo,
)
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import (
    CONF_DP_MAP,
    CONF_PANEL_TYPE,
    DOMAIN,
    MANUFACTURER_BLOCKBLUELIGHT,
    MANUFACTURER_TUYA,
    PANEL_TYPE_ENTITY,
    PANEL_TYPE_TUYA,
)
from .coordinator import PanelCoordinator

if TYPE_CHECKING:
    from . import RedLightTherapyData


LIGHT_KEY = "light"
"""The key of a panel's light, the entity its actions and Assist address."""


def entity_unique_id(entry: ConfigEntry, key: str) -> str:
    """The unique id of the panel entity ``key`` of ``entry``."""
    return f"{entry.unique_id or entry.entry_id}_{key}"


def light_entity_id(hass: HomeAssistant, entry: ConfigEntry) -> str | None:
    """The entity id of the panel's light, None while the light is not registered."""
    return er.async_get(hass).async_get_entity_id(
        Platform.LIGHT, DOMAIN, entity_unique_id(entry, LIGHT_KEY)
    )


class RedLightTherapyEntity(CoordinatorEntity[PanelCoordinator]):
    """An entity of one panel."""

    _attr_has_entity_name = True

    def __init__(self, data: RedLightTherapyData, key: str) -> None:
        super().__init__(data.coordinator)
        self._data = data
        entry = data.coordinator.config_entry
        self._attr_unique_id = entity_unique_id(entry, key)
        if data.device_info is None:  # built once per panel, shared by its entities
            data.device_info = _device_info(data.coordinator.hass, entry)
        self._attr_device_info = data.device_info
        self._wrapped = entry.data.get(CONF_PANEL_TYPE) == PANEL_TYPE_ENTITY

    @property
    def available(self) -> bool:
        # A wrapped entity is followed, not polled: its own availability is the panel's.
        return super().available and (not self._wrapped or self.coordinator.data.connected)


def _device_info(hass: HomeAssistant, entry: ConfigEntry) -> DeviceInfo:
    """The panel's device: a Bluetooth panel, a Wi-Fi (Tuya) one, or a wrapped entity's."""
    address = entry.unique_id or entry.entry_id
    panel_type = entry.data.get(CONF_PANEL_TYPE)
    if panel_type == PANEL_TYPE_TUYA:
        # A Wi-Fi device: its MAC where known (DHCP follows it by that), no Bluetooth; the
        # model is what its data-point map calls this kind of panel.
        from .panels.tuya import get_dp_map  # noqa: PLC0415  (only for a Tuya panel)

        mac = entry.data.get(CONF_MAC)
        return DeviceInfo(
            identifiers={(DOMAIN, address)},
            connections={(CONNECTION_NETWORK_MAC, mac)} if mac else set(),
            manufacturer=MANUFACTURER_TUYA,
            model=get_dp_map(entry.data[CONF_DP_MAP]).display_name,
            name=entry.title,
        )
    if panel_type == PANEL_TYPE_ENTITY:
        return _wrapped_device_info(hass, entry.data[CONF_ENTITY_ID], address, entry.title)
    return DeviceInfo(
        identifiers={(DOMAIN, address)},
        connections={(CONNECTION_BLUETOOTH, address)},
        manufacturer=MANUFACTURER_BLOCKBLUELIGHT,
        model="Red light therapy panel",
        name=entry.title,
    )


def _wrapped_device_info(
    hass: HomeAssistant, entity_id: str, address: str, name: str
) -> DeviceInfo:
    """A wrapped light or switch: its device's maker and model, if it has a device."""
    manufacturer = None
    model = f"Wrapped {split_entity_id(entity_id)[0]}"
    if (
        (entity := er.async_get(hass).async_get(entity_id))
        and entity.device_id
        and (device := dr.async_get(hass).async_get(entity.device_id))
    ):
        manufacturer = device.manufacturer
        model = device.model or model
    return DeviceInfo(
        identifiers={(DOMAIN, address)}, manufacturer=manufacturer, model=model, name=name
    )
