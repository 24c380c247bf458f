"""Runs sessions on one panel: arm the panel's own countdown, power on, end on time.

Time is never ticked: an active session is an acknowledged start time and a planned end, and
one callback is scheduled for that end. Entities render the countdown from ``ends_at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
import logging
import math

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .const import DEFAULT_SESSION_MINUTES, DOMAIN
from .coordinator import PanelCoordinator
from .panels.base import PanelState

_LOGGER = logging.getLogger(__name__)


class TimerState(StrEnum):
    """The states of Home Assistant's timer helper, which the session timer follows."""

    IDLE = "idle"
    ACTIVE = "active"
    PAUSED = "paused"


@dataclass(slots=True)
class ActiveSession:
    """A session in progress. ``remaining`` is exact while paused, derived while active."""

    duration: timedelta
    remaining: timedelta
    ends_at: datetime | None  # None while paused

    @property
    def state(self) -> TimerState:
        return TimerState.PAUSED if self.ends_at is None else TimerState.ACTIVE


def _utc(ts: float) -> datetime:
    return dt_util.utc_from_timestamp(ts)


class SessionManager:
    """The session lifecycle of one panel."""

    def __init__(self, hass: HomeAssistant, coordinator: PanelCoordinator) -> None:
        self._hass = hass
        self._coordinator = coordinator
        self._panel = coordinator.panel
        self.default_duration = timedelta(minutes=DEFAULT_SESSION_MINUTES)
        self.session: ActiveSession | None = None
        self._cancel_end: CALLBACK_TYPE | None = None
        # True while this manager itself switches the panel, so its own "off" is not
        # mistaken for the panel switching itself off.
        self._commanding = False
        self._remove_push = coordinator.async_add_push_listener(self._handle_panel_state)

    @property
    def timer_state(self) -> TimerState:
        return self.session.state if self.session else TimerState.IDLE

    def _not_running_error(self) -> ServiceValidationError:
        return ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="no_active_session",
            translation_placeholders={"name": self._coordinator.name},
        )

    async def async_start(self, duration: timedelta | None = None) -> ActiveSession:
        """Start a session of ``duration`` (the default length when omitted)."""
        if self.session is not None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="session_already_running",
                translation_placeholders={"name": self._coordinator.name},
            )
        duration = duration or self.default_duration
        ends_at = await self._async_power_on_for(duration)
        self.session = ActiveSession(duration=duration, remaining=duration, ends_at=ends_at)
        self._schedule_end(ends_at)
        self._changed()
        return self.session

    async def async_pause(self) -> None:
        session = self.session
        if session is None or session.ends_at is None:
            raise self._not_running_error()
        self._cancel_scheduled_end()
        self._commanding = True
        try:
            off_at = _utc(await self._coordinator.async_command(self._panel.set_power(False)))
        finally:
            self._commanding = False
        session.remaining = max(session.ends_at - off_at, timedelta(0))
        session.ends_at = None
        self._changed()

    async def async_resume(self) -> None:
        session = self.session
        if session is None or session.ends_at is not None:
            raise self._not_running_error()
        session.ends_at = await self._async_power_on_for(session.remaining)
        self._schedule_end(session.ends_at)
        self._changed()

    async def async_stop(self) -> None:
        if self.session is None:
            raise self._not_running_error()
        await self._async_finish()

    async def _async_power_on_for(self, duration: timedelta) -> datetime:
        """Arm the panel's own countdown (the safety net), then switch on; returns the end."""
        panel = self._panel
        panel.keep_connected = True
        try:
            if panel.capabilities.hardware_timer:
                seconds = min(math.ceil(duration.total_seconds()), panel.capabilities.max_timer_s)
                await self._coordinator.async_command(panel.set_timer(seconds))
            on_at = await self._coordinator.async_command(panel.set_power(True))
        except Exception:
            panel.keep_connected = False
            raise
        return _utc(on_at) + duration

    def _schedule_end(self, ends_at: datetime) -> None:
        self._cancel_scheduled_end()
        self._cancel_end = async_track_point_in_utc_time(self._hass, self._handle_end, ends_at)

    def _cancel_scheduled_end(self) -> None:
        if self._cancel_end is not None:
            self._cancel_end()
            self._cancel_end = None

    @callback
    def _handle_end(self, _now: datetime) -> None:
        self._cancel_end = None
        self._coordinator.config_entry.async_create_background_task(
            self._hass, self._async_finish(), "red_light_therapy session end"
        )

    async def _async_finish(self) -> None:
        """Switch the panel off and close the session."""
        self._cancel_scheduled_end()
        self._commanding = True
        try:
            if self._panel.state.is_on is not False:
                await self._coordinator.async_command(self._panel.set_power(False))
        finally:
            self._commanding = False
            self._close()

    def _close(self) -> None:
        self.session = None
        self._panel.keep_connected = False
        self._changed()

    @callback
    def _handle_panel_state(self, state: PanelState) -> None:
        """The panel went dark on its own (its countdown, its button): the session is over."""
        session = self.session
        if (
            session is not None
            and session.ends_at is not None
            and state.is_on is False
            and not self._commanding
        ):
            _LOGGER.debug("%s switched itself off; closing the session", self._coordinator.name)
            self._cancel_scheduled_end()
            self._close()

    def _changed(self) -> None:
        self._coordinator.async_update_listeners()

    @callback
    def async_unload(self) -> None:
        self._cancel_scheduled_end()
        self._remove_push()
