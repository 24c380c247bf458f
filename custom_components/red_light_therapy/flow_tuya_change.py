"""Config flow steps that change a Tuya panel's entry: a new key, a new address, a new lease.

An entry's panel that refuses its key starts ``reauth`` (a new key, tested the same way as at
set-up); ``tuya_reconfigure`` changes address, key, version, data-point map and MAC of the same
device; ``dhcp`` follows a registered panel (matched by the MAC in its entry) to a new address
and never creates an entry (the key is needed for that).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigFlowResult
from homeassistant.const import CONF_HOST, CONF_MAC
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.service_info.dhcp import DhcpServiceInfo
import voluptuous as vol

from .const import CONF_DEVICE_ID, CONF_DP_MAP, CONF_LOCAL_KEY, CONF_VERSION, DOMAIN
from .flow_tuya_check import TuyaCheckMixin, async_release_link
from .flow_tuya_form import PASSWORD, dp_map_selector, help_placeholders, version_selector


class TuyaChangeFlowMixin(TuyaCheckMixin):
    """Steps that change how an existing entry reaches its Tuya panel."""

    # An entry's panel refused its key ----------------------------------------------------------

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Ask for a new local key: the panel of an entry no longer accepts its own."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask the new local key and test it against the panel."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            await async_release_link(entry)
            data = await self._async_check(
                {**entry.data, CONF_LOCAL_KEY: user_input[CONF_LOCAL_KEY]},
                [entry.data[CONF_VERSION]],
                errors,
            )
            if data is not None:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_LOCAL_KEY: data[CONF_LOCAL_KEY]}
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Required(CONF_LOCAL_KEY): PASSWORD}),
            errors=errors,
            description_placeholders={
                "name": entry.title,
                CONF_HOST: entry.data[CONF_HOST],
                **help_placeholders(),
            },
        )

    # Change how an entry's panel is reached ----------------------------------------------------

    async def async_step_tuya_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Address, key (empty: keep it), version, data-point map and MAC of the panel."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            device_id = user_input[CONF_DEVICE_ID].strip()
            await self.async_set_unique_id(device_id, raise_on_progress=False)
            self._abort_if_unique_id_mismatch()
            await async_release_link(entry)
            data = await self._async_check(
                {
                    **user_input,
                    CONF_DEVICE_ID: device_id,
                    CONF_LOCAL_KEY: user_input.get(CONF_LOCAL_KEY) or entry.data[CONF_LOCAL_KEY],
                },
                self._versions(device_id, user_input[CONF_VERSION]),
                errors,
            )
            if data is not None:
                self._forget_old_mac(entry, data.get(CONF_MAC))
                kept = {k: v for k, v in entry.data.items() if k != CONF_MAC}
                return self.async_update_reload_and_abort(entry, data=kept | data)

        schema = vol.Schema(
            {
                vol.Required(CONF_HOST): str,
                vol.Required(CONF_DEVICE_ID): str,
                vol.Optional(CONF_LOCAL_KEY): PASSWORD,
                vol.Required(CONF_VERSION): version_selector(),
                vol.Required(CONF_DP_MAP): dp_map_selector(),
                vol.Optional(CONF_MAC): str,
            }
        )
        shown = user_input if user_input is not None else entry.data
        return self.async_show_form(
            step_id="tuya_reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                schema, {k: v for k, v in shown.items() if k != CONF_LOCAL_KEY}
            ),
            errors=errors,
            description_placeholders={"name": entry.title, **help_placeholders()},
        )

    def _forget_old_mac(self, entry: ConfigEntry, mac: str | None) -> None:
        """Take a MAC the entry no longer has off its device (DHCP matches on it)."""
        old = entry.data.get(CONF_MAC)
        if not old or old == mac:
            return
        registry = dr.async_get(self.hass)
        device = registry.async_get_device(identifiers={(DOMAIN, str(entry.unique_id))})
        if device is not None:
            registry.async_update_device(
                device.id, new_connections=device.connections - {(dr.CONNECTION_NETWORK_MAC, old)}
            )

    # A registered panel renewed its DHCP lease -------------------------------------------------

    async def async_step_dhcp(self, discovery_info: DhcpServiceInfo) -> ConfigFlowResult:
        """Follow a set-up panel (known by its MAC) to its address; never add one from DHCP."""
        mac = dr.format_mac(discovery_info.macaddress)  # entries keep MACs in this form
        for entry in self._async_current_entries(include_ignore=False):
            if entry.data.get(CONF_MAC) == mac:
                await self.async_set_unique_id(entry.unique_id)
                self._abort_if_unique_id_configured(updates={CONF_HOST: discovery_info.ip})
        return self.async_abort(reason="not_registered")
