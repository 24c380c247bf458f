"""The config flow: Bluetooth discovery, the user step, and what aborts."""

from __future__ import annotations

from collections.abc import Generator
import json
from pathlib import Path
from unittest.mock import AsyncMock, patch

from homeassistant import config_entries
from homeassistant.config_entries import ConfigFlowResult
from homeassistant.const import CONF_ADDRESS
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.const import (
    CONF_PANEL_TYPE,
    DOMAIN,
    PANEL_TYPE_BLOCKBLUELIGHT,
)

from .common import ADDRESS, NAME, inject_advertisement, service_info

OTHER_ADDRESS = "3C:AB:72:00:00:01"


@pytest.fixture(autouse=True)
def mock_setup_entry() -> Generator[AsyncMock]:
    with patch("custom_components.red_light_therapy.async_setup_entry", return_value=True) as mock:
        yield mock


async def _pick_bluetooth(hass: HomeAssistant) -> ConfigFlowResult:
    """Start the user flow and choose Bluetooth in its menu."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"][0] == "pick_bluetooth"
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "pick_bluetooth"}
    )


async def test_bluetooth_discovery_confirm_creates_entry(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_BLUETOOTH}, data=service_info()
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "bluetooth_confirm"
    assert result["description_placeholders"] == {"name": "BlockBlueLight F522"}

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "BlockBlueLight F522"
    assert result["data"] == {CONF_ADDRESS: ADDRESS, CONF_PANEL_TYPE: PANEL_TYPE_BLOCKBLUELIGHT}
    assert result["result"].unique_id == ADDRESS


async def test_bluetooth_discovery_already_configured(hass: HomeAssistant) -> None:
    MockConfigEntry(domain=DOMAIN, unique_id=ADDRESS, data={CONF_ADDRESS: ADDRESS}).add_to_hass(
        hass
    )
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_BLUETOOTH}, data=service_info()
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_bluetooth_discovery_of_other_device_aborts(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_BLUETOOTH},
        data=service_info(OTHER_ADDRESS, "SomethingElse"),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_supported"


async def test_bluetooth_discovery_twice_is_one_flow(hass: HomeAssistant) -> None:
    first = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_BLUETOOTH}, data=service_info()
    )
    assert first["type"] is FlowResultType.FORM
    second = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_BLUETOOTH}, data=service_info()
    )
    assert second["type"] is FlowResultType.ABORT
    assert second["reason"] == "already_in_progress"


@pytest.mark.usefixtures("enable_bluetooth")
async def test_user_step_lists_unconfigured_panels(hass: HomeAssistant) -> None:
    MockConfigEntry(
        domain=DOMAIN, unique_id=OTHER_ADDRESS, data={CONF_ADDRESS: OTHER_ADDRESS}
    ).add_to_hass(hass)
    inject_advertisement(hass, service_info())
    inject_advertisement(hass, service_info(OTHER_ADDRESS, "BLOCK3CAB72000001"))
    inject_advertisement(hass, service_info("AA:BB:CC:DD:EE:FF", "Toothbrush"))
    await hass.async_block_till_done()

    result = await _pick_bluetooth(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "pick_bluetooth"
    choices = result["data_schema"].schema[CONF_ADDRESS].container
    assert choices == {ADDRESS: f"BlockBlueLight F522 ({NAME})"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ADDRESS: ADDRESS}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == ADDRESS
    assert result["data"][CONF_ADDRESS] == ADDRESS


@pytest.mark.usefixtures("enable_bluetooth")
async def test_user_step_aborts_when_nothing_is_in_range(hass: HomeAssistant) -> None:
    result = await _pick_bluetooth(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_devices_found"


@pytest.mark.usefixtures("enable_bluetooth")
async def test_user_step_aborts_when_configured_meanwhile(hass: HomeAssistant) -> None:
    inject_advertisement(hass, service_info())
    await hass.async_block_till_done()
    result = await _pick_bluetooth(hass)
    assert result["type"] is FlowResultType.FORM
    MockConfigEntry(domain=DOMAIN, unique_id=ADDRESS, data={CONF_ADDRESS: ADDRESS}).add_to_hass(
        hass
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ADDRESS: ADDRESS}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


@pytest.mark.usefixtures("enable_bluetooth")
async def test_user_step_skips_a_menu_of_one(hass: HomeAssistant) -> None:
    with patch("custom_components.red_light_therapy.config_flow.MENU_OPTIONS", ["pick_bluetooth"]):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": config_entries.SOURCE_USER}
        )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_devices_found"


async def test_user_step_is_a_menu_of_panel_kinds(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "user"
    options = result["menu_options"]
    assert options[0] == "pick_bluetooth"
    assert "entity" in options
    # Every kind has its text in the menu, in both translation files.
    component = Path(__file__).parent.parent / "custom_components" / DOMAIN
    for path in (component / "strings.json", component / "translations" / "en.json"):
        texts = json.loads(path.read_text(encoding="utf-8"))["config"]["step"]["user"]
        assert set(options) <= set(texts["menu_options"]), path
