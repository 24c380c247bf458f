"""A Tuya Wi-Fi panel emulated on loopback, reached by the integration (Home Assistant tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from unittest.mock import patch

from homeassistant.const import CONF_HOST
from homeassistant.util import dt as dt_util
import pytest

from custom_components.red_light_therapy.const import (
    CONF_DEVICE_ID,
    CONF_DP_MAP,
    CONF_LOCAL_KEY,
    CONF_PANEL_TYPE,
    CONF_VERSION,
    PANEL_TYPE_TUYA,
)
from custom_components.red_light_therapy.panels import registry
from custom_components.red_light_therapy.panels.tuya.emulator import TuyaEmulator

from .panels.tuya.conftest import DEVICE_ID, LOCAL_KEY, VERSIONS

HOST = "127.0.0.1"
TITLE = f"Tuya panel {DEVICE_ID[-4:]}"  # the name the integration gives the panel
MAC = "a0:92:08:12:34:56"  # as tinytuya's devices.json lists it
OTHER_MAC = "a0:92:08:65:43:21"


@pytest.fixture(name="version", params=VERSIONS)
def version_fixture(request: pytest.FixtureRequest) -> str:
    """Each protocol version the integration speaks (3.3, 3.4, 3.5): a test module takes it by
    binding it (``version_fixture = emulated_tuya.version_fixture``)."""
    return str(request.param)


def entry_data(version: str, host: str = HOST, **extra: Any) -> dict[str, Any]:
    """A Tuya panel's config entry data, as the flow stores it; ``extra`` adds or changes."""
    return {
        CONF_PANEL_TYPE: PANEL_TYPE_TUYA,
        CONF_HOST: host,
        CONF_DEVICE_ID: DEVICE_ID,
        CONF_LOCAL_KEY: LOCAL_KEY,
        CONF_VERSION: version,
        CONF_DP_MAP: "generic_light",
        **extra,
    }


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
