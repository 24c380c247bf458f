"""Data-point maps are data; capabilities follow from them."""

from __future__ import annotations

import json

import pytest

from custom_components.red_light_therapy.panels.tuya import (
    DP_MAPS,
    ChannelDp,
    DpMap,
    dp_map_from_dict,
    get_dp_map,
    load_dp_maps,
)
from custom_components.red_light_therapy.therapy import Band, band_for_wavelength


def test_builtin_dp_maps() -> None:
    light = DP_MAPS["generic_light"]
    assert (light.switch_dp, light.countdown_dp) == (20, 26)
    assert light.channels == (ChannelDp("brightness", 22, 660, 10, 1000),)
    caps = light.capabilities
    assert caps.dimming
    assert caps.hardware_timer
    assert caps.max_timer_s == 86400
    assert caps.channels[0].index == 0
    assert band_for_wavelength(caps.channels[0].wavelength_nm) is Band.RED

    switch = DP_MAPS["generic_switch"]
    assert (switch.switch_dp, switch.countdown_dp, switch.channels) == (1, 9, ())
    assert not switch.capabilities.dimming
    assert switch.capabilities.hardware_timer
    assert switch.default_dps() == {"1": False, "9": 0}

    example = DP_MAPS["example_red_nir_panel"]
    assert example.example
    assert "EXAMPLE" in example.description
    assert [band_for_wavelength(c.wavelength_nm) for c in example.capabilities.channels] == [
        Band.RED,
        Band.NIR,
    ]
    assert not any(p.example for name, p in DP_MAPS.items() if name.startswith("generic"))


def test_every_dp_map_has_a_name_a_person_reads() -> None:
    """It is the device's model on its page: words, not the map's key."""
    for name, dp_map in DP_MAPS.items():
        assert dp_map.display_name
        assert "_" not in dp_map.display_name
        assert name not in dp_map.display_name
    # A map of the user's own without one gets its key in words.
    own = dp_map_from_dict("my_red_panel", {"switch_dp": 1})
    assert own.display_name == "My red panel"


def test_level_mapping() -> None:
    brightness = DP_MAPS["generic_light"].channels[0]
    assert brightness.to_raw(100) == 1000
    assert brightness.to_raw(50) == 500
    assert brightness.to_raw(0) == 10  # the light's floor
    assert brightness.to_level(10) == 1  # reads back what it really emits
    assert brightness.to_level(1000) == 100
    with pytest.raises(ValueError, match=r"0\.\.100"):
        brightness.to_raw(101)


def test_get_dp_map() -> None:
    assert get_dp_map("generic_switch") is DP_MAPS["generic_switch"]
    custom = DpMap("mine", switch_dp=1)
    assert get_dp_map(custom) is custom
    assert not custom.capabilities.hardware_timer
    assert custom.capabilities.max_timer_s == 0
    with pytest.raises(KeyError, match="unknown"):
        get_dp_map("nope")


def test_new_dp_map_without_code() -> None:
    text = json.dumps(
        {
            "brand_x": {
                "switch_dp": 1,
                "countdown_dp": 7,
                "countdown_max_s": 1200,
                "channels": [{"key": "ir", "dp": 102, "wavelength_nm": 850}],
            }
        }
    )
    dp_map = load_dp_maps(text)["brand_x"]
    assert dp_map.capabilities.max_timer_s == 1200
    assert dp_map.channels[0].max_value == 100
    assert dp_map.default_dps() == {"1": False, "102": 100, "7": 0}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({}, "malformed"),
        ({"switch_dp": "x"}, "malformed"),
        ({"switch_dp": 1, "channels": [{"dp": 2}]}, "malformed"),
        (
            {
                "switch_dp": 1,
                "channels": [{"key": "a", "dp": 2, "wavelength_nm": 660, "max_value": 0}],
            },
            "range",
        ),
        ({"switch_dp": 1, "countdown_dp": 1}, "twice"),
    ],
)
def test_malformed_dp_maps(data: dict[str, object], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        dp_map_from_dict("bad", data)
