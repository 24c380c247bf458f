"""Protocol runs of one panel: plans kept in the store, one callback at the next change.

A run is a ``therapy.ProtocolPlan`` (a protocol on a calendar) and belongs to a person (its
``person``, a person entity id; None: unassigned, which in a one-person home is that person's,
``household.owner``). Its next session, progress, adherence and streak are computed from that
person's records only (``household.records_of``). Several runs may coexist on one panel; a
person has at most one unfinished run per area (on any panel: history is shared, and two of
their runs on one area would count the same sessions), while two persons may each run one on
the same area of the same panel. Runs are saved in the shared ``TherapyStore`` under ``plans``
and survive restarts.

Commands and the panel's entities act on the runs of one person: the one named, else the
panel's current person (``current_person``, the "Who is using the panel" choice). A person
without a run of their own there also reaches the unassigned runs (runs from before
households in a home of several), so those can still be stopped.

Time is never ticked: after every change the manager evaluates its runs and schedules ONE
callback at the next moment a session becomes due or its day ends (missed). Events fire for
transitions seen while Home Assistant runs (``session_due``, ``session_missed``,
``protocol_completed``); a restart takes the state as it finds it and fires nothing for the
past. The events go out on the panel's dispatcher signal (``const.event_signal``); the
panel's session manager fires them on its event entity, with its own.

The manager knows nothing of sessions but what it is given: the history in the shared store,
the panel's treatment area and its irradiance now (two functions passed in at setup). A
session started during a run asks ``run_defaults`` for the run's dose, band and area.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
import logging
from typing import Any
from zoneinfo import ZoneInfo

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util, ulid as ulid_util

from .const import DOMAIN, event_signal
from .coordinator import PanelCoordinator
from .persons import async_household, async_person_name
from .session_manager import SessionEvent, therapy_error
from .store import TherapyStore
from .therapy import (
    BandIrradiance,
    DoseBand,
    MissedPolicy,
    PlannedSession,
    Protocol,
    ProtocolPlan,
    ProtocolPlanReport,
    ProtocolPlanStatus,
    SlotStatus,
    TherapyError,
    check_start_date,
    default_time_of_day,
    deliverable_dose,
    free_time_of_day,
    seconds_for_dose,
)
from .therapy._util import start_of_local_day, stored_person
from .therapy.household import Household, owner, records_of

_LOGGER = logging.getLogger(__name__)

UNFINISHED = (ProtocolPlanStatus.ACTIVE, ProtocolPlanStatus.PAUSED)
FALLBACK_SESSION_MINUTES = 15.0
"""A session's length when the panel's irradiance is not known (as the calendar shows it)."""
SHORTFALL_TOLERANCE = 0.05
"""J/cm² a session may fall short of the protocol dose before the run is called undeliverable
(rounding: what a person reads is one decimal)."""
BAND_WORDS = {
    DoseBand.RED: "red",
    DoseBand.NIR: "near-infrared",
    DoseBand.BOTH: "red and near-infrared",
}


class _Current:
    """The ``person`` default: the panel's current person."""

    def __repr__(self) -> str:
        return "CURRENT"


CURRENT: Any = _Current()
"""``person=CURRENT``: whoever is using the panel now (``current_person``)."""
ANYONE: Any = _Current()
"""``person=ANYONE`` (queries): every person's runs."""


