"""A Tuya panel in Home Assistant: LAN discovery on loopback and sessions end to end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Generator
from datetime import timedelta
import logging
import math
from pathlib import Path
import socket
import tracemalloc
from typing import Any
from unittest.mock import AsyncMock, patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntry, ConfigEntryState, ConfigFlowResult
from homeassistant.const import (
    ATTR_ENTITY_ID,
    CONF_HOST,
    CONF_MAC,
    EVENT_HOMEASSISTANT_STOP,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.service_info.dhcp import DhcpServiceInfo
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.red_light_therapy import discovery, neighbours
from custom_components.red_light_therapy.const import (
    CONF_DEVICE_ID,
    CONF_DP_MAP,
    CONF_LOCAL_KEY,
    CONF_PANEL_TYPE,
    CONF_PRESET,
    CONF_PROFILE,
    CONF_VERSION,
    DEFAULT_SESSION_MINUTES,
    DOMAIN,
)
from custom_components.red_light_therapy.diagnostics import async_get_config_entry_diagnostics
from custom_components.red_light_therapy.panels.base import PanelConnectionError
from custom_components.red_light_therapy.panels.tuya import TuyaPanel, protocol
from custom_components.red_light_therapy.panels.tuya.discovery import MAX_DEVICES
from custom_components.red_light_therapy.panels.tuya.emulator import TuyaEmulator
from custom_components.red_light_therapy.session_manager import SessionManager
from custom_components.red_light_therapy.therapy import (
    PRESET_PROFILES,
    SessionOrigin,
    SessionStatus,
    blockbluelight_profile,
)

from . import emulated_tuya
from .bench.measure import run_clock_with_sockets
from .common import advance
from .emulated_tuya import HOST, MAC, OTHER_MAC, TITLE, entry_data, reachable_tuya_panel
from .panels.tuya.conftest import DEVICE_ID, LOCAL_KEY, WRONG_KEY
from .waiting import wait_until

pytestmark = pytest.mark.usefixtures("socket_enabled")

version_fixture = emulated_tuya.version_fixture  # the fixture ``version``: 3.3, 3.4, 3.5
LIGHT = f"light.tuya_panel_{DEVICE_ID[-4:]}"
COUNTDOWN_DP = "26"  # generic_light
NEW_KEY = "a1b2c3d4e5f6a7b8"  # what re-pairing in the app gives the panel
SWITCH_DP = "20"


async def spin_until(predicate: Callable[[], bool]) -> None:
    """Like wait_until, for tests under ``freezer``: the loop's clock stands still there."""
    for _ in range(5000):
        if predicate():
            return
        await asyncio.sleep(0)
    assert predicate(), "condition not reached"


@pytest.fixture(autouse=True)
def loopback_discovery() -> Generator[None]:
    """The integration's UDP listener on an ephemeral loopback port, never the real ones."""
    with (
        patch.object(discovery, "DISCOVERY_HOST", HOST),
        patch.object(discovery, "DISCOVERY_PORTS", (0,)),
    ):
        yield


@pytest.fixture
async def emulator(version: str) -> AsyncIterator[TuyaEmulator]:
    """A Tuya light panel on loopback, on Home Assistant's clock; the integration reaches it.

    It broadcasts only when a test says so (``broadcast_to_listener``), to the test's listener.
    """
    async with reachable_tuya_panel(version, broadcast_address=HOST) as device:
        yield device


def tuya_entry(version: str, host: str = HOST, **extra: Any) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title=TITLE,
        unique_id=DEVICE_ID,
        data=entry_data(version, host, **extra),
    )


async def broadcast_to_listener(hass: HomeAssistant, emulator: TuyaEmulator) -> None:
    listener = hass.data[discovery.DATA_TUYA_DISCOVERY]
    (emulator.broadcast_port,) = listener.bound_ports
    await emulator.send_broadcast()


async def the_flow(hass: HomeAssistant) -> ConfigFlowResult:
    """The one discovery flow, once it has started."""
    await wait_until(lambda: bool(hass.config_entries.flow.async_progress_by_handler(DOMAIN)))
    (flow,) = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    return flow


async def forgotten_then_offered_again(
    hass: HomeAssistant, emulator: TuyaEmulator, entry: ConfigEntry
) -> ConfigFlowResult:
    """``entry`` removed: the listener forgets the panel, and its next broadcast offers it
    again (the flow returned)."""
    listener = hass.data[discovery.DATA_TUYA_DISCOVERY]
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert DEVICE_ID not in listener.devices
    await emulator.send_broadcast()
    flow = await the_flow(hass)
    assert flow["context"]["unique_id"] == DEVICE_ID
    return flow


