"""Config flow steps for Tuya Wi-Fi panels (LAN discovery, manual address, local key)."""

from __future__ import annotations

from homeassistant.config_entries import ConfigFlow


class TuyaFlowMixin(ConfigFlow):
    """Steps mixed into the integration's config flow."""

    MENU: tuple[str, ...] = ()
    """The steps this kind adds to the user menu."""
