"""The link to one panel: state pushed by the device, a slow poll while idle, availability."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
import logging

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, HomeAssistantError
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import (
    BLE_IDLE_POLL_SECONDS,
    CONF_PANEL_TYPE,
    DOMAIN,
    IDLE_POLL_MINUTES,
    PANEL_TYPE_BLOCKBLUELIGHT,
)
from .models import RedLightTherapyConfigEntry
from .panels.base import Panel, PanelAuthError, PanelError, PanelState

_LOGGER = logging.getLogger(__name__)


class PanelCoordinator(DataUpdateCoordinator[PanelState]):
    """Holds the panel's last known state and tells entities when it changes.

    The panel pushes its state while connected; between sessions a Bluetooth panel's link is
    closed and the panel is looked at every ``BLE_IDLE_POLL_SECONDS`` (others every
    ``IDLE_POLL_MINUTES``; a Tuya panel's look sends nothing while its link is up, and only
    re-opens a link that is down). Pushes do not move the next poll. Entities are only told of a
    state that differs in what they show: not the time of a report, nor (unless the panel's
    link is its availability) a link opened and closed for a look.
    """

    config_entry: RedLightTherapyConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: RedLightTherapyConfigEntry, panel: Panel
    ) -> None:
        """Follow ``panel``: its pushes at once, and a look at it while idle."""
        bluetooth = (
            entry.data.get(CONF_PANEL_TYPE, PANEL_TYPE_BLOCKBLUELIGHT) == PANEL_TYPE_BLOCKBLUELIGHT
        )
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=entry.title,
            update_interval=(
                timedelta(seconds=BLE_IDLE_POLL_SECONDS)
                if bluetooth
                else timedelta(minutes=IDLE_POLL_MINUTES)
            ),
            always_update=False,
        )
        self.panel = panel
        self._unsubscribe = panel.subscribe(self._handle_push)
        self._push_listeners: list[Callable[[PanelState], None]] = []
        self._read_once = False

    async def _async_update_data(self) -> PanelState:
        try:
            # The first read (setup, reload) is a full one and keeps the link for its grace:
            # the panel was just added or reloaded, and is likely to be used next.
            if not self._read_once:
                state = await self.panel.update()
                self._read_once = True
                return state
            return await self.panel.poll()
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
        previous = self.data
        recovered = not self.last_update_success
        if recovered:
            # The panel answers again: log once that it is back, like a successful poll does.
            _LOGGER.info("Panel %s is reachable again", self.name)
        # Not async_set_updated_data: that would restart the poll interval at every push.
        self.data = state
        self.last_update_success = True
        if recovered or previous is None or self._shown(previous) != self._shown(state):
            self.async_update_listeners()

    def _shown(self, state: PanelState) -> PanelState:
        """Return what the entities show of ``state``."""
        return state if self.panel.link_is_availability else state.evolve(connected=False)

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
