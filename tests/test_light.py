"""The panel as a light: switching it on runs a timed session on the real (emulated) panel."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.light import ATTR_BRIGHTNESS, DOMAIN as LIGHT_DOMAIN
from homeassistant.const import (
    ATTR_ENTITY_ID,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_ON,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.const import (
    DEFAULT_SESSION_MINUTES,
    DOMAIN,
    OFF_RETRY_SECONDS,
)
from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator
from custom_components.red_light_therapy.therapy import SessionOrigin, SessionStatus

from .common import act, advance, out_of_reach, switched_off

LIGHT = "light.blockbluelight_f522"
DEFAULT_SECONDS = DEFAULT_SESSION_MINUTES * 60


async def _light(hass: HomeAssistant, service: str, **data: object) -> None:
    await act(hass, LIGHT_DOMAIN, service, {ATTR_ENTITY_ID: LIGHT, **data})


async def test_turn_on_starts_a_session_of_the_default_length(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry, emulator: BlockBlueLightEmulator
) -> None:
    await _light(hass, SERVICE_TURN_ON)

    assert emulator.is_on
    assert emulator.timer_set_s == DEFAULT_SECONDS
    assert emulator.timer_remaining_s == DEFAULT_SECONDS
    assert len(emulator.emission_log) == 1
    assert emulator.emission_log[0].end is None
    session = dimmed_integration.runtime_data.sessions.session
    assert session is not None
    assert session.status is SessionStatus.RUNNING
    assert session.planned_seconds == DEFAULT_SECONDS
    assert session.ends_at == session.started_at + timedelta(seconds=DEFAULT_SECONDS)
    assert hass.states.get(LIGHT).state == STATE_ON


async def test_turn_on_at_full_output_is_clamped_by_the_dose_limit(
    hass: HomeAssistant, init_integration: MockConfigEntry, emulator: BlockBlueLightEmulator
) -> None:
    """At 100 % the default length is shortened to what fits the session dose (5 whole
    minutes instead of 10): the panel's timer says so."""
    await _light(hass, SERVICE_TURN_ON)

    session = init_integration.runtime_data.sessions.session
    assert session is not None
    assert session.planned_seconds < DEFAULT_SECONDS
    assert emulator.is_on
    assert emulator.timer_set_s == pytest.approx(session.planned_seconds, abs=1)


async def test_turn_on_with_brightness_sets_every_channel(
    hass: HomeAssistant, init_integration: MockConfigEntry, emulator: BlockBlueLightEmulator
) -> None:
    await _light(hass, SERVICE_TURN_ON, **{ATTR_BRIGHTNESS: 51})  # 20 %

    assert emulator.levels == (20,) * 5
    assert emulator.is_on
    # The panel emitted at the new levels from the start, not at full output first.
    assert [segment.levels for segment in emulator.emission_log] == [(20,) * 5]
    assert emulator.timer_set_s == DEFAULT_SECONDS
    state = hass.states.get(LIGHT)
    assert state.state == STATE_ON
    assert state.attributes[ATTR_BRIGHTNESS] == 51


async def test_brightness_while_on_keeps_the_session(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry, emulator: BlockBlueLightEmulator
) -> None:
    await _light(hass, SERVICE_TURN_ON)
    session = dimmed_integration.runtime_data.sessions.session

    await _light(hass, SERVICE_TURN_ON, **{ATTR_BRIGHTNESS: 26})  # 10 %

    assert emulator.levels == (10,) * 5
    # One channel per command, as the protocol has it: the panel emitted throughout.
    log = emulator.emission_log
    assert log[0].levels == (20,) * 5
    assert log[-1].levels == (10,) * 5
    assert log[-1].end is None
    assert all(a.end == b.start for a, b in pairwise(log))
    assert dimmed_integration.runtime_data.sessions.session is session
    assert emulator.timer_set_s == DEFAULT_SECONDS


async def test_turn_off_stops_the_session_and_the_panel(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry, emulator: BlockBlueLightEmulator
) -> None:
    sessions = dimmed_integration.runtime_data.sessions
    await _light(hass, SERVICE_TURN_ON)

    await _light(hass, SERVICE_TURN_OFF)

    assert emulator.emission_log[-1].end is not None
    record = switched_off(hass, emulator, sessions)
    assert record.status is SessionStatus.STOPPED
    assert record.on_seconds == pytest.approx(emulator.on_seconds(), abs=0.01)


async def test_turn_off_a_panel_switched_on_at_its_button(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry, emulator: BlockBlueLightEmulator
) -> None:
    sessions = dimmed_integration.runtime_data.sessions
    emulator.press_button()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(LIGHT).state == STATE_ON
    assert sessions.session is not None
    assert sessions.session.origin is SessionOrigin.UNPLANNED

    await _light(hass, SERVICE_TURN_OFF)

    assert switched_off(hass, emulator, sessions).origin is SessionOrigin.UNPLANNED


