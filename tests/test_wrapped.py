"""A light or switch entity wrapped as a panel, end to end with a real Home Assistant switch.

The wrapped switch is a ``template`` switch driving an ``input_boolean`` (the plug's relay),
with an availability template on a second ``input_boolean`` (the plug being reachable).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    ATTR_ENTITY_ID,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.red_light_therapy import DATA_STORE, wrapped
from custom_components.red_light_therapy.const import (
    DOMAIN,
)
from custom_components.red_light_therapy.panels.base import (
    PanelConnectionError,
    PanelState,
    PanelTimeoutError,
)
from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator
from custom_components.red_light_therapy.session_manager import when_words
from custom_components.red_light_therapy.therapy import SessionOrigin
from custom_components.red_light_therapy.wrapped import EntityPanel

from .common import PLUG_PROFILE, advance, plug_panel_entry

PLUG = "switch.panel_plug"
RELAY = "input_boolean.relay"
ONLINE = "input_boolean.online"
STUCK = "switch.stuck"
BLUETOOTH_LIGHT = "light.blockbluelight_f522"


def _clock() -> float:
    return dt_util.utcnow().timestamp()


def _switch(name: str, unique_id: str, state: str, turn_on: str, turn_off: str) -> dict[str, Any]:
    return {
        "name": name,
        "unique_id": unique_id,
        "state": f"{{{{ is_state('{state}', 'on') }}}}",
        "availability": f"{{{{ is_state('{ONLINE}', 'on') }}}}",
        "turn_on": {"action": "input_boolean.turn_on", "target": {"entity_id": turn_on}},
        "turn_off": {"action": "input_boolean.turn_off", "target": {"entity_id": turn_off}},
    }


@pytest.fixture
async def plug(hass: HomeAssistant) -> str:
    """A smart plug (template switch) with its relay and its reachability as input booleans.

    ``switch.stuck`` is a plug whose relay never follows its commands.
    """
    assert await async_setup_component(
        hass,
        "input_boolean",
        {"input_boolean": {"relay": {}, "online": {"initial": True}, "ignored": {}}},
    )
    assert await async_setup_component(
        hass,
        "template",
        {
            "template": [
                {
                    "switch": [
                        _switch("Panel plug", "panel_plug", RELAY, RELAY, RELAY),
                        _switch("Stuck", "stuck", RELAY, "input_boolean.ignored", RELAY),
                    ]
                }
            ]
        },
    )
    await hass.async_block_till_done()
    assert hass.states.get(PLUG).state == STATE_OFF
    return PLUG


def _entry(hass: HomeAssistant, entity_id: str = PLUG) -> MockConfigEntry:
    entry = plug_panel_entry(entity_id)
    entry.add_to_hass(hass)
    return entry


@pytest.fixture
async def wrapped_entry(hass: HomeAssistant, plug: str) -> MockConfigEntry:
    return await _plug_panel(hass)


async def _plug_panel(hass: HomeAssistant) -> MockConfigEntry:
    """The plug wrapped as a panel, set up."""
    entry = _entry(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


def _entity_id(hass: HomeAssistant, platform: str, key: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"entity_{PLUG}_{key}")
    assert entity_id is not None
    return entity_id


@pytest.fixture
def light(hass: HomeAssistant, wrapped_entry: MockConfigEntry) -> str:
    """The wrapped panel's light entity."""
    return _entity_id(hass, "light", "light")


async def _action(hass: HomeAssistant, service: str, entity_id: str, **data: Any) -> None:
    """Call one of the integration's actions on one panel."""
    await hass.services.async_call(
        DOMAIN, service, {ATTR_ENTITY_ID: entity_id, **data}, blocking=True
    )


async def _light(hass: HomeAssistant, service: str, entity_id: str) -> None:
    await hass.services.async_call("light", service, {ATTR_ENTITY_ID: entity_id}, blocking=True)
    await hass.async_block_till_done()


async def _relay(hass: HomeAssistant, service: str, entity_id: str = RELAY) -> None:
    await hass.services.async_call(
        "input_boolean", service, {ATTR_ENTITY_ID: entity_id}, blocking=True
    )
    # The template switch re-renders, then its state change reaches the panel: two rounds.
    await hass.async_block_till_done()
    await hass.async_block_till_done()


