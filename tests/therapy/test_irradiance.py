"""Irradiance profiles: interpolation, levels, range policy, calibration, presets."""

from __future__ import annotations

import pytest

from custom_components.red_light_therapy.therapy.bands import (
    Band,
    DoseBand,
    band_for_wavelength,
)
from custom_components.red_light_therapy.therapy.errors import (
    DistanceOutOfRangeError,
    ErrorCode,
    ProfileError,
    StoredDataError,
)
from custom_components.red_light_therapy.therapy.irradiance import (
    BLOCKBLUELIGHT_CHANNELS,
    LAB_MEDIAN_SHAPE,
    PRESET_PROFILES,
    BandIrradiance,
    ChannelSpec,
    IrradianceProfile,
    MeasuredPoint,
    blockbluelight_profile,
    single_channel_profile,
)


def two_channel() -> IrradianceProfile:
    return IrradianceProfile(
        name="test",
        source="made up",
        channels=(ChannelSpec("r", 660), ChannelSpec("n", 850)),
        points=(
            MeasuredPoint(30, {"r": 20.0, "n": 10.0}),
            MeasuredPoint(10, {"r": 40.0, "n": 20.0}),
        ),
    )


def test_bands() -> None:
    assert band_for_wavelength(600) is Band.RED
    assert band_for_wavelength(699) is Band.RED
    assert band_for_wavelength(700) is Band.NIR
    assert band_for_wavelength(940) is Band.NIR
    for bad in (599, 1001, True, 650.0):
        with pytest.raises(ProfileError) as err:
            band_for_wavelength(bad)  # type: ignore[arg-type]
        assert err.value.code is ErrorCode.WAVELENGTH_OUT_OF_RANGE


def test_points_are_exact_and_interpolated_linearly() -> None:
    p = two_channel()
    assert p.min_distance_cm == 10
    assert p.max_distance_cm == 30
    assert p.irradiance(10) == BandIrradiance(40.0, 20.0)
    assert p.irradiance(30) == BandIrradiance(20.0, 10.0)
    mid = p.irradiance(20)
    assert mid.red == pytest.approx(30.0)
    assert mid.nir == pytest.approx(15.0)
    assert mid.total == pytest.approx(45.0)
    assert mid.for_band(DoseBand.RED) == mid.red
    assert mid.for_band(DoseBand.NIR) == mid.nir
    assert mid.for_band(DoseBand.BOTH) == mid.total


def test_levels_scale_each_channel() -> None:
    p = two_channel()
    assert p.irradiance(10, {"r": 50}) == BandIrradiance(20.0, 20.0)
    assert p.irradiance(10, {"r": 0, "n": 0}).total == 0
    with pytest.raises(ProfileError) as err:
        p.irradiance(10, {"x": 10})
    assert err.value.code is ErrorCode.UNKNOWN_CHANNEL
    for bad in (101, -1, True, 50.5):
        with pytest.raises(ProfileError) as err:
            p.irradiance(10, {"r": bad})  # type: ignore[dict-item]
        assert err.value.code is ErrorCode.INVALID_LEVEL


def test_nearer_than_measured_is_refused_farther_holds() -> None:
    p = two_channel()
    with pytest.raises(DistanceOutOfRangeError) as err:
        p.irradiance(9.9)
    assert err.value.code is ErrorCode.DISTANCE_BELOW_MEASURED
    assert err.value.placeholders["min_distance_cm"] == "10"  # as a person reads it
    assert p.irradiance(500) == p.irradiance(30)
    for bad in (0, -5, float("nan"), float("inf")):
        with pytest.raises(ProfileError) as err:
            p.irradiance(bad)
        assert err.value.code is ErrorCode.INVALID_DISTANCE


def test_calibration_scales_the_shape() -> None:
    p = two_channel()
    c = p.calibrated(20, 90.0)
    assert c.irradiance(20).total == pytest.approx(90.0)
    assert c.irradiance(10).total == pytest.approx(120.0)
    assert c.irradiance(10).red / c.irradiance(10).nir == pytest.approx(2.0)
    assert "calibrated" in c.name
    assert "90 mW/cm² at 20 cm" in c.source
    # a meter reading with the NIR channel off
    half = p.calibrated(10, 80.0, {"n": 0})
    assert half.irradiance(10, {"n": 0}).total == pytest.approx(80.0)


@pytest.mark.parametrize(
    ("distance", "measured", "levels", "code"),
    [
        (5, 10.0, None, ErrorCode.CALIBRATION_OUT_OF_RANGE),
        (31, 10.0, None, ErrorCode.CALIBRATION_OUT_OF_RANGE),
        (20, 0.0, None, ErrorCode.INVALID_CALIBRATION),
        (20, float("nan"), None, ErrorCode.INVALID_CALIBRATION),
        (20, 10.0, {"r": 0, "n": 0}, ErrorCode.INVALID_CALIBRATION),
        (-1, 10.0, None, ErrorCode.INVALID_DISTANCE),
    ],
)
def test_calibration_errors(
    distance: float, measured: float, levels: dict[str, int] | None, code: ErrorCode
) -> None:
    with pytest.raises(ProfileError) as err:
        two_channel().calibrated(distance, measured, levels)
    assert err.value.code is code


