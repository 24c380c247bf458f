"""Running a session on one panel, from its start to its record, and after a restart.

Start, pause, resume, stop and extend under the panel's lock, the one callback at the planned end,
switching off and recording the session, and picking it up again after a restart
(``therapy.reconcile`` decides; this carries it out).

Plan (``SessionPlanner``) -> limits check -> save the session -> arm the panel's own countdown
-> power on -> count from the acknowledged on-time -> one callback at the planned end -> power
off -> record the delivered dose -> save -> tell entities and fire the event. Time is never
ticked: an active session is its segments and a planned end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime, timedelta
import functools
from functools import partial
import logging
from typing import TYPE_CHECKING, Any, Concatenate

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .coordinator import PanelCoordinator
from .off_retry import OffRetry
from .panel_control import PanelControl
from .session_plan import SessionEvent, SessionPlan
from .store import TherapyStore
from .therapy import (
    DoseBand,
    Outcome,
    ReasonCode,
    RestartAction,
    Session,
    SessionOrigin,
    SessionRecord,
    SessionStatus,
    TherapyError,
    Verdict,
    check_extension,
    reconcile,
    seconds_for_dose,
)
from .words import therapy_error

if TYPE_CHECKING:
    from .session_manager import SessionManager

_LOGGER = logging.getLogger(__name__)


def _utc(ts: float) -> datetime:
    return dt_util.utc_from_timestamp(ts)


def _serialised[**P, R](
    method: Callable[Concatenate[SessionRunner, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[SessionRunner, P], Coroutine[Any, Any, R]]:
    """Run a session command under the panel's lock, taken before its first await.

    Each command (and the scheduled end) sees the session the one before it left, so a second start
    is "already running" and a pause racing the end finds the session closed.
    """

    @functools.wraps(method)
    async def locked(runner: SessionRunner, /, *args: P.args, **kwargs: P.kwargs) -> R:
        async with runner._lock:
            return await method(runner, *args, **kwargs)

    return locked


class SessionRunner:
    """Runs the sessions of one panel for its ``SessionManager``."""

    def __init__(
        self,
        hass: HomeAssistant,
        coordinator: PanelCoordinator,
        store: TherapyStore,
        sessions: SessionManager,
        control: PanelControl,
    ) -> None:
        """Run the sessions of ``sessions``' panel; nothing is scheduled until one starts."""
        self._hass = hass
        self._coordinator = coordinator
        self._panel = coordinator.panel
        self._store = store
        self._sessions = sessions
        self.panel_id = sessions.panel_id
        self.control = control
        self._off_retry = OffRetry(hass, coordinator, self.panel_id)
        self._cancel_end: CALLBACK_TYPE | None = None
        self._ending = False
        # Serialises start / pause / resume / stop / extend and the scheduled end: each sees
        # the session the one before it left (a second start: "already running").
        self._lock = asyncio.Lock()

    @property
    def ending(self) -> bool:
        """True while the session is being switched off and recorded."""
        return self._ending

    @callback
    def async_unload(self) -> None:
        """Cancel the scheduled end and any off-retry when the panel unloads."""
        self._cancel_scheduled_end()
        self._off_retry.cancel()

    @_serialised
    async def async_start(
        self,
        duration: timedelta | None = None,
        *,
        dose: float | None = None,
        band: DoseBand = DoseBand.BOTH,
        distance_cm: float | None = None,
        area: str | None = None,
        override_spacing: bool = False,
        levels: Mapping[int, int] | None = None,
        person: str | None = None,
    ) -> SessionPlan:
        """Start a session by duration (the default when omitted) or by dose, for ``person``.

        ``person`` None: the panel's current person.

        ``levels`` (by panel channel index) are planned for and set only once the limits
        allow the session: a refused start leaves the panel as it was. Concurrent starts
        queue on the panel's lock, taken before the first await: the first starts, the
        others see its session and are refused as "already running".
        """
        plan = self._sessions.preview_start(
            duration,
            dose=dose,
            band=band,
            distance_cm=distance_cm,
            area=area,
            override_spacing=override_spacing,
            levels=levels,
            person=person,
        )
        verdict = plan.verdict
        if verdict.outcome is Outcome.REFUSED:
            raise self._sessions.report_refusal(plan)
        if levels is not None:
            await self._coordinator.async_command(self._panel.set_levels(dict(levels)))
        if ReasonCode.SPACING_OVERRIDDEN in verdict.codes:
            _LOGGER.warning(
                "%s: session started with the spacing limit overridden", self._coordinator.name
            )
        session = Session(
            id=self._sessions._new_id(),
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
        session.start(on_at)
        await self._store.async_save()
        self._schedule_end()
        self._sessions._fire(SessionEvent.STARTED, plan.as_dict())
        if verdict.outcome is Outcome.CLAMPED:
            self._sessions._fire(SessionEvent.LIMIT_REACHED, plan.as_dict())
        self._sessions._changed(session.area)
        return plan

    @_serialised
    async def async_pause(self) -> None:
        """Pause the running session: switch the panel off and stop its clock."""
        session = self._require(SessionStatus.RUNNING)
        self._cancel_scheduled_end()
        try:
            off_at = await self.control.power(False)
        except HomeAssistantError:
            self._schedule_end()  # still running: its end must still come
            raise
        self._hw_deadline = None
        session.pause(_utc(off_at))
        await self._store.async_save()
        self._sessions._changed(session.area)

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
        self._schedule_end()
        self._sessions._changed(session.area)

    @_serialised
    async def async_stop(self) -> None:
        """Stop the open session: switch the panel off and record what it delivered."""
        self._require(SessionStatus.RUNNING, SessionStatus.PAUSED)
        await self._async_finish(SessionStatus.STOPPED, raise_fault=True)

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
                self._sessions._limits_history(now, session.person),
                self._sessions.limits(session.area),
            )
        except TherapyError as err:
            raise therapy_error(err) from err
        if verdict.outcome is Outcome.REFUSED:
            raise self._sessions._refusal(verdict, session.person)
        session.extend(verdict.allowed_seconds)
        if session.status is SessionStatus.RUNNING:
            armed = await self.control.arm_timer(session.remaining_seconds(now))
            if armed is not None:
                self._hw_deadline = now + timedelta(seconds=armed)
            self._schedule_end()
        await self._store.async_save()
        if verdict.outcome is Outcome.CLAMPED:
            self._sessions._fire(
                SessionEvent.LIMIT_REACHED,
                {
                    "reasons": [r.code.value for r in verdict.reasons],
                    "person": session.person,
                    "person_name": self._sessions.person_name(session.person),
                },
            )
        self._sessions._changed(session.area)
        return verdict

    # -- the panel and the end -------------------------------------------------------------

    @property
    def _hw_deadline(self) -> datetime | None:
        """When the panel's own countdown will switch it off (None: not armed / no timer).

        Kept on the stored session, so it survives a restart.
        """
        session = self._sessions.session
        return session.device_deadline if session is not None else None

    @_hw_deadline.setter
    def _hw_deadline(self, value: datetime | None) -> None:
        if (session := self._sessions.session) is not None:
            session.device_deadline = value

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
        self._hw_deadline = on_at + timedelta(seconds=armed) if armed is not None else None
        return on_at

    def _schedule_end(self) -> None:
        self._cancel_scheduled_end()
        session = self._sessions.session
        if session is not None and session.ends_at is not None:
            self._cancel_end = async_track_point_in_utc_time(
                self._hass, self._handle_end, session.ends_at
            )

    def _cancel_scheduled_end(self) -> None:
        if self._cancel_end is not None:
            self._cancel_end()
            self._cancel_end = None

    @callback
    def _handle_end(self, _now: datetime) -> None:
        self._cancel_end = None
        self._background(self._async_end_due, "red_light_therapy end")

    async def _async_end_due(self) -> None:
        """Finish the session at its planned end if it still runs and is due.

        A pause, stop or extend that took the lock first changed that, and wins (an extension has
        its own end scheduled).
        """
        session = self._sessions.session
        if session is None or session.status is not SessionStatus.RUNNING:
            return
        if (ends_at := session.ends_at) is not None and ends_at > dt_util.utcnow():
            return
        await self._async_finish(SessionStatus.COMPLETED)

    def _background(self, job: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        """Run ``job`` in the background under the panel's lock, after the command in hand.

        Nobody awaits a background task, so its failure is logged here (once, with the
        translated reason), never left as an exception nobody retrieved.
        """

        async def _run() -> None:
            async with self._lock:
                try:
                    await job()
                except HomeAssistantError as err:
                    _LOGGER.warning("%s: %s", self._coordinator.name, err)

        self._coordinator.config_entry.async_create_background_task(self._hass, _run(), name)

    async def _async_finish(self, status: SessionStatus, *, raise_fault: bool = False) -> None:
        """Switch the panel off, then close and record the session at the acknowledged time."""
        session = self._sessions.session
        if session is None or self._ending:
            return
        self._cancel_scheduled_end()
        self._ending = True
        try:
            if self._panel.state.is_on is False and session.status is SessionStatus.PAUSED:
                off_at = dt_util.utcnow()
            else:
                try:
                    off_at = _utc(await self.control.power(False))
                except HomeAssistantError as err:
                    self._off_retry.not_confirmed(
                        err,
                        partial(
                            self._background,
                            partial(self._async_finish, status),
                            "red_light_therapy retry off",
                        ),
                    )
                    if raise_fault:
                        raise
                    return
            await self._async_close(session, off_at, status)
        finally:
            self._ending = False

    async def _async_close(self, session: Session, off_at: datetime, status: SessionStatus) -> None:
        self._cancel_scheduled_end()
        self._off_retry.clear()
        status = session.close(off_at, status)
        record = SessionRecord.from_session(session) if session.started_at else None
        if record is not None:
            self._sessions.last_session = record
        await self._store.async_end_session(self.panel_id, record)
        self.control.release_link()
        event = (
            SessionEvent.COMPLETED if status is SessionStatus.COMPLETED else SessionEvent.STOPPED
        )
        self._sessions._fire(event, self._sessions._record_data(record))
        self._sessions._changed(session.area)

    async def async_reconcile(self) -> None:
        """After a restart: close an overdue session with what was delivered, re-arm the rest."""
        session = self._sessions.session
        decision = reconcile(session, dt_util.utcnow(), bool(self._panel.state.is_on))
        action = decision.action
        if session is None or action is RestartAction.KEEP:
            return
        if action is RestartAction.DROP:
            _LOGGER.warning("%s: dropping a session that never started", self._coordinator.name)
            await self._store.async_end_session(self.panel_id)
            if decision.switch_off:
                await self.control.power(False)
        elif action is RestartAction.FINISH:
            await self._async_finish(SessionStatus.COMPLETED)
        elif action is RestartAction.CLOSE:
            assert decision.close_at is not None
            await self._async_close(session, decision.close_at, SessionStatus.COMPLETED)
        else:
            self.control.hold_link()
            self._schedule_end()
            await self._async_arm_remaining(session)

    async def _async_arm_remaining(self, session: Session, *, save: bool = True) -> None:
        """Arm the panel's own countdown to what the running session has left.

        For a session Home Assistant did not switch on itself, or one that outlived a restart: the
        safety net if Home Assistant stops. A failure is logged: the integration's own end still
        comes. ``save`` False: the caller saves the session (with its countdown's deadline) itself.
        """
        try:
            now = dt_util.utcnow()
            armed = await self.control.arm_timer(session.remaining_seconds(now))
            if armed is not None:
                self._hw_deadline = now + timedelta(seconds=armed)
                if save:
                    await self._store.async_save()
        except HomeAssistantError as err:
            _LOGGER.warning("%s: could not arm its countdown: %s", self._coordinator.name, err)
