"""A panel that is an existing light or switch entity.

That is a panel on a smart plug, or an ESPHome or Zigbee panel. It lives in the glue layer
because it drives Home Assistant entities, but it implements the same Panel interface as the
device drivers.

There is no hardware countdown: the integration switches the entity off at the end of a
session, and if Home Assistant is down nothing does.
"""

from __future__ import annotations

import asyncio
from typing import Any

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
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event

from .panels.base import (
    Capabilities,
    Clock,
    Panel,
    PanelConnectionError,
    PanelIdentity,
    PanelState,
    PanelTimeoutError,
)

ACK_TIMEOUT_S = 10.0
"""How long a switch command may take, service call and confirming state together."""


class EntityPanel(Panel):
    """Drives a light or switch entity; no channels and no hardware countdown.

    ``connected`` means the entity is available; ``is_on`` is None while its state is unknown.
    A command is acknowledged when the entity's state confirms it.
    """

    capabilities = Capabilities()
    link_is_availability = True

    def __init__(self, hass: HomeAssistant, entity_id: str, *, clock: Clock) -> None:
        """Drive the light or switch ``entity_id``."""
        super().__init__(clock)
        self._hass = hass
        self.entity_id = entity_id
        self._domain = entity_id.split(".", 1)[0]
        self._unsub: CALLBACK_TYPE | None = None
        self._waiters: list[tuple[bool, asyncio.Future[float]]] = []

    @property
    def identity(self) -> PanelIdentity:
        """The maker and model of the wrapped entity's device, if it has one.

        Else a "Wrapped light" or "Wrapped switch" of no known maker.
        """
        model = f"Wrapped {self._domain}"
        if (
            (entity := er.async_get(self._hass).async_get(self.entity_id))
            and entity.device_id
            and (device := dr.async_get(self._hass).async_get(entity.device_id))
        ):
            return PanelIdentity(manufacturer=device.manufacturer, model=device.model or model)
        return PanelIdentity(model=model)

    def diagnostics(self) -> dict[str, Any]:
        """Return the base's, and the kind of entity wrapped (its id is in the entry)."""
        return {**super().diagnostics(), "wrapped": {"domain": self._domain}}

    def _state_from(self, state: State | None) -> PanelState:
        if state is None or state.state == STATE_UNAVAILABLE:
            return PanelState(connected=False, updated_at=self._clock())
        is_on = None if state.state == STATE_UNKNOWN else state.state == STATE_ON
        return PanelState(connected=True, is_on=is_on, updated_at=self._clock())

    def _follow(self, state: State | None) -> None:
        """Take the entity's state; the report time only moves when something changed."""
        new = self._state_from(state)
        if new.evolve(updated_at=None) != self.state.evolve(updated_at=None):
            self._set_state(new)

    async def connect(self) -> None:
        """Follow the entity's state changes (idempotent)."""
        if self._unsub is None:
            self._unsub = async_track_state_change_event(
                self._hass, [self.entity_id], self._handle_state_event
            )
            self._follow(self._hass.states.get(self.entity_id))

    async def disconnect(self) -> None:
        """Stop following the entity; a power change still awaited fails."""
        if self._unsub is not None:
            self._unsub()
            self._unsub = None
        for _, waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(PanelConnectionError(f"{self.entity_id}: link closed"))
        self._waiters.clear()

    @callback
    def _handle_state_event(self, event: Event[EventStateChangedData]) -> None:
        self._follow(event.data["new_state"])
        for want, waiter in list(self._waiters):
            if self.state.is_on is want and not waiter.done():
                waiter.set_result(self._clock())

    async def update(self) -> PanelState:
        """Read the entity's state; raise when it is unavailable or does not exist."""
        await self.connect()
        self._follow(self._hass.states.get(self.entity_id))
        if not self.state.connected:
            raise PanelConnectionError(f"{self.entity_id} is unavailable or does not exist")
        return self.state

    async def set_power(self, on: bool) -> float:
        """Switch the entity and return when its state confirms it (the acknowledgement)."""
        await self.connect()
        if self.state.is_on is on:
            return self._clock()
        if not self.state.connected:
            raise PanelConnectionError(f"{self.entity_id} is unavailable or does not exist")
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        entry = (on, waiter)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(ACK_TIMEOUT_S):
                await self._hass.services.async_call(
                    self._domain,
                    SERVICE_TURN_ON if on else SERVICE_TURN_OFF,
                    {ATTR_ENTITY_ID: self.entity_id},
                    blocking=True,
                )
                return await waiter
        except HomeAssistantError as err:
            raise PanelConnectionError(f"{self.entity_id}: {err}") from err
        except TimeoutError as err:
            raise PanelTimeoutError(
                f"{self.entity_id} did not turn {'on' if on else 'off'} in {ACK_TIMEOUT_S:g} s"
            ) from err
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)
