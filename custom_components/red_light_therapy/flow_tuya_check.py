"""Testing a Tuya panel's connection data before an entry keeps it.

Every Tuya step that takes a key (set-up, reauth, reconfigure) checks it here: the key's and
the MAC's form first, then TCP reachability, then a status read with the key, trying each
protocol version allowed. The result is the entry's connection data, or a form error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
import contextlib
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState, ConfigFlow
from homeassistant.const import CONF_HOST, CONF_MAC

from .const import (
    CONF_DEVICE_ID,
    CONF_DP_MAP,
    CONF_LOCAL_KEY,
    CONF_PANEL_TYPE,
    CONF_VERSION,
    PANEL_TYPE_TUYA,
    TUYA_VERSION_AUTO,
    TUYA_VERSIONS,
)
from .discovery import discovered_version
from .neighbours import normalise_mac
from .panel_factory import build_panel
from .panels import registry
from .panels.base import Panel, PanelAuthError, PanelError, PanelTimeoutError

# How long the reachability check waits for the device to accept a TCP connection.
CONNECT_TIMEOUT_S = 5.0


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


def create_tuya_panel(
    host: str, device_id: str, local_key: str, version: str, dp_map: str
) -> Panel:
    """Return the panel an entry with these settings gets, to try them on."""
    return build_panel(
        PANEL_TYPE_TUYA,
        {
            CONF_HOST: host,
            CONF_DEVICE_ID: device_id,
            CONF_LOCAL_KEY: local_key,
            CONF_VERSION: version,
            CONF_DP_MAP: dp_map,
        },
    )


async def async_test_tuya(
    host: str, device_id: str, local_key: str, versions: Sequence[str], dp_map: str
) -> tuple[str | None, str]:
    """Try each version: ``(None, version)`` on success, else ``(error key, "")``.

    ``cannot_connect``: nothing accepts a connection at the address, or the device closes the
    link without an answer (busy with another client) for every version tried.
    ``invalid_auth``: the device proved the key wrong (every version tried).
    ``invalid_auth_or_busy``: connected but no answer in time, what a device does with a wrong
    key or while another client holds it.
    """
    if not await _async_reachable(host, registry.TUYA_PORT):
        return "cannot_connect", ""
    errors: set[str] = set()
    for version in versions:
        panel = create_tuya_panel(host, device_id, local_key, version, dp_map)
        try:
            await panel.connect()
            await panel.update()
        except PanelAuthError:
            errors.add("invalid_auth")
        except PanelTimeoutError:
            errors.add("invalid_auth_or_busy")
        except PanelError:  # closed without an answer: busy (or a version it does not speak)
            errors.add("cannot_connect")
        else:
            return None, version
        finally:
            await panel.disconnect()
    if errors == {"invalid_auth"}:
        return "invalid_auth", ""
    if errors == {"cannot_connect"}:
        return "cannot_connect", ""
    return "invalid_auth_or_busy", ""


def _valid_key(key: str) -> bool:
    """Whether the local key has the form the Tuya protocol takes (16 characters)."""
    from .panels.tuya import protocol  # noqa: PLC0415  (the Tuya code, when adding one)

    try:
        protocol.key_bytes(key)
    except ValueError:
        return False
    return True


async def async_release_link(entry: ConfigEntry) -> None:
    """Close the loaded entry's own link first: many panels take one connection at a time."""
    if entry.state is ConfigEntryState.LOADED:
        await entry.runtime_data.panel.disconnect()


class TuyaCheckMixin(ConfigFlow):
    """Checks every Tuya step of the config flow uses before it keeps connection data."""

    def _versions(self, device_id: str, chosen: str) -> list[str]:
        """Return the versions to try: the chosen one, else the one broadcast, else all."""
        if chosen != TUYA_VERSION_AUTO:
            return [chosen]
        heard = discovered_version(self.hass, device_id)
        return [heard] if heard in TUYA_VERSIONS else list(TUYA_VERSIONS)

    async def _async_check(
        self, given: Mapping[str, Any], versions: Sequence[str], errors: dict[str, str]
    ) -> dict[str, Any] | None:
        """Check the key and MAC and test the connection.

        ``given`` holds the address, device id, key, data-point map and optional MAC. The
        result is the entry's connection data (the version that answered, the MAC
        normalised, absent when not given), or None with ``errors`` filled in.
        """
        local_key: str = given[CONF_LOCAL_KEY]
        if not _valid_key(local_key):
            errors[CONF_LOCAL_KEY] = "invalid_local_key"
        mac: str | None = None
        if raw_mac := (given.get(CONF_MAC) or "").strip():
            if (mac := normalise_mac(raw_mac)) is None:
                errors[CONF_MAC] = "invalid_mac"
            elif self._mac_of_another_panel(mac, given[CONF_DEVICE_ID]):
                errors[CONF_MAC] = "mac_in_use"
        if errors:
            return None
        host = given[CONF_HOST].strip()
        device_id = given[CONF_DEVICE_ID]
        dp_map = given[CONF_DP_MAP]
        error, version = await async_test_tuya(host, device_id, local_key, versions, dp_map)
        if error is not None:
            errors["base"] = error
            return None
        data = {
            CONF_PANEL_TYPE: PANEL_TYPE_TUYA,
            CONF_HOST: host,
            CONF_DEVICE_ID: device_id,
            CONF_LOCAL_KEY: local_key,
            CONF_VERSION: version,
            CONF_DP_MAP: dp_map,
        }
        if mac is not None:
            data[CONF_MAC] = mac
        return data

    def _mac_of_another_panel(self, mac: str, device_id: str) -> bool:
        """Whether another entry already has this MAC (DHCP could not tell them apart)."""
        return any(
            entry.data.get(CONF_MAC) == mac and entry.unique_id != device_id
            for entry in self._async_current_entries(include_ignore=False)
        )
