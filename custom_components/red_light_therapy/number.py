"""Per-wavelength channel levels, and the default session length."""

from __future__ import annotations

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberMode,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfLength, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import MAX_DISTANCE_CM, MAX_SESSION_MINUTES
from .entity import RedLightTherapyEntity
from .models import RedLightTherapyConfigEntry, RedLightTherapyData
from .panels.base import Channel

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RedLightTherapyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the panel's numbers: session minutes, distance, and each channel's level when it dims."""
    data = entry.runtime_data
    entities: list[RedLightTherapyEntity] = [SessionDurationNumber(data), DistanceNumber(data)]
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


class SessionDurationNumber(RedLightTherapyEntity, NumberEntity):
    """How long a session lasts when it is started without a length (the light, the button)."""

    _attr_translation_key = "session_duration"
    _attr_entity_category = EntityCategory.CONFIG
    _attr_device_class = NumberDeviceClass.DURATION
    _attr_native_min_value = 1
    _attr_native_max_value = MAX_SESSION_MINUTES
    _attr_native_step = 1
    _attr_native_unit_of_measurement = UnitOfTime.MINUTES
    _attr_mode = NumberMode.BOX

    def __init__(self, data: RedLightTherapyData) -> None:
        """Make the session length number."""
        super().__init__(data, "session_duration")

    @property
    def native_value(self) -> float:
        """The minutes a session started without a length runs."""
        return _as_read(self._data.sessions.panel_settings.default_duration.total_seconds() / 60)

    async def async_set_native_value(self, value: float) -> None:
        """Save the minutes a session started without a length runs."""
        await self._data.sessions.panel_settings.async_set_minutes(value)


class DistanceNumber(RedLightTherapyEntity, NumberEntity):
    """Distance from the skin to the panel: it sets the irradiance and so the dose."""

    _attr_translation_key = "distance"
    _attr_entity_category = EntityCategory.CONFIG
    _attr_device_class = NumberDeviceClass.DISTANCE
    _attr_native_step = 1
    _attr_native_max_value = MAX_DISTANCE_CM
    _attr_native_unit_of_measurement = UnitOfLength.CENTIMETERS
    _attr_mode = NumberMode.BOX

    def __init__(self, data: RedLightTherapyData) -> None:
        """Make the distance number, from the nearest to the farthest measured distance."""
        super().__init__(data, "distance")
        # Nearer than the nearest measured point is refused (the dose would be underestimated).
        self._attr_native_min_value = data.sessions.panel_settings.profile.min_distance_cm

    @property
    def native_value(self) -> float:
        """The distance to the panel, in cm."""
        return _as_read(self._data.sessions.panel_settings.distance_cm)

    async def async_set_native_value(self, value: float) -> None:
        """Save the distance to the panel."""
        await self._data.sessions.panel_settings.async_set_distance(value)
