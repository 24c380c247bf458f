"""A Tuya Wi-Fi panel emulated on loopback, reached by the integration (Home Assistant tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from unittest.mock import patch

from homeassistant.util import dt as dt_util

from custom_components.red_light_therapy.panels import registry
from custom_components.red_light_therapy.panels.tuya.emulator import TuyaEmulator

from .panels.tuya.conftest import DEVICE_ID, LOCAL_KEY

HOST = "127.0.0.1"


def hass_clock() -> float:
    """Home Assistant's clock (frozen by ``freezer`` where a test freezes it)."""
    return dt_util.utcnow().timestamp()


@asynccontextmanager
async def reachable_tuya_panel(
    version: str, dp_map: str = "generic_light", **options: Any
) -> AsyncIterator[TuyaEmulator]:
    """A Tuya panel on loopback, on Home Assistant's clock unless ``options`` give another,
    broadcasting only when a test says so; the integration connects to its port. Stopped at
    the end."""
    options.setdefault("clock", hass_clock)
    options.setdefault("broadcast_interval_s", None)
    device = TuyaEmulator(DEVICE_ID, LOCAL_KEY, version, dp_map, host=HOST, **options)
    await device.start()
    try:
        with patch.object(registry, "TUYA_PORT", device.port):
            yield device
    finally:
        await device.stop()
