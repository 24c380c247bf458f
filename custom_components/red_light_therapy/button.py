"""Buttons to start and stop a session, and to skip the shown protocol run's next session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import RedLightDescribedEntity, shown_protocol_run
from .models import RedLightTherapyConfigEntry, RedLightTherapyData

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class RedLightButtonEntityDescription(ButtonEntityDescription):
    """A button of one panel and what pressing it does."""

    press_fn: Callable[[RedLightTherapyData], Awaitable[Any]]


async def _skip_protocol_session(data: RedLightTherapyData) -> None:
    """Skip the shown run's next session, the due one, else the next planned one.

    Like ``skip_session``: it counts neither done nor missed.
    """
    run = shown_protocol_run(data)
    await data.protocols.async_skip(run.plan.area)


BUTTONS: tuple[RedLightButtonEntityDescription, ...] = (
    RedLightButtonEntityDescription(
        # A session of the default length.
        key="start_session",
        translation_key="start_session",
        press_fn=lambda data: data.sessions.runner.async_start(),
    ),
    RedLightButtonEntityDescription(
        # The running or paused session.
        key="stop_session",
        translation_key="stop_session",
        press_fn=lambda data: data.sessions.runner.async_stop(),
    ),
    RedLightButtonEntityDescription(
        key="skip_protocol_session",
        translation_key="skip_protocol_session",
        press_fn=_skip_protocol_session,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RedLightTherapyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the panel's buttons."""
    data = entry.runtime_data
    async_add_entities(RedLightButton(data, description) for description in BUTTONS)


class RedLightButton(RedLightDescribedEntity[RedLightButtonEntityDescription], ButtonEntity):
    """A panel's button, as its description says."""

    entity_description: RedLightButtonEntityDescription

    async def async_press(self) -> None:
        """Do what the button is for."""
        await self.entity_description.press_fn(self._data)
