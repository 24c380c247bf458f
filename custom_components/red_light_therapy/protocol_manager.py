"""Protocol runs of one panel: plans kept in the store, one callback at the next change.

A run is a ``therapy.ProtocolPlan`` (a protocol on a calendar). Several runs may coexist on
one panel on different areas; an area has at most one unfinished run (on any panel: history
is shared, and two runs on one area would count the same sessions). Runs are saved in the
shared ``TherapyStore`` under ``plans`` and survive restarts.

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
from .therapy._util import start_of_local_day

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


def spread_weekdays(first: int, per_week: int) -> frozenset[int]:
    """``per_week`` weekdays spread evenly over the week, starting on ``first``."""
    return frozenset((first + (i * 7) // per_week) % 7 for i in range(per_week))


def undeliverable_issue_id(plan_id: str) -> str:
    """The repair issue of a run the panel cannot deliver."""
    return f"protocol_undeliverable_{plan_id}"


def session_data(plan: ProtocolPlan, session: PlannedSession | None) -> dict[str, Any]:
    """What an event, a calendar entry or an answer says about a run and one of its sessions."""
    protocol = plan.protocol
    data: dict[str, Any] = {
        "run_id": plan.id,
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
    ) -> None:
        self._hass = hass
        self._coordinator = coordinator
        self._store = store
        self._treatment_area = treatment_area
        self._irradiance = irradiance
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
        return [run for run in self.runs if run.plan.status in UNFINISHED]

    @property
    def current(self) -> Run | None:
        """The run the entities show and the select stops: the unfinished run on the panel's
        treatment area, else the one a session started now belongs to (see
        ``_most_urgent_run``). The Treatment area select therefore chooses which of several runs
        the entities show."""
        runs = self.unfinished
        on_area = [run for run in runs if run.plan.area == self._treatment_area()]
        return on_area[0] if on_area else self._most_urgent_run(runs)

    def _most_urgent_run(self, runs: list[Run]) -> Run | None:
        """A run with a session due, else the one on the panel's area, else the soonest."""
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
        """The soonest pending session of the active runs."""
        pending = [(run, run.report.next_due) for run in self.unfinished if run.report.next_due]
        if not pending:
            return None
        run, session = min(pending, key=lambda p: dt_util.as_utc(p[1].scheduled_at))
        assert session is not None
        return run, session

    def run_defaults(
        self, area: str | None, person: str | None = None
    ) -> tuple[float, DoseBand, str] | None:
        """The dose, band and area a session started now with no dose or minutes takes: the
        active run's on ``area`` (any area when None), the most urgent of several; None when
        no run is active there."""
        runs = [
            run
            for run in self.unfinished
            if run.plan.status is ProtocolPlanStatus.ACTIVE
            and (area is None or run.plan.area == area)
        ]
        run = self._most_urgent_run(runs)
        if run is None:
            return None
        protocol = run.plan.protocol
        return protocol.dose_j_cm2, protocol.band, run.plan.area

    def find(self, area: str | None = None) -> Run:
        """The unfinished run on ``area``, or the only one; translated errors otherwise."""
        runs = [r for r in self.unfinished if area is None or r.plan.area == area]
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
    ) -> Run:
        """Start a run; defaults: today, the sessions spread over the week, now (rounded)."""
        plan = self.prepare(
            protocol,
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
        """The dose in the run's band one session delivers at the panel's distance and levels
        now, within the run's area limits (None: the irradiance is not known)."""
        irradiance = self._irradiance()
        if irradiance is None:
            return None
        protocol = plan.protocol
        return deliverable_dose(irradiance, protocol.dose_j_cm2, protocol.band, plan.area_limits)

    def session_minutes(self, plan: ProtocolPlan) -> float:
        """How long one session of ``plan`` takes at the panel's distance and levels now,
        within the area's minutes."""
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
        """The deliverable dose when it falls short of the protocol's, else None."""
        delivered = self.deliverable(plan)
        if delivered is None or delivered >= plan.protocol.dose_j_cm2 - SHORTFALL_TOLERANCE:
            return None
        return delivered

    def shortfall_placeholders(self, plan: ProtocolPlan, delivered: float) -> dict[str, str]:
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
        """A repair issue naming the dose each session of ``plan`` will really deliver; kept
        until the run ends (``_clear_shortfall``)."""
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
        """A run id no stored run has: runs are kept by id, so a repeat (two ULIDs made in
        the same millisecond from a reseeded generator) would replace another run."""
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
    ) -> ProtocolPlan:
        """The run ``async_start`` would start, checked (its area free), changing nothing."""
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
        for other in self._store.plans.values():
            if other.get("area") == plan.area and other.get("status") in UNFINISHED:
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="protocol_area_busy",
                    translation_placeholders={
                        "area": plan.area.replace("_", " "),
                        "protocol": str(other.get("protocol", {}).get("name", "")),
                    },
                )
        return plan

    async def async_pause(self, area: str | None = None) -> Run:
        return await self._async_change(area, lambda plan, now: plan.pause(now))

    async def async_resume(self, area: str | None = None) -> Run:
        return await self._async_change(area, lambda plan, now: plan.resume(now))

    async def async_stop(self, area: str | None = None) -> Run:
        return await self._async_change(area, lambda plan, now: plan.stop(now))

    async def async_skip(self, area: str | None = None, day: date | None = None) -> date:
        """Skip the session on ``day`` (default: the next pending one)."""
        run = self.find(area)
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
        await self._async_change(area, lambda plan, _now: plan.skip(target.original_date))
        return target.date

    async def _async_change(self, area: str | None, change: Any) -> Run:
        run = self.find(area)
        try:
            change(run.plan, dt_util.utcnow())
        except TherapyError as err:
            raise therapy_error(err) from err
        await self._async_save(run.plan)
        return Run(run.plan, self._reports[run.plan.id])

    async def _async_save(self, plan: ProtocolPlan) -> None:
        self._clear_shortfall(plan)
        self._store.plans[plan.id] = plan.to_dict()
        await self._store.async_save()
        self._refresh(fire=False, only=plan.id)
        self._coordinator.async_update_listeners()

    # -- evaluation, events and the one scheduled callback ---------------------------------

    @callback
    def _handle_update(self) -> None:
        """Something changed (a session recorded or logged, a panel state): look again."""
        if not self._refreshing:
            self._refresh()

    @callback
    def _scheduled_refresh(self, _now: datetime) -> None:
        """The time ``_schedule`` asked for has come: evaluate the runs and show the result."""
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
        # Sessions not ended yet, on every panel: the slot they do is in progress, not due.
        open_sessions = [
            (session.area, session.started_at)
            for session in self._store.active.values()
            if session.started_at is not None and not session.is_final
        ]
        completed: list[ProtocolPlan] = []
        for plan in self._plans.values():
            previous = self._reports.get(plan.id)
            if previous is not None and plan.status not in UNFINISHED and plan.id != only:
                continue
            report = plan.evaluate(history, now, open_sessions)
            self._reports[plan.id] = report
            if fire and previous is not None and plan.id != only:
                self._fire_changes(plan, previous, report)
            if plan.status is ProtocolPlanStatus.ACTIVE and report.finished:
                plan.complete()
                completed.append(plan)
        for plan in completed:
            self._clear_shortfall(plan)
            self._store.plans[plan.id] = plan.to_dict()
            self._send(
                SessionEvent.PROTOCOL_COMPLETED,
                session_data(plan, None) | self._report_data(self._reports[plan.id]),
            )
        if completed:
            self._hass.async_create_task(self._store.async_save(), eager_start=True)
        self._schedule(now)

    @staticmethod
    def _report_data(report: ProtocolPlanReport) -> dict[str, Any]:
        """A run's progress figures as event data, percentages rounded to one decimal."""
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
                self._send(SessionEvent.SESSION_DUE, session_data(plan, session))
            missed_now = session.status is SlotStatus.MISSED and (
                old is None or old.status is not SlotStatus.MISSED
            )
            caught_up_later = (
                session.catch_up and old is not None and not old.catch_up and not missed_now
            )
            if missed_now or caught_up_later:
                data = session_data(plan, old or session)
                if caught_up_later:
                    data["catch_up_on"] = session.date.isoformat()
                self._send(SessionEvent.SESSION_MISSED, data)

    def _send(self, event: SessionEvent, data: dict[str, Any]) -> None:
        """Send a run's event on the panel's signal, for the session event entity."""
        async_dispatcher_send(self._hass, event_signal(self.panel_id), event, data)

    def _schedule(self, now: datetime) -> None:
        """One callback at the earliest moment a session becomes due or its day ends."""
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
        if self._cancel_scheduled_refresh is not None:
            self._cancel_scheduled_refresh()
            self._cancel_scheduled_refresh = None
        self._remove_listener()
