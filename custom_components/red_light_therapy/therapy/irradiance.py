"""Irradiance at the skin: measured points per channel, interpolated, scaled by level.

Large panels lose irradiance with distance far more slowly than inverse-square: lab and
reviewer measurements keep about 86 % of the 15 cm value at 30 cm and about 70 % at 61 cm,
where inverse-square predicts 25 % and 6 % (shared reference, "Irradiance falls with distance
far more slowly than inverse-square"). So a profile is a table of measured points and is
interpolated linearly between them; it is never extrapolated by inverse-square from one number.

Outside the measured range:

- **Nearer than the nearest point: refused** (``DistanceOutOfRangeError``, code
  ``distance_below_measured``). Irradiance rises as you come closer, so holding the nearest
  value would underestimate it and overdose. Measure at that distance (or calibrate there)
  instead.
- **Farther than the farthest point: the farthest value is held.** Irradiance keeps falling
  with distance, so holding overestimates it; a session planned from it is shorter than
  needed, never longer. (Calibration, which scales the whole table, is stricter: it must be
  done inside the measured range, see :meth:`IrradianceProfile.calibrated`.)

Levels scale each channel linearly (0-100 %). Real LED drivers are not perfectly linear, which
is one more reason to measure your own panel. A channel whose level is not given is taken at
100 % (overestimates, so errs towards shorter sessions).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
import math
from types import MappingProxyType
from typing import Any

from ._util import finite, load, stored_number
from .bands import Band, DoseBand, band_for_wavelength
from .errors import DistanceOutOfRangeError, ErrorCode, ProfileError

FULL_LEVEL = 100
"""Measured points are at 100 % level."""

MAX_STORED_IRRADIANCE = 10_000.0
"""mW/cm² per band beyond which a stored irradiance is refused as corrupt: 10 W/cm², some
twenty times the strongest panel at contact."""


@dataclass(frozen=True, slots=True)
class BandIrradiance:
    """Irradiance in mW/cm², split into red and near-infrared."""

    red: float
    nir: float

    def __post_init__(self) -> None:
        """Refuse a band's irradiance that is negative or not finite."""
        for name in ("red", "nir"):
            value = getattr(self, name)
            if not finite(value) or value < 0:
                raise ProfileError(
                    ErrorCode.INVALID_PROFILE, f"irradiance {name}={value!r} is not >= 0"
                )

    @property
    def total(self) -> float:
        """Red and near-infrared together, in mW/cm²."""
        return self.red + self.nir

    def for_band(self, band: DoseBand) -> float:
        """Return the irradiance a target in ``band`` counts (both = total)."""
        if band is DoseBand.RED:
            return self.red
        if band is DoseBand.NIR:
            return self.nir
        return self.total

    def scaled(self, factor: float) -> BandIrradiance:
        """Return this irradiance with both bands multiplied by ``factor``."""
        return BandIrradiance(self.red * factor, self.nir * factor)

    def to_dict(self) -> dict[str, float]:
        """Return the irradiance as stored and shown: red, near-infrared and their total."""
        return {"red": self.red, "nir": self.nir, "total": self.total}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BandIrradiance:
        """Read back a stored irradiance; a band not in 0..MAX_STORED_IRRADIANCE raises."""
        return load(
            data,
            "irradiance",
            lambda d: cls(
                stored_number(d["red"], "red", MAX_STORED_IRRADIANCE),
                stored_number(d["nir"], "nir", MAX_STORED_IRRADIANCE),
            ),
        )


