from custom_components.red_light_therapy.therapy import Band, band_for_wavelength


def test_band_split_at_700nm() -> None:
    assert band_for_wavelength(660) is Band.RED
    assert band_for_wavelength(700) is Band.NIR
