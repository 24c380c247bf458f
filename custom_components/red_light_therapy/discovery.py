"""Tuya LAN discovery inside Home Assistant: one shared UDP listener for the integration.

Started once from ``async_setup``. Every device heard for the first time (and again when its
address or version changes) starts an integration-discovery flow; the flow ignores devices
already set up, and moves an entry whose device answers from a new address (its abort with
updates). Ports that cannot be bound (another program, no permission) are logged once and
discovery stays off: manual setup by address still works.
"""

from __future__ import annotations

import logging
from typing import Any

from homeassistant.config_entries import SOURCE_INTEGRATION_DISCOVERY
from homeassistant.const import CONF_HOST, EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import discovery_flow
from homeassistant.util.hass_dict import HassKey

from .const import (
    CONF_DEVICE_ID,
    CONF_PANEL_TYPE,
    CONF_VERSION,
    DOMAIN,
    PANEL_TYPE_TUYA,
    TUYA_DISCOVERY_PORTS,
)
from .panel_factory import clock
from .panels.tuya import DiscoveredDevice, TuyaDiscovery

_LOGGER = logging.getLogger(__name__)

# Where the listener binds; tests point these at loopback and an ephemeral port (0), or turn
# discovery off with no ports at all (a test that opens no socket).
DISCOVERY_HOST = "0.0.0.0"
DISCOVERY_PORTS: tuple[int, ...] = TUYA_DISCOVERY_PORTS

DATA_TUYA_DISCOVERY: HassKey[TuyaDiscovery] = HassKey(f"{DOMAIN}_tuya_discovery")


def discovery_data(device: DiscoveredDevice) -> dict[str, Any]:
    """What a discovery flow gets about one device."""
    return {
        CONF_DEVICE_ID: device.device_id,
        CONF_HOST: device.ip,
        CONF_VERSION: device.version,
    }


async def async_start_tuya_discovery(hass: HomeAssistant) -> None:
    """Listen for Tuya broadcasts until Home Assistant stops (once per Home Assistant)."""
    if DATA_TUYA_DISCOVERY in hass.data or not DISCOVERY_PORTS:
        return

    @callback
    def _async_discovered(device: DiscoveredDevice) -> None:
        for entry in hass.config_entries.async_entries(DOMAIN, include_ignore=False):
            if (
                entry.unique_id == device.device_id
                and entry.data.get(CONF_PANEL_TYPE) == PANEL_TYPE_TUYA
                and entry.data.get(CONF_HOST) == device.ip
            ):
                return  # set up, same address: nothing to do
        _LOGGER.debug("Tuya device %s at %s (%s)", device.device_id, device.ip, device.version)
        discovery_flow.async_create_flow(
            hass,
            DOMAIN,
            context={"source": SOURCE_INTEGRATION_DISCOVERY},
            data=discovery_data(device),
        )

    listener = TuyaDiscovery(
        _async_discovered, ports=DISCOVERY_PORTS, host=DISCOVERY_HOST, clock=clock
    )
    try:
        await listener.start()
    except (OSError, RuntimeError) as err:  # RuntimeError: sandboxes that forbid sockets
        _LOGGER.warning(
            "Tuya discovery is off: cannot listen on UDP ports %s (%s); "
            "Wi-Fi panels can still be added by address",
            ", ".join(map(str, DISCOVERY_PORTS)),
            err,
        )
        return
    hass.data[DATA_TUYA_DISCOVERY] = listener

    async def _async_stop(_event: Event) -> None:
        await async_stop_tuya_discovery(hass)

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _async_stop)


async def async_stop_tuya_discovery(hass: HomeAssistant) -> None:
    """Close the listener's sockets."""
    listener = hass.data.pop(DATA_TUYA_DISCOVERY, None)
    if listener is not None:
        await listener.stop()


def discovered_version(hass: HomeAssistant, device_id: str) -> str | None:
    """The protocol version a device broadcast, if the listener heard it."""
    listener = hass.data.get(DATA_TUYA_DISCOVERY)
    if listener is None or (device := listener.devices.get(device_id)) is None:
        return None
    return device.version
