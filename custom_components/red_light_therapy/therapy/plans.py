"""Protocol runs (plans): the sessions a protocol asks for, and how they are going.

A plan puts a protocol on a calendar: from ``start_date``, on the chosen ``weekdays``, at a
local ``time_of_day`` in ``tz``, until the protocol's total number of sessions is scheduled.
:meth:`ProtocolPlan.evaluate` lays the history over that calendar and says, for each planned
session, whether it is done, missed, skipped, due (today, time passed) or upcoming.

Decisions, each documented where it is implemented:

- **Wall-clock time across daylight saving**: a 07:30 session is 07:30 local every day, so
  the real interval between two sessions can be 23 or 25 hours. A local time that does not
  exist (spring-forward gap) moves forward by the gap; an ambiguous one (autumn) takes the
  first occurrence (``_util.local_datetime``).
- **Done**: a session on the plan's area that started on the planned local date, and either
  completed or delivered at least ``DONE_FRACTION`` of the protocol dose in its band. One
  session satisfies one planned session.
- **Missed** once its local day is over. Policy ``skip``: it stays missed. Policy ``catch_up``:
  it is offered once more on the next allowed day before the next regular session (never on a
  regular day, a skipped day or in a pause), when that day keeps the spacing to the previous
  session and to the next regular one, and keeps the weekly count within the area's limit.
  If that day passes too, it is missed. (Protocols that use every other day, e.g. hair growth
  on Mon/Wed/Fri, leave no such day: they cannot catch up, by design.)
- **In progress**: a session still open (running or paused, on any panel) on the plan's area
  that started on the planned local date (and not before the run existed) is that session
  being done: the slot is ``in_progress``, neither due nor missed, until the session ends and
  is judged as above. One open session stands for one planned session.
- **Skipped dates**: sessions on them are skipped, counted neither as done nor as missed.
- **Pause/resume shifts**: planned sessions that fall in a pause are not dropped but moved to
  the end, so the course keeps its number of sessions and ends later. While a pause is open
  nothing after its start is scheduled, and a session that was due when it paused is not due
  (nor listed) until the run resumes: a paused run is never due.
- **Stop**: sessions after the stop are no longer planned, and one that was pending (due or
  upcoming) when the run stopped is dropped too: a stopped run shows what was done, missed or
  skipped, never a session still to do. Progress stays where it was.
- **A run starts when it is created** (``created_at``): a session whose planned time lies before
  it is not planned (the course keeps its number of sessions and ends later), and a session
  recorded before it never counts as done for it. So the first session of a new run is never
  in the past, and what was done before the run existed is history, not progress. (Such
  sessions still count for the spacing of a catch-up: limits protect the skin.) A run stored
  without a ``created_at`` has no such start: every session in its area counts for it.
- **Start dates**: a new run may start today or later, at most ``MAX_START_AHEAD_DAYS`` ahead
  (:func:`check_start_date`). No grace into the past is needed: with the rule above, a run
  started today at a time already past simply begins with its next session. A start date in
  the past would make a course whose sessions were all missed before it existed; one years
  ahead is a typo, and near the end of the calendar its dates cannot even be computed.
- **Progress** = done / (total - skipped). **Adherence** = done / (done + missed), None before
  anything was due. **Streak** = consecutive done sessions up to the latest resolved one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._util import (
    iso,
    load,
    local_date,
    local_datetime,
    parse_optional_time,
    parse_time,
    require_aware as _utc,
    stored_person,
)
from .areas import Limits, default_limits, shares_skin, validate_area
from .errors import ErrorCode, PlanError, StoredDataError
from .history import History, SessionRecord
from .protocols import Protocol, validate_protocol
from .session import SessionStatus

DONE_FRACTION = 0.8
"""A stopped session counts as done when it delivered 80 % of the protocol dose (judgement: a
session cut a little short still did its job; the adherence figure should not punish that)."""

DST_SLACK_HOURS = 1.0
"""A local-time schedule loses up to an hour on the spring-forward day."""

MAX_START_AHEAD_DAYS = 366
"""How far ahead a new run may start (judgement: a course is planned weeks ahead, not years;
anything later is taken for a typo)."""

_DATE_SLACK_WEEKS = 53
"""Room a plan's dates need past its regular course: catch-ups (a week) and pauses. A plan
whose dates would run off the calendar within that is refused
(:meth:`ProtocolPlan.__post_init__`)."""

QUARTER_HOUR = 15


def default_time_of_day(local_now: datetime) -> time:
    """Return the time a run started now takes when none is given.

    ``local_now`` rounded UP to the quarter hour, so the first session lies ahead (a minute or
    fourteen), never behind. Past 23:45 there is no later quarter today; then it is 23:59, and the
    run's first session is today's only if it is still ahead (else the next planned day).
    """
    minutes = local_now.hour * 60 + local_now.minute + (1 if local_now.second else 0)
    rounded = -(-minutes // QUARTER_HOUR) * QUARTER_HOUR
    if rounded >= 24 * 60:
        return time(23, 59)
    return time(rounded // 60, rounded % 60)


def free_time_of_day(
    local_now: datetime, minutes: float, busy: Iterable[tuple[time, float]] = ()
) -> time:
    """Return the default time of a new run whose sessions take ``minutes``.

    The panel's other unfinished runs start at ``busy`` (time of day, minutes each). The answer is
    the first quarter hour from :func:`default_time_of_day` at which neither this session nor
    another overlaps (one panel runs one session at a time), a session that runs past midnight
    included. When none is left today, the plain default.
    """
    first = default_time_of_day(local_now)
    day = 24 * 60
    taken = [
        (t.hour * 60 + t.minute + shift, length) for t, length in busy for shift in (-day, 0, day)
    ]
    start = first.hour * 60 + first.minute
    for candidate in range(start, day, QUARTER_HOUR):
        if all(
            candidate >= other + length or candidate + minutes <= other for other, length in taken
        ):
            return time(candidate // 60, candidate % 60)
    return first


def check_start_date(start_date: date, today: date) -> date:
    """Return a new run's ``start_date``: from ``today`` to ``MAX_START_AHEAD_DAYS`` ahead."""
    if start_date < today:
        raise PlanError(
            ErrorCode.START_DATE_IN_PAST,
            f"start date {start_date.isoformat()} is before today ({today.isoformat()})",
            date=start_date.isoformat(),
            today=today.isoformat(),
        )
    if (start_date - today).days > MAX_START_AHEAD_DAYS:
        latest = today + timedelta(days=MAX_START_AHEAD_DAYS)
        raise PlanError(
            ErrorCode.START_DATE_TOO_LATE,
            f"start date {start_date.isoformat()} is more than a year ahead",
            date=start_date.isoformat(),
            latest=latest.isoformat(),
        )
    return start_date