def test_scaled_rejects_bad_factor() -> None:
    with pytest.raises(ProfileError):
        two_channel().scaled(0)


@pytest.mark.parametrize(
    "build",
    [
        lambda: IrradianceProfile("", "s", (ChannelSpec("a", 660),), (MeasuredPoint(1, {"a": 1}),)),
        lambda: IrradianceProfile("n", "s", (), (MeasuredPoint(1, {}),)),
        lambda: IrradianceProfile(
            "n", "s", (ChannelSpec("a", 660), ChannelSpec("a", 850)), (MeasuredPoint(1, {"a": 1}),)
        ),
        lambda: IrradianceProfile("n", "s", (ChannelSpec("a", 660),), ()),
        lambda: IrradianceProfile(
            "n",
            "s",
            (ChannelSpec("a", 660),),
            (MeasuredPoint(1, {"a": 1}), MeasuredPoint(1.0, {"a": 2})),
        ),
        lambda: IrradianceProfile(
            "n", "s", (ChannelSpec("a", 660),), (MeasuredPoint(1, {"a": 1, "b": 2}),)
        ),
        lambda: MeasuredPoint(0, {"a": 1}),
        lambda: MeasuredPoint(1, {"a": -1}),
        lambda: ChannelSpec(""),
        lambda: ChannelSpec("a"),
        lambda: ChannelSpec("a", 660, 0.5),
        lambda: ChannelSpec("a", red_share=1.5),
        lambda: ChannelSpec("a", 500),
        lambda: BandIrradiance(-1, 0),
        lambda: BandIrradiance(0, float("inf")),
    ],
)
def test_invalid_profiles(build: object) -> None:
    with pytest.raises(ProfileError):
        build()  # type: ignore[operator]


def test_mixed_channel_splits_red_and_nir() -> None:
    p = single_channel_profile("plug", "s", {15: 50.0, 30: 40.0}, red_share=0.3)
    e = p.irradiance(15)
    assert e.red == pytest.approx(15.0)
    assert e.nir == pytest.approx(35.0)
    assert p.irradiance(15, {"all": 50}).total == pytest.approx(25.0)
    assert p.channels[0].red_fraction == 0.3


def test_blockbluelight_default() -> None:
    p = blockbluelight_profile()
    assert p.channel_keys == tuple(k for k, _ in BLOCKBLUELIGHT_CHANNELS)
    e = p.irradiance(15)
    assert e.total == pytest.approx(60.0)
    assert e.red == pytest.approx(24.0)  # 630 + 660
    assert e.nir == pytest.approx(36.0)  # 810 + 830 + 850
    assert p.irradiance(30).total == pytest.approx(60 * 0.86)
    assert p.irradiance(61).total == pytest.approx(60 * 0.70)
    assert p.irradiance(91).total == pytest.approx(60 * 49.4 / 71.7)
    assert "measure your own panel" in p.source.lower()
    assert "conservative" in p.source.lower()
    # never inverse-square: at 61 cm far above (15/61)^2 = 6 %
    assert p.irradiance(61).total / 60 > 0.5
    assert list(LAB_MEDIAN_SHAPE) == sorted(LAB_MEDIAN_SHAPE, reverse=True)


def test_presets() -> None:
    assert set(PRESET_PROFILES) >= {"generic_large_panel", "helio_glow"}
    assert PRESET_PROFILES["generic_large_panel"].irradiance(15).total == pytest.approx(70.3)
    helio = PRESET_PROFILES["helio_glow"]
    assert helio.irradiance(30).total == pytest.approx(75.0)
    assert helio.irradiance(91).total == pytest.approx(49.4)
    assert PRESET_PROFILES["mitopro1500_older"].irradiance(38).total == pytest.approx(63.0)
    for profile in PRESET_PROFILES.values():
        assert profile.source


def test_round_trip() -> None:
    for p in (two_channel(), blockbluelight_profile(), *PRESET_PROFILES.values()):
        assert IrradianceProfile.from_dict(p.to_dict()) == p
    e = BandIrradiance(1.5, 2.5)
    assert e.to_dict() == {"red": 1.5, "nir": 2.5, "total": 4.0}
    assert BandIrradiance.from_dict(e.to_dict()) == e
    assert e.scaled(2) == BandIrradiance(3.0, 5.0)


def test_bad_stored_profile() -> None:
    with pytest.raises(StoredDataError) as err:
        IrradianceProfile.from_dict({"name": "x"})
    assert err.value.code is ErrorCode.INVALID_STORED_DATA
    data = two_channel().to_dict()
    data["points"][0]["distance_cm"] = -1
    with pytest.raises(StoredDataError):
        IrradianceProfile.from_dict(data)
