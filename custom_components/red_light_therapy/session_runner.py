"""The session commands of one panel: start, pause, resume, stop and extend.

Each under the panel's lock. Plan (``SessionPlanner``) -> limits check -> save the session -> arm
the panel's own countdown -> power on -> count from the acknowledged on-time; ``SessionEnd`` then
has the one callback at the planned end, switches off and records the delivered dose. Time is never
ticked: an active session is its segments and a planned end.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
import functools
import logging
from typing import TYPE_CHECKING, Any, Concatenate, Unpack

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .coordinator import PanelCoordinator
from .panel_control import PanelControl
from .panel_watch import found_on_since
from .panels.base import PanelState
from .session_end import SessionEnd
from .session_plan import SessionEvent, SessionPlan, StartOptions
from .store import TherapyStore
from .therapy import (
    Outcome,
    ReasonCode,
    Session,
    SessionOrigin,
    SessionStatus,
    TherapyError,
    Verdict,
    check_extension,
    seconds_for_dose,
    start_found_on,
)
from .words import therapy_error

if TYPE_CHECKING:
    from .session_manager import SessionManager

_LOGGER = logging.getLogger(__name__)


def _serialised[**P, R](
    method: Callable[Concatenate[SessionRunner, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[SessionRunner, P], Coroutine[Any, Any, R]]:
    """Run a session command under the panel's lock, taken before its first await.

    Each command (and the scheduled end) sees the session the one before it left, so a second start
    is "already running" and a pause racing the end finds the session closed.
    """

    @functools.wraps(method)
    async def locked(runner: SessionRunner, /, *args: P.args, **kwargs: P.kwargs) -> R:
        async with runner.end.lock:
            return await method(runner, *args, **kwargs)

    return locked


class SessionRunner:
    """Runs the sessions of one panel for its ``SessionManager``."""

    def __init__(
        self, sessions: SessionManager, coordinator: PanelCoordinator, store: TherapyStore
    ) -> None:
        """Run the sessions of ``sessions``' panel with its control; its ``end`` holds the lock."""
        self._sessions = sessions
        self._coordinator = coordinator
        self._panel = coordinator.panel
        self._store = store
        self.panel_id = sessions.panel_id
        self.control: PanelControl = sessions.control
        self.end: SessionEnd = sessions.end

    @_serialised
    async def async_start(
        self, duration: timedelta | None = None, **options: Unpack[StartOptions]
    ) -> SessionPlan:
        """Start a session by duration (the default when omitted) or by dose, for its person.

        ``options`` as ``StartOptions`` says (a ``person`` left out: the panel's current person).
        ``levels`` are planned for and set only once the limits allow the session: a refused start
        leaves the panel as it was. Concurrent starts queue on the panel's lock, taken before the
        first await: the first starts, the others see its session and are refused as "already
        running".
        """
        plan = self._sessions.planner.preview_start(duration, **options)
        levels = options.get("levels")
        verdict = plan.verdict
        if verdict.outcome is Outcome.REFUSED:
            raise self._sessions.report_refusal(plan)
        with self.control.opening_read() as found_on:
            if levels is not None:
                await self._coordinator.async_command(self._panel.set_levels(dict(levels)))
            if ReasonCode.SPACING_OVERRIDDEN in verdict.codes:
                _LOGGER.warning(
                    "%s: session started with the spacing limit overridden", self._coordinator.name
                )
            session = Session(
                id=self._sessions.records.new_id(),
                area=plan.area,
                distance_cm=plan.distance_cm,
                planned_seconds=verdict.allowed_seconds,
                irradiance=plan.irradiance,
                target_dose=plan.target_dose,
                target_band=plan.target_band,
                origin=SessionOrigin.PLANNED,
                panel_id=self.panel_id,
                person=plan.person,
            )
            # Saved before the panel is switched on: a crash from here on is reconciled at start-up.
            await self._store.async_start_session(session)
            try:
                on_at = await self._async_power_on_for(verdict.allowed_seconds)
            except HomeAssistantError:
                await self._store.async_end_session(self.panel_id)
                self.control.read_after_failed_power_on()
                raise
            found = found_on()
        if found is not None:
            await self._async_started_found_on(session, plan, found, on_at)
            return plan
        session.start(on_at)
        await self._store.async_save()
        self.end.schedule()
        self._sessions.events.fire(SessionEvent.STARTED, plan.as_dict())
        if verdict.outcome is Outcome.CLAMPED:
            self._sessions.events.fire(SessionEvent.LIMIT_REACHED, plan.as_dict())
        self._sessions.events.changed(session.area)
        return plan

    async def _async_started_found_on(
        self, session: Session, plan: SessionPlan, found: PanelState, on_at: datetime
    ) -> None:
        """Count a session whose panel the start found already on (``therapy.start_found_on``).

        Switched on at the panel since the last look: the session counts from when it may have
        come on, and runs its plan from then (its countdown armed again to what is left); one
        whose plan was already emitted is switched off at once.
        """
        seen_at = dt_util.utc_from_timestamp(found.updated_at) if found.updated_at else on_at
        since = found_on_since(self._sessions, self._coordinator, found, min(seen_at, on_at))
        counted = start_found_on(since, on_at, session.planned_seconds)
        session.start(counted.at)
        session.replan(counted.planned_seconds)
        await self._store.async_save()
        _LOGGER.info(
            "%s was already on when its session started (switched on at the panel); the session "
            "is counted from %s%s",
            self._coordinator.name,
            dt_util.as_local(counted.at).strftime("%H:%M:%S"),
            ", the earliest it may have come on" if counted.estimated else "",
        )
        self._sessions.events.fire(
            SessionEvent.STARTED,
            plan.as_dict()
            | {"started_at": counted.at.isoformat(), "start_estimated": counted.estimated},
        )
        if plan.verdict.outcome is Outcome.CLAMPED:
            self._sessions.events.fire(SessionEvent.LIMIT_REACHED, plan.as_dict())
        if counted.reached:
            _LOGGER.info(
                "%s had already emitted the session's plan; switching it off",
                self._coordinator.name,
            )
            await self.end.async_finish(SessionStatus.COMPLETED)
            return
        self.end.schedule()
        await self.end.async_arm_remaining(session)
        self._sessions.events.changed(session.area)

    @_serialised
    async def async_pause(self) -> None:
        """Pause the running session: switch the panel off and stop its clock."""
        session = self._require(SessionStatus.RUNNING)
        self.end.cancel()
        try:
            off_at = await self.control.power(False)
        except HomeAssistantError:
            self.end.schedule()  # still running: its end must still come
            raise
        self.end.set_device_deadline(None)
        session.pause(dt_util.utc_from_timestamp(off_at))
        await self._store.async_save()
        self._sessions.events.changed(session.area)

    @_serialised
    async def async_resume(self) -> None:
        """Resume the paused session: switch the panel on for what it has left."""
        session = self._require(SessionStatus.PAUSED)
        try:
            on_at = await self._async_power_on_for(session.remaining_seconds(dt_util.utcnow()))
        except HomeAssistantError:
            self.control.read_after_failed_power_on()
            raise
        session.resume(on_at)
        await self._store.async_save()
        self.end.schedule()
        self._sessions.events.changed(session.area)

    @_serialised
    async def async_stop(self) -> None:
        """Stop the open session: switch the panel off and record what it delivered."""
        self._require(SessionStatus.RUNNING, SessionStatus.PAUSED)
        await self.end.async_finish(SessionStatus.STOPPED, raise_fault=True)

    @_serialised
    async def async_extend(
        self, *, minutes: float | None = None, dose: float | None = None
    ) -> Verdict:
        """Add on-time (or dose) to the running or paused session, checked again."""
        session = self._require(SessionStatus.RUNNING, SessionStatus.PAUSED)
        if (minutes is None) == (dose is None):
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="dose_or_minutes"
            )
        now = dt_util.utcnow()
        try:
            extra = (
                minutes * 60
                if minutes is not None
                else seconds_for_dose(session.irradiance, dose or 0.0, session.target_band)
            )
            verdict = check_extension(
                session,
                extra,
                now,
                self._sessions.planner.limits_history(now, session.person),
                self._sessions.panel_settings.limits(session.area),
            )
        except TherapyError as err:
            raise therapy_error(err) from err
        if verdict.outcome is Outcome.REFUSED:
            raise self._sessions.planner.refusal(verdict, session.person)
        session.extend(verdict.allowed_seconds)
        if session.status is SessionStatus.RUNNING:
            armed = await self.control.arm_timer(session.remaining_seconds(now))
            if armed is not None:
                self.end.set_device_deadline(now + timedelta(seconds=armed))
            self.end.schedule()
        await self._store.async_save()
        if verdict.outcome is Outcome.CLAMPED:
            self._sessions.events.fire(
                SessionEvent.LIMIT_REACHED,
                {
                    "reasons": [r.code.value for r in verdict.reasons],
                    "person": session.person,
                    "person_name": self._sessions.planner.person_name(session.person),
                },
            )
        self._sessions.events.changed(session.area)
        return verdict

    def _require(self, *statuses: SessionStatus) -> Session:
        session = self._sessions.session
        if session is None or session.status not in statuses:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="no_active_session",
                translation_placeholders={"name": self._coordinator.name},
            )
        return session

    async def _async_power_on_for(self, seconds: float) -> datetime:
        """Switch on with the panel's own countdown armed; return the acknowledged time.

        The countdown's deadline is kept on the session.
        """
        on_at, armed = await self.control.power_on_for(seconds)
        self.end.set_device_deadline(
            on_at + timedelta(seconds=armed) if armed is not None else None
        )
        return on_at