class ProtocolPlanStatus(StrEnum):
    """Where a protocol run stands: running, paused, stopped by the user, or done."""

    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"
    COMPLETED = "completed"


class MissedPolicy(StrEnum):
    """What a run does with a missed session: let it go, or catch it up on a later day."""

    SKIP = "skip"
    CATCH_UP = "catch_up"


class SlotStatus(StrEnum):
    """What became of one planned session of a run."""

    DONE = "done"
    MISSED = "missed"
    SKIPPED = "skipped"
    UPCOMING = "upcoming"
    DUE = "due"
    IN_PROGRESS = "in_progress"


PENDING = (SlotStatus.DUE, SlotStatus.UPCOMING, SlotStatus.IN_PROGRESS)
"""Statuses of a session still to do (an in-progress one is not done until it ends)."""


@dataclass(frozen=True, slots=True)
class PlannedSession:
    """One session of the course. ``scheduled_at`` is local (the plan's zone)."""

    index: int
    original_date: date
    date: date
    scheduled_at: datetime
    status: SlotStatus
    catch_up: bool = False
    record_id: str | None = None


@dataclass(frozen=True, slots=True)
class ProtocolPlanReport:
    """A run's progress at a moment: its planned sessions, the next one due, and its counts."""

    sessions: tuple[PlannedSession, ...]
    next_due: PlannedSession | None
    total: int
    done: int
    missed: int
    skipped: int
    progress_percent: float
    adherence_percent: float | None
    streak: int
    finished: bool


