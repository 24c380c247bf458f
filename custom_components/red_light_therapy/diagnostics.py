"""Diagnostics: what a maintainer needs to see, with the panel's address redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_ADDRESS, CONF_HOST, CONF_MAC
from homeassistant.core import HomeAssistant

from .const import CONF_DEVICE_ID, CONF_LOCAL_KEY
from .household_entities import pseudonymised, stored_choice
from .models import RedLightTherapyConfigEntry
from .persons import async_persons
from .therapy.household import person_of, pseudonyms

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
    """Return what a maintainer needs to see of a panel; persons are pseudonyms."""
    data = entry.runtime_data
    panel = data.panel
    session = data.sessions.session
    # Persons are pseudonyms ("person 1", ...): entity ids and names tell who lives there.
    choice = stored_choice(data)
    names = pseudonyms(
        [
            *(person.entity_id for person in async_persons(hass)),
            choice,
            person_of(session),
            *(person_of(record) for record in data.sessions.history),
        ]
    )
    settings: dict[str, Any] = {
        "area": data.sessions.panel_settings.area,
        "distance_cm": data.sessions.panel_settings.distance_cm,
        "default_minutes": data.sessions.panel_settings.default_duration.total_seconds() / 60,
    }
    if choice is not None:
        settings["person"] = names[choice]
    diagnostics = {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        **async_redact_data(panel.diagnostics(), TO_REDACT),
        "last_update_success": data.coordinator.last_update_success,
        "session": None if session is None else session.to_dict(),
        "settings": settings,
        "profile": async_redact_data(data.sessions.panel_settings.profile.to_dict(), TO_REDACT),
        "history_records": len(data.sessions.history),
    }
    if len(names) > 0:
        diagnostics["persons"] = len(async_persons(hass))
    redacted: dict[str, Any] = pseudonymised(diagnostics, names)
    return redacted
