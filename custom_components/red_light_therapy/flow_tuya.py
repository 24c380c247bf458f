"""Config flow steps for Tuya Wi-Fi panels (LAN discovery, manual address, local key).

Two ways in: the ``tuya`` menu step (address, device id, local key, protocol version or
"auto", data-point profile) and ``integration_discovery`` (the integration's UDP listener heard
a device: id, address and version are known, so only the key and profile are asked). Both test
the connection before the entry is created: TCP reachability first, then a status read with the
key. The unique id is the device id; a known device heard at a new address moves its entry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import contextlib
from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_HOST
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.typing import DiscoveryInfoType
import voluptuous as vol

from .const import (
    CONF_DEVICE_ID,
    CONF_DP_PROFILE,
    CONF_LOCAL_KEY,
    CONF_PANEL_TYPE,
    CONF_VERSION,
    PANEL_TYPE_TUYA,
    TUYA_VERSION_AUTO,
    TUYA_VERSIONS,
)
from .discovery import discovered_version
from .panel_factory import create_tuya_panel
from .panels.base import PanelError, PanelTimeoutError
from .panels.tuya import PROFILES, TuyaAuthError, protocol

# How long the reachability check waits for the device to accept a TCP connection.
CONNECT_TIMEOUT_S = 5.0

DEFAULT_DP_PROFILE = "generic_light"

# How to get the local key, shown in both steps (facts only; README says the same).
LOCAL_KEY_HELP = (
    "https://iot.tuya.com",
    "https://github.com/jasonacox/tinytuya#setup-wizard---getting-local-keys",
)


def _title(device_id: str) -> str:
    return f"Tuya panel {device_id[-4:]}"


def _profile_selector() -> SelectSelector:
    """The built-in data-point profiles (examples left out), labelled with their DPs."""
    options = [
        SelectOptionDict(value=name, label=f"{name}: {profile.description}")
        for name, profile in PROFILES.items()
        if not profile.example
    ]
    return SelectSelector(SelectSelectorConfig(options=options, mode=SelectSelectorMode.LIST))


def _version_selector() -> SelectSelector:
    return SelectSelector(
        SelectSelectorConfig(
            options=[TUYA_VERSION_AUTO, *TUYA_VERSIONS],
            translation_key="tuya_version",
            mode=SelectSelectorMode.DROPDOWN,
        )
    )


_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))


async def _async_reachable(host: str, port: int) -> bool:
    """Whether the device accepts a TCP connection at all (then closes it)."""
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            _reader, writer = await asyncio.open_connection(host, port)
    except OSError:  # refused, no route, and TimeoutError
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def async_test_tuya(
    host: str, device_id: str, local_key: str, versions: Sequence[str], profile: str
) -> tuple[str | None, str]:
    """Try each version: ``(None, version)`` on success, else ``(error key, "")``.

    ``cannot_connect``: nothing accepts a connection at the address. ``invalid_auth``: the
    device refused the key (every version tried). ``invalid_auth_or_busy``: connected but no
    answer in time, what a device does with a wrong key or while another client holds it.
    """
    panel = create_tuya_panel(host, device_id, local_key, versions[0], profile)
    if not await _async_reachable(host, panel.port):
        return "cannot_connect", ""
    errors: set[str] = set()
    for version in versions:
        panel = create_tuya_panel(host, device_id, local_key, version, profile)
        try:
            await panel.connect()
            await panel.update()
        except TuyaAuthError:
            errors.add("invalid_auth")
        except PanelTimeoutError:
            errors.add("invalid_auth_or_busy")
        except PanelError:
            return "cannot_connect", ""
        else:
            return None, version
        finally:
            await panel.disconnect()
    return ("invalid_auth" if errors == {"invalid_auth"} else "invalid_auth_or_busy"), ""


def _valid_key(key: str) -> bool:
    try:
        protocol.key_bytes(key)
    except ValueError:
        return False
    return True


class TuyaFlowMixin(ConfigFlow):
    """Steps mixed into the integration's config flow."""

    MENU: tuple[str, ...] = ("tuya",)
    """The steps this kind adds to the user menu."""

    _tuya_discovered: dict[str, str] | None = None

    async def async_step_tuya(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Add a Tuya panel by address, device id and local key."""
        errors: dict[str, str] = {}
        if user_input is not None:
            host = user_input[CONF_HOST].strip()
            device_id = user_input[CONF_DEVICE_ID].strip()
            await self.async_set_unique_id(device_id, raise_on_progress=False)
            self._abort_if_unique_id_configured()
            version = user_input[CONF_VERSION]
            if version == TUYA_VERSION_AUTO:
                heard = discovered_version(self.hass, device_id)
                versions = [heard] if heard in TUYA_VERSIONS else list(TUYA_VERSIONS)
            else:
                versions = [version]
            result = await self._async_try_create(host, device_id, versions, user_input, errors)
            if result is not None:
                return result

        schema = vol.Schema(
            {
                vol.Required(CONF_HOST): str,
                vol.Required(CONF_DEVICE_ID): str,
                vol.Required(CONF_LOCAL_KEY): _PASSWORD,
                vol.Required(CONF_VERSION, default=TUYA_VERSION_AUTO): _version_selector(),
                vol.Required(CONF_DP_PROFILE, default=DEFAULT_DP_PROFILE): _profile_selector(),
            }
        )
        if user_input is not None:
            schema = self.add_suggested_values_to_schema(
                schema, {k: v for k, v in user_input.items() if k != CONF_LOCAL_KEY}
            )
        return self.async_show_form(
            step_id="tuya",
            data_schema=schema,
            errors=errors,
            description_placeholders=_help_placeholders(),
        )

    async def async_step_integration_discovery(
        self, discovery_info: DiscoveryInfoType
    ) -> ConfigFlowResult:
        """The integration's UDP listener heard a Tuya device."""
        device_id = str(discovery_info[CONF_DEVICE_ID])
        host = str(discovery_info[CONF_HOST])
        await self.async_set_unique_id(device_id)
        self._abort_if_unique_id_configured(updates={CONF_HOST: host})
        version = str(discovery_info[CONF_VERSION])
        if version not in TUYA_VERSIONS:
            return self.async_abort(
                reason="unsupported_version", description_placeholders={"version": version}
            )
        self._tuya_discovered = {CONF_DEVICE_ID: device_id, CONF_HOST: host, CONF_VERSION: version}
        self.context["title_placeholders"] = {"name": _title(device_id)}
        return await self.async_step_tuya_key()

    async def async_step_tuya_key(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask a discovered device's local key and profile."""
        found = self._tuya_discovered
        assert found is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            result = await self._async_try_create(
                found[CONF_HOST], found[CONF_DEVICE_ID], [found[CONF_VERSION]], user_input, errors
            )
            if result is not None:
                return result
        schema = vol.Schema(
            {
                vol.Required(CONF_LOCAL_KEY): _PASSWORD,
                vol.Required(CONF_DP_PROFILE, default=DEFAULT_DP_PROFILE): _profile_selector(),
            }
        )
        return self.async_show_form(
            step_id="tuya_key",
            data_schema=schema,
            errors=errors,
            description_placeholders={
                "name": _title(found[CONF_DEVICE_ID]),
                **found,
                **_help_placeholders(),
            },
        )

    async def _async_try_create(
        self,
        host: str,
        device_id: str,
        versions: Sequence[str],
        user_input: dict[str, Any],
        errors: dict[str, str],
    ) -> ConfigFlowResult | None:
        """Test the connection; the created entry, or None with ``errors`` filled in."""
        local_key: str = user_input[CONF_LOCAL_KEY]
        if not _valid_key(local_key):
            errors[CONF_LOCAL_KEY] = "invalid_local_key"
            return None
        profile = user_input[CONF_DP_PROFILE]
        error, version = await async_test_tuya(host, device_id, local_key, versions, profile)
        if error is not None:
            errors["base"] = error
            return None
        return self.async_create_entry(
            title=_title(device_id),
            data={
                CONF_PANEL_TYPE: PANEL_TYPE_TUYA,
                CONF_HOST: host,
                CONF_DEVICE_ID: device_id,
                CONF_LOCAL_KEY: local_key,
                CONF_VERSION: version,
                CONF_DP_PROFILE: profile,
            },
        )


def _help_placeholders() -> dict[str, str]:
    iot, wizard = LOCAL_KEY_HELP
    return {"iot_url": iot, "wizard_url": wizard}
