"""A Wi-Fi panel that connects to look every 5 minutes, the default: the idle
link is closed, a press at the panel's button becomes a session under the limits within the
documented bound, counted from the last look that saw the panel off. Panels set up before keep
the held link they had; the choice is made (and takes effect at once) in the entry's options."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy import discovery
from custom_components.red_light_therapy.const import (
    CONF_DEVICE_ID,
    CONF_DP_MAP,
    CONF_LINK_POLICY,
    CONF_LOCAL_KEY,
    CONF_VERSION,
    DOMAIN,
)
from custom_components.red_light_therapy.panels.link_policy import (
    DETECT_BOUND_S,
    IDLE_GRACE_S,
    LOOK_INTERVAL_S,
    LinkPolicy,
)
from custom_components.red_light_therapy.panels.tuya import TuyaPanel
from custom_components.red_light_therapy.panels.tuya.emulator import TuyaEmulator
from custom_components.red_light_therapy.panels.tuya.protocol import Command
from custom_components.red_light_therapy.session_plan import SessionEvent
from custom_components.red_light_therapy.therapy import SessionOrigin, SessionStatus

from .bench.measure import run_clock_with_sockets
from .common import recorded_events
from .emulated_tuya import reachable_tuya_panel
from .panels.tuya.conftest import DEVICE_ID, LOCAL_KEY
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
    # Pressed a minute after a look has opened and closed the link again, seeing it off.
    looks = emulator.connections
    await run_until(
        hass,
        freezer,
        lambda: emulator.connections > looks and emulator.clients == 0,
        timedelta(seconds=LOOK_INTERVAL_S + 30),
    )
    seen_off = dt_util.utcnow()
    assert hass.states.get(LIGHT).state == STATE_OFF
    await run_clock_with_sockets(hass, freezer, timedelta(minutes=1), STEP)
    assert emulator.connections == looks + 1  # no look meanwhile: nobody knows
    with recorded_events(entry) as fired:
        pressed = dt_util.utcnow()
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
    # It may have shone since the look that saw it off: counted from then, never from later
    # than the press, and the event says the start is an estimate.
    assert session.started_at is not None
    assert seen_off - STEP <= session.started_at <= seen_off
    started = [data for event, data in fired if event == SessionEvent.STARTED]
    assert len(started) == 1
    assert started[0]["origin"] == SessionOrigin.UNPLANNED
    assert started[0]["start_estimated"] is True
    assert started[0]["started_at"] == session.started_at.isoformat()
    # Governed like any session, its limit counted from the estimate: the countdown armed to
    # what is left of it, the link held while it runs.
    await run_clock_with_sockets(hass, freezer, STEP * 2, STEP)
    left = session.planned_seconds - (dt_util.utcnow() - session.started_at).total_seconds()
    assert 0 < emulator.timer_remaining_s <= left + 1
    assert emulator.clients == 1
    await run_until(
        hass, freezer, lambda: sessions.session is None, timedelta(seconds=left + 3 * STEP.seconds)
    )
    assert not emulator.is_on
    assert emulator.idle_closes == 0  # kept alive by the heartbeat, not dropped by the device
    record = sessions.last_session
    assert record is not None
    assert record.origin is SessionOrigin.UNPLANNED  # recorded, with its dose
    assert record.dose.total > 0
    # All it emitted is in the record, and at most the minute before the press more.
    emitted = emulator.on_seconds()
    assert emitted <= record.on_seconds
    assert record.on_seconds <= emitted + (pressed - seen_off).total_seconds() + STEP.seconds
    # A short grace after the session, never for good.
    await run_clock_with_sockets(hass, freezer, timedelta(seconds=IDLE_GRACE_S + 30), STEP)
    assert emulator.clients == 0
    await unload(hass, entry)


@pytest.mark.parametrize("version", ["3.4"])
async def test_a_press_after_a_session_is_counted_from_the_link_that_saw_it_off(
    hass: HomeAssistant, emulator: TuyaEmulator, freezer: FrozenDateTimeFactory
) -> None:
    """The countdown of the session before is no clock for a press at the button.

    Played in scripts/develop: after a 4-minute session the press was counted from exactly 4
    minutes before the look (overlapping that session) and called exact, because the panel
    still remembered the countdown it had armed, now at zero. After a session of seconds, as
    here, it counted too little the same way: seconds instead of all since the link closed.
    """
    entry = await set_up_polling(hass, emulator)
    sessions = entry.runtime_data.sessions
    # A short session (half a joule, seconds: a test of the panel, no lockout after it) runs
    # out on the panel's countdown.
    await hass.services.async_call(
        DOMAIN, "start_session", {"dose": 0.5}, target={"entity_id": LIGHT}, blocking=True
    )
    await run_until(hass, freezer, lambda: sessions.session is None, timedelta(minutes=2))
    before = sessions.last_session
    assert before is not None
    assert before.status is SessionStatus.COMPLETED
    # Its grace over, the link closes while the panel is off: nothing is known from then on.
    await run_until(
        hass, freezer, lambda: emulator.clients == 0, timedelta(seconds=IDLE_GRACE_S + 60)
    )
    closed = dt_util.utcnow()
    await run_clock_with_sockets(hass, freezer, timedelta(minutes=1), STEP)
    with recorded_events(entry) as fired:
        emulator.press_button()
        await run_until(
            hass, freezer, lambda: sessions.session is not None, timedelta(seconds=DETECT_BOUND_S)
        )
    session = sessions.session
    assert session is not None
    assert session.origin is SessionOrigin.UNPLANNED
    assert session.started_at is not None
    # Counted from the close of the link that saw it off, an estimate, never into the session
    # before.
    assert closed - STEP <= session.started_at <= closed
    assert session.started_at >= before.ended_at
    started = [data for event, data in fired if event == SessionEvent.STARTED]
    assert [data["start_estimated"] for data in started] == [True]
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
    # Polling to begin with (a "minor_version" in tuya_entry's arguments went into the entry's
    # data: a 1.1 entry, migrated to stay connected, so this proved nothing of the switch).
    entry = await set_up_polling(hass, emulator)
    panel = entry.runtime_data.panel
    assert isinstance(panel, TuyaPanel)
    assert panel.link_policy is LinkPolicy.POLL
    await run_clock_with_sockets(hass, freezer, timedelta(seconds=IDLE_GRACE_S + 30), STEP)
    assert emulator.clients == 0
    hass.config_entries.async_update_entry(
        entry, options={CONF_LINK_POLICY: LinkPolicy.STAY_CONNECTED}
    )
    await hass.async_block_till_done()
    assert panel.link_policy is LinkPolicy.STAY_CONNECTED
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


@pytest.mark.parametrize("version", ["3.4"])
async def test_choosing_stay_connected_holds_the_link_at_once(
    hass: HomeAssistant, emulator: TuyaEmulator, freezer: FrozenDateTimeFactory
) -> None:
    """The form says "Takes effect at once": a press right after choosing to stay connected is
    seen at once, not at the next look (in scripts/develop the link stayed closed for minutes)."""
    entry = await set_up_polling(hass, emulator)
    sessions = entry.runtime_data.sessions
    await run_clock_with_sockets(hass, freezer, timedelta(seconds=IDLE_GRACE_S + 30), STEP)
    assert emulator.clients == 0  # the idle link is closed
    result = await hass.config_entries.options.async_init(entry.entry_id)
    await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": CONF_LINK_POLICY}
    )
    await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_LINK_POLICY: LinkPolicy.STAY_CONNECTED.value}
    )
    await run_clock_with_sockets(hass, freezer, STEP, STEP)
    assert emulator.clients == 1
    emulator.press_button()
    await run_clock_with_sockets(hass, freezer, STEP, STEP)
    session = sessions.session
    assert session is not None
    assert session.origin is SessionOrigin.UNPLANNED
    await unload(hass, entry)


@pytest.mark.parametrize("version", ["3.4"])
async def test_a_panel_set_up_before_keeps_its_held_link(
    hass: HomeAssistant, emulator: TuyaEmulator, freezer: FrozenDateTimeFactory
) -> None:
    """An entry of 1.1 (before polling became the default) is migrated to hold its link."""
    entry = tuya_entry(emulator.version.value)
    assert (entry.version, entry.minor_version) == (1, 1)
    assert CONF_LINK_POLICY not in entry.options
    await set_up(hass, entry)
    assert entry.minor_version == 2
    assert entry.options[CONF_LINK_POLICY] == LinkPolicy.STAY_CONNECTED
    panel = entry.runtime_data.panel
    assert isinstance(panel, TuyaPanel)
    assert panel.link_policy is LinkPolicy.STAY_CONNECTED
    # Held as before: still open long after any grace, kept alive through the device's window.
    await run_clock_with_sockets(hass, freezer, timedelta(minutes=10), STEP)
    assert emulator.clients == 1
    assert emulator.connections == 1
    assert emulator.idle_closes == 0
    # A press is pushed at once on the held link, which saw the panel off until then: the
    # session counts from the press, no estimate.
    sessions = entry.runtime_data.sessions
    with recorded_events(entry) as fired:
        pressed = dt_util.utcnow()
        emulator.press_button()
        await run_until(hass, freezer, lambda: sessions.session is not None, STEP * 2)
    session = sessions.session
    assert session is not None
    assert session.started_at is not None
    assert pressed <= session.started_at <= dt_util.utcnow()
    started = [data for event, data in fired if event == SessionEvent.STARTED]
    assert started[0]["start_estimated"] is False
    await unload(hass, entry)


@pytest.mark.parametrize("version", ["3.3"])
async def test_a_panel_set_up_before_keeps_the_choice_it_made(
    hass: HomeAssistant, emulator: TuyaEmulator
) -> None:
    entry = tuya_entry(emulator.version.value)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options={CONF_LINK_POLICY: LinkPolicy.POLL})
    await set_up(hass, entry)
    assert entry.minor_version == 2
    assert entry.options[CONF_LINK_POLICY] == LinkPolicy.POLL
    panel = entry.runtime_data.panel
    assert isinstance(panel, TuyaPanel)
    assert panel.link_policy is LinkPolicy.POLL
    await unload(hass, entry)


@pytest.mark.parametrize("version", ["3.5"])
async def test_a_panel_added_now_polls(
    hass: HomeAssistant, emulator: TuyaEmulator, freezer: FrozenDateTimeFactory
) -> None:
    """Added through the flow, a Wi-Fi panel is looked at, never held for good."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    with patch.object(discovery, "SCAN_S", 0.0):  # no scan: nothing broadcasts here
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "tuya"}
        )
    assert result["step_id"] == "tuya_manual"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_HOST: HOST,
            CONF_DEVICE_ID: DEVICE_ID,
            CONF_LOCAL_KEY: LOCAL_KEY,
            CONF_VERSION: emulator.version.value,
            CONF_DP_MAP: "generic_light",
        },
    )
    assert result["step_id"] == "tuya_profile"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    entry = result["result"]
    assert (entry.version, entry.minor_version) == (1, 2)
    assert CONF_LINK_POLICY not in entry.options  # the default, not a choice written down
    assert entry.state is ConfigEntryState.LOADED
    panel = entry.runtime_data.panel
    assert isinstance(panel, TuyaPanel)
    assert panel.link_policy is LinkPolicy.POLL
    # The setup's grace passes and the link is let go; an hour is a look every 5 minutes.
    await run_clock_with_sockets(hass, freezer, timedelta(seconds=IDLE_GRACE_S + 30), STEP)
    assert emulator.clients == 0
    connections = emulator.connections
    await run_clock_with_sockets(hass, freezer, timedelta(hours=1), STEP)
    assert emulator.connections - connections == 3600 // LOOK_INTERVAL_S
    assert emulator.clients == 0
    await unload(hass, entry)


