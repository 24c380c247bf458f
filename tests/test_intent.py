"""Assist intents: start by minutes, dose or the protocol's dose; stop; dose today; next."""

from __future__ import annotations

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import intent
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.red_light_therapy.const import DOMAIN
from custom_components.red_light_therapy.intent import (
    INTENT_DOSE_TODAY,
    INTENT_NEXT_SESSION,
    INTENT_START,
    INTENT_STOP,
)

NAME = "BlockBlueLight F522"


@pytest.fixture
async def assist(hass: HomeAssistant, dimmed_integration: MockConfigEntry) -> MockConfigEntry:
    assert await async_setup_component(hass, "intent", {})
    await hass.async_block_till_done()
    return dimmed_integration


async def _ask(hass: HomeAssistant, kind: str, **slots: object) -> str:
    response = await intent.async_handle(
        hass, "test", kind, {key: {"value": value} for key, value in slots.items()}
    )
    speech: str = response.speech["plain"]["speech"]
    return speech


async def test_start_by_minutes_and_stop(
    hass: HomeAssistant, assist: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    sessions = assist.runtime_data.sessions
    said = await _ask(hass, INTENT_START, name="blockbluelight f522", minutes=5)
    assert said.startswith(f"Started 5 minutes on {NAME}")
    assert sessions.session is not None
    freezer.tick(timedelta(minutes=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    said = await _ask(hass, INTENT_STOP)
    assert said == f"Stopped {NAME} after 1.4 joules per square centimetre."
    assert sessions.session is None
    said = await _ask(hass, INTENT_DOSE_TODAY)
    assert said.startswith("Today's dose is 1.4 joules per square centimetre")
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_start_by_dose_and_errors(hass: HomeAssistant, assist: MockConfigEntry) -> None:
    said = await _ask(hass, INTENT_START, dose=3)
    assert "about 3.0 joules" in said
    with pytest.raises(intent.IntentHandleError, match="already running"):
        await _ask(hass, INTENT_START, minutes=2)
    with pytest.raises(intent.IntentHandleError, match="No Red Light Therapy panel is named x"):
        await _ask(hass, INTENT_STOP, name="x")
    await assist.runtime_data.sessions.async_stop()
    with pytest.raises(intent.IntentHandleError):
        await _ask(hass, INTENT_STOP)
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_next_session_and_protocol_dose(
    hass: HomeAssistant, assist: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    assert await _ask(hass, INTENT_NEXT_SESSION) == "No protocol session is planned."
    tomorrow = dt_util.now().date() + timedelta(days=1)
    await hass.services.async_call(
        DOMAIN,
        "start_protocol",
        {
            "entity_id": "light.blockbluelight_f522",
            "name": "Knee course",
            "dose": 3,
            "sessions_per_week": 1,
            "weeks": 4,
            "area": "knee",
            "start_date": tomorrow.isoformat(),
            "time_of_day": "07:30:00",
        },
        blocking=True,
    )
    said = await _ask(hass, INTENT_NEXT_SESSION, name=NAME)
    assert said == f"The next Knee course session on {NAME} is tomorrow at 07:30."
    # Neither dose nor minutes: the run's dose on the run's area.
    said = await _ask(hass, INTENT_START)
    assert "about 3.0 joules" in said
    assert assist.runtime_data.sessions.session is not None
    assert assist.runtime_data.sessions.session.area == "knee"
    await assist.runtime_data.sessions.async_stop()
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_no_panel(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, "intent", {})
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    with pytest.raises(intent.IntentHandleError):
        await _ask(hass, INTENT_DOSE_TODAY)
    with pytest.raises(intent.IntentHandleError, match="Which panel"):
        await _ask(hass, INTENT_START)
