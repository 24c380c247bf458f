"""The integration's actions (services).

Plan, start, pause, resume, extend, stop and calculate sessions, and calibrate a panel; the history
actions (log and remove sessions, give sessions to a person) are ``services_history``'s and are
registered with these.

``start_session``, ``calculate`` and ``log_session`` take an optional ``person`` (a person
entity id, or a name as a person writes it): the session is that person's and is checked
against their limits; without it, the panel's current person's. A ``person`` that is not one
of the household's is refused before anything happens.

Registered once in ``async_setup``; each call targets panels (their light entity, or their
device). Answers are keyed by the panel's light entity id, like ``weather.get_forecasts``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
import voluptuous as vol

from . import bounds
from .const import DOMAIN
from .models import RedLightTherapyConfigEntry
from .service_targets import (
    ATTR_AREA,
    ATTR_DISTANCE,
    ATTR_MINUTES,
    ATTR_PERSON,
    TARGET_SCHEMA,
    Handler,
    async_targeted_entries,
    call_person,
    response_key,
)
from .services_history import HISTORY_SERVICES
from .therapy import DoseBand, Outcome, shares_skin

ATTR_DOSE = "dose"
ATTR_BAND = "band"
ATTR_OVERRIDE_SPACING = "override_spacing"
ATTR_LEVELS = "levels"

# Every number is bounded in the schema itself, as its selector in services.yaml (bounds.py).
START_SCHEMA = TARGET_SCHEMA.extend(
    {
        vol.Optional(ATTR_MINUTES): bounds.MINUTES,
        vol.Optional(ATTR_DOSE): bounds.DOSE,
        vol.Optional(ATTR_BAND, default=DoseBand.BOTH.value): vol.In([b.value for b in DoseBand]),
        vol.Optional(ATTR_DISTANCE): bounds.DISTANCE,
        vol.Optional(ATTR_AREA): cv.string,
        vol.Optional(ATTR_OVERRIDE_SPACING, default=False): cv.boolean,
        vol.Optional(ATTR_LEVELS): vol.All(cv.ensure_list, [bounds.LEVEL]),
        vol.Optional(ATTR_PERSON): cv.string,
    }
)
CALCULATE_SCHEMA = START_SCHEMA
EXTEND_SCHEMA = TARGET_SCHEMA.extend(
    {vol.Optional(ATTR_MINUTES): bounds.MINUTES, vol.Optional(ATTR_DOSE): bounds.DOSE}
)


def _not_both(call: ServiceCall) -> None:
    """Refuse a dose and minutes given together: they contradict each other."""
    if ATTR_DOSE in call.data and ATTR_MINUTES in call.data:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="dose_and_minutes")


def _dose_or_minutes(call: ServiceCall) -> None:
    """Exactly one of a dose and minutes (``extend_session``, ``calculate``)."""
    _not_both(call)
    if ATTR_DOSE not in call.data and ATTR_MINUTES not in call.data:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="dose_or_minutes")


def _levels(entry: RedLightTherapyConfigEntry, levels: list[int]) -> dict[int, int]:
    """Channel levels of a call, checked against what the panel has, by channel index."""
    channels = entry.runtime_data.panel.capabilities.channels
    if not entry.runtime_data.panel.capabilities.dimming or not channels:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="no_channels",
            translation_placeholders={"name": entry.title},
        )
    if len(levels) != len(channels) or not all(0 <= level <= 100 for level in levels):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_levels",
            translation_placeholders={"name": entry.title, "count": str(len(channels))},
        )
    return {channel.index: level for channel, level in zip(channels, levels, strict=True)}


def _call_levels(
    call: ServiceCall, entries: list[RedLightTherapyConfigEntry]
) -> dict[str, dict[int, int]]:
    """Each panel's levels of the call, by entry id; all checked before anything happens."""
    if ATTR_LEVELS not in call.data:
        return {}
    return {entry.entry_id: _levels(entry, call.data[ATTR_LEVELS]) for entry in entries}


