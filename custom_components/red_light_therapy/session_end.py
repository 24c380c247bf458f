"""The end of a session on one panel: at its planned end, at a command, and after a restart.

The one callback at the planned end, switching the panel off (with the off-retry when it cannot be
confirmed off), closing the session at the acknowledged time and recording it, and picking an open
session up again after a restart (``therapy.reconcile`` decides; this carries it out). Background
jobs run here under the panel's lock, which the session commands (``SessionRunner``) take too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from functools import partial
import logging
from typing import TYPE_CHECKING, Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .coordinator import PanelCoordinator
from .off_retry import OffRetry
from .panel_control import PanelControl
from .session_plan import SessionEvent
from .store import TherapyStore
from .therapy import RestartAction, Session, SessionRecord, SessionStatus, reconcile

if TYPE_CHECKING:
    from .session_manager import SessionManager

_LOGGER = logging.getLogger(__name__)


class SessionEnd:
    """Ends and records the sessions of one panel for its ``SessionManager``."""

    def __init__(
        self,
        hass: HomeAssistant,
        coordinator: PanelCoordinator,
        store: TherapyStore,
        sessions: SessionManager,
        control: PanelControl,
    ) -> None:
        """End the sessions of ``sessions``' panel; nothing is scheduled until one starts."""
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
        # The panel's lock: it serialises start / pause / resume / stop / extend, the scheduled
        # end and the background jobs: each sees the session the one before it left.
        self.lock = asyncio.Lock()

    @property
    def ending(self) -> bool:
        """True while the session is being switched off and recorded."""
        return self._ending

    @callback
    def async_unload(self) -> None:
        """Cancel the scheduled end and any off-retry when the panel unloads."""
        self.cancel()
        self._off_retry.cancel()

    def set_device_deadline(self, value: datetime | None) -> None:
        """Keep when the panel's own countdown will switch it off on the open session.

        None: not armed, or the panel has no countdown. Kept on the stored session, so it survives
        a restart.
        """
        if (session := self._sessions.session) is not None:
            session.device_deadline = value

    def schedule(self) -> None:
        """Schedule the one callback at the open session's planned end (instead of any other)."""
        self.cancel()
        session = self._sessions.session
        if session is not None and session.ends_at is not None:
            self._cancel_end = async_track_point_in_utc_time(
                self._hass, self._handle_end, session.ends_at
            )

    def cancel(self) -> None:
        """Cancel the callback at the planned end, if one is scheduled."""
        if self._cancel_end is not None:
            self._cancel_end()
            self._cancel_end = None

    @callback
    def _handle_end(self, _now: datetime) -> None:
        self._cancel_end = None
        self.background(self._async_end_due, "red_light_therapy end")

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
        await self.async_finish(SessionStatus.COMPLETED)

    def background(self, job: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        """Run ``job`` in the background under the panel's lock, after the command in hand.

        Nobody awaits a background task, so its failure is logged here (once, with the
        translated reason), never left as an exception nobody retrieved.
        """

        async def _run() -> None:
            async with self.lock:
                try:
                    await job()
                except HomeAssistantError as err:
                    _LOGGER.warning("%s: %s", self._coordinator.name, err)

        self._coordinator.config_entry.async_create_background_task(self._hass, _run(), name)

    async def async_finish(self, status: SessionStatus, *, raise_fault: bool = False) -> None:
        """Switch the panel off, then close and record the session at the acknowledged time."""
        session = self._sessions.session
        if session is None or self._ending:
            return
        self.cancel()
        self._ending = True
        try:
            if self._panel.state.is_on is False and session.status is SessionStatus.PAUSED:
                off_at = dt_util.utcnow()
            else:
                try:
                    off_at = dt_util.utc_from_timestamp(await self.control.power(False))
                except HomeAssistantError as err:
                    self._off_retry.not_confirmed(
                        err,
                        partial(
                            self.background,
                            partial(self.async_finish, status),
                            "red_light_therapy retry off",
                        ),
                    )
                    if raise_fault:
                        raise
                    return
            await self.async_close(session, off_at, status)
        finally:
            self._ending = False

    async def async_close(self, session: Session, off_at: datetime, status: SessionStatus) -> None:
        """Close ``session`` at ``off_at`` (capped at the panel's countdown) and record it."""
        self.cancel()
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
        self._sessions.events.fire(event, self._sessions.records.record_data(record))
        self._sessions.events.changed(session.area)

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
            await self.async_finish(SessionStatus.COMPLETED)
        elif action is RestartAction.CLOSE:
            assert decision.close_at is not None
            await self.async_close(session, decision.close_at, SessionStatus.COMPLETED)
        else:
            self.control.hold_link()
            self.schedule()
            await self.async_arm_remaining(session)

    async def async_arm_remaining(self, session: Session, *, save: bool = True) -> None:
        """Arm the panel's own countdown to what the running session has left.

        For a session Home Assistant did not switch on itself, or one that outlived a restart: the
        safety net if Home Assistant stops. A failure is logged: the integration's own end still
        comes. ``save`` False: the caller saves the session (with its countdown's deadline) itself.
        """
        try:
            now = dt_util.utcnow()
            armed = await self.control.arm_timer(session.remaining_seconds(now))
            if armed is not None:
                self.set_device_deadline(now + timedelta(seconds=armed))
                if save:
                    await self._store.async_save()
        except HomeAssistantError as err:
            _LOGGER.warning("%s: could not arm its countdown: %s", self._coordinator.name, err)
