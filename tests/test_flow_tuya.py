"""The Tuya steps of the config flow, against the emulator on loopback.

Setup (the LAN scan and its pick list, manual, discovered, then the irradiance profile),
reauthentication, reconfiguration and DHCP. Every form, progress and abort a test meets is
checked for its text in both translation files.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
import json
import logging
from pathlib import Path
import re
import socket
import time
from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant import config_entries, loader
from homeassistant.config_entries import ConfigFlowResult
from homeassistant.const import CONF_ADDRESS, CONF_HOST, CONF_MAC
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.service_info.dhcp import DhcpServiceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy import discovery
from custom_components.red_light_therapy.const import (
    CONF_DEVICE_ID,
    CONF_DP_MAP,
    CONF_LOCAL_KEY,
    CONF_PANEL_TYPE,
    CONF_PRESET,
    CONF_PROFILE,
    CONF_RED_SHARE,
    CONF_VERSION,
    DOMAIN,
    PANEL_TYPE_BLOCKBLUELIGHT,
    PRESET_MEASURED,
)
from custom_components.red_light_therapy.flow_tuya_form import PICK_MANUAL
from custom_components.red_light_therapy.panels.base import PanelConnectionError
from custom_components.red_light_therapy.panels.tuya import (
    DP_MAPS,
    TuyaDiscovery,
    TuyaPanel,
    protocol,
)
from custom_components.red_light_therapy.panels.tuya.emulator import TuyaEmulator
from custom_components.red_light_therapy.therapy import PRESET_PROFILES, IrradianceProfile

from . import emulated_tuya
from .emulated_tuya import HOST, MAC, OTHER_MAC, TITLE, entry_data, reachable_tuya_panel
from .panels.tuya.conftest import DEVICE_ID, LOCAL_KEY, WRONG_KEY
from .waiting import wait_until

pytestmark = pytest.mark.usefixtures("socket_enabled")

version_fixture = emulated_tuya.version_fixture  # the fixture ``version``: 3.3, 3.4, 3.5
OLD_KEY = "0000111122223333"

COMPONENT = Path(__file__).parent.parent / "custom_components" / DOMAIN
TRANSLATION_FILES = [
    json.loads(path.read_text(encoding="utf-8"))
    for path in (COMPONENT / "strings.json", COMPONENT / "translations" / "en.json")
]
TRANSLATIONS = [texts["config"] for texts in TRANSLATION_FILES]


def assert_translated(result: ConfigFlowResult) -> None:
    """The form's step, fields, field help and errors, the progress, or the abort, have text
    in both files."""
    for texts in TRANSLATIONS:
        if result["type"] is FlowResultType.ABORT:
            assert result["reason"] in texts["abort"], result["reason"]
            continue
        if result["type"] is FlowResultType.SHOW_PROGRESS:
            assert texts["step"][result["step_id"]]["title"]
            assert texts["progress"][result["progress_action"]]
            continue
        step = texts["step"][result["step_id"]]
        assert step["description"]
        for marker in result["data_schema"].schema:
            assert str(marker) in step["data"], (result["step_id"], str(marker))
            assert str(marker) in step["data_description"], (result["step_id"], str(marker))
        for error in (result["errors"] or {}).values():
            assert error in texts["error"], error


def short_timeouts(
    host: str, device_id: str, local_key: str, version: str, dp_map: str
) -> TuyaPanel:
    """The flow's panel with test-sized timeouts, reaching the patched port."""
    from custom_components.red_light_therapy import panel_factory
    from custom_components.red_light_therapy.panels import registry

    return TuyaPanel(
        host,
        device_id,
        local_key,
        version,
        dp_map,
        clock=panel_factory.clock,
        port=registry.TUYA_PORT,
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
        patch.object(discovery, "SCAN_S", 0.0),  # the scan tests set their own
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
    with patch(
        "custom_components.red_light_therapy.flow_tuya_check.create_tuya_panel", short_timeouts
    ):
        yield


@pytest.fixture
def nothing_listening(socket_enabled: None) -> Generator[None]:
    with patch("custom_components.red_light_therapy.panels.registry.TUYA_PORT", free_port()):
        yield


@pytest.fixture
async def emulator(version: str) -> AsyncIterator[TuyaEmulator]:
    """A Tuya panel on loopback; the integration's port points at it.

    It broadcasts only when a test says so, to the port the test gives it (``hear``).
    """
    async with reachable_tuya_panel(version, clock=time.time, broadcast_address=HOST) as device:
        yield device


async def start_tuya(hass: HomeAssistant) -> ConfigFlowResult:
    """The user picks the Wi-Fi panel in the menu: the LAN scan starts."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert "tuya" in result["menu_options"]
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "tuya"}
    )


async def start_manual(hass: HomeAssistant) -> dict[str, Any]:
    """Nothing heard on the LAN (no scan time here): the manual form comes directly."""
    result = await start_tuya(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "tuya_manual"
    assert set(result["description_placeholders"]) == {"iot_url", "wizard_url"}
    assert_translated(result)
    return dict(result)


def manual_input(version: str = "auto", key: str = LOCAL_KEY, **extra: str) -> dict[str, str]:
    return {
        CONF_HOST: HOST,
        CONF_DEVICE_ID: DEVICE_ID,
        CONF_LOCAL_KEY: key,
        CONF_VERSION: version,
        CONF_DP_MAP: "generic_light",
        **extra,
    }


def preset(key: str) -> dict[str, Any]:
    """The stored form of a preset irradiance profile."""
    return {CONF_PROFILE: PRESET_PROFILES[key].to_dict()}


def suggested(result: ConfigFlowResult) -> dict[str, Any]:
    """The values a form shows pre-filled, by field."""
    return {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }


async def expect_profile_step(hass: HomeAssistant, result: ConfigFlowResult) -> ConfigFlowResult:
    """The connection test passed: the flow asks for the irradiance profile."""
    assert result["type"] is FlowResultType.FORM, result.get("errors")
    assert result["step_id"] == "tuya_profile"
    assert result["description_placeholders"] == {"name": TITLE}
    assert_translated(result)
    return result


async def choose_preset(
    hass: HomeAssistant, result: ConfigFlowResult, key: str | None = None
) -> ConfigFlowResult:
    result = await expect_profile_step(hass, result)
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {} if key is None else {CONF_PRESET: key}
    )


# Manual setup ------------------------------------------------------------------------------


async def test_manual_with_version_creates_entry(
    hass: HomeAssistant, emulator: TuyaEmulator, version: str
) -> None:
    result = await start_manual(hass)
    dp_maps = result["data_schema"].schema[CONF_DP_MAP].config["options"]
    assert {o["value"] for o in dp_maps} == {"generic_light", "generic_switch"}  # no examples
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input(version, **{CONF_HOST: f" {HOST} "})
    )
    result = await expect_profile_step(hass, result)
    presets = result["data_schema"].schema[CONF_PRESET].config["options"]
    assert [o["value"] for o in presets] == [*PRESET_PROFILES, PRESET_MEASURED]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PRESET: "helio_glow"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == TITLE
    assert result["data"] == entry_data(version) | preset("helio_glow")
    assert result["result"].unique_id == DEVICE_ID
    await hass.async_block_till_done()
    await wait_until(lambda: emulator.clients == 0)  # the test connection is closed


async def test_manual_auto_finds_the_version(
    hass: HomeAssistant, emulator: TuyaEmulator, version: str
) -> None:
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], manual_input())
    result = await choose_preset(hass, result)  # the default preset
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_VERSION] == version
    assert result["data"][CONF_PROFILE] == preset("generic_large_panel")[CONF_PROFILE]


@pytest.mark.parametrize("version", ["3.4"])
async def test_manual_measured_profile(hass: HomeAssistant, emulator: TuyaEmulator) -> None:
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], manual_input())
    result = await choose_preset(hass, result, PRESET_MEASURED)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "tuya_measured"
    assert result["description_placeholders"] == {"name": TITLE}
    assert_translated(result)

    # The shared checks of the measured points apply here too.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"distance_1": 20, "irradiance_1": 0, CONF_RED_SHARE: 70}
    )
    assert result["errors"] == {"irradiance_1": "irradiance_not_positive"}
    assert_translated(result)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "distance_1": 20,
            "irradiance_1": 40,
            "distance_2": 40,
            "irradiance_2": 24,
            "red_share": 70,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_VERSION] == "3.4"
    profile = IrradianceProfile.from_dict(result["data"][CONF_PROFILE])
    assert profile.name == f"{TITLE} (measured)"
    assert profile.irradiance(30).total == pytest.approx(32.0)
    assert profile.irradiance(30).red == pytest.approx(32.0 * 0.7)


@pytest.mark.parametrize("version", ["3.4"])
async def test_manual_auto_uses_the_broadcast_version(
    hass: HomeAssistant, emulator: TuyaEmulator
) -> None:
    heard = TuyaDiscovery(lambda _device: None)  # never started: only what it was given
    heard._received(emulator.broadcast_packet(), HOST, 6667)
    hass.data[discovery.DATA_TUYA_DISCOVERY] = heard
    result = await start_tuya(hass)
    assert result["step_id"] == "tuya_pick"  # listed, but the user types it in anyway
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE_ID: PICK_MANUAL}
    )
    assert result["step_id"] == "tuya_manual"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], manual_input())
    result = await choose_preset(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_VERSION] == "3.4"
    assert emulator.auth_failures == 0  # straight to the right version
    assert discovery.discovered_version(hass, "unknown") is None


@pytest.mark.parametrize("version", ["3.3"])
async def test_manual_wrong_key_then_right_key(hass: HomeAssistant, emulator: TuyaEmulator) -> None:
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input("3.3", WRONG_KEY, **{CONF_MAC: MAC})
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}
    assert_translated(result)
    # What was typed is kept, except the key.
    shown = suggested(result)
    assert shown[CONF_HOST] == HOST
    assert shown[CONF_MAC] == MAC
    assert CONF_LOCAL_KEY not in shown
    result = await hass.config_entries.flow.async_configure(result["flow_id"], manual_input("3.3"))
    result = await choose_preset(hass, result)
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
    assert_translated(result)


@pytest.mark.usefixtures("nothing_listening")
async def test_manual_nothing_listening_cannot_connect(hass: HomeAssistant) -> None:
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], manual_input("3.3"))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    assert_translated(result)


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


@pytest.mark.parametrize("version", ["3.3", "3.4", "3.5"])
@pytest.mark.parametrize("chosen", ["version", "auto"])
async def test_manual_busy_panel_cannot_connect(
    hass: HomeAssistant, emulator: TuyaEmulator, version: str, chosen: str
) -> None:
    """Accepted, then closed at the first frame (another client holds it): a connection
    problem, not a wrong key."""
    emulator.busy = True
    result = await start_manual(hass)
    typed = version if chosen == "version" else "auto"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], manual_input(typed))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    assert_translated(result)
    emulator.busy = False  # the other client let go
    result = await hass.config_entries.flow.async_configure(result["flow_id"], manual_input(typed))
    result = await choose_preset(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_VERSION] == version


async def test_manual_key_must_be_16_characters(hass: HomeAssistant) -> None:
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input(key="too-short")
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_LOCAL_KEY: "invalid_local_key"}
    assert_translated(result)


async def test_manual_already_configured(hass: HomeAssistant) -> None:
    MockConfigEntry(domain=DOMAIN, unique_id=DEVICE_ID, data=entry_data("3.3")).add_to_hass(hass)
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], manual_input())
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert_translated(result)


# The MAC address ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["3.3"])
@pytest.mark.parametrize("typed", ["A0-92-08-12-34-56", " a0:92:08:12:34:56 ", "A09208123456"])
async def test_manual_mac_is_stored_normalised(
    hass: HomeAssistant, emulator: TuyaEmulator, typed: str
) -> None:
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input("3.3", **{CONF_MAC: typed})
    )
    result = await choose_preset(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_MAC] == MAC


@pytest.mark.parametrize("version", ["3.3"])
async def test_manual_empty_mac_is_no_mac(hass: HomeAssistant, emulator: TuyaEmulator) -> None:
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input("3.3", **{CONF_MAC: "  "})
    )
    result = await choose_preset(hass, result)
    assert CONF_MAC not in result["data"]


@pytest.mark.parametrize("version", ["3.3"])
@pytest.mark.parametrize("typed", ["a0:92:08:12:34", "zz:92:08:12:34:56", "00:00:00:00:00:00"])
async def test_manual_invalid_mac(hass: HomeAssistant, emulator: TuyaEmulator, typed: str) -> None:
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input("3.3", key="short", **{CONF_MAC: typed})
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_LOCAL_KEY: "invalid_local_key", CONF_MAC: "invalid_mac"}
    assert_translated(result)
    assert emulator.connections == 0  # nothing is tried with input known to be wrong


@pytest.mark.parametrize("version", ["3.3"])
async def test_manual_mac_of_another_panel(hass: HomeAssistant, emulator: TuyaEmulator) -> None:
    MockConfigEntry(
        domain=DOMAIN, unique_id="bf00000000000000other", data={CONF_MAC: MAC}
    ).add_to_hass(hass)
    result = await start_manual(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], manual_input("3.3", **{CONF_MAC: MAC.upper()})
    )
    assert result["errors"] == {CONF_MAC: "mac_in_use"}
    assert_translated(result)


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
    assert_translated(result)
    placeholders = result["description_placeholders"]
    assert placeholders["device_id"] == DEVICE_ID
    assert placeholders["host"] == HOST
    assert placeholders["version"] == version
    assert placeholders["name"] == TITLE
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flows[0]["context"]["title_placeholders"] == {"name": TITLE}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_LOCAL_KEY: WRONG_KEY, CONF_DP_MAP: "generic_light"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_LOCAL_KEY: LOCAL_KEY, CONF_DP_MAP: "generic_light", CONF_MAC: MAC.upper()},
    )
    result = await choose_preset(hass, result, "advantage1500")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == TITLE
    assert result["data"] == entry_data(version, **{CONF_MAC: MAC}) | preset("advantage1500")
    assert result["result"].unique_id == DEVICE_ID


@pytest.mark.parametrize(
    ("heard", "reason", "host_after"),
    [("3.3", "already_configured", "10.0.0.23"), ("3.2", "unsupported_version", "10.0.0.9")],
    ids=["updates_its_address", "unsupported_version_never_moves_it"],
)
async def test_discovery_of_configured_device(
    hass: HomeAssistant, heard: str, reason: str, host_after: str
) -> None:
    """A configured panel (at 10.0.0.9) heard at 10.0.0.23: speaking a version the integration
    speaks, its entry moves there; speaking another, the entry stays where it was."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id=DEVICE_ID, data=entry_data("3.3", "10.0.0.9"))
    entry.add_to_hass(hass)
    result = await start_discovery(hass, discovered(heard, "10.0.0.23"))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason
    assert entry.data[CONF_HOST] == host_after


async def test_discovery_twice_is_one_flow(hass: HomeAssistant) -> None:
    first = await start_discovery(hass, discovered("3.3"))
    assert first["type"] is FlowResultType.FORM
    second = await start_discovery(hass, discovered("3.3"))
    assert second["type"] is FlowResultType.ABORT
    assert second["reason"] == "already_in_progress"
    assert_translated(second)


async def test_discovery_of_unsupported_version_aborts(hass: HomeAssistant) -> None:
    result = await start_discovery(hass, discovered("3.1"))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unsupported_version"
    assert result["description_placeholders"] == {"version": "3.1"}
    assert_translated(result)


# Scanning the LAN from the menu --------------------------------------------------------------

OTHER_ID = "bf00000000000000other"


def shared_listener(hass: HomeAssistant) -> TuyaDiscovery:
    return hass.data[discovery.DATA_TUYA_DISCOVERY]


def send_datagram(port: int, data: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(data, (HOST, port))


async def hear(hass: HomeAssistant, emulator: TuyaEmulator) -> None:
    """The emulator broadcasts once, to the integration's listener (a loopback port)."""
    listener = shared_listener(hass)
    (emulator.broadcast_port,) = listener.bound_ports
    await emulator.send_broadcast()
    await wait_until(lambda: emulator.device_id in listener.devices)


async def finish_scan(hass: HomeAssistant, result: ConfigFlowResult) -> ConfigFlowResult:
    """The scan shows its progress; once it has listened, the flow moves on by itself."""
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["step_id"] == "tuya"
    assert result["progress_action"] == "tuya_scan"
    assert result["description_placeholders"] == {"seconds": f"{discovery.SCAN_S:g}"}
    assert_translated(result)
    await hass.async_block_till_done()
    return await hass.config_entries.flow.async_configure(result["flow_id"])


def pick_options(result: ConfigFlowResult) -> dict[str, str]:
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "tuya_pick"
    assert_translated(result)
    config = result["data_schema"].schema[CONF_DEVICE_ID].config
    for texts in TRANSLATION_FILES:  # the by-hand choice has its text; devices, their label
        assert texts["selector"][config["translation_key"]]["options"][PICK_MANUAL]
    return {o["value"]: o["label"] for o in config["options"]}


async def test_scan_lists_new_devices_and_adds_the_pick(
    hass: HomeAssistant, emulator: TuyaEmulator, version: str
) -> None:
    # Set up already, at the address it broadcasts: not offered, and no discovery flow.
    MockConfigEntry(
        domain=DOMAIN, unique_id=OTHER_ID, data=entry_data("3.3") | {CONF_DEVICE_ID: OTHER_ID}
    ).add_to_hass(hass)
    assert discovery.DATA_TUYA_DISCOVERY not in hass.data  # a first install: no listener yet
    with patch.object(discovery, "SCAN_S", 0.3):
        result = await start_tuya(hass)
        # The flow started the shared listener; the LAN is heard while the progress shows.
        listener = shared_listener(hass)
        assert listener.running
        await hear(hass, emulator)
        (port,) = listener.bound_ports
        other = TuyaEmulator(OTHER_ID, LOCAL_KEY, "3.5", host=HOST)
        send_datagram(port, other.broadcast_packet())
        old = protocol.encode_broadcast({"gwId": "bf0000000000000000v31", "version": "3.1"}, None)
        send_datagram(port, old)  # 3.1 cannot be set up: not offered
        await wait_until(lambda: len(listener.devices) == 3)
        result = await finish_scan(hass, result)

    options = pick_options(result)
    assert list(options) == [DEVICE_ID, PICK_MANUAL]
    assert options[DEVICE_ID] == f"{TITLE} at {HOST} (ID {DEVICE_ID}, protocol {version})"
    assert result["description_placeholders"] == {"count": "1"}
    # The shared listener keeps listening: the device is also under "Discovered".
    discovered_flows = hass.config_entries.flow.async_progress_by_handler(
        DOMAIN, match_context={"source": config_entries.SOURCE_INTEGRATION_DISCOVERY}
    )
    assert [flow["context"]["unique_id"] for flow in discovered_flows] == [DEVICE_ID]

    # The pick goes on like a discovered device: only the key, then the irradiance profile.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE_ID: DEVICE_ID}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "tuya_key"
    placeholders = result["description_placeholders"]
    assert (placeholders["device_id"], placeholders["host"], placeholders["version"]) == (
        DEVICE_ID,
        HOST,
        version,
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_LOCAL_KEY: LOCAL_KEY, CONF_DP_MAP: "generic_light"}
    )
    result = await choose_preset(hass, result, "helio_glow")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == TITLE
    assert result["data"] == entry_data(version) | preset("helio_glow")
    assert result["result"].unique_id == DEVICE_ID
    await hass.async_block_till_done()
    # The discovered card of the same device went with it.
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)


