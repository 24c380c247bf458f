"""Red Light Therapy: dose-aware red and near-infrared therapy panels."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components import bluetooth
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_ADDRESS, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .coordinator import PanelCoordinator
from .panels.base import Panel
from .panels.blockbluelight import BlockBlueLightPanel
from .session_manager import SessionManager

PLATFORMS: list[Platform] = [Platform.BUTTON, Platform.LIGHT, Platform.NUMBER, Platform.SENSOR]


@dataclass(slots=True)
class RedLightTherapyData:
    """What one configured panel needs at run time."""

    panel: Panel
    coordinator: PanelCoordinator
    sessions: SessionManager


type RedLightTherapyConfigEntry = ConfigEntry[RedLightTherapyData]


def clock() -> float:
    """The integration's clock for the device layer: Home Assistant's UTC now."""
    return dt_util.utcnow().timestamp()


async def async_setup_entry(hass: HomeAssistant, entry: RedLightTherapyConfigEntry) -> bool:
    """Connect to the panel, read its state and create its entities."""
    address: str = entry.data[CONF_ADDRESS]
    ble_device = bluetooth.async_ble_device_from_address(hass, address, connectable=True)
    if ble_device is None:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="device_not_found",
            translation_placeholders={"address": address},
        )
    panel = BlockBlueLightPanel(ble_device, clock=clock)

    @callback
    def _async_advertisement(
        service_info: bluetooth.BluetoothServiceInfoBleak, _change: bluetooth.BluetoothChange
    ) -> None:
        """Keep the freshest route to the panel (local adapter or a Bluetooth proxy)."""
        panel.set_ble_device(service_info.device)

    entry.async_on_unload(
        bluetooth.async_register_callback(
            hass,
            _async_advertisement,
            bluetooth.BluetoothCallbackMatcher(address=address, connectable=True),
            bluetooth.BluetoothScanningMode.PASSIVE,
        )
    )

    coordinator = PanelCoordinator(hass, entry, panel)
    sessions = SessionManager(hass, coordinator)
    entry.runtime_data = RedLightTherapyData(panel, coordinator, sessions)
    entry.async_on_unload(sessions.async_unload)
    try:
        await coordinator.async_config_entry_first_refresh()
    except ConfigEntryNotReady:
        await coordinator.async_shutdown()
        raise
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: RedLightTherapyConfigEntry) -> bool:
    """Unload the entities and close the link; the panel's own countdown stays armed."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.coordinator.async_shutdown()
    return unloaded
