"""One therapy session: its plan, its state machine and the real on-intervals.

Dose is integrated over *on-segments* only: each segment runs from a device-acknowledged
on-time to a device-acknowledged off-time (or is still open) at one irradiance. Paused time
adds nothing. When levels change mid-session the open segment is closed and a new one opened
at the new irradiance (:meth:`Session.change_irradiance`).

States::

    planned ──start──▶ running ◀──resume── paused
       │                 │  └────pause────▶   │
       └──finish─────────┴──────finish────────┘──▶ completed | stopped | aborted

A planned session can only be finished as stopped or aborted (it never ran).
Every time passed in must be timezone-aware and not earlier than the last recorded event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ._util import finite, iso, load, parse_optional_time, parse_time, require_aware
from .bands import DoseBand
from .dose import BandDose, dose_for_seconds
from .errors import DoseError, ErrorCode, SessionStateError, TimeOrderError
from .irradiance import BandIrradiance


class SessionStatus(StrEnum):
    PLANNED = "planned"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    STOPPED = "stopped"
    ABORTED = "aborted"
    """Switched off because the limits refused it (a press during a lockout): its dose counts,
    but it is not a session for the spacing or the weekly count."""


FINAL_STATUSES = frozenset({SessionStatus.COMPLETED, SessionStatus.STOPPED, SessionStatus.ABORTED})


class SessionOrigin(StrEnum):
    PLANNED = "planned"
    """Started by the integration."""
    UNPLANNED = "unplanned"
    """The panel was switched on outside the integration (its button, another app)."""
    LOGGED = "logged"
    """Entered after the fact by the user."""


@dataclass(frozen=True, slots=True)
class Segment:
    """The panel was on from ``start`` to ``end`` (None: still on) at ``irradiance``."""

    start: datetime
    end: datetime | None
    irradiance: BandIrradiance

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", require_aware(self.start, "start"))
        if self.end is not None:
            object.__setattr__(self, "end", require_aware(self.end, "end"))

    def on_seconds(self, at: datetime) -> float:
        """Seconds of this segment that lie before ``at``."""
        end = at if self.end is None else min(self.end, at)
        return max((end - self.start).total_seconds(), 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": iso(self.start),
            "end": iso(self.end),
            "irradiance": self.irradiance.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Segment:
        return load(
            data,
            "segment",
            lambda d: cls(
                parse_time(d["start"], "start"),
                parse_optional_time(d["end"], "end"),
                BandIrradiance.from_dict(d["irradiance"]),
            ),
        )


def _positive_seconds(seconds: float, what: str) -> float:
    if not finite(seconds) or seconds <= 0:
        raise DoseError(
            ErrorCode.INVALID_DURATION, f"{what} {seconds!r} s is not > 0", seconds=seconds
        )
    return float(seconds)


@dataclass(slots=True)
class Session:
    """A session on one treatment area of one panel.

    ``irradiance`` is the irradiance at the current distance and levels; it is the one a new
    segment is opened with. ``planned_seconds`` is the on-time aimed for (extensions add to
    it). ``target_dose`` (J/cm² in ``target_band``) is informational: the glue derives
    ``planned_seconds`` from it with :func:`~.dose.seconds_for_dose`.
    """

    id: str
    area: str
    distance_cm: float
    planned_seconds: float
    irradiance: BandIrradiance
    target_dose: float | None = None
    target_band: DoseBand = DoseBand.BOTH
    origin: SessionOrigin = SessionOrigin.PLANNED
    panel_id: str | None = None
    status: SessionStatus = SessionStatus.PLANNED
    segments: list[Segment] = field(default_factory=list)
    ended_at: datetime | None = None
    device_deadline: datetime | None = None
    """When the panel's own countdown switches it off (None: not armed, or no such timer).
    Kept with the session so the recorded end is capped there even after a restart."""

    def __post_init__(self) -> None:
        if not self.id or not self.area:
            raise SessionStateError(ErrorCode.INVALID_SESSION, "a session needs an id and area")
        _positive_seconds(self.planned_seconds, "planned duration")
        if not finite(self.distance_cm) or self.distance_cm <= 0:
            raise SessionStateError(
                ErrorCode.INVALID_SESSION, f"distance {self.distance_cm!r} cm is not > 0"
            )
        if self.ended_at is not None:
            self.ended_at = require_aware(self.ended_at, "ended_at")
        if self.device_deadline is not None:
            self.device_deadline = require_aware(self.device_deadline, "device_deadline")
        if self.target_dose is not None and (not finite(self.target_dose) or self.target_dose <= 0):
            raise DoseError(ErrorCode.INVALID_DOSE, f"target dose {self.target_dose!r} not > 0")

    # -- queries -------------------------------------------------------------------------------

    @property
    def started_at(self) -> datetime | None:
        return self.segments[0].start if self.segments else None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def last_event_at(self) -> datetime | None:
        """The latest time recorded in this session (transitions must not go before it)."""
        if self.ended_at is not None:
            return self.ended_at
        if not self.segments:
            return None
        last = self.segments[-1]
        return last.end or last.start

    def on_seconds(self, at: datetime) -> float:
        """Seconds the panel was on in this session up to ``at``."""
        at = require_aware(at)
        return sum(segment.on_seconds(at) for segment in self.segments)

    def delivered(self, at: datetime) -> BandDose:
        """Dose delivered up to ``at``, integrated over the real on-intervals only."""
        at = require_aware(at)
        return BandDose.sum(
            dose_for_seconds(segment.irradiance, segment.on_seconds(at))
            for segment in self.segments
        )

    def planned_dose(self, at: datetime) -> BandDose:
        """The dose at the planned end: delivered up to ``at``, the rest at the current
        irradiance. The same at any ``at`` while the irradiance stays (no tick to show)."""
        return self.delivered(at) + dose_for_seconds(self.irradiance, self.remaining_seconds(at))

    def remaining_seconds(self, at: datetime) -> float:
        """Planned on-time still to go at ``at`` (never negative)."""
        return max(self.planned_seconds - self.on_seconds(at), 0.0)

    @property
    def ends_at(self) -> datetime | None:
        """When the planned on-time runs out, if the session keeps running; None unless running."""
        if self.status is not SessionStatus.RUNNING:
            return None
        open_segment = self.segments[-1]
        remaining = self.remaining_seconds(open_segment.start)
        return open_segment.start + timedelta(seconds=remaining)

    # -- transitions ---------------------------------------------------------------------------

    def _check_time(self, at: datetime) -> datetime:
        at = require_aware(at)
        last = self.last_event_at
        if last is not None and at < last:
            raise TimeOrderError(
                ErrorCode.TIME_BEFORE_LAST_EVENT,
                f"{at.isoformat()} is before the session's last event {last.isoformat()}",
                at=at.isoformat(),
                last=last.isoformat(),
            )
        return at

    def _require(self, action: str, *allowed: SessionStatus) -> None:
        if self.status not in allowed:
            raise SessionStateError(
                ErrorCode.INVALID_TRANSITION,
                f"cannot {action} a {self.status.value} session",
                action=action,
                status=self.status.value,
            )

    def _close_segment(self, at: datetime) -> None:
        last = self.segments[-1]
        self.segments[-1] = Segment(last.start, at, last.irradiance)

    def start(self, at: datetime) -> None:
        """The panel acknowledged switching on at ``at``."""
        self._require("start", SessionStatus.PLANNED)
        self.segments.append(Segment(self._check_time(at), None, self.irradiance))
        self.status = SessionStatus.RUNNING

    def pause(self, at: datetime) -> None:
        """The panel acknowledged switching off at ``at``; the session can resume."""
        self._require("pause", SessionStatus.RUNNING)
        self._close_segment(self._check_time(at))
        self.status = SessionStatus.PAUSED

    def resume(self, at: datetime) -> None:
        """The panel acknowledged switching back on at ``at``."""
        self._require("resume", SessionStatus.PAUSED)
        self.segments.append(Segment(self._check_time(at), None, self.irradiance))
        self.status = SessionStatus.RUNNING

    def extend(self, seconds: float) -> None:
        """Add ``seconds`` of planned on-time (check it with ``limits.check_extension``)."""
        self._require("extend", SessionStatus.PLANNED, SessionStatus.RUNNING, SessionStatus.PAUSED)
        self.planned_seconds += _positive_seconds(seconds, "extension")

    def replan(self, planned_seconds: float) -> None:
        """Set the planned on-time (shortened or lengthened by the limits after a change)."""
        self._require("replan", SessionStatus.PLANNED, SessionStatus.RUNNING, SessionStatus.PAUSED)
        self.planned_seconds = _positive_seconds(planned_seconds, "planned duration")

    def change_irradiance(self, at: datetime, irradiance: BandIrradiance) -> None:
        """Levels or distance changed at ``at``: a running session starts a new segment."""
        self._require("change", SessionStatus.PLANNED, SessionStatus.RUNNING, SessionStatus.PAUSED)
        self._check_time(at)
        if self.status is SessionStatus.RUNNING:
            self._close_segment(at)
            self.segments.append(Segment(at, None, irradiance))
        self.irradiance = irradiance

    def finish(self, at: datetime, status: SessionStatus = SessionStatus.COMPLETED) -> None:
        """End the session at ``at`` (the acknowledged off-time) as ``status``."""
        if status not in FINAL_STATUSES:
            raise SessionStateError(
                ErrorCode.INVALID_TRANSITION,
                f"{status.value} is not a final status",
                action="finish",
                status=status.value,
            )
        if self.status is SessionStatus.PLANNED:
            self._require_never_ran(status)
        else:
            self._require("finish", SessionStatus.RUNNING, SessionStatus.PAUSED)
        at = self._check_time(at)
        if self.status is SessionStatus.RUNNING:
            self._close_segment(at)
        self.status = status
        self.ended_at = at

    def _require_never_ran(self, status: SessionStatus) -> None:
        if status is SessionStatus.COMPLETED:
            raise SessionStateError(
                ErrorCode.INVALID_TRANSITION,
                "a session that never started cannot complete",
                action="finish",
                status=self.status.value,
            )

    # -- constructors and storage --------------------------------------------------------------

    @classmethod
    def logged(
        cls,
        *,
        id: str,
        area: str,
        started_at: datetime,
        ended_at: datetime,
        irradiance: BandIrradiance,
        distance_cm: float,
        panel_id: str | None = None,
    ) -> Session:
        """A completed session the user enters after the fact."""
        started_at = require_aware(started_at, "started_at")
        ended_at = require_aware(ended_at, "ended_at")
        seconds = (ended_at - started_at).total_seconds()
        session = cls(
            id=id,
            area=area,
            distance_cm=distance_cm,
            planned_seconds=_positive_seconds(seconds, "logged duration"),
            irradiance=irradiance,
            origin=SessionOrigin.LOGGED,
            panel_id=panel_id,
        )
        session.start(started_at)
        session.finish(ended_at, SessionStatus.COMPLETED)
        return session

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "area": self.area,
            "distance_cm": self.distance_cm,
            "planned_seconds": self.planned_seconds,
            "irradiance": self.irradiance.to_dict(),
            "target_dose": self.target_dose,
            "target_band": self.target_band.value,
            "origin": self.origin.value,
            "panel_id": self.panel_id,
            "status": self.status.value,
            "segments": [s.to_dict() for s in self.segments],
            "ended_at": iso(self.ended_at),
            "device_deadline": iso(self.device_deadline),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Session:
        def build(d: Mapping[str, Any]) -> Session:
            target = d.get("target_dose")
            return cls(
                id=str(d["id"]),
                area=str(d["area"]),
                distance_cm=float(d["distance_cm"]),
                planned_seconds=float(d["planned_seconds"]),
                irradiance=BandIrradiance.from_dict(d["irradiance"]),
                target_dose=None if target is None else float(target),
                target_band=DoseBand(d.get("target_band", DoseBand.BOTH.value)),
                origin=SessionOrigin(d["origin"]),
                panel_id=d.get("panel_id"),
                status=SessionStatus(d["status"]),
                segments=[Segment.from_dict(s) for s in d["segments"]],
                ended_at=parse_optional_time(d.get("ended_at"), "ended_at"),
                device_deadline=parse_optional_time(d.get("device_deadline"), "device_deadline"),
            )

        return load(data, "session", build)
