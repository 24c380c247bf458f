"""Tuya LAN discovery inside Home Assistant: one shared UDP listener for the integration.

Started from ``async_setup`` when a Wi-Fi panel is set up or none is set up at all, and, on a
first install (no entry yet, so no ``async_setup``), from the config flow's Wi-Fi step, which
scans with it. A Bluetooth-only install does not import the Tuya code: ``async_setup`` binds
the same ports with a bare probe (``async_probe_tuya_discovery``) that only notices that
something broadcasts there, and the first datagram starts the listener (the device's next
broadcast, some 5 s later, is discovered). Every device heard for the first time (and
again when its address or version changes, or after its entry was removed) starts an
integration-discovery flow; the flow ignores devices already set up, and moves an entry whose
device answers from a new address (its abort with updates). Ports that cannot be bound (another
program, no permission) leave discovery off, logged as a warning the first time: setup by
address still works.

The LAN is untrusted: the address is the broadcast's sender (``parse_broadcast``), a broadcast
of a protocol version the integration does not speak starts nothing, and at most
``MAX_PENDING_FLOWS`` discovery flows wait at a time (more devices are offered when they
broadcast again after some of those flows ended).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import (
    SOURCE_INTEGRATION_DISCOVERY,
    ConfigEntry,
    signal_discovered_config_entry_removed,
)
from homeassistant.const import CONF_HOST, EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.helpers import discovery_flow
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.util.hass_dict import HassKey

from .const import CONF_DEVICE_ID, CONF_PANEL_TYPE, CONF_VERSION, DOMAIN, PANEL_TYPE_TUYA
from .panel_factory import clock
from .panels import registry
from .panels.lan_probe import LanProbe

if TYPE_CHECKING:
    from .panels.lan import DiscoveredDevice, LanListener

_LOGGER = logging.getLogger(__name__)

# Where the listener binds; tests point these at loopback and an ephemeral port (0), or turn
# discovery off with no ports at all (a test that opens no socket).
DISCOVERY_HOST = "0.0.0.0"
DISCOVERY_PORTS: tuple[int, ...] = registry.TUYA_DISCOVERY_PORTS

# How long the config flow's scan listens: Tuya devices broadcast about every 5 s.
SCAN_S = 6.0

MAX_PENDING_FLOWS = 10
"""Discovery flows waiting at most at a time; a flood of device ids opens no more."""

DATA_TUYA_DISCOVERY: HassKey[LanListener] = HassKey(f"{DOMAIN}_tuya_discovery")
_DATA_OFF_LOGGED: HassKey[bool] = HassKey(f"{DOMAIN}_tuya_discovery_off_logged")
_DATA_UNSUBSCRIBE: HassKey[CALLBACK_TYPE] = HassKey(f"{DOMAIN}_tuya_discovery_unsubscribe")
_DATA_PROBE: HassKey[LanProbe] = HassKey(f"{DOMAIN}_tuya_probe")


def discovery_data(device: DiscoveredDevice) -> dict[str, Any]:
    """Return what a discovery flow gets about one device."""
    return {
        CONF_DEVICE_ID: device.device_id,
        CONF_HOST: device.ip,
        CONF_VERSION: device.version,
    }


async def async_start_tuya_discovery(hass: HomeAssistant) -> bool:
    """Listen for Tuya broadcasts until Home Assistant stops (once per Home Assistant).

    False when discovery is off: no ports configured, or they cannot be bound.
    """
    if DATA_TUYA_DISCOVERY in hass.data:
        return True
    if not DISCOVERY_PORTS:
        return False
    _async_stop_probe(hass)

    @callback
    def _async_discovered(device: DiscoveredDevice) -> None:
        if not device.supported:
            _LOGGER.debug(
                "Tuya device %s at %s speaks protocol %r, not supported: ignored",
                device.device_id,
                device.ip,
                device.version,
            )
            return
        for entry in hass.config_entries.async_entries(DOMAIN, include_ignore=False):
            if (
                entry.unique_id == device.device_id
                and entry.data.get(CONF_PANEL_TYPE) == PANEL_TYPE_TUYA
                and entry.data.get(CONF_HOST) == device.ip
            ):
                return  # set up, same address: nothing to do
        pending = hass.config_entries.flow.async_progress_by_handler(
            DOMAIN,
            include_uninitialized=True,
            match_context={"source": SOURCE_INTEGRATION_DISCOVERY},
        )
        if len(pending) >= MAX_PENDING_FLOWS:
            _LOGGER.debug(
                "Tuya device %s at %s not offered yet: %d discovery flows wait already",
                device.device_id,
                device.ip,
                len(pending),
            )
            listener.forget(device.device_id)  # offered when it broadcasts again
            return
        _LOGGER.debug("Tuya device %s at %s (%s)", device.device_id, device.ip, device.version)
        discovery_flow.async_create_flow(
            hass,
            DOMAIN,
            context={"source": SOURCE_INTEGRATION_DISCOVERY},
            data=discovery_data(device),
            # Kept by the entry, an ignored one too: its removal is signalled back (below).
            discovery_key=discovery_flow.DiscoveryKey(
                domain=DOMAIN, key=device.device_id, version=1
            ),
        )

    @callback
    def _async_entry_removed(entry: ConfigEntry) -> None:
        # An entry this discovery led to was removed ("stop ignoring" included, which never
        # calls async_remove_entry): offer its device again.
        for key in entry.discovery_keys.get(DOMAIN, ()):
            async_forget_tuya_device(hass, str(key.key))

    listener = registry.lan_listener(
        _async_discovered, ports=DISCOVERY_PORTS, host=DISCOVERY_HOST, clock=clock
    )
    try:
        await listener.start()
    except (OSError, RuntimeError) as err:  # RuntimeError: sandboxes that forbid sockets
        # A warning once; the flow's scan tries again each time, quietly.
        _log_off(hass, err)
        return False
    hass.data[DATA_TUYA_DISCOVERY] = listener
    hass.data[_DATA_UNSUBSCRIBE] = async_dispatcher_connect(
        hass, signal_discovered_config_entry_removed(DOMAIN), _async_entry_removed
    )

    async def _async_stop(_event: Event) -> None:
        await async_stop_tuya_discovery(hass)

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _async_stop)
    return True


def _log_off(hass: HomeAssistant, err: Exception) -> None:
    """Log a warning the first time discovery cannot listen.

    The flow's scan tries again quietly.
    """
    log = _LOGGER.debug if hass.data.get(_DATA_OFF_LOGGED) else _LOGGER.warning
    hass.data[_DATA_OFF_LOGGED] = True
    log(
        "Tuya discovery is off: cannot listen on UDP ports %s (%s); "
        "Wi-Fi panels can still be added by address",
        ", ".join(map(str, DISCOVERY_PORTS)),
        err,
    )


async def async_probe_tuya_discovery(hass: HomeAssistant) -> bool:
    """Wait for a Tuya broadcast without loading the Tuya code (a Bluetooth-only install).

    The first datagram starts the listener. False when the ports cannot be bound (discovery is
    off).
    """
    if DATA_TUYA_DISCOVERY in hass.data or _DATA_PROBE in hass.data:
        return True
    if not DISCOVERY_PORTS:
        return False

    @callback
    def _heard() -> None:
        if hass.data.get(_DATA_PROBE) is probe:
            _async_stop_probe(hass)
            hass.async_create_background_task(
                async_start_tuya_discovery(hass), "red_light_therapy tuya discovery"
            )

    probe = LanProbe(_heard, ports=DISCOVERY_PORTS, host=DISCOVERY_HOST)
    try:
        await probe.start()
    except (OSError, RuntimeError) as err:
        _log_off(hass, err)
        return False
    hass.data[_DATA_PROBE] = probe

    @callback
    def _stop(_event: Event) -> None:
        _async_stop_probe(hass)

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _stop)
    return True


def probe_ports(hass: HomeAssistant) -> tuple[int, ...]:
    """Return the ports the probe listens on (none when it does not)."""
    probe = hass.data.get(_DATA_PROBE)
    return () if probe is None else probe.bound_ports


@callback
def _async_stop_probe(hass: HomeAssistant) -> None:
    if (probe := hass.data.pop(_DATA_PROBE, None)) is not None:
        probe.stop()


async def async_stop_tuya_discovery(hass: HomeAssistant) -> None:
    """Close the listener's sockets."""
    if (unsubscribe := hass.data.pop(_DATA_UNSUBSCRIBE, None)) is not None:
        unsubscribe()
    listener = hass.data.pop(DATA_TUYA_DISCOVERY, None)
    if listener is not None:
        await listener.stop()


