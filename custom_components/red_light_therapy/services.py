"""The integration's actions (services).

Plan, start, pause, resume, extend, stop, calculate, log and remove sessions, and give sessions to a
person (``assign_person``).

``start_session``, ``calculate`` and ``log_session`` take an optional ``person`` (a person
entity id, or a name as a person writes it): the session is that person's and is checked
against their limits; without it, the panel's current person's. A ``person`` that is not one
of the household's is refused before anything happens.

Registered once in ``async_setup``; each call targets panels (their light entity, or their
device). Answers are keyed by the panel's light entity id, like ``weather.get_forecasts``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
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
from homeassistant.util import dt as dt_util
import voluptuous as vol

from . import bounds
from .const import DOMAIN
from .models import RedLightTherapyConfigEntry
from .persons import async_named_person, async_person_name
from .service_targets import TARGET_SCHEMA, Handler, async_targeted_entries, response_key
from .session_manager import therapy_error
from .store import DATA_STORE
from .therapy import (
    LOG_WINDOW_DAYS,
    DoseBand,
    ErrorCode,
    Outcome,
    TherapyError,
    check_logged_start,
    shares_skin,
)

ATTR_MINUTES = "minutes"
ATTR_DOSE = "dose"
ATTR_BAND = "band"
ATTR_DISTANCE = "distance_cm"
ATTR_AREA = "area"
ATTR_OVERRIDE_SPACING = "override_spacing"
ATTR_STARTED_AT = "started_at"
ATTR_LEVELS = "levels"
ATTR_SESSION_ID = "session_id"
ATTR_PERSON = "person"

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
LOG_SCHEMA = TARGET_SCHEMA.extend(
    {
        vol.Required(ATTR_STARTED_AT): cv.datetime,
        vol.Required(ATTR_MINUTES): bounds.LOGGED_MINUTES,
        vol.Optional(ATTR_AREA): cv.string,
        vol.Optional(ATTR_DISTANCE): bounds.DISTANCE,
        vol.Optional(ATTR_PERSON): cv.string,
    }
)

REMOVE_SCHEMA = TARGET_SCHEMA.extend(
    {vol.Optional(ATTR_SESSION_ID): cv.string, vol.Optional(ATTR_STARTED_AT): cv.datetime}
)


ASSIGN_SCHEMA = vol.Schema(
    {vol.Required(ATTR_PERSON): cv.string, vol.Optional(ATTR_SESSION_ID): cv.string}
)


def _call_person(hass: HomeAssistant, call: ServiceCall) -> str | None:
    """Return the person entity id the call's ``person`` names (None: not given).

    Not given: the panel's current person. Refused ``unknown_person`` / ``no_persons`` before
    anything happens.
    """
    if (named := call.data.get(ATTR_PERSON)) is None:
        return None
    return async_named_person(hass, named).entity_id


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
    person = _call_person(hass, call)
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
    person = _call_person(hass, call)
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


def _logged_start(value: datetime) -> datetime:
    """Return the start of a logged session in UTC, within the window a session may be logged in.

    Not in the future, not older than the therapy rule's window. Checked first, so no later step
    overflows on a start in year 1 or 9999.
    """
    aware = value if value.tzinfo else value.replace(tzinfo=dt_util.get_default_time_zone())
    now = dt_util.utcnow()
    if aware > now:  # compared as is: converting year 9999 to UTC may overflow
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="log_in_future")
    try:
        check_logged_start(aware, now)
    except OverflowError:  # in year 1, before UTC's year 1: long before the window
        raise therapy_error(
            TherapyError(ErrorCode.LOGGED_TOO_OLD, "before year 1", days=LOG_WINDOW_DAYS)
        ) from None
    except TherapyError as err:
        raise therapy_error(err) from err
    return dt_util.as_utc(aware)


async def _log(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    started_at = _logged_start(call.data[ATTR_STARTED_AT])
    person = _call_person(hass, call)
    result: dict[str, Any] = {}
    for entry in await async_targeted_entries(hass, call):
        record = await entry.runtime_data.sessions.records.async_log(
            started_at=started_at,
            minutes=call.data[ATTR_MINUTES],
            area=call.data.get(ATTR_AREA),
            distance_cm=call.data.get(ATTR_DISTANCE),
            person=person,
        )
        result[response_key(hass, entry)] = {
            "session_id": record.id,
            "dose_j_cm2": round(record.dose.total, 3),
            "person": record.person,
            "person_name": async_person_name(hass, record.person) if record.person else None,
        }
    return result


def _local(when: Any) -> Any:
    """Return a time of an action's field in UTC (without a zone: Home Assistant's local time)."""
    return dt_util.as_utc(
        when if when.tzinfo else when.replace(tzinfo=dt_util.get_default_time_zone())
    )


async def _remove(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Take a recorded or logged session out of the history, by its id or by when it started.

    By the ``session_id`` that log_session, start_session and the session events give, or by when it
    started.
    """
    session_id = call.data.get(ATTR_SESSION_ID)
    started_at = call.data.get(ATTR_STARTED_AT)
    if (session_id is None) == (started_at is None):
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="session_id_or_started_at"
        )
    result: dict[str, Any] = {}
    for entry in await async_targeted_entries(hass, call):
        sessions = entry.runtime_data.sessions
        record = await sessions.records.async_remove(
            session_id=session_id, started_at=_local(started_at) if started_at else None
        )
        result[response_key(hass, entry)] = {"removed": sessions.records.removed_data(record)}
    return result


async def _assign(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Give a recorded or open session, or everything that belongs to nobody, to a person.

    The session ``session_id``, or every one that belongs to nobody and every unassigned protocol
    run; answer what changed. The limits, dose sensors and runs of every panel follow at once.
    """
    person = async_named_person(hass, call.data[ATTR_PERSON])
    store = hass.data[DATA_STORE]
    session_id = call.data.get(ATTR_SESSION_ID)
    if session_id is not None:
        if not store.assign_session(session_id, person.entity_id):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="assign_session_not_found",
                translation_placeholders={"session": session_id},
            )
        given = [session_id]
        runs = 0
    else:
        given = [r.id for r in store.history if r.person is None]
        given += [s.id for s in store.active.values() if s.person is None]
        changed = store.assign_unassigned(person.entity_id)
        runs = changed - len(given)
    if given or runs:
        await store.async_save()
        for entry in hass.config_entries.async_loaded_entries(DOMAIN):
            if runs:  # the protocol runs are read at setup: read them again
                hass.config_entries.async_schedule_reload(entry.entry_id)
            else:
                entry.runtime_data.sessions.records.async_persons_changed()
    return {
        "person": person.entity_id,
        "person_name": async_person_name(hass, person.entity_id),
        "sessions": given,
        "runs": runs,
    }


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
    "log_session": (LOG_SCHEMA, _log, SupportsResponse.OPTIONAL),
    "remove_session": (REMOVE_SCHEMA, _remove, SupportsResponse.OPTIONAL),
    "calibrate": (CALIBRATE_SCHEMA, _calibrate, SupportsResponse.NONE),
    "assign_person": (ASSIGN_SCHEMA, _assign, SupportsResponse.OPTIONAL),
}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register every action of the integration."""
    for name, (schema, handler, supports_response) in SERVICES.items():

        async def _call(call: ServiceCall, handler: Handler = handler) -> ServiceResponse:
            return await handler(hass, call)

        hass.services.async_register(
            DOMAIN, name, _call, schema=schema, supports_response=supports_response
        )
