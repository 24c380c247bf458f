"""The link to one panel: state pushed by the device, a slow poll while idle, availability."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
import logging
from typing import TYPE_CHECKING

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, HomeAssistantError
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import DOMAIN, IDLE_POLL_MINUTES
from .panels.base import Panel, PanelAuthError, PanelError, PanelState

if TYPE_CHECKING:
    from . import RedLightTherapyConfigEntry

_LOGGER = logging.getLogger(__name__)


class PanelCoordinator(DataUpdateCoordinator[PanelState]):
    """Holds the panel's last known state and tells entities when it changes.

    The panel pushes its state while connected; between sessions the link is closed and the
    state is read every few minutes. Entities are only written when what they show changes.
    """

    config_entry: RedLightTherapyConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: RedLightTherapyConfigEntry, panel: Panel
    ) -> None:
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=entry.title,
            update_interval=timedelta(minutes=IDLE_POLL_MINUTES),
            always_update=False,
        )
        self.panel = panel
        self._unsubscribe = panel.subscribe(self._handle_push)
        self._push_listeners: list[Callable[[PanelState], None]] = []

    async def _async_update_data(self) -> PanelState:
        try:
            return await self.panel.update()
        except PanelAuthError as err:
            # Not "cannot connect": retrying cannot help. Home Assistant starts a reauth flow.
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN,
                translation_key="invalid_auth",
                translation_placeholders={"name": self.name, "error": str(err)},
            ) from err
        except PanelError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="cannot_connect",
                translation_placeholders={"name": self.name, "error": str(err)},
            ) from err

    @callback
    def _handle_push(self, state: PanelState) -> None:
        """State the panel reported on its own or after a command."""
        for listener in list(self._push_listeners):
            listener(state)
        if not self.last_update_success:
            # The panel answers again: log once that it is back, like a successful poll does.
            _LOGGER.info("Panel %s is reachable again", self.name)
        self.async_set_updated_data(state)

    @callback
    def async_add_push_listener(self, listener: Callable[[PanelState], None]) -> Callable[[], None]:
        """Call ``listener`` before entities with every state the panel reports."""
        self._push_listeners.append(listener)
        return lambda: self._push_listeners.remove(listener)

    async def async_command[T](self, command: Awaitable[T]) -> T:
        """Run a panel command; a fault becomes a translated Home Assistant error."""
        try:
            return await command
        except PanelError as err:
            if isinstance(err, PanelAuthError):
                self.config_entry.async_start_reauth(self.hass)
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="cannot_connect",
                translation_placeholders={"name": self.name, "error": str(err)},
            ) from err

    async def async_shutdown(self) -> None:
        """Stop listening and close the link."""
        await super().async_shutdown()
        self._unsubscribe()
        await self.panel.disconnect()