async def the_panel_obeys(hass: HomeAssistant, emulator: TuyaEmulator) -> None:
    """The light turned on through Home Assistant switches the panel on, and off again."""
    await hass.services.async_call("light", "turn_on", {ATTR_ENTITY_ID: LIGHT}, blocking=True)
    assert emulator.is_on
    assert hass.states.get(LIGHT).state == STATE_ON
    await hass.services.async_call("light", "turn_off", {ATTR_ENTITY_ID: LIGHT}, blocking=True)
    assert not emulator.is_on
    assert hass.states.get(LIGHT).state == STATE_OFF


def assert_an_unplanned_session_runs(hass: HomeAssistant, sessions: SessionManager) -> None:
    """Use at the panel is a running unplanned session, and the light shows it on."""
    session = sessions.session
    assert session is not None
    assert session.origin is SessionOrigin.UNPLANNED
    assert session.status is SessionStatus.RUNNING
    assert hass.states.get(LIGHT).state == STATE_ON


async def set_up(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add and set up ``entry``; its panel answers."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


@pytest.fixture
async def loaded_entry(hass: HomeAssistant, emulator: TuyaEmulator) -> MockConfigEntry:
    """The panel's entry, of the emulator's version, set up; the panel answers."""
    entry = tuya_entry(emulator.version.value)
    await set_up(hass, entry)
    return entry


async def set_up_out_of_reach(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add and set up ``entry`` while its panel cannot be reached: Home Assistant retries."""
    entry.add_to_hass(hass)
    unreachable = AsyncMock(side_effect=PanelConnectionError("no route"))
    with patch.object(TuyaPanel, "update", unreachable):
        await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY


async def unload(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


# Discovery -----------------------------------------------------------------------------------


async def test_broadcast_starts_a_discovery_flow_and_sets_up(
    hass: HomeAssistant, emulator: TuyaEmulator, version: str
) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    await broadcast_to_listener(hass, emulator)
    flow = await the_flow(hass)
    assert flow["step_id"] == "tuya_key"
    assert flow["context"]["source"] == config_entries.SOURCE_INTEGRATION_DISCOVERY
    assert flow["context"]["unique_id"] == DEVICE_ID

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_LOCAL_KEY: LOCAL_KEY, CONF_DP_MAP: "generic_light"}
    )
    assert result["step_id"] == "tuya_profile"
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_PRESET: "advantage1500"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_VERSION] == version
    entry = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get(LIGHT).state == STATE_OFF
    assert entry.runtime_data.sessions.panel_settings.profile == PRESET_PROFILES["advantage1500"]

    # Heard again at the same address: nothing new.
    listener = hass.data[discovery.DATA_TUYA_DISCOVERY]
    listener.devices.clear()
    await emulator.send_broadcast()
    await wait_until(lambda: bool(listener.devices))  # the listener has taken it in
    await hass.async_block_till_done()
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


@pytest.mark.parametrize("version", ["3.3"])
async def test_known_device_at_new_address_moves_its_entry(
    hass: HomeAssistant, emulator: TuyaEmulator
) -> None:
    # The entry's panel is unreachable at its old address; the integration still sets up.
    entry = tuya_entry("3.3", host="10.0.0.9")
    await set_up_out_of_reach(hass, entry)

    await broadcast_to_listener(hass, emulator)  # heard at 127.0.0.1
    await wait_until(lambda: entry.data[CONF_HOST] == HOST)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED  # reloaded at the new address
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


def send_to_listener(hass: HomeAssistant, packet: bytes) -> None:
    """A datagram from 127.0.0.1 to the integration's listener."""
    (port,) = hass.data[discovery.DATA_TUYA_DISCOVERY].bound_ports
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(packet, (HOST, port))


@pytest.mark.parametrize("version", ["3.4"])
@pytest.mark.parametrize("claimed", ["8.8.8.8", "not-an-ip"])
async def test_a_broadcast_never_moves_a_panel_away_from_its_sender(
    hass: HomeAssistant, emulator: TuyaEmulator, claimed: str, loaded_entry: MockConfigEntry
) -> None:
    """The payload says the panel is elsewhere; the datagram came from where it is: the entry
    stays, is not reloaded, and no flow starts."""
    entry = loaded_entry
    panel = entry.runtime_data.panel
    emulator.advertised_ip = claimed
    await broadcast_to_listener(hass, emulator)
    await wait_until(lambda: DEVICE_ID in hass.data[discovery.DATA_TUYA_DISCOVERY].devices)
    await hass.async_block_till_done()
    assert entry.data[CONF_HOST] == HOST
    assert entry.runtime_data.panel is panel  # not reloaded
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    await unload(hass, entry)


@pytest.mark.parametrize("version", ["3.3"])
async def test_a_broadcast_of_an_unsupported_version_applies_nothing(
    hass: HomeAssistant, emulator: TuyaEmulator
) -> None:
    """The panel's entry points elsewhere; a broadcast from here announcing protocol 3.2 does
    not move it (nor start a flow)."""
    entry = tuya_entry("3.3", host="10.0.0.9")
    await set_up_out_of_reach(hass, entry)
    packet = protocol.encode_broadcast(
        {"gwId": DEVICE_ID, "ip": HOST, "version": "3.2"}, protocol.Version.V33
    )
    send_to_listener(hass, packet)
    listener = hass.data[discovery.DATA_TUYA_DISCOVERY]
    await wait_until(lambda: DEVICE_ID in listener.devices)
    await hass.async_block_till_done()
    assert entry.data[CONF_HOST] == "10.0.0.9"
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_flood_of_device_ids_keeps_memory_and_flows_bounded(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """10,000 distinct ids broadcast at the listener: a bounded table, no raw payloads kept,
    at most ``MAX_PENDING_FLOWS`` discovery flows, and little memory."""
    assert await async_setup_component(hass, DOMAIN, {})
    listener = hass.data[discovery.DATA_TUYA_DISCOVERY]
    (port,) = listener.bound_ports
    packets = [
        protocol.encode_broadcast(
            {"gwId": f"bf{index:018d}", "ip": HOST, "version": "3.3", "productKey": "p" * 16},
            protocol.Version.V33,
        )
        for index in range(10_000)
    ]
    await hass.async_block_till_done()
    # Not the debug lines the test's log capture would keep: the integration's own memory.
    caplog.set_level(logging.INFO, logger="custom_components.red_light_therapy")
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for packet in packets:
            listener._received(packet, HOST, port)
        await hass.async_block_till_done()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    print(f"10,000 discovered ids: {grown / 1e6:.1f} MB kept, {len(flows)} flows")
    assert len(flows) == discovery.MAX_PENDING_FLOWS
    assert len(listener.devices) <= MAX_DEVICES
    assert grown < 5_000_000
    for flow in flows:
        hass.config_entries.flow.async_abort(flow["flow_id"])
    # A slot is free again: a device heard once more is offered.
    listener._received(packets[-1], HOST, port)
    await hass.async_block_till_done()
    assert len(hass.config_entries.flow.async_progress_by_handler(DOMAIN)) == 1


async def test_scan_on_a_fresh_install_adds_a_working_panel(
    hass: HomeAssistant, emulator: TuyaEmulator, version: str
) -> None:
    """No entry yet, so no ``async_setup`` and no listener: the Wi-Fi step scans by itself."""
    assert discovery.DATA_TUYA_DISCOVERY not in hass.data
    with patch.object(discovery, "SCAN_S", 0.3):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": config_entries.SOURCE_USER}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "tuya"}
        )
        assert result["type"] is FlowResultType.SHOW_PROGRESS
        await broadcast_to_listener(hass, emulator)  # the listener the scan started
        await hass.async_block_till_done()
        result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["step_id"] == "tuya_pick"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE_ID: DEVICE_ID}
    )
    assert result["step_id"] == "tuya_key"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_LOCAL_KEY: LOCAL_KEY, CONF_DP_MAP: "generic_light"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PRESET: "advantage1500"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.data[CONF_VERSION] == version
    await the_panel_obeys(hass, emulator)
    await unload(hass, entry)


