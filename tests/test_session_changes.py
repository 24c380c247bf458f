"""A running session when something changes under it: the channel levels (re-planned within
the limits, its countdown re-armed), the panel switched back on at its button while paused (a
resume), a panel switched on at its button (its countdown armed like any session's).

The default BlockBlueLight profile gives 60 mW/cm² at 15 cm and full output; the dimmed panel
(every channel at 20 %) gives 12 mW/cm², at 40 % 24 mW/cm².
"""

from __future__ import annotations

from datetime import timedelta
import math
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.light import ATTR_BRIGHTNESS, DOMAIN as LIGHT_DOMAIN
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_TURN_ON, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.const import DOMAIN
from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator
from custom_components.red_light_therapy.therapy import SessionStatus

from .common import Events, act, advance, last_record, settle

LIGHT = "light.blockbluelight_f522"
END = "sensor.blockbluelight_f522_session_end"


async def _start(hass: HomeAssistant, **data: Any) -> None:
    await act(hass, DOMAIN, "start_session", {ATTR_ENTITY_ID: LIGHT, **data})


async def _brightness(hass: HomeAssistant, value: int) -> None:
    await act(hass, LIGHT_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: LIGHT, ATTR_BRIGHTNESS: value})


def _limit_events(events: Events) -> list[dict[str, Any]]:
    return [data for name, data in events if name == "limit_reached"]


async def test_a_brighter_dose_session_ends_sooner_with_its_dose(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    events: Events,
) -> None:
    """6 J/cm² at 12 mW/cm² is 500 s; at 250 s the panel goes to 24 mW/cm²: the other 3 J/cm²
    take 125 s, so the session ends at 375 s, its countdown re-armed to match."""
    sessions = dimmed_integration.runtime_data.sessions
    await _start(hass, dose=6)
    session = sessions.session
    assert session is not None
    started = session.started_at
    assert started is not None
    assert emulator.timer_set_s == 500

    await advance(hass, freezer, timedelta(seconds=250))
    await _brightness(hass, 102)  # 40 %
    assert emulator.levels == (40,) * 5

    assert session.ends_at == pytest.approx(started + timedelta(seconds=375), abs=timedelta(1))
    # The hardware safety net follows the new plan: it switches off no later than the end.
    left = (session.ends_at - dt_util.utcnow()).total_seconds()
    assert emulator.timer_remaining_s == math.ceil(left)
    end = dt_util.parse_datetime(hass.states.get(END).state)
    assert end is not None
    assert abs(end - session.ends_at) < timedelta(seconds=1)
    assert _limit_events(events) == []  # no limit decided this: the dose did

    await advance(hass, freezer, session.ends_at - dt_util.utcnow())
    assert not emulator.is_on
    record = last_record(sessions)
    assert record.status is SessionStatus.COMPLETED
    assert record.dose.total == pytest.approx(6.0, abs=0.03)
    assert record.on_seconds == pytest.approx(375, abs=1)
    assert emulator.on_seconds() == pytest.approx(record.on_seconds, abs=0.01)


async def test_a_minutes_session_made_brighter_is_cut_at_the_dose_limit(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    events: Events,
) -> None:
    """20 minutes at 12 mW/cm² is 14.4 J/cm²; after 10 minutes (7.2 J/cm²) at full output (60
    mW/cm²) the 20 J/cm² session limit leaves 12.8 J/cm²: 213 s more, not 10 minutes."""
    sessions = dimmed_integration.runtime_data.sessions
    await _start(hass, minutes=20)
    session = sessions.session
    assert session is not None
    await advance(hass, freezer, timedelta(minutes=10))

    await _brightness(hass, 255)
    assert emulator.levels == (100,) * 5

    started = session.started_at
    assert started is not None
    assert session.planned_seconds == pytest.approx(600 + 12.8 * 1000 / 60, abs=1)
    assert _limit_events(events)[-1] == {"reasons": ["session_dose"]}
    assert emulator.timer_remaining_s <= math.ceil(12.8 * 1000 / 60) + 1

    ends_at = session.ends_at
    assert ends_at is not None
    await advance(hass, freezer, ends_at - dt_util.utcnow())
    assert not emulator.is_on
    assert hass.states.get(LIGHT).state == STATE_OFF
    record = last_record(sessions)
    assert record.dose.total <= 20.0 + 1e-6
    assert record.dose.total == pytest.approx(20.0, abs=0.1)


async def test_a_dose_reached_by_a_level_change_ends_the_session_at_once(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    events: Events,
) -> None:
    sessions = dimmed_integration.runtime_data.sessions
    """6 J/cm² at 12 mW/cm² is 500 s; at 496 s (5.95 J/cm²) the panel goes to 60 mW/cm²,
    at which the last 0.05 J/cm² take under a second: the session ends there and then, and
    the turn-on that changed the levels starts no new one."""
    await _start(hass, dose=6)  # 500 s
    await advance(hass, freezer, timedelta(seconds=496))
    assert emulator.is_on
    await _brightness(hass, 255)

    assert sessions.session is None
    assert not emulator.is_on
    record = last_record(sessions)
    assert record.status is SessionStatus.COMPLETED
    assert 5.95 <= record.dose.total <= 6.0  # short of it by what under a second would add
    assert _limit_events(events) == []


async def test_a_paused_session_switched_on_at_the_panel_resumes(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Paused after 4 of 10 minutes; the button is pressed 5 minutes later: the session runs
    its other 6 minutes with the panel's countdown armed to them, then ends."""
    sessions = dimmed_integration.runtime_data.sessions
    await _start(hass, minutes=10)
    session = sessions.session
    assert session is not None
    await advance(hass, freezer, timedelta(minutes=4))
    await hass.services.async_call(DOMAIN, "pause_session", {ATTR_ENTITY_ID: LIGHT}, blocking=True)
    await settle(hass)
    assert session.status is SessionStatus.PAUSED
    assert emulator.timer_remaining_s == 0
    await advance(hass, freezer, timedelta(minutes=5))

    emulator.press_button()
    await settle(hass)

    assert sessions.session is session
    assert session.status is SessionStatus.RUNNING
    assert hass.states.get(LIGHT).state == STATE_ON
    assert emulator.timer_remaining_s == 6 * 60
    assert session.ends_at == dt_util.utcnow() + timedelta(minutes=6)

    await advance(hass, freezer, timedelta(minutes=6))
    assert not emulator.is_on
    record = last_record(sessions)
    assert record.id == session.id
    assert record.status is SessionStatus.COMPLETED
    assert record.on_seconds == pytest.approx(600)
    assert emulator.on_seconds() == pytest.approx(600)


async def test_a_session_switched_on_at_the_panel_gets_its_countdown(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry, emulator: BlockBlueLightEmulator
) -> None:
    """The panel's own button starts no countdown; the unplanned session arms it to the
    session maximum (20 minutes on the whole body), the safety net if Home Assistant stops."""
    emulator.press_button()
    await settle(hass)

    session = dimmed_integration.runtime_data.sessions.session
    assert session is not None
    assert emulator.timer_remaining_s == 20 * 60
    assert session.started_at is not None
    assert session.device_deadline is not None
    armed_late = session.device_deadline - (session.started_at + timedelta(minutes=20))
    assert timedelta(0) <= armed_late < timedelta(seconds=1)
