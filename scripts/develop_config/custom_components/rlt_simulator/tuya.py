"""Simulated Tuya Wi-Fi panels: the protocol emulator on a real loopback socket.

Each configured panel is a ``TuyaEmulator`` (panels/tuya/emulator.py, the same class the tests
and ``python -m …panels.tuya.emulator`` use) running in Home Assistant's event loop: a TCP
server speaking protocol 3.3, 3.4 or 3.5 with real encryption, and a UDP discovery broadcast.
The broadcast goes to the loopback broadcast address 127.255.255.255 by default, so every
listener bound to 0.0.0.0 on the port hears it, as on a LAN; the integration's own discovery
listener (UDP 6666/6667/7000) is one of them and starts an "integration discovery" flow, which
asks for the local key the way it does for a device on the network.

The integration always dials Tuya's TCP port 6668, so a panel meant to be added by hand or by
discovery listens there (on another loopback address such as 127.0.0.2 if 6668 is taken).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Final

from homeassistant.const import CONF_HOST, CONF_PORT
import homeassistant.helpers.config_validation as cv
import voluptuous as vol

from custom_components.red_light_therapy.const import TUYA_VERSIONS
from custom_components.red_light_therapy.panels.tuya import DP_MAPS
from custom_components.red_light_therapy.panels.tuya.emulator import TuyaEmulator

_LOGGER = logging.getLogger(__name__)

CONF_DEVICE_ID: Final = "device_id"
CONF_LOCAL_KEY: Final = "local_key"
CONF_VERSION: Final = "version"
CONF_DP_MAP: Final = "dp_map"  # the name of a data-point map (panels/tuya/dp_maps.json)
CONF_BROADCAST_ADDRESS: Final = "broadcast_address"
CONF_BROADCAST_PORT: Final = "broadcast_port"
CONF_BROADCAST_INTERVAL: Final = "broadcast_interval_s"

TUYA_TCP_PORT: Final = 6668
"""The port real devices listen on, and the only one the integration dials."""
LOOPBACK_BROADCAST: Final = "127.255.255.255"
TUYA_BROADCAST_PORT: Final = 6667
"""Where 3.3 / 3.4 / 3.5 devices broadcast (encrypted)."""


def _local_key(value: Any) -> str:
    key = cv.string(value)
    if len(key.encode("latin-1", errors="replace")) != 16:
        raise vol.Invalid("a Tuya local key is 16 characters")
    return key


_ANY_PORT = vol.All(vol.Coerce(int), vol.Range(min=0, max=65535))

TUYA_PANEL_SCHEMA: Final = vol.Schema(
    {
        vol.Required(CONF_DEVICE_ID): vol.All(cv.string, vol.Length(min=1)),
        vol.Required(CONF_LOCAL_KEY): _local_key,
        vol.Optional(CONF_VERSION, default="3.4"): vol.All(vol.Coerce(str), vol.In(TUYA_VERSIONS)),
        vol.Optional(CONF_DP_MAP, default="generic_light"): vol.In(sorted(DP_MAPS)),
        vol.Optional(CONF_HOST, default="127.0.0.1"): cv.string,
        # 0: any free port (tests); the integration itself only ever dials 6668.
        vol.Optional(CONF_PORT, default=TUYA_TCP_PORT): _ANY_PORT,
        vol.Optional(CONF_BROADCAST_ADDRESS, default=LOOPBACK_BROADCAST): cv.string,
        vol.Optional(CONF_BROADCAST_PORT, default=TUYA_BROADCAST_PORT): _ANY_PORT,
        vol.Optional(CONF_BROADCAST_INTERVAL, default=5): vol.All(
            vol.Coerce(float), vol.Range(min=0.1, max=60)
        ),
    }
)


def build_emulator(conf: dict[str, Any], latency_s: float) -> TuyaEmulator:
    """Return the emulator of one configured panel (not started)."""
    return TuyaEmulator(
        conf[CONF_DEVICE_ID],
        conf[CONF_LOCAL_KEY],
        conf[CONF_VERSION],
        conf[CONF_DP_MAP],
        clock=time.time,
        host=conf[CONF_HOST],
        port=conf[CONF_PORT],
        latency_s=latency_s,
        broadcast_address=conf[CONF_BROADCAST_ADDRESS],
        broadcast_port=conf[CONF_BROADCAST_PORT],
        broadcast_interval_s=conf[CONF_BROADCAST_INTERVAL],
    )


async def async_start(emulator: TuyaEmulator) -> bool:
    """Start serving and broadcasting; False (logged) when the address cannot be bound."""
    try:
        await emulator.start()
    except OSError as err:
        _LOGGER.error(
            "Cannot simulate Tuya panel %s on %s:%s (%s); another program listens there? "
            "Set RLT_DEV_TUYA_HOST to another loopback address, e.g. 127.0.0.2",
            emulator.device_id,
            emulator.host,
            emulator.port,
            err,
        )
        await emulator.stop()
        return False
    _LOGGER.warning(
        "Simulating Tuya %s panel %s on %s:%s, broadcasting to %s:%s (local key %s); "
        "development only",
        emulator.version.value,
        emulator.device_id,
        emulator.host,
        emulator.port,
        emulator.broadcast_address,
        emulator.broadcast_port,
        emulator.local_key.decode("latin-1"),
    )
    return True


def tuya_status(emulator: TuyaEmulator) -> dict[str, Any]:
    """Return what the emulated Tuya panel is doing right now."""
    return {
        "device_id": emulator.device_id,
        "version": emulator.version.value,
        "host": emulator.host,
        "port": emulator.port,
        "clients": emulator.clients,
        "is_on": emulator.is_on,
        "dps": emulator.current_dps(),
        "levels": list(emulator.levels),
        "timer_remaining_s": emulator.timer_remaining_s,
        "emitted_s": round(emulator.on_seconds(), 1),
        "emission_segments": len(emulator.emission_log),
        "connections": emulator.connections,
        "writes": len(emulator.writes),
        "auth_failures": emulator.auth_failures,
        "broadcasts_sent": emulator.broadcasts_sent,
    }
