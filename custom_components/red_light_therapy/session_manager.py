"""Runs dose-aware sessions on one panel.

Plan (dose <-> duration at this distance and these levels) -> limits check -> save the session
-> arm the panel's own countdown -> power on -> count from the acknowledged on-time -> one
callback at the planned end -> power off -> record the delivered dose -> save -> tell entities
and fire the event. Time is never ticked: an active session is its segments and a planned end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime, timedelta
import functools
from functools import partial
import logging
from typing import Any, Concatenate

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util, ulid as ulid_util

from .const import DOMAIN
from .coordinator import PanelCoordinator
from .off_retry import OffRetry
from .panel_control import PanelControl
from .panel_settings import PanelSettings
from .panel_watch import PanelWatch
from .session_plan import (
    REFUSING,
    RunDefaults,
    SessionEvent,
    SessionEventListener,
    SessionPlan,
    TimerState,
)
from .session_planner import SessionPlanner
from .store import TherapyStore
from .therapy import (
    BandIrradiance,
    DoseBand,
    History,
    IrradianceProfile,
    Limits,
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
    shares_skin,
)
from .words import (
    _same_minute,
    date_words,
    duration_words,
    refusal_key,
    refusal_words,
    therapy_error,
    when_words,
)

__all__ = [
    "REFUSING",
    "RunDefaults",
    "SessionEvent",
    "SessionEventListener",
    "SessionManager",
    "SessionPlan",
    "TimerState",
    "async_panels_changed",
    "date_words",
    "duration_words",
    "refusal_key",
    "refusal_words",
    "therapy_error",
    "when_words",
]

_LOGGER = logging.getLogger(__name__)


def _utc(ts: float) -> datetime:
    return dt_util.utc_from_timestamp(ts)


@callback
def async_panels_changed(
    hass: HomeAssistant, *, but: str | None = None, area: str | None = None
) -> None:
    """Update the entities of every loaded panel (``but`` one) after shared data changed.

    ``area``: only a session on that area changed, so only panels that show something it
    counts against are updated: those whose treatment area, or the area of one of whose
    unfinished protocol runs, shares skin with it (``therapy.shares_skin``). The others'
    dose, lockout and runs cannot have changed."""
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        if entry.entry_id == but:
            continue
        data = entry.runtime_data
        if area is not None and not (
            shares_skin(data.sessions.area, area)
            or any(shares_skin(run.plan.area, area) for run in data.protocols.unfinished)
        ):
            continue
        data.coordinator.async_update_listeners()


def _serialised[**P, R](
    method: Callable[Concatenate[SessionManager, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[SessionManager, P], Coroutine[Any, Any, R]]:
    """Run a session command under the panel's lock, taken before its first await: each
    command (and the scheduled end) sees the session the one before it left, so a second
    start is "already running" and a pause racing the end finds the session closed."""

    @functools.wraps(method)
    async def locked(manager: SessionManager, /, *args: P.args, **kwargs: P.kwargs) -> R:
        async with manager._lock:
            return await method(manager, *args, **kwargs)

    return locked


class SessionManager:
    """The session lifecycle of one panel, with dose, limits, history and persistence."""

    def __init__(
        self,
        hass: HomeAssistant,
        coordinator: PanelCoordinator,
        store: TherapyStore,
        profile: IrradianceProfile,
    ) -> None:
        self._hass = hass
        self._coordinator = coordinator
        self._panel = coordinator.panel
        self._store = store
        self.panel_id = coordinator.config_entry.entry_id
        self.panel_settings = PanelSettings(
            store, self._panel, self.panel_id, profile, coordinator.async_update_listeners
        )
        self.planner = SessionPlanner(store, self.panel_settings, self.panel_id, coordinator)
        self._cancel_end: CALLBACK_TYPE | None = None
        self._off_retry = OffRetry(hass, coordinator, self.panel_id)
        self.control = PanelControl(hass, coordinator)
        self._ending = False
        # Serialises start / pause / resume / stop / extend and the scheduled end: each sees
        # the session the one before it left (a second start: "already running").
        self._lock = asyncio.Lock()
        self._event_listeners: list[SessionEventListener] = []
        # Set by the protocol manager: a session started during a run takes its dose and area.
        self.run_defaults: RunDefaults | None = None
        self.last_session: SessionRecord | None = self._last_record()
        self._remove_push = coordinator.async_add_push_listener(PanelWatch(self).handle_panel_state)

    # -- the panel's settings (PanelSettings) ---------------------------------------------

    @property
    def profile(self) -> IrradianceProfile:
        return self.panel_settings.profile

    @property
    def default_duration(self) -> timedelta:
        return self.panel_settings.default_duration

    @default_duration.setter
    def default_duration(self, value: timedelta) -> None:
        self.panel_settings.default_duration = value

    @property
    def distance_cm(self) -> float:
        return self.panel_settings.distance_cm

    @property
    def area(self) -> str:
        return self.panel_settings.area

    @property
    def irradiance(self) -> BandIrradiance | None:
        return self.panel_settings.irradiance

    def limits(self, area: str) -> Limits:
        return self.panel_settings.limits(area)

    def levels(self, by_index: Mapping[int, int] | None = None) -> dict[str, int] | None:
        return self.panel_settings.levels(by_index)

    async def async_calibrate(self, distance_cm: float, measured_mw_cm2: float) -> None:
        await self.panel_settings.async_calibrate(distance_cm, measured_mw_cm2)

    async def async_set_setting(self, key: str, value: Any) -> None:
        await self.panel_settings.async_set_setting(key, value)

    # -- queries ---------------------------------------------------------------------------

    @property
    def session(self) -> Session | None:
        return self._store.active.get(self.panel_id)

    @property
    def history(self) -> History:
        return self._store.history

    @property
    def ending(self) -> bool:
        """True while the session is being switched off and recorded."""
        return self._ending

    @property
    def timer_state(self) -> TimerState:
        session = self.session
        if session is None or session.status is SessionStatus.PLANNED:
            return TimerState.IDLE
        return TimerState.PAUSED if session.status is SessionStatus.PAUSED else TimerState.ACTIVE

    def _new_id(self) -> str:
        """A session id no stored or open session has. ULIDs are time and randomness, but two
        made in the same millisecond from a reseeded generator (a test's frozen clock, a
        restored snapshot) can repeat: a repeat would refuse to record the session."""
        taken = {session.id for session in self._store.active.values()}
        while (new := ulid_util.ulid_now()) in self.history or new in taken:
            pass
        return new

    def _limits_history(self, now: datetime) -> History:
        return self.planner.limits_history(now)

    def lockout_until(self, now: datetime) -> datetime | None:
        """When the panel's default area can next take a session, if it cannot now."""
        return self.planner.lockout_until(now)

    def plan(
        self,
        *,
        minutes: float | None = None,
        dose: float | None = None,
        band: DoseBand = DoseBand.BOTH,
        distance_cm: float | None = None,
        area: str | None = None,
        override_spacing: bool = False,
        at: datetime | None = None,
        levels: Mapping[int, int] | None = None,
    ) -> SessionPlan:
        """What a session would be (``SessionPlanner.plan``)."""
        return self.planner.plan(
            minutes=minutes,
            dose=dose,
            band=band,
            distance_cm=distance_cm,
            area=area,
            override_spacing=override_spacing,
            at=at,
            levels=levels,
        )

    def _refusal(self, verdict: Verdict) -> ServiceValidationError:
        return self.planner.refusal(verdict)

    # -- commands --------------------------------------------------------------------------

    def preview_start(
        self,
        duration: timedelta | None = None,
        *,
        dose: float | None = None,
        band: DoseBand = DoseBand.BOTH,
        distance_cm: float | None = None,
        area: str | None = None,
        override_spacing: bool = False,
        levels: Mapping[int, int] | None = None,
    ) -> SessionPlan:
        """What ``async_start`` would start, changing nothing (an active protocol run's dose
        and area when neither a dose nor a duration is given). Raises when a session is
        running already or the input is bad; a refusal is in the plan's verdict."""
        if self.session is not None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="session_already_running",
                translation_placeholders={"name": self._coordinator.name},
            )
        if self.run_defaults is not None and (run := self.run_defaults(area)) is not None:
            if duration is None and dose is None:
                dose, band = run[0], run[1]
            area = area or run[2]
        minutes = duration.total_seconds() / 60 if duration is not None else None
        return self.plan(
            minutes=minutes,
            dose=dose,
            band=band,
            distance_cm=distance_cm,
            area=area,
            override_spacing=override_spacing,
            levels=levels,
        )

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
    ) -> SessionPlan:
        """Start a session by duration (default length when omitted) or by dose.

        ``levels`` (by panel channel index) are planned for and set only once the limits
        allow the session: a refused start leaves the panel as it was. Concurrent starts
        queue on the panel's lock, taken before the first await: the first starts, the
        others see its session and are refused as "already running".
        """
        plan = self.preview_start(
            duration,
            dose=dose,
            band=band,
            distance_cm=distance_cm,
            area=area,
            override_spacing=override_spacing,
            levels=levels,
        )
        verdict = plan.verdict
        if verdict.outcome is Outcome.REFUSED:
            raise self.report_refusal(plan)
        if levels is not None:
            await self._coordinator.async_command(self._panel.set_levels(dict(levels)))
        if ReasonCode.SPACING_OVERRIDDEN in verdict.codes:
            _LOGGER.warning(
                "%s: session started with the spacing limit overridden", self._coordinator.name
            )
        session = Session(
            id=self._new_id(),
            area=plan.area,
            distance_cm=plan.distance_cm,
            planned_seconds=verdict.allowed_seconds,
            irradiance=plan.irradiance,
            target_dose=plan.target_dose,
            target_band=plan.target_band,
            origin=SessionOrigin.PLANNED,
            panel_id=self.panel_id,
        )
        # Saved before the panel is switched on: a crash from here on is reconciled at start-up.
        self._store.active[self.panel_id] = session
        await self._store.async_save()
        try:
            on_at = await self._async_power_on_for(verdict.allowed_seconds)
        except HomeAssistantError:
            self._store.active.pop(self.panel_id, None)
            await self._store.async_save()
            self.control.read_after_failed_power_on()
            raise
        session.start(on_at)
        await self._store.async_save()
        self._schedule_end()
        self._fire(SessionEvent.STARTED, plan.as_dict())
        if verdict.outcome is Outcome.CLAMPED:
            self._fire(SessionEvent.LIMIT_REACHED, plan.as_dict())
        self._changed(session.area)
        return plan

    def report_refusal(self, plan: SessionPlan) -> ServiceValidationError:
        """Report a refused start to both audiences: fire ``session_refused`` for automations,
        and return the error that tells the person why, for the caller to raise."""
        self._fire(SessionEvent.REFUSED, plan.as_dict())
        return self._refusal(plan.verdict)

    @_serialised
    async def async_pause(self) -> None:
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
        self._changed(session.area)

    @_serialised
    async def async_resume(self) -> None:
        session = self._require(SessionStatus.PAUSED)
        try:
            on_at = await self._async_power_on_for(session.remaining_seconds(dt_util.utcnow()))
        except HomeAssistantError:
            self.control.read_after_failed_power_on()
            raise
        session.resume(on_at)
        await self._store.async_save()
        self._schedule_end()
        self._changed(session.area)

    @_serialised
    async def async_stop(self) -> None:
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
                session, extra, now, self._limits_history(now), self.limits(session.area)
            )
        except TherapyError as err:
            raise therapy_error(err) from err
        if verdict.outcome is Outcome.REFUSED:
            raise self._refusal(verdict)
        session.extend(verdict.allowed_seconds)
        if session.status is SessionStatus.RUNNING:
            armed = await self.control.arm_timer(session.remaining_seconds(now))
            if armed is not None:
                self._hw_deadline = now + timedelta(seconds=armed)
            self._schedule_end()
        await self._store.async_save()
        if verdict.outcome is Outcome.CLAMPED:
            self._fire(
                SessionEvent.LIMIT_REACHED, {"reasons": [r.code.value for r in verdict.reasons]}
            )
        self._changed(session.area)
        return verdict

    async def async_log(
        self,
        *,
        started_at: datetime,
        minutes: float,
        area: str | None = None,
        distance_cm: float | None = None,
    ) -> SessionRecord:
        """Record a session done away from Home Assistant; it counts toward the limits."""
        area = self.panel_settings.validated_area(area or self.area)
        distance = distance_cm or self.distance_cm
        irradiance = self.panel_settings.irradiance_at(distance)
        ended_at = started_at + timedelta(minutes=minutes)
        if ended_at > dt_util.utcnow():
            raise ServiceValidationError(translation_domain=DOMAIN, translation_key="log_in_future")
        try:
            session = Session.logged(
                id=self._new_id(),
                area=area,
                started_at=started_at,
                ended_at=ended_at,
                irradiance=irradiance,
                distance_cm=distance,
                panel_id=self.panel_id,
            )
            record = SessionRecord.from_session(session)
        except TherapyError as err:
            raise therapy_error(err) from err
        self.history.append(record)
        await self._store.async_save()
        self.last_session = self._last_record()
        self._changed(record.area)
        return record

    async def async_remove(
        self, *, session_id: str | None = None, started_at: datetime | None = None
    ) -> SessionRecord:
        """Take a recorded or logged session out of the history (a test, a typo in
        ``log_session``): by its id (any panel's: the history is shared), or by the minute
        it started on this panel. The sensors, the lockout and the limits follow at once.
        A session still open (running or paused) is refused: stop it first."""
        open_session = self.session
        if open_session is not None and (
            open_session.id == session_id
            or (started_at is not None and _same_minute(open_session.started_at, started_at))
        ):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="remove_open_session",
                translation_placeholders={"name": self._coordinator.name},
            )
        if session_id is not None:
            found = [r for r in self.history if r.id == session_id]
            asked = session_id
        else:
            found = [
                r
                for r in self.history
                if r.panel_id == self.panel_id and _same_minute(r.started_at, started_at)
            ]
            asked = when_words(started_at) if started_at else ""
        if not found:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="session_not_found",
                translation_placeholders={"name": self._coordinator.name, "session": asked},
            )
        if len(found) > 1:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="session_ambiguous",
                translation_placeholders={"session": asked, "count": str(len(found))},
            )
        record = self.history.remove(found[0].id)
        await self._store.async_save()
        self.last_session = self._last_record()
        self._changed(record.area)
        return record

    def removed_data(self, record: SessionRecord) -> dict[str, Any]:
        """What ``remove_session`` answers about the record it removed."""
        return self._record_data(record) | {
            "status": record.status.value,
            "started_at": dt_util.as_local(record.started_at).isoformat(),
            "ended_at": dt_util.as_local(record.ended_at).isoformat(),
        }

    # -- the panel -------------------------------------------------------------------------

    @property
    def _hw_deadline(self) -> datetime | None:
        """When the panel's own countdown will switch it off (None: not armed / no timer).

        Kept on the stored session, so it survives a restart."""
        session = self.session
        return session.device_deadline if session is not None else None

    @_hw_deadline.setter
    def _hw_deadline(self, value: datetime | None) -> None:
        if (session := self.session) is not None:
            session.device_deadline = value

    def _require(self, *statuses: SessionStatus) -> Session:
        session = self.session
        if session is None or session.status not in statuses:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="no_active_session",
                translation_placeholders={"name": self._coordinator.name},
            )
        return session

    async def _async_power_on_for(self, seconds: float) -> datetime:
        """Switch on with the panel's own countdown armed (``PanelControl.power_on_for``);
        the acknowledged time. The countdown's deadline is kept on the session."""
        on_at, armed = await self.control.power_on_for(seconds)
        self._hw_deadline = on_at + timedelta(seconds=armed) if armed is not None else None
        return on_at

    def _schedule_end(self) -> None:
        self._cancel_scheduled_end()
        session = self.session
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
        """The planned end: finish the session if it still runs and is due. A pause, stop or
        extend that took the lock first changed that, and wins (an extension has its own end
        scheduled)."""
        session = self.session
        if session is None or session.status is not SessionStatus.RUNNING:
            return
        if (ends_at := session.ends_at) is not None and ends_at > dt_util.utcnow():
            return
        await self._async_finish(SessionStatus.COMPLETED)

    def _background(self, job: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        """Run ``job`` in the background under the panel's lock, after the command in hand.

        Nobody awaits a background task, so its failure is logged here (once, with the
        translated reason), never left as an exception nobody retrieved."""

        async def _run() -> None:
            async with self._lock:
                try:
                    await job()
                except HomeAssistantError as err:
                    _LOGGER.warning("%s: %s", self._coordinator.name, err)

        self._coordinator.config_entry.async_create_background_task(self._hass, _run(), name)

    async def _async_finish(self, status: SessionStatus, *, raise_fault: bool = False) -> None:
        """Switch the panel off, then close and record the session at the acknowledged time."""
        session = self.session
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
        self._store.active.pop(self.panel_id, None)
        record = SessionRecord.from_session(session) if session.started_at else None
        if record is not None:
            self.history.append(record)
            self.last_session = record
        await self._store.async_save()
        self.control.release_link()
        event = (
            SessionEvent.COMPLETED if status is SessionStatus.COMPLETED else SessionEvent.STOPPED
        )
        self._fire(event, self._record_data(record))
        self._changed(session.area)

    async def async_reconcile(self) -> None:
        """After a restart: close an overdue session with what was delivered, re-arm the rest."""
        session = self.session
        decision = reconcile(session, dt_util.utcnow(), bool(self._panel.state.is_on))
        action = decision.action
        if session is None or action is RestartAction.KEEP:
            return
        if action is RestartAction.DROP:
            _LOGGER.warning("%s: dropping a session that never started", self._coordinator.name)
            self._store.active.pop(self.panel_id, None)
            if decision.switch_off:
                await self.control.power(False)
            await self._store.async_save()
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
        """Arm the panel's own countdown to what the running session has left (a session Home
        Assistant did not switch on itself, or one that outlived a restart): the safety net if
        Home Assistant stops. A failure is logged: the integration's own end still comes.
        ``save`` False: the caller saves the session (with its countdown's deadline) itself."""
        try:
            now = dt_util.utcnow()
            armed = await self.control.arm_timer(session.remaining_seconds(now))
            if armed is not None:
                self._hw_deadline = now + timedelta(seconds=armed)
                if save:
                    await self._store.async_save()
        except HomeAssistantError as err:
            _LOGGER.warning("%s: could not arm its countdown: %s", self._coordinator.name, err)

    # -- events ----------------------------------------------------------------------------

    def _record_data(self, record: SessionRecord | None) -> dict[str, Any]:
        if record is None:
            return {}
        return {
            "session_id": record.id,
            "area": record.area,
            "origin": record.origin.value,
            "minutes": round(record.on_seconds / 60, 2),
            "dose_j_cm2": round(record.dose.total, 3),
            "red_dose_j_cm2": round(record.dose.red, 3),
            "nir_dose_j_cm2": round(record.dose.nir, 3),
        }

    @callback
    def async_add_event_listener(self, listener: SessionEventListener) -> CALLBACK_TYPE:
        self._event_listeners.append(listener)
        return lambda: self._event_listeners.remove(listener)

    def _fire(self, event: SessionEvent, data: dict[str, Any]) -> None:
        for listener in list(self._event_listeners):
            listener(event, data)

    def _last_record(self) -> SessionRecord | None:
        for record in reversed(self._store.history.records):
            if record.panel_id == self.panel_id:
                return record
        return None

    def _changed(self, area: str | None = None) -> None:
        """Tell this panel's entities; and when a session on ``area`` changed, every other
        panel's that shares skin with it: the history and the limits are shared (dose today,
        a lockout by this panel's session). A setting changes this panel only. Entities whose
        state did not change write nothing."""
        self._coordinator.async_update_listeners()
        if area is not None:
            async_panels_changed(self._hass, but=self.panel_id, area=area)

    @callback
    def async_unload(self) -> None:
        self._cancel_scheduled_end()
        self._off_retry.cancel()
        self._remove_push()
