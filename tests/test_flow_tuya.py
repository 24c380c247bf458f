"""The Tuya steps of the config flow, against the emulator on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
import socket
from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant import config_entries
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy import discovery
from custom_components.red_light_therapy.const import (
    CONF_DEVICE_ID,
    CONF_DP_PROFILE,
    CONF_LOCAL_KEY,
    CONF_PANEL_TYPE,
    CONF_VERSION,
    DOMAIN,
    PANEL_TYPE_TUYA,
)
from custom_components.red_light_therapy.panels.base import PanelConnectionError
from custom_components.red_light_therapy.panels.tuya import TuyaDiscovery, TuyaPanel
from custom_components.red_light_therapy.panels.tuya.emulator import TuyaEmulator

from .panels.tuya.conftest import DEVICE_ID, LOCAL_KEY, WRONG_KEY

pytestmark = pytest.mark.usefixtures("socket_enabled")

HOST = "127.0.0.1"
TITLE = f"Tuya panel {DEVICE_ID[-4:]}"


def short_timeouts(
    host: str, device_id: str, local_key: str, version: str, profile: str
) -> TuyaPanel:
    """The flow's panel with test-sized timeouts, reaching the patched port."""
    from custom_components.red_light_therapy import panel_factory

    return TuyaPanel(
        host,
        device_id,
        local_key,
        version,
        profile,
        clock=panel_factory.clock,
        port=panel_factory.TUYA_PORT,
        connect_timeout_s=0.5,
        command_timeout_s=0.5,
    )


def free_port() -> int:
    """A loopback TCP port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def loopback_discovery() -> Generator[None]:
    """The integration's UDP listener on an ephemeral loopback port, never the real ones."""
    with (
        patch.object(discovery, "DISCOVERY_HOST", HOST),
        patch.object(discovery, "DISCOVERY_PORTS", (0,)),
    ):
        yield


@pytest.fixture(autouse=True)
def mock_setup_entry() -> Generator[AsyncMock]:
    with (
        patch("custom_components.red_light_therapy.async_setup_entry", return_value=True) as mock,
        patch("custom_components.red_light_therapy.async_unload_entry", return_value=True),
    ):
        yield mock


@pytest.fixture
def fast_panel() -> Generator[None]:
    with patch("custom_components.red_light_therapy.flow_tuya.create_tuya_panel", short_timeouts):
        yield


@pytest.fixture(params=["3.3", "3.4", "3.5"])
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def emulator(version: str) -> AsyncIterator[TuyaEmulator]:
    """A Tuya panel on loopback; the integration's port points at it."""
    device = TuyaEmulator(DEVICE_ID, LOCAL_KEY, version, host=HOST)
    await device.start()
    with patch("custom_components.red_light_therapy.panel_factory.TUYA_PORT", device.port):
        yield device
    await device.stop()


async def start_manual(hass: HomeAssistant) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert "tuya" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "tuya"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "tuya"
    assert set(result["description_placeholders"]) == {"iot_url", "wizard_url"}
    return dict(result)


def manual_input(version: str = "auto", key: str = LOCAL_KEY, **extra: str) -> dict[str, str]:
    return {
        CONF_HOST: HOST,
        CONF_DEVICE_ID: DEVICE_ID,
        CONF_LOCAL_KEY: key,
        CONF_VERSION: version,
        CONF_DP_PROFILE: "generic_light",
        **extra,
    }


def entry_data(version: str, host: str = HOST) -> dict[str, str]:
    return {
        CONF_PANEL_TYPE: PANEL_TYPE_TUYA,
        CONF_HOST: host,
        CONF_DEVICE_ID: DEVICE_ID,
        CONF_LOCAL_KEY: LOCAL_KEY,
        CONF_VERSION: version,
        CONF_DP_PROFILE: "generic_light",
    }


# Manual setup ------------------------------------------------------------------------------


async def test_manual_with_version_creates_entry(
    hass: HomeAssistant, emulator: TuyaEmulator, version: str
) -> None:
    result = await start_manual(hass)
    profiles = result["data_schema"].schema[CONF_DP_PROFILE].config["options"]
    assert {o["value"] for o in profiles} == {"generic_light", "generic_switch"}  # no examples
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input(version, **{CONF_HOST: f" {HOST} "})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == TITLE
    assert result["data"] == entry_data(version)
    assert result["result"].unique_id == DEVICE_ID
    assert emulator.clients == 0  # the test connection is closed


async def test_manual_auto_finds_the_version(
    hass: HomeAssistant, emulator: TuyaEmulator, version: str
) -> None:
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], manual_input())
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_VERSION] == version


