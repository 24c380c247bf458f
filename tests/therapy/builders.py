"""Builders for the therapy tests: sessions not started yet, finished session records (each
file keeps its defaults) and a skin run on the face."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from custom_components.red_light_therapy.therapy.dose import BandDose, BandIrradiance
from custom_components.red_light_therapy.therapy.history import SessionRecord
from custom_components.red_light_therapy.therapy.plans import ProtocolPlan
from custom_components.red_light_therapy.therapy.protocols import PRESET_PROTOCOLS
from custom_components.red_light_therapy.therapy.session import (
    Session,
    SessionOrigin,
    SessionStatus,
)


def new_session(
    rid: str, area: str, planned_seconds: float, irradiance: BandIrradiance, **kw: object
) -> Session:
    """A session on ``area`` at 15 cm, planned for ``planned_seconds`` at ``irradiance``, not
    started; ``kw`` sets any other field (panel, origin, target dose ...)."""
    return Session(
        id=rid,
        area=area,
        distance_cm=15.0,
        planned_seconds=planned_seconds,
        irradiance=irradiance,
        **kw,  # type: ignore[arg-type]
    )


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


def on_throughout(
    rid: str, start: datetime, seconds: float, dose: BandDose, **kw: object
) -> SessionRecord:
    """A recorded session that started at ``start`` and emitted for all its ``seconds``;
    ``kw`` as for ``session_record``."""
    return session_record(
        rid,
        start,
        length=timedelta(seconds=seconds),
        dose=dose,
        on_seconds=seconds,
        **kw,  # type: ignore[arg-type]
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
