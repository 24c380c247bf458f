"""Dose (fluence) from irradiance and time: H [J/cm²] = E [mW/cm²] x t [s] / 1000.

Shared reference, "Units": irradiance E in mW/cm², dose H in J/cm²; ten minutes at E gives
0.6·E J/cm². Red and NIR are tracked separately as well as in total.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._util import finite, load, stored_number
from .bands import DoseBand
from .errors import DoseError, ErrorCode
from .irradiance import BandIrradiance

MW_S_PER_J = 1000.0

BAND_WORDS = {
    DoseBand.RED: "red",
    DoseBand.NIR: "near-infrared",
    DoseBand.BOTH: "red or near-infrared",
}
"""How a band is named in a sentence ("emits no near-infrared light")."""
"""mW·s per J: H = E x t / 1000."""

MAX_STORED_DOSE = 100_000.0
"""J/cm² per band beyond which a stored dose is refused as corrupt: a whole day at 1 W/cm² is
86 400 J/cm², far past any panel and any protocol (which ask for 1-100). A sum of years of
such doses stays a finite float; 1e308 would not."""


@dataclass(frozen=True, slots=True)
class BandDose:
    """A dose in J/cm², split into red and near-infrared."""

    red: float = 0.0
    nir: float = 0.0

    def __post_init__(self) -> None:
        """Refuse a band's dose that is negative or not finite."""
        for name in ("red", "nir"):
            value = getattr(self, name)
            if not finite(value) or value < 0:
                raise DoseError(ErrorCode.INVALID_DOSE, f"dose {name}={value!r} is not >= 0")

    @property
    def total(self) -> float:
        """Red and near-infrared together, in J/cm²."""
        return self.red + self.nir

    def for_band(self, band: DoseBand) -> float:
        """Return the dose a target in ``band`` counts (both = total)."""
        if band is DoseBand.RED:
            return self.red
        if band is DoseBand.NIR:
            return self.nir
        return self.total

    def __add__(self, other: BandDose) -> BandDose:
        """Add two doses band by band."""
        return BandDose(self.red + other.red, self.nir + other.nir)

    @staticmethod
    def sum(doses: Iterable[BandDose]) -> BandDose:
        """Return the band-by-band sum of ``doses`` (zero for none)."""
        red = nir = 0.0
        for dose in doses:
            red += dose.red
            nir += dose.nir
        return BandDose(red, nir)

    def to_dict(self) -> dict[str, float]:
        """Return the dose as stored and shown: red, near-infrared and their total."""
        return {"red": self.red, "nir": self.nir, "total": self.total}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BandDose:
        """Read back a stored dose; a band that is not a number in 0..MAX_STORED_DOSE raises."""
        return load(
            data,
            "dose",
            lambda d: cls(
                stored_number(d["red"], "red", MAX_STORED_DOSE),
                stored_number(d["nir"], "nir", MAX_STORED_DOSE),
            ),
        )


ZERO_DOSE = BandDose()


def _check_seconds(seconds: float) -> float:
    if not finite(seconds) or seconds < 0:
        raise DoseError(
            ErrorCode.INVALID_DURATION, f"duration {seconds!r} s is not >= 0", seconds=seconds
        )
    return float(seconds)


def dose_for_seconds(irradiance: BandIrradiance, seconds: float) -> BandDose:
    """Return the dose ``seconds`` of ``irradiance`` deliver, per band."""
    t = _check_seconds(seconds)
    return BandDose(irradiance.red * t / MW_S_PER_J, irradiance.nir * t / MW_S_PER_J)


def seconds_for_dose(
    irradiance: BandIrradiance, dose_j_cm2: float, band: DoseBand = DoseBand.BOTH
) -> float:
    """Seconds of ``irradiance`` that deliver ``dose_j_cm2`` in ``band`` (both = total)."""
    if not finite(dose_j_cm2) or dose_j_cm2 < 0:
        raise DoseError(
            ErrorCode.INVALID_DOSE, f"dose {dose_j_cm2!r} J/cm² is not >= 0", dose=dose_j_cm2
        )
    e = irradiance.for_band(band)
    if e <= 0:
        raise DoseError(
            ErrorCode.NO_IRRADIANCE_IN_BAND,
            f"the panel emits no {BAND_WORDS[band]} light at these levels and distance",
            band=BAND_WORDS[band],
        )
    return float(dose_j_cm2) * MW_S_PER_J / e
