"""What every action shares: its target fields, the panels it targets, their keys, whose it is.

An action targets panels by their light entity or their device; it answers keyed by each
panel's light entity id, like ``weather.get_forecasts``. The session actions (``services``),
the history actions (``services_history``) and the protocol-run actions
(``services_protocol``) use these.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import inspect
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, Platform
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv, entity_registry as er
from homeassistant.helpers.service import async_extract_config_entry_ids
import voluptuous as vol

from .const import DOMAIN
from .entity import light_entity_id
from .models import RedLightTherapyConfigEntry
from .persons import async_named_person

# The fields the session actions and the history actions share.
ATTR_MINUTES = "minutes"
ATTR_DISTANCE = "distance_cm"
ATTR_AREA = "area"
ATTR_STARTED_AT = "started_at"
ATTR_SESSION_ID = "session_id"
ATTR_PERSON = "person"

TARGET_SCHEMA = vol.Schema(cv.ENTITY_SERVICE_FIELDS)
"""The target fields (entity, device, area) every action takes; actions extend it."""

Handler = Callable[[HomeAssistant, ServiceCall], Awaitable[ServiceResponse]]

# Home Assistant 2025.4 takes (hass, call); newer releases take (call) alone.
_EXTRACT: Any = async_extract_config_entry_ids
_EXTRACT_TAKES_HASS = "hass" in inspect.signature(async_extract_config_entry_ids).parameters


def _refuse_other_entities(hass: HomeAssistant, call: ServiceCall) -> None:
    """Refuse an action aimed at a panel's entity other than its light.

    A panel is targeted by its light or its device. An action aimed at one of its other entities
    (its irradiance sensor, a channel number) is refused, not run on the panel behind it. Entities
    of other integrations are ignored.
    """
    named = call.data.get(ATTR_ENTITY_ID)
    if not isinstance(named, list):  # none, or "all" (every panel)
        return
    registry = er.async_get(hass)
    for entity_id in named:
        entity = registry.async_get(entity_id)
        if entity is not None and entity.platform == DOMAIN and entity.domain != Platform.LIGHT:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="target_not_panel",
                translation_placeholders={"entity_id": entity.entity_id},
            )


async def async_targeted_entries(
    hass: HomeAssistant, call: ServiceCall
) -> list[RedLightTherapyConfigEntry]:
    """Return the loaded panel entries an action targets.

    Translated errors when it targets none, a panel's entity other than its light, or a panel that
    is not loaded.
    """
    _refuse_other_entities(hass, call)
    ids: set[str] = await (_EXTRACT(hass, call) if _EXTRACT_TAKES_HASS else _EXTRACT(call))
    entries = [
        entry
        for entry_id in ids
        if (entry := hass.config_entries.async_get_entry(entry_id)) is not None
        and entry.domain == DOMAIN
    ]
    if not entries:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_panel_targeted")
    for entry in entries:
        if entry.state is not ConfigEntryState.LOADED:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="panel_not_loaded",
                translation_placeholders={"name": entry.title},
            )
    return entries


def response_key(hass: HomeAssistant, entry: RedLightTherapyConfigEntry) -> str:
    """Return a panel's key in an action's response.

    Its light entity id, or its title when the light is not registered.
    """
    return light_entity_id(hass, entry) or entry.title


def call_person(hass: HomeAssistant, call: ServiceCall) -> str | None:
    """Return the person entity id the call's ``person`` names (None: not given).

    Not given: the panel's current person. Refused ``unknown_person`` / ``no_persons`` before
    anything happens.
    """
    if (named := call.data.get(ATTR_PERSON)) is None:
        return None
    return async_named_person(hass, named).entity_id
