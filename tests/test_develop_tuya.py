"""scripts/develop's simulated Tuya Wi-Fi panel: discovered, added with the printed key, switched.

The test loads the ``rlt_simulator`` block of scripts/develop_config/configuration.yaml with the
environment scripts/develop exports (its own defaults, read from the script) and sets up only the
simulator, as a first start of scripts/develop does: the simulator starts the emulator and sets
up the integration, whose listener hears the broadcast. Only ports and pace differ: the emulator
serves on a free TCP port (the integration's dialled port points at it) and broadcasts every
0.2 s instead of 5 s, to the loopback broadcast address as in development, on a free UDP port
the integration's listener binds. The listener binds 0.0.0.0 as in production: a listener bound
to 127.0.0.1 would never hear a broadcast to 127.255.255.255.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path
import re
import socket
import tempfile
from typing import Any
from unittest.mock import patch

from homeassistant import loader
from homeassistant.config_entries import SOURCE_INTEGRATION_DISCOVERY, ConfigEntryState
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml
import pytest

from custom_components.red_light_therapy import discovery
from custom_components.red_light_therapy.const import (
    CONF_DEVICE_ID,
    CONF_DP_MAP,
    CONF_LOCAL_KEY,
    CONF_PANEL_TYPE,
    CONF_VERSION,
    DOMAIN,
    PANEL_TYPE_TUYA,
)
from custom_components.red_light_therapy.panels import registry
from custom_components.red_light_therapy.panels.tuya.emulator import TuyaEmulator

from .waiting import wait_until

pytestmark = pytest.mark.usefixtures("socket_enabled")

ROOT = Path(__file__).parent.parent
DEVELOP = ROOT / "scripts" / "develop"
SIMULATOR_DIR = ROOT / "scripts" / "develop_config"
CONFIGURATION = SIMULATOR_DIR / "configuration.yaml"
SIMULATOR = "rlt_simulator"


def develop_defaults() -> dict[str, str]:
    """The ``RLT_DEV_TUYA_*`` values scripts/develop exports (and prints) when none are set."""
    found = dict(re.findall(r'^: "\$\{(RLT_DEV_TUYA_\w+):=([^}]*)\}"$', DEVELOP.read_text(), re.M))
    assert set(found) == {
        "RLT_DEV_TUYA_DEVICE_ID",
        "RLT_DEV_TUYA_LOCAL_KEY",
        "RLT_DEV_TUYA_VERSION",
        "RLT_DEV_TUYA_HOST",
    }
    return found


def simulator_config() -> dict[str, Any]:
    """The ``rlt_simulator`` block of configuration.yaml, environment variables resolved.

    Read next to the files it includes (automations.yaml, ...), empty as scripts/develop makes
    them on a first start.
    """
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "configuration.yaml").symlink_to(CONFIGURATION)
        for name in ("automations.yaml", "scripts.yaml", "scenes.yaml"):
            (Path(folder) / name).write_text("[]\n")
        config = load_yaml(Path(folder) / "configuration.yaml")
    assert isinstance(config, dict)
    block = config[SIMULATOR]
    assert isinstance(block, dict)
    return block


@pytest.fixture
def develop_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment scripts/develop runs Home Assistant with."""
    env = develop_defaults()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def simulator_on_path(
    hass: HomeAssistant, enable_bluetooth: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Make ``custom_components.rlt_simulator`` importable and known to the loader."""
    monkeypatch.syspath_prepend(str(SIMULATOR_DIR))
    hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)


@pytest.fixture
def udp_port() -> Generator[int]:
    """A free UDP port for the integration's listener, bound as in production (0.0.0.0)."""
    assert discovery.DISCOVERY_HOST == "0.0.0.0"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((discovery.DISCOVERY_HOST, 0))
        port = int(probe.getsockname()[1])
    with patch.object(discovery, "DISCOVERY_PORTS", (port,)):
        yield port


async def _wait_for(predicate: Callable[[], bool]) -> None:
    """Wait in real time (sockets, the emulator's latency), up to 10 s."""
    await wait_until(predicate, within_s=10.0)


async def _keep_the_defaults(hass: HomeAssistant, result: Any) -> Any:
    """Submit any further form of the flow unchanged, as a person pressing Submit would."""
    for _ in range(3):
        if result["type"] is not FlowResultType.FORM:
            break
        assert not result.get("errors"), result
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    return result


def _state(hass: HomeAssistant, entity_id: str) -> str | None:
    state = hass.states.get(entity_id)
    return None if state is None else state.state


def test_configuration_defaults_are_what_develop_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    """configuration.yaml falls back to the very values scripts/develop exports and prints."""
    defaults = develop_defaults()
    for name in defaults:
        monkeypatch.delenv(name, raising=False)
    [panel] = simulator_config()["tuya_panels"]
    assert {
        "RLT_DEV_TUYA_DEVICE_ID": panel["device_id"],
        "RLT_DEV_TUYA_LOCAL_KEY": panel["local_key"],
        "RLT_DEV_TUYA_VERSION": str(panel["version"]),
        "RLT_DEV_TUYA_HOST": panel["host"],
    } == defaults
    assert panel["port"] == 6668  # the one port the integration dials
    assert len(defaults["RLT_DEV_TUYA_LOCAL_KEY"]) == 16
    text = DEVELOP.read_text()
    assert "local key: $RLT_DEV_TUYA_LOCAL_KEY" in text  # printed for the person to type


@pytest.mark.usefixtures("simulator_on_path")
@pytest.mark.parametrize("version", ["3.3", "3.4", "3.5"])
async def test_simulated_tuya_panel_is_discovered_added_with_the_printed_key_and_switched(
    hass: HomeAssistant,
    udp_port: int,
    develop_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    version: str,
) -> None:
    monkeypatch.setenv("RLT_DEV_TUYA_VERSION", version)  # scripts/develop passes it through
    device_id = develop_env["RLT_DEV_TUYA_DEVICE_ID"]
    local_key = develop_env["RLT_DEV_TUYA_LOCAL_KEY"]

    config = simulator_config()
    [tuya] = config["tuya_panels"]
    assert (tuya["device_id"], tuya["local_key"], tuya["version"]) == (
        device_id,
        local_key,
        version,
    )
    tuya["port"] = 0
    tuya["broadcast_port"] = udp_port
    tuya["broadcast_interval_s"] = 0.2
    assert DOMAIN not in hass.config.components  # nothing configured yet: a first start
    assert await async_setup_component(hass, SIMULATOR, {SIMULATOR: config})
    await hass.async_block_till_done()
    # The simulator sets up the integration (in the background), and so its discovery listener.
    await _wait_for(lambda: discovery.DATA_TUYA_DISCOVERY in hass.data)
    assert DOMAIN in hass.config.components
    listener = hass.data[discovery.DATA_TUYA_DISCOVERY]
    assert listener.bound_ports == (udp_port,)
    [emulator] = hass.data[SIMULATOR].tuya_panels
    assert isinstance(emulator, TuyaEmulator)
    assert emulator.broadcast_address == "127.255.255.255"
    assert emulator.version.value == version

    with patch.object(registry, "TUYA_PORT", emulator.port):
        # The broadcast is heard; Home Assistant shows a discovered "Tuya panel 0001".
        def discovered() -> list[Any]:
            return [
                flow
                for flow in hass.config_entries.flow.async_progress_by_handler(
                    DOMAIN, match_context={"source": SOURCE_INTEGRATION_DISCOVERY}
                )
                if flow["context"].get("unique_id") == device_id
            ]

        await _wait_for(lambda: bool(discovered()))
        [flow] = discovered()
        assert flow["step_id"] == "tuya_key"
        title = f"Tuya panel {device_id[-4:]}"
        assert flow["context"]["title_placeholders"] == {"name": title}
        assert listener.devices[device_id].ip == develop_env["RLT_DEV_TUYA_HOST"]

        # The person types the printed key and keeps every other default.
        result = await hass.config_entries.flow.async_configure(
            flow["flow_id"], {CONF_LOCAL_KEY: local_key, CONF_DP_MAP: "generic_light"}
        )
        result = await _keep_the_defaults(hass, result)
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["title"] == title
        assert {
            key: result["data"].get(key)
            for key in (
                CONF_PANEL_TYPE,
                CONF_HOST,
                CONF_DEVICE_ID,
                CONF_LOCAL_KEY,
                CONF_VERSION,
                CONF_DP_MAP,
            )
        } == {
            CONF_PANEL_TYPE: PANEL_TYPE_TUYA,
            CONF_HOST: develop_env["RLT_DEV_TUYA_HOST"],
            CONF_DEVICE_ID: device_id,
            CONF_LOCAL_KEY: local_key,
            CONF_VERSION: version,
            CONF_DP_MAP: "generic_light",
        }
        entry = result["result"]
        await _wait_for(lambda: entry.state is ConfigEntryState.LOADED)
        # The simulated BLE panel of the same configuration is added on its own meanwhile.
        await _wait_for(
            lambda: (
                [e.state for e in hass.config_entries.async_entries(DOMAIN)]
                == [ConfigEntryState.LOADED] * 2
            )
        )
        await hass.async_block_till_done()

        light = f"light.tuya_panel_{device_id[-4:]}"
        await _wait_for(lambda: _state(hass, light) == "off")
        await hass.services.async_call("light", "turn_on", {"entity_id": light}, blocking=True)
        switch_dp = str(emulator.dp_map.switch_dp)
        assert emulator.current_dps()[switch_dp] is True  # the switch data point is on
        assert emulator.is_on
        assert emulator.timer_remaining_s > 0  # the panel's own countdown was armed
        assert emulator.emission_log
        assert _state(hass, light) == "on"

        response = await hass.services.async_call(
            SIMULATOR, "status", {"device_id": device_id}, blocking=True, return_response=True
        )
        assert response is not None
        assert response["panels"] == []
        tuya_panels = response["tuya_panels"]
        assert isinstance(tuya_panels, list)
        [status] = tuya_panels
        assert isinstance(status, dict)
        assert status["is_on"] is True
        dps = status["dps"]
        assert isinstance(dps, dict)
        assert dps[switch_dp] is True
        assert status["clients"] == 1  # the integration's link
        assert status["auth_failures"] == 0

        # Its button switches it off; the integration hears the pushed state.
        await hass.services.async_call(
            SIMULATOR, "press_button", {"device_id": device_id}, blocking=True
        )
        await _wait_for(lambda: _state(hass, light) == "off")
        with pytest.raises(ServiceValidationError, match="device id"):
            await hass.services.async_call(
                SIMULATOR, "press_button", {"device_id": "nope"}, blocking=True
            )

        for config_entry in hass.config_entries.async_entries(DOMAIN):
            assert await hass.config_entries.async_unload(config_entry.entry_id)
        await hass.async_block_till_done()


async def test_taken_tuya_port_is_logged_and_the_rest_runs(
    hass: HomeAssistant,
    simulator_on_path: None,
    develop_env: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = simulator_config()
        config["auto_add"] = False
        config["tuya_panels"][0]["port"] = taken.getsockname()[1]
        assert await async_setup_component(hass, SIMULATOR, {SIMULATOR: config})
        await hass.async_block_till_done()
    assert hass.data[SIMULATOR].tuya_panels == []
    assert "Cannot simulate Tuya panel" in caplog.text
    assert "RLT_DEV_TUYA_HOST" in caplog.text
    assert hass.data[SIMULATOR].panels  # the Bluetooth panel is still simulated


@pytest.mark.usefixtures("simulator_on_path")
async def test_simulated_tuya_panel_on_another_loopback_address_is_discovered_there(
    hass: HomeAssistant,
    udp_port: int,
    develop_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RLT_DEV_TUYA_HOST=127.0.0.2 (the README's way around a taken 127.0.0.1:6668): the
    discovered panel is at 127.0.0.2, where it serves, so adding it as discovered reaches it."""
    monkeypatch.setenv("RLT_DEV_TUYA_HOST", "127.0.0.2")
    config = simulator_config()
    [tuya] = config["tuya_panels"]
    assert tuya["host"] == "127.0.0.2"
    tuya["port"] = 0
    tuya["broadcast_port"] = udp_port
    tuya["broadcast_interval_s"] = 0.2
    assert await async_setup_component(hass, SIMULATOR, {SIMULATOR: config})
    await hass.async_block_till_done()
    await _wait_for(lambda: discovery.DATA_TUYA_DISCOVERY in hass.data)
    listener = hass.data[discovery.DATA_TUYA_DISCOVERY]
    device_id = develop_env["RLT_DEV_TUYA_DEVICE_ID"]

    await _wait_for(lambda: device_id in listener.devices)
    assert listener.devices[device_id].ip == "127.0.0.2"
    [flow] = [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(
            DOMAIN, match_context={"source": SOURCE_INTEGRATION_DISCOVERY}
        )
        if flow["context"].get("unique_id") == device_id
    ]
    shown = await hass.config_entries.flow.async_configure(flow["flow_id"])
    assert shown["description_placeholders"]["host"] == "127.0.0.2"
    hass.config_entries.flow.async_abort(flow["flow_id"])
