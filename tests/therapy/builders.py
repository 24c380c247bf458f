"""Builders for the therapy tests: finished session records (each file keeps its defaults) and
a skin run on the face."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from custom_components.red_light_therapy.therapy.dose import BandDose
from custom_components.red_light_therapy.therapy.history import SessionRecord
from custom_components.red_light_therapy.therapy.plans import ProtocolPlan
from custom_components.red_light_therapy.therapy.protocols import PRESET_PROTOCOLS
from custom_components.red_light_therapy.therapy.session import SessionOrigin, SessionStatus


def session_record(
    rid: str,
    start: datetime,
    *,
    length: timedelta,
    dose: BandDose,
    area: str = "face",
    status: SessionStatus = SessionStatus.COMPLETED,
    on_seconds: float = 0.0,
    panel_id: str | None = "p",
    origin: SessionOrigin = SessionOrigin.PLANNED,
    person: str | None = None,
) -> SessionRecord:
    """Return a session (planned unless ``origin`` says) on ``area`` that started at ``start``
    and lasted ``length``, ``person``'s if given."""
    return SessionRecord(
        id=rid,
        panel_id=panel_id,
        area=area,
        origin=origin,
        started_at=start,
        ended_at=start + length,
        dose=dose,
        status=status,
        on_seconds=on_seconds,
        person=person,
    )


BERLIN = ZoneInfo("Europe/Berlin")
SKIN = PRESET_PROTOCOLS["skin_rejuvenation"]  # 2 a week, 15 weeks, 40 h
MON, THU = 0, 3


def skin_run(**kw: object) -> ProtocolPlan:
    """A skin run on the face, Mondays and Thursdays at 07:30 Berlin time, from Monday
    2025-03-03; ``kw`` changes any field."""
    base: dict[str, object] = {
        "id": "plan1",
        "protocol": SKIN,
        "area": "face",
        "panel_id": "panel",
        "start_date": date(2025, 3, 3),
        "weekdays": frozenset({MON, THU}),
        "time_of_day": time(7, 30),
        "tz": BERLIN,
    }
    return ProtocolPlan(**(base | kw))  # type: ignore[arg-type]
