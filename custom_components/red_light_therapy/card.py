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

from homeassistant.core import HomeAssistant

_LOGGER = logging.getLogger(__name__)

CARD_FILE = Path(__file__).parent / "frontend" / "red-light-therapy-card.js"
CARD_URL = "/red_light_therapy/red-light-therapy-card.js"


def _card_version() -> str:
    return hashlib.sha256(CARD_FILE.read_bytes()).hexdigest()[:12]


async def async_register_card(hass: HomeAssistant) -> str | None:
    """Serve the card and add it to the frontend; the URL added, or None without a web UI.

    Home Assistant without ``http`` (no web server) or without ``frontend`` has no dashboard
    to show the card on: nothing is registered then.
    """
    if getattr(hass, "http", None) is None or "frontend" not in hass.config.components:
        return None
    # Imported here: both are after_dependencies, set up before this integration when present.
    from homeassistant.components.frontend import add_extra_js_url  # noqa: PLC0415
    from homeassistant.components.http import StaticPathConfig  # noqa: PLC0415

    version = await hass.async_add_executor_job(_card_version)
    await hass.http.async_register_static_paths(
        [StaticPathConfig(CARD_URL, str(CARD_FILE), cache_headers=False)]
    )
    url = f"{CARD_URL}?v={version}"
    add_extra_js_url(hass, url)
    _LOGGER.debug("Dashboard card served at %s", url)
    return url
