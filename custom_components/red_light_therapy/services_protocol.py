"""Actions for protocol runs: start, pause, resume, stop a run, skip one of its sessions.

They target panels like the session actions (light entity or device) and answer keyed by the
panel's light entity id. A run is started from a preset (``protocol``), a preset with some
fields changed, or a custom protocol given field by field; either way it is validated against
the limits of the run's area like a preset, and never on the eyes. A preset with any field
changed (even only its name) is a custom protocol of the run, keyed ``<preset>_custom``: the
answer says so (``custom``, ``based_on``, ``changed``). A run the panel cannot deliver within
the area's limits at its distance and levels says so too (``deliverable_dose_j_cm2`` and a
``warning``), beside the repair issue the manager raises.

Every protocol action takes an optional ``person`` (a person entity id or a person's name):
the run is that person's; without it, the panel's current person's ("Who is using the
panel"). ``protocol_status`` answers a person's runs with their figures (the weekly report).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.const import WEEKDAYS
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util
import voluptuous as vol

from . import bounds
from .const import DOMAIN
from .models import RedLightTherapyConfigEntry
from .persons import async_named_person
from .protocol_manager import CURRENT, ProtocolManager, Run
from .saved_protocols import build_custom, saved_protocols
from .service_targets import TARGET_SCHEMA, Handler, async_targeted_entries, response_key
from .session_manager import therapy_error
from .therapy import (
    PRESET_PROTOCOLS,
    DoseBand,
    EvidenceGrade,
    MissedPolicy,
    Protocol,
    TherapyError,
    check_start_date,
    validate_area,
)

ATTR_PROTOCOL = "protocol"
ATTR_NAME = "name"
ATTR_DOSE = "dose"
ATTR_BAND = "band"
ATTR_PER_WEEK = "sessions_per_week"
ATTR_WEEKS = "weeks"
ATTR_SPACING = "min_spacing_hours"
ATTR_AREA = "area"
ATTR_START_DATE = "start_date"
ATTR_WEEKDAYS = "weekdays"
ATTR_TIME = "time_of_day"
ATTR_MISSED_POLICY = "missed_policy"
ATTR_DATE = "date"
ATTR_PERSON = "person"

CUSTOM_FIELDS = (ATTR_NAME, ATTR_DOSE, ATTR_PER_WEEK, ATTR_WEEKS, ATTR_AREA)
CHANGE_FIELDS = (ATTR_NAME, ATTR_DOSE, ATTR_BAND, ATTR_PER_WEEK, ATTR_WEEKS, ATTR_SPACING)
"""Fields that make a preset the user's own protocol (the area only says where it runs)."""

START_PROTOCOL_SCHEMA = TARGET_SCHEMA.extend(
    {
        vol.Optional(ATTR_PROTOCOL): cv.string,
        vol.Optional(ATTR_NAME): cv.string,
        vol.Optional(ATTR_DOSE): bounds.DOSE,
        vol.Optional(ATTR_BAND): vol.In([b.value for b in DoseBand]),
        vol.Optional(ATTR_PER_WEEK): bounds.SESSIONS_PER_WEEK,
        vol.Optional(ATTR_WEEKS): bounds.WEEKS,
        vol.Optional(ATTR_SPACING): bounds.SPACING_HOURS,
        vol.Optional(ATTR_AREA): cv.string,
        vol.Optional(ATTR_START_DATE): cv.date,
        vol.Optional(ATTR_WEEKDAYS): vol.All(cv.ensure_list, [vol.In(WEEKDAYS)]),
        vol.Optional(ATTR_TIME): cv.time,
        vol.Optional(ATTR_MISSED_POLICY, default=MissedPolicy.SKIP.value): vol.In(
            [p.value for p in MissedPolicy]
        ),
        vol.Optional(ATTR_PERSON): cv.string,
    }
)
RUN_SCHEMA = TARGET_SCHEMA.extend(
    {vol.Optional(ATTR_AREA): cv.string, vol.Optional(ATTR_PERSON): cv.string}
)
SKIP_SCHEMA = RUN_SCHEMA.extend({vol.Optional(ATTR_DATE): cv.date})


