"""Who is told of a panel's change: its session event listeners, its entities, other panels'.

``SessionEvents`` is the one place a panel's session events leave (``fire``) and tells the
entities of a change (``changed``); ``async_panels_changed`` updates the other loaded panels
whose dose, lockout or runs a change on shared skin touches.
"""

from __future__ import annotations

from typing import Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback

from .const import DOMAIN
from .coordinator import PanelCoordinator
from .session_plan import SessionEvent, SessionEventListener
from .therapy import shares_skin


@callback
def async_panels_changed(
    hass: HomeAssistant, *, but: str | None = None, area: str | None = None
) -> None:
    """Update the entities of every loaded panel (``but`` one) after shared data changed.

    ``area``: only a session on that area changed, so only panels that show something it
    counts against are updated: those whose treatment area, or the area of one of whose
    unfinished protocol runs, shares skin with it (``therapy.shares_skin``). The others'
    dose, lockout and runs cannot have changed.
    """
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        if entry.entry_id == but:
            continue
        data = entry.runtime_data
        if area is not None and not (
            shares_skin(data.sessions.panel_settings.area, area)
            or any(shares_skin(run.plan.area, area) for run in data.protocols.unfinished)
        ):
            continue
        data.coordinator.async_update_listeners()


class SessionEvents:
    """The session events of one panel and who is told of its changes."""

    def __init__(self, hass: HomeAssistant, coordinator: PanelCoordinator) -> None:
        """Tell the listeners and entities of ``coordinator``'s panel; none listen yet."""
        self._hass = hass
        self._coordinator = coordinator
        self.panel_id = coordinator.config_entry.entry_id
        self._event_listeners: list[SessionEventListener] = []

    @callback
    def async_add_event_listener(self, listener: SessionEventListener) -> CALLBACK_TYPE:
        """Listen to this panel's changes; return the function that stops listening."""
        self._event_listeners.append(listener)
        return lambda: self._event_listeners.remove(listener)

    @callback
    def fire(self, event: SessionEvent, data: dict[str, Any]) -> None:
        """Tell every listener of ``event`` with ``data``."""
        for listener in list(self._event_listeners):
            listener(event, data)

    def changed(self, area: str | None = None) -> None:
        """Tell this panel's entities, and every other panel's that shares skin with ``area``.

        The others only when a session on ``area`` changed: the history and the limits are shared
        (dose today, a lockout by this panel's session). A setting changes this panel only. Entities
        whose state did not change write nothing.
        """
        self._coordinator.async_update_listeners()
        if area is not None:
            async_panels_changed(self._hass, but=self.panel_id, area=area)
