"""The panel's settings, and the irradiance they give at its channel levels now.

Its treatment area, distance, default session length and calibration. Persisted with the therapy
data; a change updates this panel's entities only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
import logging
from typing import Any

from .const import DEFAULT_DISTANCE_CM
from .panels.base import Panel
from .store import TherapyStore
from .therapy import (
    DEFAULT_PANEL_AREA,
    BandIrradiance,
    IrradianceProfile,
    Limits,
    TherapyError,
    default_limits,
    default_session_seconds,
    validate_area,
)
from .words import therapy_error

_LOGGER = logging.getLogger(__name__)

SETTING_MINUTES = "minutes"
"""The settings key of the session length, in minutes."""
SETTING_DISTANCE = "distance_cm"
"""The settings key of the distance from the panel to the skin, in cm."""
SETTING_AREA = "area"
"""The settings key of the area the panel treats."""
SETTING_PERSON = "person"
"""The settings key of the panel's "Who is using the panel" choice (a person entity id)."""


class PanelSettings:
    """One panel's settings, kept in the store under its config entry id."""

    def __init__(
        self,
        store: TherapyStore,
        panel: Panel,
        panel_id: str,
        profile: IrradianceProfile,
        changed: Callable[[], None],
    ) -> None:
        """Read the panel's settings from ``store``; ``changed`` tells its entities."""
        self._store = store
        self._panel = panel
        self._panel_id = panel_id
        self._changed = changed
        self._base_profile = profile
        self.profile = profile
        if (calibration := self.get("calibration")) is not None:
            try:
                self.profile = profile.calibrated(
                    calibration["distance_cm"], calibration["measured_mw_cm2"]
                )
            except TherapyError as err:
                _LOGGER.warning("Ignoring a stored calibration that no longer fits: %s", err)

    @property
    def default_duration(self) -> timedelta:
        """The length of a session started without one (the light, the Start button).

        The "Session duration" the user set, else the factory length fitted to the panel's area at
        its irradiance now (``therapy.default_session_seconds``): what will run.
        """
        return timedelta(seconds=self.default_seconds(self.area, self.irradiance))

    @default_duration.setter
    def default_duration(self, value: timedelta) -> None:
        self._store.async_set_setting(self._panel_id, SETTING_MINUTES, value.total_seconds() / 60)

    def default_seconds(self, area: str, irradiance: BandIrradiance | None) -> float:
        """Return the default length in seconds of a session on ``area`` at ``irradiance``."""
        if (minutes := self.get(SETTING_MINUTES)) is not None:
            return float(minutes) * 60
        limits = self.limits(area)
        return default_session_seconds(limits, irradiance or BandIrradiance(0.0, 0.0))

    @property
    def distance_cm(self) -> float:
        """The distance to the panel in cm the user set, else the default for its profile."""
        distance = self.get(SETTING_DISTANCE)
        if distance is None:
            distance = max(DEFAULT_DISTANCE_CM, self.profile.min_distance_cm)
        return float(distance)

    @property
    def area(self) -> str:
        """The panel's default treatment area (an ``Area`` value)."""
        area = self.get(SETTING_AREA)
        return str(DEFAULT_PANEL_AREA.value if area is None else area)

    async def async_calibrate(self, distance_cm: float, measured_mw_cm2: float) -> None:
        """Scale the profile to a meter reading (total mW/cm² at full output, at a distance)."""
        try:
            profile = self._base_profile.calibrated(distance_cm, measured_mw_cm2)
        except TherapyError as err:
            raise therapy_error(err) from err
        self.profile = profile
        self._store.async_set_setting(
            self._panel_id,
            "calibration",
            {"distance_cm": distance_cm, "measured_mw_cm2": measured_mw_cm2},
        )
        self._changed()

    def get(self, key: str) -> Any:
        """Return the stored value of one setting, or None when it was never set."""
        return self._store.setting(self._panel_id, key)

    async def async_set_setting(self, key: str, value: Any) -> None:
        """Store one setting after checking it (an area, a distance the profile covers)."""
        if key == SETTING_AREA:
            value = self.validated_area(value)
        elif key == SETTING_DISTANCE:
            self.irradiance_at(float(value))  # raises when outside the measured range
        self._store.async_set_setting(self._panel_id, key, value)
        self._changed()

    async def async_set_minutes(self, minutes: float) -> None:
        """Store the session length the panel's light and Start button use."""
        await self.async_set_setting(SETTING_MINUTES, minutes)

    async def async_set_distance(self, distance_cm: float) -> None:
        """Store the distance from the panel to the skin (one the profile covers)."""
        await self.async_set_setting(SETTING_DISTANCE, distance_cm)

    async def async_set_area(self, area: str) -> None:
        """Store the area the panel treats (never the eyes)."""
        await self.async_set_setting(SETTING_AREA, area)

    async def async_set_person(self, person: str) -> None:
        """Store who is using the panel (a person entity id)."""
        await self.async_set_setting(SETTING_PERSON, person)

    def limits(self, area: str) -> Limits:
        """Return the limits of a session on ``area``."""
        return default_limits(area)

    def levels(self, by_index: Mapping[int, int] | None = None) -> dict[str, int] | None:
        """Channel levels keyed like the profile's channels (None: full output).

        The panel's current levels, or ``by_index`` (levels by panel channel index, as a
        session is about to set them) when given.
        """
        if by_index is not None:
            levels: tuple[int, ...] | None = tuple(
                by_index[c.index] for c in self._panel.capabilities.channels
            )
        else:
            levels = self._panel.state.levels
        channels = self.profile.channels
        if not levels or len(levels) != len(channels):
            return None
        return {spec.key: level for spec, level in zip(channels, levels, strict=True)}

    def irradiance_at(
        self, distance_cm: float | None = None, levels: Mapping[int, int] | None = None
    ) -> BandIrradiance:
        """Return the irradiance at a distance (the panel's by default) and channel levels."""
        try:
            return self.profile.irradiance(distance_cm or self.distance_cm, self.levels(levels))
        except TherapyError as err:
            raise therapy_error(err) from err

    @property
    def irradiance(self) -> BandIrradiance | None:
        """The irradiance at the panel's distance and levels now (None: outside the profile)."""
        try:
            return self.profile.irradiance(self.distance_cm, self.levels())
        except TherapyError:
            return None

    def validated_area(self, area: str) -> str:
        """Return ``area`` checked as a treatment area's key (refused when unknown)."""
        try:
            return validate_area(area).value
        except TherapyError as err:
            raise therapy_error(err) from err
