"""A panel that is an existing light or switch entity (a panel on a smart plug, an ESPHome or
Zigbee panel). It lives in the glue layer because it drives Home Assistant entities, but it
implements the same Panel interface as the device drivers.
"""

from __future__ import annotations

import asyncio

from homeassistant.const import (
    ATTR_ENTITY_ID,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_track_state_change_event

from .panels.base import (
    Capabilities,
    Clock,
    Panel,
    PanelConnectionError,
    PanelState,
    PanelTimeoutError,
)

ACK_TIMEOUT_S = 10.0


class EntityPanel(Panel):
    """Drives a light or switch entity; no channels and no hardware countdown."""

    capabilities = Capabilities()

    def __init__(self, hass: HomeAssistant, entity_id: str, *, clock: Clock) -> None:
        super().__init__(clock)
        self._hass = hass
        self.entity_id = entity_id
        self._domain = entity_id.split(".", 1)[0]
        self._unsub: CALLBACK_TYPE | None = None
        self._waiters: list[tuple[bool, asyncio.Future[float]]] = []

    def _state_from(self, state: State | None) -> PanelState:
        if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            return PanelState(connected=False, updated_at=self._clock())
        return PanelState(connected=True, is_on=state.state == STATE_ON, updated_at=self._clock())

    async def connect(self) -> None:
        if self._unsub is None:
            self._unsub = async_track_state_change_event(
                self._hass, [self.entity_id], self._handle_state_event
            )
        self._set_state(self._state_from(self._hass.states.get(self.entity_id)))

    async def disconnect(self) -> None:
        if self._unsub is not None:
            self._unsub()
            self._unsub = None
        for _, waiter in self._waiters:
            waiter.cancel()
        self._waiters.clear()

    @callback
    def _handle_state_event(self, event: Event[EventStateChangedData]) -> None:
        new = self._state_from(event.data["new_state"])
        # Keep the last report time stable when nothing but attributes changed.
        if new.evolve(updated_at=None) != self.state.evolve(updated_at=None):
            self._set_state(new)
        for want, waiter in list(self._waiters):
            if new.is_on is want and not waiter.done():
                waiter.set_result(self._clock())
                self._waiters.remove((want, waiter))

    async def update(self) -> PanelState:
        await self.connect()
        state = self._hass.states.get(self.entity_id)
        if state is None or state.state == STATE_UNAVAILABLE:
            raise PanelConnectionError(f"{self.entity_id} is unavailable")
        return self.state

    async def set_power(self, on: bool) -> float:
        """Switch the entity and return when its state confirms it (the acknowledgement)."""
        await self.connect()
        if self.state.is_on is on:
            return self._clock()
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        entry = (on, waiter)
        self._waiters.append(entry)
        try:
            await self._hass.services.async_call(
                self._domain,
                SERVICE_TURN_ON if on else SERVICE_TURN_OFF,
                {ATTR_ENTITY_ID: self.entity_id},
                blocking=True,
            )
            async with asyncio.timeout(ACK_TIMEOUT_S):
                return await waiter
        except HomeAssistantError as err:
            raise PanelConnectionError(str(err)) from err
        except TimeoutError as err:
            raise PanelTimeoutError(
                f"{self.entity_id} did not turn {'on' if on else 'off'} in {ACK_TIMEOUT_S:.0f} s"
            ) from err
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)
