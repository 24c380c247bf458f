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
from itertools import pairwise
from typing import Any

from ._util import (
    MAX_STORED_SECONDS,
    finite,
    iso,
    load,
    parse_optional_time,
    parse_time,
    require_aware,
    stored_number,
    stored_optional_text,
    stored_person,
    stored_text,
)
from .areas import validate_area
from .bands import DoseBand
from .dose import MAX_STORED_DOSE, BandDose, dose_for_seconds
from .errors import DoseError, ErrorCode, SessionStateError, StoredDataError, TimeOrderError
from .irradiance import BandIrradiance

MAX_STORED_DISTANCE = 10_000.0
"""cm beyond which a stored distance is refused as corrupt (a hundred metres)."""


class SessionStatus(StrEnum):
    """Where a session stands, from planned to one of its final statuses."""

    PLANNED = "planned"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    STOPPED = "stopped"
    ABORTED = "aborted"
    """Switched off because the limits refused it (a press during a lockout): its dose counts,
    but it is not a session for the spacing or the weekly count."""


FINAL_STATUSES = frozenset({SessionStatus.COMPLETED, SessionStatus.STOPPED, SessionStatus.ABORTED})


LOG_WINDOW_DAYS = 30
"""How far back a session done away from Home Assistant may be logged. The limits look back
a week at most, so a month covers any backlog a user catches up on; anything older (a start
in 1970) is a typing error, not a session to record."""


def check_logged_start(started_at: datetime, now: datetime) -> None:
    """Refuse a logged session that starts more than :data:`LOG_WINDOW_DAYS` days before ``now``."""
    if require_aware(started_at, "started_at") < now - timedelta(days=LOG_WINDOW_DAYS):
        raise TimeOrderError(
            ErrorCode.LOGGED_TOO_OLD,
            f"a logged session must start within the last {LOG_WINDOW_DAYS} days",
            days=LOG_WINDOW_DAYS,
        )


def backdated_start(
    seen_at: datetime, timer_set_s: int | None, timer_remaining_s: int | None
) -> datetime:
    """When a panel seen on at ``seen_at`` was switched on.

    Its own countdown, armed to ``timer_set_s`` with ``timer_remaining_s`` left, tells how long it
    has been on already (never a start after it was seen on). Without a running countdown, when it
    was seen: one at zero on a panel that is on is not counting (the setting remembered from an
    earlier session, or none started), and says nothing of when it came on.
    """
    if timer_set_s and timer_remaining_s:  # set, and still counting
        return seen_at - timedelta(seconds=max(timer_set_s - timer_remaining_s, 0))
    return seen_at


LOOK_MARGIN_S = 5.0
"""Seconds a look at an idle panel may take beyond its interval (connect, negotiate, read)."""


@dataclass(frozen=True, slots=True)
class UnplannedStart:
    """When a panel found on with no session of ours is counted from."""

    at: datetime
    estimated: bool
    """True when ``at`` is earlier than the panel was seen on and no countdown dates it: the
    last time it was seen off (or the look interval before), the earliest it may have shone."""


def unplanned_start(
    seen_on_at: datetime,
    *,
    timer_set_s: int | None,
    timer_remaining_s: int | None,
    seen_off_at: datetime | None,
    look_interval_s: float,
    not_before: datetime | None = None,
) -> UnplannedStart:
    """When a session the panel started by itself began, counted so the limits are not fooled.

    Its own countdown dates the start exactly (:func:`backdated_start`). Without one, it may have
    shone since it was last seen off (``seen_off_at``: a report that said so, or the end of a link
    that would have told of a change), so it counts from then, but never from earlier than one
    look (``look_interval_s`` and :data:`LOOK_MARGIN_S`) before it was seen on: between looks
    nothing is known, and a look comes that often. Never before ``not_before`` (the panel's last
    recorded session ended then) nor after ``seen_on_at``. A link that was watching when the
    panel came on saw it off until then: no estimate. A countdown at zero dates nothing (see
    :func:`backdated_start`).
    """
    if timer_set_s and timer_remaining_s:  # set, and still counting
        start = backdated_start(seen_on_at, timer_set_s, timer_remaining_s)
        if not_before is not None and not_before > start:
            start = min(not_before, seen_on_at)
        return UnplannedStart(start, False)
    floor = seen_on_at - timedelta(seconds=max(look_interval_s, 0.0) + LOOK_MARGIN_S)
    for known in (seen_off_at, not_before):
        if known is not None and known > floor:
            floor = known
    at = min(floor, seen_on_at)
    return UnplannedStart(at, at < seen_on_at)