ZERO_IRRADIANCE = BandIrradiance(0.0, 0.0)


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """One channel of a profile: a single wavelength, or a mixed emitter with a red share.

    Give exactly one of ``wavelength_nm`` (the channel is wholly red or wholly NIR) or
    ``red_share`` (0..1, for a channel that drives red and NIR LEDs together, such as the one
    switch of a panel on a smart plug).
    """

    key: str
    wavelength_nm: int | None = None
    red_share: float | None = None

    def __post_init__(self) -> None:
        """Refuse a channel without a key, or with both or neither of a wavelength and red share."""
        if not isinstance(self.key, str) or not self.key:
            raise ProfileError(ErrorCode.INVALID_CHANNEL, "a channel needs a key")
        if (self.wavelength_nm is None) == (self.red_share is None):
            raise ProfileError(
                ErrorCode.INVALID_CHANNEL,
                f"channel {self.key}: give exactly one of wavelength_nm and red_share",
                channel=self.key,
            )
        if self.wavelength_nm is not None:
            band_for_wavelength(self.wavelength_nm)
        elif not finite(self.red_share) or not 0 <= float(self.red_share) <= 1:  # type: ignore[arg-type]
            raise ProfileError(
                ErrorCode.INVALID_CHANNEL,
                f"channel {self.key}: red_share must be within 0..1",
                channel=self.key,
            )

    @property
    def red_fraction(self) -> float:
        """Share of this channel's irradiance that is red (the rest is NIR)."""
        if self.wavelength_nm is not None:
            return 1.0 if band_for_wavelength(self.wavelength_nm) is Band.RED else 0.0
        return float(self.red_share)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """Return the channel as stored."""
        return {"key": self.key, "wavelength_nm": self.wavelength_nm, "red_share": self.red_share}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChannelSpec:
        """Read back a stored channel; anything malformed raises ``StoredDataError``."""
        return load(
            data,
            "channel",
            lambda d: cls(str(d["key"]), d.get("wavelength_nm"), d.get("red_share")),
        )