@pytest.mark.parametrize("version", ["3.4"])
async def test_removed_panel_is_discovered_again(
    hass: HomeAssistant, emulator: TuyaEmulator, loaded_entry: MockConfigEntry
) -> None:
    entry = loaded_entry
    other = MockConfigEntry(domain=DOMAIN, unique_id="x", data={CONF_PANEL_TYPE: "nonsense"})
    other.add_to_hass(hass)
    listener = hass.data[discovery.DATA_TUYA_DISCOVERY]
    await broadcast_to_listener(hass, emulator)
    await wait_until(lambda: DEVICE_ID in listener.devices)
    await hass.async_block_till_done()
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)  # set up: no flow

    await hass.config_entries.async_remove(other.entry_id)  # not a Wi-Fi panel: nothing to do
    assert DEVICE_ID in listener.devices
    # Without a restart, its next broadcast offers it again.
    flow = await forgotten_then_offered_again(hass, emulator, entry)
    assert flow["context"]["source"] == config_entries.SOURCE_INTEGRATION_DISCOVERY
    assert flow["step_id"] == "tuya_key"


@pytest.mark.parametrize("version", ["3.5"])
async def test_stop_ignoring_a_panel_discovers_it_again(
    hass: HomeAssistant, emulator: TuyaEmulator
) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    listener = hass.data[discovery.DATA_TUYA_DISCOVERY]
    await broadcast_to_listener(hass, emulator)
    flow = await the_flow(hass)
    # "Ignore", as the frontend does it: the discovery key goes with the ignored entry.
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={
            "source": config_entries.SOURCE_IGNORE,
            "discovery_key": flow["context"]["discovery_key"],
        },
        data={"unique_id": DEVICE_ID, "title": TITLE},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    ignored = result["result"]
    await hass.async_block_till_done()
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert DEVICE_ID in listener.devices

    # "Stop ignoring" removes the ignored entry (async_remove_entry is not called for it).
    await forgotten_then_offered_again(hass, emulator, ignored)