def protocol_from_call(
    data: dict[str, Any], saved: Mapping[str, Protocol] | None = None
) -> Protocol:
    """Return the protocol a ``start_protocol`` call asks for, validated field by field.

    ``protocol`` names a preset or one of ``saved`` (the panel's own, from its options).
    """
    choices = {**PRESET_PROTOCOLS, **(saved or {})}
    changes: dict[str, Any] = {}
    if ATTR_NAME in data:
        changes["name"] = data[ATTR_NAME]
    if ATTR_DOSE in data:
        changes["dose_j_cm2"] = data[ATTR_DOSE]
    if ATTR_BAND in data:
        changes["band"] = DoseBand(data[ATTR_BAND])
    if ATTR_PER_WEEK in data:
        changes["sessions_per_week"] = data[ATTR_PER_WEEK]
    if ATTR_WEEKS in data:
        changes["weeks"] = data[ATTR_WEEKS]
    if ATTR_SPACING in data:
        changes["min_spacing_hours"] = data[ATTR_SPACING]
    try:
        if ATTR_AREA in data:
            changes["area"] = validate_area(data[ATTR_AREA]).value
        key = data.get(ATTR_PROTOCOL)
        if key is not None:
            if key not in choices:
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="unknown_protocol",
                    translation_placeholders={"protocol": key, "protocols": ", ".join(choices)},
                )
            preset = choices[key]
            changed = sorted(set(changes) - {"area"})
            if changed:
                changes["key"] = f"{key}_custom"
            therapeutic = sorted(set(changed) - {"name"})
            if therapeutic:
                # A changed dose or schedule is no longer the published protocol: say so.
                changes |= {
                    "evidence": EvidenceGrade.EXPERIMENTAL,
                    "source": f"{preset.source} Changed by the user: {', '.join(therapeutic)}.",
                }
            return preset.with_changes(**changes)
        missing = [field for field in CUSTOM_FIELDS if field not in data]
        if missing:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="custom_protocol_fields",
                translation_placeholders={"fields": ", ".join(missing)},
            )
        return build_custom({ATTR_BAND: DoseBand.BOTH.value} | data)
    except TherapyError as err:
        raise therapy_error(err) from err


def named_person(hass: HomeAssistant, data: Mapping[str, Any]) -> str | None:
    """Return the person a call names (entity id or name), or ``CURRENT`` when it names nobody.

    ``CURRENT`` stands for each panel's current person. A name that is not a household
    person is refused with a translated error.
    """
    if (text := data.get(ATTR_PERSON)) is None:
        return CURRENT  # type: ignore[no-any-return]
    return async_named_person(hass, text).entity_id


def run_answer(protocols: ProtocolManager, run: Run) -> dict[str, Any]:
    """Return what an action answers about ``run``: whose it is, its plan and its progress."""
    plan, report = run.plan, run.report
    return protocols.describe(plan, None) | {
        "status": plan.status.value,
        "start_date": plan.start_date.isoformat(),
        "weekdays": [WEEKDAYS[d] for d in sorted(plan.weekdays)],
        "time_of_day": plan.time_of_day.isoformat(),
        "missed_policy": plan.missed_policy.value,
        "total_sessions": report.total,
        "done": report.done,
        "missed": report.missed,
        "next_session": report.next_due.scheduled_at.isoformat() if report.next_due else None,
    }


def custom_answer(data: Mapping[str, Any], protocol: Protocol) -> dict[str, Any]:
    """Return whether a run's protocol is the user's own, what it is based on and what changed."""
    based_on = data.get(ATTR_PROTOCOL)
    changed = [field for field in CHANGE_FIELDS if field in data] if based_on else []
    return {
        "custom": based_on is None or protocol.key != based_on,
        "based_on": based_on if based_on in PRESET_PROTOCOLS else None,
        "changed": changed,
    }


async def shortfall_answer(
    hass: HomeAssistant, entry: RedLightTherapyConfigEntry, run: Run
) -> dict[str, Any]:
    """Return the dose a session of ``run`` delivers, and a warning when it falls short."""
    protocols = entry.runtime_data.protocols
    delivered = protocols.deliverable(run.plan)
    answer: dict[str, Any] = {
        "deliverable_dose_j_cm2": None if delivered is None else round(delivered, 1)
    }
    short = protocols.shortfall(run.plan)
    if short is not None:
        texts = await async_get_translations(hass, hass.config.language, "issues", {DOMAIN})
        text = texts[f"component.{DOMAIN}.issues.protocol_undeliverable.description"]
        answer["warning"] = text.format(**protocols.shortfall_placeholders(run.plan, short))
    return answer