@pytest.mark.parametrize("version", ["3.4"])
async def test_scan_reuses_a_listener_that_has_heard_the_lan(
    hass: HomeAssistant, emulator: TuyaEmulator
) -> None:
    assert await discovery.async_start_tuya_discovery(hass)
    listener = shared_listener(hass)
    await hear(hass, emulator)
    # SCAN_S is 0 here: the listener has listened long enough, so no progress, no new socket.
    result = await start_tuya(hass)
    assert list(pick_options(result)) == [DEVICE_ID, PICK_MANUAL]
    assert shared_listener(hass) is listener

    # A listener that has only just started makes the scan wait for the rest of SCAN_S.
    with patch.object(discovery, "SCAN_S", 3600.0):
        result = await start_tuya(hass)
        assert result["type"] is FlowResultType.SHOW_PROGRESS
        assert listener.started_at is not None
        wait = await discovery.async_scan_wait(hass)
        assert wait is not None
        assert 3500 < wait <= 3600
    hass.config_entries.flow.async_abort(result["flow_id"])  # cancels the scan


async def test_scan_hears_nothing_then_the_manual_form(hass: HomeAssistant) -> None:
    with patch.object(discovery, "SCAN_S", 0.05):
        result = await start_tuya(hass)
        result = await finish_scan(hass, result)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "tuya_manual"
    assert_translated(result)


