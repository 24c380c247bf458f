"""The dashboard card ships inside the integration and registers itself.

Its bundle (built from frontend/ at the repository root and committed) is served from this
integration's own folder, and its URL is added to the frontend, so a dashboard can use
``custom:red-light-therapy-card`` with no resource to add by hand. The URL carries a hash of
the bundle, so a browser fetches a new card after an update instead of a cached one.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from homeassistant.const import EVENT_COMPONENT_LOADED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.setup import EventComponentLoaded

_LOGGER = logging.getLogger(__name__)

CARD_FILE = Path(__file__).parent / "frontend" / "red-light-therapy-card.js"
CARD_URL = "/red_light_therapy/red-light-therapy-card.js"


def _card_version() -> str:
    return hashlib.sha256(CARD_FILE.read_bytes()).hexdigest()[:12]


async def async_register_card(hass: HomeAssistant) -> None:
    """Serve the card and add it to the frontend, now or as soon as the frontend is loaded.

    ``frontend`` and ``http`` are after_dependencies: Home Assistant without a web UI (no
    dashboard to show the card on) sets this integration up and nothing is registered. The
    integration can also be set up before the frontend (something else set it up early, as the
    development simulator does): the card is registered when the frontend has loaded.
    """
    if "frontend" in hass.config.components:
        await _async_register(hass)
        return

    @callback
    def _loaded(event: Event[EventComponentLoaded]) -> None:
        if event.data["component"] == "frontend":
            unsubscribe()
            hass.async_create_task(_async_register(hass), eager_start=True)

    unsubscribe = hass.bus.async_listen(EVENT_COMPONENT_LOADED, _loaded)


async def _async_register(hass: HomeAssistant) -> None:
    # Imported here: a Home Assistant without the frontend never imports them.
    from homeassistant.components.frontend import add_extra_js_url  # noqa: PLC0415
    from homeassistant.components.http import StaticPathConfig  # noqa: PLC0415

    version = await hass.async_add_executor_job(_card_version)
    await hass.http.async_register_static_paths(
        [StaticPathConfig(CARD_URL, str(CARD_FILE), cache_headers=False)]
    )
    url = f"{CARD_URL}?v={version}"
    add_extra_js_url(hass, url)
    _LOGGER.debug("Dashboard card served at %s", url)
