"""Config flow steps that add a Tuya Wi-Fi panel (LAN discovery, manual address, local key).

Three ways in. The ``tuya`` menu step scans the LAN: it starts the integration's shared UDP
listener when it does not run yet (a first install has no entry, so no ``async_setup``) and
shows progress until the listener has heard broadcasts for ``discovery.SCAN_S``; ``tuya_pick``
then lists the devices heard that are not set up, plus entering the address by hand. Nothing
heard, or no listener (ports taken, discovery off): ``tuya_manual`` (address, device id, local
key, protocol version or "auto", data-point map, optional MAC) directly. A picked device,
and ``integration_discovery`` (the listener heard a device on its own), know id, address and
version, so ``tuya_key`` only asks the key, data-point map and MAC. All test the connection
first (``flow_tuya_check.py``: TCP reachability, then a status read with the key). Then
``tuya_profile`` / ``tuya_measured`` (the shared steps of ``flow_profile.py``) ask for the
irradiance profile, and the entry is created.
The unique id is the device id; a known device heard at a new address moves its entry.

The steps that change an entry (reauth, reconfigure, DHCP) are in ``flow_tuya_change.py``; the
form pieces (selectors, labels, help links) in ``flow_tuya_form.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from homeassistant.config_entries import ConfigFlowResult
from homeassistant.const import CONF_HOST, CONF_MAC
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
from homeassistant.helpers.typing import DiscoveryInfoType
import voluptuous as vol

from . import discovery
from .const import (
    CONF_DEVICE_ID,
    CONF_DP_MAP,
    CONF_LOCAL_KEY,
    CONF_PROFILE,
    CONF_VERSION,
    DOMAIN,
    TUYA_VERSION_AUTO,
    TUYA_VERSIONS,
)
from .flow_profile import ProfileFlowMixin
from .flow_tuya_change import TuyaChangeFlowMixin
from .flow_tuya_form import (
    DEFAULT_DP_MAP,
    PASSWORD,
    PICK_MANUAL,
    dp_map_selector,
    help_placeholders,
    panel_title,
    version_selector,
)
from .therapy import IrradianceProfile


class TuyaFlowMixin(TuyaChangeFlowMixin, ProfileFlowMixin):
    """Steps mixed into the integration's config flow: set-up here, changes from the base."""

    MENU: tuple[str, ...] = ("tuya",)
    """The steps this kind adds to the user menu."""

    _tuya_discovered: dict[str, str] | None = None
    _tuya_entry: dict[str, Any] | None = None
    """The tested connection data, waiting for the irradiance profile."""

    # Setup ---------------------------------------------------------------------------------

    _tuya_scan: asyncio.Task[None] | None = None

    async def async_step_tuya(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Scan the LAN for Tuya broadcasts (progress), then list what was heard."""
        if self._tuya_scan is None:
            wait = await discovery.async_scan_wait(self.hass)
            if wait is None:  # discovery is off
                return await self.async_step_tuya_manual()
            if wait <= 0:  # the shared listener has heard the LAN long enough already
                return await self.async_step_tuya_pick()
            self._tuya_scan = self.hass.async_create_task(
                asyncio.sleep(wait), f"{DOMAIN} Tuya scan", eager_start=False
            )
        if not self._tuya_scan.done():
            return self.async_show_progress(
                progress_action="tuya_scan",
                progress_task=self._tuya_scan,
                description_placeholders={"seconds": f"{discovery.SCAN_S:g}"},
            )
        return self.async_show_progress_done(next_step_id="tuya_pick")

    async def async_step_tuya_pick(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer the devices the scan heard that are not set up, or the address by hand."""
        heard = {
            device.device_id: device
            for device in discovery.heard_devices(self.hass)
            if device.version in TUYA_VERSIONS
        }
        if user_input is not None:
            if (device := heard.get(user_input[CONF_DEVICE_ID])) is None:
                return await self.async_step_tuya_manual()  # "by hand"
            await self.async_set_unique_id(device.device_id, raise_on_progress=False)
            self._abort_if_unique_id_configured()  # set up meanwhile
            self._tuya_discovered = {
                CONF_DEVICE_ID: device.device_id,
                CONF_HOST: device.ip,
                CONF_VERSION: device.version,
            }
            self.context["title_placeholders"] = {"name": panel_title(device.device_id)}
            return await self.async_step_tuya_key()
        configured = self._async_current_ids(include_ignore=False)
        new = [device for device in heard.values() if device.device_id not in configured]
        if not new:
            return await self.async_step_tuya_manual()
        options = [
            SelectOptionDict(
                value=device.device_id,
                label=f"{panel_title(device.device_id)} at {device.ip} "
                f"(ID {device.device_id}, protocol {device.version})",
            )
            for device in new
        ]
        options.append(SelectOptionDict(value=PICK_MANUAL, label="Enter the address by hand"))
        selector = SelectSelector(
            SelectSelectorConfig(
                options=options, translation_key="tuya_pick", mode=SelectSelectorMode.LIST
            )
        )
        return self.async_show_form(
            step_id="tuya_pick",
            data_schema=vol.Schema({vol.Required(CONF_DEVICE_ID): selector}),
            description_placeholders={"count": str(len(new))},
        )

    async def async_step_tuya_manual(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a Tuya panel by address, device id and local key."""
        errors: dict[str, str] = {}
        if user_input is not None:
            device_id = user_input[CONF_DEVICE_ID].strip()
            await self.async_set_unique_id(device_id, raise_on_progress=False)
            self._abort_if_unique_id_configured()
            data = await self._async_check(
                {**user_input, CONF_DEVICE_ID: device_id},
                self._versions(device_id, user_input[CONF_VERSION]),
                errors,
            )
            if data is not None:
                return await self._async_profile_next(data)

        schema = vol.Schema(
            {
                vol.Required(CONF_HOST): str,
                vol.Required(CONF_DEVICE_ID): str,
                vol.Required(CONF_LOCAL_KEY): PASSWORD,
                vol.Required(CONF_VERSION, default=TUYA_VERSION_AUTO): version_selector(),
                vol.Required(CONF_DP_MAP, default=DEFAULT_DP_MAP): dp_map_selector(),
                vol.Optional(CONF_MAC): str,
            }
        )
        if user_input is not None:
            schema = self.add_suggested_values_to_schema(
                schema, {k: v for k, v in user_input.items() if k != CONF_LOCAL_KEY}
            )
        return self.async_show_form(
            step_id="tuya_manual",
            data_schema=schema,
            errors=errors,
            description_placeholders=help_placeholders(),
        )

    async def async_step_integration_discovery(
        self, discovery_info: DiscoveryInfoType
    ) -> ConfigFlowResult:
        """Offer a Tuya device the integration's UDP listener heard."""
        device_id = str(discovery_info[CONF_DEVICE_ID])
        host = str(discovery_info[CONF_HOST])
        version = str(discovery_info[CONF_VERSION])
        if version not in TUYA_VERSIONS:  # before the address update: apply nothing
            return self.async_abort(
                reason="unsupported_version", description_placeholders={"version": version}
            )
        await self.async_set_unique_id(device_id)
        self._abort_if_unique_id_configured(updates={CONF_HOST: host})
        self._tuya_discovered = {CONF_DEVICE_ID: device_id, CONF_HOST: host, CONF_VERSION: version}
        self.context["title_placeholders"] = {"name": panel_title(device_id)}
        return await self.async_step_tuya_key()

    async def async_step_tuya_key(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask a discovered device's local key, data-point map and MAC."""
        found = self._tuya_discovered
        assert found is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            data = await self._async_check(
                {**user_input, CONF_HOST: found[CONF_HOST], CONF_DEVICE_ID: found[CONF_DEVICE_ID]},
                [found[CONF_VERSION]],
                errors,
            )
            if data is not None:
                return await self._async_profile_next(data)
        schema = vol.Schema(
            {
                vol.Required(CONF_LOCAL_KEY): PASSWORD,
                vol.Required(CONF_DP_MAP, default=DEFAULT_DP_MAP): dp_map_selector(),
                vol.Optional(CONF_MAC): str,
            }
        )
        return self.async_show_form(
            step_id="tuya_key",
            data_schema=schema,
            errors=errors,
            description_placeholders={
                "name": panel_title(found[CONF_DEVICE_ID]),
                **found,
                **help_placeholders(),
            },
        )

    async def _async_profile_next(self, data: dict[str, Any]) -> ConfigFlowResult:
        """Keep the tested connection data and ask for the irradiance profile."""
        self._tuya_entry = data
        return await self.async_step_tuya_profile()

    async def async_step_tuya_profile(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask how bright the panel is (a preset, or measured points), now the connection works."""
        return await self._async_profile_step(
            "tuya_profile",
            user_input,
            title=self._tuya_title,
            measured=self.async_step_tuya_measured,
            chosen=self._create_tuya,
        )

    async def async_step_tuya_measured(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Enter 1-4 measured points and the red share."""
        return await self._async_measured_step(
            "tuya_measured", user_input, title=self._tuya_title, chosen=self._create_tuya
        )

    @property
    def _tuya_title(self) -> str:
        """The title of the entry being added."""
        assert self._tuya_entry is not None
        return panel_title(self._tuya_entry[CONF_DEVICE_ID])

    def _create_tuya(self, profile: IrradianceProfile) -> ConfigFlowResult:
        """Create the entry: the tested connection data and the chosen profile."""
        assert self._tuya_entry is not None
        return self.async_create_entry(
            title=self._tuya_title,
            data={**self._tuya_entry, CONF_PROFILE: profile.to_dict()},
        )
