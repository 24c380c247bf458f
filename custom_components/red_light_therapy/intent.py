"""Assist intents: start a session by dose or minutes, stop it, today's dose, next session.

Voice is for a person: the speaking user's person (``intent_obj.context.user_id`` ->
``persons.async_person_for_user``), or the person the sentence names ("start a red light
session for Alice", the ``person`` slot). A voice request is never given to the panel's
"Who is using the panel" choice: with an unknown speaker (a satellite has no login) and
several persons, Assist says how to name them (``household.who_is_treated``).

Home Assistant's ``intent`` component loads this platform. An integration cannot ship
sentences; users add the ones in ``custom_sentences/en/red_light_therapy.yaml`` (see the
README) to their configuration. "Turn on/off the <panel>" keeps working through the built-in
intents on the panel's light; a refusal there is said in words too (``intent_light``).
"""

from __future__ import annotations

from datetime import timedelta
import re
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import config_validation as cv, intent
from homeassistant.util import dt as dt_util
import voluptuous as vol

from . import bounds, words
from .const import DOMAIN
from .intent_light import async_setup_light_intents
from .models import RedLightTherapyConfigEntry
from .persons import (
    Person,
    async_household,
    async_named_person,
    async_person_for_user,
    async_person_name,
    async_persons,
    spoken_label,
)
from .session_manager import when_words
from .therapy import DoseBand
from .therapy.household import PersonRefusal, Request, dose_today, who_is_treated
from .words import dose_today_words

INTENT_START = "RedLightTherapyStartSession"
INTENT_STOP = "RedLightTherapyStopSession"
INTENT_DOSE_TODAY = "RedLightTherapyDoseToday"
INTENT_NEXT_SESSION = "RedLightTherapyNextSession"


async def async_setup_intents(hass: HomeAssistant) -> None:
    """Register the intent handlers, and make the built-in light intents say a refusal."""
    for handler in (StartHandler(), StopHandler(), DoseTodayHandler(), NextSessionHandler()):
        intent.async_register(hass, handler)
    async_setup_light_intents(hass)


def _panels(hass: HomeAssistant) -> list[RedLightTherapyConfigEntry]:
    return [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.state is ConfigEntryState.LOADED
    ]


def _error(key: str, **placeholders: str) -> HomeAssistantError:
    """Return a translated failure; ``_Handler.async_handle`` speaks it (in English, see there)."""
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders or None,
    )


def _loaded_panels(hass: HomeAssistant) -> list[RedLightTherapyConfigEntry]:
    """Return the loaded panels; none is a failure said in words."""
    panels = _panels(hass)
    if not panels:
        raise _error("intent_no_panels")
    return panels


def _panel(hass: HomeAssistant, name: str | None) -> RedLightTherapyConfigEntry:
    """Return the loaded panel called ``name`` (its title), or the only one without a name."""
    panels = _loaded_panels(hass)
    if name is not None:
        wanted = name.strip().casefold()
        panels = [e for e in panels if e.title.casefold() == wanted]
        if not panels:
            raise _error("intent_no_panel", name=name)
    if len(panels) != 1:
        raise _error("intent_which_panel")
    return panels[0]


def _speakers_person(
    intent_obj: intent.Intent, named: str | None, refusal: str, **request: str
) -> str | None:
    """Return whose session (or dose) a voice request is about.

    The person the sentence names (refused when not one of the household), else the speaker's
    person, else the only person; None with no persons set up (as before households). An unknown
    speaker in a home of several persons is refused with ``refusal``, which says how to name them:
    the example sentence repeats the ``request`` (its ``minutes`` or ``dose``) with a name.
    """
    hass = intent_obj.hass
    if named is not None:
        return async_named_person(hass, named, spoken=True).entity_id
    speaker: Person | None = async_person_for_user(hass, intent_obj.context.user_id)
    decided = who_is_treated(
        async_household(hass),
        Request(voice=True, speaker=speaker.entity_id if speaker else None),
    )
    if isinstance(decided, PersonRefusal):
        raise _error(refusal, name=async_persons(hass)[0].name, **request)
    return decided.person


