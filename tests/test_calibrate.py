"""A meter reading calibrates the panel's irradiance profile, and it survives a restart."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.const import DOMAIN

LIGHT = "light.blockbluelight_f522"
IRRADIANCE = "sensor.blockbluelight_f522_irradiance"


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
        ({"distance_cm": 15, "measured_mw_cm2": -3}, "not_positive"),
        ({"distance_cm": 0, "measured_mw_cm2": 30}, "not_positive"),
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
