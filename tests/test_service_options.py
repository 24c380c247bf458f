"""Service options beyond dose and minutes: calibration from a meter, channel levels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import selector
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import yaml

from custom_components.red_light_therapy.const import DOMAIN

LIGHT = "light.blockbluelight_f522"
IRRADIANCE = "sensor.blockbluelight_f522_irradiance"
COMPONENT = Path(__file__).parent.parent / "custom_components" / "red_light_therapy"


async def _calculate(hass: HomeAssistant, minutes: float) -> dict[str, float]:
    response = await hass.services.async_call(
        DOMAIN,
        "calculate",
        {"entity_id": LIGHT, "minutes": minutes, "area": "knee"},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    return response[LIGHT]  # type: ignore[return-value]


async def test_calibration_scales_irradiance_and_dose(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    before = float(hass.states.get(IRRADIANCE).state)
    dose_before = (await _calculate(hass, 2))["expected_dose_j_cm2"]

    # A meter reads twice the default profile's 15 cm figure.
    await hass.services.async_call(
        DOMAIN,
        "calibrate",
        {"entity_id": LIGHT, "distance_cm": 15, "measured_mw_cm2": before * 2},
        blocking=True,
    )
    await hass.async_block_till_done()

    assert float(hass.states.get(IRRADIANCE).state) == pytest.approx(before * 2)
    assert (await _calculate(hass, 2))["expected_dose_j_cm2"] == pytest.approx(dose_before * 2)

    # Kept across a reload (it is stored with the panel's settings).
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert float(hass.states.get(IRRADIANCE).state) == pytest.approx(before * 2)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"distance_cm": 15, "measured_mw_cm2": -3}, "invalid_measured"),
        ({"distance_cm": 0, "measured_mw_cm2": 30}, "invalid_distance"),
        ({"distance_cm": 5, "measured_mw_cm2": 30}, "therapy_calibration_out_of_range"),
    ],
)
async def test_bad_calibration_is_refused_and_changes_nothing(
    hass: HomeAssistant, init_integration: MockConfigEntry, data: dict[str, float], key: str
) -> None:
    before = hass.states.get(IRRADIANCE).state
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "calibrate", {"entity_id": LIGHT, **data}, blocking=True
        )
    assert err.value.translation_key == key
    assert hass.states.get(IRRADIANCE).state == before


async def test_start_session_sets_channel_levels_first(
    hass: HomeAssistant, init_integration: MockConfigEntry, emulator: Any
) -> None:
    response = await hass.services.async_call(
        DOMAIN,
        "start_session",
        {"entity_id": LIGHT, "dose": 4, "area": "knee", "levels": [50, 50, 50, 50, 50]},
        blocking=True,
        return_response=True,
    )
    await hass.async_block_till_done()
    assert emulator.levels == (50, 50, 50, 50, 50)
    # Planned at the levels it runs at: half the irradiance of full output.
    assert response[LIGHT]["irradiance_mw_cm2"] == pytest.approx(30.0)  # type: ignore[index]
    await hass.services.async_call(DOMAIN, "stop_session", {"entity_id": LIGHT}, blocking=True)
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.parametrize(
    ("levels", "key"), [([50, 50], "invalid_levels"), ([50, 50, 50, 50, 101], "invalid_level")]
)
async def test_bad_channel_levels_change_nothing(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: Any,
    levels: list[int],
    key: str,
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "start_session",
            {"entity_id": LIGHT, "minutes": 2, "levels": levels},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == key
    assert emulator.levels == (100, 100, 100, 100, 100)
    assert not emulator.is_on


def _services_yaml() -> dict[str, Any]:
    with (COMPONENT / "services.yaml").open(encoding="utf-8") as file:
        services: dict[str, Any] = yaml.safe_load(file)
    return services


def test_every_action_field_has_a_valid_selector_and_texts() -> None:
    """What the action UI shows: each selector is valid, each field named and described."""
    services = _services_yaml()
    for path in (COMPONENT / "strings.json", COMPONENT / "translations" / "en.json"):
        texts = json.loads(path.read_text(encoding="utf-8"))["services"]
        assert set(texts) == set(services), path
        for service, spec in services.items():
            fields = spec.get("fields", {})
            assert set(texts[service].get("fields", {})) == set(fields), (path, service)
            for field, field_spec in fields.items():
                selector.validate_selector(field_spec["selector"])
                assert texts[service]["fields"][field]["description"], (service, field)


def test_protocol_field_takes_a_saved_protocol_key() -> None:
    """The UI offers the presets and lets a saved protocol's key (custom_<name>) be typed."""
    config = _services_yaml()["start_protocol"]["fields"]["protocol"]["selector"]
    protocol = selector.selector(config)
    assert protocol("skin_rejuvenation") == "skin_rejuvenation"
    assert protocol("custom_my_knee_course") == "custom_my_knee_course"
