"""A Wi-Fi panel whose user chose to connect to look every few minutes: the idle
link is closed, a press at the panel's button becomes a session under the limits within the
documented bound, and the choice is made (and takes effect at once) in the entry's options."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.light import DOMAIN as LIGHT_DOMAIN, SERVICE_TURN_OFF
from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.const import CONF_LINK_POLICY, DEFAULT_SESSION_MINUTES
from custom_components.red_light_therapy.panels.link_policy import (
    DETECT_BOUND_S,
    IDLE_GRACE_S,
    LOOK_INTERVAL_S,
    LinkPolicy,
)
from custom_components.red_light_therapy.panels.tuya import TuyaPanel
from custom_components.red_light_therapy.panels.tuya.emulator import TuyaEmulator
from custom_components.red_light_therapy.panels.tuya.protocol import Command
from custom_components.red_light_therapy.therapy import SessionOrigin, SessionStatus

from .bench.measure import run_clock_with_sockets
from .emulated_tuya import reachable_tuya_panel
from .test_tuya_setup import (
    DEVICE_IDLE_TIMEOUT_S,
    HOST,
    LIGHT,
    STEP,
    loopback_discovery,  # noqa: F401  (the listener on loopback, never the real ports)
    set_up,
    tuya_entry,
    unload,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture(params=["3.3", "3.4", "3.5"])
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def emulator(version: str) -> AsyncIterator[TuyaEmulator]:
    async with reachable_tuya_panel(version, broadcast_address=HOST) as device:
        device.idle_timeout_s = DEVICE_IDLE_TIMEOUT_S  # as devices do
        yield device


async def set_up_polling(hass: HomeAssistant, emulator: TuyaEmulator) -> MockConfigEntry:
    entry = tuya_entry(emulator.version.value)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options={CONF_LINK_POLICY: LinkPolicy.POLL})
    await set_up(hass, entry)
    return entry


async def run_until(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, done: Callable[[], bool], limit: timedelta
) -> float:
    """Run the clock in steps until ``done()`` holds; the seconds it took (fails past limit)."""
    start = dt_util.utcnow()
    while not done():
        assert dt_util.utcnow() - start <= limit, "not reached in time"
        await run_clock_with_sockets(hass, freezer, STEP, STEP)
    return (dt_util.utcnow() - start).total_seconds()


async def test_a_press_at_an_unwatched_panel_is_a_session_within_the_bound(
    hass: HomeAssistant, emulator: TuyaEmulator, freezer: FrozenDateTimeFactory
) -> None:
    entry = await set_up_polling(hass, emulator)
    sessions = entry.runtime_data.sessions
    # The setup's grace passes: the link is closed, the panel serves no client.
    await run_clock_with_sockets(hass, freezer, timedelta(seconds=IDLE_GRACE_S + 30), STEP)
    assert emulator.clients == 0
    assert not entry.runtime_data.panel.connected
    # The worst case: pressed just after a look has opened and closed the link again.
    looks = emulator.connections
    await run_until(
        hass,
        freezer,
        lambda: emulator.connections > looks and emulator.clients == 0,
        timedelta(seconds=LOOK_INTERVAL_S + 30),
    )
    assert hass.states.get(LIGHT).state == STATE_OFF
    emulator.press_button()
    detect_s = await run_until(
        hass, freezer, lambda: sessions.session is not None, timedelta(seconds=DETECT_BOUND_S)
    )
    assert detect_s <= DETECT_BOUND_S
    session = sessions.session
    assert session is not None
    assert session.origin is SessionOrigin.UNPLANNED
    assert session.status is SessionStatus.RUNNING
    assert hass.states.get(LIGHT).state == STATE_ON
    # Governed like any session: the limit armed on the panel, the link held while it runs.
    await run_clock_with_sockets(hass, freezer, timedelta(minutes=2), STEP)
    assert 0 < emulator.timer_remaining_s <= DEFAULT_SESSION_MINUTES * 60
    assert emulator.clients == 1
    assert emulator.idle_closes == 0  # kept alive by the heartbeat, not dropped by the device

    await hass.services.async_call(
        LIGHT_DOMAIN, SERVICE_TURN_OFF, {ATTR_ENTITY_ID: LIGHT}, blocking=True
    )
    assert sessions.session is None
    record = sessions.last_session
    assert record is not None
    assert record.origin is SessionOrigin.UNPLANNED  # recorded, with its dose
    assert record.dose.total > 0
    # What it emitted before the look saw it is not in the record: at most the bound.
    assert 0 < emulator.on_seconds() - record.on_seconds <= DETECT_BOUND_S
    # A short grace after the session, never for good.
    await run_clock_with_sockets(hass, freezer, timedelta(seconds=IDLE_GRACE_S + 30), STEP)
    assert emulator.clients == 0
    await unload(hass, entry)


@pytest.mark.parametrize("version", ["3.4"])
async def test_an_idle_hour_is_a_look_every_five_minutes_and_no_heartbeat(
    hass: HomeAssistant, emulator: TuyaEmulator, freezer: FrozenDateTimeFactory
) -> None:
    entry = await set_up_polling(hass, emulator)
    await run_clock_with_sockets(hass, freezer, timedelta(seconds=IDLE_GRACE_S + 30), STEP)
    heartbeats = emulator.commands.count(Command.HEART_BEAT)
    connections = emulator.connections
    await run_clock_with_sockets(hass, freezer, timedelta(hours=1), STEP)
    assert emulator.connections - connections == 3600 // LOOK_INTERVAL_S
    assert (
        emulator.commands.count(Command.HEART_BEAT) == heartbeats
    )  # no link held: nothing to keep alive
    assert emulator.clients == 0
    assert hass.states.get(LIGHT).state == STATE_OFF  # an idle link is no news
    await unload(hass, entry)


@pytest.mark.parametrize("version", ["3.5"])
async def test_the_choice_is_an_option_that_applies_at_once(
    hass: HomeAssistant, emulator: TuyaEmulator, freezer: FrozenDateTimeFactory
) -> None:
    entry = tuya_entry(emulator.version.value)
    await set_up(hass, entry)
    panel = entry.runtime_data.panel
    assert isinstance(panel, TuyaPanel)
    assert panel.link_policy is LinkPolicy.STAY_CONNECTED  # the default: held
    await run_clock_with_sockets(hass, freezer, timedelta(minutes=10), STEP)
    assert emulator.clients == 1

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert CONF_LINK_POLICY in result["menu_options"]
    form = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": CONF_LINK_POLICY}
    )
    assert form["type"] is FlowResultType.FORM
    offered = form["data_schema"].schema[CONF_LINK_POLICY].config["options"]
    assert offered == [policy.value for policy in LinkPolicy]
    done = await hass.config_entries.options.async_configure(
        form["flow_id"], {CONF_LINK_POLICY: LinkPolicy.POLL.value}
    )
    assert done["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options[CONF_LINK_POLICY] == LinkPolicy.POLL
    # No reload: the same panel, which lets go of its idle link at the next heartbeat.
    assert entry.runtime_data.panel is panel
    assert panel.link_policy is LinkPolicy.POLL
    await run_clock_with_sockets(hass, freezer, timedelta(seconds=30), STEP)
    assert emulator.clients == 0
    await unload(hass, entry)
