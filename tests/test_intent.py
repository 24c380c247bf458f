"""Assist intents: start by minutes, dose or the protocol's dose; stop; dose today; next."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
import gc
import pathlib
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Context, HomeAssistant
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
from custom_components.red_light_therapy.intent_light import (
    ASSIST_CALLS,
    LIGHT_INTENTS,
    SaysPanelFailures,
)
from custom_components.red_light_therapy.session_manager import SessionManager

from .common import advance, converse, install_sentences
from .conftest import SESSION_LEVEL

NAME = "BlockBlueLight F522"
AREA = "select.blockbluelight_f522_treatment_area"


@pytest.fixture
async def assist(hass: HomeAssistant, dimmed_integration: MockConfigEntry) -> MockConfigEntry:
    assert await async_setup_component(hass, "intent", {})
    await hass.async_block_till_done()
    return dimmed_integration


async def _ask(hass: HomeAssistant, kind: str, *, error: bool = False, **slots: object) -> str:
    """What Assist would say; ``error``: the answer must be an error (or must not)."""
    response = await intent.async_handle(
        hass, "test", kind, {key: {"value": value} for key, value in slots.items()}
    )
    assert (response.response_type is intent.IntentResponseType.ERROR) is error
    speech: str = response.speech["plain"]["speech"]
    return speech


async def _start_course_tomorrow(hass: HomeAssistant, name: str, area: str) -> None:
    """A four-week course of 3 J/cm² a week on ``area``, its first session tomorrow at 07:30."""
    tomorrow = dt_util.now().date() + timedelta(days=1)
    await hass.services.async_call(
        DOMAIN,
        "start_protocol",
        {
            "entity_id": "light.blockbluelight_f522",
            "name": name,
            "dose": 3,
            "sessions_per_week": 1,
            "weeks": 4,
            "area": area,
            "start_date": tomorrow.isoformat(),
            "time_of_day": "07:30:00",
        },
        blocking=True,
    )


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


async def test_start_by_dose_and_errors(
    hass: HomeAssistant, assist: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    said = await _ask(hass, INTENT_START, dose=3)
    assert "about 3 joules per square centimetre." in said
    # Failures are answered in words (Assist speaks them), as errors.
    said = await _ask(hass, INTENT_START, minutes=2, error=True)
    assert "already running" in said
    # Two minutes at 12 mW/cm² (1.4 J/cm²): a treatment, so the spacing runs from its end.
    await advance(hass, freezer, timedelta(minutes=2))
    said = await _ask(hass, INTENT_STOP, name="x", error=True)
    assert said == "No Red Light Therapy panel is named x"
    await assist.runtime_data.sessions.runner.async_stop()
    said = await _ask(hass, INTENT_STOP, error=True)
    assert "no session" in said.casefold()
    # A slot out of range is Home Assistant's to answer (it names the slot).
    for minutes in (500, 10**400, "nan", None, [5]):  # 10**400 overflowed a float
        with pytest.raises(intent.InvalidSlotInfo):
            await _ask(hass, INTENT_START, minutes=minutes)
    with pytest.raises(intent.InvalidSlotInfo):
        await _ask(hass, INTENT_START, dose=1e9)
    # A refusal by the limits says which limit and when the next session is allowed.
    said = await _ask(hass, INTENT_START, minutes=2, error=True)
    assert said.startswith(
        "Refused on BlockBlueLight F522: the last session on this skin ended less than a "
        "minute ago, and at least 20 hours must pass between sessions"
    )
    assert "Next session allowed from" in said
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_a_start_of_under_a_minute_is_said_as_a_session(
    hass: HomeAssistant, assist: MockConfigEntry
) -> None:
    """Half a joule at 12 mW/cm² is 42 s: Assist says "a session of less than a minute", not
    "Started less than a minute"."""
    said = await _ask(hass, INTENT_START, dose=0.5)
    assert said.startswith(f"Started a session of less than a minute on {NAME}, about 0.5 "), said
    assert assist.runtime_data.sessions.session is not None
    await assist.runtime_data.sessions.runner.async_stop()
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_a_dose_the_panel_cannot_give_is_said_as_the_translated_sentence(
    hass: HomeAssistant, assist: MockConfigEntry
) -> None:
    """With every channel off, "give me 5 joules" cannot be planned. Assist spoke the therapy
    layer's own fallback ("the panel emits no red or near-infrared light at these levels and
    distance"), not the integration's sentence; it now says what the UI shows."""
    panel = assist.runtime_data.panel
    await panel.set_levels(dict.fromkeys(range(len(panel.capabilities.channels)), 0))
    await hass.async_block_till_done()

    said = await _ask(hass, INTENT_START, dose=5, error=True)

    # (Home Assistant drops an error's final full stop when it renders it.)
    assert said == (
        "The panel emits no red or near-infrared light at these levels and this distance, "
        "so a dose in that band cannot be reached"
    )
    assert assist.runtime_data.sessions.session is None