@pytest.mark.parametrize("version", ["3.3"])
async def test_scan_hears_only_configured_devices_then_the_manual_form(
    hass: HomeAssistant, emulator: TuyaEmulator
) -> None:
    MockConfigEntry(domain=DOMAIN, unique_id=DEVICE_ID, data=entry_data("3.3")).add_to_hass(hass)
    assert await discovery.async_start_tuya_discovery(hass)
    await hear(hass, emulator)
    result = await start_tuya(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "tuya_manual"


@pytest.mark.parametrize("version", ["3.5"])
async def test_pick_of_a_device_set_up_meanwhile_aborts(
    hass: HomeAssistant, emulator: TuyaEmulator
) -> None:
    assert await discovery.async_start_tuya_discovery(hass)
    await hear(hass, emulator)
    result = await start_tuya(hass)
    assert DEVICE_ID in pick_options(result)
    MockConfigEntry(domain=DOMAIN, unique_id=DEVICE_ID, data=entry_data("3.5")).add_to_hass(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE_ID: DEVICE_ID}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_scan_with_ports_taken_is_the_manual_form(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=discovery.__name__)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind((HOST, 0))  # no SO_REUSEADDR: nobody else can bind it
        with patch.object(discovery, "DISCOVERY_PORTS", (taken.getsockname()[1],)):
            for _ in range(2):
                result = await start_tuya(hass)
                assert result["type"] is FlowResultType.FORM
                assert result["step_id"] == "tuya_manual"
                hass.config_entries.flow.async_abort(result["flow_id"])
    assert discovery.DATA_TUYA_DISCOVERY not in hass.data
    assert discovery.heard_devices(hass) == []
    said = [r.levelno for r in caplog.records if r.getMessage().startswith("Tuya discovery is off")]
    assert said == [logging.WARNING, logging.DEBUG]  # a warning once, not at every scan


# Reauthentication ----------------------------------------------------------------------------


def old_key_entry(version: str = "3.3", **extra: Any) -> MockConfigEntry:
    """An entry whose key the panel no longer takes (it was re-paired: LOCAL_KEY is new)."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=TITLE,
        unique_id=DEVICE_ID,
        data=entry_data(version, **{CONF_LOCAL_KEY: OLD_KEY, CONF_MAC: MAC})
        | preset("helio_glow")
        | extra,
    )


async def set_up_once_again(hass: HomeAssistant, mock_setup_entry: AsyncMock) -> None:
    """The reload that follows sets the entry up once, with the new settings."""
    await hass.async_block_till_done()
    assert mock_setup_entry.call_count == 1


@pytest.mark.parametrize("version", ["3.5"])
async def test_reauth_tests_the_new_key(
    hass: HomeAssistant, emulator: TuyaEmulator, mock_setup_entry: AsyncMock
) -> None:
    entry = old_key_entry("3.5")
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    assert result["description_placeholders"]["name"] == TITLE
    assert result["description_placeholders"][CONF_HOST] == HOST
    assert_translated(result)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_LOCAL_KEY: "not 16 chars"}
    )
    assert result["errors"] == {CONF_LOCAL_KEY: "invalid_local_key"}
    assert emulator.connections == 0

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_LOCAL_KEY: WRONG_KEY}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}
    assert_translated(result)
    assert entry.data[CONF_LOCAL_KEY] == OLD_KEY  # nothing changed by a wrong key

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_LOCAL_KEY: LOCAL_KEY}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert_translated(result)
    # Only the key changed; the entry is reloaded with it.
    assert dict(entry.data) == entry_data("3.5", **{CONF_MAC: MAC}) | preset("helio_glow")
    await set_up_once_again(hass, mock_setup_entry)


@pytest.mark.usefixtures("nothing_listening")
async def test_reauth_panel_out_of_reach(hass: HomeAssistant) -> None:
    entry = old_key_entry()
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_LOCAL_KEY: LOCAL_KEY}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    assert entry.data[CONF_LOCAL_KEY] == OLD_KEY


# Reconfiguration -----------------------------------------------------------------------------


def reconfigure_input(version: str = "auto", **extra: str) -> dict[str, str]:
    return {
        CONF_HOST: HOST,
        CONF_DEVICE_ID: DEVICE_ID,
        CONF_VERSION: version,
        CONF_DP_MAP: "generic_light",
        **extra,
    }


def moved_entry(**extra: Any) -> MockConfigEntry:
    """A set-up panel that now answers at another address (and speaks a newer version)."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=TITLE,
        unique_id=DEVICE_ID,
        data=entry_data("3.3", "10.0.0.9", **{CONF_DP_MAP: "generic_switch", CONF_MAC: OTHER_MAC})
        | preset("bestqool_pro300")
        | extra,
    )


