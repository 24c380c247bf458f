"""What the store tests share: a panel set up on what is stored, and Home Assistant started
again on it (a fresh store read)."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy import DATA_STORE
from custom_components.red_light_therapy.store import TherapyStore

from .common import inject_advertisement, service_info


async def set_up(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """The panel is seen and its entry set up on what is stored."""
    inject_advertisement(hass, service_info())
    await hass.async_block_till_done()
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


async def unload(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """The entry unloaded, if it is loaded."""
    if entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(entry.entry_id)


async def restart(hass: HomeAssistant, entry: MockConfigEntry) -> TherapyStore:
    """Home Assistant again on what is stored: a fresh store read, the panel set up."""
    await unload(hass, entry)
    hass.data[DATA_STORE] = store = TherapyStore(hass)
    await store.async_load()
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return store
