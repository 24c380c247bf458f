"""Set panels up from the UI.

The user step is a menu of the kinds of panel; each kind's steps live in their own module
(``flow_*.py``) as a mixin of the one flow class, so the flow stays one file per kind.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.bluetooth import (
    BluetoothServiceInfoBleak,
    async_discovered_service_info,
)
from homeassistant.config_entries import ConfigEntry, ConfigFlow, ConfigFlowResult, OptionsFlow
from homeassistant.const import CONF_ADDRESS
from homeassistant.core import callback
import voluptuous as vol

from .const import CONF_PANEL_TYPE, DOMAIN, PANEL_TYPE_BLOCKBLUELIGHT, PANEL_TYPE_TUYA
from .flow_entity import EntityFlowMixin
from .flow_tuya import TuyaFlowMixin
from .options_flow import RedLightTherapyOptionsFlow
from .panels.blockbluelight import LOCAL_NAME_PREFIX

# The kinds of panel the user step offers, in order; each names a step of the flow.
MENU_OPTIONS: list[str] = ["pick_bluetooth", *EntityFlowMixin.MENU, *TuyaFlowMixin.MENU]


def _is_blockbluelight(info: BluetoothServiceInfoBleak) -> bool:
    return (info.name or "").startswith(LOCAL_NAME_PREFIX)


def _title(info: BluetoothServiceInfoBleak) -> str:
    return f"BlockBlueLight {info.address.replace(':', '')[-4:].upper()}"


class RedLightTherapyConfigFlow(EntityFlowMixin, TuyaFlowMixin, ConfigFlow, domain=DOMAIN):
    """Config flow of the Red Light Therapy integration."""

    VERSION = 1
    MINOR_VERSION = 2
    """2: a Wi-Fi panel's ``link_policy`` defaults to polling; 1.1 entries keep the held link
    (``async_migrate_entry``)."""

    def __init__(self) -> None:
        """Start with no Bluetooth panel discovered."""
        self._discovery: BluetoothServiceInfoBleak | None = None
        self._discovered: dict[str, BluetoothServiceInfoBleak] = {}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Every panel's options: the user's own protocols (``options_flow.py``)."""
        return RedLightTherapyOptionsFlow()

    async def async_step_bluetooth(
        self, discovery_info: BluetoothServiceInfoBleak
    ) -> ConfigFlowResult:
        """Offer a BlockBlueLight panel that advertised itself."""
        await self.async_set_unique_id(discovery_info.address)
        self._abort_if_unique_id_configured()
        if not _is_blockbluelight(discovery_info):
            return self.async_abort(reason="not_supported")
        self._discovery = discovery_info
        self.context["title_placeholders"] = {"name": _title(discovery_info)}
        return await self.async_step_bluetooth_confirm()

    async def async_step_bluetooth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask before adding a discovered panel."""
        assert self._discovery is not None
        if user_input is not None:
            return self._create(self._discovery)
        self._set_confirm_only()
        return self.async_show_form(
            step_id="bluetooth_confirm",
            description_placeholders={"name": _title(self._discovery)},
        )

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask which kind of panel to add."""
        if len(MENU_OPTIONS) == 1:
            return await self.async_step_pick_bluetooth()
        return self.async_show_menu(step_id="user", menu_options=MENU_OPTIONS)

    async def async_step_pick_bluetooth(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """List the Bluetooth panels in range that are not set up yet."""
        if user_input is not None:
            info = self._discovered[user_input[CONF_ADDRESS]]
            await self.async_set_unique_id(info.address, raise_on_progress=False)
            self._abort_if_unique_id_configured()
            return self._create(info)

        configured = self._async_current_ids(include_ignore=False)
        for info in async_discovered_service_info(self.hass, connectable=True):
            if info.address not in configured and _is_blockbluelight(info):
                self._discovered[info.address] = info
        if not self._discovered:
            return self.async_abort(reason="no_devices_found")
        choices = {
            address: f"{_title(info)} ({info.name})" for address, info in self._discovered.items()
        }
        return self.async_show_form(
            step_id="pick_bluetooth",
            data_schema=vol.Schema({vol.Required(CONF_ADDRESS): vol.In(choices)}),
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change how a panel is reached: only a Wi-Fi panel has anything to change."""
        entry = self._get_reconfigure_entry()
        if entry.data.get(CONF_PANEL_TYPE) == PANEL_TYPE_TUYA:
            return await self.async_step_tuya_reconfigure()
        return self.async_abort(reason="reconfigure_not_supported")

    def _create(self, info: BluetoothServiceInfoBleak) -> ConfigFlowResult:
        return self.async_create_entry(
            title=_title(info),
            data={CONF_ADDRESS: info.address, CONF_PANEL_TYPE: PANEL_TYPE_BLOCKBLUELIGHT},
        )
