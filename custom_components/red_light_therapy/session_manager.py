"""Dose-aware sessions on one panel: the object every entity, action and Assist talks to.

``SessionManager`` holds the parts of one panel's sessions, each with one job, and callers use
the part they need: the panel's settings (``panel_settings``: ``PanelSettings``), planning a
session against the limits (``planner``: ``SessionPlanner``), the session commands (``runner``:
``SessionRunner``, with ``PanelControl`` for its commands), the end of a session and the restart
(``end``: ``SessionEnd``, with ``OffRetry`` when the panel cannot be confirmed off), the history
commands (``records``: ``SessionHistory``), the panel's current person (``persons``:
``SessionPersons``) and the session events (``events``: ``SessionEvents``). What happens at the
panel itself is ``PanelWatch``'s. The manager answers what belongs to none of them alone: the open
session, the shared history, the timer's state, the last record and a refused start's report.
"""

from __future__ import annotations

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.dispatcher import async_dispatcher_connect

from .const import event_signal
from .coordinator import PanelCoordinator
from .panel_control import PanelControl
from .panel_settings import PanelSettings
from .panel_watch import PanelWatch
from .session_end import SessionEnd
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
from .therapy import History, IrradianceProfile, Session, SessionRecord, SessionStatus
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
        """Wire the panel's settings, planner, control, runner, end and watch together."""
        self._store = store
        self.panel_id = coordinator.config_entry.entry_id
        self.panel_settings = PanelSettings(
            store, coordinator.panel, self.panel_id, profile, coordinator.async_update_listeners
        )
        self.persons = SessionPersons(hass, store, self.panel_settings, self.panel_id)
        self.planner = SessionPlanner(
            store, self.panel_settings, self.panel_id, coordinator, self.persons
        )
        self.control = PanelControl(hass, coordinator)
        self.events = SessionEvents(hass, coordinator)
        self.records = SessionHistory(coordinator, store, self)
        self.end = SessionEnd(hass, coordinator, store, self, self.control)
        self.runner = SessionRunner(self, coordinator, store)
        self._remove_run_events = async_dispatcher_connect(
            hass, event_signal(self.panel_id), self.events.fire
        )
        self.last_session: SessionRecord | None = self.records.last_record()
        self._remove_push = coordinator.async_add_push_listener(
            PanelWatch(self, coordinator).handle_panel_state
        )

    @property
    def session(self) -> Session | None:
        """The panel's open session (planned, running or paused), None when idle."""
        return self._store.active.get(self.panel_id)

    @property
    def history(self) -> History:
        """Every recorded session of every panel (the history is shared)."""
        return self._store.history

    @property
    def timer_state(self) -> TimerState:
        """The state of the panel's timer: idle, active or paused."""
        session = self.session
        if session is None or session.status is SessionStatus.PLANNED:
            return TimerState.IDLE
        return TimerState.PAUSED if session.status is SessionStatus.PAUSED else TimerState.ACTIVE

    def report_refusal(self, plan: SessionPlan) -> ServiceValidationError:
        """Report a refused start: fire ``session_refused`` and return the error for the caller.

        Fire ``session_refused`` for automations, and return the error that tells the person why,
        for the caller to raise.
        """
        self.events.fire(SessionEvent.REFUSED, plan.as_dict())
        return self.planner.refusal(plan.verdict, plan.person)

    @callback
    def async_unload(self) -> None:
        """Stop the session's end, the panel watch and the run events when the panel unloads."""
        self.end.async_unload()
        self._remove_push()
        self._remove_run_events()
