"""What a session is planned to be, and what the session manager tells entities.

The timer's states, the events, and a plan as actions answer it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict

from .therapy import BandIrradiance, DoseBand, Outcome, Reason, ReasonCode, Verdict


class TimerState(StrEnum):
    """The states of Home Assistant's timer helper, which the session timer follows."""

    IDLE = "idle"
    ACTIVE = "active"
    PAUSED = "paused"


class SessionEvent(StrEnum):
    """What the event entity reports."""

    STARTED = "session_started"
    COMPLETED = "session_completed"
    STOPPED = "session_stopped"
    REFUSED = "session_refused"
    LIMIT_REACHED = "limit_reached"
    # Protocol runs (protocol_manager.py)
    SESSION_DUE = "session_due"
    SESSION_MISSED = "session_missed"
    PROTOCOL_COMPLETED = "protocol_completed"


class StartOptions(TypedDict, total=False):
    """How a session is asked to start, beside its length; each may be left out.

    ``dose`` (J/cm², instead of a length) in ``band`` (both when left out), at ``distance_cm``
    (the panel's distance), on ``area`` (the panel's area), ``override_spacing`` (False),
    at ``levels`` (by panel channel index; the panel's levels now), for ``person`` (a person
    entity id the caller has checked is in the household; None: the panel's current person).
    """

    dose: float | None
    band: DoseBand
    distance_cm: float | None
    area: str | None
    override_spacing: bool
    levels: Mapping[int, int] | None
    person: str | None


REFUSING = frozenset({ReasonCode.SPACING, ReasonCode.WEEKLY_SESSIONS, ReasonCode.BELOW_MINIMUM})

SessionEventListener = Callable[[SessionEvent, dict[str, Any]], None]
RunDefaults = Callable[[str | None, str | None], tuple[float, DoseBand, str] | None]
"""(area asked for, person the session is for) -> (dose, band, area) of the active protocol
run to use, if any."""


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """What a session would be: the answer of ``calculate`` and of a start."""

    area: str
    distance_cm: float
    irradiance: BandIrradiance
    requested_seconds: float
    verdict: Verdict
    target_dose: float | None = None
    """The dose (J/cm² in ``target_band``) a session by dose aims for; None for one by time."""
    target_band: DoseBand = DoseBand.BOTH
    person: str | None = None
    """Whose session it is (a person entity id); None: unassigned."""
    person_name: str | None = None
    """That person's name, as messages and answers show it; None: unassigned or departed."""

    def as_dict(self) -> dict[str, Any]:
        """Return the plan as an action answers it and the session events carry it.

        The minutes and doses are what the session runs and delivers; for a refused plan,
        what it would run and deliver once allowed (``Verdict.deliverable_*``), with
        ``refused``, ``refused_until`` and the ``deciding`` limit saying that it cannot now.
        """
        verdict = self.verdict
        dose = verdict.deliverable_dose
        refused = verdict.outcome is Outcome.REFUSED
        return {
            "area": self.area,
            "distance_cm": self.distance_cm,
            "irradiance_mw_cm2": round(self.irradiance.total, 2),
            "requested_minutes": round(self.requested_seconds / 60, 2),
            "planned_minutes": round(verdict.deliverable_seconds / 60, 2),
            "expected_dose_j_cm2": round(dose.total, 3),
            "expected_red_dose_j_cm2": round(dose.red, 3),
            "expected_nir_dose_j_cm2": round(dose.nir, 3),
            "verdict": verdict.outcome.value,
            "reasons": [_reason_dict(r) for r in verdict.reasons],
            "next_allowed_at": _iso(verdict.next_allowed_at),
            "refused": refused,
            "refused_until": _iso(verdict.next_allowed_at) if refused else None,
            "deciding": _reason_dict(verdict.deciding) if verdict.deciding else None,
            "person": self.person,
            "person_name": self.person_name,
        }


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _reason_dict(reason: Reason) -> dict[str, Any]:
    """Return a reason as answers and events carry it, its numbers rounded for a person."""
    data: dict[str, Any] = {
        "code": reason.code.value,
        "limit": round(reason.limit_value, 2),
        "actual": round(reason.actual_value, 2),
    }
    if reason.code in REFUSING:
        data["until"] = _iso(reason.until)
    return data