def panel_device(
    hass: HomeAssistant, entry: MockConfigEntry, *connections: tuple[str, str]
) -> dr.DeviceEntry:
    return dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, DEVICE_ID)},
        connections=set(connections),
    )


async def start_reconfigure(hass: HomeAssistant, entry: MockConfigEntry) -> ConfigFlowResult:
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "tuya_reconfigure"
    assert result["description_placeholders"]["name"] == TITLE
    assert_translated(result)
    return result


async def test_reconfigure_moves_the_panel(
    hass: HomeAssistant, emulator: TuyaEmulator, version: str, mock_setup_entry: AsyncMock
) -> None:
    entry = moved_entry()
    entry.add_to_hass(hass)
    result = await start_reconfigure(hass, entry)
    # The form shows the entry's settings, never its key.
    assert suggested(result) == {
        CONF_HOST: "10.0.0.9",
        CONF_DEVICE_ID: DEVICE_ID,
        CONF_VERSION: "3.3",
        CONF_DP_MAP: "generic_switch",
        CONF_MAC: OTHER_MAC,
    }

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], reconfigure_input(**{CONF_MAC: MAC.upper()})
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert_translated(result)
    # Address, version (found by "auto"), data-point map and MAC changed; the key (left
    # empty), the irradiance profile and the unique id are kept.
    assert dict(entry.data) == entry_data(version, **{CONF_MAC: MAC}) | preset("bestqool_pro300")
    assert entry.unique_id == DEVICE_ID
    await set_up_once_again(hass, mock_setup_entry)