async def test_session_switches_the_plug_on_and_off(
    hass: HomeAssistant, wrapped_entry: MockConfigEntry, light: str, freezer: FrozenDateTimeFactory
) -> None:
    assert hass.states.get(light).state == STATE_OFF
    sessions = wrapped_entry.runtime_data.sessions
    assert sessions.panel_settings.profile == PLUG_PROFILE

    started = dt_util.utcnow()
    await _light(hass, SERVICE_TURN_ON, light)
    assert hass.states.get(PLUG).state == STATE_ON
    assert hass.states.get(RELAY).state == STATE_ON
    assert hass.states.get(light).state == STATE_ON
    session = sessions.session
    assert session is not None
    assert session.origin is SessionOrigin.PLANNED
    assert session.ends_at == started + timedelta(minutes=10)

    await advance(hass, freezer, timedelta(minutes=10))
    assert hass.states.get(RELAY).state == STATE_OFF
    assert hass.states.get(PLUG).state == STATE_OFF
    assert hass.states.get(light).state == STATE_OFF
    assert sessions.session is None
    assert len(sessions.history) == 1
    # 10 mW/cm² for 10 minutes.
    assert sessions.history.records[-1].dose.total == pytest.approx(6.0, rel=1e-3)


async def test_light_off_ends_the_session_and_the_plug(
    hass: HomeAssistant, wrapped_entry: MockConfigEntry, light: str
) -> None:
    await _light(hass, SERVICE_TURN_ON, light)
    assert hass.states.get(PLUG).state == STATE_ON

    await _light(hass, SERVICE_TURN_OFF, light)
    assert hass.states.get(PLUG).state == STATE_OFF
    assert hass.states.get(light).state == STATE_OFF
    assert wrapped_entry.runtime_data.sessions.session is None


async def test_plug_switched_on_elsewhere_is_reported_and_governed(
    hass: HomeAssistant, wrapped_entry: MockConfigEntry, light: str
) -> None:
    await _relay(hass, SERVICE_TURN_ON)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(PLUG).state == STATE_ON
    assert hass.states.get(light).state == STATE_ON
    session = wrapped_entry.runtime_data.sessions.session
    assert session is not None
    assert session.origin is SessionOrigin.UNPLANNED

    # Someone switches the plug off again: the session closes.
    await _relay(hass, SERVICE_TURN_OFF)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(light).state == STATE_OFF
    assert wrapped_entry.runtime_data.sessions.session is None


async def test_unavailable_plug_makes_the_panel_unavailable(
    hass: HomeAssistant, wrapped_entry: MockConfigEntry, light: str
) -> None:
    timer = _entity_id(hass, "sensor", "session_timer")
    await _relay(hass, SERVICE_TURN_OFF, ONLINE)
    assert hass.states.get(PLUG).state == STATE_UNAVAILABLE
    assert hass.states.get(light).state == STATE_UNAVAILABLE
    assert hass.states.get(timer).state == STATE_UNAVAILABLE

    await _relay(hass, SERVICE_TURN_ON, ONLINE)
    assert hass.states.get(light).state == STATE_OFF
    assert hass.states.get(timer).state != STATE_UNAVAILABLE


def _our_device(hass: HomeAssistant, entry: MockConfigEntry) -> dr.DeviceEntry:
    # By config entry: looking a device up by identifiers changed across releases.
    (device,) = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    assert device.identifiers == {(DOMAIN, f"entity_{PLUG}")}
    return device


async def test_device_without_a_device_of_its_own(
    hass: HomeAssistant, wrapped_entry: MockConfigEntry
) -> None:
    device = _our_device(hass, wrapped_entry)
    assert device.name == "Plug panel"
    assert device.model == "Wrapped switch"
    assert device.manufacturer is None
    assert device.connections == set()


async def test_diagnostics_show_the_wrapped_kind_and_its_state(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    wrapped_entry: MockConfigEntry,
) -> None:
    """A maintainer sees what kind of entity is wrapped and what the panel last said of it."""
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, wrapped_entry)
    assert diagnostics["wrapped"] == {"domain": "switch"}
    assert diagnostics["state"]["connected"] is True
    assert diagnostics["state"]["is_on"] is False
    assert diagnostics["capabilities"]["channels"] == []
    assert diagnostics["entry"]["title"] == "**REDACTED**"


async def test_device_takes_maker_and_model_of_the_wrapped_device(
    hass: HomeAssistant, plug: str
) -> None:
    other = MockConfigEntry(domain="shelly")
    other.add_to_hass(hass)
    device_registry = dr.async_get(hass)
    plug_device = device_registry.async_get_or_create(
        config_entry_id=other.entry_id,
        identifiers={("shelly", "plug-1")},
        manufacturer="Shelly",
        model="Plug S",
    )
    er.async_get(hass).async_update_entity(plug, device_id=plug_device.id)
    entry = await _plug_panel(hass)

    device = _our_device(hass, entry)
    assert (device.manufacturer, device.model) == ("Shelly", "Plug S")
    assert device.connections == set()


async def test_missing_entity_is_not_ready(hass: HomeAssistant) -> None:
    entry = _entry(hass, "switch.nowhere")
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert "switch.nowhere" in entry.reason


