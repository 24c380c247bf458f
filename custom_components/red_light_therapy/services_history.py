"""The history actions: log a session done elsewhere, remove one, give sessions to a person.

``log_session`` takes an optional ``person`` like ``start_session`` (the session counts toward
their limits; without it, the panel's current person's). ``remove_session`` takes a session out
of the shared history by its id or by when it started; ``assign_person`` gives a session, or
everything that belongs to nobody, to a person. Registered with the session actions
(``services.SERVICES``); answers are keyed by the panel's light entity id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
import voluptuous as vol

from . import bounds
from .const import DOMAIN
from .persons import async_named_person, async_person_name
from .service_targets import (
    ATTR_AREA,
    ATTR_DISTANCE,
    ATTR_MINUTES,
    ATTR_PERSON,
    ATTR_SESSION_ID,
    ATTR_STARTED_AT,
    TARGET_SCHEMA,
    Handler,
    async_targeted_entries,
    call_person,
    response_key,
)
from .store import DATA_STORE
from .therapy import LOG_WINDOW_DAYS, ErrorCode, TherapyError, check_logged_start
from .words import therapy_error

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
    person = call_person(hass, call)
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


HISTORY_SERVICES: dict[str, tuple[vol.Schema, Handler, SupportsResponse]] = {
    "log_session": (LOG_SCHEMA, _log, SupportsResponse.OPTIONAL),
    "remove_session": (REMOVE_SCHEMA, _remove, SupportsResponse.OPTIONAL),
    "assign_person": (ASSIGN_SCHEMA, _assign, SupportsResponse.OPTIONAL),
}
