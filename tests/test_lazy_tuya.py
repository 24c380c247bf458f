"""A Bluetooth-only install never loads the Tuya code, which would only cost it setup time."""

from __future__ import annotations

import ast
from collections.abc import Generator
from pathlib import Path
import socket
import subprocess
import sys
from types import ModuleType
from unittest.mock import patch

from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

import custom_components.red_light_therapy as integration
from custom_components.red_light_therapy import discovery
from custom_components.red_light_therapy.const import DOMAIN

from .waiting import wait_until

TUYA = "custom_components.red_light_therapy.panels.tuya"


def _tuya_modules() -> list[str]:
    return sorted(name for name in sys.modules if name == TUYA or name.startswith(f"{TUYA}."))


def test_importing_the_integration_imports_no_tuya_code() -> None:
    """Every module of the integration (what Home Assistant loads for a Bluetooth panel:
    the component, its platforms, the config flow and diagnostics), in a fresh Python."""
    script = (
        "import importlib, pkgutil, sys\n"
        "import custom_components.red_light_therapy as pkg\n"
        "for m in pkgutil.iter_modules(pkg.__path__):\n"
        "    if not m.ispkg:\n"
        "        importlib.import_module(f'{pkg.__name__}.{m.name}')\n"
        f"print(sorted(k for k in sys.modules if k.startswith({TUYA!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stdout


def _tuya_imports(path: Path) -> list[str]:
    """The Tuya modules a source file imports (at its top, or inside a function)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [module] + [f"{module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [name for name in names if "panels.tuya" in name or name.startswith("tuya")]
    return found


def test_only_the_panels_and_the_tuya_flow_import_the_tuya_code() -> None:
    """The glue builds panels and listens for them through the kind-neutral
    ``panels.registry``: only the Tuya flow's steps (and ``panels/``) name the Tuya code."""
    package = Path(integration.__file__).parent
    importers = {
        path.name: imports
        for path in sorted(package.glob("*.py"))
        if (imports := _tuya_imports(path)) and not path.name.startswith("flow_tuya")
    }
    assert importers == {}


@pytest.fixture
def without_tuya_modules() -> Generator[None]:
    """The Tuya modules out of ``sys.modules`` (the test session loaded them for other
    tests) for this test, put back afterwards: any import of them shows."""
    saved: dict[str, ModuleType] = {name: sys.modules.pop(name) for name in _tuya_modules()}
    yield
    for name in _tuya_modules():
        del sys.modules[name]
    sys.modules.update(saved)


@pytest.fixture
def discovery_could_listen(socket_enabled: None) -> Generator[None]:
    """Ports the Tuya listener could bind (loopback, ephemeral): it is not started anyway."""
    with (
        patch.object(discovery, "DISCOVERY_HOST", "127.0.0.1"),
        patch.object(discovery, "DISCOVERY_PORTS", (0,)),
    ):
        yield


@pytest.mark.usefixtures("without_tuya_modules", "discovery_could_listen", "init_integration")
async def test_a_bluetooth_panel_runs_without_the_tuya_code(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    entry: MockConfigEntry = hass.config_entries.async_entries(DOMAIN)[0]
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    assert "tuya" not in diagnostics
    assert discovery.DATA_TUYA_DISCOVERY not in hass.data  # no Wi-Fi panel: no listener either
    assert _tuya_modules() == []


HOST = "127.0.0.1"


@pytest.fixture
def loopback_ports(socket_enabled: None) -> Generator[None]:
    """The listener (and the probe) on an ephemeral loopback port."""
    with (
        patch.object(discovery, "DISCOVERY_HOST", HOST),
        patch.object(discovery, "DISCOVERY_PORTS", (0,)),
    ):
        yield


@pytest.mark.usefixtures("without_tuya_modules", "loopback_ports", "init_integration")
async def test_a_broadcast_starts_discovery_on_a_bluetooth_only_install(
    hass: HomeAssistant,
) -> None:
    """A Tuya device on the network: its broadcast loads the listener, which then hears it
    like on any other install (a Wi-Fi panel is discovered without opening the flow)."""
    (port,) = discovery.probe_ports(hass)
    assert await discovery.async_probe_tuya_discovery(hass)  # one probe per Home Assistant
    assert discovery.probe_ports(hass) == (port,)
    assert _tuya_modules() == []

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as device:
        device.sendto(b"not even a Tuya broadcast", (HOST, port))
    await wait_until(lambda: discovery.DATA_TUYA_DISCOVERY in hass.data)  # a real socket

    assert hass.data[discovery.DATA_TUYA_DISCOVERY].running
    assert discovery.probe_ports(hass) == ()
    assert f"{TUYA}.discovery" in _tuya_modules()


@pytest.mark.usefixtures("without_tuya_modules", "loopback_ports", "init_integration")
async def test_two_datagrams_at_once_start_one_listener(hass: HomeAssistant) -> None:
    (transport,) = hass.data[discovery._DATA_PROBE]._transports
    probe = transport.get_protocol()
    probe.datagram_received(b"x", (HOST, 1))
    probe.datagram_received(b"y", (HOST, 1))
    await hass.async_block_till_done(wait_background_tasks=True)

    listener = hass.data[discovery.DATA_TUYA_DISCOVERY]
    assert listener.running
    assert discovery.probe_ports(hass) == ()


@pytest.mark.usefixtures("loopback_ports", "init_integration")
async def test_the_probe_closes_when_home_assistant_stops(hass: HomeAssistant) -> None:
    assert discovery.probe_ports(hass)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert discovery.probe_ports(hass) == ()
    assert discovery.DATA_TUYA_DISCOVERY not in hass.data


@pytest.mark.usefixtures("socket_enabled")
async def test_a_taken_port_leaves_the_probe_off(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind((HOST, 0))  # no SO_REUSEADDR: nobody else can bind it
        with (
            patch.object(discovery, "DISCOVERY_HOST", HOST),
            patch.object(discovery, "DISCOVERY_PORTS", (0, taken.getsockname()[1])),
        ):
            assert not await discovery.async_probe_tuya_discovery(hass)
    assert discovery.probe_ports(hass) == ()
    assert caplog.text.count("Tuya discovery is off") == 1
