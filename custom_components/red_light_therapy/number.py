"""Per-wavelength channel levels, the default session length and the distance to the panel.

The session length and the distance are each a description (``value_fn`` reads the panel's
setting, ``set_fn`` saves it, ``min_value_fn`` the nearest distance its profile was measured at)
read by one entity class; each channel's level is a ``ChannelLevelNumber`` of its own (its
wavelength in its name and entity id).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfLength, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import MAX_DISTANCE_CM, MAX_SESSION_MINUTES
from .entity import RedLightDescribedEntity, RedLightTherapyEntity
from .models import RedLightTherapyConfigEntry, RedLightTherapyData
from .panels.base import Channel

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class RedLightNumberEntityDescription(NumberEntityDescription):
    """A setting of one panel shown as a number: how it is read and saved."""

    value_fn: Callable[[RedLightTherapyData], float]
    set_fn: Callable[[RedLightTherapyData, float], Awaitable[None]]
    min_value_fn: Callable[[RedLightTherapyData], float] | None = None
    """The least value for this panel, when it depends on the panel (else ``native_min_value``)."""


NUMBERS: tuple[RedLightNumberEntityDescription, ...] = (
    RedLightNumberEntityDescription(
        # How long a session lasts when it is started without a length (the light, the button).
        key="session_duration",
        translation_key="session_duration",
        entity_category=EntityCategory.CONFIG,
        device_class=NumberDeviceClass.DURATION,
        native_min_value=1,
        native_max_value=MAX_SESSION_MINUTES,
        native_step=1,
        native_unit_of_measurement=UnitOfTime.MINUTES,
        mode=NumberMode.BOX,
        value_fn=lambda data: data.sessions.panel_settings.default_duration.total_seconds() / 60,
        set_fn=lambda data, value: data.sessions.panel_settings.async_set_minutes(value),
    ),
    RedLightNumberEntityDescription(
        # From the skin to the panel, in cm: it sets the irradiance and so the dose.
        key="distance",
        translation_key="distance",
        entity_category=EntityCategory.CONFIG,
        device_class=NumberDeviceClass.DISTANCE,
        native_max_value=MAX_DISTANCE_CM,
        native_step=1,
        native_unit_of_measurement=UnitOfLength.CENTIMETERS,
        mode=NumberMode.BOX,
        value_fn=lambda data: data.sessions.panel_settings.distance_cm,
        set_fn=lambda data, value: data.sessions.panel_settings.async_set_distance(value),
        # Nearer than the nearest measured point is refused (the dose would be underestimated).
        min_value_fn=lambda data: data.sessions.panel_settings.profile.min_distance_cm,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RedLightTherapyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the panel's numbers: session minutes, distance, and each channel's level when it dims."""
    data = entry.runtime_data
    entities: list[RedLightTherapyEntity] = [RedLightNumber(data, number) for number in NUMBERS]
    if data.panel.capabilities.dimming:
        entities += [ChannelLevelNumber(data, ch) for ch in data.panel.capabilities.channels]
    async_add_entities(entities)


def _as_read(value: float) -> float:
    """Return a whole number as a whole number ("5 min", "15 cm", not "5.0"); others to 0.1."""
    rounded = round(value, 1)
    return int(rounded) if rounded.is_integer() else rounded


class ChannelLevelNumber(RedLightTherapyEntity, NumberEntity):
    """The level (0-100 %) of one wavelength channel, as the panel reports it."""

    _attr_translation_key = "channel_level"
    _attr_native_min_value = 0
    _attr_native_max_value = 100
    _attr_native_step = 1
    _attr_native_unit_of_measurement = PERCENTAGE
    _attr_mode = NumberMode.SLIDER

    def __init__(self, data: RedLightTherapyData, channel: Channel) -> None:
        """Make the level number of ``channel``."""
        super().__init__(data, f"channel_{channel.index + 1}_level")
        self._channel = channel
        self._attr_translation_placeholders = {
            "channel": str(channel.index + 1),
            "wavelength": str(channel.wavelength_nm),
        }

    @property
    def suggested_object_id(self) -> str:
        """The name a new install's entity id is made from: it names the wavelength.

        That is ``number.<panel>_channel_1_630_nm``, so automations, blueprints and the README's
        examples keep working. Existing installs keep theirs in the entity registry anyway.
        """
        return f"channel {self._channel.index + 1} {self._channel.wavelength_nm} nm"

    @property
    def native_value(self) -> float | None:
        """The channel's level, 0..100 (unknown until the panel reported it)."""
        levels = self.coordinator.data.levels
        return levels[self._channel.index] if self._channel.index < len(levels) else None

    async def async_set_native_value(self, value: float) -> None:
        """Set the channel's level on the panel."""
        await self.coordinator.async_command(
            self._data.panel.set_levels({self._channel.index: round(value)})
        )


class RedLightNumber(RedLightDescribedEntity[RedLightNumberEntityDescription], NumberEntity):
    """A panel's setting as a number, as its description says."""

    entity_description: RedLightNumberEntityDescription

    def __init__(
        self, data: RedLightTherapyData, description: RedLightNumberEntityDescription
    ) -> None:
        """Make the number ``description`` describes, from the least value for this panel."""
        super().__init__(data, description)
        if description.min_value_fn is not None:
            self._attr_native_min_value = description.min_value_fn(data)

    @property
    def native_value(self) -> float:
        """The setting, a whole number shown whole ("5 min", "15 cm")."""
        return _as_read(self.entity_description.value_fn(self._data))

    async def async_set_native_value(self, value: float) -> None:
        """Save the setting."""
        await self.entity_description.set_fn(self._data, value)