class _Handler(intent.IntentHandler):
    """An Assist intent handler that says every failure in words.

    A refusal by the limits, no such panel, nothing running: Assist speaks the reason instead of a
    generic "unexpected error".

    The reason is ``str(err)`` of a translated error: Home Assistant renders it from this
    integration's English translations (``exceptions``), whatever the user's language.
    """

    platforms = {DOMAIN}

    def _slots(self, intent_obj: intent.Intent) -> dict[str, Any]:
        slots = self.async_validate_slots(intent_obj.slots)
        return {key: value["value"] for key, value in slots.items()}

    async def async_handle(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        try:
            return await self._async_answer(intent_obj)
        except intent.InvalidSlotInfo:
            raise  # Home Assistant's own answer to a slot it could not understand
        except HomeAssistantError as err:
            response = intent_obj.create_response()
            response.async_set_error(
                intent.IntentResponseErrorCode.FAILED_TO_HANDLE,
                _speakable(str(err)) or "That did not work.",
            )
            return response

    async def _async_answer(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        raise NotImplementedError  # pragma: no cover - every handler has its own


class StartHandler(_Handler):
    """Start a session for the speaker (or the person named) by minutes or dose.

    Neither: their active protocol run's dose, else the default length.
    """

    intent_type = INTENT_START
    description = "Starts a red light therapy session by dose (J/cm²) or minutes"
    slot_schema = {
        vol.Optional("name"): cv.string,
        vol.Optional("minutes"): bounds.slot(bounds.MINUTES),
        vol.Optional("dose"): bounds.slot(bounds.DOSE),
        vol.Optional("person"): cv.string,
    }

    async def _async_answer(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        slots = self._slots(intent_obj)
        entry = _panel(intent_obj.hass, slots.get("name"))
        minutes = slots.get("minutes")
        refusal, request = _who_is_speaking(slots)
        person = _speakers_person(intent_obj, slots.get("person"), refusal, **request)
        plan = await entry.runtime_data.sessions.runner.async_start(
            timedelta(minutes=minutes) if minutes is not None else None,
            dose=slots.get("dose"),
            person=person,
        )
        response = intent_obj.create_response()
        expected = plan.verdict.expected_dose
        band = plan.target_band if plan.target_dose is not None else DoseBand.BOTH
        dose = words.dose_words(expected.for_band(band), band)
        planned = words.session_length_words(plan.verdict.allowed_seconds)
        whose = f" for {spoken_label(plan.person_name)}" if plan.person_name else ""
        response.async_set_speech(f"Started {planned} on {entry.title}{whose}, about {dose}.")
        return response


def _speakable(message: str) -> str:
    """Return a message as Assist says it: a person's label "Carl (2)" is "Carl 2"."""
    return re.sub(r" \((\d+)\)", r" \1", message)


def _who_is_speaking(slots: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """Return the refusal asking whose session it is, and its placeholders, for this request.

    Its example sentence asks for what was asked: "start a 3 minute red light session for Alice",
    "give me 5 joules for Alice", else "start a red light session for Alice".
    """
    if (minutes := slots.get("minutes")) is not None:
        return "who_is_speaking_minutes", {"minutes": f"{minutes:g}"}
    if (dose := slots.get("dose")) is not None:
        return "who_is_speaking_dose", {"dose": f"{dose:g}"}
    return "who_is_speaking", {}


class StopHandler(_Handler):
    """Stop the session on a panel (Assist)."""

    intent_type = INTENT_STOP
    description = "Stops the red light therapy session"
    slot_schema = {vol.Optional("name"): cv.string}

    async def _async_answer(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        slots = self._slots(intent_obj)
        entry = _panel(intent_obj.hass, slots.get("name"))
        await entry.runtime_data.sessions.runner.async_stop()
        record = entry.runtime_data.sessions.last_session
        response = intent_obj.create_response()
        dose = record.dose.total if record else 0.0
        response.async_set_speech(
            f"Stopped {entry.title} after {dose:.1f} joules per square centimetre."
        )
        return response


class DoseTodayHandler(_Handler):
    """Say today's dose of the speaker (or the person named) over every panel and area.

    The history is shared; the whole history's dose when no persons are set up.
    """

    intent_type = INTENT_DOSE_TODAY
    description = "Tells today's red light therapy dose"
    slot_schema = {vol.Optional("person"): cv.string}

    async def _async_answer(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        hass = intent_obj.hass
        panels = _loaded_panels(hass)
        slots = self._slots(intent_obj)
        person = _speakers_person(intent_obj, slots.get("person"), "who_is_asking")
        now = dt_util.now()
        tz = dt_util.get_default_time_zone()
        history = panels[0].runtime_data.sessions.history
        name: str | None = None
        if person is None:
            dose = history.dose_on_day(now.date(), tz)
        else:
            dose = dose_today(history, person, async_household(hass), now, tz)
            shown = async_person_name(hass, person)
            name = spoken_label(shown) if shown else "You"
        response = intent_obj.create_response()
        response.async_set_speech(dose_today_words(name, dose.total, dose.red, dose.nir))
        return response


class NextSessionHandler(_Handler):
    """Say when the next session of a protocol run is due (Assist)."""

    intent_type = INTENT_NEXT_SESSION
    description = "Tells when the next session of a red light therapy protocol is due"
    slot_schema = {vol.Optional("name"): cv.string}

    async def _async_answer(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        slots = self._slots(intent_obj)
        hass = intent_obj.hass
        entries = [_panel(hass, slots["name"])] if "name" in slots else _loaded_panels(hass)
        found = [
            (entry, nxt)
            for entry in entries
            if (nxt := entry.runtime_data.protocols.next_session) is not None
        ]
        response = intent_obj.create_response()
        if not found:
            response.async_set_speech("No protocol session is planned.")
            return response
        entry, (run, session) = min(found, key=lambda f: dt_util.as_utc(f[1][1].scheduled_at))
        when = when_words(session.scheduled_at)
        if not when.startswith(("today", "tomorrow")):
            when = f"on {when}"
        response.async_set_speech(
            f"The next {run.plan.protocol.name} session on {entry.title} is {when}."
        )
        return response