async def test_removing_a_panel_without_discovery(hass: HomeAssistant) -> None:
    with patch.object(discovery, "DISCOVERY_PORTS", ()):
        assert await async_setup_component(hass, DOMAIN, {})
    entry = tuya_entry("3.3")
    entry.add_to_hass(hass)
    await hass.config_entries.async_remove(entry.entry_id)  # no listener to tell: harmless
    assert not hass.config_entries.async_entries(DOMAIN)


async def test_taken_ports_leave_discovery_off(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind((HOST, 0))  # no SO_REUSEADDR: nobody else can bind it
        port = taken.getsockname()[1]
        with patch.object(discovery, "DISCOVERY_PORTS", (port,)):
            assert await async_setup_component(hass, DOMAIN, {})
    assert discovery.DATA_TUYA_DISCOVERY not in hass.data
    assert caplog.text.count("Tuya discovery is off") == 1


async def test_listener_stops_with_home_assistant(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    listener = hass.data[discovery.DATA_TUYA_DISCOVERY]
    assert listener.running
    await discovery.async_start_tuya_discovery(hass)  # one listener per Home Assistant
    assert hass.data[discovery.DATA_TUYA_DISCOVERY] is listener
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert not listener.running
    assert discovery.DATA_TUYA_DISCOVERY not in hass.data
    await discovery.async_stop_tuya_discovery(hass)  # stopping twice is harmless


async def test_no_ports_no_listener(hass: HomeAssistant) -> None:
    with patch.object(discovery, "DISCOVERY_PORTS", ()):
        assert await async_setup_component(hass, DOMAIN, {})
    assert discovery.DATA_TUYA_DISCOVERY not in hass.data


# Sessions end to end -------------------------------------------------------------------------


async def test_session_arms_the_countdown_and_ends_on_time(
    hass: HomeAssistant,
    emulator: TuyaEmulator,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
) -> None:
    entry = tuya_entry(emulator.version.value)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    (device,) = dr.async_entries_for_config_entry(device_registry, entry.entry_id)
    assert (DOMAIN, DEVICE_ID) in device.identifiers
    assert device.manufacturer == "Tuya"
    assert device.model == "Dimmable Wi-Fi light panel"  # what a person calls it, not a key
    assert not device.connections

    await hass.services.async_call("light", "turn_on", {ATTR_ENTITY_ID: LIGHT}, blocking=True)
    session = entry.runtime_data.sessions.session
    assert session is not None
    # The default length, or less where the safety limits clamp it.
    seconds = math.ceil(session.planned_seconds)
    assert 0 < seconds <= DEFAULT_SESSION_MINUTES * 60
    # The hardware safety net went out with the power-on, in one message (never armed while
    # off), and is running on the panel.
    assert emulator.writes == [{SWITCH_DP: True, COUNTDOWN_DP: seconds}]
    assert emulator.is_on
    assert emulator.timer_remaining_s == seconds
    assert hass.states.get(LIGHT).state == STATE_ON

    freezer.tick(timedelta(seconds=session.planned_seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    await spin_until(lambda: hass.states.get(LIGHT).state == STATE_OFF)
    assert not emulator.is_on
    assert entry.runtime_data.sessions.session is None
    assert emulator.on_seconds() == pytest.approx(session.planned_seconds, abs=1)

    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    data = diagnostics["entry"]["data"]
    assert data[CONF_LOCAL_KEY] == data[CONF_DEVICE_ID] == data[CONF_HOST] == "**REDACTED**"
    assert LOCAL_KEY not in str(diagnostics)
    assert diagnostics["tuya"]["version"] == emulator.version.value
    assert diagnostics["tuya"]["dps"][SWITCH_DP] is False

    # Unloading closes the link: no heartbeat, no reconnect, no connection left.
    panel = entry.runtime_data.panel
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    await spin_until(lambda: emulator.clients == 0)
    assert not panel.connected


async def test_a_refused_turn_on_with_brightness_leaves_the_panel_as_it_was(
    hass: HomeAssistant,
    emulator: TuyaEmulator,
    freezer: FrozenDateTimeFactory,
    loaded_entry: MockConfigEntry,
) -> None:
    """During a lockout, "turn on at 50 %" is refused and the panel's brightness stays."""
    await hass.services.async_call("light", "turn_on", {ATTR_ENTITY_ID: LIGHT}, blocking=True)
    await advance(hass, freezer, timedelta(minutes=2))  # a treatment: the spacing runs
    await hass.services.async_call("light", "turn_off", {ATTR_ENTITY_ID: LIGHT}, blocking=True)
    await hass.async_block_till_done(wait_background_tasks=True)
    levels, writes = emulator.levels, len(emulator.writes)

    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            "light", "turn_on", {ATTR_ENTITY_ID: LIGHT, "brightness_pct": 50}, blocking=True
        )

    assert err.value.translation_key == "refused_spacing"
    assert emulator.writes[writes:] == []
    assert emulator.levels == levels
    assert not emulator.is_on
    await unload(hass, loaded_entry)


@pytest.fixture
async def plug(version: str) -> AsyncIterator[TuyaEmulator]:
    """A Tuya plug as they really are: its countdown toggles the switch at zero (armed while
    off, it switches the plug ON), and switching on clears a countdown armed before."""
    async with reachable_tuya_panel(
        version, "generic_switch", countdown_toggles=True, power_on_clears_countdown=True
    ) as device:
        yield device


@pytest.mark.parametrize("ended_by", ["integration", "countdown"])
async def test_a_session_on_a_toggling_plug_has_its_countdown_and_ends_on_time(
    hass: HomeAssistant, plug: TuyaEmulator, freezer: FrozenDateTimeFactory, ended_by: str
) -> None:
    """Switched on with the countdown in one message, confirmed running; whichever ends the
    session (the integration's own end, or the plug's countdown), the plug stays off."""
    switch, countdown = "1", "9"  # generic_switch
    entry = tuya_entry(plug.version.value, **{CONF_DP_MAP: "generic_switch"})
    await set_up(hass, entry)
    sessions = entry.runtime_data.sessions
    panel = entry.runtime_data.panel

    await hass.services.async_call("light", "turn_on", {ATTR_ENTITY_ID: LIGHT}, blocking=True)
    session = sessions.session
    assert session is not None
    assert session.started_at is not None
    seconds = math.ceil(session.planned_seconds)
    assert plug.writes == [{switch: True, countdown: seconds}]
    assert plug.is_on
    assert plug.timer_remaining_s == seconds  # the power-on did not clear it
    assert panel.state.timer_remaining_s == seconds  # as the plug confirmed
    assert session.device_deadline == session.started_at + timedelta(seconds=seconds)
    assert hass.states.get(LIGHT).state == STATE_ON

    if ended_by == "countdown":  # Home Assistant is late: the plug's countdown ends it
        freezer.tick(timedelta(seconds=seconds))
        plug.tick()
        await spin_until(lambda: hass.states.get(LIGHT).state == STATE_OFF)
    else:
        freezer.tick(timedelta(seconds=session.planned_seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    await spin_until(lambda: hass.states.get(LIGHT).state == STATE_OFF)
    assert sessions.session is None
    assert not plug.is_on
    assert plug.on_seconds() == pytest.approx(session.planned_seconds, abs=1)

    # Long after: no countdown was left to toggle the plug on again.
    freezer.tick(timedelta(seconds=seconds + 60))
    plug.tick()
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert not plug.is_on
    assert plug.timer_remaining_s == 0
    assert len(plug.emission_log) == 1
    assert hass.states.get(LIGHT).state == STATE_OFF
    await unload(hass, entry)


@pytest.mark.parametrize("version", ["3.4"])
async def test_a_power_on_the_plug_took_silently_becomes_a_governed_session(
    hass: HomeAssistant, plug: TuyaEmulator
) -> None:
    """The plug applies the power-on (with its countdown) but neither acknowledges nor
    reports it: the turn-on fails, and the panel is read at once. It is on, so it is an
    unplanned session under the limits, not a panel emitting unseen until the next poll."""
    entry = tuya_entry(plug.version.value, **{CONF_DP_MAP: "generic_switch"})
    await set_up(hass, entry)
    sessions = entry.runtime_data.sessions
    plug.ack_writes = plug.push_writes = False

    with pytest.raises(HomeAssistantError):
        await hass.services.async_call("light", "turn_on", {ATTR_ENTITY_ID: LIGHT}, blocking=True)
    assert plug.is_on  # it did switch on
    plug.ack_writes = plug.push_writes = True
    await spin_until(lambda: sessions.session is not None)

    assert_an_unplanned_session_runs(hass, sessions)
    assert plug.timer_remaining_s > 0  # its countdown runs: it switches itself off
    await unload(hass, entry)


# A key the panel refuses -------------------------------------------------------------------


# The idle link: a heartbeat, pushes, no status reads ------------------------------------------

STATUS_READS = (protocol.Command.DP_QUERY, protocol.Command.DP_QUERY_NEW)
STEP = timedelta(seconds=5)
DEVICE_IDLE_TIMEOUT_S = 30
"""Devices close a TCP client they have heard nothing from for about 30 s (DESIGN.md)."""


def status_reads(emulator: TuyaEmulator) -> int:
    return sum(cmd in STATUS_READS for cmd in emulator.commands)


async def test_an_idle_panel_is_read_once_and_then_only_listened_to(
    hass: HomeAssistant, emulator: TuyaEmulator, freezer: FrozenDateTimeFactory
) -> None:
    """Setup reads the panel once; an hour of the held link reads nothing more, yet a press at
    the panel's button shows at once (the device pushes it)."""
    emulator.idle_timeout_s = DEVICE_IDLE_TIMEOUT_S
    entry = tuya_entry(emulator.version.value)
    await set_up(hass, entry)
    assert status_reads(emulator) == 1

    await run_clock_with_sockets(hass, freezer, timedelta(hours=1), STEP)
    assert status_reads(emulator) == 1
    # Kept alive by the heartbeat on a device that closes a silent client: one connection.
    assert emulator.commands.count(protocol.Command.HEART_BEAT) >= 3600 // DEVICE_IDLE_TIMEOUT_S
    assert emulator.idle_closes == 0
    assert emulator.connections == 1
    assert hass.states.get(LIGHT).state == STATE_OFF

    emulator.press_button()
    await spin_until(lambda: hass.states.get(LIGHT).state == STATE_ON)
    assert status_reads(emulator) == 1
    await unload(hass, entry)


async def test_a_lost_link_makes_the_panel_unavailable_until_it_is_back(
    hass: HomeAssistant,
    emulator: TuyaEmulator,
    freezer: FrozenDateTimeFactory,
    loaded_entry: MockConfigEntry,
) -> None:
    """The link drops and the panel stays out of reach: its entities become unavailable at the
    next look; once it answers again the link is re-opened, read once, and they are back."""
    entry = loaded_entry
    panel = entry.runtime_data.panel
    emulator.busy = True  # every new connection is closed at its first frame
    emulator.drop_connections()
    await spin_until(lambda: not panel.connected)

    await run_clock_with_sockets(hass, freezer, timedelta(minutes=6), STEP)
    assert hass.states.get(LIGHT).state == STATE_UNAVAILABLE

    emulator.busy = False
    emulator.apply_local({SWITCH_DP: True})  # switched on at the panel while out of reach
    reads = status_reads(emulator)
    back_by = dt_util.utcnow() + timedelta(minutes=2)  # the reconnect's wait is at most 1 min
    while not panel.connected:
        assert dt_util.utcnow() < back_by
        await run_clock_with_sockets(hass, freezer, STEP, STEP)
    assert status_reads(emulator) == reads + 1  # read once on the re-opened link
    assert hass.states.get(LIGHT).state == STATE_ON

    await run_clock_with_sockets(hass, freezer, timedelta(minutes=30), STEP)
    assert status_reads(emulator) == reads + 1
    await unload(hass, entry)


def reauth_flows(hass: HomeAssistant) -> list[Any]:
    return [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == config_entries.SOURCE_REAUTH
    ]


async def test_wrong_key_at_setup_asks_for_a_new_one(
    hass: HomeAssistant, emulator: TuyaEmulator, version: str
) -> None:
    entry = tuya_entry(version, **{CONF_LOCAL_KEY: WRONG_KEY})
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    # Not "retry later": no retry can help. Home Assistant asks for the key instead.
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert emulator.auth_failures >= 1
    (flow,) = reauth_flows(hass)
    assert flow["step_id"] == "reauth_confirm"
    assert flow["context"]["entry_id"] == entry.entry_id

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_LOCAL_KEY: LOCAL_KEY}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    # Reloaded with the new key, the panel answers and obeys.
    assert entry.data[CONF_LOCAL_KEY] == LOCAL_KEY
    assert entry.state is ConfigEntryState.LOADED
    await the_panel_obeys(hass, emulator)
    await unload(hass, entry)


async def test_busy_at_setup_is_retried_not_reauthenticated(
    hass: HomeAssistant, emulator: TuyaEmulator, version: str
) -> None:
    """The panel accepts the connection and closes it at the first frame, as a single-client
    device does while its app holds it: Home Assistant retries, it asks for no new key."""
    emulator.busy = True
    entry = tuya_entry(version)
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert not reauth_flows(hass)
    assert emulator.auth_failures == 0
    emulator.busy = False  # the app let go: the retry sets it up
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await unload(hass, entry)


@pytest.mark.parametrize("version", ["3.4"])
async def test_power_on_at_the_panel_after_garbage_is_a_governed_session(
    hass: HomeAssistant, emulator: TuyaEmulator, loaded_entry: MockConfigEntry
) -> None:
    """The panel reports nonsense on every data point (null, NaN, an infinite countdown, a
    list): Home Assistant keeps its state, the link stays up, and a power-on at the panel
    afterwards is an unplanned session under the limits, its countdown armed."""
    entry = loaded_entry
    panel = entry.runtime_data.panel
    sessions = entry.runtime_data.sessions
    emulator.report({SWITCH_DP: None, "22": math.nan, COUNTDOWN_DP: math.inf})
    emulator.report({SWITCH_DP: [1], "22": "600.0", COUNTDOWN_DP: 10**400})
    emulator.press_button()  # on at the panel
    await wait_until(lambda: sessions.session is not None)
    assert_an_unplanned_session_runs(hass, sessions)
    await wait_until(lambda: emulator.timer_remaining_s > 0)  # the limit is armed on it
    assert emulator.timer_remaining_s <= DEFAULT_SESSION_MINUTES * 60
    assert panel.connected
    await unload(hass, entry)


@pytest.mark.parametrize("version", ["3.3"])
async def test_unreachable_at_setup_is_retried_not_reauthenticated(
    hass: HomeAssistant, emulator: TuyaEmulator
) -> None:
    entry = tuya_entry("3.3")
    await set_up_out_of_reach(hass, entry)
    assert not reauth_flows(hass)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def repair_the_panel(emulator: TuyaEmulator, new_key: str) -> None:
    """The panel is re-paired in its app: it takes a new key and drops every link."""
    emulator.local_key = protocol.key_bytes(new_key)
    emulator.drop_connections()


@pytest.mark.parametrize("version", ["3.4"])
async def test_key_changed_while_running_asks_for_the_new_one(
    hass: HomeAssistant, emulator: TuyaEmulator, loaded_entry: MockConfigEntry
) -> None:
    entry = loaded_entry
    panel = entry.runtime_data.panel
    assert panel.connected

    await repair_the_panel(emulator, NEW_KEY)
    await wait_until(lambda: not panel.connected)
    await entry.runtime_data.coordinator.async_refresh()  # the idle poll
    await hass.async_block_till_done()
    (flow,) = reauth_flows(hass)
    assert hass.states.get(LIGHT).state == STATE_UNAVAILABLE

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"],
        {CONF_LOCAL_KEY: LOCAL_KEY},  # the old key: refused
    )
    assert result["errors"] == {"base": "invalid_auth"}
    assert not panel.connected  # the entry's own link was let go for the test
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_LOCAL_KEY: NEW_KEY}
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.data[CONF_LOCAL_KEY] == NEW_KEY
    assert entry.runtime_data.panel.local_key == protocol.key_bytes(NEW_KEY)
    assert hass.states.get(LIGHT).state == STATE_OFF
    await the_panel_obeys(hass, emulator)
    await unload(hass, entry)


@pytest.mark.parametrize("version", ["3.3"])
async def test_command_refused_for_the_key_asks_for_the_new_one(
    hass: HomeAssistant, emulator: TuyaEmulator, loaded_entry: MockConfigEntry
) -> None:
    entry = loaded_entry
    panel = entry.runtime_data.panel
    await repair_the_panel(emulator, NEW_KEY)
    await wait_until(lambda: not panel.connected)
    emulator.apply_local({SWITCH_DP: True})  # switched on at the panel meanwhile
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call("light", "turn_off", {ATTR_ENTITY_ID: LIGHT}, blocking=True)
    await hass.async_block_till_done()
    assert len(reauth_flows(hass)) == 1
    await unload(hass, entry)


# Reconfigure, the MAC and DHCP -------------------------------------------------------------


@pytest.mark.parametrize("version", ["3.5"])
async def test_reconfigure_a_loaded_panel(
    hass: HomeAssistant,
    emulator: TuyaEmulator,
    tmp_path: Path,
    device_registry: dr.DeviceRegistry,
    loaded_entry: MockConfigEntry,
) -> None:
    entry = loaded_entry
    coordinator = entry.runtime_data.coordinator
    panel = entry.runtime_data.panel

    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], reconfigure(CONF_LOCAL_KEY, WRONG_KEY)
    )
    assert result["errors"] == {"base": "invalid_auth"}
    # The entry's own link was let go for the test; the next poll opens it again.
    assert not panel.connected
    await coordinator.async_refresh()
    assert panel.connected
    assert entry.state is ConfigEntryState.LOADED

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], reconfigure(CONF_MAC, "A0:92:08:12:34:56")
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.panel is not panel
    (device,) = dr.async_entries_for_config_entry(device_registry, entry.entry_id)
    assert (dr.CONNECTION_NETWORK_MAC, MAC) in device.connections
    await unload(hass, entry)


