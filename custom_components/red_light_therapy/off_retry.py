"""A panel that could not be confirmed off at the end of its session.

Say so loudly (a critical repair issue, a notification, one error in the log) and try again every
``OFF_RETRY_SECONDS`` until it is confirmed off.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
import logging

from homeassistant.components import persistent_notification
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later

from .const import DOMAIN, OFF_RETRY_SECONDS
from .coordinator import PanelCoordinator

_LOGGER = logging.getLogger(__name__)


class OffRetry:
    """The off-retry of one panel, with its repair issue and notification."""

    def __init__(self, hass: HomeAssistant, coordinator: PanelCoordinator, panel_id: str) -> None:
        """Retry the panel of ``coordinator``; nothing is due until a switch-off fails."""
        self._hass = hass
        self._coordinator = coordinator
        self._panel_id = panel_id
        self._cancel_retry: CALLBACK_TYPE | None = None
        self._fault_logged = False

    def not_confirmed(self, err: HomeAssistantError, retry: Callable[[], None]) -> None:
        """Keep the session open, say so, and call ``retry`` in ``OFF_RETRY_SECONDS``.

        Unless a retry is already due.
        """
        name = self._coordinator.name
        if self._fault_logged:
            _LOGGER.debug("%s still not confirmed off: %s; retrying", name, err)
        else:  # once, not at every retry
            _LOGGER.error("%s could not be confirmed off: %s; retrying", name, err)
            self._fault_logged = True
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            f"not_confirmed_off_{self._panel_id}",
            is_fixable=False,
            severity=ir.IssueSeverity.CRITICAL,
            translation_key="not_confirmed_off",
            translation_placeholders={"name": name},
        )
        persistent_notification.async_create(
            self._hass,
            f"{name} could not be confirmed off at the end of its session. "
            "Switch it off at the panel. Home Assistant keeps trying.",
            title="Red Light Therapy",
            notification_id=f"{DOMAIN}_not_off_{self._panel_id}",
        )

        @callback
        def _retry(_now: datetime) -> None:
            self._cancel_retry = None
            retry()

        if self._cancel_retry is None:
            self._cancel_retry = async_call_later(self._hass, OFF_RETRY_SECONDS, _retry)

    def clear(self) -> None:
        """Withdraw the issue, the notification and any retry still due: the panel is off.

        The panel is confirmed off, or its session was closed.
        """
        if self._fault_logged:
            _LOGGER.info("%s is confirmed off again", self._coordinator.name)
            self._fault_logged = False
        self.cancel()
        ir.async_delete_issue(self._hass, DOMAIN, f"not_confirmed_off_{self._panel_id}")
        persistent_notification.async_dismiss(self._hass, f"{DOMAIN}_not_off_{self._panel_id}")

    def cancel(self) -> None:
        """Drop a retry still due (the panel is unloaded)."""
        if self._cancel_retry is not None:
            self._cancel_retry()
            self._cancel_retry = None
