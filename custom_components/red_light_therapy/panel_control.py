"""The session's commands to its panel: power, its own countdown and its link.

Power, the panel's own countdown (the safety net if Home Assistant stops), and the link held open
while a session runs. Knows when it is the one switching the panel, so its own commands are not
mistaken for a person at the panel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import contextlib
from datetime import datetime
import math

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util

from .coordinator import PanelCoordinator
from .panels.base import PanelError, PanelState


class PanelControl:
    """Commands one panel on behalf of its session manager."""

    def __init__(self, hass: HomeAssistant, coordinator: PanelCoordinator) -> None:
        """Command the panel of ``coordinator``."""
        self._hass = hass
        self._coordinator = coordinator
        self._panel = coordinator.panel
        self._commanding = False
        self._release_hold: Callable[[], None] | None = None

    @property
    def commanding(self) -> bool:
        """True while a command of the session manager switches the panel."""
        return self._commanding

    async def power(self, on: bool) -> float:
        """Switch the panel on or off; the acknowledged clock time."""
        self._commanding = True
        try:
            return await self._coordinator.async_command(self._panel.set_power(on))
        finally:
            self._commanding = False

    def timer_seconds(self, seconds: float) -> int | None:
        """Return the whole seconds to arm the panel's own countdown to (None: it has none)."""
        capabilities = self._panel.capabilities
        if not capabilities.hardware_timer:
            return None
        return min(math.ceil(seconds), capabilities.max_timer_s)

    async def arm_timer(self, seconds: float) -> int | None:
        """Set the running panel's own countdown; the armed whole seconds (None: no timer)."""
        armed = self.timer_seconds(seconds)
        if armed is not None:
            await self._coordinator.async_command(self._panel.set_timer(armed))
        return armed

    async def power_on_for(self, seconds: float) -> tuple[datetime, int | None]:
        """Switch on with the panel's own countdown armed, holding the link.

        The acknowledged time and the armed whole seconds. The panel decides the order
        (``Panel.power_on_for``). A failure lets the link go again.
        """
        self.hold_link()
        armed = self.timer_seconds(seconds)
        self._commanding = True
        try:
            acked = await self._coordinator.async_command(self._panel.power_on_for(armed))
        except HomeAssistantError:
            self.release_link()
            raise
        finally:
            self._commanding = False
        return dt_util.utc_from_timestamp(acked), armed

    @contextlib.contextmanager
    def opening_read(self) -> Iterator[Callable[[], PanelState | None]]:
        """Keep the state read as the commands within open the panel's closed link.

        Yields what says whether the panel was found on so: ``Panel.read_before_on`` (a Wi-Fi
        opening reads the data points, a Bluetooth start reads the status in its timer write),
        read since the commands began on a link that was closed, and showing the panel on.
        Switched on at the panel since the last look, it emitted before the commands
        (``therapy.start_found_on``). None: the link was open, nothing was read so, or it was
        off.
        """
        was_closed = not self._panel.state.connected
        last_report = self._panel.state.updated_at

        def _found_on() -> PanelState | None:
            read = self._panel.read_before_on
            if (
                not was_closed
                or read is None
                or not read.is_on
                or read.updated_at is None
                or (last_report is not None and read.updated_at <= last_report)
            ):
                return None
            return read

        yield _found_on

    def hold_link(self) -> None:
        """Hold the panel's link open while the session runs.

        Once: a second hold while one is held does nothing; ``release_link`` lets it idle again.
        """
        if self._release_hold is None:
            self._release_hold = self._panel.hold_connection()

    def release_link(self) -> None:
        """Let the panel's link idle again (after ``hold_link``)."""
        if (release := self._release_hold) is not None:
            self._release_hold = None
            release()

    def read_after_failed_power_on(self) -> None:
        """Read the panel once after a power-on that failed, which may still have reached it.

        A device may apply a write without answering it: one that is on anyway becomes a session
        under the limits (unplanned, or the paused one resumed) instead of emitting unseen until the
        next poll.
        """

        async def _read() -> None:
            with contextlib.suppress(PanelError):
                await self._panel.update()

        self._coordinator.config_entry.async_create_background_task(
            self._hass, _read(), "red_light_therapy read after a failed power-on"
        )
