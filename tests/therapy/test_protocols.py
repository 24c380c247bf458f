"""Protocol presets and validation."""

from __future__ import annotations

import pytest

from custom_components.red_light_therapy.therapy.areas import default_limits
from custom_components.red_light_therapy.therapy.bands import DoseBand
from custom_components.red_light_therapy.therapy.errors import (
    AreaError,
    ErrorCode,
    ProtocolError,
    StoredDataError,
)
from custom_components.red_light_therapy.therapy.protocols import (
    PRESET_PROTOCOLS,
    EvidenceGrade,
    Protocol,
    validate_protocol,
    walt_dose_j_cm2,
)


def custom(**changes: object) -> Protocol:
    base: dict[str, object] = {
        "key": "mine",
        "name": "Mine",
        "indication": "knee pain",
        "evidence": EvidenceGrade.LIMITED,
        "source": "my physio",
        "band": DoseBand.NIR,
        "dose_j_cm2": 5.0,
        "sessions_per_week": 3,
        "weeks": 6,
        "min_spacing_hours": 24.0,
        "area": "knee",
    }
    return Protocol(**(base | changes))  # type: ignore[arg-type]


def test_presets() -> None:
    assert {
        "skin_rejuvenation",
        "wound_healing",
        "achilles_tendinopathy",
        "hair_growth",
    } <= set(PRESET_PROTOCOLS)
    skin = PRESET_PROTOCOLS["skin_rejuvenation"]
    assert skin.dose_j_cm2 == 9.0
    assert skin.total_sessions == 30
    assert "Wunsch" in skin.source
    hair = PRESET_PROTOCOLS["hair_growth"]
    assert hair.dose_j_cm2 == 67.0
    assert hair.band is DoseBand.RED
    assert hair.dose_j_cm2 <= default_limits("scalp").max_session_dose
    assert "helmet" in hair.notes
    assert PRESET_PROTOCOLS["achilles_tendinopathy"].dose_j_cm2 == 4.0
    assert PRESET_PROTOCOLS["whole_body_wellness"].evidence is EvidenceGrade.EXPERIMENTAL
    for p in PRESET_PROTOCOLS.values():
        assert "eye" not in p.area
        assert validate_protocol(p) is p
        assert p.source


def test_walt_conversion() -> None:
    assert walt_dose_j_cm2(8, 2) == 4.0
    assert walt_dose_j_cm2(16, 8) == 2.0
    assert walt_dose_j_cm2(4, 1, spot_area_cm2=0.5) == 8.0
    for args in ((0, 1), (4, 0), (4, True)):
        with pytest.raises(ProtocolError):
            walt_dose_j_cm2(*args)  # type: ignore[arg-type]
    with pytest.raises(ProtocolError):
        walt_dose_j_cm2(4, 1, 0)


def test_custom_protocol_is_validated() -> None:
    p = custom()
    assert validate_protocol(p) is p
    assert p.area == "knee"
    assert p.with_changes(weeks=2).total_sessions == 6


@pytest.mark.parametrize(
    "changes",
    [
        {"key": ""},
        {"name": "  "},
        {"dose_j_cm2": 0},
        {"dose_j_cm2": float("nan")},
        {"sessions_per_week": 8},
        {"sessions_per_week": 0},
        {"sessions_per_week": True},
        {"weeks": 0},
        {"min_spacing_hours": -1},
        {"sessions_per_week": 4, "min_spacing_hours": 48},
    ],
)
def test_invalid_custom(changes: dict[str, object]) -> None:
    with pytest.raises(ProtocolError) as err:
        custom(**changes)
    assert err.value.code is ErrorCode.INVALID_PROTOCOL


@pytest.mark.parametrize("area", ["eye", "eyes", "left_eye", "retina"])
def test_eye_areas_rejected(area: str) -> None:
    with pytest.raises(AreaError) as err:
        custom(area=area)
    assert err.value.code is ErrorCode.EYE_AREA_FORBIDDEN


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"dose_j_cm2": 31.0}, "dose_j_cm2"),
        ({"area": "face", "sessions_per_week": 6, "min_spacing_hours": 20}, "sessions_per_week"),
        ({"min_spacing_hours": 12}, "min_spacing_hours"),
    ],
)
def test_exceeding_area_limits(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ProtocolError) as err:
        validate_protocol(custom(**changes))
    assert err.value.code is ErrorCode.PROTOCOL_EXCEEDS_LIMITS
    assert err.value.placeholders["field"] == field


def test_validate_for_other_area_and_limits() -> None:
    hair = PRESET_PROTOCOLS["hair_growth"]
    with pytest.raises(ProtocolError):
        validate_protocol(hair, area="face")
    with pytest.raises(AreaError):
        validate_protocol(hair, area="eyes")
    looser = default_limits("face").with_changes(max_session_dose=80, max_daily_dose=120)
    assert validate_protocol(hair, looser, area="face") is hair


def test_round_trip() -> None:
    for p in (*PRESET_PROTOCOLS.values(), custom()):
        assert Protocol.from_dict(p.to_dict()) == p
    with pytest.raises(StoredDataError):
        Protocol.from_dict({"key": "x"})
    data = custom().to_dict()
    data["area"] = "eye"
    with pytest.raises(StoredDataError) as err:
        Protocol.from_dict(data)
    assert err.value.placeholders["cause"] == ErrorCode.EYE_AREA_FORBIDDEN
