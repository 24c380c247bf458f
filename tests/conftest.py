"""Shared fixtures.

The test plugin mounts its own ``custom_components`` package; importing ours first makes
Python resolve ``custom_components.red_light_therapy`` to this repository.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any
from unittest.mock import patch

from homeassistant.const import CONF_ADDRESS
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

import custom_components.red_light_therapy  # noqa: F401  (must be imported before hass)
from custom_components.red_light_therapy.const import (
    CONF_PANEL_TYPE,
    DOMAIN,
    PANEL_TYPE_BLOCKBLUELIGHT,
)
from custom_components.red_light_therapy.panels.blockbluelight import (
    BlockBlueLightEmulator,
)
from custom_components.red_light_therapy.panels.tuya.emulator import TuyaEmulator

from .common import ADDRESS, Events, inject_advertisement, recorded_events, service_info


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: Any) -> None:
    """Let Home Assistant load integrations from custom_components/."""


@pytest.fixture
def emulator() -> Generator[BlockBlueLightEmulator]:
    """A BlockBlueLight panel behind the same bleak calls a real one answers."""
    panel = BlockBlueLightEmulator(ADDRESS, clock=lambda: dt_util.utcnow().timestamp())
    yield panel
    panel.close()


@pytest.fixture
def mock_ble_link(emulator: BlockBlueLightEmulator) -> Generator[None]:
    """Make bleak-retry-connector's establish_connection reach the emulator."""

    async def _establish(
        _client_class: Any, device: Any, _name: str, disconnected_callback: Any = None, **_: Any
    ) -> Any:
        return await emulator.client_factory(device, disconnected_callback)

    with patch(
        "custom_components.red_light_therapy.panels.blockbluelight.driver.establish_connection",
        _establish,
    ):
        yield


@pytest.fixture
def config_entry(hass: HomeAssistant) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="BlockBlueLight F522",
        unique_id=ADDRESS,
        data={CONF_ADDRESS: ADDRESS, CONF_PANEL_TYPE: PANEL_TYPE_BLOCKBLUELIGHT},
    )
    entry.add_to_hass(hass)
    return entry


@pytest.fixture
async def init_integration(
    hass: HomeAssistant,
    enable_bluetooth: None,
    mock_ble_link: None,
    config_entry: MockConfigEntry,
) -> MockConfigEntry:
    """The integration set up with one emulated panel in Bluetooth range."""
    inject_advertisement(hass, service_info())
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry


SESSION_LEVEL = 20
"""A channel level at which a whole-body session up to its 20-minute limit stays under the
dose limits (the default profile gives 60 mW/cm² at full output and 15 cm: 20 % is 12 mW/cm²,
14.4 J/cm² in 20 minutes), so a session runs exactly as long as asked."""


@pytest.fixture
async def dimmed_integration(
    hass: HomeAssistant, init_integration: MockConfigEntry, emulator: BlockBlueLightEmulator
) -> MockConfigEntry:
    """The integration with every channel of the panel set to ``SESSION_LEVEL``."""
    panel = init_integration.runtime_data.panel
    await panel.set_levels(dict.fromkeys(range(len(panel.capabilities.channels)), SESSION_LEVEL))
    await hass.async_block_till_done()
    assert emulator.levels == (SESSION_LEVEL,) * len(panel.capabilities.channels)
    return init_integration


@pytest.fixture(autouse=True)
def no_tuya_discovery() -> Generator[None]:
    """No Tuya UDP listener unless a test asks for one (tests must not open sockets)."""
    with patch("custom_components.red_light_therapy.discovery.DISCOVERY_PORTS", ()):
        yield


# Where real Tuya devices and a developer's running Home Assistant listen.
REAL_TUYA_PORTS = frozenset({6666, 6667, 6668, 7000})


@pytest.fixture(autouse=True)
def no_broadcast_to_real_tuya_ports() -> Generator[None]:
    """An emulator in a test broadcasts only to the test's own (ephemeral) listener port."""
    send = TuyaEmulator.send_broadcast

    async def _guarded(self: TuyaEmulator) -> None:
        if self.broadcast_address is not None:
            assert self.broadcast_port not in REAL_TUYA_PORTS, (
                f"a test emulator broadcasts to the real port {self.broadcast_port}"
            )
        await send(self)

    with patch.object(TuyaEmulator, "send_broadcast", _guarded):
        yield


@pytest.fixture
def events(init_integration: MockConfigEntry) -> Generator[Events]:
    """Every session event of the panel, in order."""
    with recorded_events(init_integration) as fired:
        yield fired
