"""Red Light Therapy: dose-aware red and near-infrared therapy panels."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady

from .coordinator import PanelCoordinator
from .panel_factory import create_panel
from .panels.base import Panel
from .session_manager import SessionManager

PLATFORMS: list[Platform] = [Platform.BUTTON, Platform.LIGHT, Platform.NUMBER, Platform.SENSOR]


@dataclass(slots=True)
class RedLightTherapyData:
    """What one configured panel needs at run time."""

    panel: Panel
    coordinator: PanelCoordinator
    sessions: SessionManager


type RedLightTherapyConfigEntry = ConfigEntry[RedLightTherapyData]


async def async_setup_entry(hass: HomeAssistant, entry: RedLightTherapyConfigEntry) -> bool:
    """Connect to the panel, read its state and create its entities."""
    panel = create_panel(hass, entry)
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