async def _start(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Start a session on every targeted panel, by minutes, by dose, or by the default.

    Neither a dose nor minutes: the active protocol run's dose and area, else the default length
    (``SessionRunner.async_start``, as for the light and the Start button).
    """
    _not_both(call)
    person = call_person(hass, call)
    entries = await async_targeted_entries(hass, call)
    levels = _call_levels(call, entries)
    minutes = call.data.get(ATTR_MINUTES)
    options: dict[str, Any] = {
        "person": person,
        "dose": call.data.get(ATTR_DOSE),
        "band": DoseBand(call.data[ATTR_BAND]),
        "distance_cm": call.data.get(ATTR_DISTANCE),
        "area": call.data.get(ATTR_AREA),
        "override_spacing": call.data[ATTR_OVERRIDE_SPACING],
    }
    duration = timedelta(minutes=minutes) if minutes is not None else None
    if len(entries) > 1:
        _preflight(entries, duration, options, levels)
    result: dict[str, Any] = {}
    for entry in entries:
        plan = await entry.runtime_data.sessions.runner.async_start(
            duration, levels=levels.get(entry.entry_id), **options
        )
        session = entry.runtime_data.sessions.session
        ends_at = session.ends_at if session else None
        result[response_key(hass, entry)] = plan.as_dict() | {
            "session_id": session.id if session else None,
            "ends_at": ends_at.isoformat() if ends_at else None,
        }
    return result


def _preflight(
    entries: list[RedLightTherapyConfigEntry],
    duration: timedelta | None,
    options: dict[str, Any],
    levels: dict[str, dict[int, int]],
) -> None:
    """Check that every targeted panel can start before any does.

    Several panels at once: every one must be able to start before any does, so a refused call
    changes nothing. Each panel alone (its own limits, a session already running), then together:
    two of them on shared skin would be two sessions at once on it, which the spacing refuses
    (unless overridden).
    """
    areas: list[tuple[RedLightTherapyConfigEntry, str]] = []
    for entry in entries:
        sessions = entry.runtime_data.sessions
        plan = sessions.planner.preview_start(
            duration, levels=levels.get(entry.entry_id), **options
        )
        if plan.verdict.outcome is Outcome.REFUSED:
            raise sessions.report_refusal(plan)
        areas.append((entry, plan.area))
    if options["override_spacing"]:
        return
    for index, (first, area) in enumerate(areas):
        for second, other in areas[index + 1 :]:
            if shares_skin(area, other):
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="targets_share_skin",
                    translation_placeholders={
                        "first": first.title,
                        "second": second.title,
                        "area": area.replace("_", " "),
                        "other": other.replace("_", " "),
                    },
                )


async def _calculate(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Convert a dose to minutes or minutes to a dose: it needs exactly one of them.

    ``levels`` are planned at and never set: the panel stays as it is.
    """
    _dose_or_minutes(call)
    person = call_person(hass, call)
    entries = await async_targeted_entries(hass, call)
    levels = _call_levels(call, entries)
    return {
        response_key(hass, entry): entry.runtime_data.sessions.planner.plan(
            minutes=call.data.get(ATTR_MINUTES),
            dose=call.data.get(ATTR_DOSE),
            band=DoseBand(call.data[ATTR_BAND]),
            distance_cm=call.data.get(ATTR_DISTANCE),
            area=call.data.get(ATTR_AREA),
            override_spacing=call.data[ATTR_OVERRIDE_SPACING],
            levels=levels.get(entry.entry_id),
            person=person,
        ).as_dict()
        for entry in entries
    }


async def _extend(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    _dose_or_minutes(call)
    result: dict[str, Any] = {}
    for entry in await async_targeted_entries(hass, call):
        sessions = entry.runtime_data.sessions
        verdict = await sessions.runner.async_extend(
            minutes=call.data.get(ATTR_MINUTES), dose=call.data.get(ATTR_DOSE)
        )
        session = sessions.session
        ends_at = session.ends_at if session else None
        result[response_key(hass, entry)] = {
            "verdict": verdict.outcome.value,
            "added_minutes": round(verdict.allowed_seconds / 60, 2),
            "ends_at": ends_at.isoformat() if ends_at else None,
        }
    return result


ATTR_MEASURED = "measured_mw_cm2"
CALIBRATE_SCHEMA = TARGET_SCHEMA.extend(
    {vol.Required(ATTR_DISTANCE): bounds.DISTANCE, vol.Required(ATTR_MEASURED): bounds.MEASURED}
)


async def _calibrate(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    for entry in await async_targeted_entries(hass, call):
        await entry.runtime_data.sessions.panel_settings.async_calibrate(
            call.data[ATTR_DISTANCE], call.data[ATTR_MEASURED]
        )
    return None


def _session_action(action: str) -> Handler:
    """Return a handler that calls the session runner's ``action`` of every targeted panel."""

    async def _handler(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
        for entry in await async_targeted_entries(hass, call):
            await getattr(entry.runtime_data.sessions.runner, action)()
        return None

    return _handler


SERVICES: dict[str, tuple[vol.Schema, Handler, SupportsResponse]] = {
    "start_session": (START_SCHEMA, _start, SupportsResponse.OPTIONAL),
    "pause_session": (TARGET_SCHEMA, _session_action("async_pause"), SupportsResponse.NONE),
    "resume_session": (TARGET_SCHEMA, _session_action("async_resume"), SupportsResponse.NONE),
    "stop_session": (TARGET_SCHEMA, _session_action("async_stop"), SupportsResponse.NONE),
    "extend_session": (EXTEND_SCHEMA, _extend, SupportsResponse.OPTIONAL),
    "calculate": (CALCULATE_SCHEMA, _calculate, SupportsResponse.ONLY),
    "calibrate": (CALIBRATE_SCHEMA, _calibrate, SupportsResponse.NONE),
} | HISTORY_SERVICES


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register every action of the integration."""
    for name, (schema, handler, supports_response) in SERVICES.items():

        async def _call(call: ServiceCall, handler: Handler = handler) -> ServiceResponse:
            return await handler(hass, call)

        hass.services.async_register(
            DOMAIN, name, _call, schema=schema, supports_response=supports_response
        )