@dataclass(frozen=True, slots=True)
class MeasuredPoint:
    """mW/cm² per channel key at ``distance_cm``, every channel at 100 % level."""

    distance_cm: float
    mw_cm2: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse a point at no positive distance, or with a negative or non-finite reading."""
        if not finite(self.distance_cm) or self.distance_cm <= 0:
            raise ProfileError(
                ErrorCode.INVALID_PROFILE,
                f"measured distance {self.distance_cm!r} cm is not > 0",
                distance_cm=self.distance_cm,
            )
        object.__setattr__(self, "distance_cm", float(self.distance_cm))
        values = {key: float(value) for key, value in self.mw_cm2.items() if finite(value)}
        for key, value in self.mw_cm2.items():
            if not finite(value) or value < 0:
                raise ProfileError(
                    ErrorCode.INVALID_PROFILE,
                    f"irradiance {value!r} of {key} at {self.distance_cm} cm is not >= 0",
                    channel=key,
                    distance_cm=self.distance_cm,
                )
        object.__setattr__(self, "mw_cm2", MappingProxyType(values))

    def to_dict(self) -> dict[str, Any]:
        """Return the measured point as stored."""
        return {"distance_cm": self.distance_cm, "mw_cm2": dict(self.mw_cm2)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MeasuredPoint:
        """Read back a stored measured point; anything malformed raises ``StoredDataError``."""
        return load(
            data,
            "measured point",
            lambda d: cls(
                float(d["distance_cm"]), {str(k): float(v) for k, v in d["mw_cm2"].items()}
            ),
        )


def _check_distance(distance_cm: float) -> float:
    if not finite(distance_cm) or distance_cm <= 0:
        raise ProfileError(
            ErrorCode.INVALID_DISTANCE,
            f"distance {distance_cm!r} cm is not a positive number",
            distance_cm=distance_cm,
        )
    return float(distance_cm)


@dataclass(frozen=True, slots=True)
class IrradianceProfile:
    """A panel's measured irradiance table. ``source`` says where the numbers come from."""

    name: str
    source: str
    channels: tuple[ChannelSpec, ...]
    points: tuple[MeasuredPoint, ...]

    def __post_init__(self) -> None:
        """Refuse a profile missing a name, channel or point, or repeating a key or distance.

        Its points are kept sorted by distance.
        """
        if not self.name:
            raise ProfileError(ErrorCode.INVALID_PROFILE, "a profile needs a name")
        channels = tuple(self.channels)
        points = tuple(sorted(self.points, key=lambda p: p.distance_cm))
        if not channels:
            raise ProfileError(ErrorCode.INVALID_PROFILE, "a profile needs a channel")
        keys = [c.key for c in channels]
        if len(set(keys)) != len(keys):
            raise ProfileError(ErrorCode.INVALID_PROFILE, "channel keys must be unique")
        if not points:
            raise ProfileError(ErrorCode.INVALID_PROFILE, "a profile needs a measured point")
        distances = [p.distance_cm for p in points]
        if len(set(distances)) != len(distances):
            raise ProfileError(ErrorCode.INVALID_PROFILE, "measured distances must be unique")
        for point in points:
            if set(point.mw_cm2) != set(keys):
                raise ProfileError(
                    ErrorCode.INVALID_PROFILE,
                    f"the point at {point.distance_cm} cm must give every channel, no more",
                    distance_cm=point.distance_cm,
                )
        object.__setattr__(self, "channels", channels)
        object.__setattr__(self, "points", points)

    @property
    def channel_keys(self) -> tuple[str, ...]:
        """The channels' keys, in the profile's order."""
        return tuple(c.key for c in self.channels)

    @property
    def min_distance_cm(self) -> float:
        """The nearest distance measured, in cm."""
        return self.points[0].distance_cm

    @property
    def max_distance_cm(self) -> float:
        """The farthest distance measured, in cm."""
        return self.points[-1].distance_cm

    def channel_irradiance(self, distance_cm: float) -> dict[str, float]:
        """mW/cm² per channel at 100 % level, interpolated linearly between measured points.

        Raises ``DistanceOutOfRangeError`` nearer than the nearest point; holds the farthest
        value beyond the farthest point (see the module docstring for why).
        """
        distance = _check_distance(distance_cm)
        points = self.points
        if distance < points[0].distance_cm:
            raise DistanceOutOfRangeError(
                ErrorCode.DISTANCE_BELOW_MEASURED,
                f"{distance} cm is nearer than the nearest measured point "
                f"({points[0].distance_cm} cm) of {self.name}",
                distance_cm=distance,
                min_distance_cm=points[0].distance_cm,
            )
        if distance >= points[-1].distance_cm:
            return dict(points[-1].mw_cm2)
        index = bisect_left([p.distance_cm for p in points], distance)
        upper = points[index]
        if upper.distance_cm == distance:
            return dict(upper.mw_cm2)
        lower = points[index - 1]
        share = (distance - lower.distance_cm) / (upper.distance_cm - lower.distance_cm)
        return {
            key: lower.mw_cm2[key] + (upper.mw_cm2[key] - lower.mw_cm2[key]) * share
            for key in self.channel_keys
        }

    def _levels(self, levels: Mapping[str, int] | None) -> dict[str, int]:
        resolved = dict.fromkeys(self.channel_keys, FULL_LEVEL)
        for key, level in (levels or {}).items():
            if key not in resolved:
                raise ProfileError(
                    ErrorCode.UNKNOWN_CHANNEL,
                    f"{self.name} has no channel {key!r}",
                    channel=key,
                )
            if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 100:
                raise ProfileError(
                    ErrorCode.INVALID_LEVEL,
                    f"level {level!r} of {key} is not an integer 0..100",
                    channel=key,
                    level=level,
                )
            resolved[key] = level
        return resolved

    def irradiance(
        self, distance_cm: float, levels: Mapping[str, int] | None = None
    ) -> BandIrradiance:
        """Red, NIR and total mW/cm² at ``distance_cm`` with channel ``levels`` (0..100).

        Channels missing from ``levels`` count at 100 %.
        """
        resolved = self._levels(levels)
        per_channel = self.channel_irradiance(distance_cm)
        red = nir = 0.0
        for channel in self.channels:
            level = resolved[channel.key]
            value = per_channel[channel.key]
            if level != FULL_LEVEL:  # keep measured points exact at full level
                value = value * level / FULL_LEVEL
            red += value * channel.red_fraction
            nir += value * (1.0 - channel.red_fraction)
        return BandIrradiance(red, nir)

    def scaled(
        self, factor: float, name: str | None = None, source: str | None = None
    ) -> IrradianceProfile:
        """Return the same profile with every measured value multiplied by ``factor``."""
        if not finite(factor) or factor <= 0:
            raise ProfileError(ErrorCode.INVALID_CALIBRATION, f"scale factor {factor!r} is not > 0")
        return IrradianceProfile(
            name=name or self.name,
            source=source or self.source,
            channels=self.channels,
            points=tuple(
                MeasuredPoint(p.distance_cm, {k: v * factor for k, v in p.mw_cm2.items()})
                for p in self.points
            ),
        )

    def calibrated(
        self,
        distance_cm: float,
        measured_mw_cm2: float,
        levels: Mapping[str, int] | None = None,
    ) -> IrradianceProfile:
        """Scale the whole table so it reads ``measured_mw_cm2`` (total) at ``distance_cm``.

        The distance must lie inside the measured range: beyond the farthest point the held
        value overestimates the real one, and a calibration from it would scale the near
        points *down*, which would underestimate irradiance up close (overdose risk).
        ``levels`` are the channel levels during the meter reading (default all 100 %).
        The shape (how irradiance falls with distance, the red/NIR split) is kept.
        """
        distance = _check_distance(distance_cm)
        if not finite(measured_mw_cm2) or measured_mw_cm2 <= 0:
            raise ProfileError(
                ErrorCode.INVALID_CALIBRATION,
                f"measured irradiance {measured_mw_cm2!r} mW/cm² is not > 0",
                measured_mw_cm2=measured_mw_cm2,
            )
        if not self.min_distance_cm <= distance <= self.max_distance_cm:
            raise DistanceOutOfRangeError(
                ErrorCode.CALIBRATION_OUT_OF_RANGE,
                f"calibrate within the measured range {self.min_distance_cm}-"
                f"{self.max_distance_cm} cm",
                distance_cm=distance,
                min_distance_cm=self.min_distance_cm,
                max_distance_cm=self.max_distance_cm,
            )
        predicted = self.irradiance(distance, levels).total
        if predicted <= 0:
            raise ProfileError(
                ErrorCode.INVALID_CALIBRATION,
                "the profile predicts no irradiance there, nothing to scale",
            )
        factor = measured_mw_cm2 / predicted
        return self.scaled(
            factor,
            name=f"{self.name} (calibrated)",
            source=(
                f"{self.source} Scaled by {factor:.3f} from a meter reading of "
                f"{measured_mw_cm2:g} mW/cm² at {distance:g} cm."
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the profile as stored."""
        return {
            "name": self.name,
            "source": self.source,
            "channels": [c.to_dict() for c in self.channels],
            "points": [p.to_dict() for p in self.points],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IrradianceProfile:
        """Read back a stored profile; anything malformed raises ``StoredDataError``."""
        return load(
            data,
            "profile",
            lambda d: cls(
                name=str(d["name"]),
                source=str(d["source"]),
                channels=tuple(ChannelSpec.from_dict(c) for c in d["channels"]),
                points=tuple(MeasuredPoint.from_dict(p) for p in d["points"]),
            ),
        )


# ---------------------------------------------------------------------------------------------
# Default profiles
# ---------------------------------------------------------------------------------------------

LAB_DISTANCES_CM: tuple[float, ...] = (15.0, 30.0, 61.0, 91.0)
"""6 / 12 / 24 / 36 in, the distances of the lab and reviewer measurements."""

LAB_MEDIAN_SHAPE: tuple[float, ...] = (1.0, 0.86, 0.70, 49.4 / 71.7)
"""Share of the 15 cm irradiance left at each of ``LAB_DISTANCES_CM``.

0.86 at 30 cm and 0.70 at 61 cm: the median over the panels measured in the shared reference
(Bestqool Pro300 and Helio Glow, accredited lab; Advantage1500 and older MitoPRO1500,
reviewer). 91 cm: only Helio Glow was measured there, 49.4 of 71.7 mW/cm² (≈ 0.69). Scaling
Helio Glow's 61→91 cm drop onto the median would give ≈ 0.53; we keep the higher 0.69
(judgement: higher irradiance → shorter sessions, the safe direction)."""

BLOCKBLUELIGHT_CHANNELS: tuple[tuple[str, int], ...] = (
    ("red_630", 630),
    ("red_660", 660),
    ("nir_810", 810),
    ("nir_830", 830),
    ("nir_850", 850),
)
"""The five channels of BlockBlueLight panels (keys as the glue maps them)."""

BLOCKBLUELIGHT_TOTAL_AT_15CM = 60.0
"""mW/cm² of all five channels at 15 cm, full output. Judgement: BlockBlueLight panels were not
in the measured set; 60 is the lowest 15 cm figure of the large panels that were (60-86 mW/cm²),
rather than any manufacturer claim (claims run far above lab figures)."""

BLOCKBLUELIGHT_SOURCE = (
    "Conservative default, not a measurement of this panel: 60 mW/cm² at 15 cm in total, split "
    "evenly over the five channels, falling with distance like the lab median of large panels "
    "(86 % at 30 cm, 70 % at 61 cm, 69 % at 91 cm; accredited-lab and reviewer measurements of "
    "Bestqool Pro300, Helio Glow, Advantage1500 and MitoPRO1500). Measure your own panel with a "
    "meter and calibrate."
)


def _shape_points(
    channel_values_at_15cm: Mapping[str, float],
    distances: tuple[float, ...] = LAB_DISTANCES_CM,
    shape: tuple[float, ...] = LAB_MEDIAN_SHAPE,
) -> tuple[MeasuredPoint, ...]:
    return tuple(
        MeasuredPoint(d, {k: v * s for k, v in channel_values_at_15cm.items()})
        for d, s in zip(distances, shape, strict=True)
    )


def blockbluelight_profile() -> IrradianceProfile:
    """Return the conservative default profile of a five-channel BlockBlueLight panel."""
    per_channel = BLOCKBLUELIGHT_TOTAL_AT_15CM / len(BLOCKBLUELIGHT_CHANNELS)
    return IrradianceProfile(
        name="BlockBlueLight (conservative default)",
        source=BLOCKBLUELIGHT_SOURCE,
        channels=tuple(ChannelSpec(key, nm) for key, nm in BLOCKBLUELIGHT_CHANNELS),
        points=_shape_points(dict.fromkeys((k for k, _ in BLOCKBLUELIGHT_CHANNELS), per_channel)),
    )


SINGLE_CHANNEL_KEY = "all"
"""The one channel of a light or switch that drives every emitter at once."""

DEFAULT_RED_SHARE = 0.5
"""Red share of a mixed panel whose split is unknown. Judgement: most panels mix red and NIR
LEDs in similar numbers; the total, which the limits use, does not depend on it."""


def single_channel_profile(
    name: str,
    source: str,
    points: Mapping[float, float],
    red_share: float = DEFAULT_RED_SHARE,
    key: str = SINGLE_CHANNEL_KEY,
) -> IrradianceProfile:
    """Return a profile for a wrapped light or switch.

    It has one channel, and total mW/cm² by distance (cm).
    """
    return IrradianceProfile(
        name=name,
        source=source,
        channels=(ChannelSpec(key, red_share=red_share),),
        points=tuple(MeasuredPoint(d, {key: v}) for d, v in points.items()),
    )


def _measured(values: tuple[float | None, ...]) -> dict[float, float]:
    return {d: v for d, v in zip(LAB_DISTANCES_CM, values, strict=True) if v is not None}


GENERIC_LARGE_PANEL_AT_15CM = math.floor((68.9 + 71.7) / 2 * 10) / 10
"""70.3 mW/cm²: the median of the four 15 cm figures (60, 68.9, 71.7, 86) in the reference."""

PRESET_PROFILES: Mapping[str, IrradianceProfile] = MappingProxyType(
    {
        "generic_large_panel": single_channel_profile(
            "Generic large panel (lab median)",
            "Median of accredited-lab and reviewer measurements of four large panels "
            "(70.3 mW/cm² at 15 cm, 86 % of it at 30 cm, 70 % at 61 cm, 69 % at 91 cm). "
            "Red/NIR split assumed 50/50 (judgement). Not your panel: measure and calibrate.",
            dict(
                zip(
                    LAB_DISTANCES_CM,
                    (GENERIC_LARGE_PANEL_AT_15CM * s for s in LAB_MEDIAN_SHAPE),
                    strict=True,
                )
            ),
        ),
        "bestqool_pro300": single_channel_profile(
            "Bestqool Pro300 (lab)",
            "Accredited-lab measurement: 68.9 mW/cm² at 15 cm, 59.0 at 30 cm; held beyond. "
            "Red/NIR split assumed 50/50 (judgement).",
            _measured((68.9, 59.0, None, None)),
        ),
        "helio_glow": single_channel_profile(
            "Helio Glow (lab)",
            "Accredited-lab measurement: 71.7 / 75.0 / 65.3 / 49.4 mW/cm² at 15 / 30 / 61 / "
            "91 cm. Red/NIR split assumed 50/50 (judgement).",
            _measured((71.7, 75.0, 65.3, 49.4)),
        ),
        "advantage1500": single_channel_profile(
            "Advantage1500 (reviewer)",
            "Reviewer measurement: 60 / 50 / 28 mW/cm² at 15 / 30 / 61 cm; held beyond. "
            "Red/NIR split assumed 50/50 (judgement).",
            _measured((60.0, 50.0, 28.0, None)),
        ),
        "mitopro1500_older": single_channel_profile(
            "MitoPRO1500, older model (reviewer)",
            "Reviewer measurement: 86 mW/cm² at 15 cm, 40 at 61 cm; held beyond. "
            "Red/NIR split assumed 50/50 (judgement).",
            _measured((86.0, None, 40.0, None)),
        ),
    }
)
"""Profiles for a wrapped light or switch, by key. Measured panels are the reference's
figures for those models; use ``calibrated`` with your own meter reading where you can."""
