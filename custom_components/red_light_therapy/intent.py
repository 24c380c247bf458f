"""Assist intents: start a session by dose or minutes, stop it, today's dose, next session.

Home Assistant's ``intent`` component loads this platform. An integration cannot ship
sentences; users add the ones in ``custom_sentences/en/red_light_therapy.yaml`` (see the
README) to their configuration. "Turn on/off the <panel>" keeps working through the built-in
intents on the panel's light.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import config_validation as cv, intent
from homeassistant.util import dt as dt_util
import voluptuous as vol

from . import bounds
from .const import DOMAIN

if TYPE_CHECKING:
    from . import RedLightTherapyConfigEntry

INTENT_START = "RedLightTherapyStartSession"
INTENT_STOP = "RedLightTherapyStopSession"
INTENT_DOSE_TODAY = "RedLightTherapyDoseToday"
INTENT_NEXT_SESSION = "RedLightTherapyNextSession"


async def async_setup_intents(hass: HomeAssistant) -> None:
    """Register the intent handlers."""
    for handler in (StartHandler(), StopHandler(), DoseTodayHandler(), NextSessionHandler()):
        intent.async_register(hass, handler)


def _panels(hass: HomeAssistant) -> list[RedLightTherapyConfigEntry]:
    return [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.state is ConfigEntryState.LOADED
    ]


def _error(key: str, **placeholders: str) -> HomeAssistantError:
    """A translated failure; ``_Handler.async_handle`` speaks it (in English, see there)."""
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders or None,
    )


def _loaded_panels(hass: HomeAssistant) -> list[RedLightTherapyConfigEntry]:
    """The loaded panels; none is a failure said in words."""
    panels = _panels(hass)
    if not panels:
        raise _error("intent_no_panels")
    return panels


def _panel(hass: HomeAssistant, name: str | None) -> RedLightTherapyConfigEntry:
    """The loaded panel called ``name`` (its title), or the only one when no name is given."""
    panels = _loaded_panels(hass)
    if name is not None:
        wanted = name.strip().casefold()
        panels = [e for e in panels if e.title.casefold() == wanted]
        if not panels:
            raise _error("intent_no_panel", name=name)
    if len(panels) != 1:
        raise _error("intent_which_panel")
    return panels[0]


class _Handler(intent.IntentHandler):
    """Answers every failure (a refusal by the limits, no such panel, nothing running) in
    words: Assist speaks the reason instead of a generic "unexpected error".

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
                str(err) or "That did not work.",
            )
            return response

    async def _async_answer(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        raise NotImplementedError  # pragma: no cover - every handler has its own


class StartHandler(_Handler):
    """Start a session by minutes or dose; neither: the active protocol's dose, else default."""

    intent_type = INTENT_START
    description = "Starts a red light therapy session by dose (J/cm²) or minutes"
    slot_schema = {
        vol.Optional("name"): cv.string,
        vol.Optional("minutes"): bounds.slot(bounds.MINUTES),
        vol.Optional("dose"): bounds.slot(bounds.DOSE),
    }

    async def _async_answer(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        slots = self._slots(intent_obj)
        entry = _panel(intent_obj.hass, slots.get("name"))
        minutes = slots.get("minutes")
        plan = await entry.runtime_data.sessions.async_start(
            timedelta(minutes=minutes) if minutes is not None else None,
            dose=slots.get("dose"),
        )
        response = intent_obj.create_response()
        planned = plan.verdict.allowed_seconds / 60
        dose = plan.verdict.expected_dose.total
        response.async_set_speech(
            f"Started {planned:.0f} minutes on {entry.title}, about {dose:.1f} joules per "
            "square centimetre."
        )
        return response


class StopHandler(_Handler):
    intent_type = INTENT_STOP
    description = "Stops the red light therapy session"
    slot_schema = {vol.Optional("name"): cv.string}

    async def _async_answer(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        slots = self._slots(intent_obj)
        entry = _panel(intent_obj.hass, slots.get("name"))
        await entry.runtime_data.sessions.async_stop()
        record = entry.runtime_data.sessions.last_session
        response = intent_obj.create_response()
        dose = record.dose.total if record else 0.0
        response.async_set_speech(
            f"Stopped {entry.title} after {dose:.1f} joules per square centimetre."
        )
        return response


class DoseTodayHandler(_Handler):
    """Today's dose over every panel (the history is shared)."""

    intent_type = INTENT_DOSE_TODAY
    description = "Tells today's red light therapy dose"

    async def _async_answer(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        panels = _loaded_panels(intent_obj.hass)
        now = dt_util.now()
        history = panels[0].runtime_data.sessions.history
        dose = history.dose_on_day(now.date(), dt_util.get_default_time_zone())
        response = intent_obj.create_response()
        response.async_set_speech(
            f"Today's dose is {dose.total:.1f} joules per square centimetre "
            f"({dose.red:.1f} red, {dose.nir:.1f} near-infrared)."
        )
        return response


class NextSessionHandler(_Handler):
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
        at = dt_util.as_local(session.scheduled_at)
        today = dt_util.now().date()
        if at.date() == today:
            when = f"today at {at:%H:%M}"
        elif at.date() == today + timedelta(days=1):
            when = f"tomorrow at {at:%H:%M}"
        else:
            when = f"on {at:%A %d %B} at {at:%H:%M}"
        response.async_set_speech(
            f"The next {run.plan.protocol.name} session on {entry.title} is {when}."
        )
        return response
