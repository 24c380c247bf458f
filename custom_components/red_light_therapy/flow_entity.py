"""Config flow steps that wrap an existing light or switch entity as a panel."""

from __future__ import annotations

from homeassistant.config_entries import ConfigFlow


class EntityFlowMixin(ConfigFlow):
    """Steps mixed into the integration's config flow."""

    MENU: tuple[str, ...] = ()
    """The steps this kind adds to the user menu."""
