"""The config flow path that wraps an existing light or switch entity as a panel."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant import config_entries
from homeassistant.config_entries import ConfigFlowResult
from homeassistant.const import CONF_ENTITY_ID, CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.const import (
    CONF_PANEL_TYPE,
    CONF_PRESET,
    CONF_PROFILE,
    CONF_RED_SHARE,
    DOMAIN,
    PANEL_TYPE_ENTITY,
    PRESET_MEASURED,
)
from custom_components.red_light_therapy.flow_profile import measured_profile
from custom_components.red_light_therapy.therapy import PRESET_PROFILES, IrradianceProfile

SWITCH = "switch.panel_plug"
LIGHT = "light.esphome_panel"


@pytest.fixture(autouse=True)
def mock_setup_entry() -> Generator[AsyncMock]:
    with patch("custom_components.red_light_therapy.async_setup_entry", return_value=True) as mock:
        yield mock


@pytest.fixture(autouse=True)
def wrappable(hass: HomeAssistant) -> None:
    """A switch and a light of other integrations, and a sensor."""
    hass.states.async_set(SWITCH, "off", {"friendly_name": "Panel plug"})
    hass.states.async_set(LIGHT, "on", {"friendly_name": "ESPHome panel"})
    hass.states.async_set("sensor.power", "12")


async def _start(hass: HomeAssistant) -> ConfigFlowResult:
    """Open the user menu and choose a light or switch."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert "entity" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "entity"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "entity"
    assert result["errors"] == {}
    return result


async def _to_measured(hass: HomeAssistant, name: str = "Plug panel") -> ConfigFlowResult:
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENTITY_ID: SWITCH, CONF_NAME: name}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PRESET: PRESET_MEASURED}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "entity_measured"
    assert result["description_placeholders"] == {"name": name}
    return result


def _selector_config(result: ConfigFlowResult, key: str) -> dict[str, Any]:
    for marker, selector in result["data_schema"].schema.items():
        if marker == key:
            return dict(selector.config)
    raise AssertionError(key)


async def test_preset_creates_entry(hass: HomeAssistant) -> None:
    result = await _start(hass)
    entity_selector = _selector_config(result, CONF_ENTITY_ID)
    assert entity_selector["domain"] == ["light", "switch"]

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENTITY_ID: SWITCH, CONF_NAME: "  Bedroom panel "}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "entity_profile"
    assert result["description_placeholders"] == {"name": "Bedroom panel"}
    options = _selector_config(result, CONF_PRESET)["options"]
    assert [o["value"] for o in options] == [*PRESET_PROFILES, PRESET_MEASURED]
    assert options[0]["label"] == PRESET_PROFILES["generic_large_panel"].name

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PRESET: "helio_glow"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Bedroom panel"
    assert result["data"] == {
        CONF_PANEL_TYPE: PANEL_TYPE_ENTITY,
        CONF_ENTITY_ID: SWITCH,
        CONF_PROFILE: PRESET_PROFILES["helio_glow"].to_dict(),
    }
    assert result["result"].unique_id == f"entity_{SWITCH}"


async def test_default_preset_and_name_from_entity(hass: HomeAssistant) -> None:
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENTITY_ID: LIGHT}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "ESPHome panel"
    profile = IrradianceProfile.from_dict(result["data"][CONF_PROFILE])
    assert profile == PRESET_PROFILES["generic_large_panel"]


async def test_measured_points_create_entry(hass: HomeAssistant) -> None:
    result = await _to_measured(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "distance_1": 30,
            "irradiance_1": 40.0,
            "distance_3": 15,
            "irradiance_3": 50.0,
            CONF_RED_SHARE: 60,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_PANEL_TYPE] == PANEL_TYPE_ENTITY
    profile = IrradianceProfile.from_dict(result["data"][CONF_PROFILE])
    assert profile.name == "Plug panel (measured)"
    assert profile.source == (
        "Measured by the user: 50 mW/cm² at 15 cm, 40 mW/cm² at 30 cm; red share 60%."
    )
    assert [p.distance_cm for p in profile.points] == [15.0, 30.0]
    irradiance = profile.irradiance(22.5)
    assert irradiance.total == pytest.approx(45.0)
    assert irradiance.red == pytest.approx(27.0)