async def test_unknown_state_is_connected_but_not_known(hass: HomeAssistant) -> None:
    hass.states.async_set("light.esphome", STATE_UNKNOWN)
    panel = EntityPanel(hass, "light.esphome", clock=_clock)
    seen: list[PanelState] = []
    panel.subscribe(seen.append)
    state = await panel.update()
    assert state.connected
    assert state.is_on is None
    # Attribute changes do not make a new report.
    hass.states.async_set("light.esphome", STATE_UNKNOWN, {"brightness": 3})
    await hass.async_block_till_done()
    assert len(seen) == 1
    hass.states.async_set("light.esphome", STATE_ON)
    await hass.async_block_till_done()
    assert seen[-1].is_on is True
    await panel.disconnect()
    await panel.disconnect()


async def test_missing_entity_cannot_be_read_or_switched(hass: HomeAssistant) -> None:
    panel = EntityPanel(hass, "switch.nowhere", clock=_clock)
    with pytest.raises(PanelConnectionError):
        await panel.update()
    with pytest.raises(PanelConnectionError):
        await panel.set_power(True)
    await panel.disconnect()


async def test_already_in_the_wanted_state(hass: HomeAssistant, plug: str) -> None:
    panel = EntityPanel(hass, PLUG, clock=_clock)
    assert await panel.set_power(False) == pytest.approx(_clock())
    assert hass.states.get(RELAY).state == STATE_OFF
    await panel.disconnect()


async def test_ack_timeout(hass: HomeAssistant, plug: str) -> None:
    panel = EntityPanel(hass, STUCK, clock=_clock)
    with patch.object(wrapped, "ACK_TIMEOUT_S", 0.05), pytest.raises(PanelTimeoutError):
        await panel.set_power(True)
    assert hass.states.get(STUCK).state == STATE_OFF
    assert panel._waiters == []
    await panel.disconnect()


async def test_service_error_is_a_connection_error(hass: HomeAssistant, plug: str) -> None:
    panel = EntityPanel(hass, PLUG, clock=_clock)
    await panel.connect()
    hass.services.async_remove("switch", SERVICE_TURN_ON)
    with pytest.raises(PanelConnectionError, match=PLUG):
        await panel.set_power(True)
    await panel.disconnect()


async def test_disconnect_fails_a_command_in_flight(hass: HomeAssistant, plug: str) -> None:
    panel = EntityPanel(hass, STUCK, clock=_clock)
    task = asyncio.create_task(panel.set_power(True))
    while not panel._waiters:  # noqa: ASYNC110  (the command is sent; nothing to wait on)
        await asyncio.sleep(0)
    await panel.disconnect()
    with pytest.raises(PanelConnectionError, match="closed"):
        await task


async def test_ack_is_the_confirming_state(hass: HomeAssistant, plug: str) -> None:
    panel = EntityPanel(hass, PLUG, clock=_clock)
    acked = await panel.set_power(True)
    assert panel.state.is_on is True
    assert acked == pytest.approx(_clock())
    assert hass.states.get(RELAY).state == STATE_ON
    acked = await panel.set_power(False)
    assert panel.state.is_on is False
    await panel.disconnect()


# Two panels, one person -----------------------------------------------------------------


