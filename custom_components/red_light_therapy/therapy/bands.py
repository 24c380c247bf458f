"""Spectral bands the dose model counts separately.

Red is 600-700 nm and near-infrared 700-900 nm (shared reference, "Units": track red and NIR
dose separately as well as in total, because indications name a band and panels mix channels).
Panels with 940 nm emitters exist, so NIR is accepted up to 1000 nm (a judgement call: they
are counted as NIR). Anything below 600 nm (amber, green, blue) is not a therapy band here.
"""

from __future__ import annotations

from enum import StrEnum

from .errors import ErrorCode, ProfileError

RED_MIN_NM = 600
"""Lower edge of the red band (shared reference: red 600-700 nm)."""
NIR_MIN_NM = 700
"""Lower edge of the near-infrared band (shared reference: NIR 700-900 nm)."""
NIR_MAX_NM = 1000
"""Upper edge accepted for NIR: 900 nm in the reference, widened to 1000 nm (judgement) so
panels with 940 nm emitters can be modelled."""


class Band(StrEnum):
    """The band a channel emits in."""

    RED = "red"
    NIR = "nir"


class DoseBand(StrEnum):
    """The band a dose target or protocol counts: red, NIR, or both (the total)."""

    RED = "red"
    NIR = "nir"
    BOTH = "both"


def band_for_wavelength(nm: int) -> Band:
    """Red for 600-699 nm, NIR for 700-1000 nm; anything else raises ``ProfileError``."""
    if isinstance(nm, bool) or not isinstance(nm, int) or not RED_MIN_NM <= nm <= NIR_MAX_NM:
        raise ProfileError(
            ErrorCode.WAVELENGTH_OUT_OF_RANGE,
            f"wavelength {nm!r} nm is outside {RED_MIN_NM}-{NIR_MAX_NM} nm",
            wavelength_nm=nm,
            minimum=RED_MIN_NM,
            maximum=NIR_MAX_NM,
        )
    return Band.RED if nm < NIR_MIN_NM else Band.NIR