@pytest.mark.parametrize("version", ["3.3"])
async def test_reconfigure_new_key_and_mac_off_the_device(
    hass: HomeAssistant,
    emulator: TuyaEmulator,
    device_registry: dr.DeviceRegistry,
    mock_setup_entry: AsyncMock,
) -> None:
    entry = moved_entry(**{CONF_LOCAL_KEY: OLD_KEY})
    entry.add_to_hass(hass)
    device = panel_device(hass, entry, (dr.CONNECTION_NETWORK_MAC, OTHER_MAC))
    result = await start_reconfigure(hass, entry)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], reconfigure_input("3.3", **{CONF_LOCAL_KEY: WRONG_KEY, CONF_MAC: ""})
    )
    assert result["errors"] == {"base": "invalid_auth"}
    assert_translated(result)
    assert CONF_LOCAL_KEY not in suggested(result)
    assert suggested(result)[CONF_HOST] == HOST  # what was typed stays
    assert entry.data[CONF_HOST] == "10.0.0.9"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], reconfigure_input("3.3", **{CONF_LOCAL_KEY: LOCAL_KEY, CONF_MAC: ""})
    )
    assert result["reason"] == "reconfigure_successful"
    assert dict(entry.data) == entry_data("3.3") | preset("bestqool_pro300")  # no MAC now
    # DHCP no longer matches the device by the MAC the entry dropped.
    device = device_registry.async_get(device.id)
    assert device is not None
    assert not device.connections
    await set_up_once_again(hass, mock_setup_entry)