@dataclass(frozen=True, slots=True)
class StartFoundOn:
    """A started session whose panel was found already on: how it is counted."""

    at: datetime
    """When the session is counted from: when the panel may have come on."""
    estimated: bool
    """True when ``at`` is an estimate (see :class:`UnplannedStart`)."""
    planned_seconds: float
    """The planned on-time from ``at``: the plan, or all it may have shone when that is more."""
    reached: bool
    """What it emitted before the start already reaches the plan: it is switched off at once."""


def start_found_on(
    found: UnplannedStart, acked_at: datetime, planned_seconds: float
) -> StartFoundOn:
    """Count a started session whose panel was already on, from when it may have come on.

    The emission before the start is part of the session (``found``: :func:`unplanned_start` for
    the panel seen on as the link opened), so its planned on-time runs from then, and the whole
    session emits what the limits approved. When what it emitted before the start (up to the
    acknowledgement at ``acked_at``) reaches the plan, it is switched off at once and recorded with
    all the time it may have shone, never less.
    """
    at = min(found.at, acked_at)
    emitted = (acked_at - at).total_seconds()
    return StartFoundOn(
        at,
        found.estimated and at < acked_at,
        max(planned_seconds, emitted),
        emitted >= planned_seconds,
    )


class SessionOrigin(StrEnum):
    """Who switched the panel on for a session."""

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
        """Refuse naive times."""
        object.__setattr__(self, "start", require_aware(self.start, "start"))
        if self.end is not None:
            object.__setattr__(self, "end", require_aware(self.end, "end"))

    def on_seconds(self, at: datetime) -> float:
        """Seconds of this segment that lie before ``at``."""
        end = at if self.end is None else min(self.end, at)
        return max((end - self.start).total_seconds(), 0.0)

    def to_dict(self) -> dict[str, Any]:
        """Return the segment as stored."""
        return {
            "start": iso(self.start),
            "end": iso(self.end),
            "irradiance": self.irradiance.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Segment:
        """Read back a stored segment; anything malformed raises ``StoredDataError``."""
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
    person: str | None = None
    """The person entity treated (``person.ada``); None: unassigned."""

    def __post_init__(self) -> None:
        """Refuse a session without id or area, or with a duration, distance or dose not above 0."""
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
        """When the panel first switched on for this session (None before it did)."""
        return self.segments[0].start if self.segments else None

    @property
    def is_final(self) -> bool:
        """Whether the session has ended: completed, stopped or aborted."""
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

    def planned_dose(self, at: datetime | None = None) -> BandDose:
        """Return the dose at the planned end.

        What was delivered up to ``at`` (default: the latest change), plus the planned on-time still
        to go at the current irradiance. The same at any ``at`` while the irradiance stays, so it
        changes only when the session does (start, pause, extend, new levels): never a tick to show.
        """
        if at is None:
            at = self.last_event_at
            if at is None:
                return dose_for_seconds(self.irradiance, self.planned_seconds)
        delivered = self.delivered(at)
        if self.is_final:
            return delivered
        return delivered + dose_for_seconds(self.irradiance, self.remaining_seconds(at))

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
                f"cannot {action} the session: it is {self.status.value}",
                action=action,
                status=self.status.value,
            )

    def _close_segment(self, at: datetime) -> None:
        last = self.segments[-1]
        self.segments[-1] = Segment(last.start, at, last.irradiance)

    def start(self, at: datetime) -> None:
        """Record that the panel acknowledged switching on at ``at``."""
        self._require("start", SessionStatus.PLANNED)
        self.segments.append(Segment(self._check_time(at), None, self.irradiance))
        self.status = SessionStatus.RUNNING

    def pause(self, at: datetime) -> None:
        """Record that the panel acknowledged switching off at ``at``; the session can resume."""
        self._require("pause", SessionStatus.RUNNING)
        self._close_segment(self._check_time(at))
        self.status = SessionStatus.PAUSED

    def resume(self, at: datetime) -> None:
        """Record that the panel acknowledged switching back on at ``at``."""
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

    def close(
        self, off_at: datetime, status: SessionStatus, *, stop_at_end_completes: bool = True
    ) -> SessionStatus:
        """End the session as the panel went off at ``off_at``; the status recorded.

        A running session is recorded as ending no later than the panel's own countdown
        (``device_deadline``): the countdown switched it off there, whatever was heard later.
        Never before the session's last event. With ``stop_at_end_completes``, a running
        session stopped with at most a second of its planned on-time left completed it (an
        aborted, refused, session never completes).
        """
        off_at = require_aware(off_at, "off_at")
        if self.status is SessionStatus.RUNNING and self.device_deadline is not None:
            off_at = min(off_at, self.device_deadline)
        self.device_deadline = None
        if (last := self.last_event_at) is not None:
            off_at = max(off_at, last)
        if (
            stop_at_end_completes
            and status is SessionStatus.STOPPED
            and self.status is SessionStatus.RUNNING
            and self.remaining_seconds(off_at) <= 1
        ):
            status = SessionStatus.COMPLETED
        self.finish(off_at, status)
        return status

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
        """Return a completed session the user enters after the fact."""
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
        """Return the session as stored."""
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
            **({} if self.person is None else {"person": self.person}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Session:
        """Read back a stored session.

        Anything malformed raises ``StoredDataError``: a mistyped field, an unknown or eye area, a
        time out of range, absurd numbers, or segments that contradict the status (a running session
        with none, say).
        """

        def build(d: Mapping[str, Any]) -> Session:
            target = d.get("target_dose")
            session = cls(
                id=stored_text(d["id"], "id"),
                area=validate_area(stored_text(d["area"], "area")).value,
                distance_cm=stored_number(d["distance_cm"], "distance_cm", MAX_STORED_DISTANCE),
                planned_seconds=stored_number(
                    d["planned_seconds"], "planned_seconds", MAX_STORED_SECONDS
                ),
                irradiance=BandIrradiance.from_dict(d["irradiance"]),
                target_dose=(
                    None if target is None else stored_number(target, "target", MAX_STORED_DOSE)
                ),
                target_band=DoseBand(d.get("target_band", DoseBand.BOTH.value)),
                origin=SessionOrigin(d["origin"]),
                panel_id=stored_optional_text(d.get("panel_id"), "panel_id"),
                status=SessionStatus(d["status"]),
                segments=[Segment.from_dict(s) for s in d["segments"]],
                ended_at=parse_optional_time(d.get("ended_at"), "ended_at"),
                device_deadline=parse_optional_time(d.get("device_deadline"), "device_deadline"),
                person=stored_person(d.get("person")),
            )
            session._check_consistent()
            return session

        return load(data, "session", build)

    def _check_consistent(self) -> None:
        """Check that the segments and end fit the status, and follow each other in time."""
        segments = self.segments
        last_open = bool(segments) and segments[-1].end is None
        last_end = segments[-1].end if segments else None
        problem = None
        if any(s.end is None for s in segments[:-1]):
            problem = "only the last segment can be open"
        elif any(s.end is not None and s.end < s.start for s in segments) or any(
            a.end is not None and b.start < a.end for a, b in pairwise(segments)
        ):
            problem = "segments overlap or end before they start"
        elif self.status is SessionStatus.PLANNED and (segments or self.ended_at is not None):
            problem = "a planned session has not run"
        elif self.status is SessionStatus.RUNNING and (not last_open or self.ended_at):
            problem = "a running session has an open segment"
        elif self.status is SessionStatus.PAUSED and (not segments or last_open or self.ended_at):
            problem = "a paused session has run and has no open segment"
        elif self.is_final and (self.ended_at is None or last_open):
            problem = "a finished session has ended"
        elif self.ended_at is not None and last_end is not None and self.ended_at < last_end:
            problem = "a session ends before its last segment does"
        if problem is not None:
            raise StoredDataError(ErrorCode.INVALID_STORED_DATA, f"session: {problem}")
