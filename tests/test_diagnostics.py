"""Diagnostics: useful to a maintainer, without the panel's address."""

from __future__ import annotations

import json
from typing import Any

from homeassistant.components.person import DOMAIN as PERSON_DOMAIN, async_create_person
from homeassistant.components.select import (
    ATTR_OPTION,
    DOMAIN as SELECT_DOMAIN,
    SERVICE_SELECT_OPTION,
)
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.red_light_therapy.const import (
    CONF_PROFILE,
    CONF_RED_SHARE,
    DOMAIN,
)
from custom_components.red_light_therapy.entity import entity_unique_id
from custom_components.red_light_therapy.flow_profile import (
    distance_field,
    irradiance_field,
    measured_profile,
)

from .common import ADDRESS, start_session, tuya_entry_data
from .emulated_tuya import reachable_tuya_panel
from .panels.tuya.conftest import DEVICE_ID, LOCAL_KEY


@pytest.fixture
async def diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    dimmed_integration: MockConfigEntry,
) -> Any:
    """Diagnostics downloaded while a session runs."""
    await start_session(hass, dimmed_integration)
    return await get_diagnostics_for_config_entry(hass, hass_client, dimmed_integration)


async def test_diagnostics_show_the_panel_and_the_session(diagnostics: Any) -> None:
    assert diagnostics["entry"]["data"]["address"] == "**REDACTED**"
    assert diagnostics["entry"]["unique_id"] == "**REDACTED**"
    assert diagnostics["entry"]["title"] == "**REDACTED**"

    assert diagnostics["state"]["is_on"] is True
    assert diagnostics["state"]["levels"] == [20] * 5
    assert diagnostics["state"]["timer_set_s"] == 600
    assert diagnostics["last_update_success"] is True
    assert len(diagnostics["capabilities"]["channels"]) == 5
    assert diagnostics["session"]["status"] == "running"
    assert diagnostics["session"]["planned_seconds"] == 600
    assert diagnostics["settings"]["default_minutes"] == 10
    assert diagnostics["history_records"] == 0
    # The driver's own part: the link a session holds open.
    assert diagnostics["bluetooth"]["connected"] is True


async def test_diagnostics_contain_the_address_nowhere(diagnostics: Any) -> None:
    text = json.dumps(diagnostics).upper()
    assert ADDRESS.upper() not in text
    assert ADDRESS.replace(":", "").upper() not in text


@pytest.mark.usefixtures("socket_enabled")
async def test_a_measured_profile_does_not_name_the_panel(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """A Tuya panel's measured profile is named "Tuya panel <last 4 of its id> (measured)"."""
    title = f"Tuya panel {DEVICE_ID[-4:]}"
    profile, errors = measured_profile(
        title, {distance_field(1): 15, irradiance_field(1): 50, CONF_RED_SHARE: 40}
    )
    assert profile is not None, errors
    assert profile.name == f"{title} (measured)"
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=title,
        unique_id=DEVICE_ID,
        data=tuya_entry_data(**{CONF_PROFILE: profile.to_dict()}),
    )
    entry.add_to_hass(hass)
    async with reachable_tuya_panel("3.4"):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.runtime_data.sessions.panel_settings.profile.name == profile.name
        diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()

    assert diagnostics["profile"]["name"] == "**REDACTED**"
    assert diagnostics["entry"]["data"][CONF_PROFILE]["name"] == "**REDACTED**"
    # What the maintainer needs of the profile is still there.
    assert diagnostics["profile"]["source"].startswith("Measured by the user: 50 mW/cm² at 15 cm")
    # What the device reports, to write a new profile from.
    assert diagnostics["tuya"]["dp_map"] == "generic_light"
    assert diagnostics["tuya"]["dps"]["20"] is False
    text = json.dumps(diagnostics)
    assert DEVICE_ID[-4:] not in text
    assert LOCAL_KEY not in text


async def test_diagnostics_of_a_household_name_nobody(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
) -> None:
    """Two persons, one chosen on the panel: neither their names nor their entity ids."""
    assert await async_setup_component(hass, PERSON_DOMAIN, {})
    await async_create_person(hass, "Alice Smith")
    await async_create_person(hass, "Bob Jones")
    await hass.async_block_till_done(wait_background_tasks=True)
    select = er.async_get(hass).async_get_entity_id(
        SELECT_DOMAIN, DOMAIN, entity_unique_id(init_integration, "current_person")
    )
    assert select is not None
    await hass.services.async_call(
        SELECT_DOMAIN,
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: select, ATTR_OPTION: "Bob Jones"},
        blocking=True,
    )
    await hass.async_block_till_done(wait_background_tasks=True)

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    text = json.dumps(diagnostics)
    for secret in ("Alice", "Bob", "Smith", "Jones", "person.alice_smith", "person.bob_jones"):
        assert secret not in text
    # which person is chosen is still told apart: Alice is person 1, Bob person 2
    assert diagnostics["settings"]["person"] == "person 2"
    assert diagnostics["persons"] == 2
