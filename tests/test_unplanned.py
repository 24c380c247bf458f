"""A panel switched on with its own button: an unplanned session under the same limits.

The default BlockBlueLight profile gives 60 mW/cm² at 15 cm and full output; dimmed to 20 %
it gives 12 mW/cm². The clock is fixed (Wednesday 4 June 2025, 09:00 in US/Pacific).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.select import (
    ATTR_OPTION,
    DOMAIN as SELECT_DOMAIN,
    SERVICE_SELECT_OPTION,
)
from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.const import BLE_IDLE_POLL_SECONDS, DOMAIN
from custom_components.red_light_therapy.panels.blockbluelight import (
    BlockBlueLightEmulator,
)
from custom_components.red_light_therapy.therapy import SessionOrigin, SessionStatus

from .common import (
    advance,
    last_record,
    no_power_command_for,
    power_commands,
    recorded_events,
    settle,
)

PACIFIC = ZoneInfo("US/Pacific")
LIGHT = "light.blockbluelight_f522"
DOSE = "sensor.blockbluelight_f522_session_dose"
TODAY = "sensor.blockbluelight_f522_dose_today"
LOCKOUT = "binary_sensor.blockbluelight_f522_limit_lockout"
EVENT = "event.blockbluelight_f522_session"
AREA = "select.blockbluelight_f522_treatment_area"


@pytest.fixture(autouse=True)
async def fixed_clock(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to(datetime(2025, 6, 4, 9, 0, tzinfo=PACIFIC))


async def _press(hass: HomeAssistant, emulator: BlockBlueLightEmulator) -> None:
    emulator.press_button()
    await settle(hass)


async def test_button_session_is_switched_off_at_the_session_maximum(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    """Whole body at 12 mW/cm²: 20 minutes (14.4 J/cm²) is the most one session may run."""
    sessions = dimmed_integration.runtime_data.sessions
    pressed = dt_util.utcnow()
    await _press(hass, emulator)

    assert emulator.is_on
    assert hass.states.get(LIGHT).state == STATE_ON
    session = sessions.session
    assert session is not None
    assert session.origin is SessionOrigin.UNPLANNED
    assert session.started_at == pressed
    assert session.ends_at == pressed + timedelta(minutes=20)
    assert events[0][0] == "session_started"
    assert events[0][1]["origin"] == "unplanned"
    assert events[0][1]["planned_minutes"] == 20

    await advance(hass, freezer, timedelta(minutes=20) - timedelta(seconds=1))
    assert emulator.is_on
    await advance(hass, freezer, timedelta(seconds=1))

    assert not emulator.is_on
    assert hass.states.get(LIGHT).state == STATE_OFF
    assert emulator.on_seconds() == pytest.approx(20 * 60)
    record = last_record(sessions)
    assert record.origin is SessionOrigin.UNPLANNED
    assert record.status is SessionStatus.COMPLETED
    assert record.on_seconds == pytest.approx(20 * 60)
    assert record.dose.total == pytest.approx(14.4)
    assert float(hass.states.get(DOSE).state) == pytest.approx(14.4)
    assert float(hass.states.get(TODAY).state) == pytest.approx(14.4)
    assert events[-1][0] == "session_completed"
    assert events[-1][1]["origin"] == "unplanned"
    assert hass.states.get(LOCKOUT).state == STATE_ON


async def test_button_session_at_full_output_ends_at_the_dose_limit(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """60 mW/cm²: the 20 J/cm² session limit is reached after 333 s, long before 20 min."""
    await _press(hass, emulator)
    await advance(hass, freezer, timedelta(seconds=333))

    assert not emulator.is_on
    assert emulator.on_seconds() == pytest.approx(333)
    record = last_record(init_integration.runtime_data.sessions)
    assert record.dose.total == pytest.approx(19.98)
    assert record.dose.total <= 20


async def test_button_session_follows_the_panel_area(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """On the scalp a session may run 30 minutes."""
    await hass.services.async_call(
        SELECT_DOMAIN,
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: AREA, ATTR_OPTION: "scalp"},
        blocking=True,
    )
    await _press(hass, emulator)

    await advance(hass, freezer, timedelta(minutes=20))
    assert emulator.is_on
    await advance(hass, freezer, timedelta(minutes=10))

    assert not emulator.is_on
    record = last_record(dimmed_integration.runtime_data.sessions)
    assert record.area == "scalp"
    assert record.on_seconds == pytest.approx(30 * 60)


async def test_button_switched_off_again_records_what_it_emitted(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    await _press(hass, emulator)
    await advance(hass, freezer, timedelta(minutes=3))
    await _press(hass, emulator)

    assert not emulator.is_on
    sessions = dimmed_integration.runtime_data.sessions
    assert sessions.session is None
    record = last_record(sessions)
    assert record.origin is SessionOrigin.UNPLANNED
    assert record.on_seconds == pytest.approx(180)
    assert record.dose.total == pytest.approx(2.16)
    assert events[-1][0] == "session_stopped"

    # Nothing is left scheduled: the 20-minute end passes without a command to the panel.
    await no_power_command_for(hass, freezer, emulator, timedelta(minutes=20))


async def _session_then_lockout(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, entry: MockConfigEntry
) -> datetime:
    """A 10-minute session by the action, then an hour later: the lockout's end.

    The link is then open (as in the grace after a command), so a press is heard at once;
    with the link idle it waits for the next look (``test_button_while_the_link_is_idle``).
    """
    await hass.services.async_call(
        DOMAIN, "start_session", {ATTR_ENTITY_ID: LIGHT, "minutes": 10}, blocking=True
    )
    await advance(hass, freezer, timedelta(minutes=10))
    assert entry.runtime_data.sessions.session is None
    await advance(hass, freezer, timedelta(hours=1))
    assert hass.states.get(LOCKOUT).state == STATE_ON
    until = dt_util.parse_datetime(hass.states.get(LOCKOUT).attributes["until"])
    assert until is not None
    await entry.runtime_data.panel.connect()
    return until


async def test_button_during_a_lockout_is_switched_off_at_once(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    sessions = dimmed_integration.runtime_data.sessions
    await _session_then_lockout(hass, freezer, dimmed_integration)
    before = len(events)
    power = power_commands(emulator)

    await _press(hass, emulator)

    # Switched off by the integration straight away: nothing emitted for time to pass.
    assert not emulator.is_on
    assert power_commands(emulator) == power + 1
    assert emulator.on_seconds() == pytest.approx(600)
    assert hass.states.get(LIGHT).state == STATE_OFF
    assert sessions.session is None
    assert events[before][0] == "session_refused"
    refused = events[before][1]
    assert refused["verdict"] == "refused"
    assert [r["code"] for r in refused["reasons"]] == ["spacing"]
    # What it would have run, the 20-minute session maximum at 12 mW/cm², not a second.
    assert refused["requested_minutes"] == refused["planned_minutes"] == 20
    assert hass.states.get(EVENT).attributes["event_type"] == "session_stopped"
    # What it emitted (nothing here: the clock stood still) is kept, as aborted, not completed.
    record = last_record(sessions)
    assert record.origin is SessionOrigin.UNPLANNED
    assert record.status is SessionStatus.ABORTED
    assert record.dose.total == 0
    assert [kind for kind, _ in events[before:]] == ["session_refused", "session_stopped"]

    # Nothing keeps running: an hour on, the panel is still off and no command was sent.
    await advance(hass, freezer, timedelta(hours=1))
    assert not emulator.is_on
    assert power_commands(emulator) == power + 1


async def test_button_while_the_link_is_idle_is_noticed_by_the_next_look(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    """Between looks the link is closed, so a press at the panel is heard
    by the next look, at most ``BLE_IDLE_POLL_SECONDS`` later; during a lockout that is how
    long it can emit (README "How data is updated")."""
    sessions = dimmed_integration.runtime_data.sessions
    await _session_then_lockout(hass, freezer, dimmed_integration)
    await advance(hass, freezer, timedelta(seconds=BLE_IDLE_POLL_SECONDS + 1))
    await advance(hass, freezer, timedelta(seconds=BLE_IDLE_POLL_SECONDS + 1))
    assert not emulator.connected  # idle: no link held between looks
    before = len(events)

    await _press(hass, emulator)
    assert emulator.is_on  # nobody heard it: the link is closed
    assert hass.states.get(LIGHT).state == STATE_OFF

    await advance(hass, freezer, timedelta(seconds=BLE_IDLE_POLL_SECONDS + 1))
    # The next look heard it and the lockout switched it off.
    assert not emulator.is_on
    assert emulator.on_seconds() - 600 <= BLE_IDLE_POLL_SECONDS + 1
    assert sessions.session is None
    assert [kind for kind, _ in events[before:]] == ["session_refused", "session_stopped"]


async def test_a_press_found_by_a_look_counts_from_the_look_that_saw_the_panel_off(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    """Pressed half a minute after a look: the session is counted from that look, when the
    panel was last seen off, so its limit counts the time nobody saw (README "How data is
    updated"), and the event says the start is an estimate."""
    sessions = dimmed_integration.runtime_data.sessions
    await advance(hass, freezer, timedelta(seconds=BLE_IDLE_POLL_SECONDS + 1))  # grace over
    looks = emulator.connections
    while emulator.connections == looks or emulator.connected:
        await advance(hass, freezer, timedelta(seconds=1))
    seen_off = dt_util.utcnow()
    await advance(hass, freezer, timedelta(seconds=30))
    assert emulator.connections == looks + 1  # no look since

    await _press(hass, emulator)
    assert sessions.session is None  # nobody heard it: the link is closed
    while sessions.session is None:
        assert dt_util.utcnow() - seen_off <= timedelta(seconds=BLE_IDLE_POLL_SECONDS + 5)
        await advance(hass, freezer, timedelta(seconds=1))

    session = sessions.session
    assert session is not None
    assert session.origin is SessionOrigin.UNPLANNED
    assert session.started_at is not None
    assert seen_off - timedelta(seconds=1) <= session.started_at <= seen_off
    assert session.ends_at == session.started_at + timedelta(minutes=20)
    started = [data for kind, data in events if kind == "session_started"]
    assert len(started) == 1
    assert started[0]["start_estimated"] is True
    assert started[0]["started_at"] == session.started_at.isoformat()

    await advance(hass, freezer, session.ends_at - dt_util.utcnow())
    assert not emulator.is_on
    record = sessions.last_session
    assert record is not None
    assert record.status is SessionStatus.COMPLETED
    # The session maximum, counted from the look: the panel itself emitted 30 s less.
    assert record.on_seconds == pytest.approx(20 * 60)
    assert emulator.on_seconds() == pytest.approx(20 * 60 - 30, abs=1)


async def test_refused_button_press_does_not_move_the_lockout(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    until = await _session_then_lockout(hass, freezer, dimmed_integration)

    await _press(hass, emulator)
    await advance(hass, freezer, timedelta(minutes=1))

    assert not emulator.is_on
    sessions = dimmed_integration.runtime_data.sessions
    assert sessions.planner.lockout_until(dt_util.utcnow()) == until


async def _press_between_looks(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, emulator: BlockBlueLightEmulator
) -> datetime:
    """Let a look see the panel off on a closed link, press 30 s later: the look's time."""
    await advance(hass, freezer, timedelta(seconds=BLE_IDLE_POLL_SECONDS + 1))  # grace over
    looks = emulator.connections
    while emulator.connections == looks or emulator.connected:
        await advance(hass, freezer, timedelta(seconds=1))
    seen_off = dt_util.utcnow()
    await advance(hass, freezer, timedelta(seconds=30))
    await _press(hass, emulator)
    return seen_off


@pytest.mark.parametrize(
    "case",
    [
        (countdown, options)
        for options in ({"minutes": 3}, {"minutes": 3, "levels": [50, 100, 100, 100, 100]})
        for countdown in (0, 600)
    ],
    ids=["no countdown", "countdown", "with levels, no countdown", "with levels, countdown"],
)
async def test_a_start_after_a_press_between_looks_counts_what_the_panel_emitted_before(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    case: tuple[int, dict[str, Any]],
) -> None:
    """Pressed at the panel, started from Home Assistant before the next look: the start's
    timer write read the panel on, so the session counts from when it may have come on (the
    look that saw it off, or exactly the start of the countdown the press ran) and the panel
    goes off when the 3 planned minutes from then are over, not 3 minutes after the start."""
    countdown, options = case
    sessions = dimmed_integration.runtime_data.sessions
    emulator._timer_set_s = countdown  # what the panel's own countdown was left at
    seen_off = await _press_between_looks(hass, freezer, emulator)
    pressed = dt_util.utcnow()
    looks = emulator.connections
    await advance(hass, freezer, timedelta(seconds=40))
    assert emulator.connections == looks  # no look meanwhile: nobody knows yet
    assert sessions.session is None

    with recorded_events(dimmed_integration) as events:
        await hass.services.async_call(
            DOMAIN, "start_session", {ATTR_ENTITY_ID: LIGHT, **options}, blocking=True
        )
        await settle(hass)
    if "levels" in options:
        assert emulator.levels[0] == 50
    session = sessions.session
    assert session is not None
    assert session.started_at is not None
    started = [data for kind, data in events if kind == "session_started"]
    assert len(started) == 1
    assert started[0]["started_at"] == session.started_at.isoformat()
    if countdown:
        assert session.started_at == pressed  # the countdown dates the press exactly
        assert started[0]["start_estimated"] is False
    else:
        assert seen_off - timedelta(seconds=1) <= session.started_at <= seen_off
        assert started[0]["start_estimated"] is True

    while sessions.session is not None:
        assert dt_util.utcnow() - session.started_at <= timedelta(minutes=4)
        await advance(hass, freezer, timedelta(seconds=1))
    assert not emulator.is_on
    off_at = emulator.emission_log[-1].end
    assert off_at is not None
    assert session.started_at.timestamp() + 180 <= off_at <= session.started_at.timestamp() + 181
    record = sessions.last_session
    assert record is not None
    assert record.origin is SessionOrigin.PLANNED
    assert record.status is SessionStatus.COMPLETED
    assert record.on_seconds == pytest.approx(180, abs=1)
    assert emulator.on_seconds() <= record.on_seconds


async def test_a_start_after_a_press_that_already_emitted_the_plan_switches_off_at_once(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    """Pressed 100 s before a one-minute start: it already shone more than the plan, so it is
    switched off at once and recorded with all the time it may have shone."""
    sessions = dimmed_integration.runtime_data.sessions
    seen_off = await _press_between_looks(hass, freezer, emulator)
    await advance(hass, freezer, timedelta(seconds=70))
    assert sessions.session is None  # no look meanwhile

    await hass.services.async_call(
        DOMAIN, "start_session", {ATTR_ENTITY_ID: LIGHT, "minutes": 1}, blocking=True
    )
    await settle(hass)
    started_at = dt_util.utcnow()
    assert not emulator.is_on
    assert sessions.session is None
    record = sessions.last_session
    assert record is not None
    assert record.status is SessionStatus.COMPLETED
    assert record.started_at is not None
    assert seen_off - timedelta(seconds=1) <= record.started_at <= seen_off
    assert record.on_seconds == pytest.approx((started_at - seen_off).total_seconds(), abs=1)
    assert record.on_seconds >= emulator.on_seconds()
    started = [data for kind, data in events if kind == "session_started"]
    assert [data["start_estimated"] for data in started] == [True]


@pytest.mark.parametrize("fault", ["missing", "garbled"])
async def test_a_start_whose_status_reply_is_lost_still_starts(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    fault: str,
) -> None:
    """The status read in the start's timer write is best-effort: without its answer the start
    goes ahead and counts from its acknowledgement, as before."""
    sessions = dimmed_integration.runtime_data.sessions
    await _press_between_looks(hass, freezer, emulator)
    await advance(hass, freezer, timedelta(seconds=40))
    emulator.status_reply_fault = fault
    await hass.services.async_call(
        DOMAIN, "start_session", {ATTR_ENTITY_ID: LIGHT, "minutes": 3}, blocking=True
    )
    emulator.status_reply_fault = None
    await settle(hass)
    started = dt_util.utcnow()
    session = sessions.session
    assert session is not None
    assert session.started_at == started
    assert emulator.is_on
    assert emulator.timer_set_s == 180
    await advance(hass, freezer, timedelta(minutes=3))
    assert not emulator.is_on
    record = sessions.last_session
    assert record is not None
    assert record.status is SessionStatus.COMPLETED
    assert record.on_seconds == pytest.approx(180, abs=1)


async def test_a_press_found_past_the_daily_dose_says_the_limit_was_reached(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    """25.2 J/cm² logged 23 hours ago leave 4.8 of the whole body's 30 J/cm² a day: 80 s at
    60 mW/cm². A press found by the next look has shone longer than that since the look that
    saw the panel off, so it is switched off at once; ``limit_reached`` names the daily dose,
    as for a start the limits shorten, so an automation listening for it hears of it."""
    sessions = init_integration.runtime_data.sessions
    logged_at = dt_util.utcnow() - timedelta(hours=23)
    await hass.services.async_call(
        DOMAIN,
        "log_session",
        {ATTR_ENTITY_ID: LIGHT, "started_at": logged_at.isoformat(), "minutes": 7},
        blocking=True,
    )
    seen_off = await _press_between_looks(hass, freezer, emulator)
    while sessions.last_session is None or sessions.last_session.origin is SessionOrigin.LOGGED:
        assert dt_util.utcnow() - seen_off <= timedelta(seconds=BLE_IDLE_POLL_SECONDS + 5)
        await advance(hass, freezer, timedelta(seconds=1))
    await settle(hass)

    assert not emulator.is_on
    assert sessions.session is None
    record = sessions.last_session
    assert record.origin is SessionOrigin.UNPLANNED
    assert record.status is SessionStatus.COMPLETED
    kinds = [kind for kind, _ in events]
    assert kinds == ["session_started", "limit_reached", "session_completed"]
    reached = events[1][1]
    assert reached["verdict"] == "clamped"
    assert reached["planned_minutes"] == pytest.approx(80 / 60, abs=0.01)
    assert reached["requested_minutes"] == 5.55  # its own length: the 20 J/cm² session, 333 s
    daily = [r for r in reached["reasons"] if r["code"] == "daily_dose"]
    assert len(daily) == 1
    assert daily[0]["limit"] == 30
    assert reached["person_name"] == events[0][1]["person_name"]
    assert hass.states.get(EVENT).attributes["event_type"] == "session_completed"
