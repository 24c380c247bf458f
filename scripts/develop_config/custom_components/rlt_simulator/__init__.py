"""Development only: simulated BlockBlueLight panels behind a simulated Bluetooth proxy.

``scripts/develop`` loads this next to the Red Light Therapy integration. It registers a
remote scanner with Home Assistant's Bluetooth stack (the way ESPHome Bluetooth proxies do)
that advertises the emulated panels and connects to them through a bleak backend over the
emulator. The integration runs unmodified: real discovery, config flow, bleak-retry-connector
and Home Assistant's client wrapper. With ``auto_add`` (the default) the discovery flows of the
simulated panels are confirmed once Home Assistant has started, as if a person had clicked
"Submit".

Never ship this: it is not part of the integration and lives only under scripts/.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
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
import voluptuous as vol

from custom_components.red_light_therapy.const import DOMAIN as RLT_DOMAIN
from custom_components.red_light_therapy.panels.blockbluelight.emulator import (
    DEFAULT_ADDRESS,
    BlockBlueLightEmulator,
)

from .scanner import SCANNER_NAME, SimulatedScanner

_LOGGER = logging.getLogger(__name__)

DOMAIN: Final = "rlt_simulator"
CONF_PANELS: Final = "panels"
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
    }
)
CONFIG_SCHEMA = vol.Schema(
    {DOMAIN: vol.All(lambda value: value or {}, _SIMULATOR_SCHEMA)}, extra=vol.ALLOW_EXTRA
)
_TARGET_SCHEMA = vol.Schema({vol.Optional(CONF_ADDRESS): vol.All(cv.string, vol.Upper)})


@dataclass(slots=True)
class Simulator:
    """The simulated proxy and the panels it reaches."""

    scanner: SimulatedScanner
    advertise_while_connected: bool

    @property
    def panels(self) -> list[BlockBlueLightEmulator]:
        return list(self.scanner.panels.values())

    @callback
    def advertise(self, _now: object = None) -> None:
        for panel in self.panels:
            if self.advertise_while_connected or not panel.connected:
                self.scanner.advertise(panel)

    def targets(self, call: ServiceCall) -> list[BlockBlueLightEmulator]:
        address: str | None = call.data.get(CONF_ADDRESS)
        if address is None:
            return self.panels
        if (panel := self.scanner.find_panel(address)) is None:
            raise ServiceValidationError(f"No simulated panel has the address {address}")
        return [panel]


def panel_status(panel: BlockBlueLightEmulator) -> dict[str, Any]:
    """What the emulated panel is doing right now."""
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

    if conf[CONF_AUTO_ADD]:
        addresses = {panel.address for panel in panels}

        @callback
        def _started(hass: HomeAssistant) -> None:
            hass.async_create_background_task(
                _async_confirm_discoveries(hass, addresses), "rlt_simulator auto add"
            )

        async_at_started(hass, _started)

    _register_services(hass, simulator)
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
        return {"panels": [panel_status(panel) for panel in simulator.targets(call)]}

    async def _press_button(call: ServiceCall) -> None:
        for panel in simulator.targets(call):
            panel.press_button()

    async def _drop_connection(call: ServiceCall) -> None:
        for panel in simulator.targets(call):
            panel.drop_connection()

    hass.services.async_register(
        DOMAIN, "status", _status, _TARGET_SCHEMA, supports_response=SupportsResponse.ONLY
    )
    hass.services.async_register(DOMAIN, "press_button", _press_button, _TARGET_SCHEMA)
    hass.services.async_register(DOMAIN, "drop_connection", _drop_connection, _TARGET_SCHEMA)
