"""The scripts/develop simulator: a panel found and driven through HA's real Bluetooth stack.

``rlt_simulator`` (scripts/develop_config/custom_components) registers a remote scanner whose
bleak backend talks to the emulator, so this runs discovery, the config flow and the
connection without patching the integration, the way ``scripts/develop`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from homeassistant import loader
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest

from custom_components.red_light_therapy.const import DOMAIN

from .common import ADDRESS
from .waiting import wait_until

SIMULATOR_DIR = Path(__file__).parent.parent / "scripts" / "develop_config"


@pytest.fixture
def simulator_on_path(
    hass: HomeAssistant, enable_bluetooth: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Make ``custom_components.rlt_simulator`` importable and known to the loader.

    The driver looks up ``bleak_retry_connector.BleakClientWithServiceCache`` when it connects,
    so it gets Home Assistant's wrapped class (the route through remote scanners) unpatched.
    """
    monkeypatch.syspath_prepend(str(SIMULATOR_DIR))
    hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)


async def _wait_for(predicate: Callable[[], bool]) -> None:
    """Wait in real time (sockets, the emulator's replies are tasks), up to 10 s."""
    await wait_until(predicate, within_s=10.0)


def _light_state(hass: HomeAssistant) -> str | None:
    state = hass.states.get("light.blockbluelight_f522")
    return None if state is None else state.state


async def test_simulated_panel_is_discovered_added_and_switched(
    hass: HomeAssistant, simulator_on_path: None
) -> None:
    assert await async_setup_component(hass, "rlt_simulator", {"rlt_simulator": {}})
    await hass.async_block_till_done()

    # Discovery starts the config flow; the simulator confirms it as a person would.
    await _wait_for(lambda: bool(hass.config_entries.async_entries(DOMAIN)))
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert entry.unique_id == ADDRESS
    await _wait_for(lambda: entry.state is ConfigEntryState.LOADED)
    await hass.async_block_till_done()

    assert _light_state(hass) == "off"

    await hass.services.async_call(
        "light", "turn_on", {"entity_id": "light.blockbluelight_f522"}, blocking=True
    )
    response = await hass.services.async_call(
        "rlt_simulator", "status", {}, blocking=True, return_response=True
    )
    assert response is not None
    panels = response["panels"]
    assert isinstance(panels, list)
    [panel] = panels
    assert isinstance(panel, dict)
    assert panel["is_on"] is True
    [emulator] = hass.data["rlt_simulator"].panels
    assert emulator.is_on
    assert emulator.timer_remaining_s > 0  # the panel's own countdown was armed first
    assert emulator.emission_log  # emission started
    assert _light_state(hass) == "on"

    # The panel's own button switches it off; the integration notices the pushed state.
    await hass.services.async_call("rlt_simulator", "press_button", {}, blocking=True)
    await _wait_for(lambda: _light_state(hass) == "off")

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