def _plan_error(message: str, field: str) -> PlanError:
    return PlanError(ErrorCode.INVALID_PLAN, message, field=field)


@dataclass(slots=True)
class ProtocolPlan:
    """A run of ``protocol`` on ``area``. ``limits`` default to the area's defaults."""

    id: str
    protocol: Protocol
    area: str
    panel_id: str | None
    start_date: date
    weekdays: frozenset[int]
    time_of_day: time
    tz: ZoneInfo
    status: ProtocolPlanStatus = ProtocolPlanStatus.ACTIVE
    missed_policy: MissedPolicy = MissedPolicy.SKIP
    skipped_dates: set[date] = field(default_factory=set)
    pauses: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    stopped_at: datetime | None = None
    limits: Limits | None = None
    created_at: datetime | None = None
    person: str | None = None
    """The person entity whose run this is (``person.ada``); None: unassigned."""

    def __post_init__(self) -> None:
        """Refuse a run whose id, area, protocol, time zone, start date or weekdays do not fit."""
        if not self.id:
            raise _plan_error("a plan needs an id", "id")
        self.area = validate_area(self.area).value
        validate_protocol(self.protocol, self.limits, self.area)
        if not isinstance(self.tz, ZoneInfo):
            raise _plan_error("the time zone must be a ZoneInfo", "tz")
        if isinstance(self.start_date, datetime) or not isinstance(self.start_date, date):
            raise _plan_error("start_date must be a date", "start_date")
        days = frozenset(self.weekdays)
        if not days or not days <= frozenset(range(7)):
            raise _plan_error("weekdays must be 0 (Monday) .. 6 (Sunday)", "weekdays")
        if len(days) != self.protocol.sessions_per_week:
            raise _plan_error(
                f"choose {self.protocol.sessions_per_week} weekdays for this protocol",
                "weekdays",
            )
        ordered = sorted(days)
        gaps = [(b - a) for a, b in zip(ordered, [*ordered[1:], ordered[0] + 7], strict=True)]
        if min(gaps) * 24 - DST_SLACK_HOURS < self.spacing_hours:
            raise _plan_error(
                f"weekdays must be at least {self.spacing_hours:g} h apart", "weekdays"
            )
        self.weekdays = days
        self.time_of_day = self.time_of_day.replace(tzinfo=None, fold=0)
        if self.created_at is not None:
            self.created_at = _utc(self.created_at)
        try:
            self.start_date + timedelta(weeks=self.protocol.weeks + _DATE_SLACK_WEEKS)
        except OverflowError as err:
            raise PlanError(
                ErrorCode.START_DATE_TOO_LATE,
                f"start date {self.start_date.isoformat()} is too far ahead",
                date=self.start_date.isoformat(),
                latest="-",
            ) from err

    # -- derived -------------------------------------------------------------------------------

    @property
    def area_limits(self) -> Limits:
        """The limits the run's sessions are checked against: its own, else the area's defaults."""
        return self.limits or default_limits(self.area)

    @property
    def spacing_hours(self) -> float:
        """The protocol's spacing, or the area's when that is longer."""
        return max(self.protocol.min_spacing_hours, self.area_limits.min_hours_between)

    def _local(self, day: date) -> datetime:
        return local_datetime(day, self.time_of_day, self.tz)

    def _paused(self, at_utc: datetime) -> bool:
        return any(start <= at_utc and (end is None or at_utc < end) for start, end in self.pauses)

    def _regular_slots(self) -> Iterator[date]:
        """Dates of the regular sessions, shifted past pauses, cut at a stop or open pause."""
        count = 0
        day = self.start_date
        open_pause = next((s for s, e in self.pauses if e is None), None)
        while count < self.protocol.total_sessions:
            if day.weekday() in self.weekdays:
                at = _utc(self._local(day))
                if (open_pause is not None and at >= open_pause) or (
                    self.stopped_at is not None and at >= self.stopped_at
                ):
                    return
                if not self._paused(at) and (self.created_at is None or at >= self.created_at):
                    yield day
                    count += 1
            day += timedelta(days=1)

    # -- transitions ---------------------------------------------------------------------------

    def _require(self, action: str, *allowed: ProtocolPlanStatus) -> None:
        if self.status not in allowed:
            raise PlanError(
                ErrorCode.INVALID_TRANSITION,
                f"cannot {action} the plan: it is {self.status.value}",
                action=action,
                status=self.status.value,
            )

    def _after_last_change(self, at: datetime) -> datetime:
        at = _utc(at)
        last = max([t for pause in self.pauses for t in pause if t is not None], default=None)
        if last is not None and at < last:
            raise PlanError(
                ErrorCode.TIME_BEFORE_LAST_EVENT,
                "a plan change cannot be earlier than the previous one",
                at=at.isoformat(),
            )
        return at

    def pause(self, at: datetime) -> None:
        """Pause: sessions from ``at`` on move to the end when the plan resumes."""
        self._require("pause", ProtocolPlanStatus.ACTIVE)
        self.pauses.append((self._after_last_change(at), None))
        self.status = ProtocolPlanStatus.PAUSED

    def resume(self, at: datetime) -> None:
        """Resume a paused run at ``at``."""
        self._require("resume", ProtocolPlanStatus.PAUSED)
        start, _ = self.pauses[-1]
        self.pauses[-1] = (start, self._after_last_change(at))
        self.status = ProtocolPlanStatus.ACTIVE

    def stop(self, at: datetime) -> None:
        """Stop for good: nothing after ``at`` is planned any more."""
        self._require("stop", ProtocolPlanStatus.ACTIVE, ProtocolPlanStatus.PAUSED)
        at = self._after_last_change(at)
        if self.pauses and self.pauses[-1][1] is None:
            self.pauses[-1] = (self.pauses[-1][0], at)
        self.stopped_at = at
        self.status = ProtocolPlanStatus.STOPPED

    def complete(self) -> None:
        """Mark the course completed (when :meth:`evaluate` reports it finished)."""
        self._require("complete", ProtocolPlanStatus.ACTIVE)
        self.status = ProtocolPlanStatus.COMPLETED

    def skip(self, day: date) -> None:
        """Skip the session planned on local ``day`` (counts neither done nor missed)."""
        self._require("skip", ProtocolPlanStatus.ACTIVE, ProtocolPlanStatus.PAUSED)
        self.skipped_dates.add(day)

    # -- evaluation ----------------------------------------------------------------------------

    def _qualifies(self, record: SessionRecord) -> bool:
        if record.status is SessionStatus.COMPLETED:
            return True
        dose = record.dose.for_band(self.protocol.band)
        return dose >= DONE_FRACTION * self.protocol.dose_j_cm2

    def evaluate(
        self,
        history: History,
        now: datetime,
        open_sessions: Iterable[tuple[str, datetime]] = (),
    ) -> ProtocolPlanReport:
        """Every planned session's status at ``now``, with next due, progress and adherence.

        ``open_sessions``: (area, started_at) of the sessions not ended yet (any panel).
        """
        now_utc = _utc(now)
        today = local_date(now_utc, self.tz)
        begin = _utc(local_datetime(self.start_date, time(0, 0), self.tz))
        area_records = [
            r
            for r in history.sessions_since(begin)
            if r.area == self.area and (self.created_at is None or r.started_at >= self.created_at)
        ]
        related = [r for r in history.sessions_since(begin) if shares_skin(r.area, self.area)]
        by_day: dict[date, list[SessionRecord]] = {}
        for candidate in area_records:
            if self._qualifies(candidate):
                by_day.setdefault(local_date(candidate.started_at, self.tz), []).append(candidate)

        open_by_day: dict[date, int] = {}
        for area, opened_at in open_sessions:
            started = _utc(opened_at)
            if area == self.area and (self.created_at is None or started >= self.created_at):
                day = local_date(started, self.tz)
                open_by_day[day] = open_by_day.get(day, 0) + 1

        def take(day: date) -> SessionRecord | None:
            """Return the first unused qualifying session of local ``day`` (each is used once)."""
            candidates = by_day.get(day)
            return candidates.pop(0) if candidates else None

        def opened(day: date, record: SessionRecord | None) -> bool:
            """Whether an unused open session of local ``day`` stands for this slot."""
            if record is not None or not open_by_day.get(day):
                return False
            open_by_day[day] -= 1
            return True

        regular = list(self._regular_slots())
        regular_set = set(regular)
        catch_ups: set[date] = set()
        sessions: list[PlannedSession] = []
        for index, day in enumerate(regular):
            at = self._local(day)
            if day in self.skipped_dates:
                sessions.append(PlannedSession(index, day, day, at, SlotStatus.SKIPPED))
                continue
            record = take(day)
            status = self._status(record, at, day, today, now_utc, in_progress=opened(day, record))
            if status is not SlotStatus.MISSED or self.missed_policy is MissedPolicy.SKIP:
                rid = record.id if record else None
                sessions.append(PlannedSession(index, day, day, at, status, record_id=rid))
                continue
            following = regular[index + 1] if index + 1 < len(regular) else None
            catch_day = self._catch_up_day(day, following, regular_set, catch_ups, related)
            if catch_day is None:
                sessions.append(PlannedSession(index, day, day, at, SlotStatus.MISSED))
                continue
            catch_ups.add(catch_day)
            catch_at = self._local(catch_day)
            record = take(catch_day)
            status = self._status(
                record, catch_at, catch_day, today, now_utc, in_progress=opened(catch_day, record)
            )
            sessions.append(
                PlannedSession(
                    index,
                    day,
                    catch_day,
                    catch_at,
                    status,
                    catch_up=True,
                    record_id=record.id if record else None,
                )
            )
        if self.status is ProtocolPlanStatus.STOPPED:
            sessions = [s for s in sessions if s.status not in PENDING]
        elif self.status is ProtocolPlanStatus.PAUSED:
            # A paused run is never due: a session due when it paused waits for the resume.
            sessions = [s for s in sessions if s.status is not SlotStatus.DUE]
        return self._report(sessions)

    @staticmethod
    def _status(
        record: SessionRecord | None,
        at: datetime,
        day: date,
        today: date,
        now_utc: datetime,
        *,
        in_progress: bool = False,
    ) -> SlotStatus:
        if record is not None:
            return SlotStatus.DONE
        if in_progress:
            return SlotStatus.IN_PROGRESS
        if now_utc < _utc(at):
            return SlotStatus.UPCOMING
        return SlotStatus.DUE if day >= today else SlotStatus.MISSED

    def _catch_up_day(
        self,
        missed: date,
        following: date | None,
        regular: set[date],
        taken: set[date],
        related: list[SessionRecord],
    ) -> date | None:
        """Return the day a missed session may be caught up on.

        Only facts fixed at the end of the missed day are used (the regular calendar and the
        sessions before it), so the answer does not change as time passes.
        """
        known_until = _utc(local_datetime(missed + timedelta(days=1), time(0, 0), self.tz))
        known = [r for r in related if r.started_at < known_until]
        last_end = max((r.ended_at for r in known), default=None)
        spacing = timedelta(hours=self.spacing_hours)
        weekly = self.area_limits.max_sessions_per_week
        occupied = [local_date(r.started_at, self.tz) for r in known]
        occupied += [d for d in regular if d > missed and d not in self.skipped_dates]
        occupied += list(taken)
        horizon = following or missed + timedelta(days=7)
        candidate = missed + timedelta(days=1)
        while candidate < horizon:
            at = _utc(self._local(candidate))
            fits = (
                candidate not in self.skipped_dates
                and candidate not in taken
                and not self._paused(at)
                and (self.stopped_at is None or at < self.stopped_at)
                and (last_end is None or at - last_end >= spacing)
                and (following is None or _utc(self._local(following)) - at >= spacing)
                and all(
                    sum(1 for d in occupied if start <= d <= start + timedelta(days=6)) < weekly
                    for start in (candidate - timedelta(days=k) for k in range(7))
                )
            )
            if fits:
                return candidate
            candidate += timedelta(days=1)
        return None

    def _report(self, sessions: list[PlannedSession]) -> ProtocolPlanReport:
        total = self.protocol.total_sessions
        done = sum(1 for s in sessions if s.status is SlotStatus.DONE)
        missed = sum(1 for s in sessions if s.status is SlotStatus.MISSED)
        skipped = sum(1 for s in sessions if s.status is SlotStatus.SKIPPED)
        pending = [s for s in sessions if s.status in PENDING]
        resolved = [s for s in sessions if s.status in (SlotStatus.DONE, SlotStatus.MISSED)]
        streak = 0
        for session in reversed(resolved):
            if session.status is not SlotStatus.DONE:
                break
            streak += 1
        active = self.status is ProtocolPlanStatus.ACTIVE
        next_due = min(pending, key=lambda s: _utc(s.scheduled_at)) if pending and active else None
        planned_all = len(sessions) == total
        finished = self.status in (ProtocolPlanStatus.STOPPED, ProtocolPlanStatus.COMPLETED) or (
            planned_all and not pending
        )
        countable = total - skipped
        return ProtocolPlanReport(
            sessions=tuple(sessions),
            next_due=next_due,
            total=total,
            done=done,
            missed=missed,
            skipped=skipped,
            progress_percent=100.0 * done / countable if countable else 100.0,
            adherence_percent=100.0 * done / (done + missed) if done + missed else None,
            streak=streak,
            finished=finished,
        )

    # -- storage -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the run as stored."""
        return {
            "id": self.id,
            "protocol": self.protocol.to_dict(),
            "area": self.area,
            "panel_id": self.panel_id,
            "start_date": self.start_date.isoformat(),
            "weekdays": sorted(self.weekdays),
            "time_of_day": self.time_of_day.isoformat(),
            "tz": self.tz.key,
            "status": self.status.value,
            "missed_policy": self.missed_policy.value,
            "skipped_dates": sorted(d.isoformat() for d in self.skipped_dates),
            "pauses": [[iso(s), iso(e)] for s, e in self.pauses],
            "stopped_at": iso(self.stopped_at),
            "limits": None if self.limits is None else self.limits.to_dict(),
            "created_at": iso(self.created_at),
            **({} if self.person is None else {"person": self.person}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProtocolPlan:
        """Read back a stored run; anything malformed raises ``StoredDataError``."""

        def build(d: Mapping[str, Any]) -> ProtocolPlan:
            try:
                zone = ZoneInfo(str(d["tz"]))
            except (ZoneInfoNotFoundError, ValueError) as err:
                raise StoredDataError(
                    ErrorCode.INVALID_STORED_DATA, f"unknown time zone {d['tz']!r}"
                ) from err
            limits = d.get("limits")
            return cls(
                id=str(d["id"]),
                protocol=Protocol.from_dict(d["protocol"]),
                area=str(d["area"]),
                panel_id=d.get("panel_id"),
                start_date=date.fromisoformat(d["start_date"]),
                weekdays=frozenset(int(w) for w in d["weekdays"]),
                time_of_day=time.fromisoformat(d["time_of_day"]),
                tz=zone,
                status=ProtocolPlanStatus(d["status"]),
                missed_policy=MissedPolicy(d["missed_policy"]),
                skipped_dates={date.fromisoformat(x) for x in d["skipped_dates"]},
                pauses=[
                    (parse_time(s, "pause"), parse_optional_time(e, "resume"))
                    for s, e in d["pauses"]
                ],
                stopped_at=parse_optional_time(d.get("stopped_at"), "stopped_at"),
                limits=None if limits is None else Limits.from_dict(limits),
                created_at=parse_optional_time(d.get("created_at"), "created_at"),
                person=stored_person(d.get("person")),
            )

        return load(data, "plan", build)