async def test_turn_on_of_an_unreachable_panel_raises_a_translated_error(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry, emulator: BlockBlueLightEmulator
) -> None:
    await out_of_reach(hass, emulator)

    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            LIGHT_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: LIGHT}, blocking=True
        )

    assert err.value.translation_key == "cannot_connect"
    assert err.value.translation_placeholders["name"] == dimmed_integration.title
    assert not emulator.is_on
    assert emulator.emission_log == []
    # Nothing half-started: no session is left behind.
    assert dimmed_integration.runtime_data.sessions.session is None


async def test_turn_off_of_an_unreachable_panel_keeps_the_session_and_retries(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    sessions = dimmed_integration.runtime_data.sessions
    await _light(hass, SERVICE_TURN_ON)
    await out_of_reach(hass, emulator)

    # The user is told it did not work...
    with pytest.raises(HomeAssistantError) as err:
        await _light(hass, SERVICE_TURN_OFF)
    assert err.value.translation_key == "cannot_connect"

    # ...the panel still emits: the session stays open (nothing lost) and a repair issue says so.
    assert emulator.is_on
    assert sessions.session is not None
    issue_id = f"not_confirmed_off_{dimmed_integration.entry_id}"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None

    emulator.refuse_connections = 0
    await advance(hass, freezer, timedelta(seconds=OFF_RETRY_SECONDS))

    assert switched_off(hass, emulator, sessions).status is SessionStatus.STOPPED
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_refused_turn_on_with_brightness_leaves_the_panel_as_it_was(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """During a lockout, "turn on at 50 %" is refused and the channels stay where they were."""
    await _light(hass, SERVICE_TURN_ON)
    await advance(hass, freezer, timedelta(minutes=2))  # a treatment: the spacing runs
    await _light(hass, SERVICE_TURN_OFF)
    commands = len(emulator.commands)

    with pytest.raises(HomeAssistantError) as err:
        await _light(hass, SERVICE_TURN_ON, brightness_pct=50)

    assert err.value.translation_key == "refused_spacing"
    assert emulator.levels == (20,) * 5
    assert emulator.commands[commands:] == []
    assert not emulator.is_on
    assert dimmed_integration.runtime_data.sessions.session is None


async def test_the_light_shows_the_running_session(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry
) -> None:
    """While a session runs, the light's more-info shows its area, the dose it aims for and
    when it ends; nothing of it while idle."""
    assert hass.states.get(LIGHT).attributes.keys().isdisjoint({"area", "target_dose", "ends_at"})

    await hass.services.async_call(
        DOMAIN, "start_session", {ATTR_ENTITY_ID: LIGHT, "dose": 2.5, "area": "knee"}, blocking=True
    )
    session = dimmed_integration.runtime_data.sessions.session
    assert session is not None
    assert session.ends_at is not None
    attributes = hass.states.get(LIGHT).attributes
    assert attributes["area"] == "knee"
    assert attributes["target_dose"] == 2.5
    assert attributes["ends_at"] == session.ends_at.isoformat()

    await _light(hass, SERVICE_TURN_OFF)
    assert hass.states.get(LIGHT).attributes.keys().isdisjoint({"area", "target_dose", "ends_at"})


async def test_a_session_by_minutes_shows_the_dose_it_will_deliver(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry
) -> None:
    """At 20 % (12 mW/cm² at 15 cm) the default 10 minutes deliver 7.2 J/cm²."""
    await _light(hass, SERVICE_TURN_ON)

    attributes = hass.states.get(LIGHT).attributes
    assert attributes["target_dose"] == 7.2
    assert attributes["area"] == dimmed_integration.runtime_data.sessions.panel_settings.area


async def test_the_target_dose_is_what_the_session_delivers_as_the_dose_sensor_says(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry
) -> None:
    """A session aiming for 3 J/cm² of red light showed ``target_dose`` 3 while the panel's
    NIR made it deliver more, which the Session dose sensor showed: two numbers for one
    session. The light now shows the total the session will deliver, as the sensor does, and
    names the band the session aims for."""
    await hass.services.async_call(
        DOMAIN,
        "start_session",
        {ATTR_ENTITY_ID: LIGHT, "dose": 3, "band": "red", "area": "knee"},
        blocking=True,
    )
    attributes = hass.states.get(LIGHT).attributes
    sensor = float(hass.states.get("sensor.blockbluelight_f522_session_dose").state)
    assert sensor > 3.05  # the panel emits NIR too
    assert attributes["target_dose"] == round(sensor, 1)
    assert attributes["target_band"] == "red"