async def test_a_session_on_another_panel_counts_and_a_removed_panel_locks_nothing(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    plug: str,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A Bluetooth panel and a plug panel, both on the whole body: while the Bluetooth
    panel's session runs, the plug's start is refused by the spacing (the same skin). The
    Bluetooth panel removed mid-session: its session is recorded as far as it ran, its
    protocol run and settings go, and nothing of it keeps the plug's area busy."""
    bluetooth = dimmed_integration
    plug_entry = await _plug_panel(hass)
    plug_light = _entity_id(hass, "light", "light")
    store = hass.data[DATA_STORE]

    await _action(hass, "start_protocol", BLUETOOTH_LIGHT, protocol="whole_body_wellness")
    await _action(hass, "start_session", BLUETOOTH_LIGHT, minutes=10)
    await hass.async_block_till_done(wait_background_tasks=True)
    running = bluetooth.runtime_data.sessions.session
    assert running is not None
    assert emulator.is_on
    plug_lockout = _entity_id(hass, "binary_sensor", "lockout")
    plug_today = _entity_id(hass, "sensor", "dose_today")
    assert hass.states.get(plug_lockout).state == STATE_ON  # told at once, by the other panel
    assert float(hass.states.get(plug_today).state) == 0.0  # nothing recorded yet

    with pytest.raises(ServiceValidationError) as refused:
        await _action(hass, "start_session", plug_light, minutes=5)
    # Said as it is: the session on this skin has not ended, it runs on the other panel until
    # its end (not "the last session on this skin ended less than a minute ago").
    assert refused.value.translation_key == "refused_spacing_running"
    named = refused.value.translation_placeholders
    assert named is not None
    assert running.ends_at is not None
    assert named["ends_at"] == dt_util.as_local(running.ends_at).strftime("%H:%M")
    assert named["next_allowed_at"] == when_words(running.ends_at + timedelta(hours=20))
    assert hass.states.get(RELAY).state == STATE_OFF
    # Asked how much it would give: nothing, for the same reason.
    plan = plug_entry.runtime_data.sessions.planner.plan(minutes=5)
    assert plan.verdict.outcome.value == "refused"

    freezer.tick(timedelta(minutes=4))
    assert await hass.config_entries.async_remove(bluetooth.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert bluetooth.entry_id not in store.active
    assert bluetooth.entry_id not in store.settings
    assert not [p for p in store.plans.values() if p.get("panel_id") == bluetooth.entry_id]
    (record,) = [r for r in store.history if r.id == running.id]
    assert record.status.value == "stopped"
    assert record.on_seconds == pytest.approx(4 * 60)  # as far as it ran, not its plan
    assert record.dose.total == pytest.approx(12.0 * 4 * 60 / 1000)
    assert float(hass.states.get(plug_today).state) == pytest.approx(record.dose.total, abs=0.01)
    assert hass.states.get(plug_lockout).state == STATE_ON  # spaced from the recorded end

    # The spacing runs from the end of what was recorded, and ends.
    await advance(hass, freezer, timedelta(hours=20, seconds=1))
    assert hass.states.get(plug_lockout).state == STATE_OFF
    await _action(hass, "start_protocol", plug_light, protocol="whole_body_wellness")
    await _action(hass, "start_session", plug_light, minutes=5)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(RELAY).state == STATE_ON


async def test_one_call_for_two_panels_on_the_same_skin_starts_neither(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    plug: str,
) -> None:
    """start_session aimed at two panels that would treat the same skin at once is refused
    as a whole, not started on the first and refused on the second; any target that cannot
    start refuses the call before anything starts; override_spacing starts both."""
    plug_entry = await _plug_panel(hass)
    both = {ATTR_ENTITY_ID: [BLUETOOTH_LIGHT, _entity_id(hass, "light", "light")]}

    with pytest.raises(ServiceValidationError) as refused:
        await hass.services.async_call(
            DOMAIN, "start_session", both | {"minutes": 5}, blocking=True
        )
    assert refused.value.translation_key == "targets_share_skin"
    named = refused.value.translation_placeholders
    assert named is not None
    assert {named["first"], named["second"]} == {dimmed_integration.title, plug_entry.title}
    assert named["area"] == named["other"] == "whole body"  # as a person reads it
    assert not emulator.is_on
    assert hass.states.get(RELAY).state == STATE_OFF
    assert dimmed_integration.runtime_data.sessions.session is None
    assert plug_entry.runtime_data.sessions.session is None

    # The plug busy already: refused before the Bluetooth panel is switched on.
    await _light(hass, SERVICE_TURN_ON, _entity_id(hass, "light", "light"))
    with pytest.raises(ServiceValidationError) as busy:
        await hass.services.async_call(
            DOMAIN,
            "start_session",
            both | {"minutes": 5, "override_spacing": True},
            blocking=True,
        )
    assert busy.value.translation_key == "session_already_running"
    assert not emulator.is_on
    await plug_entry.runtime_data.sessions.runner.async_stop()
    await hass.async_block_till_done(wait_background_tasks=True)

    await hass.services.async_call(
        DOMAIN, "start_session", both | {"minutes": 5, "override_spacing": True}, blocking=True
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert emulator.is_on
    assert hass.states.get(RELAY).state == STATE_ON


async def test_one_protocol_call_for_two_panels_on_one_area_starts_no_run(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry, plug: str
) -> None:
    """An area takes one run: start_protocol aimed at two panels on the same area is refused
    before either run starts, not started on the first and refused on the second."""
    plug_entry = await _plug_panel(hass)
    both = {ATTR_ENTITY_ID: [BLUETOOTH_LIGHT, _entity_id(hass, "light", "light")]}

    with pytest.raises(ServiceValidationError) as refused:
        await hass.services.async_call(
            DOMAIN, "start_protocol", both | {"protocol": "hair_growth"}, blocking=True
        )
    assert refused.value.translation_key == "protocol_area_busy"
    assert hass.data[DATA_STORE].plans == {}
    assert dimmed_integration.runtime_data.protocols.unfinished == []
    assert plug_entry.runtime_data.protocols.unfinished == []

    # On two areas, both start.
    await _action(hass, "start_protocol", BLUETOOTH_LIGHT, protocol="hair_growth")
    await _action(
        hass, "start_protocol", _entity_id(hass, "light", "light"), protocol="skin_rejuvenation"
    )
    assert len(hass.data[DATA_STORE].plans) == 2