def spread_weekdays(first: int, per_week: int) -> frozenset[int]:
    """Return ``per_week`` weekdays spread evenly over the week, starting on ``first``."""
    return frozenset((first + (i * 7) // per_week) % 7 for i in range(per_week))


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


@dataclass(frozen=True, slots=True)
class Run:
    """A plan with its report as of the last evaluation."""

    plan: ProtocolPlan
    report: ProtocolPlanReport


class ProtocolManager:
    """The protocol runs of one panel.

    ``treatment_area`` and ``irradiance`` tell the panel's treatment area and its irradiance at
    its distance and levels now (None: not known); they are read when needed, never kept.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        coordinator: PanelCoordinator,
        store: TherapyStore,
        *,
        treatment_area: Callable[[], str],
        irradiance: Callable[[], BandIrradiance | None],
        current_person: Callable[[], str | None] = lambda: None,
    ) -> None:
        """Read the panel's runs from ``store`` and follow the panel's updates."""
        self._hass = hass
        self._coordinator = coordinator
        self._store = store
        self._treatment_area = treatment_area
        self._irradiance = irradiance
        self._current_person = current_person
        self.panel_id = coordinator.config_entry.entry_id
        self._plans: dict[str, ProtocolPlan] = {}
        self._reports: dict[str, ProtocolPlanReport] = {}
        self._cancel_scheduled_refresh: CALLBACK_TYPE | None = None
        self._refreshing = False
        for plan_id, data in store.plans.items():
            if data.get("panel_id") != self.panel_id:
                continue
            try:
                self._plans[plan_id] = ProtocolPlan.from_dict(data)
            except TherapyError as err:
                _LOGGER.error("Protocol run %s could not be read (%s); ignored", plan_id, err)
        self._refresh(fire=False)
        self._remove_listener = coordinator.async_add_listener(self._handle_update)

    # -- queries ---------------------------------------------------------------------------

    @property
    def runs(self) -> list[Run]:
        """Every run of this panel (finished ones too), oldest first."""
        return [
            Run(plan, self._reports[plan.id])
            for plan in sorted(self._plans.values(), key=lambda p: (p.start_date, p.id))
            if plan.id in self._reports
        ]

    @property
    def unfinished(self) -> list[Run]:
        """Every person's unfinished runs on this panel."""
        return [run for run in self.runs if run.plan.status in UNFINISHED]

    def household(self) -> Household:
        """Return the persons who may use the panels, whom the runs belong to."""
        return async_household(self._hass)

    def person_of(self, plan: ProtocolPlan) -> str | None:
        """Return whose run ``plan`` is: its person, else the home's only person, else None."""
        return owner(plan, self.household())

    def person_fields(self, plan: ProtocolPlan) -> tuple[str | None, str | None]:
        """Return the run's person (entity id) and their name, for events and answers."""
        person = self.person_of(plan)
        return person, None if person is None else async_person_name(self._hass, person)

    def describe(self, plan: ProtocolPlan, session: PlannedSession | None) -> dict[str, Any]:
        """Return ``session_data`` with the run's person and their name."""
        return session_data(plan, session, *self.person_fields(plan))

    def resolve(self, person: str | None) -> str | None:
        """Return ``person``, or the panel's current person for ``CURRENT``."""
        return self._current_person() if person is CURRENT else person

    def runs_of(self, person: str | None = CURRENT) -> list[Run]:
        """Return the unfinished runs of ``person``.

        ``person`` defaults to the panel's current person; ``ANYONE`` gives every run. A
        person without a run of their own reaches the unassigned ones.
        """
        runs = self.unfinished
        if person is ANYONE:
            return runs
        person = self.resolve(person)
        household = self.household()
        own = [run for run in runs if owner(run.plan, household) == person]
        if own or person is None:
            return own
        return [run for run in runs if owner(run.plan, household) is None]

    @property
    def current_runs(self) -> list[Run]:
        """The unfinished runs the panel's entities offer: the current person's."""
        return self.runs_of(CURRENT)

    @property
    def current(self) -> Run | None:
        """The run the entities show and the select stops.

        That is the current person's unfinished run on the panel's treatment area, else
        the one of theirs a session started now belongs to (see ``_most_urgent_run``).
        The Treatment area select therefore chooses which of several runs the entities
        show.
        """
        runs = self.current_runs
        on_area = [run for run in runs if run.plan.area == self._treatment_area()]
        return on_area[0] if on_area else self._most_urgent_run(runs)

    def _most_urgent_run(self, runs: list[Run]) -> Run | None:
        """Return a run with a session due, else the one on the panel's area, else the soonest."""
        if not runs:
            return None
        for run in runs:
            if any(s.status is SlotStatus.DUE for s in run.report.sessions):
                return run
        for run in runs:
            if run.plan.area == self._treatment_area():
                return run
        far = datetime.max.replace(tzinfo=dt_util.UTC)

        def soonest(run: Run) -> datetime:
            due = run.report.next_due
            return dt_util.as_utc(due.scheduled_at) if due else far

        return min(runs, key=soonest)

    @property
    def next_session(self) -> tuple[Run, PlannedSession] | None:
        """The soonest pending session of the current person's runs."""
        return self.next_session_of(CURRENT)

    def next_session_of(self, person: str | None = ANYONE) -> tuple[Run, PlannedSession] | None:
        """Return the soonest pending session of ``person``'s runs (``ANYONE``: of every run)."""
        pending = [
            (run, run.report.next_due) for run in self.runs_of(person) if run.report.next_due
        ]
        if not pending:
            return None
        run, session = min(pending, key=lambda p: dt_util.as_utc(p[1].scheduled_at))
        assert session is not None
        return run, session

    def run_defaults(
        self, area: str | None, person: str | None = CURRENT
    ) -> tuple[float, DoseBand, str] | None:
        """Return the dose, band and area of a session started now without dose or minutes.

        They are those of ``person``'s active run on ``area`` (any area when None), the
        most urgent of several; ``person`` defaults to the panel's current person. None
        when no run is active there.
        """
        runs = [
            run
            for run in self.runs_of(person)
            if run.plan.status is ProtocolPlanStatus.ACTIVE
            and (area is None or run.plan.area == area)
        ]
        run = self._most_urgent_run(runs)
        if run is None:
            return None
        protocol = run.plan.protocol
        return protocol.dose_j_cm2, protocol.band, run.plan.area

    def find(self, area: str | None = None, person: str | None = CURRENT) -> Run:
        """Return ``person``'s unfinished run on ``area``, or their only one.

        Raise a translated error when there is none, or several and no area says which.
        """
        runs = [r for r in self.runs_of(person) if area is None or r.plan.area == area]
        name = self._coordinator.name
        if not runs:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="no_protocol_run",
                translation_placeholders={"name": name},
            )
        if len(runs) > 1:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="protocol_run_ambiguous",
                translation_placeholders={
                    "name": name,
                    "areas": ", ".join(r.plan.area for r in runs),
                },
            )
        return runs[0]

    # -- commands --------------------------------------------------------------------------

    async def async_start(
        self,
        protocol: Protocol,
        *,
        area: str | None = None,
        start_date: date | None = None,
        weekdays: Iterable[int] | None = None,
        time_of_day: time | None = None,
        missed_policy: MissedPolicy = MissedPolicy.SKIP,
        person: str | None = CURRENT,
    ) -> Run:
        """Start a run for ``person`` (default: the panel's current person).

        Unless given, it starts today, with the sessions spread over the week, at the
        time of day it is now (rounded).
        """
        plan = self.prepare(
            protocol,
            person=person,
            area=area,
            start_date=start_date,
            weekdays=weekdays,
            time_of_day=time_of_day,
            missed_policy=missed_policy,
        )
        return await self.async_adopt(plan)

    async def async_adopt(self, plan: ProtocolPlan) -> Run:
        """Start the run ``prepare`` made; a run the panel cannot deliver raises a repair."""
        self._plans[plan.id] = plan
        await self._async_save(plan)
        self._report_shortfall(plan)
        return Run(plan, self._reports[plan.id])

    def deliverable(self, plan: ProtocolPlan) -> float | None:
        """Return the dose in the run's band one session delivers now.

        That is at the panel's distance and levels now, within the run's area limits;
        None when the irradiance is not known.
        """
        irradiance = self._irradiance()
        if irradiance is None:
            return None
        protocol = plan.protocol
        return deliverable_dose(irradiance, protocol.dose_j_cm2, protocol.band, plan.area_limits)

    def session_minutes(self, plan: ProtocolPlan) -> float:
        """Return the minutes one session of ``plan`` takes.

        That is at the panel's distance and levels now, within the area's minutes.
        """
        irradiance = self._irradiance()
        protocol = plan.protocol
        if irradiance is None:
            return FALLBACK_SESSION_MINUTES
        try:
            seconds = seconds_for_dose(irradiance, protocol.dose_j_cm2, protocol.band)
        except TherapyError:
            return FALLBACK_SESSION_MINUTES
        return min(seconds / 60, plan.area_limits.max_session_minutes)

    def shortfall(self, plan: ProtocolPlan) -> float | None:
        """Return the deliverable dose when it falls short of the protocol's, else None."""
        delivered = self.deliverable(plan)
        if delivered is None or delivered >= plan.protocol.dose_j_cm2 - SHORTFALL_TOLERANCE:
            return None
        return delivered

    def shortfall_placeholders(self, plan: ProtocolPlan, delivered: float) -> dict[str, str]:
        """Return the words of a shortfall warning: what ``plan`` asks for, and ``delivered``."""
        protocol = plan.protocol
        return {
            "name": self._coordinator.name,
            "protocol": protocol.name,
            "area": plan.area.replace("_", " "),
            "dose": f"{protocol.dose_j_cm2:.3g}",
            "band": BAND_WORDS[protocol.band],
            "delivered": f"{delivered:.1f}",
            "limit_dose": f"{plan.area_limits.max_session_dose:g}",
            "limit_minutes": f"{plan.area_limits.max_session_minutes:g}",
        }

    def _report_shortfall(self, plan: ProtocolPlan) -> None:
        """Raise a repair issue naming the dose each session of ``plan`` will really deliver.

        It is kept until the run ends (``_clear_shortfall``).
        """
        delivered = self.shortfall(plan)
        if delivered is None:
            return
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            undeliverable_issue_id(plan.id),
            is_fixable=False,
            is_persistent=True,
            severity=ir.IssueSeverity.WARNING,
            translation_key="protocol_undeliverable",
            translation_placeholders=self.shortfall_placeholders(plan, delivered),
        )

    def _clear_shortfall(self, plan: ProtocolPlan) -> None:
        if plan.status not in UNFINISHED:
            ir.async_delete_issue(self._hass, DOMAIN, undeliverable_issue_id(plan.id))

    def _new_id(self) -> str:
        """Return a run id no stored run has.

        Runs are kept by id, so a repeat (two ULIDs made in the same millisecond from a
        reseeded generator) would replace another run.
        """
        while (new := ulid_util.ulid_now()) in self._store.plans:
            pass
        return new

    def prepare(
        self,
        protocol: Protocol,
        *,
        area: str | None = None,
        start_date: date | None = None,
        weekdays: Iterable[int] | None = None,
        time_of_day: time | None = None,
        missed_policy: MissedPolicy = MissedPolicy.SKIP,
        person: str | None = CURRENT,
    ) -> ProtocolPlan:
        """Return the run ``async_start`` would start, checked, changing nothing.

        The check: the person has no other unfinished run on its area.
        """
        person = self.resolve(person)
        now = dt_util.utcnow()
        tz = ZoneInfo(self._hass.config.time_zone)
        local_now = now.astimezone(tz)
        start = start_date or local_now.date()
        try:
            check_start_date(start, local_now.date())
            plan = ProtocolPlan(
                id=self._new_id(),
                protocol=protocol,
                area=area or protocol.area,
                panel_id=self.panel_id,
                start_date=start,
                weekdays=frozenset(
                    weekdays
                    if weekdays is not None
                    else spread_weekdays(start.weekday(), protocol.sessions_per_week)
                ),
                time_of_day=time_of_day or default_time_of_day(local_now),
                tz=tz,
                missed_policy=missed_policy,
                created_at=now,
                person=person,
            )
        except TherapyError as err:
            raise therapy_error(err) from err
        if time_of_day is None:
            # One panel runs one session at a time: keep clear of its other runs' sessions.
            busy = [
                (other.time_of_day, self.session_minutes(other))
                for other in self._plans.values()
                if other.status in UNFINISHED
            ]
            plan.time_of_day = free_time_of_day(local_now, self.session_minutes(plan), busy)
        household = self.household()
        for other in self._store.plans.values():
            whose = stored_person(other.get("person")) or household.only_person
            if (
                other.get("area") == plan.area
                and other.get("status") in UNFINISHED
                and whose == owner(plan, household)
            ):
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="protocol_area_busy",
                    translation_placeholders={
                        "area": plan.area.replace("_", " "),
                        "protocol": str(other.get("protocol", {}).get("name", "")),
                    },
                )
        return plan

    async def async_pause(self, area: str | None = None, person: str | None = CURRENT) -> Run:
        """Pause ``person``'s run on ``area`` (see ``find``) and return it."""
        return await self._async_change(area, person, lambda plan, now: plan.pause(now))

    async def async_resume(self, area: str | None = None, person: str | None = CURRENT) -> Run:
        """Resume ``person``'s paused run on ``area`` (see ``find``) and return it."""
        return await self._async_change(area, person, lambda plan, now: plan.resume(now))

    async def async_stop(self, area: str | None = None, person: str | None = CURRENT) -> Run:
        """Stop ``person``'s run on ``area`` (see ``find``) for good and return it."""
        return await self._async_change(area, person, lambda plan, now: plan.stop(now))

    async def async_skip(
        self, area: str | None = None, day: date | None = None, person: str | None = CURRENT
    ) -> date:
        """Skip the session on ``day`` (default: the next pending one) of ``person``'s run."""
        person = self.resolve(person)
        run = self.find(area, person)
        paused = run.plan.status is ProtocolPlanStatus.PAUSED
        pending = [
            s
            for s in run.report.sessions
            if s.status in (SlotStatus.DUE, SlotStatus.UPCOMING) and (day is None or s.date == day)
        ]
        if paused or (not pending and day is None):
            # A paused run has nothing to skip until it resumes; otherwise every session is
            # behind.
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="protocol_paused_no_skip" if paused else "no_session_to_skip",
                translation_placeholders={
                    "protocol": run.plan.protocol.name,
                    "area": run.plan.area.replace("_", " "),
                },
            )
        if not pending:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="no_session_on_date",
                translation_placeholders={"date": str(day)},
            )
        # A catch-up is the missed session given another day: skipping it skips that session
        # (by its own date), so it counts as skipped, not missed.
        target = pending[0]
        await self._async_change(area, person, lambda plan, _now: plan.skip(target.original_date))
        return target.date

    async def _async_change(self, area: str | None, person: str | None, change: Any) -> Run:
        run = self.find(area, person)
        try:
            change(run.plan, dt_util.utcnow())
        except TherapyError as err:
            raise therapy_error(err) from err
        await self._async_save(run.plan)
        return Run(run.plan, self._reports[run.plan.id])

    async def _async_save(self, plan: ProtocolPlan) -> None:
        self._clear_shortfall(plan)
        await self._store.async_save_run(plan)
        self._refresh(fire=False, only=plan.id)
        self._coordinator.async_update_listeners()

    # -- evaluation, events and the one scheduled callback ---------------------------------

    @callback
    def _handle_update(self) -> None:
        """Look at the runs again after a change (a session recorded or logged, a panel state)."""
        if not self._refreshing:
            self._refresh()

    @callback
    def _scheduled_refresh(self, _now: datetime) -> None:
        """Evaluate the runs and show the result, at the time ``_schedule`` asked for."""
        self._cancel_scheduled_refresh = None
        self._refresh()
        self._refreshing = True
        try:
            self._coordinator.async_update_listeners()
        finally:
            self._refreshing = False

    def _refresh(self, *, fire: bool = True, only: str | None = None) -> None:
        """Evaluate every run; fire events for what changed; schedule the next callback.

        ``only`` names a run just created or changed by a command: its new state is taken as
        it is (no events), the others are compared as usual.
        """
        now = dt_util.utcnow()
        history = self._store.history
        household = self.household()
        # Sessions not ended yet, on every panel: the slot they do is in progress, not due.
        open_sessions = [
            (owner(session, household), session.area, session.started_at)
            for session in self._store.active.values()
            if session.started_at is not None and not session.is_final
        ]
        completed: list[ProtocolPlan] = []
        for plan in self._plans.values():
            previous = self._reports.get(plan.id)
            if previous is not None and plan.status not in UNFINISHED and plan.id != only:
                continue
            # A run counts only its person's sessions: another person's on the same area
            # neither does its slots nor holds them in progress.
            person = owner(plan, household)
            report = plan.evaluate(
                records_of(history, person, household),
                now,
                [(area, at) for whose, area, at in open_sessions if whose == person],
            )
            self._reports[plan.id] = report
            if fire and previous is not None and plan.id != only:
                self._fire_changes(plan, previous, report)
            if plan.status is ProtocolPlanStatus.ACTIVE and report.finished:
                plan.complete()
                completed.append(plan)
        for plan in completed:
            self._clear_shortfall(plan)
            self._send(
                SessionEvent.PROTOCOL_COMPLETED,
                self.describe(plan, None) | self.figures(self._reports[plan.id]),
            )
        if completed:
            self._store.async_save_runs_later(completed)
        self._schedule(now)

    @staticmethod
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

    def _fire_changes(
        self, plan: ProtocolPlan, previous: ProtocolPlanReport, report: ProtocolPlanReport
    ) -> None:
        before = {s.index: s for s in previous.sessions}
        for session in report.sessions:
            old = before.get(session.index)
            # A slot whose session was started and stopped short is due again, but the person
            # has already answered it: no second reminder.
            if session.status is SlotStatus.DUE and (
                old is None
                or old.status not in (SlotStatus.DUE, SlotStatus.IN_PROGRESS)
                or old.date != session.date
            ):
                self._send(SessionEvent.SESSION_DUE, self.describe(plan, session))
            missed_now = session.status is SlotStatus.MISSED and (
                old is None or old.status is not SlotStatus.MISSED
            )
            caught_up_later = (
                session.catch_up and old is not None and not old.catch_up and not missed_now
            )
            if missed_now or caught_up_later:
                data = self.describe(plan, old or session)
                if caught_up_later:
                    data["catch_up_on"] = session.date.isoformat()
                self._send(SessionEvent.SESSION_MISSED, data)

    def _send(self, event: SessionEvent, data: dict[str, Any]) -> None:
        """Send a run's event on the panel's signal, for the session event entity."""
        async_dispatcher_send(self._hass, event_signal(self.panel_id), event, data)

    def _schedule(self, now: datetime) -> None:
        """Schedule one callback at the earliest moment a session becomes due or its day ends."""
        if self._cancel_scheduled_refresh is not None:
            self._cancel_scheduled_refresh()
            self._cancel_scheduled_refresh = None
        moments: list[datetime] = []
        for plan in self._plans.values():
            if plan.status is not ProtocolPlanStatus.ACTIVE:
                continue
            for session in self._reports[plan.id].sessions:
                if session.status is SlotStatus.UPCOMING:
                    moments.append(dt_util.as_utc(session.scheduled_at))
                elif session.status is SlotStatus.DUE:
                    end = start_of_local_day(session.date + timedelta(days=1), plan.tz)
                    moments.append(dt_util.as_utc(end))
        future = [m for m in moments if m > now]
        if future:
            self._cancel_scheduled_refresh = async_track_point_in_utc_time(
                self._hass, self._scheduled_refresh, min(future)
            )

    @callback
    def async_unload(self) -> None:
        """Stop the scheduled evaluation and stop following the panel."""
        if self._cancel_scheduled_refresh is not None:
            self._cancel_scheduled_refresh()
            self._cancel_scheduled_refresh = None
        self._remove_listener()
