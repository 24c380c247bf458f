"""When protocol runs are looked at: evaluation, events, the one scheduled callback, repairs.

Time is never ticked: after every change the runs are evaluated and ONE callback is
scheduled at the next moment a session becomes due or its day ends (missed). Events fire for
transitions seen while Home Assistant runs (``session_due``, ``session_missed``,
``protocol_completed``); a restart takes the state as it finds it and fires nothing for the
past. The events go out on the panel's dispatcher signal (``const.event_signal``); the
panel's session manager fires them on its event entity, with its own.

A run the panel cannot deliver at its distance and levels now (each session falls short of
the protocol's dose) gets a repair issue, kept until the run ends.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .const import DOMAIN, event_signal
from .coordinator import PanelCoordinator
from .persons import async_household
from .protocol_data import describe, figures, shortfall_placeholders, undeliverable_issue_id
from .session_manager import SessionEvent
from .store import TherapyStore
from .therapy import (
    BandIrradiance,
    ProtocolPlan,
    ProtocolPlanReport,
    ProtocolPlanStatus,
    SlotStatus,
    TherapyError,
    deliverable_dose,
    seconds_for_dose,
)
from .therapy._util import start_of_local_day
from .therapy.household import owner, records_of

UNFINISHED = (ProtocolPlanStatus.ACTIVE, ProtocolPlanStatus.PAUSED)
FALLBACK_SESSION_MINUTES = 15.0
"""A session's length when the panel's irradiance is not known (as the calendar shows it)."""
SHORTFALL_TOLERANCE = 0.05
"""J/cm² a session may fall short of the protocol dose before the run is called undeliverable
(rounding: what a person reads is one decimal)."""


class RunSchedule:
    """The evaluation of one panel's runs, their events and the callback at the next change.

    ``plans`` is the panel's runs by id, shared with (and changed only by) the
    ``ProtocolManager``; ``reports`` holds each one's report as of the last evaluation.
    ``irradiance`` tells the panel's irradiance at its distance and levels now (None: not
    known); it is read when needed, never kept.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        coordinator: PanelCoordinator,
        store: TherapyStore,
        plans: dict[str, ProtocolPlan],
        irradiance: Callable[[], BandIrradiance | None],
    ) -> None:
        """Keep what the evaluation reads; nothing is evaluated or scheduled yet."""
        self._hass = hass
        self._coordinator = coordinator
        self._store = store
        self._plans = plans
        self._irradiance = irradiance
        self.panel_id = coordinator.config_entry.entry_id
        self.reports: dict[str, ProtocolPlanReport] = {}
        self._cancel_scheduled_refresh: CALLBACK_TYPE | None = None
        self._refreshing = False

    # -- what the panel delivers, and the repair when it falls short -----------------------

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

    def report_shortfall(self, plan: ProtocolPlan) -> None:
        """Raise a repair issue naming the dose each session of ``plan`` will really deliver.

        It is kept until the run ends (``clear_shortfall``).
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
            translation_placeholders=shortfall_placeholders(
                self._coordinator.name, plan, delivered
            ),
        )

    def clear_shortfall(self, plan: ProtocolPlan) -> None:
        """Delete the repair issue of ``plan`` once the run has ended."""
        if plan.status not in UNFINISHED:
            ir.async_delete_issue(self._hass, DOMAIN, undeliverable_issue_id(plan.id))

    # -- evaluation, events and the one scheduled callback ---------------------------------

    @callback
    def handle_update(self) -> None:
        """Look at the runs again after a change (a session recorded or logged, a panel state)."""
        if not self._refreshing:
            self.refresh()

    @callback
    def _scheduled_refresh(self, _now: datetime) -> None:
        """Evaluate the runs and show the result, at the time ``_schedule`` asked for."""
        self._cancel_scheduled_refresh = None
        self.refresh()
        self._refreshing = True
        try:
            self._coordinator.async_update_listeners()
        finally:
            self._refreshing = False

    def refresh(self, *, fire: bool = True, only: str | None = None) -> None:
        """Evaluate every run; fire events for what changed; schedule the next callback.

        ``only`` names a run just created or changed by a command: its new state is taken as
        it is (no events), the others are compared as usual.
        """
        now = dt_util.utcnow()
        history = self._store.history
        household = async_household(self._hass)
        # Sessions not ended yet, on every panel: the slot they do is in progress, not due.
        open_sessions = [
            (owner(session, household), session.area, session.started_at)
            for session in self._store.active.values()
            if session.started_at is not None and not session.is_final
        ]
        completed: list[ProtocolPlan] = []
        for plan in self._plans.values():
            previous = self.reports.get(plan.id)
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
            self.reports[plan.id] = report
            if fire and previous is not None and plan.id != only:
                self._fire_changes(plan, previous, report)
            if plan.status is ProtocolPlanStatus.ACTIVE and report.finished:
                plan.complete()
                completed.append(plan)
        for plan in completed:
            self.clear_shortfall(plan)
            self._send(
                SessionEvent.PROTOCOL_COMPLETED,
                describe(self._hass, plan, None) | figures(self.reports[plan.id]),
            )
        if completed:
            self._store.async_save_runs_later(completed)
        self._schedule(now)

    def _fire_changes(
        self, plan: ProtocolPlan, previous: ProtocolPlanReport, report: ProtocolPlanReport
    ) -> None:
        """Send ``session_due`` and ``session_missed`` for the slots that became so."""
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
                self._send(SessionEvent.SESSION_DUE, describe(self._hass, plan, session))
            missed_now = session.status is SlotStatus.MISSED and (
                old is None or old.status is not SlotStatus.MISSED
            )
            caught_up_later = (
                session.catch_up and old is not None and not old.catch_up and not missed_now
            )
            if missed_now or caught_up_later:
                data = describe(self._hass, plan, old or session)
                if caught_up_later:
                    data["catch_up_on"] = session.date.isoformat()
                self._send(SessionEvent.SESSION_MISSED, data)

    def _send(self, event: SessionEvent, data: dict[str, Any]) -> None:
        """Send a run's event on the panel's signal, for the session event entity."""
        async_dispatcher_send(self._hass, event_signal(self.panel_id), event, data)

    def _schedule(self, now: datetime) -> None:
        """Schedule one callback at the earliest moment a session becomes due or its day ends."""
        self.cancel()
        moments: list[datetime] = []
        for plan in self._plans.values():
            if plan.status is not ProtocolPlanStatus.ACTIVE:
                continue
            for session in self.reports[plan.id].sessions:
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
    def cancel(self) -> None:
        """Cancel the scheduled evaluation, if any."""
        if self._cancel_scheduled_refresh is not None:
            self._cancel_scheduled_refresh()
            self._cancel_scheduled_refresh = None