@pytest.mark.parametrize("version", ["3.3"])
async def test_reconfigure_same_mac_keeps_the_device_connection(
    hass: HomeAssistant,
    emulator: TuyaEmulator,
    device_registry: dr.DeviceRegistry,
    mock_setup_entry: AsyncMock,
) -> None:
    entry = moved_entry()
    entry.add_to_hass(hass)
    device = panel_device(hass, entry, (dr.CONNECTION_NETWORK_MAC, OTHER_MAC))
    result = await start_reconfigure(hass, entry)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], reconfigure_input("3.3", **{CONF_MAC: OTHER_MAC})
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_MAC] == OTHER_MAC
    device = device_registry.async_get(device.id)
    assert device is not None
    assert device.connections == {(dr.CONNECTION_NETWORK_MAC, OTHER_MAC)}
    await set_up_once_again(hass, mock_setup_entry)


@pytest.mark.parametrize("version", ["3.3"])
@pytest.mark.parametrize("entry_mac", [None, OTHER_MAC], ids=["entry_without_mac", "changed_mac"])
async def test_reconfigure_mac_without_device(
    hass: HomeAssistant,
    emulator: TuyaEmulator,
    mock_setup_entry: AsyncMock,
    entry_mac: str | None,
) -> None:
    """The MAC typed is saved, whether the entry had none or another, with no device in the
    registry (the entry was never loaded)."""
    entry = moved_entry()
    entry.add_to_hass(hass)
    if entry_mac is None:
        hass.config_entries.async_update_entry(
            entry, data={k: v for k, v in entry.data.items() if k != CONF_MAC}
        )
    assert entry.data.get(CONF_MAC) == entry_mac
    result = await start_reconfigure(hass, entry)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], reconfigure_input("3.3", **{CONF_MAC: MAC})
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_MAC] == MAC
    await set_up_once_again(hass, mock_setup_entry)


