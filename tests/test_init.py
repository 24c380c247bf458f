"""Setting up, unloading and reloading a panel; availability."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.red_light_therapy import panel_factory
from custom_components.red_light_therapy.const import (
    BLE_IDLE_POLL_SECONDS,
    CONF_PANEL_TYPE,
    DOMAIN,
    IDLE_POLL_MINUTES,
)
from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator

from .common import ADDRESS, advance, inject_advertisement, service_info

LIGHT = "light.blockbluelight_f522"


async def test_setup_creates_device_and_entities(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    assert init_integration.state is ConfigEntryState.LOADED
    devices = dr.async_entries_for_config_entry(device_registry, init_integration.entry_id)
    assert len(devices) == 1
    device = devices[0]
    assert (DOMAIN, ADDRESS) in device.identifiers
    assert device.manufacturer == "BlockBlueLight"
    assert (dr.CONNECTION_BLUETOOTH, ADDRESS) in device.connections
    entities = er.async_entries_for_config_entry(entity_registry, init_integration.entry_id)
    assert {e.entity_id for e in entities} >= {
        LIGHT,
        "number.blockbluelight_f522_channel_1_630_nm",
        "number.blockbluelight_f522_channel_5_850_nm",
        "number.blockbluelight_f522_session_duration",
        "sensor.blockbluelight_f522_session_timer",
        "sensor.blockbluelight_f522_session_end",
        "button.blockbluelight_f522_start_session",
        "button.blockbluelight_f522_stop_session",
    }
    assert hass.states.get(LIGHT).state == STATE_OFF


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_setup_retries_when_panel_not_in_range(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_RETRY


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_setup_retries_when_panel_refuses_connection(
    hass: HomeAssistant, config_entry: MockConfigEntry, emulator: BlockBlueLightEmulator
) -> None:
    emulator.refuse_connections = 100
    inject_advertisement(hass, service_info())
    await hass.async_block_till_done()
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_unknown_panel_type_stops_in_error_without_retrying(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """An entry of a kind this version does not know: no retry can help, so none is made."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id="x", data={CONF_PANEL_TYPE: "nonsense"})
    entry.add_to_hass(hass)
    with patch(
        "custom_components.red_light_therapy.create_panel", wraps=panel_factory.create_panel
    ) as create:
        await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.SETUP_ERROR
        assert entry.reason == (
            "This entry is for a kind of panel (nonsense) this version does not know. Update "
            "the integration, or delete the entry; retrying cannot help"
        )
        freezer.tick(timedelta(hours=1))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert create.call_count == 1


async def test_unload_and_reload_leave_nothing_behind(
    hass: HomeAssistant, init_integration: MockConfigEntry, emulator: BlockBlueLightEmulator
) -> None:
    assert emulator.connected
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.NOT_LOADED
    assert not emulator.connected
    assert hass.states.get(LIGHT).state == STATE_UNAVAILABLE

    assert await hass.config_entries.async_setup(init_integration.entry_id)
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.LOADED
    assert hass.states.get(LIGHT).state == STATE_OFF


async def test_unreachable_panel_goes_unavailable_and_comes_back(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.drop_connection()
    emulator.refuse_connections = 1000
    for _ in range(2):
        await advance(hass, freezer, timedelta(minutes=IDLE_POLL_MINUTES))
    assert hass.states.get(LIGHT).state == STATE_UNAVAILABLE
    assert caplog.text.count("Error fetching") == 1

    emulator.refuse_connections = 0
    await advance(hass, freezer, timedelta(minutes=IDLE_POLL_MINUTES))
    assert hass.states.get(LIGHT).state == STATE_OFF
    assert caplog.text.count("is reachable again") == 1


async def test_idle_bluetooth_panel_is_looked_at_briefly_on_a_steady_interval(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A look every BLE_IDLE_POLL_SECONDS, not moved by the pushes of its own link (not even
    the push of its idle disconnect), and the link closed at once."""
    for _ in range(2 * 60):  # past the setup's grace and the first looks
        await advance(hass, freezer, timedelta(seconds=1))
    connections = emulator.connections
    held = 0
    minutes = 20
    for _ in range(minutes * 60):
        await advance(hass, freezer, timedelta(seconds=1))
        held += emulator.connected
    assert emulator.connections - connections == minutes * 60 // BLE_IDLE_POLL_SECONDS
    assert held == 0  # each look closes its link before the next second
    assert hass.states.get(LIGHT).state == STATE_OFF


async def test_panel_pushing_state_updates_the_light(
    hass: HomeAssistant, init_integration: MockConfigEntry, emulator: BlockBlueLightEmulator
) -> None:
    emulator.press_button()
    await hass.async_block_till_done()
    assert hass.states.get(LIGHT).state == "on"


async def test_a_bluetooth_entry_of_before_only_gets_the_new_minor_version(
    init_integration: MockConfigEntry,
) -> None:
    """1.1 → 1.2 concerns the Wi-Fi panels' link: a Bluetooth entry gains no option."""
    assert init_integration.state is ConfigEntryState.LOADED
    assert (init_integration.version, init_integration.minor_version) == (1, 2)
    assert dict(init_integration.options) == {}


async def test_an_entry_of_a_newer_version_is_not_set_up(hass: HomeAssistant) -> None:
    """A downgrade: nothing here can read an entry a newer integration wrote."""
    entry = MockConfigEntry(
        domain=DOMAIN, version=2, data={CONF_PANEL_TYPE: "blockbluelight", "address": ADDRESS}
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.MIGRATION_ERROR
    assert entry.version == 2


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_an_entry_of_a_newer_minor_version_is_set_up_as_it_is(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    """A newer minor version only adds what this one can ignore: nothing is rewritten."""
    hass.config_entries.async_update_entry(config_entry, minor_version=3)
    inject_advertisement(hass, service_info())
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED
    assert (config_entry.version, config_entry.minor_version) == (1, 3)
    assert dict(config_entry.options) == {}