async def async_scan_wait(hass: HomeAssistant) -> float | None:
    """Start the shared listener if needed; how long a scan still has to listen.

    None: discovery is off. 0: the listener has already heard the LAN for ``SCAN_S`` (what it
    recorded is what a scan would find).
    """
    if not await async_start_tuya_discovery(hass):
        return None
    started = hass.data[DATA_TUYA_DISCOVERY].started_at
    if started is None:  # a listener that never ran: only what it was given
        return 0.0
    return max(0.0, started + SCAN_S - clock())


def heard_devices(hass: HomeAssistant) -> list[DiscoveredDevice]:
    """Every device the listener has heard since it started, by device id."""
    listener = hass.data.get(DATA_TUYA_DISCOVERY)
    if listener is None:
        return []
    return sorted(listener.devices.values(), key=lambda device: device.device_id)


@callback
def async_forget_tuya_device(hass: HomeAssistant, device_id: str) -> None:
    """Its entry is gone: the device's next broadcast starts a discovery flow again."""
    if (listener := hass.data.get(DATA_TUYA_DISCOVERY)) is not None:
        listener.forget(device_id)


def discovered_version(hass: HomeAssistant, device_id: str) -> str | None:
    """Return the protocol version a device broadcast, if the listener heard it."""
    listener = hass.data.get(DATA_TUYA_DISCOVERY)
    if listener is None or (device := listener.devices.get(device_id)) is None:
        return None
    return device.version