async def test_reconfigure_another_device_id_aborts(hass: HomeAssistant) -> None:
    entry = moved_entry()
    entry.add_to_hass(hass)
    result = await start_reconfigure(hass, entry)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], reconfigure_input(**{CONF_DEVICE_ID: " bf99999999999999xxxx "})
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unique_id_mismatch"
    assert_translated(result)
    assert entry.unique_id == DEVICE_ID
    assert entry.data == moved_entry().data


@pytest.mark.usefixtures("nothing_listening")
async def test_reconfigure_unreachable(hass: HomeAssistant) -> None:
    entry = moved_entry()
    entry.add_to_hass(hass)
    result = await start_reconfigure(hass, entry)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], reconfigure_input("3.3")
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    assert entry.data == moved_entry().data


async def test_reconfigure_mac_of_another_panel(hass: HomeAssistant) -> None:
    MockConfigEntry(
        domain=DOMAIN, unique_id="bf00000000000000other", data={CONF_MAC: MAC}
    ).add_to_hass(hass)
    entry = moved_entry()
    entry.add_to_hass(hass)
    result = await start_reconfigure(hass, entry)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], reconfigure_input("3.3", **{CONF_MAC: MAC})
    )
    assert result["errors"] == {CONF_MAC: "mac_in_use"}


