"""Finished session records for the therapy tests: one builder; each file keeps its defaults."""

from __future__ import annotations

from datetime import datetime, timedelta

from custom_components.red_light_therapy.therapy.dose import BandDose
from custom_components.red_light_therapy.therapy.history import SessionRecord
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
) -> SessionRecord:
    """Return a planned session on ``area`` that started at ``start`` and lasted ``length``."""
    return SessionRecord(
        id=rid,
        panel_id=panel_id,
        area=area,
        origin=SessionOrigin.PLANNED,
        started_at=start,
        ended_at=start + length,
        dose=dose,
        status=status,
        on_seconds=on_seconds,
    )