def reconfigure(key: str, value: str) -> dict[str, str]:
    return {
        CONF_HOST: HOST,
        CONF_DEVICE_ID: DEVICE_ID,
        CONF_VERSION: "auto",
        CONF_DP_MAP: "generic_light",
        key: value,
    }


def arp_table(path: Path, *rows: str) -> str:
    """A neighbour table in /proc/net/arp's format."""
    header = "IP address       HW type     Flags       HW address            Mask     Device"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="ascii")
    return str(path)


async def test_setup_learns_the_mac_from_the_neighbour_table(
    hass: HomeAssistant,
    emulator: TuyaEmulator,
    tmp_path: Path,
    device_registry: dr.DeviceRegistry,
) -> None:
    table = arp_table(
        tmp_path / "arp",
        "10.0.0.1         0x1         0x2         11:22:33:44:55:66     *        eth0",
        f"{HOST}        0x1         0x2         A0:92:08:12:34:56     *        lo",
    )
    entry = tuya_entry(emulator.version.value)
    entry.add_to_hass(hass)
    with patch.object(neighbours, "ARP_TABLE", table):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
    assert entry.data[CONF_MAC] == MAC
    (device,) = dr.async_entries_for_config_entry(device_registry, entry.entry_id)
    assert device.connections == {(dr.CONNECTION_NETWORK_MAC, MAC)}
    # Diagnostics keep it private.
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["entry"]["data"][CONF_MAC] == "**REDACTED**"
    await unload(hass, entry)