async def test_reconfigure_other_panel_kinds_aborts(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="3C:AB:72:5E:F5:22",
        data={CONF_ADDRESS: "3C:AB:72:5E:F5:22", CONF_PANEL_TYPE: PANEL_TYPE_BLOCKBLUELIGHT},
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_not_supported"
    assert_translated(result)


# DHCP ----------------------------------------------------------------------------------------


def dhcp(ip: str, mac: str = MAC) -> DhcpServiceInfo:
    """What Home Assistant's DHCP watcher hands over: the MAC without colons, lower case."""
    return DhcpServiceInfo(ip=ip, hostname="wifi-panel", macaddress=mac.replace(":", ""))


async def start_dhcp(hass: HomeAssistant, info: DhcpServiceInfo) -> ConfigFlowResult:
    return await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_DHCP}, data=info
    )


async def test_manifest_asks_dhcp_for_registered_devices(hass: HomeAssistant) -> None:
    matchers = await loader.async_get_dhcp(hass)
    assert {"domain": DOMAIN, "registered_devices": True} in matchers


async def test_dhcp_moves_a_registered_panel(hass: HomeAssistant) -> None:
    MockConfigEntry(domain=DOMAIN, unique_id="AA:BB", data={CONF_ADDRESS: "AA:BB"}).add_to_hass(
        hass
    )
    entry = moved_entry(**{CONF_MAC: MAC})
    entry.add_to_hass(hass)
    result = await start_dhcp(hass, dhcp("10.0.0.23"))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert_translated(result)
    assert entry.data[CONF_HOST] == "10.0.0.23"
    assert entry.data == moved_entry(**{CONF_MAC: MAC, CONF_HOST: "10.0.0.23"}).data


async def test_dhcp_of_an_unknown_device_never_adds_one(hass: HomeAssistant) -> None:
    entry = moved_entry()  # OTHER_MAC
    entry.add_to_hass(hass)
    result = await start_dhcp(hass, dhcp("10.0.0.23", MAC))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_registered"
    assert_translated(result)
    assert entry.data[CONF_HOST] == "10.0.0.9"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_the_data_point_maps_read_as_words(hass: HomeAssistant) -> None:
    """The form listed "generic_light: Tuya light category (dj): switch_led 20, ...": a key
    and data-point numbers. Each map reads as what the device is and what is controlled,
    translated, the label matching the translation."""
    result = await start_manual(hass)
    selector = result["data_schema"].schema[CONF_DP_MAP]
    key = selector.config["translation_key"]
    offered = {name for name, profile in DP_MAPS.items() if not profile.example}
    assert offered  # the checks below run on each of them
    assert {option["value"] for option in selector.config["options"]} == offered
    for option in selector.config["options"]:
        label = option["label"]
        assert option["value"] not in label
        assert not re.search(r"\d", label), label
        assert label[0].isupper(), label
        assert "on and off" in label, label
        for texts in TRANSLATION_FILES:
            assert texts["selector"][key]["options"][option["value"]] == label


def test_a_dp_map_label_says_what_is_controlled() -> None:
    """Several channels, one, none; a timer or not: each in words."""
    from custom_components.red_light_therapy.flow_tuya_form import dp_map_label
    from custom_components.red_light_therapy.panels.tuya import DP_MAPS
    from custom_components.red_light_therapy.panels.tuya.dp_maps import (
        DpMap,
    )

    assert dp_map_label(DP_MAPS["example_red_nir_panel"]) == (
        "Example red and near-infrared panel: on and off, 2 dimmable channels and its own timer"
    )
    plug = DpMap(name="plain", switch_dp=1, display_name="Plain plug")
    assert dp_map_label(plug) == "Plain plug: on and off"
