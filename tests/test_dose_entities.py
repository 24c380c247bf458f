"""The entities of dose-aware sessions: doses, irradiance, distance, area, lockout, events.

The default BlockBlueLight profile gives 60 mW/cm² at 15 cm and full output (red 24, NIR 36).
The clock is fixed (Wednesday 4 June 2025, 09:00 in US/Pacific) before the integration is set
up, so midnights and week starts are where the tests put them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.number import (
    ATTR_VALUE,
    DOMAIN as NUMBER_DOMAIN,
    SERVICE_SET_VALUE,
)
from homeassistant.components.select import (
    ATTR_OPTION,
    DOMAIN as SELECT_DOMAIN,
    SERVICE_SELECT_OPTION,
)
from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.const import DOMAIN
from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator
from custom_components.red_light_therapy.store import SETTINGS_SAVE_DELAY, STORAGE_KEY
from custom_components.red_light_therapy.therapy import default_limits

from .common import advance, move_to, stored_files

PACIFIC = ZoneInfo("US/Pacific")
LIGHT = "light.blockbluelight_f522"
DOSE = "sensor.blockbluelight_f522_session_dose"
TODAY = "sensor.blockbluelight_f522_dose_today"
WEEK = "sensor.blockbluelight_f522_dose_this_week"
IRRADIANCE = "sensor.blockbluelight_f522_irradiance"
DISTANCE = "number.blockbluelight_f522_distance"
AREA = "select.blockbluelight_f522_treatment_area"
LOCKOUT = "binary_sensor.blockbluelight_f522_limit_lockout"
EVENT = "event.blockbluelight_f522_session"
CHANNEL_1 = "number.blockbluelight_f522_channel_1_630_nm"
CHANNEL_3 = "number.blockbluelight_f522_channel_3_810_nm"

WEDNESDAY_9AM = datetime(2025, 6, 4, 9, 0, tzinfo=PACIFIC)


@pytest.fixture(autouse=True)
async def fixed_clock(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to(WEDNESDAY_9AM)


async def _call(hass: HomeAssistant, service: str, **data: Any) -> Any:
    result = await hass.services.async_call(
        DOMAIN, service, {ATTR_ENTITY_ID: LIGHT, **data}, blocking=True, return_response=True
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    return result


async def _stop(hass: HomeAssistant) -> None:
    await hass.services.async_call(DOMAIN, "stop_session", {ATTR_ENTITY_ID: LIGHT}, blocking=True)
    await hass.async_block_till_done(wait_background_tasks=True)


async def _set(hass: HomeAssistant, domain: str, service: str, entity_id: str, **data: Any) -> None:
    await hass.services.async_call(
        domain, service, {ATTR_ENTITY_ID: entity_id, **data}, blocking=True
    )
    await hass.async_block_till_done(wait_background_tasks=True)


async def _set_number(hass: HomeAssistant, entity_id: str, value: float) -> None:
    await _set(hass, NUMBER_DOMAIN, SERVICE_SET_VALUE, entity_id, **{ATTR_VALUE: value})


async def _select(hass: HomeAssistant, option: str) -> None:
    await _set(hass, SELECT_DOMAIN, SERVICE_SELECT_OPTION, AREA, **{ATTR_OPTION: option})


async def _run(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, entry: MockConfigEntry, **data: Any
) -> None:
    """Start a session and let it run to its planned end."""
    await _call(hass, "start_session", **data)
    session = entry.runtime_data.sessions.session
    assert session is not None
    assert session.ends_at is not None
    await move_to(hass, freezer, session.ends_at)
    assert entry.runtime_data.sessions.session is None


def _value(hass: HomeAssistant, entity_id: str) -> float:
    return float(hass.states.get(entity_id).state)


class Writes:
    """The states written for some entities, in order."""

    def __init__(self, hass: HomeAssistant, *entity_ids: str) -> None:
        self.states: dict[str, list[str]] = {entity_id: [] for entity_id in entity_ids}

        @callback
        def _record(event: Event[EventStateChangedData]) -> None:
            new = event.data["new_state"]
            if event.data["entity_id"] in self.states and new is not None:
                self.states[event.data["entity_id"]].append(new.state)

        hass.bus.async_listen("state_changed", _record)


# -- session dose, dose today, dose this week ----------------------------------------------


@pytest.mark.usefixtures("init_integration")
async def test_dose_sensors_are_totals_for_long_term_statistics(hass: HomeAssistant) -> None:
    assert hass.states.get(DOSE).state == STATE_UNKNOWN
    for entity_id in (TODAY, WEEK):
        state = hass.states.get(entity_id)
        assert float(state.state) == 0
        assert state.attributes["state_class"] == "total"
        assert state.attributes["unit_of_measurement"] == "J/cm²"
    today = hass.states.get(TODAY).attributes["last_reset"]
    week = hass.states.get(WEEK).attributes["last_reset"]
    assert dt_util.parse_datetime(today) == datetime(2025, 6, 4, tzinfo=PACIFIC)
    assert dt_util.parse_datetime(week) == datetime(2025, 6, 2, tzinfo=PACIFIC)  # Monday


async def test_doses_are_written_when_a_session_is_recorded(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """10 J/cm² by the action, 2 minutes logged on the knee (7.2 J/cm²): 17.2 in all."""
    writes = Writes(hass, DOSE, TODAY, WEEK)
    await _call(hass, "start_session", dose=10)
    assert _value(hass, DOSE) == pytest.approx(10.0, abs=0.001)  # the dose it is heading for
    assert hass.states.get(DOSE).attributes["planned"] is True

    session = init_integration.runtime_data.sessions.session
    assert session is not None
    await advance(hass, freezer, timedelta(seconds=100))
    assert len(writes.states[DOSE]) == 1  # time passing writes nothing
    assert session.ends_at is not None
    await move_to(hass, freezer, session.ends_at)
    assert hass.states.get(DOSE).attributes["planned"] is False

    assert _value(hass, DOSE) == pytest.approx(10.0, abs=0.001)
    assert _value(hass, TODAY) == pytest.approx(10.0, abs=0.001)
    assert _value(hass, WEEK) == pytest.approx(10.0, abs=0.001)
    # Written when the session was recorded (the start left it at 0: no new state).
    assert [float(s) for s in writes.states[TODAY]] == pytest.approx([10.0], abs=0.001)

    await _call(
        hass,
        "log_session",
        started_at=(dt_util.now() - timedelta(hours=1)).isoformat(),
        minutes=2,
        area="knee",
    )
    assert _value(hass, TODAY) == pytest.approx(17.2, abs=0.001)
    assert _value(hass, WEEK) == pytest.approx(17.2, abs=0.001)
    # The session dose stays the latest session's: the logged one started before it.
    assert _value(hass, DOSE) == pytest.approx(10.0, abs=0.001)


async def test_session_dose_never_reads_zero_during_a_session(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The session dose reads the dose the session is
    heading for while it runs or is paused (planned), the dose delivered once it is over,
    and no write because time passed. 60 mW/cm² for 100 s of 10 J/cm² is 6 J/cm²."""
    sessions = init_integration.runtime_data.sessions
    await _call(hass, "start_session", dose=10)
    assert _value(hass, DOSE) == pytest.approx(10.0, abs=0.001)

    await advance(hass, freezer, timedelta(seconds=60))
    await _set(hass, DOMAIN, "pause_session", LIGHT)
    paused = hass.states.get(DOSE)
    assert float(paused.state) == pytest.approx(10.0, abs=0.001)
    assert paused.attributes["planned"] is True
    writes = Writes(hass, DOSE)
    await advance(hass, freezer, timedelta(minutes=5))
    assert writes.states[DOSE] == []

    await _set(hass, DOMAIN, "resume_session", LIGHT)
    await advance(hass, freezer, timedelta(seconds=40))
    await _stop(hass)

    assert sessions.session is None
    stopped = hass.states.get(DOSE)
    assert float(stopped.state) == pytest.approx(6.0, abs=0.001)
    assert stopped.attributes["planned"] is False