@pytest.mark.parametrize("version", ["3.3"])
async def test_a_mac_given_is_kept_and_no_table_is_no_mac(
    hass: HomeAssistant, emulator: TuyaEmulator, tmp_path: Path
) -> None:
    given = tuya_entry("3.3", **{CONF_MAC: OTHER_MAC})
    given.add_to_hass(hass)
    table = arp_table(tmp_path / "arp", f"{HOST}  0x1  0x2  a0:92:08:12:34:56  *  lo")
    with patch.object(neighbours, "ARP_TABLE", table):
        assert await hass.config_entries.async_setup(given.entry_id)
        await hass.async_block_till_done()
    assert given.data[CONF_MAC] == OTHER_MAC  # what the user gave wins
    assert await hass.config_entries.async_remove(given.entry_id)

    learned = tuya_entry("3.3")
    learned.add_to_hass(hass)
    with patch.object(neighbours, "ARP_TABLE", str(tmp_path / "missing")):
        assert await hass.config_entries.async_setup(learned.entry_id)
        await hass.async_block_till_done()
    assert learned.state is ConfigEntryState.LOADED
    assert CONF_MAC not in learned.data
    assert await hass.config_entries.async_unload(learned.entry_id)
    await hass.async_block_till_done()


@pytest.mark.parametrize("version", ["3.3"])
async def test_dhcp_brings_a_moved_panel_back(hass: HomeAssistant, emulator: TuyaEmulator) -> None:
    entry = tuya_entry("3.3", host="10.0.0.9", **{CONF_MAC: MAC})
    await set_up_out_of_reach(hass, entry)

    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_DHCP},
        data=DhcpServiceInfo(ip=HOST, hostname="wifi-panel", macaddress=MAC.replace(":", "")),
    )
    assert result["reason"] == "already_configured"
    await hass.async_block_till_done()
    assert entry.data[CONF_HOST] == HOST
    assert entry.state is ConfigEntryState.LOADED  # reloaded at its new address
    await unload(hass, entry)


# The irradiance profile ----------------------------------------------------------------------


@pytest.mark.parametrize("version", ["3.3"])
async def test_the_chosen_profile_and_the_panel_brightness_make_the_irradiance(
    hass: HomeAssistant, emulator: TuyaEmulator
) -> None:
    profile = PRESET_PROFILES["helio_glow"]
    entry = tuya_entry("3.3", **{CONF_PROFILE: profile.to_dict()})
    await set_up(hass, entry)
    sessions = entry.runtime_data.sessions
    assert sessions.panel_settings.profile == profile
    full = profile.irradiance(sessions.panel_settings.distance_cm).total
    await entry.runtime_data.panel.set_levels({0: 50})
    await hass.async_block_till_done()
    assert sessions.panel_settings.irradiance is not None
    assert sessions.panel_settings.irradiance.total == pytest.approx(full / 2)
    await unload(hass, entry)


@pytest.mark.parametrize("version", ["3.3"])
async def test_an_entry_from_before_the_profile_step_keeps_loading(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    entry = loaded_entry  # no irradiance profile in its data
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.sessions.panel_settings.profile == blockbluelight_profile()
    await unload(hass, entry)
