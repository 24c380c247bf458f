"""The record of finished sessions, and the dose sums the limits and sensors need.

Attribution rules:

- **Days and weeks** (``dose_on_day``, ``dose_in_week``): a session belongs wholly to the local
  day (and ISO week, Monday-Sunday, in the given time zone) it *started* in, so days add up to
  weeks and nothing is counted twice. Calendar weeks suit display ("this week").
- **Windows** (``dose_in_window``, used by the safety check's rolling 24 h): a session counts
  in full when any part of it lies in the window. Conservative: a session that straddles the
  window edge is never under-counted.

What counts as a **treatment** (:func:`is_treatment`, for the spacing and the weekly count of
the safety limits): a record that was not refused (``aborted``), ran at least
``MIN_TREATMENT_SECONDS`` and delivered at least ``MIN_TREATMENT_DOSE``. Anything less (a
test of the panel, a press during a lockout) still counts its dose everywhere (the rolling
24 h cap, "dose today"), but neither restarts the spacing nor uses up one of the week's
sessions.

Records are kept sorted by start time and looked up by bisection; the longest record bounds
the overlap search, so windows cost O(log n + k) for years of history.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from ._util import (
    MAX_STORED_SECONDS,
    iso,
    load,
    parse_time,
    require_aware,
    shown,
    start_of_local_day,
    stored_number,
    stored_optional_text,
    stored_person,
    stored_text,
)
from .areas import shares_skin, validate_area
from .dose import BandDose, dose_for_seconds
from .errors import ErrorCode, HistoryError, StoredDataError
from .session import FINAL_STATUSES, Session, SessionOrigin, SessionStatus

MIN_TREATMENT_SECONDS = 30.0
"""A record on for less than this is not a treatment (judgement): seconds are a test of the
panel or a slip. Half a minute, not a whole one: a bright panel delivers a wound-healing dose
(3 J/cm², dosimetry.md) in 50 seconds at 60 mW/cm², and that is a treatment."""

MIN_TREATMENT_DOSE = 1.0
"""J/cm² (total): a record that delivered less is not a treatment (judgement): a third of the
lowest protocol dose in the shared reference (wound healing, commonly 3-6 J/cm²,
dosimetry.md). Six seconds at 60 mW/cm² is 0.36 J/cm²."""


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A finished session as history keeps it."""

    id: str
    panel_id: str | None
    area: str
    origin: SessionOrigin
    started_at: datetime
    ended_at: datetime
    dose: BandDose
    status: SessionStatus
    on_seconds: float = 0.0
    person: str | None = None
    """The person entity treated (``person.ada``); None: unassigned."""

    def __post_init__(self) -> None:
        """Refuse a record without an id or area, or with naive or reversed times."""
        object.__setattr__(self, "started_at", require_aware(self.started_at, "started_at"))
        object.__setattr__(self, "ended_at", require_aware(self.ended_at, "ended_at"))
        if not self.id or not self.area:
            raise HistoryError(ErrorCode.INVALID_RECORD, "a record needs an id and an area")
        if self.ended_at < self.started_at:
            raise HistoryError(ErrorCode.INVALID_RECORD, "a record cannot end before it starts")
        if self.status not in FINAL_STATUSES:
            raise HistoryError(ErrorCode.INVALID_RECORD, "only finished sessions are recorded")

    @classmethod
    def from_session(cls, session: Session) -> SessionRecord:
        """Return the record of a finished session that ran.

        A session that never started leaves none.
        """
        started = session.started_at
        ended = session.ended_at
        if not session.is_final or started is None or ended is None:
            raise HistoryError(
                ErrorCode.INVALID_RECORD, "only a finished session that ran can be recorded"
            )
        return cls(
            id=session.id,
            panel_id=session.panel_id,
            area=session.area,
            origin=session.origin,
            started_at=started,
            ended_at=ended,
            dose=session.delivered(ended),
            status=session.status,
            on_seconds=session.on_seconds(ended),
            person=session.person,
        )

    @classmethod
    def as_planned(cls, session: Session, at: datetime) -> SessionRecord:
        """Return the record an unfinished session will leave, seen at ``at``.

        A running one as if it runs to its planned end (what it delivered so far plus the
        planned rest; an overdue one ends at its planned end, not later); a paused one as what
        it delivered until it paused. Another panel's open session counts toward the limits
        like this: it is the same person's skin.
        """
        started = session.started_at
        if session.is_final or started is None:
            raise HistoryError(
                ErrorCode.INVALID_RECORD, "only a session that runs or is paused is projected"
            )
        at = require_aware(at, "at")
        if session.status is SessionStatus.RUNNING:
            ends_at = session.ends_at
            assert ends_at is not None  # running
            until = min(at, ends_at)
            rest = session.remaining_seconds(until)
            dose = session.delivered(until) + dose_for_seconds(session.irradiance, rest)
            on_seconds = session.on_seconds(until) + rest
            ended = ends_at
        else:
            ended = session.last_event_at or started
            dose = session.delivered(ended)
            on_seconds = session.on_seconds(ended)
        return cls(
            id=session.id,
            panel_id=session.panel_id,
            area=session.area,
            origin=session.origin,
            started_at=started,
            ended_at=ended,
            dose=dose,
            status=SessionStatus.COMPLETED,
            on_seconds=on_seconds,
            person=session.person,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a stored object (the form ``from_dict`` reads back)."""
        data = {
            "id": self.id,
            "panel_id": self.panel_id,
            "area": self.area,
            "origin": self.origin.value,
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "dose": self.dose.to_dict(),
            "status": self.status.value,
            "on_seconds": self.on_seconds,
        }
        if self.person is not None:
            data["person"] = self.person
        return data

    def to_row(self) -> str | dict[str, Any]:
        """Return the record as one line of a history file.

        Its fields separated by spaces (see ``ROW_FIELDS``), the end as seconds after the start,
        ``-`` for no panel or person. A record whose text fields cannot be written that way (a space
        in an id, an id ``-``) is stored as ``to_dict``; ``from_row`` reads either.
        """
        texts = (self.id, self.panel_id, self.person)
        if any(text is not None and (text == _NONE or _unsafe(text)) for text in texts):
            return self.to_dict()
        return " ".join(
            (
                self.id,
                self.panel_id or _NONE,
                self.area,
                self.origin.value,
                self.started_at.isoformat(),
                repr((self.ended_at - self.started_at).total_seconds()),
                repr(self.dose.red),
                repr(self.dose.nir),
                self.status.value,
                repr(self.on_seconds),
                self.person or _NONE,
            )
        )

    @classmethod
    def from_row(cls, row: object) -> SessionRecord:
        """Read back what ``to_row`` wrote, trusting nothing (as ``from_dict``)."""
        if not isinstance(row, str):
            if not isinstance(row, Mapping):
                raise StoredDataError(
                    ErrorCode.INVALID_STORED_DATA, f"record: a {type(row).__name__}"
                )
            return cls.from_dict(row)
        fields = row.split(" ")
        if len(fields) != len(ROW_FIELDS):
            raise StoredDataError(
                ErrorCode.INVALID_STORED_DATA,
                f"record: {len(fields)} fields, not {len(ROW_FIELDS)}",
            )
        d = dict(zip(ROW_FIELDS, fields, strict=True))
        numbers: dict[str, float] = {}
        for name in ("seconds", "red", "nir", "on_seconds"):
            try:
                numbers[name] = float(d[name])
            except ValueError as err:
                raise StoredDataError(
                    ErrorCode.INVALID_STORED_DATA, f"{name}: {shown(d[name])} is not a number"
                ) from err
        started = parse_time(d["started_at"], "started_at")
        seconds = stored_number(numbers["seconds"], "seconds", MAX_STORED_SECONDS)
        return cls.from_dict(
            {
                "id": d["id"],
                "panel_id": None if d["panel_id"] == _NONE else d["panel_id"],
                "area": d["area"],
                "origin": d["origin"],
                "started_at": d["started_at"],
                "ended_at": iso(started + timedelta(seconds=seconds)),
                "dose": {"red": numbers["red"], "nir": numbers["nir"]},
                "status": d["status"],
                "on_seconds": numbers["on_seconds"],
                "person": None if d["person"] == _NONE else d["person"],
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SessionRecord:
        """Read back a stored record.

        Anything malformed raises ``StoredDataError``: a missing or mistyped field, an unknown or
        eye area, a time out of range, an absurd dose.
        """
        return load(
            data,
            "record",
            lambda d: cls(
                id=stored_text(d["id"], "id"),
                panel_id=stored_optional_text(d.get("panel_id"), "panel_id"),
                area=validate_area(stored_text(d["area"], "area")).value,
                origin=SessionOrigin(d["origin"]),
                started_at=parse_time(d["started_at"], "started_at"),
                ended_at=parse_time(d["ended_at"], "ended_at"),
                dose=BandDose.from_dict(d["dose"]),
                status=SessionStatus(d["status"]),
                on_seconds=stored_number(
                    d.get("on_seconds", 0.0), "on_seconds", MAX_STORED_SECONDS
                ),
                person=stored_person(d.get("person")),
            ),
        )


ROW_FIELDS = (
    "id",
    "panel_id",
    "area",
    "origin",
    "started_at",
    "seconds",
    "red",
    "nir",
    "status",
    "on_seconds",
    "person",
)
"""The fields of a record's line in a history file, in order."""

_NONE = "-"


def _unsafe(text: str) -> bool:
    return not text or any(char.isspace() for char in text)


def is_treatment(record: SessionRecord) -> bool:
    """Whether ``record`` counts as a session for the spacing and the weekly count.

    Not refused (``aborted``), at least ``MIN_TREATMENT_SECONDS`` on (records stored before
    the on-time was kept count their wall-clock length) and at least ``MIN_TREATMENT_DOSE``.
    """
    if record.status is SessionStatus.ABORTED:
        return False
    on = record.on_seconds or (record.ended_at - record.started_at).total_seconds()
    return on >= MIN_TREATMENT_SECONDS and record.dose.total >= MIN_TREATMENT_DOSE


def _matches(record: SessionRecord, area: str | None, related: bool) -> bool:
    if area is None:
        return True
    return shares_skin(record.area, area) if related else record.area == area


class History:
    """All finished sessions, sorted by start time.

    ``area=None`` means every area. ``related=True`` widens an area to every area that shares
    skin with it (whole body and the area itself), as the safety limits count it.
    """

    def __init__(self, records: Iterable[SessionRecord] = ()) -> None:
        """Hold ``records``, kept in order of their start."""
        self._records: list[SessionRecord] = []
        self._starts: list[datetime] = []
        self._ids: set[str] = set()
        self._longest = timedelta(0)
        self.on_change: Callable[[SessionRecord, bool], None] | None = None
        """Called with each record appended (True) or removed (False): the store writes
        only the part of the history that changed."""
        for record in records:
            self.append(record)

    def append(self, record: SessionRecord) -> None:
        """Add ``record`` in order of its start; an id already stored is refused."""
        if record.id in self._ids:
            raise HistoryError(
                ErrorCode.DUPLICATE_RECORD, f"record {record.id} is already stored", id=record.id
            )
        index = bisect_right(self._starts, record.started_at)
        self._records.insert(index, record)
        insort(self._starts, record.started_at)
        self._ids.add(record.id)
        self._longest = max(self._longest, record.ended_at - record.started_at)
        if self.on_change is not None:
            self.on_change(record, True)

    def remove(self, record_id: str) -> SessionRecord:
        """Take the record ``record_id`` out of the history and return it (unknown: raises)."""
        for index, record in enumerate(self._records):
            if record.id == record_id:
                del self._records[index]
                del self._starts[index]
                self._ids.discard(record_id)
                self._longest = max(
                    (r.ended_at - r.started_at for r in self._records), default=timedelta(0)
                )
                if self.on_change is not None:
                    self.on_change(record, False)
                return record
        raise HistoryError(
            ErrorCode.UNKNOWN_RECORD, f"no record {record_id} is stored", id=record_id
        )

    def __len__(self) -> int:
        """Count the records."""
        return len(self._records)

    def __iter__(self) -> Iterator[SessionRecord]:
        """Go through the records, earliest start first."""
        return iter(self._records)

    def __contains__(self, record_id: object) -> bool:
        """Whether a record with this id is stored."""
        return record_id in self._ids

    @property
    def records(self) -> tuple[SessionRecord, ...]:
        """Return every record, earliest start first."""
        return tuple(self._records)

    def records_for_area(self, area: str, *, related: bool = False) -> list[SessionRecord]:
        """Return the records on ``area`` (with ``related``: on any area that shares its skin)."""
        return [r for r in self._records if _matches(r, area, related)]

    def records_started_between(
        self, start: datetime, end: datetime, area: str | None = None, *, related: bool = False
    ) -> list[SessionRecord]:
        """Return the records that started in ``[start, end)``."""
        lo = bisect_left(self._starts, require_aware(start, "start"))
        hi = bisect_left(self._starts, require_aware(end, "end"))
        return [r for r in self._records[lo:hi] if _matches(r, area, related)]

    def records_overlapping(
        self, start: datetime, end: datetime, area: str | None = None, *, related: bool = False
    ) -> list[SessionRecord]:
        """Return the records with any part in ``[start, end)``.

        A zero-length record at ``start`` counts.
        """
        start = require_aware(start, "start")
        lo = bisect_left(self._starts, start - self._longest)
        hi = bisect_left(self._starts, require_aware(end, "end"))
        return [
            r
            for r in self._records[lo:hi]
            if r.ended_at > start or r.started_at >= start
            if _matches(r, area, related)
        ]

    def dose_in_window(
        self, start: datetime, end: datetime, area: str | None = None, *, related: bool = False
    ) -> BandDose:
        """Dose of every record with any part in ``[start, end)``, counted in full."""
        return BandDose.sum(
            r.dose for r in self.records_overlapping(start, end, area, related=related)
        )

    def dose_on_day(self, day: date, tz: tzinfo, area: str | None = None) -> BandDose:
        """Dose of the sessions that started on local ``day`` in ``tz``."""
        start = start_of_local_day(day, tz)
        end = start_of_local_day(day + timedelta(days=1), tz)
        return BandDose.sum(r.dose for r in self.records_started_between(start, end, area))

    def dose_in_week(self, at: datetime, tz: tzinfo, area: str | None = None) -> BandDose:
        """Dose of the sessions that started in the local ISO week (Mon-Sun) containing ``at``."""
        today = require_aware(at).astimezone(tz).date()
        monday = today - timedelta(days=today.weekday())
        start = start_of_local_day(monday, tz)
        end = start_of_local_day(monday + timedelta(days=7), tz)
        return BandDose.sum(r.dose for r in self.records_started_between(start, end, area))

    def sessions_since(
        self, at: datetime, area: str | None = None, *, related: bool = False
    ) -> list[SessionRecord]:
        """Return the records that started at or after ``at``."""
        lo = bisect_left(self._starts, require_aware(at))
        return [r for r in self._records[lo:] if _matches(r, area, related)]

    def last_session(
        self, area: str | None = None, *, before: datetime | None = None, related: bool = False
    ) -> SessionRecord | None:
        """Return the latest-starting record (that started before ``before``, when given)."""
        hi = (
            len(self._records)
            if before is None
            else bisect_left(self._starts, require_aware(before, "before"))
        )
        for record in reversed(self._records[:hi]):
            if _matches(record, area, related):
                return record
        return None

    def to_dict(self) -> dict[str, Any]:
        """Return the history as stored: its records as objects."""
        return {"records": [r.to_dict() for r in self._records]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> History:
        """Read back a stored history; anything malformed raises ``StoredDataError``."""
        return load(
            data,
            "history",
            lambda d: cls(SessionRecord.from_dict(r) for r in d["records"]),
        )