async def _start(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    area = call.data.get(ATTR_AREA)
    weekdays = call.data.get(ATTR_WEEKDAYS)
    if (start_date := call.data.get(ATTR_START_DATE)) is not None:
        try:
            check_start_date(start_date, dt_util.now().date())
        except TherapyError as err:
            raise therapy_error(err) from err
    person = named_person(hass, call.data)
    entries = await async_targeted_entries(hass, call)
    # Every panel's protocol first: a bad call changes nothing on any panel.
    protocols = {
        entry.entry_id: protocol_from_call(dict(call.data), saved_protocols(entry))
        for entry in entries
    }
    # Then every panel's run, checked: one area takes one run, so two targets on the same
    # area are refused together, before any run starts.
    plans = {
        entry.entry_id: entry.runtime_data.protocols.prepare(
            protocols[entry.entry_id],
            area=area,
            start_date=call.data.get(ATTR_START_DATE),
            weekdays=None if weekdays is None else [WEEKDAYS.index(d) for d in weekdays],
            time_of_day=call.data.get(ATTR_TIME),
            missed_policy=MissedPolicy(call.data[ATTR_MISSED_POLICY]),
            person=person,
        )
        for entry in entries
    }
    # One person's two runs on one area would count the same sessions.
    by_area: dict[tuple[str | None, str], str] = {}
    for plan in plans.values():
        key = (plan.person, plan.area)
        if key in by_area:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="protocol_area_busy",
                translation_placeholders={
                    "area": plan.area.replace("_", " "),
                    "protocol": by_area[key],
                },
            )
        by_area[key] = plan.protocol.name
    result: dict[str, Any] = {}
    for entry in entries:
        manager = entry.runtime_data.protocols
        run = await manager.async_adopt(plans[entry.entry_id])
        result[response_key(hass, entry)] = (
            run_answer(manager, run)
            | custom_answer(call.data, run.plan.protocol)
            | await shortfall_answer(hass, entry, run)
        )
    return result


def _run_action(action: str) -> Handler:
    """Return a handler that calls the protocol manager's ``action`` on each targeted panel.

    It acts on the named person's run on every targeted panel and answers with each run's
    state.
    """

    async def _handler(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
        person = named_person(hass, call.data)
        entries: list[RedLightTherapyConfigEntry] = await async_targeted_entries(hass, call)
        result: dict[str, Any] = {}
        for entry in entries:
            protocols = entry.runtime_data.protocols
            method = getattr(protocols, action)
            run = await method(call.data.get(ATTR_AREA), person)
            result[response_key(hass, entry)] = run_answer(protocols, run)
        return result

    return _handler


async def _skip(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    person = named_person(hass, call.data)
    result: dict[str, Any] = {}
    for entry in await async_targeted_entries(hass, call):
        skipped = await entry.runtime_data.protocols.async_skip(
            call.data.get(ATTR_AREA), call.data.get(ATTR_DATE), person
        )
        result[response_key(hass, entry)] = {"skipped": skipped.isoformat()}
    return result


async def _status(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Answer with a person's unfinished runs on each targeted panel and their figures.

    A panel where the person has no run answers with an empty list.
    """
    person = named_person(hass, call.data)
    result: dict[str, Any] = {}
    for entry in await async_targeted_entries(hass, call):
        protocols = entry.runtime_data.protocols
        area = call.data.get(ATTR_AREA)
        result[response_key(hass, entry)] = {
            "runs": [
                run_answer(protocols, run)
                | protocols.figures(run.report)
                | {"streak": run.report.streak}
                for run in protocols.runs_of(person)
                if area is None or run.plan.area == area
            ]
        }
    return result


SERVICES: dict[str, tuple[vol.Schema, Handler]] = {
    "start_protocol": (START_PROTOCOL_SCHEMA, _start),
    "pause_protocol": (RUN_SCHEMA, _run_action("async_pause")),
    "resume_protocol": (RUN_SCHEMA, _run_action("async_resume")),
    "stop_protocol": (RUN_SCHEMA, _run_action("async_stop")),
    "skip_session": (SKIP_SCHEMA, _skip),
    "protocol_status": (RUN_SCHEMA, _status),
}


@callback
def async_setup_protocol_services(hass: HomeAssistant) -> None:
    """Register the protocol-run actions."""
    for name, (schema, handler) in SERVICES.items():

        async def _call(call: ServiceCall, handler: Handler = handler) -> ServiceResponse:
            return await handler(hass, call)

        hass.services.async_register(
            DOMAIN,
            name,
            _call,
            schema=schema,
            # A question, not a command: it is asked for its answer.
            supports_response=SupportsResponse.ONLY
            if name == "protocol_status"
            else SupportsResponse.OPTIONAL,
        )