async def test_measured_red_share_defaults_to_half(hass: HomeAssistant) -> None:
    result = await _to_measured(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"distance_1": 15, "irradiance_1": 20}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    profile = IrradianceProfile.from_dict(result["data"][CONF_PROFILE])
    assert profile.irradiance(15).red == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("user_input", "errors"),
    [
        pytest.param(
            {"distance_1": 15, "irradiance_1": 60, "distance_2": 30},
            {"irradiance_2": "incomplete_point"},
            id="irradiance-missing",
        ),
        pytest.param(
            {"distance_1": 15, "irradiance_1": 60, "irradiance_4": 30},
            {"distance_4": "incomplete_point"},
            id="distance-missing",
        ),
        pytest.param(
            {"distance_1": 15, "irradiance_1": 0},
            {"irradiance_1": "irradiance_not_positive"},
            id="irradiance-zero",
        ),
        pytest.param(
            {"distance_1": 15, "irradiance_1": -3},
            {"irradiance_1": "irradiance_not_positive"},
            id="irradiance-negative",
        ),
        pytest.param(
            {"distance_1": 0, "irradiance_1": 60, "distance_2": -5, "irradiance_2": 50},
            {"distance_1": "distance_not_positive", "distance_2": "distance_not_positive"},
            id="distance-not-positive",
        ),
        pytest.param(
            {"distance_1": 15, "irradiance_1": 60, "distance_2": 15.0, "irradiance_2": 50},
            {"distance_2": "distances_not_distinct"},
            id="distances-not-distinct",
        ),
        pytest.param(
            {"distance_1": 15, "irradiance_1": 60, CONF_RED_SHARE: 150},
            {CONF_RED_SHARE: "red_share_out_of_range"},
            id="red-share-above-100",
        ),
        pytest.param(
            {"distance_1": 15, "irradiance_1": 60, CONF_RED_SHARE: -1},
            {CONF_RED_SHARE: "red_share_out_of_range"},
            id="red-share-negative",
        ),
    ],
)
async def test_measured_errors(
    hass: HomeAssistant, user_input: dict[str, Any], errors: dict[str, str]
) -> None:
    result = await _to_measured(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "entity_measured"
    assert result["errors"] == errors

    # Corrected, the same form creates the entry.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"distance_1": 15, "irradiance_1": 60, CONF_RED_SHARE: 50}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


def test_measured_profile_reports_every_problem() -> None:
    profile, errors = measured_profile(
        "Panel",
        {
            "distance_1": 15,
            "irradiance_1": 60,
            "distance_2": 15,
            "irradiance_2": 50,
            "distance_3": 30,
            CONF_RED_SHARE: 101,
        },
    )
    assert profile is None
    assert errors == {
        "distance_2": "distances_not_distinct",
        "irradiance_3": "incomplete_point",
        CONF_RED_SHARE: "red_share_out_of_range",
    }


async def test_entity_that_does_not_exist(hass: HomeAssistant) -> None:
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENTITY_ID: "switch.gone"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_ENTITY_ID: "entity_not_found"}


async def test_unknown_registry_id(hass: HomeAssistant) -> None:
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENTITY_ID: "0123456789abcdef0123456789abcdef"}
    )
    assert result["errors"] == {CONF_ENTITY_ID: "entity_not_found"}


async def test_registry_id_of_a_sensor(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    sensor = entity_registry.async_get_or_create("sensor", "other", "power")
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENTITY_ID: sensor.id}
    )
    assert result["errors"] == {CONF_ENTITY_ID: "not_light_or_switch"}


async def test_registry_id_of_a_switch(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    plug = entity_registry.async_get_or_create("switch", "shelly", "plug1")
    hass.states.async_set(plug.entity_id, "off")
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENTITY_ID: plug.id, CONF_NAME: "Plug"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PRESET: "advantage1500"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_ENTITY_ID] == plug.entity_id
    assert result["result"].unique_id == f"entity_{plug.entity_id}"


async def test_own_entities_are_not_offered(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    own = entity_registry.async_get_or_create("light", DOMAIN, "AA:BB_light")
    hass.states.async_set(own.entity_id, "off")
    result = await _start(hass)
    assert _selector_config(result, CONF_ENTITY_ID)["exclude_entities"] == [own.entity_id]
    with pytest.raises(InvalidData):
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_ENTITY_ID: own.entity_id}
        )


async def test_own_entity_created_while_the_form_was_open(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    result = await _start(hass)
    own = entity_registry.async_get_or_create(
        "light", DOMAIN, "AA:BB_light", suggested_object_id="therapy_panel"
    )
    hass.states.async_set(own.entity_id, "off")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENTITY_ID: own.entity_id}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_ENTITY_ID: "own_entity"}


async def test_other_domain_is_rejected_by_the_selector(hass: HomeAssistant) -> None:
    result = await _start(hass)
    with pytest.raises(InvalidData):
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_ENTITY_ID: "sensor.power"}
        )


async def test_already_configured(hass: HomeAssistant) -> None:
    MockConfigEntry(
        domain=DOMAIN,
        unique_id=f"entity_{SWITCH}",
        data={CONF_PANEL_TYPE: PANEL_TYPE_ENTITY, CONF_ENTITY_ID: SWITCH},
    ).add_to_hass(hass)
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENTITY_ID: SWITCH}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
