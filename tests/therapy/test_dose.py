"""Dose arithmetic: H = E x t / 1000."""

from __future__ import annotations

import pytest

from custom_components.red_light_therapy.therapy.bands import DoseBand
from custom_components.red_light_therapy.therapy.dose import (
    ZERO_DOSE,
    BandDose,
    dose_for_seconds,
    seconds_for_dose,
)
from custom_components.red_light_therapy.therapy.errors import DoseError, ErrorCode
from custom_components.red_light_therapy.therapy.irradiance import BandIrradiance

E = BandIrradiance(20.0, 40.0)


def test_ten_minutes_is_0_6_times_e() -> None:
    dose = dose_for_seconds(E, 600)
    assert dose == BandDose(12.0, 24.0)
    assert dose.total == pytest.approx(0.6 * E.total)


def test_seconds_for_dose_per_band() -> None:
    assert seconds_for_dose(E, 9.0) == pytest.approx(150.0)
    assert seconds_for_dose(E, 9.0, DoseBand.RED) == pytest.approx(450.0)
    assert seconds_for_dose(E, 9.0, DoseBand.NIR) == pytest.approx(225.0)
    assert seconds_for_dose(E, 0) == 0


def test_errors() -> None:
    with pytest.raises(DoseError) as err:
        seconds_for_dose(BandIrradiance(0, 10), 1, DoseBand.RED)
    assert err.value.code is ErrorCode.NO_IRRADIANCE_IN_BAND
    with pytest.raises(DoseError) as err:
        seconds_for_dose(E, -1)
    assert err.value.code is ErrorCode.INVALID_DOSE
    with pytest.raises(DoseError) as err:
        dose_for_seconds(E, -1)
    assert err.value.code is ErrorCode.INVALID_DURATION
    with pytest.raises(DoseError):
        BandDose(-1, 0)


def test_band_dose() -> None:
    d = BandDose(1, 2) + BandDose(3, 4)
    assert d == BandDose(4, 6)
    assert d.for_band(DoseBand.RED) == 4
    assert d.for_band(DoseBand.NIR) == 6
    assert d.for_band(DoseBand.BOTH) == 10
    assert BandDose.sum([]) == ZERO_DOSE
    assert BandDose.from_dict(d.to_dict()) == d
    assert d.to_dict()["total"] == 10
