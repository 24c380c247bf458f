"""Diagnostics: what a maintainer needs to see, with the panel's address redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_ADDRESS
from homeassistant.core import HomeAssistant

from . import RedLightTherapyConfigEntry

TO_REDACT = {CONF_ADDRESS, "unique_id", "title"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: RedLightTherapyConfigEntry
) -> dict[str, Any]:
    data = entry.runtime_data
    panel = data.panel
    session = data.sessions.session
    return {
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
        "profile": data.sessions.profile.to_dict(),
        "history_records": len(data.sessions.history),
    }
