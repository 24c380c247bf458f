"""Session end, dose and irradiance sensors."""

from __future__ import annotations

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNKNOWN
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator
from custom_components.red_light_therapy.sensor import _async_at_midnight

from .common import advance, set_number, start_session

END = "sensor.blockbluelight_f522_session_end"
DOSE = "sensor.blockbluelight_f522_session_dose"
TODAY = "sensor.blockbluelight_f522_dose_today"
WEEK = "sensor.blockbluelight_f522_dose_this_week"
IRRADIANCE = "sensor.blockbluelight_f522_irradiance"
DISTANCE = "number.blockbluelight_f522_distance"
CHANNEL_1 = "number.blockbluelight_f522_channel_1_630_nm"

# The default profile: 60 mW/cm² at 15 cm and full output, 2 of 5 channels red.
FULL_AT_15CM = 60.0


@pytest.mark.usefixtures("init_integration")
async def test_irradiance_follows_levels_and_distance(hass: HomeAssistant) -> None:
    state = hass.states.get(IRRADIANCE)
    assert float(state.state) == FULL_AT_15CM
    assert state.attributes["red"] == pytest.approx(24.0)
    assert state.attributes["nir"] == pytest.approx(36.0)
    assert state.attributes["distance_cm"] == 15

    await set_number(hass, CHANNEL_1, 0)  # one red channel off: a fifth less light
    assert float(hass.states.get(IRRADIANCE).state) == pytest.approx(48.0)
    assert hass.states.get(IRRADIANCE).attributes["red"] == pytest.approx(12.0)

    await set_number(hass, DISTANCE, 30)
    farther = float(hass.states.get(IRRADIANCE).state)
    assert 0 < farther < 48.0
    assert hass.states.get(IRRADIANCE).attributes["distance_cm"] == 30


async def test_session_end_and_doses_after_a_session(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """12 mW/cm² for 10 minutes: 7.2 J/cm² (red 2.88, NIR 4.32)."""
    sessions = dimmed_integration.runtime_data.sessions
    assert hass.states.get(DOSE).state == STATE_UNKNOWN
    assert float(hass.states.get(TODAY).state) == 0

    started = dt_util.utcnow()
    await sessions.runner.async_start()
    await hass.async_block_till_done(wait_background_tasks=True)

    end = dt_util.parse_datetime(hass.states.get(END).state)
    assert end == (started + timedelta(minutes=10)).replace(microsecond=0)
    assert float(hass.states.get(DOSE).state) == pytest.approx(7.2)  # where it is heading

    await advance(hass, freezer, timedelta(minutes=10))

    assert not emulator.is_on
    assert hass.states.get(END).state == STATE_UNKNOWN
    assert float(hass.states.get(DOSE).state) == pytest.approx(7.2)
    assert float(hass.states.get(TODAY).state) == pytest.approx(7.2)
    assert float(hass.states.get(WEEK).state) == pytest.approx(7.2)
    today = hass.states.get(TODAY)
    assert dt_util.parse_datetime(today.attributes["last_reset"]) == dt_util.start_of_local_day()


async def test_dose_today_is_written_once_at_midnight(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await start_session(hass, dimmed_integration)
    await advance(hass, freezer, timedelta(minutes=10))
    assert float(hass.states.get(TODAY).state) == pytest.approx(7.2)

    writes: list[str] = []

    @callback
    def _count(event: Event[EventStateChangedData]) -> None:
        if event.data["entity_id"] == TODAY:
            writes.append(event.data["new_state"].state if event.data["new_state"] else "")

    hass.bus.async_listen("state_changed", _count)
    now = dt_util.now()
    midnight = dt_util.start_of_local_day(now + timedelta(days=1))
    # Up to just before midnight nothing is written; at midnight the day starts at zero.
    await advance(hass, freezer, midnight - now - timedelta(seconds=1))
    assert writes == []
    await advance(hass, freezer, timedelta(seconds=1))
    assert [float(value) for value in writes] == [0.0]
    assert dt_util.parse_datetime(hass.states.get(TODAY).attributes["last_reset"]) == midnight


async def test_period_sensors_share_one_midnight_timer(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The period sensors of every panel turn on one midnight timer: one of them removed
    (its panel unloaded), the others still turn at midnight; the last removed, the timer
    goes (the test harness fails on a timer left behind)."""
    calls: list[str] = []
    remove_first = _async_at_midnight(hass, lambda: calls.append("first"))
    remove_second = _async_at_midnight(hass, lambda: calls.append("second"))
    remove_first()

    now = dt_util.now()
    midnight = dt_util.start_of_local_day(now + timedelta(days=1))
    await advance(hass, freezer, midnight - now - timedelta(seconds=1))
    assert calls == []
    await advance(hass, freezer, timedelta(seconds=1))
    assert calls == ["second"]
    await advance(hass, freezer, timedelta(days=1))
    assert calls == ["second", "second"]
    remove_second()
    await advance(hass, freezer, timedelta(days=1))
    assert calls == ["second", "second"]