async def test_dose_today_drops_to_zero_at_local_midnight(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await _run(hass, freezer, init_integration, dose=10)
    writes = Writes(hass, TODAY, WEEK)
    thursday = datetime(2025, 6, 5, tzinfo=PACIFIC)

    await move_to(hass, freezer, thursday - timedelta(seconds=1))
    assert writes.states == {TODAY: [], WEEK: []}
    await move_to(hass, freezer, thursday)

    # One write at midnight: the day starts at zero; the week goes on, its state unchanged.
    assert [float(s) for s in writes.states[TODAY]] == [0.0]
    assert writes.states[WEEK] == []
    assert _value(hass, WEEK) == pytest.approx(10.0, abs=0.001)
    assert dt_util.parse_datetime(hass.states.get(TODAY).attributes["last_reset"]) == thursday
    # The session dose is the last session's, whatever the day.
    assert _value(hass, DOSE) == pytest.approx(10.0, abs=0.001)


async def test_dose_this_week_drops_to_zero_on_monday(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await move_to(hass, freezer, datetime(2025, 6, 8, 21, 0, tzinfo=PACIFIC))  # Sunday
    await _run(hass, freezer, init_integration, dose=10)
    assert _value(hass, WEEK) == pytest.approx(10.0, abs=0.001)
    monday = datetime(2025, 6, 9, tzinfo=PACIFIC)

    await move_to(hass, freezer, monday)

    assert _value(hass, WEEK) == 0
    assert _value(hass, TODAY) == 0
    assert dt_util.parse_datetime(hass.states.get(WEEK).attributes["last_reset"]) == monday


async def test_dose_sensors_carry_the_areas_limits_and_its_weekly_count(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A card shows "today x / y J/cm²" and "sessions n / m" from these attributes: the
    treatment area's limits, and the sessions its weekly limit counts (last 7 local days,
    shared skin), which follow a recorded session, the area and the midnight the session
    leaves the window, written with the states that change then anyway."""

    def attributes() -> tuple[dict[str, Any], dict[str, Any]]:
        return dict(hass.states.get(TODAY).attributes), dict(hass.states.get(WEEK).attributes)

    def limits_of(area: str) -> tuple[float, float, int]:
        limits = default_limits(area)
        return limits.max_daily_dose, limits.min_hours_between, limits.max_sessions_per_week

    def shown() -> tuple[float, float, int]:
        today, week = attributes()
        return today["max_daily_dose"], today["min_hours_between"], week["max_sessions_per_week"]

    assert shown() == limits_of("whole_body")
    assert attributes()[1]["sessions_in_7_days"] == 0

    started_at = dt_util.now() - timedelta(hours=2)
    await _call(hass, "log_session", started_at=started_at.isoformat(), minutes=5, area="knee")
    assert attributes()[1]["sessions_in_7_days"] == 1  # the whole body shares the knee's skin
    # The weekly limit refuses exactly when the count reaches the maximum shown.
    assert attributes()[1]["sessions_in_7_days"] < shown()[2]

    await _select(hass, "face")
    assert shown() == limits_of("face")
    assert attributes()[1]["sessions_in_7_days"] == 0
    await _select(hass, "knee")
    assert limits_of("knee") != limits_of("whole_body")
    assert shown() == limits_of("knee")
    assert attributes()[1]["sessions_in_7_days"] == 1

    # Wednesday's session leaves the last 7 local days at the midnight that starts the next
    # Wednesday: one write then, none before.
    leaves = datetime(2025, 6, 11, tzinfo=PACIFIC)
    await move_to(hass, freezer, leaves - timedelta(seconds=1))
    assert attributes()[1]["sessions_in_7_days"] == 1
    writes = Writes(hass, WEEK)
    await advance(hass, freezer, timedelta(seconds=1))
    assert len(writes.states[WEEK]) == 1
    assert attributes()[1]["sessions_in_7_days"] == 0
    assert shown() == limits_of("knee")


# -- irradiance and distance ---------------------------------------------------------------


async def test_irradiance_follows_the_distance_number_and_the_levels(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    assert _value(hass, IRRADIANCE) == 60.0
    assert hass.states.get(IRRADIANCE).attributes["distance_cm"] == 15

    await _set_number(hass, DISTANCE, 61)
    assert _value(hass, DISTANCE) == 61
    assert _value(hass, IRRADIANCE) == pytest.approx(42.0)  # 70 % at 61 cm

    await _set_number(hass, CHANNEL_3, 50)  # one NIR channel at half: 12 -> 6 at 15 cm
    state = hass.states.get(IRRADIANCE)
    assert float(state.state) == pytest.approx(54 * 0.70)
    assert state.attributes["red"] == pytest.approx(24 * 0.70)
    assert state.attributes["nir"] == pytest.approx(30 * 0.70)

    # Sessions and calculations are planned at the set distance.
    answer = await _call(hass, "calculate", dose=10)
    assert answer[LIGHT]["distance_cm"] == 61
    assert answer[LIGHT]["planned_minutes"] == round(10_000 / (54 * 0.70) / 60, 2)


async def test_distance_beyond_the_farthest_point_holds_its_value(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    await _set_number(hass, DISTANCE, 150)
    assert _value(hass, IRRADIANCE) == pytest.approx(60 * 49.4 / 71.7, abs=0.01)


async def test_distance_nearer_than_the_profile_is_refused(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    assert hass.states.get(DISTANCE).attributes["min"] == 15
    stored = stored_files(hass_storage)

    with pytest.raises(ServiceValidationError):
        await _set_number(hass, DISTANCE, 10)

    assert _value(hass, DISTANCE) == 15
    assert _value(hass, IRRADIANCE) == 60.0
    assert stored_files(hass_storage) == stored
    # The setting itself refuses it too, with the therapy error, for callers past the entity.
    sessions = init_integration.runtime_data.sessions
    with pytest.raises(ServiceValidationError) as err:
        await sessions.panel_settings.async_set_setting("distance_cm", 10)
    assert err.value.translation_key == "therapy_distance_below_measured"
    assert sessions.panel_settings.distance_cm == 15


async def test_distance_is_stored(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """Saved a few seconds after the last change (a slider's steps write once)."""
    await _set_number(hass, DISTANCE, 30)
    await advance(hass, freezer, timedelta(seconds=SETTINGS_SAVE_DELAY))
    settings = hass_storage[STORAGE_KEY]["data"]["settings"][init_integration.entry_id]
    assert settings["distance_cm"] == 30


# -- treatment area ------------------------------------------------------------------------


async def test_treatment_area_sets_the_limits_of_the_next_session(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """40 J/cm² at full output: clamped to 20 on the whole body, allowed on the scalp."""
    assert hass.states.get(AREA).state == "whole_body"
    assert "eyes" not in hass.states.get(AREA).attributes["options"]
    assert (await _call(hass, "calculate", dose=40))[LIGHT]["verdict"] == "clamped"

    await _select(hass, "scalp")

    assert hass.states.get(AREA).state == "scalp"
    await advance(hass, freezer, timedelta(seconds=SETTINGS_SAVE_DELAY))
    settings = hass_storage[STORAGE_KEY]["data"]["settings"][init_integration.entry_id]
    assert settings["area"] == "scalp"
    answer = await _call(hass, "start_session", dose=40)
    assert answer[LIGHT]["area"] == "scalp"
    assert answer[LIGHT]["verdict"] == "allowed"
    assert answer[LIGHT]["expected_dose_j_cm2"] == pytest.approx(40.0)
    assert emulator.timer_set_s == 667  # 666.7 s
    await _stop(hass)


@pytest.mark.parametrize("option", ["eyes", "elbow", ""])
async def test_treatment_area_rejects_other_options(
    hass: HomeAssistant, init_integration: MockConfigEntry, option: str
) -> None:
    with pytest.raises(ServiceValidationError):
        await _select(hass, option)
    assert hass.states.get(AREA).state == "whole_body"
    assert init_integration.runtime_data.sessions.panel_settings.area == "whole_body"


async def test_area_setting_refuses_the_eyes(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    sessions = init_integration.runtime_data.sessions
    with pytest.raises(ServiceValidationError) as err:
        await sessions.panel_settings.async_set_setting("area", "eye")
    assert err.value.translation_key == "therapy_eye_area_forbidden"
    assert sessions.panel_settings.area == "whole_body"


# -- lockout -------------------------------------------------------------------------------


async def test_lockout_after_a_session_until_the_spacing_ends(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    assert hass.states.get(LOCKOUT).state == STATE_OFF
    assert hass.states.get(LOCKOUT).attributes["until"] is None

    await _run(hass, freezer, init_integration, dose=10)
    ended = dt_util.utcnow()

    state = hass.states.get(LOCKOUT)
    assert state.state == STATE_ON
    until = dt_util.parse_datetime(state.attributes["until"])
    assert until == ended + timedelta(hours=20)
    assert state.attributes["area"] == "whole_body"

    writes = Writes(hass, LOCKOUT)
    await move_to(hass, freezer, until - timedelta(seconds=1))
    assert writes.states[LOCKOUT] == []
    await move_to(hass, freezer, until)

    assert writes.states[LOCKOUT] == [STATE_OFF]
    assert hass.states.get(LOCKOUT).attributes["until"] is None
    answer = await _call(hass, "calculate", dose=10)
    assert answer[LIGHT]["verdict"] == "allowed"


async def test_lockout_follows_a_logged_session_and_the_area(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A logged knee session locks the knee (and the whole body, which shares its skin)."""
    started_at = dt_util.now() - timedelta(hours=2)
    await _call(hass, "log_session", started_at=started_at.isoformat(), minutes=5, area="knee")
    until = started_at + timedelta(minutes=5) + timedelta(hours=20)

    assert hass.states.get(LOCKOUT).state == STATE_ON  # whole body shares the knee's skin
    assert dt_util.parse_datetime(hass.states.get(LOCKOUT).attributes["until"]) == until

    await _select(hass, "face")
    assert hass.states.get(LOCKOUT).state == STATE_OFF
    assert hass.states.get(LOCKOUT).attributes["area"] == "face"

    await _select(hass, "knee")
    assert hass.states.get(LOCKOUT).state == STATE_ON


# -- the event entity ----------------------------------------------------------------------


async def test_event_entity_reports_every_session_event(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Dimmed to 12 mW/cm²: started, limit reached, completed, refused, stopped."""
    state = hass.states.get(EVENT)
    assert state.state == STATE_UNKNOWN
    assert set(state.attributes["event_types"]) >= {
        "session_started",
        "session_completed",
        "session_stopped",
        "session_refused",
        "limit_reached",
    }
    writes = Writes(hass, EVENT)

    await _call(hass, "start_session", minutes=15)
    state = hass.states.get(EVENT)
    assert state.attributes["event_type"] == "session_started"
    assert state.attributes["area"] == "whole_body"
    assert state.attributes["planned_minutes"] == 15
    assert state.attributes["verdict"] == "allowed"
    assert state.attributes["expected_dose_j_cm2"] == pytest.approx(10.8)

    await _call(hass, "extend_session", minutes=10)
    state = hass.states.get(EVENT)
    assert state.attributes["event_type"] == "limit_reached"
    assert state.attributes["reasons"] == ["session_minutes"]

    session = dimmed_integration.runtime_data.sessions.session
    assert session is not None
    assert session.ends_at is not None
    await move_to(hass, freezer, session.ends_at)
    state = hass.states.get(EVENT)
    assert state.attributes["event_type"] == "session_completed"
    assert state.attributes["origin"] == "planned"
    assert state.attributes["minutes"] == 20
    assert state.attributes["dose_j_cm2"] == pytest.approx(14.4)
    assert state.attributes["session_id"] == session.id

    with pytest.raises(ServiceValidationError):
        await _call(hass, "start_session", minutes=5)
    state = hass.states.get(EVENT)
    assert state.attributes["event_type"] == "session_refused"
    assert state.attributes["verdict"] == "refused"
    assert [r["code"] for r in state.attributes["reasons"]] == ["spacing"]
    assert state.attributes["next_allowed_at"] is not None

    await _call(hass, "start_session", minutes=5, override_spacing=True)
    await advance(hass, freezer, timedelta(minutes=1))
    await _stop(hass)
    state = hass.states.get(EVENT)
    assert state.attributes["event_type"] == "session_stopped"
    assert state.attributes["minutes"] == 1
    assert state.attributes["dose_j_cm2"] == pytest.approx(0.72)

    # One write per event, none for time passing.
    assert len(writes.states[EVENT]) == 6  # started, limit, completed, refused, started, stopped
