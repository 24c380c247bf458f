"""Simulated panels, for development only.

Simulated BlockBlueLight panels behind a simulated Bluetooth proxy, and simulated Tuya Wi-Fi
panels on loopback.

``scripts/develop`` loads this next to the Red Light Therapy integration. It registers a
remote scanner with Home Assistant's Bluetooth stack (the way ESPHome Bluetooth proxies do)
that advertises the emulated panels and connects to them through a bleak backend over the
emulator. The integration runs unmodified: real discovery, config flow, bleak-retry-connector
and Home Assistant's client wrapper. With ``auto_add`` (the default) the discovery flows of the
simulated BLE panels are confirmed once Home Assistant has started, as if a person had clicked
"Submit".

``tuya_panels`` run the Tuya emulator in this process (see ``tuya.py``): it serves on a real
loopback socket and broadcasts its discovery packet, which the integration's own UDP listener
hears. Their discovery flows are left for a person to finish: typing the local key is the part
of the Wi-Fi setup worth trying. The emulators stop with Home Assistant.

The integration is config-entry only: Home Assistant sets it up (and so starts its discovery
listener) only once an entry exists. The simulator sets it up itself, in the background, so the
Tuya panel is discovered on a first start too. Not as a manifest dependency: that would make the
simulator wait for the integration's entries, and a stored Bluetooth panel's entry waits (up to
half a minute) for this simulator's scanner to reach it.

Never ship this: it is not part of the integration and lives only under scripts/.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
import logging
import time
from typing import Any, Final

from homeassistant.components import bluetooth
from homeassistant.config_entries import SOURCE_BLUETOOTH
from homeassistant.const import CONF_ADDRESS, EVENT_HOMEASSISTANT_STOP
from homeassistant.core import (
    Event,
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
import homeassistant.helpers.config_validation as cv
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.start import async_at_started
from homeassistant.helpers.typing import ConfigType
from homeassistant.setup import async_setup_component
import voluptuous as vol

from custom_components.red_light_therapy.const import DOMAIN as RLT_DOMAIN
from custom_components.red_light_therapy.panels.blockbluelight.emulator import (
    DEFAULT_ADDRESS,
    BlockBlueLightEmulator,
)
from custom_components.red_light_therapy.panels.tuya.emulator import TuyaEmulator

from .scanner import SCANNER_NAME, SimulatedScanner
from .tuya import (
    CONF_DEVICE_ID,
    TUYA_PANEL_SCHEMA,
    async_start as async_start_tuya,
    build_emulator as build_tuya_emulator,
    tuya_status,
)

_LOGGER = logging.getLogger(__name__)

DOMAIN: Final = "rlt_simulator"
CONF_PANELS: Final = "panels"
CONF_TUYA_PANELS: Final = "tuya_panels"
CONF_LATENCY_MS: Final = "latency_ms"
CONF_AUTO_ADD: Final = "auto_add"
CONF_ADVERTISE_INTERVAL: Final = "advertise_interval_s"
CONF_ADVERTISE_WHILE_CONNECTED: Final = "advertise_while_connected"
CONF_RSSI: Final = "rssi"

AUTO_ADD_WAIT_S: Final = 120

_PANEL_SCHEMA = vol.Schema({vol.Required(CONF_ADDRESS): vol.All(cv.string, vol.Upper)})
_SIMULATOR_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_PANELS, default=[{CONF_ADDRESS: DEFAULT_ADDRESS}]): vol.All(
            cv.ensure_list, [_PANEL_SCHEMA]
        ),
        vol.Optional(CONF_LATENCY_MS, default=20): vol.All(int, vol.Range(min=0, max=2000)),
        vol.Optional(CONF_AUTO_ADD, default=True): cv.boolean,
        vol.Optional(CONF_ADVERTISE_INTERVAL, default=5): vol.All(
            vol.Coerce(float), vol.Range(min=0.5, max=60)
        ),
        vol.Optional(CONF_ADVERTISE_WHILE_CONNECTED, default=True): cv.boolean,
        vol.Optional(CONF_RSSI, default=-60): vol.All(int, vol.Range(min=-100, max=0)),
        vol.Optional(CONF_TUYA_PANELS, default=[]): vol.All(cv.ensure_list, [TUYA_PANEL_SCHEMA]),
    }
)
CONFIG_SCHEMA = vol.Schema(
    {DOMAIN: vol.All(lambda value: value or {}, _SIMULATOR_SCHEMA)}, extra=vol.ALLOW_EXTRA
)
_TARGET_SCHEMA = vol.Schema(
    {
        vol.Exclusive(CONF_ADDRESS, "panel"): vol.All(cv.string, vol.Upper),
        vol.Exclusive(CONF_DEVICE_ID, "panel"): cv.string,
    }
)


@dataclass(slots=True)
class Simulator:
    """The simulated proxy and the panels it reaches, and the simulated Tuya panels."""

    scanner: SimulatedScanner
    advertise_while_connected: bool
    tuya_panels: list[TuyaEmulator] = field(default_factory=list)

    @property
    def panels(self) -> list[BlockBlueLightEmulator]:
        """The simulated Bluetooth panels."""
        return list(self.scanner.panels.values())

    @callback
    def advertise(self, _now: object = None) -> None:
        """Advertise each panel, unless it is connected and connected panels stay quiet."""
        for panel in self.panels:
            if self.advertise_while_connected or not panel.connected:
                self.scanner.advertise(panel)

    def targets(self, call: ServiceCall) -> list[BlockBlueLightEmulator]:
        """Return the BLE panels a service call names (all when it names no panel)."""
        address: str | None = call.data.get(CONF_ADDRESS)
        if address is None:
            return [] if CONF_DEVICE_ID in call.data else self.panels
        if (panel := self.scanner.find_panel(address)) is None:
            raise ServiceValidationError(f"No simulated panel has the address {address}")
        return [panel]

    def tuya_targets(self, call: ServiceCall) -> list[TuyaEmulator]:
        """Return the Tuya panels a service call names (all when it names no panel)."""
        device_id: str | None = call.data.get(CONF_DEVICE_ID)
        if device_id is None:
            return [] if CONF_ADDRESS in call.data else list(self.tuya_panels)
        found = [panel for panel in self.tuya_panels if panel.device_id == device_id]
        if not found:
            raise ServiceValidationError(f"No simulated Tuya panel has the device id {device_id}")
        return found


def panel_status(panel: BlockBlueLightEmulator) -> dict[str, Any]:
    """Return what the emulated panel is doing right now."""
    return {
        "address": panel.address,
        "name": panel.name,
        "connected": panel.connected,
        "is_on": panel.is_on,
        "levels": list(panel.levels),
        "timer_set_s": panel.timer_set_s,
        "timer_remaining_s": panel.timer_remaining_s,
        "emitted_s": round(panel.on_seconds(), 1),
        "emission_segments": len(panel.emission_log),
        "connections": panel.connections,
        "commands_received": panel.commands_received,
    }


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Start the simulated proxy and its panels."""
    conf: dict[str, Any] = config[DOMAIN]
    latency_s = conf[CONF_LATENCY_MS] / 1000
    panels = [
        BlockBlueLightEmulator(panel[CONF_ADDRESS], clock=time.time, latency_s=latency_s)
        for panel in conf[CONF_PANELS]
    ]
    scanner = SimulatedScanner(panels, conf[CONF_RSSI])
    simulator = Simulator(scanner, conf[CONF_ADVERTISE_WHILE_CONNECTED])
    hass.data[DOMAIN] = simulator

    unsubscribers: list[Callable[[], None]] = [
        bluetooth.async_register_scanner(hass, scanner),
        scanner.async_setup(),
        async_track_time_interval(
            hass,
            simulator.advertise,
            timedelta(seconds=conf[CONF_ADVERTISE_INTERVAL]),
            name="rlt_simulator advertisements",
            cancel_on_shutdown=True,
        ),
    ]
    simulator.advertise()
    for panel in panels:
        _LOGGER.warning(
            "Simulating BlockBlueLight panel %s (%s) behind the Bluetooth proxy %r; "
            "development only",
            panel.name,
            panel.address,
            SCANNER_NAME,
        )

    @callback
    def _stop(_event: Event) -> None:
        for unsubscribe in unsubscribers:
            unsubscribe()
        for panel in panels:
            panel.close()

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _stop)

    async def _stop_tuya(_event: Event) -> None:
        for tuya_panel in simulator.tuya_panels:
            await tuya_panel.stop()

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _stop_tuya)
    for tuya_conf in conf[CONF_TUYA_PANELS]:
        tuya_panel = build_tuya_emulator(tuya_conf, latency_s)
        if await async_start_tuya(tuya_panel):
            simulator.tuya_panels.append(tuya_panel)

    if conf[CONF_AUTO_ADD]:
        addresses = {panel.address for panel in panels}

        @callback
        def _started(hass: HomeAssistant) -> None:
            hass.async_create_background_task(
                _async_confirm_discoveries(hass, addresses), "rlt_simulator auto add"
            )

        async_at_started(hass, _started)

    _register_services(hass, simulator)
    hass.async_create_background_task(
        async_setup_component(hass, RLT_DOMAIN, config), "rlt_simulator sets up red_light_therapy"
    )
    return True