async def test_next_session_and_protocol_dose(
    hass: HomeAssistant, assist: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    assert await _ask(hass, INTENT_NEXT_SESSION) == "No protocol session is planned."
    await _start_course_tomorrow(hass, "Knee course", "knee")
    said = await _ask(hass, INTENT_NEXT_SESSION, name=NAME)
    assert said == f"The next Knee course session on {NAME} is tomorrow at 07:30."
    # Neither dose nor minutes: the run's dose on the run's area.
    said = await _ask(hass, INTENT_START)
    assert "about 3 joules" in said
    assert assist.runtime_data.sessions.session is not None
    assert assist.runtime_data.sessions.session.area == "knee"
    await assist.runtime_data.sessions.runner.async_stop()
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_no_panel(hass: HomeAssistant) -> None:
    """Translated reasons, said in English (the trailing full stop dropped, as Home Assistant
    renders a translated error)."""
    assert await async_setup_component(hass, "intent", {})
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    for kind in (INTENT_DOSE_TODAY, INTENT_START, INTENT_STOP, INTENT_NEXT_SESSION):
        assert await _ask(hass, kind, error=True) == "No Red Light Therapy panel is set up"


async def test_two_panels_need_a_name(hass: HomeAssistant, assist: MockConfigEntry) -> None:
    other = MockConfigEntry(domain=DOMAIN, title="Garage panel", state=ConfigEntryState.LOADED)
    other.add_to_hass(hass)
    assert await _ask(hass, INTENT_START, error=True) == "Which panel? Say its name"
    assert await _ask(hass, INTENT_STOP, name="Attic", error=True) == (
        "No Red Light Therapy panel is named Attic"
    )
    assert assist.runtime_data.sessions.session is None


async def _area(hass: HomeAssistant, area: str) -> None:
    """Pick the panel's treatment area, as in its select."""
    await hass.services.async_call(
        "select", "select_option", {"entity_id": AREA, "option": area}, blocking=True
    )


@pytest.fixture
async def say(
    hass: HomeAssistant, assist: MockConfigEntry, tmp_path: pathlib.Path
) -> Callable[[str], Awaitable[str]]:
    """Assist with custom_sentences/en/red_light_therapy.yaml installed as the README says."""
    await install_sentences(hass, tmp_path)
    return partial(converse, hass)


async def _starts_ten_minutes(
    say: Callable[[str], Awaitable[str]], sessions: SessionManager, sentence: str, area: str
) -> None:
    """Saying ``sentence`` starts a session of the default 10 minutes on ``area``."""
    said = await say(sentence)
    assert said.startswith(f"Started 10 minutes on {NAME}")
    assert sessions.session is not None
    assert sessions.session.planned_seconds == 600
    assert sessions.session.area == area


async def test_the_documented_sentences_reach_the_intents(
    hass: HomeAssistant,
    assist: MockConfigEntry,
    say: Callable[[str], Awaitable[str]],
    freezer: FrozenDateTimeFactory,
) -> None:
    """The README's example sentences start, stop and answer, with and without a run."""
    sessions = assist.runtime_data.sessions
    assert await say("when is my next red light session") == "No protocol session is planned."
    # Sessions on the knee, then the face (the whole body would share the spacing with both).
    await _area(hass, "knee")
    # No protocol run: the default length (10 minutes) on the panel's area.
    await _starts_ten_minutes(say, sessions, "start a red light session", "knee")
    said = await say("stop the red light session")
    assert said.startswith(f"Stopped {NAME}")
    assert sessions.session is None
    await _area(hass, "face")
    await _starts_ten_minutes(
        say, sessions, "start a 10 minute red light session on the blockbluelight f522", "face"
    )
    await advance(hass, freezer, timedelta(minutes=2))  # a treatment: the spacing runs
    said = await say("stop the red light session")
    assert said.startswith(f"Stopped {NAME}")
    assert sessions.session is None
    assert (await say("what's my red light dose today")).startswith("Today's dose is")
    # The limits still apply, and Assist says why.
    said = await say("give me 5 joules on the blockbluelight f522")
    assert said.startswith(f"Refused on {NAME}: the last session on this skin ended less than")
    assert sessions.session is None
    # A protocol run on the back: the next session, and a session of its dose on its area.
    await _start_course_tomorrow(hass, "Back course", "back")
    said = await say("when is my next red light session")
    assert said == f"The next Back course session on {NAME} is tomorrow at 07:30."
    said = await say("start a red light session")
    assert said.startswith(f"Started 4 minutes on {NAME}, about 3 joules")
    assert sessions.session is not None
    assert sessions.session.area == "back"
    assert sessions.session.target_dose == 3
    await say("stop the red light session")
    assert sessions.session is None


async def test_turn_on_and_off_stay_the_lights(
    hass: HomeAssistant, assist: MockConfigEntry, say: Callable[[str], Awaitable[str]]
) -> None:
    """The built-in light intents keep working: turning the panel on starts a session."""
    sessions = assist.runtime_data.sessions
    await say("turn on the blockbluelight f522")
    assert hass.states.get("light.blockbluelight_f522").state == "on"
    assert sessions.session is not None
    await say("turn off the blockbluelight f522")
    assert hass.states.get("light.blockbluelight_f522").state == "off"
    assert sessions.session is None


async def test_turn_on_during_a_lockout_says_the_refusal(
    hass: HomeAssistant,
    assist: MockConfigEntry,
    say: Callable[[str], Awaitable[str]],
    caplog: pytest.LogCaptureFixture,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The built-in "turn on" of the panel's light, refused by the limits: Assist says why in
    words (not "Turned on"), and no failed task is left for nobody to retrieve."""
    sessions = assist.runtime_data.sessions
    await say("turn on the blockbluelight f522")
    await advance(hass, freezer, timedelta(minutes=2))  # a treatment: the spacing runs
    await say("turn off the blockbluelight f522")
    assert sessions.last_session is not None

    said = await say("turn on the blockbluelight f522")
    gc.collect()  # an exception nobody retrieved is reported when its task is collected
    await hass.async_block_till_done(wait_background_tasks=True)

    assert said.startswith(f"Refused on {NAME}: the last session on this skin ended")
    assert "Next session allowed from" in said
    assert sessions.session is None
    assert hass.states.get("light.blockbluelight_f522").state == "off"
    # Dimming the panel while it is off starts a session too: the same refusal, said, and
    # the channels stay where they were.
    said = await say("set the blockbluelight f522 brightness to 50%")
    gc.collect()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert said.startswith(f"Refused on {NAME}: the last session on this skin ended")
    assert assist.runtime_data.panel.state.levels == (SESSION_LEVEL,) * 5
    assert "never retrieved" not in caplog.text


async def test_a_failure_after_assist_answered_is_logged_not_left_in_a_task(
    hass: HomeAssistant,
    assist: MockConfigEntry,
    say: Callable[[str], Awaitable[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Home Assistant's intent answers after a moment whatever the call does; a refusal that
    comes later (here: the intent waits for nothing) is logged with its reason."""
    sessions = assist.runtime_data.sessions
    await hass.services.async_call(  # a treatment an hour ago: the spacing runs
        DOMAIN,
        "log_session",
        {
            "entity_id": "light.blockbluelight_f522",
            "started_at": (dt_util.now() - timedelta(hours=1)).isoformat(),
            "minutes": 10,
        },
        blocking=True,
        return_response=True,
    )

    start = type(sessions.runner).async_start

    async def slow_start(self: Any, *args: Any, **kwargs: Any) -> Any:
        for _ in range(20):  # the panel takes a while: the intent has answered meanwhile
            await asyncio.sleep(0)
        return await start(self, *args, **kwargs)

    with (
        patch.object(intent.DynamicServiceIntentHandler, "service_timeout", 0),
        patch.object(type(sessions.runner), "async_start", slow_start),
    ):
        said = await say("turn on the blockbluelight f522")
        gc.collect()
        await hass.async_block_till_done(wait_background_tasks=True)

    assert said == "Turned on the light"  # Home Assistant's own answer, given before
    assert f"Refused on {NAME}: the last session on this skin ended" in caplog.text
    assert "(asked through Assist)" in caplog.text
    assert sessions.session is None
    assert "never retrieved" not in caplog.text
    assert not hass.data.get(ASSIST_CALLS)  # nothing kept once the call has finished


async def test_the_light_intents_keep_their_description_for_every_light(
    hass: HomeAssistant, assist: MockConfigEntry, say: Callable[[str], Awaitable[str]]
) -> None:
    """The wrapped built-in intents still describe and accept what Home Assistant's own do
    (Assist's LLM tools list them), and are wrapped once however often components load."""
    handlers = {handler.intent_type: handler for handler in intent.async_get(hass)}
    for intent_type in LIGHT_INTENTS:
        handler = handlers[intent_type]
        assert isinstance(handler, SaysPanelFailures)
        assert not isinstance(handler.inner, SaysPanelFailures)
        assert handler.slot_schema == handler.inner.slot_schema
        assert handler.description == handler.inner.description
        intent_obj = intent.Intent(hass, "test", intent_type, {}, None, Context(), "en")
        assert handler.async_can_handle(intent_obj) == handler.inner.async_can_handle(intent_obj)
