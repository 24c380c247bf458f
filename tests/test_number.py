"""Channel levels and the default session length."""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.number import (
    ATTR_VALUE,
    DOMAIN as NUMBER_DOMAIN,
    SERVICE_SET_VALUE,
)
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, storage
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.const import DEFAULT_SESSION_MINUTES, DOMAIN
from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator
from custom_components.red_light_therapy.store import (
    SETTINGS_SAVE_DELAY,
    STORAGE_KEY,
    STORAGE_VERSION,
)

from .common import ADDRESS, advance, inject_advertisement, out_of_reach, service_info, set_number

PANEL_LEVELS = (10, 20, 30, 40, 50)
CHANNELS = (
    "number.blockbluelight_f522_channel_1_630_nm",
    "number.blockbluelight_f522_channel_2_660_nm",
    "number.blockbluelight_f522_channel_3_810_nm",
    "number.blockbluelight_f522_channel_4_830_nm",
    "number.blockbluelight_f522_channel_5_850_nm",
)
DURATION = "number.blockbluelight_f522_session_duration"
START = "button.blockbluelight_f522_start_session"


@pytest.fixture
def emulator() -> Generator[BlockBlueLightEmulator]:
    """A panel whose channels were left at different levels by its own app."""
    panel = BlockBlueLightEmulator(
        ADDRESS, clock=lambda: dt_util.utcnow().timestamp(), levels=PANEL_LEVELS
    )
    yield panel
    panel.close()


@pytest.mark.usefixtures("init_integration")
async def test_channel_levels_show_what_the_panel_reports(hass: HomeAssistant) -> None:
    assert [float(hass.states.get(entity_id).state) for entity_id in CHANNELS] == list(PANEL_LEVELS)


@pytest.mark.usefixtures("init_integration")
async def test_channel_names_start_with_the_wavelength(hass: HomeAssistant) -> None:
    """The device page cuts long names ("Channel 1 (63…"): the wavelength comes first, so it
    stays visible. The entity ids are the ones automations already use."""
    registry = er.async_get(hass)
    names = [hass.states.get(entity_id).name for entity_id in CHANNELS]
    assert names == [
        f"BlockBlueLight F522 {wavelength} nm (channel {n})"
        for n, wavelength in enumerate((630, 660, 810, 830, 850), start=1)
    ]
    assert [registry.async_get(entity_id).unique_id for entity_id in CHANNELS] == [
        f"{ADDRESS}_channel_{n}_level" for n in range(1, 6)
    ]


@pytest.mark.usefixtures("init_integration")
async def test_channel_level_sets_that_channel_only(
    hass: HomeAssistant, emulator: BlockBlueLightEmulator
) -> None:
    await set_number(hass, CHANNELS[2], 75)

    assert emulator.levels == (10, 20, 75, 40, 50)
    assert float(hass.states.get(CHANNELS[2]).state) == 75
    assert float(hass.states.get(CHANNELS[1]).state) == 20


@pytest.mark.usefixtures("init_integration")
async def test_channel_level_of_an_unreachable_panel_raises_a_translated_error(
    hass: HomeAssistant, emulator: BlockBlueLightEmulator
) -> None:
    await out_of_reach(hass, emulator)

    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            NUMBER_DOMAIN,
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: CHANNELS[0], ATTR_VALUE: 90},
            blocking=True,
        )

    assert err.value.translation_key == "cannot_connect"
    assert emulator.levels == PANEL_LEVELS


async def test_session_duration_sets_the_length_of_the_next_session(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """At these levels (18 mW/cm² at 15 cm) 15 minutes stay under every limit. Moving the
    slider step by step to 15 writes the file once, a few seconds after the last step."""
    assert float(hass.states.get(DURATION).state) == DEFAULT_SESSION_MINUTES
    writes = 0
    write = storage.Store._async_write_data

    async def _counting(self: storage.Store[Any], *args: Any, **kwargs: Any) -> None:
        # (path, data) on Home Assistant 2025.4; newer releases pass other arguments.
        nonlocal writes
        writes += self.key.startswith(DOMAIN)  # any of the store's files
        await write(self, *args, **kwargs)

    with patch.object(storage.Store, "_async_write_data", _counting):
        for minutes in range(6, 16):
            await set_number(hass, DURATION, minutes)
        assert writes == 0
        await advance(hass, freezer, timedelta(seconds=SETTINGS_SAVE_DELAY))
        assert writes == 1

    assert float(hass.states.get(DURATION).state) == 15
    stored = hass_storage[STORAGE_KEY]["data"]["settings"][init_integration.entry_id]
    assert stored["minutes"] == 15
    await hass.services.async_call("button", "press", {ATTR_ENTITY_ID: START}, blocking=True)
    await hass.async_block_till_done(wait_background_tasks=True)

    session = init_integration.runtime_data.sessions.session
    assert session is not None
    assert session.planned_seconds == 15 * 60
    assert emulator.is_on
    assert emulator.timer_set_s == 15 * 60


@pytest.mark.usefixtures("init_integration")
async def test_lengths_and_distances_read_as_a_person_writes_them(hass: HomeAssistant) -> None:
    """The device page showed "5.0 min" and "15.0 cm" for whole numbers."""
    assert hass.states.get(DURATION).state == str(DEFAULT_SESSION_MINUTES)
    assert hass.states.get("number.blockbluelight_f522_distance").state == "15"
    await set_number(hass, "number.blockbluelight_f522_distance", 22.5)
    assert hass.states.get("number.blockbluelight_f522_distance").state == "22.5"


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_session_duration_is_restored_after_a_restart(
    hass: HomeAssistant, config_entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """What the number wrote before the restart (see above) is read at start-up."""
    hass_storage[STORAGE_KEY] = {
        "version": STORAGE_VERSION,
        "minor_version": 1,
        "key": STORAGE_KEY,
        "data": {
            "active": {},
            "settings": {config_entry.entry_id: {"minutes": 25}},
            "plans": {},
        },
    }
    inject_advertisement(hass, service_info())
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()

    assert float(hass.states.get(DURATION).state) == 25
    sessions = config_entry.runtime_data.sessions
    assert sessions.panel_settings.default_duration.total_seconds() == 25 * 60
