"""Sessions the panel changed by itself, as its pushed state tells.

Its countdown, its button or another app switched it: a running session is closed or re-fitted to
new levels, a paused one resumed, and an unplanned session started, under the same limits, when the
panel was switched on at the panel.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
import logging
from typing import TYPE_CHECKING

from homeassistant.core import callback
from homeassistant.util import dt as dt_util

from .panels.base import PanelState
from .session_plan import SessionEvent, SessionPlan
from .therapy import (
    Outcome,
    Session,
    SessionOrigin,
    SessionRequest,
    SessionStatus,
    TherapyError,
    UnplannedStart,
    check,
    fit_running,
    session_maximum_seconds,
    unplanned_start,
)

if TYPE_CHECKING:
    from .coordinator import PanelCoordinator
    from .session_manager import SessionManager

_LOGGER = logging.getLogger(__name__)


class PanelWatch:
    """Follow one panel's pushed state for what happens at the panel.

    It acts through its session manager's parts, under the panel's lock (``SessionEnd.background``).
    """

    def __init__(self, sessions: SessionManager, coordinator: PanelCoordinator) -> None:
        """Watch the panel of ``sessions``; nothing happens until its state is pushed."""
        self._sessions = sessions
        self._coordinator = coordinator
        self._panel = coordinator.panel
        self._settings = sessions.panel_settings
        self._end = sessions.end

    @callback
    def handle_panel_state(self, state: PanelState) -> None:
        """Act on the panel switching by itself: its countdown, its button, another app."""
        if self._sessions.control.commanding or self._end.ending:
            return
        session = self._sessions.session
        at = dt_util.utc_from_timestamp(state.updated_at) if state.updated_at else dt_util.utcnow()
        if session is not None and session.status is SessionStatus.RUNNING and state.is_on:
            self._follow_levels(session, at)
        if session is not None and session.status is SessionStatus.PAUSED and state.is_on:
            self._end.background(
                partial(self._async_resumed_at_panel, session, at), "red_light_therapy resume"
            )
        if session is not None and session.status is SessionStatus.RUNNING and state.is_on is False:
            self._end.background(
                partial(self._async_switched_off_at_panel, session, at),
                "red_light_therapy panel off",
            )
        elif session is None and state.is_on:
            self._end.background(
                partial(self._async_unplanned, state, at), "red_light_therapy unplanned"
            )

    async def _async_switched_off_at_panel(self, session: Session, at: datetime) -> None:
        """Close the running session whose panel went dark by itself.

        Closed then, never later than its planned end, unless a command in between already closed or
        paused it, or switched the panel on again.
        """
        if (
            session is not self._sessions.session
            or session.status is not SessionStatus.RUNNING
            or self._panel.state.is_on
        ):
            return
        ends_at = session.ends_at
        await self._end.async_close(
            session, min(at, ends_at) if ends_at else at, SessionStatus.STOPPED
        )

    def _follow_levels(self, session: Session, at: datetime) -> None:
        """Channel levels changed mid-session: dose from here on at the new irradiance."""
        if self._panel.capabilities.channels and not self._panel.state.levels:
            return  # levels not read yet (a fresh link): nothing is known to have changed
        try:
            irradiance = self._settings.profile.irradiance(
                session.distance_cm, self._settings.levels()
            )
        except TherapyError:
            return
        last = session.last_event_at
        if irradiance == session.irradiance or (last is not None and at < last):
            return
        session.change_irradiance(at, irradiance)
        self._end.background(partial(self._async_refit, session, at), "red_light_therapy refit")

    async def _async_refit(self, session: Session, at: datetime, *, arm: bool = False) -> None:
        """Re-plan a running session at its new irradiance (``therapy.fit_running``).

        A dose session still aims for its dose; nothing may go past a session or daily limit
        (``limit_reached`` says which one cut it). The end, the panel's countdown (when the plan
        changed, or ``arm``) and the store follow; with nothing left to run, it ends now.
        """
        if session is not self._sessions.session or session.status is not SessionStatus.RUNNING:
            return
        before = session.planned_seconds
        refit = fit_running(
            session,
            at,
            self._sessions.planner.limits_history(at, session.person),
            self._settings.limits(session.area),
        )
        fitted = refit.planned_seconds
        limited = {"reasons": [refit.limited_by.value]} if refit.limited_by else None
        if fitted - session.on_seconds(at) < 1.0:  # nothing left to run at these levels
            session.replan(max(fitted, 1.0))
            if limited is not None:
                _LOGGER.warning(
                    "%s: the session's limit is reached at these levels; ending it",
                    self._coordinator.name,
                )
                self._sessions.events.fire(SessionEvent.LIMIT_REACHED, limited)
            await self._end.async_finish(SessionStatus.COMPLETED)
            return
        session.replan(fitted)
        self._end.schedule()
        if limited is not None:
            self._sessions.events.fire(SessionEvent.LIMIT_REACHED, limited)
        if arm or abs(fitted - before) >= 1.0:
            await self._end.async_arm_remaining(session, save=False)
        await self._sessions._store.async_save()
        self._sessions.events.changed(session.area)

    async def _async_resumed_at_panel(self, session: Session, at: datetime) -> None:
        """Resume a paused session whose panel was switched on at the panel.

        Its button or another app switched it on: that is a resume, under the same limits, with its
        countdown armed.
        """
        if session is not self._sessions.session or session.status is not SessionStatus.PAUSED:
            return
        session.resume(max(at, session.last_event_at or at))
        self._sessions.control.hold_link()
        _LOGGER.info(
            "%s was switched on at the panel: resuming its session",
            self._coordinator.name,
        )
        await self._async_refit(session, at, arm=True)

    async def _async_unplanned(self, state: PanelState, at: datetime) -> None:
        """Start an unplanned session, under the same limits, for a panel switched on elsewhere.

        Counted from when it may have come on (``therapy.unplanned_start``): its countdown's
        start, else the last time it was seen off, at most one look before it was seen on.
        Not when a command in between started a session, or switched the panel off again (a start
        that found it on and had its plan already emitted).
        """
        if self._sessions.session is not None or not self._panel.state.is_on:
            return
        start = self._unplanned_start(state, at)
        at = start.at
        if start.estimated:
            _LOGGER.info(
                "%s was found switched on at the panel; its session is counted from %s, "
                "the earliest it may have come on",
                self._coordinator.name,
                dt_util.as_local(at).strftime("%H:%M:%S"),
            )
        area = self._settings.area
        person = self._sessions.persons.current_person()
        limits = self._settings.limits(area)
        irradiance = self._settings.irradiance or self._settings.irradiance_at()
        request = SessionRequest(area, session_maximum_seconds(limits, irradiance), irradiance, at)
        verdict = check(
            request,
            self._sessions.planner.limits_history(at, person),
            limits,
            tz=dt_util.get_default_time_zone(),
        )
        session = Session(
            id=self._sessions.records.new_id(),
            area=area,
            distance_cm=self._settings.distance_cm,
            planned_seconds=max(verdict.allowed_seconds, 1.0),
            irradiance=irradiance,
            origin=SessionOrigin.UNPLANNED,
            panel_id=self._sessions.panel_id,
            person=person,
        )
        session.start(at)
        await self._sessions._store.async_start_session(session)
        plan = SessionPlan(
            area,
            self._settings.distance_cm,
            irradiance,
            request.seconds,  # its session's own length: what a cut or a refusal is measured from
            verdict,
            person=person,
            person_name=self._sessions.planner.person_name(person),
        )
        if verdict.outcome is Outcome.REFUSED:
            _LOGGER.warning(
                "%s was switched on during a lockout; switching it off",
                self._coordinator.name,
            )
            self._sessions.events.fire(SessionEvent.REFUSED, plan.as_dict())
            await self._end.async_finish(SessionStatus.ABORTED)
            return
        self._sessions.control.hold_link()
        self._sessions.events.fire(
            SessionEvent.STARTED,
            plan.as_dict()
            | {
                "origin": SessionOrigin.UNPLANNED.value,
                "started_at": at.isoformat(),
                "start_estimated": start.estimated,
            },
        )
        if verdict.outcome is Outcome.CLAMPED:  # the daily dose cut its session's own length
            self._sessions.events.fire(SessionEvent.LIMIT_REACHED, plan.as_dict())
        self._end.schedule()
        await self._end.async_arm_remaining(session)
        self._sessions.events.changed(session.area)

    def _unplanned_start(self, state: PanelState, seen_at: datetime) -> UnplannedStart:
        """When the panel seen on at ``seen_at`` is counted from (``found_on_since``)."""
        return found_on_since(self._sessions, self._coordinator, state, seen_at)


def found_on_since(
    sessions: SessionManager, coordinator: PanelCoordinator, state: PanelState, seen_at: datetime
) -> UnplannedStart:
    """When the panel seen on at ``seen_at`` with no session is counted from.

    ``therapy.unplanned_start``: the look interval is the coordinator's for this kind of panel;
    the floor is the end of this panel's last recorded session.
    """
    interval = coordinator.update_interval
    last = sessions.last_session
    off_seen_at = coordinator.panel.off_seen_at
    return unplanned_start(
        seen_at,
        timer_set_s=state.timer_set_s,
        timer_remaining_s=state.timer_remaining_s,
        seen_off_at=None if off_seen_at is None else dt_util.utc_from_timestamp(off_seen_at),
        look_interval_s=interval.total_seconds() if interval else 0.0,
        not_before=last.ended_at if last is not None else None,
    )
