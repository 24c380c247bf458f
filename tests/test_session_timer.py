"""The session timer sensor and the session end sensor through a session's life.

Time is moved with the freezer; the emulated panel runs its own countdown on the same clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.panels.blockbluelight import (
    BlockBlueLightEmulator,
)
from custom_components.red_light_therapy.session_manager import SessionManager
from custom_components.red_light_therapy.therapy import SessionRecord, SessionStatus

from .common import (
    advance,
    last_record,
    no_power_command_for,
    settle,
    start_session,
)

TIMER = "sensor.blockbluelight_f522_session_timer"
END = "sensor.blockbluelight_f522_session_end"
LIGHT = "light.blockbluelight_f522"


def _timer(hass: HomeAssistant) -> tuple[str, dict[str, object]]:
    state = hass.states.get(TIMER)
    attributes = {
        k: state.attributes[k]
        for k in ("duration", "remaining", "finishes_at")
        if k in state.attributes
    }
    return state.state, attributes


def _stopped(
    hass: HomeAssistant, emulator: BlockBlueLightEmulator, sessions: SessionManager, seconds: float
) -> SessionRecord:
    """The panel is off, no session runs, the timer is idle and no end is shown; the session
    is recorded as stopped after ``seconds`` of light."""
    assert not emulator.is_on
    assert sessions.session is None
    assert _timer(hass) == ("idle", {"duration": "0:10:00"})
    assert hass.states.get(END).state == STATE_UNKNOWN
    record = last_record(sessions)
    assert record.status is SessionStatus.STOPPED
    assert record.on_seconds == pytest.approx(seconds)
    return record


async def test_idle_active_and_completed_at_the_planned_end(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    sessions = dimmed_integration.runtime_data.sessions
    assert _timer(hass) == ("idle", {"duration": "0:10:00"})
    assert hass.states.get(END).state == STATE_UNKNOWN

    started = dt_util.utcnow()
    await sessions.runner.async_start()
    await settle(hass)

    finishes_at = started + timedelta(minutes=10)
    assert _timer(hass) == (
        "active",
        {"duration": "0:10:00", "remaining": "0:10:00", "finishes_at": finishes_at.isoformat()},
    )
    assert dt_util.parse_datetime(hass.states.get(END).state) == finishes_at.replace(microsecond=0)
    assert emulator.timer_remaining_s == 600

    # Time passing writes nothing: the remaining time stays as of the last change.
    await advance(hass, freezer, timedelta(minutes=9, seconds=59))
    assert _timer(hass)[1]["remaining"] == "0:10:00"
    assert emulator.is_on

    await advance(hass, freezer, timedelta(seconds=1))

    assert not emulator.is_on
    assert emulator.on_seconds() == pytest.approx(600)
    assert _timer(hass) == ("idle", {"duration": "0:10:00"})
    assert hass.states.get(END).state == STATE_UNKNOWN
    assert hass.states.get(LIGHT).state == STATE_OFF
    record = last_record(sessions)
    assert record.status is SessionStatus.COMPLETED
    assert record.on_seconds == pytest.approx(600)


async def test_pause_resume_rearms_the_panel_countdown_with_the_remaining_time(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    sessions = await start_session(hass, dimmed_integration)
    await advance(hass, freezer, timedelta(minutes=4))

    await sessions.runner.async_pause()
    await settle(hass)

    assert not emulator.is_on
    assert _timer(hass) == ("paused", {"duration": "0:10:00", "remaining": "0:06:00"})
    assert hass.states.get(END).state == STATE_UNKNOWN
    assert hass.states.get(LIGHT).state == STATE_OFF

    # A long pause does not eat into the session.
    await advance(hass, freezer, timedelta(minutes=30))
    assert not emulator.is_on
    assert sessions.timer_state == "paused"

    resumed = dt_util.utcnow()
    await sessions.runner.async_resume()
    await settle(hass)

    assert emulator.is_on
    assert emulator.timer_set_s == 360
    assert emulator.timer_remaining_s == 360
    finishes_at = resumed + timedelta(minutes=6)
    assert _timer(hass) == (
        "active",
        {"duration": "0:10:00", "remaining": "0:06:00", "finishes_at": finishes_at.isoformat()},
    )
    assert hass.states.get(LIGHT).state == STATE_ON

    await advance(hass, freezer, timedelta(minutes=6))

    assert not emulator.is_on
    assert emulator.on_seconds() == pytest.approx(600)
    assert len(emulator.emission_log) == 2
    assert sessions.timer_state == "idle"
    assert sessions.last_session is not None
    assert sessions.last_session.status is SessionStatus.COMPLETED


@pytest.mark.parametrize("pause_first", [False, True])
async def test_stop_ends_the_session_early(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    pause_first: bool,
) -> None:
    sessions = await start_session(hass, dimmed_integration)
    await advance(hass, freezer, timedelta(minutes=1))
    if pause_first:
        await sessions.runner.async_pause()
        await advance(hass, freezer, timedelta(minutes=1))

    await sessions.runner.async_stop()
    await settle(hass)

    _stopped(hass, emulator, sessions, seconds=60)
    assert emulator.on_seconds() == pytest.approx(60)

    # Nothing is left scheduled: the planned end passes without touching the panel.
    await no_power_command_for(hass, freezer, emulator, timedelta(minutes=10))


async def test_panel_countdown_ends_the_session_when_home_assistant_misses_the_end(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Belt and braces: the panel's own countdown switches it off at the planned end."""
    sessions = dimmed_integration.runtime_data.sessions
    # Home Assistant's end callback never comes (say the event loop was stuck).
    with patch(
        "custom_components.red_light_therapy.session_end.async_track_point_in_utc_time",
        return_value=lambda: None,
    ):
        started = dt_util.utcnow()
        await sessions.runner.async_start()
        await settle(hass)

    await advance(hass, freezer, timedelta(minutes=12))

    assert not emulator.is_on
    assert emulator.on_seconds() == pytest.approx(600)
    assert _timer(hass)[0] == "idle"
    record = last_record(sessions)
    # Recorded up to when the panel switched off, not when the news arrived.
    assert record.ended_at == started + timedelta(minutes=10)
    assert record.on_seconds == pytest.approx(600)
    assert record.status is SessionStatus.COMPLETED


async def test_panel_switching_off_early_closes_the_session_at_its_time(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Another app arms a shorter countdown on the panel: the session ends with the panel."""
    data = dimmed_integration.runtime_data
    await data.sessions.runner.async_start()
    await settle(hass)
    started: datetime | None = data.sessions.session.started_at if data.sessions.session else None
    assert started is not None

    await data.panel.set_timer(90)
    await settle(hass)
    assert emulator.timer_remaining_s == 90
    await advance(hass, freezer, timedelta(seconds=90))

    record = _stopped(hass, emulator, data.sessions, seconds=90)
    assert record.ended_at == started + timedelta(seconds=90)

    # The integration's own end passes without another command to the panel.
    await no_power_command_for(hass, freezer, emulator, timedelta(minutes=10))


async def test_a_late_end_callback_records_only_what_the_panel_emitted(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    sessions = await start_session(hass, dimmed_integration)

    # Home Assistant's end callback runs 5 s late; the panel's countdown did not wait.
    await advance(hass, freezer, timedelta(minutes=10, seconds=5))

    assert emulator.on_seconds() == pytest.approx(600)
    record = last_record(sessions)
    assert record.on_seconds == pytest.approx(emulator.on_seconds(), abs=1)
