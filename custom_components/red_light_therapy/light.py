"""The panel as a light: switching it on starts a timed session, never an open-ended glow."""

from __future__ import annotations

from typing import Any

from homeassistant.components.light import ATTR_BRIGHTNESS, LightEntity
from homeassistant.components.light.const import ColorMode
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import LIGHT_KEY, RedLightTherapyEntity
from .household_entities import person_shown
from .intent_light import async_assist_command
from .models import RedLightTherapyConfigEntry, RedLightTherapyData

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RedLightTherapyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the panel's light: on is a session, brightness the panel's level."""
    async_add_entities([PanelLight(entry.runtime_data)])


def level_to_brightness(level: int) -> int:
    """Return the light's brightness (0..255) for a panel level (0..100)."""
    return round(level * 255 / 100)


def brightness_to_level(brightness: int) -> int:
    """Return the panel level (1..100) for a light brightness (1..255)."""
    return max(1, round(brightness * 100 / 255))


class PanelLight(RedLightTherapyEntity, LightEntity):
    """On/off and overall brightness of all channels."""

    _attr_name = None
    _attr_translation_key = "panel"

    def __init__(self, data: RedLightTherapyData) -> None:
        """Make the light of the panel in ``data``, dimmable when its channels are."""
        super().__init__(data, LIGHT_KEY)
        dimmable = data.panel.capabilities.dimming and bool(data.panel.capabilities.channels)
        mode = ColorMode.BRIGHTNESS if dimmable else ColorMode.ONOFF
        self._attr_color_mode = mode
        self._attr_supported_color_modes = {mode}

    @property
    def is_on(self) -> bool | None:
        """Whether the panel is on."""
        return self.coordinator.data.is_on

    @property
    def brightness(self) -> int | None:
        """The panel's level as a light brightness (None: unknown)."""
        levels = self.coordinator.data.levels
        if self._attr_color_mode is not ColorMode.BRIGHTNESS or not levels:
            return None
        return level_to_brightness(max(levels))

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """What the open session does (nothing when idle).

        Its area (a key, translated by the frontend), the dose it will deliver in J/cm² (total;
        ``target_band`` when it aims for a dose in a band), while running, when it ends, and whose
        session it is (``person``, in words: ``household_entities.person_shown``). Gone as soon
        as the session is being ended: the panel's "off" and the recorded session then make one
        state write, not two.
        """
        sessions = self._data.sessions
        session = sessions.session
        if session is None or session.started_at is None or sessions.end.ending:
            return None
        at = session.last_event_at or session.started_at
        # What the session will deliver, red and NIR together as the Session dose sensor
        # shows it (a clamped run's 67 J/cm² of red is 27.8 of red, 69.5 in all); a session
        # aiming for a dose in one band says which.
        dose = session.planned_dose(at).total
        attributes: dict[str, Any] = {"area": session.area, "target_dose": round(dose, 1)}
        if session.target_dose is not None:
            attributes["target_band"] = session.target_band.value
        if (ends_at := session.ends_at) is not None:
            attributes["ends_at"] = ends_at.isoformat()
        if (name := person_shown(self.hass, session.person)) is not None:
            attributes["person"] = name  # whose session it is, by name
        return attributes

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Start a session of the default length, or set the brightness of a session that runs.

        Off: start a session of the default length, at the brightness asked for (set only once the
        session is allowed: a refused start changes nothing on the panel). On: set the brightness of
        every channel; the running session is re-planned at it.
        """
        panel = self._data.panel
        levels = None
        if ATTR_BRIGHTNESS in kwargs and self._attr_color_mode is ColorMode.BRIGHTNESS:
            level = brightness_to_level(kwargs[ATTR_BRIGHTNESS])
            levels = {channel.index: level for channel in panel.capabilities.channels}
        async with async_assist_command(self.hass, self._context):
            if not self.is_on:
                await self._data.sessions.runner.async_start(levels=levels)
            elif levels is not None:
                await self.coordinator.async_command(panel.set_levels(levels))

    async def async_turn_off(self, **kwargs: Any) -> None:
        """End the session, or switch off a panel that was switched on without one."""
        async with async_assist_command(self.hass, self._context):
            if self._data.sessions.session is not None:
                await self._data.sessions.runner.async_stop()
            else:
                await self.coordinator.async_command(self._data.panel.set_power(False))