async def _press_between_looks(
    hass: HomeAssistant, emulator: TuyaEmulator, freezer: FrozenDateTimeFactory
) -> tuple[MockConfigEntry, float]:
    """Set up polling, let a look see the panel off, press a minute later: the look's time."""
    entry = await set_up_polling(hass, emulator)
    await run_clock_with_sockets(hass, freezer, timedelta(seconds=IDLE_GRACE_S + 30), STEP)
    looks = emulator.connections
    await run_until(
        hass,
        freezer,
        lambda: emulator.connections > looks and emulator.clients == 0,
        timedelta(seconds=LOOK_INTERVAL_S + 30),
    )
    seen_off = emulator.clock()
    await run_clock_with_sockets(hass, freezer, timedelta(minutes=1), STEP)
    emulator.press_button()
    return entry, seen_off


@pytest.mark.parametrize("version", ["3.4"])
@pytest.mark.parametrize(
    "options", [{"minutes": 3}, {"minutes": 3, "levels": [50]}], ids=["minutes", "with levels"]
)
async def test_a_start_after_a_press_between_looks_counts_what_the_panel_emitted_before(
    hass: HomeAssistant,
    emulator: TuyaEmulator,
    freezer: FrozenDateTimeFactory,
    options: dict[str, object],
) -> None:
    """Pressed at the panel, then started from Home Assistant before the next look.

    Played live: pressed 09:36:32, started 09:37:42, and the 70 s between were never counted.
    The start reads the panel on as it opens the link (setting levels first, or switching on):
    the session is counted from when it may have come on, as a press found by a look is, and
    ends when its plan is emitted.
    """
    entry, seen_off = await _press_between_looks(hass, emulator, freezer)
    sessions = entry.runtime_data.sessions
    looks = emulator.connections
    await run_clock_with_sockets(hass, freezer, timedelta(seconds=30), STEP)
    assert emulator.connections == looks  # no look meanwhile: nobody knows yet
    assert sessions.session is None
    with recorded_events(entry) as fired:
        await hass.services.async_call(
            DOMAIN, "start_session", options, target={"entity_id": LIGHT}, blocking=True
        )
        await hass.async_block_till_done()
    assert list(emulator.levels) == options.get("levels", [100])
    session = sessions.session
    assert session is not None
    assert session.started_at is not None
    estimate = session.started_at.timestamp()
    # From the look that saw it off (the earliest it may have come on), not from the start.
    assert seen_off - STEP.seconds <= estimate <= seen_off
    started = [data for event, data in fired if event == SessionEvent.STARTED]
    assert len(started) == 1
    assert started[0]["start_estimated"] is True
    assert started[0]["started_at"] == session.started_at.isoformat()
    await run_until(hass, freezer, lambda: sessions.session is None, timedelta(minutes=4))
    assert not emulator.is_on
    # Off when the planned 3 minutes from the estimate are over: the panel emitted the plan.
    off_at = emulator.emission_log[-1].end
    assert off_at is not None
    assert estimate + 180 <= off_at <= estimate + 180 + STEP.seconds
    record = sessions.last_session
    assert record is not None
    assert record.origin is SessionOrigin.PLANNED
    assert record.status is SessionStatus.COMPLETED
    assert emulator.on_seconds() <= record.on_seconds
    assert record.on_seconds == pytest.approx(180, abs=STEP.seconds)
    await unload(hass, entry)


