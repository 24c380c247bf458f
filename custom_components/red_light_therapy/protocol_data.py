"""What protocol runs say: the data of their events, calendar entries, answers and repairs.

A ``Run`` is a plan with its report as of the last evaluation. These functions turn a run,
one of its sessions and its person into the words and figures an event, a calendar entry,
an action's answer or the undeliverable run's repair carries; they decide nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homeassistant.core import HomeAssistant

from .persons import async_household, async_person_name
from .therapy import DoseBand, PlannedSession, ProtocolPlan, ProtocolPlanReport
from .therapy.household import owner

BAND_WORDS = {
    DoseBand.RED: "red",
    DoseBand.NIR: "near-infrared",
    DoseBand.BOTH: "red and near-infrared",
}


@dataclass(frozen=True, slots=True)
class Run:
    """A plan with its report as of the last evaluation."""

    plan: ProtocolPlan
    report: ProtocolPlanReport


def undeliverable_issue_id(plan_id: str) -> str:
    """Return the id of the repair issue of a run the panel cannot deliver."""
    return f"protocol_undeliverable_{plan_id}"


def session_data(
    plan: ProtocolPlan,
    session: PlannedSession | None,
    person: str | None = None,
    person_name: str | None = None,
) -> dict[str, Any]:
    """Return what an event, a calendar entry or an answer says about a run and a session.

    ``person`` is the run's person (entity id) and ``person_name`` their name (None:
    unassigned, or a person no longer in the home).
    """
    protocol = plan.protocol
    data: dict[str, Any] = {
        "run_id": plan.id,
        "person": person,
        "person_name": person_name,
        "protocol": protocol.key,
        "protocol_name": protocol.name,
        "area": plan.area,
        "dose_j_cm2": protocol.dose_j_cm2,
        "band": protocol.band.value,
    }
    if session is not None:
        data |= {
            "session_index": session.index,
            "date": session.date.isoformat(),
            "scheduled_at": session.scheduled_at.isoformat(),
            "catch_up": session.catch_up,
        }
    return data


def person_of(hass: HomeAssistant, plan: ProtocolPlan) -> str | None:
    """Return whose run ``plan`` is: its person, else the home's only person, else None."""
    return owner(plan, async_household(hass))


def person_fields(hass: HomeAssistant, plan: ProtocolPlan) -> tuple[str | None, str | None]:
    """Return the run's person (entity id) and their name, for events and answers."""
    person = person_of(hass, plan)
    return person, None if person is None else async_person_name(hass, person)


def describe(
    hass: HomeAssistant, plan: ProtocolPlan, session: PlannedSession | None
) -> dict[str, Any]:
    """Return ``session_data`` with the run's person and their name."""
    return session_data(plan, session, *person_fields(hass, plan))


def figures(report: ProtocolPlanReport) -> dict[str, Any]:
    """Return a run's progress figures as event data, percentages rounded to one decimal."""
    return {
        "done": report.done,
        "missed": report.missed,
        "skipped": report.skipped,
        "total": report.total,
        "progress_percent": round(report.progress_percent, 1),
        "adherence_percent": None
        if report.adherence_percent is None
        else round(report.adherence_percent, 1),
    }


def shortfall_placeholders(panel_name: str, plan: ProtocolPlan, delivered: float) -> dict[str, str]:
    """Return the words of a shortfall warning: what ``plan`` asks for, and ``delivered``.

    ``panel_name`` is the name of the panel the run is on.
    """
    protocol = plan.protocol
    return {
        "name": panel_name,
        "protocol": protocol.name,
        "area": plan.area.replace("_", " "),
        "dose": f"{protocol.dose_j_cm2:.3g}",
        "band": BAND_WORDS[protocol.band],
        "delivered": f"{delivered:.1f}",
        "limit_dose": f"{plan.area_limits.max_session_dose:g}",
        "limit_minutes": f"{plan.area_limits.max_session_minutes:g}",
    }
