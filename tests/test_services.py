"""The session actions end to end: the service call, the emulated panel, the recorded dose.

Every action is called as a user or an automation would (``hass.services.async_call`` on the
panel's light entity, once on its device). The default BlockBlueLight profile gives
60 mW/cm² at 15 cm and full output (red 24, NIR 36), so 10 J/cm² is 166.7 s. The clock is
fixed (Wednesday 4 June 2025, 09:00 in US/Pacific) so no session crosses a midnight by chance.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import math
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import ATTR_DEVICE_ID, ATTR_ENTITY_ID, STATE_OFF, STATE_ON
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.const import DOMAIN
from custom_components.red_light_therapy.panels.blockbluelight import (
    BlockBlueLightEmulator,
    codec,
)
from custom_components.red_light_therapy.session_manager import when_words
from custom_components.red_light_therapy.therapy import SessionOrigin, SessionStatus

from .common import ADDRESS, advance, last_record, no_power_command_for, stored_files, to_end

PACIFIC = ZoneInfo("US/Pacific")
LIGHT = "light.blockbluelight_f522"
DOSE = "sensor.blockbluelight_f522_session_dose"
TODAY = "sensor.blockbluelight_f522_dose_today"
EVENT = "event.blockbluelight_f522_session"
CHANNEL_1 = "number.blockbluelight_f522_channel_1_630_nm"
CHANNEL_2 = "number.blockbluelight_f522_channel_2_660_nm"

FULL = 60.0  # mW/cm² at 15 cm, full output (default profile)
RED, NIR = 24.0, 36.0
TEN_J_SECONDS = 10 * 1000 / FULL  # 166.67 s


@pytest.fixture(autouse=True)
async def fixed_clock(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Wednesday 4 June 2025, 09:00 local, before the integration is set up."""
    freezer.move_to(datetime(2025, 6, 4, 9, 0, tzinfo=PACIFIC))


