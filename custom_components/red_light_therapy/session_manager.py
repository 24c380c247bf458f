"""Dose-aware sessions on one panel: the object every entity, action and Assist talks to.

The one object the light, the buttons, the actions, Assist, the sensors and the protocol runs talk
to.

``SessionManager`` holds the parts, each with one job, and answers for them: the panel's
settings (``PanelSettings``), planning a session against the limits (``SessionPlanner``),
running it (``SessionRunner``, with ``PanelControl`` for its commands and ``OffRetry`` when
the panel cannot be confirmed off), and what happens at the panel itself (``PanelWatch``).
The history commands (log, remove) are ``SessionHistory``'s, the panel's current person
``SessionPersons``', and the session events and who is told of a change ``SessionEvents``'.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.dispatcher import async_dispatcher_connect

from .const import DOMAIN, event_signal
from .coordinator import PanelCoordinator
from .panel_control import PanelControl
from .panel_settings import PanelSettings
from .panel_watch import PanelWatch
from .session_events import SessionEvents, async_panels_changed
from .session_history import SessionHistory
from .session_persons import SessionPersons
from .session_plan import (
    REFUSING,
    RunDefaults,
    SessionEvent,
    SessionEventListener,
    SessionPlan,
    TimerState,
)
from .session_planner import SessionPlanner
from .session_runner import SessionRunner
from .store import TherapyStore
from .therapy import (
    BandIrradiance,
    DoseBand,
    History,
    IrradianceProfile,
    Limits,
    Session,
    SessionRecord,
    SessionStatus,
    Verdict,
)
from .words import (
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


class SessionManager:
    """The session lifecycle of one panel, with dose, limits, history and persistence."""

    def __init__(
        self,
        hass: HomeAssistant,
        coordinator: PanelCoordinator,
        store: TherapyStore,
        profile: IrradianceProfile,
    ) -> None:
        """Wire the panel's settings, planner, control, runner and watch together."""
        self._hass = hass
        self._coordinator = coordinator
        self._panel = coordinator.panel
        self._store = store
        self.panel_id = coordinator.config_entry.entry_id
        self.panel_settings = PanelSettings(
            store, self._panel, self.panel_id, profile, coordinator.async_update_listeners
        )
        self.planner = SessionPlanner(store, self.panel_settings, self.panel_id, coordinator)
        self.control = PanelControl(hass, coordinator)
        self.runner = SessionRunner(hass, coordinator, store, self, self.control)
        self.events = SessionEvents(hass, coordinator)
        self.records = SessionHistory(coordinator, store, self)
        self.persons = SessionPersons(hass, store, self.panel_settings, self.panel_id)
        # Given at setup: a session started during a protocol run takes the run's dose and area.
        self.run_defaults: RunDefaults | None = None
        self._remove_run_events = async_dispatcher_connect(
            hass, event_signal(self.panel_id), self._fire
        )
        self.last_session: SessionRecord | None = self.records.last_record()
        self._remove_push = coordinator.async_add_push_listener(PanelWatch(self).handle_panel_state)

    # -- the panel's settings (PanelSettings) ---------------------------------------------

    @property
    def profile(self) -> IrradianceProfile:
        """The panel's irradiance profile (calibrated when a meter reading was given)."""
        return self.panel_settings.profile

    @property
    def default_duration(self) -> timedelta:
        """The length of a session started without one (``PanelSettings.default_duration``)."""
        return self.panel_settings.default_duration

    @default_duration.setter
    def default_duration(self, value: timedelta) -> None:
        self.panel_settings.default_duration = value

    @property
    def distance_cm(self) -> float:
        """The distance to the panel in cm the user set, else the default."""
        return self.panel_settings.distance_cm

    @property
    def area(self) -> str:
        """The panel's default treatment area (an ``Area`` value)."""
        return self.panel_settings.area

    @property
    def irradiance(self) -> BandIrradiance | None:
        """The irradiance at the panel's distance and levels now (None: outside the profile)."""
        return self.panel_settings.irradiance

    def limits(self, area: str) -> Limits:
        """Return the limits of a session on ``area``."""
        return self.panel_settings.limits(area)

    def levels(self, by_index: Mapping[int, int] | None = None) -> dict[str, int] | None:
        """Return the channel levels keyed like the profile's channels."""
        return self.panel_settings.levels(by_index)

    async def async_calibrate(self, distance_cm: float, measured_mw_cm2: float) -> None:
        """Scale the panel's profile to a meter reading (``PanelSettings.async_calibrate``)."""
        await self.panel_settings.async_calibrate(distance_cm, measured_mw_cm2)

    async def async_set_setting(self, key: str, value: Any) -> None:
        """Store one of the panel's settings (``PanelSettings.async_set_setting``)."""
        await self.panel_settings.async_set_setting(key, value)

    # -- queries ---------------------------------------------------------------------------

    @property
    def session(self) -> Session | None:
        """The panel's open session (planned, running or paused), None when idle."""
        return self._store.active.get(self.panel_id)

    @property
    def history(self) -> History:
        """Every recorded session of every panel (the history is shared)."""
        return self._store.history

    @property
    def ending(self) -> bool:
        """True while the session is being switched off and recorded."""
        return self.runner.ending

    @property
    def timer_state(self) -> TimerState:
        """The state of the panel's timer: idle, active or paused."""
        session = self.session
        if session is None or session.status is SessionStatus.PLANNED:
            return TimerState.IDLE
        return TimerState.PAUSED if session.status is SessionStatus.PAUSED else TimerState.ACTIVE

    def _new_id(self) -> str:
        return self.records.new_id()

    def current_person(self) -> str | None:
        """Return who uses the panel when a request does not say (``SessionPersons``)."""
        return self.persons.current_person()

    def person_name(self, person: str | None) -> str | None:
        """Return the name of ``person`` as the panel's entities and answers show it."""
        return self.planner.person_name(person)

    def _limits_history(self, now: datetime, person: str | None) -> History:
        return self.planner.limits_history(now, person)

    def lockout_until(self, now: datetime) -> datetime | None:
        """Return when the panel's default area can next take a session, if it cannot now.

        For the panel's current person.
        """
        return self.planner.lockout_until(now, self.current_person())

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
        person: str | None = None,
    ) -> SessionPlan:
        """Return what a session for ``person`` (None: the panel's current person) would be.

        See ``SessionPlanner.plan``.
        """
        return self.planner.plan(
            minutes=minutes,
            dose=dose,
            band=band,
            distance_cm=distance_cm,
            area=area,
            override_spacing=override_spacing,
            at=at,
            levels=levels,
            person=person if person is not None else self.current_person(),
        )

    def _refusal(self, verdict: Verdict, person: str | None) -> ServiceValidationError:
        return self.planner.refusal(verdict, person)

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
        person: str | None = None,
    ) -> SessionPlan:
        """Return what ``async_start`` would start, changing nothing.

        An active protocol run's dose and area when neither a dose nor a duration is given. Raises
        when a session is running already or the input is bad; a refusal is in the plan's verdict.

        ``person``: whose session it is (a person entity id the caller has checked is in the
        household); None: the panel's current person (``current_person``).
        """
        if self.session is not None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="session_already_running",
                translation_placeholders={"name": self._coordinator.name},
            )
        if person is None:
            person = self.current_person()
        if self.run_defaults is not None and (run := self.run_defaults(area, person)) is not None:
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
            person=person,
        )

    def report_refusal(self, plan: SessionPlan) -> ServiceValidationError:
        """Report a refused start: fire ``session_refused`` and return the error for the caller.

        Fire ``session_refused`` for automations, and return the error that tells the person why,
        for the caller to raise.
        """
        self._fire(SessionEvent.REFUSED, plan.as_dict())
        return self._refusal(plan.verdict, plan.person)

    # -- running a session (SessionRunner) ------------------------------------------------

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

        ``person`` is a person entity id the caller has checked (None: the panel's current person);
        the session is checked against that person's limits.
        """
        return await self.runner.async_start(
            duration,
            dose=dose,
            band=band,
            distance_cm=distance_cm,
            area=area,
            override_spacing=override_spacing,
            levels=levels,
            person=person,
        )

    async def async_pause(self) -> None:
        """Pause the running session (``SessionRunner.async_pause``)."""
        await self.runner.async_pause()

    async def async_resume(self) -> None:
        """Resume the paused session (``SessionRunner.async_resume``)."""
        await self.runner.async_resume()

    async def async_stop(self) -> None:
        """Stop the open session and record it (``SessionRunner.async_stop``)."""
        await self.runner.async_stop()

    async def async_extend(
        self, *, minutes: float | None = None, dose: float | None = None
    ) -> Verdict:
        """Add on-time (or dose) to the running or paused session, checked again."""
        return await self.runner.async_extend(minutes=minutes, dose=dose)

    async def async_reconcile(self) -> None:
        """After a restart: close an overdue session with what was delivered, re-arm the rest."""
        await self.runner.async_reconcile()

    async def async_log(
        self,
        *,
        started_at: datetime,
        minutes: float,
        area: str | None = None,
        distance_cm: float | None = None,
        person: str | None = None,
    ) -> SessionRecord:
        """Record a session done away from Home Assistant (``SessionHistory.async_log``)."""
        return await self.records.async_log(
            started_at=started_at,
            minutes=minutes,
            area=area,
            distance_cm=distance_cm,
            person=person,
        )

    async def async_remove(
        self, *, session_id: str | None = None, started_at: datetime | None = None
    ) -> SessionRecord:
        """Take a session out of the history (``SessionHistory.async_remove``)."""
        return await self.records.async_remove(session_id=session_id, started_at=started_at)

    @callback
    def async_persons_changed(self) -> None:
        """Follow sessions given to another person (``SessionHistory.async_persons_changed``)."""
        self.records.async_persons_changed()

    def removed_data(self, record: SessionRecord) -> dict[str, Any]:
        """Return what ``remove_session`` answers about the record it removed."""
        return self.records.removed_data(record)

    # -- events ----------------------------------------------------------------------------

    def _record_data(self, record: SessionRecord | None) -> dict[str, Any]:
        return self.records.record_data(record)

    @callback
    def async_add_event_listener(self, listener: SessionEventListener) -> CALLBACK_TYPE:
        """Listen to this panel's changes; return the function that stops listening."""
        return self.events.async_add_event_listener(listener)

    @callback
    def _fire(self, event: SessionEvent, data: dict[str, Any]) -> None:
        self.events.fire(event, data)

    def _changed(self, area: str | None = None) -> None:
        self.events.changed(area)

    @callback
    def async_unload(self) -> None:
        """Stop the runner, the panel watch and the run events when the panel unloads."""
        self.runner.async_unload()
        self._remove_push()
        self._remove_run_events()