@pytest.mark.parametrize("version", ["3.4"])
async def test_a_start_after_a_press_that_already_emitted_the_plan_switches_off_at_once(
    hass: HomeAssistant, emulator: TuyaEmulator, freezer: FrozenDateTimeFactory
) -> None:
    """What the panel emitted since the press already passes the plan: off at once, all counted."""
    entry, seen_off = await _press_between_looks(hass, emulator, freezer)
    sessions = entry.runtime_data.sessions
    looks = emulator.connections
    await run_clock_with_sockets(hass, freezer, timedelta(minutes=2), STEP)
    assert emulator.connections == looks  # no look meanwhile: nobody knows yet
    assert sessions.session is None
    with recorded_events(entry) as fired:
        await hass.services.async_call(
            DOMAIN, "start_session", {"minutes": 1}, target={"entity_id": LIGHT}, blocking=True
        )
        await hass.async_block_till_done()
    started_at = emulator.clock()
    assert sessions.session is None
    assert not emulator.is_on
    record = sessions.last_session
    assert record is not None
    assert record.status is SessionStatus.COMPLETED
    # Recorded with all the time it may have shone, from the look that saw it off: never
    # clamped to the planned minute.
    assert record.started_at.timestamp() == pytest.approx(seen_off, abs=STEP.seconds)
    assert record.on_seconds >= emulator.on_seconds()
    assert record.on_seconds == pytest.approx(started_at - seen_off, abs=STEP.seconds)
    started = [data for event, data in fired if event == SessionEvent.STARTED]
    assert [data["start_estimated"] for data in started] == [True]
    await unload(hass, entry)