async def _call(
    hass: HomeAssistant,
    service: str,
    target: dict[str, Any] | None = None,
    *,
    response: bool = True,
    **data: Any,
) -> Any:
    result = await hass.services.async_call(
        DOMAIN,
        service,
        {**({ATTR_ENTITY_ID: LIGHT} if target is None else target), **data},
        blocking=True,
        return_response=response,
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    return result


async def _ten_joules_to_the_end(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, entry: MockConfigEntry
) -> None:
    """A session of 10 J/cm² at full output, run to its planned end (its spacing starts)."""
    await _call(hass, "start_session", dose=10)
    await to_end(hass, freezer, entry)


def _commands(emulator: BlockBlueLightEmulator, command: int) -> list[codec.Frame]:
    return [frame for frame in emulator.commands if frame.command == command]


def _state(hass: HomeAssistant, entity_id: str) -> float:
    return float(hass.states.get(entity_id).state)


class Unchanged:
    """Records state writes, the stored therapy data and (given the emulated panel) what the
    panel was sent and emitted, to assert that nothing changed."""

    def __init__(
        self,
        hass: HomeAssistant,
        hass_storage: dict[str, Any],
        emulator: BlockBlueLightEmulator | None = None,
    ) -> None:
        self.hass = hass
        self.hass_storage = hass_storage
        self.stored = stored_files(hass_storage)
        self.emulator = emulator
        self.panel = self._panel()
        self.written: list[str] = []

        @callback
        def _record(event: Event[EventStateChangedData]) -> None:
            self.written.append(event.data["entity_id"])

        self._remove = hass.bus.async_listen("state_changed", _record)

    def _panel(self) -> tuple[int, list[Any]] | None:
        if self.emulator is None:
            return None
        return len(self.emulator.commands), list(self.emulator.emission_log)

    def check(self, *, allowed: tuple[str, ...] = ()) -> None:
        self._remove()
        assert [e for e in self.written if e not in allowed] == []
        assert stored_files(self.hass_storage) == self.stored
        assert self._panel() == self.panel


# -- start_session -------------------------------------------------------------------------


async def test_start_by_dose_runs_to_the_dose_and_records_it(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    """10 J/cm² at 60 mW/cm²: 166.7 s; the panel's own countdown is armed to 167 s."""
    started = dt_util.utcnow()
    answer = await _call(hass, "start_session", dose=10)

    plan = answer[LIGHT]
    assert plan["verdict"] == "allowed"
    assert plan["reasons"] == []
    assert plan["area"] == "whole_body"
    assert plan["distance_cm"] == 15
    assert plan["irradiance_mw_cm2"] == FULL
    assert plan["planned_minutes"] == round(TEN_J_SECONDS / 60, 2) == 2.78
    assert plan["expected_dose_j_cm2"] == pytest.approx(10.0)
    assert plan["expected_red_dose_j_cm2"] == pytest.approx(4.0)
    assert plan["expected_nir_dose_j_cm2"] == pytest.approx(6.0)
    ends_at = dt_util.parse_datetime(plan["ends_at"])
    assert ends_at == started + timedelta(seconds=TEN_J_SECONDS)

    assert emulator.is_on
    assert emulator.timer_set_s == math.ceil(TEN_J_SECONDS) == 167
    assert emulator.timer_remaining_s == 167
    assert hass.states.get(LIGHT).state == STATE_ON
    assert [kind for kind, _ in events] == ["session_started"]

    await to_end(hass, freezer, init_integration)

    assert not emulator.is_on
    assert hass.states.get(LIGHT).state == STATE_OFF
    assert emulator.on_seconds() == pytest.approx(TEN_J_SECONDS, abs=0.01)
    record = last_record(init_integration.runtime_data.sessions)
    assert record.status is SessionStatus.COMPLETED
    assert record.dose.total == pytest.approx(10.0, abs=0.001)
    assert _state(hass, DOSE) == pytest.approx(10.0, abs=0.001)
    assert _state(hass, TODAY) == pytest.approx(10.0, abs=0.001)
    assert events[-1][0] == "session_completed"
    assert events[-1][1]["dose_j_cm2"] == pytest.approx(10.0, abs=0.001)


async def test_start_by_minutes(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Dimmed to 20 %: 12 mW/cm², so 5 minutes are 3.6 J/cm²."""
    answer = await _call(hass, "start_session", minutes=5)

    assert answer[LIGHT]["planned_minutes"] == 5
    assert answer[LIGHT]["irradiance_mw_cm2"] == pytest.approx(12.0)
    assert answer[LIGHT]["expected_dose_j_cm2"] == pytest.approx(3.6)
    assert emulator.timer_set_s == 300

    await advance(hass, freezer, timedelta(minutes=5))

    assert not emulator.is_on
    assert emulator.on_seconds() == pytest.approx(300)
    assert _state(hass, DOSE) == pytest.approx(3.6)
    assert _state(hass, TODAY) == pytest.approx(3.6)


async def test_start_with_neither_dose_nor_minutes_runs_the_default_length(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """No protocol run: the panel's session duration (10 minutes) on its area; at 20 %
    (12 mW/cm²) that is 7.2 J/cm²."""
    answer = await _call(hass, "start_session")

    assert answer[LIGHT]["verdict"] == "allowed"
    assert answer[LIGHT]["planned_minutes"] == 10
    assert answer[LIGHT]["area"] == "whole_body"
    assert answer[LIGHT]["expected_dose_j_cm2"] == pytest.approx(7.2)
    assert emulator.timer_set_s == 600
    session = dimmed_integration.runtime_data.sessions.session
    assert session is not None
    assert session.target_dose is None

    await to_end(hass, freezer, dimmed_integration)
    assert _state(hass, DOSE) == pytest.approx(7.2, abs=0.001)


async def test_start_with_neither_dose_nor_minutes_follows_the_protocol_run(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
) -> None:
    """An active run: its dose, band and area (3 J/cm² NIR on the knee: 36 mW/cm² NIR)."""
    await _call(
        hass,
        "start_protocol",
        name="Knee course",
        dose=3,
        band="nir",
        sessions_per_week=3,
        weeks=4,
        area="knee",
    )

    answer = await _call(hass, "start_session")

    assert answer[LIGHT]["verdict"] == "allowed"
    assert answer[LIGHT]["area"] == "knee"
    assert answer[LIGHT]["expected_nir_dose_j_cm2"] == pytest.approx(3.0)
    assert answer[LIGHT]["planned_minutes"] == round(3000 / NIR / 60, 2)
    session = init_integration.runtime_data.sessions.session
    assert session is not None
    assert session.area == "knee"
    assert session.target_dose == 3
    assert emulator.is_on
    await _call(hass, "stop_session", response=False)


async def test_start_by_device_id_answers_by_light(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    device_registry: dr.DeviceRegistry,
) -> None:
    (device,) = dr.async_entries_for_config_entry(device_registry, init_integration.entry_id)
    assert (DOMAIN, ADDRESS) in device.identifiers

    answer = await _call(hass, "start_session", {ATTR_DEVICE_ID: device.id}, dose=10)

    assert list(answer) == [LIGHT]
    assert emulator.is_on
    await _call(hass, "stop_session", {ATTR_DEVICE_ID: device.id}, response=False)
    assert not emulator.is_on


@pytest.mark.parametrize(
    ("band", "dose", "irradiance"),
    [("red", 4.0, RED), ("nir", 6.0, NIR)],
)
async def test_start_by_dose_in_one_band(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    *,
    band: str,
    dose: float,
    irradiance: float,
) -> None:
    """A dose in a band counts only that band's irradiance: both give 166.7 s here."""
    answer = await _call(hass, "start_session", dose=dose, band=band)

    seconds = dose * 1000 / irradiance
    assert seconds == pytest.approx(TEN_J_SECONDS)
    assert answer[LIGHT]["planned_minutes"] == round(seconds / 60, 2)
    assert answer[LIGHT][f"expected_{band}_dose_j_cm2"] == pytest.approx(dose)
    assert emulator.timer_set_s == math.ceil(seconds)

    await to_end(hass, freezer, init_integration)

    record = last_record(init_integration.runtime_data.sessions)
    band_dose = record.dose.red if band == "red" else record.dose.nir
    assert band_dose == pytest.approx(dose, abs=0.001)
    assert record.dose.total == pytest.approx(10.0, abs=0.001)


async def test_distance_changes_the_plan(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
) -> None:
    """At 30 cm the default profile keeps 86 %: 51.6 mW/cm², so 10 J/cm² takes 193.8 s."""
    answer = await _call(hass, "start_session", dose=10, distance_cm=30)

    plan = answer[LIGHT]
    assert plan["distance_cm"] == 30
    assert plan["irradiance_mw_cm2"] == pytest.approx(FULL * 0.86)
    seconds = 10 * 1000 / (FULL * 0.86)
    assert plan["planned_minutes"] == round(seconds / 60, 2)
    assert emulator.timer_set_s == math.ceil(seconds) == 194
    session = init_integration.runtime_data.sessions.session
    assert session is not None
    assert session.distance_cm == 30
    # The call's distance is for this session; the panel's setting stays.
    assert init_integration.runtime_data.sessions.panel_settings.distance_cm == 15


async def test_area_sets_the_limits(
    hass: HomeAssistant, init_integration: MockConfigEntry, emulator: BlockBlueLightEmulator
) -> None:
    """40 J/cm²: the scalp allows it (up to 70); the whole body clamps it to 20."""
    calc = await _call(hass, "calculate", dose=40)
    assert calc[LIGHT]["verdict"] == "clamped"
    assert calc[LIGHT]["expected_dose_j_cm2"] == pytest.approx(20.0, abs=0.1)
    assert [r["code"] for r in calc[LIGHT]["reasons"]] == ["session_dose", "daily_dose"]

    answer = await _call(hass, "start_session", dose=40, area="scalp")

    plan = answer[LIGHT]
    assert plan["area"] == "scalp"
    assert plan["verdict"] == "allowed"
    assert plan["expected_dose_j_cm2"] == pytest.approx(40.0)
    assert emulator.timer_set_s == math.ceil(40 * 1000 / FULL)
    session = init_integration.runtime_data.sessions.session
    assert session is not None
    assert session.area == "scalp"


async def test_clamped_start_fires_limit_reached(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    answer = await _call(hass, "start_session", dose=40)

    assert answer[LIGHT]["verdict"] == "clamped"
    # 20 J/cm² at 60 mW/cm² is 333.3 s, rounded down to whole seconds.
    assert answer[LIGHT]["planned_minutes"] == round(333 / 60, 2)
    assert emulator.timer_set_s == 333
    assert [kind for kind, _ in events] == ["session_started", "limit_reached"]
    assert events[1][1]["verdict"] == "clamped"


async def test_second_session_within_spacing_is_refused_and_changes_nothing(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    *,
    hass_storage: dict[str, Any],
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    await _ten_joules_to_the_end(hass, freezer, init_integration)
    ended = dt_util.utcnow()
    await advance(hass, freezer, timedelta(hours=2))
    sessions = init_integration.runtime_data.sessions
    emission = list(emulator.emission_log)
    power = len(_commands(emulator, codec.CMD_POWER))
    timer = len(_commands(emulator, codec.CMD_TIMER))
    fired = len(events)
    unchanged = Unchanged(hass, hass_storage)

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "start_session", dose=5)

    assert err.value.translation_key == "refused_spacing"
    placeholders = err.value.translation_placeholders
    assert placeholders["limit"] == "20 hours"
    assert placeholders["actual"] == "2 hours"
    next_allowed = when_words(ended + timedelta(hours=20))
    assert placeholders["next_allowed_at"] == next_allowed
    # Nothing happened at the panel, nothing was stored, only the event entity told of it.
    assert emulator.emission_log == emission
    assert not emulator.is_on
    assert len(_commands(emulator, codec.CMD_POWER)) == power
    assert len(_commands(emulator, codec.CMD_TIMER)) == timer
    assert sessions.session is None
    assert len(sessions.history) == 1
    unchanged.check(allowed=(EVENT,))
    assert [kind for kind, _ in events[fired:]] == ["session_refused"]
    assert hass.states.get(EVENT).attributes["event_type"] == "session_refused"


async def test_override_spacing_allows_the_second_session(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _ten_joules_to_the_end(hass, freezer, init_integration)
    await advance(hass, freezer, timedelta(hours=2))

    answer = await _call(hass, "start_session", dose=5, override_spacing=True)

    plan = answer[LIGHT]
    assert plan["verdict"] == "allowed"
    assert [r["code"] for r in plan["reasons"]] == ["spacing_overridden"]
    assert emulator.is_on
    assert "spacing limit overridden" in caplog.text
    await to_end(hass, freezer, init_integration)
    assert _state(hass, TODAY) == pytest.approx(15.0, abs=0.001)


async def test_start_while_a_session_runs_is_refused(
    hass: HomeAssistant, init_integration: MockConfigEntry, emulator: BlockBlueLightEmulator
) -> None:
    await _call(hass, "start_session", dose=10)
    timer = emulator.timer_set_s

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "start_session", dose=5)

    assert err.value.translation_key == "session_already_running"
    assert emulator.timer_set_s == timer


async def test_start_with_levels_plans_at_those_levels(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Every channel at 20 %: 12 mW/cm², so 10 J/cm² takes 833.3 s."""
    answer = await _call(hass, "start_session", dose=10, levels=[20] * 5)

    assert answer[LIGHT]["irradiance_mw_cm2"] == pytest.approx(12.0)
    assert answer[LIGHT]["planned_minutes"] == round(10_000 / 12 / 60, 2)
    assert emulator.levels == (20,) * 5
    assert emulator.timer_set_s == 834
    # The panel emitted at the new levels from the start, not at full output first.
    assert [segment.levels for segment in emulator.emission_log] == [(20,) * 5]

    await to_end(hass, freezer, init_integration)
    assert _state(hass, DOSE) == pytest.approx(10.0, abs=0.001)


@pytest.mark.parametrize(
    ("levels", "key", "placeholders"),
    [
        ([20, 20], "invalid_levels", {"count": "5"}),
        ([20] * 6, "invalid_levels", {"count": "5"}),
        ([101] * 5, "invalid_level", {"min": "0", "max": "100"}),
        ([-1] * 5, "invalid_level", {"min": "0", "max": "100"}),
        ([20.5] * 5, "invalid_level", {"min": "0", "max": "100"}),
    ],
)
@pytest.mark.parametrize("service", ["start_session", "calculate"])
async def test_levels_the_panel_cannot_take(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    *,
    hass_storage: dict[str, Any],
    service: str,
    levels: list[float],
    key: str,
    placeholders: dict[str, str],
) -> None:
    unchanged = Unchanged(hass, hass_storage, emulator)

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, service, dose=10, levels=levels)

    assert err.value.translation_key == key
    assert placeholders.items() <= err.value.translation_placeholders.items()
    assert emulator.levels == (100,) * 5
    unchanged.check()


async def test_refused_start_with_levels_leaves_the_levels(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    await _ten_joules_to_the_end(hass, freezer, init_integration)

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "start_session", dose=5, levels=[20] * 5)

    assert err.value.translation_key == "refused_spacing"
    assert emulator.levels == (100,) * 5


# -- pause, resume, stop, extend -----------------------------------------------------------


async def test_pause_adds_no_dose_and_resume_rearms_the_remaining_time(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    await _call(hass, "start_session", dose=10)
    await advance(hass, freezer, timedelta(seconds=60))

    await _call(hass, "pause_session", response=False)

    assert not emulator.is_on
    paused = init_integration.runtime_data.sessions.session
    assert paused is not None
    assert paused.delivered(dt_util.utcnow()).total == pytest.approx(3.6, abs=0.001)  # 60 s
    assert _state(hass, DOSE) == pytest.approx(10.0, abs=0.001)  # the dose it is heading for
    await advance(hass, freezer, timedelta(minutes=30))
    assert not emulator.is_on
    assert emulator.on_seconds() == pytest.approx(60, abs=0.01)

    await _call(hass, "resume_session", response=False)

    remaining = TEN_J_SECONDS - 60
    assert emulator.is_on
    assert emulator.timer_set_s == math.ceil(remaining) == 107
    assert emulator.timer_remaining_s == 107
    session = init_integration.runtime_data.sessions.session
    assert session is not None
    assert session.ends_at == dt_util.utcnow() + timedelta(seconds=remaining)

    await to_end(hass, freezer, init_integration)

    assert not emulator.is_on
    assert emulator.on_seconds() == pytest.approx(TEN_J_SECONDS, abs=0.01)
    assert len(emulator.emission_log) == 2
    assert _state(hass, DOSE) == pytest.approx(10.0, abs=0.001)
    assert _state(hass, TODAY) == pytest.approx(10.0, abs=0.001)


async def test_stop_records_the_partial_dose(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    await _call(hass, "start_session", dose=10)
    await advance(hass, freezer, timedelta(seconds=60))

    await _call(hass, "stop_session", response=False)

    assert not emulator.is_on
    record = last_record(init_integration.runtime_data.sessions)
    assert record.status is SessionStatus.STOPPED
    assert record.dose.total == pytest.approx(3.6, abs=0.001)  # 60 s at 60 mW/cm²
    assert _state(hass, DOSE) == pytest.approx(3.6, abs=0.001)
    assert _state(hass, TODAY) == pytest.approx(3.6, abs=0.001)
    assert events[-1][0] == "session_stopped"
    assert events[-1][1]["dose_j_cm2"] == pytest.approx(3.6, abs=0.001)

    # Nothing is left scheduled: the planned end passes without a command to the panel.
    await no_power_command_for(hass, freezer, emulator, timedelta(minutes=5))


@pytest.mark.parametrize("service", ["pause_session", "resume_session", "stop_session"])
async def test_without_a_session(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    service: str,
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, service, response=False)
    assert err.value.translation_key == "no_active_session"
    assert emulator.emission_log == []


async def test_resume_of_a_running_session_is_refused(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    await _call(hass, "start_session", dose=10)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "resume_session", response=False)
    assert err.value.translation_key == "no_active_session"


async def test_extend_by_minutes_rearms_the_countdown(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    started = dt_util.utcnow()
    await _call(hass, "start_session", minutes=10)
    await advance(hass, freezer, timedelta(minutes=2))

    answer = await _call(hass, "extend_session", minutes=5)

    assert answer[LIGHT]["verdict"] == "allowed"
    assert answer[LIGHT]["added_minutes"] == 5
    assert dt_util.parse_datetime(answer[LIGHT]["ends_at"]) == started + timedelta(minutes=15)
    assert emulator.timer_set_s == 13 * 60
    assert emulator.timer_remaining_s == 13 * 60

    await advance(hass, freezer, timedelta(minutes=13))

    assert not emulator.is_on
    assert emulator.on_seconds() == pytest.approx(15 * 60)
    assert _state(hass, DOSE) == pytest.approx(10.8)  # 15 min at 12 mW/cm²


async def test_extend_by_dose(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """1.2 J/cm² more at 12 mW/cm² is 100 s more."""
    await _call(hass, "start_session", minutes=5)

    answer = await _call(hass, "extend_session", dose=1.2)

    assert answer[LIGHT]["added_minutes"] == round(100 / 60, 2)
    assert emulator.timer_set_s == 400
    await advance(hass, freezer, timedelta(seconds=400))
    assert not emulator.is_on
    assert _state(hass, DOSE) == pytest.approx(4.8)


async def test_extend_is_clamped_at_the_session_limit(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    """A whole-body session lasts at most 20 minutes: 15 + 10 is cut to 20."""
    await _call(hass, "start_session", minutes=15)

    answer = await _call(hass, "extend_session", minutes=10)

    assert answer[LIGHT]["verdict"] == "clamped"
    assert answer[LIGHT]["added_minutes"] == 5
    assert emulator.timer_set_s == 20 * 60
    assert events[-1] == (
        "limit_reached",
        {"reasons": ["session_minutes"], "person": None, "person_name": None},
    )
    assert hass.states.get(EVENT).attributes["event_type"] == "limit_reached"

    await advance(hass, freezer, timedelta(minutes=20))
    assert not emulator.is_on
    assert emulator.on_seconds() == pytest.approx(20 * 60)


async def test_extend_past_the_limit_is_refused_and_changes_nothing(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    hass_storage: dict[str, Any],
) -> None:
    await _call(hass, "start_session", minutes=20)
    session = dimmed_integration.runtime_data.sessions.session
    assert session is not None
    ends_at = session.ends_at
    timer = len(_commands(emulator, codec.CMD_TIMER))
    unchanged = Unchanged(hass, hass_storage)

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "extend_session", minutes=1)

    assert err.value.translation_key == "refused_session_minutes"
    assert session.ends_at == ends_at
    assert len(_commands(emulator, codec.CMD_TIMER)) == timer
    unchanged.check()


async def test_extend_while_paused_keeps_the_panel_off(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    await _call(hass, "start_session", minutes=5)
    await advance(hass, freezer, timedelta(minutes=1))
    await _call(hass, "pause_session", response=False)

    answer = await _call(hass, "extend_session", minutes=2)

    assert answer[LIGHT]["ends_at"] is None
    assert not emulator.is_on
    await _call(hass, "resume_session", response=False)
    assert emulator.timer_set_s == 6 * 60
    await advance(hass, freezer, timedelta(minutes=6))
    assert emulator.on_seconds() == pytest.approx(7 * 60)


# -- calculate, log_session ----------------------------------------------------------------


async def test_calculate_answers_and_changes_nothing(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    hass_storage: dict[str, Any],
) -> None:
    unchanged = Unchanged(hass, hass_storage, emulator)

    by_dose = await _call(hass, "calculate", dose=10)
    by_minutes = await _call(hass, "calculate", minutes=5, distance_cm=61)

    assert by_dose[LIGHT]["planned_minutes"] == 2.78
    assert by_dose[LIGHT]["expected_dose_j_cm2"] == pytest.approx(10.0)
    assert by_dose[LIGHT]["verdict"] == "allowed"
    # 61 cm: 70 % of 60 mW/cm², for 5 minutes.
    assert by_minutes[LIGHT]["irradiance_mw_cm2"] == pytest.approx(42.0)
    assert by_minutes[LIGHT]["expected_dose_j_cm2"] == pytest.approx(12.6)
    assert emulator.emission_log == []
    assert init_integration.runtime_data.sessions.session is None
    assert len(init_integration.runtime_data.sessions.history) == 0
    unchanged.check()


async def test_calculate_tells_when_a_refused_session_is_allowed(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await _ten_joules_to_the_end(hass, freezer, init_integration)
    ended = dt_util.utcnow()

    answer = await _call(hass, "calculate", dose=10)

    assert answer[LIGHT]["verdict"] == "refused"
    assert [r["code"] for r in answer[LIGHT]["reasons"]] == ["spacing"]
    assert dt_util.parse_datetime(answer[LIGHT]["next_allowed_at"]) == ended + timedelta(hours=20)
    # It still converts: what the plan would deliver once allowed, and separately that it is
    # refused now, by which limit and until when.
    assert answer[LIGHT]["expected_dose_j_cm2"] == pytest.approx(10.0, abs=0.001)
    assert answer[LIGHT]["planned_minutes"] == pytest.approx(10.0 / 0.06 / 60, abs=0.01)
    assert answer[LIGHT]["refused"] is True
    assert answer[LIGHT]["deciding"]["code"] == "spacing"
    until = ended + timedelta(hours=20)
    assert dt_util.parse_datetime(answer[LIGHT]["deciding"]["until"]) == until
    assert dt_util.parse_datetime(answer[LIGHT]["refused_until"]) == until


async def test_logged_session_counts_toward_the_limits(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
) -> None:
    """Two minutes at 60 mW/cm² half an hour ago: 7.2 J/cm² today, and the spacing runs."""
    started_at = dt_util.now() - timedelta(minutes=30)

    answer = await _call(hass, "log_session", started_at=started_at.isoformat(), minutes=2)

    assert answer[LIGHT]["dose_j_cm2"] == pytest.approx(7.2)
    sessions = init_integration.runtime_data.sessions
    record = last_record(sessions)
    assert record.origin is SessionOrigin.LOGGED
    assert record.started_at == started_at
    assert _state(hass, TODAY) == pytest.approx(7.2)
    assert emulator.emission_log == []

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "start_session", dose=5)
    assert err.value.translation_key == "refused_spacing"
    assert not emulator.is_on
    assert emulator.emission_log == []


async def test_logged_session_without_a_time_zone_is_local(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    await _call(hass, "log_session", started_at="2025-06-04 07:00:00", minutes=10, area="knee")

    record = last_record(init_integration.runtime_data.sessions)
    assert record.started_at == datetime(2025, 6, 4, 7, 0, tzinfo=PACIFIC)
    assert record.area == "knee"


async def test_logged_session_must_have_ended(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    unchanged = Unchanged(hass, hass_storage)
    started_at = dt_util.now() - timedelta(minutes=5)

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "log_session", started_at=started_at.isoformat(), minutes=10)

    assert err.value.translation_key == "log_in_future"
    assert len(init_integration.runtime_data.sessions.history) == 0
    unchanged.check()


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["start_session", "calculate"])
@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"minutes": -5}, "invalid_minutes"),
        ({"minutes": 0}, "invalid_minutes"),
        ({"minutes": "nan"}, "invalid_minutes"),
        ({"dose": -1}, "invalid_dose"),
        ({"dose": 0}, "invalid_dose"),
        ({"dose": 10, "distance_cm": -30}, "invalid_distance"),
        ({"dose": 10, "distance_cm": 0}, "invalid_distance"),
        ({"dose": 5, "minutes": 5}, "dose_and_minutes"),
        ({"minutes": 5, "area": "elbow"}, "therapy_unknown_area"),
        ({"minutes": 5, "area": "eyes"}, "therapy_eye_area_forbidden"),
        ({"minutes": 5, "area": "Left eye"}, "therapy_eye_area_forbidden"),
        ({"dose": 10, "distance_cm": 10}, "therapy_distance_below_measured"),
    ],
)
async def test_bad_input_is_refused_by_name_and_changes_nothing(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    *,
    hass_storage: dict[str, Any],
    events: list[tuple[str, dict[str, Any]]],
    service: str,
    data: dict[str, Any],
    key: str,
) -> None:
    unchanged = Unchanged(hass, hass_storage, emulator)

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, service, **data)

    assert err.value.translation_key == key
    assert err.value.translation_domain == DOMAIN
    assert emulator.emission_log == []
    assert not emulator.is_on
    assert init_integration.runtime_data.sessions.session is None
    assert len(init_integration.runtime_data.sessions.history) == 0
    assert events == []
    unchanged.check()


async def test_calculate_needs_a_dose_or_minutes(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """Calculate converts one into the other: with neither there is nothing to convert."""
    unchanged = Unchanged(hass, hass_storage)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "calculate")
    assert err.value.translation_key == "dose_or_minutes"
    unchanged.check()


async def test_calculate_at_other_levels_changes_nothing_on_the_panel(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    hass_storage: dict[str, Any],
) -> None:
    """Half the levels, half the irradiance: the same dose takes twice as long."""
    unchanged = Unchanged(hass, hass_storage, emulator)

    full = await _call(hass, "calculate", dose=10)
    half = await _call(hass, "calculate", dose=10, levels=[50] * 5)

    assert full[LIGHT]["irradiance_mw_cm2"] == pytest.approx(FULL)
    assert half[LIGHT]["irradiance_mw_cm2"] == pytest.approx(FULL / 2)
    assert half[LIGHT]["planned_minutes"] == round(2 * TEN_J_SECONDS / 60, 2) == 5.56
    assert half[LIGHT]["planned_minutes"] > full[LIGHT]["planned_minutes"]
    assert half[LIGHT]["expected_dose_j_cm2"] == pytest.approx(10.0)
    assert emulator.levels == (100,) * 5
    assert emulator.emission_log == []
    unchanged.check()


async def test_distance_error_names_the_nearest_measured_point(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "start_session", dose=10, distance_cm=10)
    assert err.value.translation_placeholders["min_distance_cm"] == "15"  # as read
    assert err.value.translation_placeholders["distance_cm"] == "10"


async def test_dose_in_a_band_the_panel_does_not_emit(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
) -> None:
    for channel in (CHANNEL_1, CHANNEL_2):  # both red channels off
        await hass.services.async_call(
            "number", "set_value", {ATTR_ENTITY_ID: channel, "value": 0}, blocking=True
        )
    await hass.async_block_till_done(wait_background_tasks=True)

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "start_session", dose=4, band="red")

    assert err.value.translation_key == "therapy_no_irradiance_in_band"
    assert emulator.emission_log == []


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"minutes": -1}, "invalid_minutes"),
        ({"dose": 0}, "invalid_dose"),
        ({"dose": 1, "minutes": 1}, "dose_and_minutes"),
        ({}, "dose_or_minutes"),
    ],
)
async def test_bad_extend_changes_nothing(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    *,
    hass_storage: dict[str, Any],
    data: dict[str, Any],
    key: str,
) -> None:
    await _call(hass, "start_session", minutes=5)
    session = dimmed_integration.runtime_data.sessions.session
    assert session is not None
    timer = len(_commands(emulator, codec.CMD_TIMER))
    unchanged = Unchanged(hass, hass_storage)

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "extend_session", **data)

    assert err.value.translation_key == key
    assert session.planned_seconds == 300
    assert len(_commands(emulator, codec.CMD_TIMER)) == timer
    unchanged.check()


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"minutes": -10}, "invalid_minutes"),
        ({"minutes": 10, "distance_cm": 0}, "invalid_distance"),
        ({"minutes": 10, "area": "eyes"}, "therapy_eye_area_forbidden"),
        ({"minutes": 10, "area": "tail"}, "therapy_unknown_area"),
        ({"minutes": 10, "distance_cm": 5}, "therapy_distance_below_measured"),
    ],
)
async def test_bad_log_changes_nothing(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
    data: dict[str, Any],
    key: str,
) -> None:
    unchanged = Unchanged(hass, hass_storage)
    started_at = (dt_util.now() - timedelta(hours=3)).isoformat()

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "log_session", started_at=started_at, **data)

    assert err.value.translation_key == key
    assert len(init_integration.runtime_data.sessions.history) == 0
    unchanged.check()


@pytest.mark.parametrize(
    "target",
    [{}, {ATTR_ENTITY_ID: "light.not_a_panel"}, {ATTR_DEVICE_ID: "0123456789abcdef"}],
)
async def test_no_panel_targeted(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    target: dict[str, Any],
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "start_session", target, dose=10)
    assert err.value.translation_key == "no_panel_targeted"
    assert emulator.emission_log == []


async def test_unloaded_panel_is_named(
    hass: HomeAssistant, init_integration: MockConfigEntry, emulator: BlockBlueLightEmulator
) -> None:
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "start_session", dose=10)

    assert err.value.translation_key == "panel_not_loaded"
    assert err.value.translation_placeholders == {"name": "BlockBlueLight F522"}
    assert emulator.emission_log == []
