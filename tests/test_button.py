"""Start and stop buttons."""

from __future__ import annotations

from homeassistant.components.button import DOMAIN as BUTTON_DOMAIN, SERVICE_PRESS
from homeassistant.const import ATTR_ENTITY_ID, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.const import DEFAULT_SESSION_MINUTES
from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator
from custom_components.red_light_therapy.therapy import SessionStatus

from .common import act, switched_off

START = "button.blockbluelight_f522_start_session"
STOP = "button.blockbluelight_f522_stop_session"
LIGHT = "light.blockbluelight_f522"


async def _press(hass: HomeAssistant, entity_id: str) -> None:
    await act(hass, BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: entity_id})


async def test_start_and_stop(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry, emulator: BlockBlueLightEmulator
) -> None:
    sessions = dimmed_integration.runtime_data.sessions

    await _press(hass, START)

    assert emulator.is_on
    assert emulator.timer_set_s == DEFAULT_SESSION_MINUTES * 60
    assert sessions.timer_state == "active"
    assert hass.states.get(LIGHT).state == STATE_ON

    await _press(hass, STOP)

    assert switched_off(hass, emulator, sessions).status is SessionStatus.STOPPED


async def test_start_while_a_session_runs_is_refused(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry, emulator: BlockBlueLightEmulator
) -> None:
    await _press(hass, START)
    session = dimmed_integration.runtime_data.sessions.session
    commands = len(emulator.commands)

    with pytest.raises(ServiceValidationError) as err:
        await _press(hass, START)

    assert err.value.translation_key == "session_already_running"
    assert dimmed_integration.runtime_data.sessions.session is session
    assert len(emulator.commands) == commands


async def test_stop_without_a_session_is_refused(
    hass: HomeAssistant, init_integration: MockConfigEntry, emulator: BlockBlueLightEmulator
) -> None:
    commands = len(emulator.commands)

    with pytest.raises(ServiceValidationError) as err:
        await _press(hass, STOP)

    assert err.value.translation_key == "no_active_session"
    assert err.value.translation_placeholders == {"name": init_integration.title}
    assert len(emulator.commands) == commands
    assert not emulator.is_on
