"""Pause and resume the protocol run a panel shows (the Protocol select in select.py picks it).

Turning it off pauses the run and on resumes it, through the same ``ProtocolManager`` commands
as the ``pause_protocol`` / ``resume_protocol`` actions.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import RedLightTherapyEntity, shown_protocol_run
from .models import RedLightTherapyConfigEntry, RedLightTherapyData
from .therapy import ProtocolPlanStatus

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RedLightTherapyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the panel's protocol run switch."""
    async_add_entities([ProtocolRunSwitch(entry.runtime_data)])


class ProtocolRunSwitch(RedLightTherapyEntity, SwitchEntity):
    """The shown protocol run, as a switch that pauses and resumes it.

    On while it runs, off while paused; turning it off pauses the run and on resumes it
    (``pause_protocol`` / ``resume_protocol``). Unknown with no run, and then turning it either way
    is refused: an unavailable entity would be skipped silently by Home Assistant, so the user would
    never hear why nothing happened.
    """

    _attr_translation_key = "protocol_run"

    def __init__(self, data: RedLightTherapyData) -> None:
        """Make the protocol run switch."""
        super().__init__(data, "protocol_run")

    @property
    def is_on(self) -> bool | None:
        """Whether the shown run is running; unknown without one."""
        run = self._data.protocols.current
        return None if run is None else run.plan.status is ProtocolPlanStatus.ACTIVE

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The shown run's protocol and treatment area."""
        run = self._data.protocols.current
        if run is None:
            return None
        return {"protocol": run.plan.protocol.name, "area": run.plan.area}

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Resume the shown run (refused without one)."""
        run = shown_protocol_run(self._data)
        if run.plan.status is ProtocolPlanStatus.PAUSED:
            await self._data.protocols.async_resume(run.plan.area)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Pause the shown run (refused without one)."""
        run = shown_protocol_run(self._data)
        if run.plan.status is ProtocolPlanStatus.ACTIVE:
            await self._data.protocols.async_pause(run.plan.area)