async def _async_confirm_discoveries(hass: HomeAssistant, addresses: set[str]) -> None:
    """Submit the Bluetooth discovery flows of the simulated panels, like a person would."""
    deadline = time.monotonic() + AUTO_ADD_WAIT_S
    pending = set(addresses)
    while True:
        configured = {
            entry.unique_id
            for entry in hass.config_entries.async_entries(RLT_DOMAIN, include_ignore=True)
        }
        pending -= configured
        if not pending:
            return
        for flow in hass.config_entries.flow.async_progress_by_handler(
            RLT_DOMAIN, match_context={"source": SOURCE_BLUETOOTH}
        ):
            unique_id = flow["context"].get("unique_id")
            if unique_id in pending and flow.get("step_id") == "bluetooth_confirm":
                result = await hass.config_entries.flow.async_configure(flow["flow_id"], {})
                _LOGGER.warning(
                    "Confirmed the discovery of simulated panel %s: %s",
                    unique_id,
                    result.get("title", result["type"]),
                )
                pending.discard(unique_id)
        if not pending:
            return
        if time.monotonic() > deadline:
            _LOGGER.warning(
                "No discovery flow for the simulated panel(s) %s appeared within %s s; "
                "add them under Settings > Devices & services",
                ", ".join(sorted(pending)),
                AUTO_ADD_WAIT_S,
            )
            return
        await asyncio.sleep(1)


def _register_services(hass: HomeAssistant, simulator: Simulator) -> None:
    async def _status(call: ServiceCall) -> ServiceResponse:
        return {
            "panels": [panel_status(panel) for panel in simulator.targets(call)],
            "tuya_panels": [tuya_status(panel) for panel in simulator.tuya_targets(call)],
        }

    async def _press_button(call: ServiceCall) -> None:
        for panel in simulator.targets(call):
            panel.press_button()
        for tuya_panel in simulator.tuya_targets(call):
            tuya_panel.press_button()

    async def _drop_connection(call: ServiceCall) -> None:
        for panel in simulator.targets(call):
            panel.drop_connection()
        for tuya_panel in simulator.tuya_targets(call):
            tuya_panel.drop_connections()

    hass.services.async_register(
        DOMAIN, "status", _status, _TARGET_SCHEMA, supports_response=SupportsResponse.ONLY
    )
    hass.services.async_register(DOMAIN, "press_button", _press_button, _TARGET_SCHEMA)
    hass.services.async_register(DOMAIN, "drop_connection", _drop_connection, _TARGET_SCHEMA)
