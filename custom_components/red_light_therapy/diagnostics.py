"""Diagnostics: what a maintainer needs to see, with the panel's address redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_ADDRESS, CONF_HOST, CONF_MAC
from homeassistant.core import HomeAssistant

from . import RedLightTherapyConfigEntry
from .const import CONF_DEVICE_ID, CONF_LOCAL_KEY, CONF_PANEL_TYPE, PANEL_TYPE_TUYA

# discovery_keys hold the Bluetooth address (or Tuya id) the entry was discovered by.
# "name": a measured irradiance profile is named after the entry's title ("Tuya panel 0001
# (measured)" ends with the device id, a wrapped entity's title is the user's own name), so
# every profile's name is redacted, wherever it appears (and, by the same key, the names of
# the user's protocols in the options). A profile's source still tells a preset.
TO_REDACT = {
    CONF_ADDRESS,
    "unique_id",
    "title",
    "discovery_keys",
    CONF_HOST,
    CONF_DEVICE_ID,
    CONF_LOCAL_KEY,
    CONF_MAC,
    "name",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: RedLightTherapyConfigEntry
) -> dict[str, Any]:
    data = entry.runtime_data
    panel = data.panel
    session = data.sessions.session
    result: dict[str, Any] = {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "capabilities": asdict(panel.capabilities),
        "state": asdict(panel.state),
        "last_update_success": data.coordinator.last_update_success,
        "session": None if session is None else session.to_dict(),
        "settings": {
            "area": data.sessions.area,
            "distance_cm": data.sessions.distance_cm,
            "default_minutes": data.sessions.default_duration.total_seconds() / 60,
        },
        "profile": async_redact_data(data.sessions.profile.to_dict(), TO_REDACT),
        "history_records": len(data.sessions.history),
    }
    if entry.data.get(CONF_PANEL_TYPE) == PANEL_TYPE_TUYA:
        from .panels.tuya import TuyaPanel  # noqa: PLC0415  (only for a Tuya panel)

        assert isinstance(panel, TuyaPanel)
        # Every data point the device reports: what a new data-point map is written from.
        result["tuya"] = {
            "version": panel.version.value,
            "profile": panel.dp_map.name,
            "dps": panel.dps,
            "reconnects": panel.reconnects,
        }
    return result