@pytest.mark.parametrize("version", ["3.4"])
async def test_manual_auto_uses_the_broadcast_version(
    hass: HomeAssistant, emulator: TuyaEmulator
) -> None:
    heard = TuyaDiscovery(lambda _device: None)
    heard._received(emulator.broadcast_packet(), HOST, 6667)
    hass.data[discovery.DATA_TUYA_DISCOVERY] = heard
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], manual_input())
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_VERSION] == "3.4"
    assert emulator.auth_failures == 0  # straight to the right version
    assert discovery.discovered_version(hass, "unknown") is None


@pytest.mark.parametrize("version", ["3.3"])
async def test_manual_wrong_key_then_right_key(hass: HomeAssistant, emulator: TuyaEmulator) -> None:
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input("3.3", WRONG_KEY)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}
    # What was typed is kept, except the key.
    suggested = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description
    }
    assert suggested[CONF_HOST] == HOST
    assert CONF_LOCAL_KEY not in suggested
    result = await hass.config_entries.flow.async_configure(result["flow_id"], manual_input("3.3"))
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize("version", ["3.5"])
async def test_manual_auto_wrong_key_is_invalid_auth(
    hass: HomeAssistant, emulator: TuyaEmulator
) -> None:
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input(key=WRONG_KEY)
    )
    assert result["errors"] == {"base": "invalid_auth"}
    assert emulator.auth_failures == 3


@pytest.mark.usefixtures("fast_panel")
@pytest.mark.parametrize(("version", "chosen"), [("3.4", "3.4"), ("3.4", "auto")])
async def test_manual_silent_panel_is_wrong_key_or_busy(
    hass: HomeAssistant, emulator: TuyaEmulator, chosen: str
) -> None:
    emulator.unresponsive = True
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], manual_input(chosen))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth_or_busy"}


async def test_manual_nothing_listening_cannot_connect(hass: HomeAssistant) -> None:
    result = await start_manual(hass)
    with patch("custom_components.red_light_therapy.panel_factory.TUYA_PORT", free_port()):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], manual_input("3.3")
        )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}


@pytest.mark.parametrize("version", ["3.3"])
async def test_manual_link_fault_cannot_connect(
    hass: HomeAssistant, emulator: TuyaEmulator
) -> None:
    result = await start_manual(hass)
    with patch.object(TuyaPanel, "connect", AsyncMock(side_effect=PanelConnectionError("closed"))):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], manual_input("3.3")
        )
    assert result["errors"] == {"base": "cannot_connect"}


async def test_manual_key_must_be_16_characters(hass: HomeAssistant) -> None:
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input(key="too-short")
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_LOCAL_KEY: "invalid_local_key"}


async def test_manual_already_configured(hass: HomeAssistant) -> None:
    MockConfigEntry(domain=DOMAIN, unique_id=DEVICE_ID, data=entry_data("3.3")).add_to_hass(hass)
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], manual_input())
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


# Discovery ---------------------------------------------------------------------------------


def discovered(version: str, host: str = HOST) -> dict[str, str]:
    return {CONF_DEVICE_ID: DEVICE_ID, CONF_HOST: host, CONF_VERSION: version}


async def start_discovery(hass: HomeAssistant, data: dict[str, str]) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_INTEGRATION_DISCOVERY}, data=data
    )
    return dict(result)


async def test_discovery_asks_key_and_creates_entry(
    hass: HomeAssistant, emulator: TuyaEmulator, version: str
) -> None:
    result = await start_discovery(hass, discovered(version))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "tuya_key"
    placeholders = result["description_placeholders"]
    assert placeholders["device_id"] == DEVICE_ID
    assert placeholders["host"] == HOST
    assert placeholders["version"] == version
    assert placeholders["name"] == TITLE
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flows[0]["context"]["title_placeholders"] == {"name": TITLE}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_LOCAL_KEY: WRONG_KEY, CONF_DP_PROFILE: "generic_light"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_LOCAL_KEY: LOCAL_KEY, CONF_DP_PROFILE: "generic_light"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == TITLE
    assert result["data"] == entry_data(version)
    assert result["result"].unique_id == DEVICE_ID


async def test_discovery_of_configured_device_updates_its_address(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(domain=DOMAIN, unique_id=DEVICE_ID, data=entry_data("3.3", "10.0.0.9"))
    entry.add_to_hass(hass)
    result = await start_discovery(hass, discovered("3.3", "10.0.0.23"))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_HOST] == "10.0.0.23"


async def test_discovery_twice_is_one_flow(hass: HomeAssistant) -> None:
    first = await start_discovery(hass, discovered("3.3"))
    assert first["type"] is FlowResultType.FORM
    second = await start_discovery(hass, discovered("3.3"))
    assert second["type"] is FlowResultType.ABORT
    assert second["reason"] == "already_in_progress"


async def test_discovery_of_unsupported_version_aborts(hass: HomeAssistant) -> None:
    result = await start_discovery(hass, discovered("3.1"))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unsupported_version"
    assert result["description_placeholders"] == {"version": "3.1"}
