"""The options flow: the user's own protocols, defined and removed from the UI.

A saved protocol is validated like a preset, shows up in the panel's protocol select and can be
started by it or by ``start_protocol``; removing it leaves a run already started alone.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.select import DOMAIN as SELECT_DOMAIN, SERVICE_SELECT_OPTION
from homeassistant.const import ATTR_ENTITY_ID, ATTR_OPTION
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.const import DOMAIN
from custom_components.red_light_therapy.saved_protocols import OPTION_PROTOCOLS
from custom_components.red_light_therapy.therapy import (
    PRESET_PROTOCOLS,
    EvidenceGrade,
    Protocol,
    default_limits,
)

LIGHT = "light.blockbluelight_f522"
SELECT = "select.blockbluelight_f522_protocol"
KNEE = {
    "name": "Knee, evenings",
    "area": "knee",
    "dose": 6.0,
    "band": "nir",
    "sessions_per_week": 3,
    "weeks": 6,
}


async def _open(hass: HomeAssistant, entry: MockConfigEntry, step: str) -> dict[str, Any]:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert step in result["menu_options"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": step}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == step
    return dict(result)


async def _add(hass: HomeAssistant, entry: MockConfigEntry, fields: dict[str, Any]) -> Any:
    form = await _open(hass, entry, "add_protocol")
    return await hass.config_entries.options.async_configure(form["flow_id"], fields)


def _saved(entry: MockConfigEntry) -> dict[str, Any]:
    return dict(entry.options.get(OPTION_PROTOCOLS, {}))


async def test_menu_offers_removal_only_when_something_is_saved(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    assert result["menu_options"] == ["add_protocol"]
    await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "add_protocol"}
    )
    hass.config_entries.options.async_abort(result["flow_id"])
    await _add(hass, init_integration, KNEE)
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    assert result["menu_options"] == ["add_protocol", "remove_protocol"]
    hass.config_entries.options.async_abort(result["flow_id"])


async def test_a_saved_protocol_is_offered_and_runs_with_its_own_numbers(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    result = await _add(hass, init_integration, KNEE)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    (key,) = _saved(init_integration)
    protocol = Protocol.from_dict(_saved(init_integration)[key])
    assert protocol.name == "Knee, evenings"
    assert protocol.area == "knee"
    assert protocol.dose_j_cm2 == 6.0
    assert protocol.band.value == "nir"
    assert (protocol.sessions_per_week, protocol.weeks) == (3, 6)
    # Not a published protocol: marked experimental; the knee's spacing when none is given.
    assert protocol.evidence is EvidenceGrade.EXPERIMENTAL
    assert protocol.min_spacing_hours == default_limits("knee").min_hours_between

    # Offered by the select at once (no reload) under its name, not its key, and picking
    # it starts a run of it.
    options = hass.states.get(SELECT).attributes["options"]
    assert protocol.name in options
    assert key not in options
    await hass.services.async_call(
        SELECT_DOMAIN,
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: SELECT, ATTR_OPTION: protocol.name},
        blocking=True,
    )
    await hass.async_block_till_done()
    (run,) = init_integration.runtime_data.protocols.unfinished
    assert run.plan.protocol == protocol
    assert run.plan.area == "knee"
    assert hass.states.get(SELECT).state == protocol.name


async def test_start_protocol_takes_a_saved_protocol_by_key(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    await _add(hass, init_integration, KNEE | {"min_spacing_hours": 40})
    (key,) = _saved(init_integration)
    answer = await hass.services.async_call(
        DOMAIN,
        "start_protocol",
        {ATTR_ENTITY_ID: LIGHT, "protocol": key, "weekdays": ["mon", "wed", "fri"]},
        blocking=True,
        return_response=True,
    )
    assert answer is not None
    (run,) = init_integration.runtime_data.protocols.unfinished
    assert run.plan.protocol.key == key
    assert run.plan.protocol.min_spacing_hours == 40
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "start_protocol",
            {ATTR_ENTITY_ID: LIGHT, "protocol": "custom_unknown", "area": "face"},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "unknown_protocol"
    assert key in err.value.translation_placeholders["protocols"]


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        # More per session than the knee's limit allows.
        ({"dose": default_limits("knee").max_session_dose + 1}, "dose", "protocol_exceeds_limits"),
        # More sessions a week than the area allows.
        (
            {"area": "scalp", "dose": 5.0, "sessions_per_week": 7, "min_spacing_hours": 0},
            "sessions_per_week",
            "protocol_exceeds_limits",
        ),
        # Less rest than the area's spacing.
        ({"min_spacing_hours": 2}, "min_spacing_hours", "protocol_exceeds_limits"),
        # Seven sessions a week cannot each be 30 h apart.
        (
            {"sessions_per_week": 7, "min_spacing_hours": 30},
            "min_spacing_hours",
            "invalid_protocol",
        ),
        # A name needs something to be known by.
        ({"name": "   "}, "name", "invalid_protocol"),
        ({"name": "!!!"}, "name", "invalid_protocol"),
    ],
)
async def test_a_protocol_outside_the_limits_is_refused_and_nothing_saved(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    changes: dict[str, Any],
    field: str,
    error: str,
) -> None:
    result = await _add(hass, init_integration, KNEE | changes)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: error}
    assert result["description_placeholders"]["problem"]
    assert _saved(init_integration) == {}
    # The form keeps what was typed.
    schema = result["data_schema"].schema
    typed = {str(k): k.default() for k in schema if callable(getattr(k, "default", None))}
    assert typed["name"] == (KNEE | changes)["name"]
    hass.config_entries.options.async_abort(result["flow_id"])


async def test_the_same_name_twice_is_refused(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    await _add(hass, init_integration, KNEE)
    saved = _saved(init_integration)
    result = await _add(hass, init_integration, KNEE | {"name": "knee evenings", "dose": 3.0})
    assert result["errors"] == {"name": "name_exists"}
    assert _saved(init_integration) == saved
    hass.config_entries.options.async_abort(result["flow_id"])


async def test_removing_a_protocol_leaves_a_started_run_alone(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    await _add(hass, init_integration, KNEE)
    await _add(hass, init_integration, KNEE | {"name": "Elbow", "area": "arm", "dose": 4.0})
    knee, elbow = "custom_knee_evenings", "custom_elbow"
    assert set(_saved(init_integration)) == {knee, elbow}
    await hass.services.async_call(
        SELECT_DOMAIN,
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: SELECT, ATTR_OPTION: "Knee, evenings"},
        blocking=True,
    )
    await hass.async_block_till_done()

    form = await _open(hass, init_integration, "remove_protocol")
    offered = form["data_schema"].schema["protocols"].config["options"]
    assert {o["value"]: o["label"] for o in offered} == {knee: "Knee, evenings", elbow: "Elbow"}
    result = await hass.config_entries.options.async_configure(
        form["flow_id"], {"protocols": [knee, elbow]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    assert _saved(init_integration) == {}
    options = hass.states.get(SELECT).attributes["options"]
    assert "Elbow" not in options
    # The knee run goes on (it keeps its own copy of the protocol) and stays selectable.
    (run,) = init_integration.runtime_data.protocols.unfinished
    assert run.plan.protocol.key == knee
    assert "Knee, evenings" in options
    assert hass.states.get(SELECT).state == "Knee, evenings"
    assert options[: len(PRESET_PROTOCOLS) + 1] == ["none", *PRESET_PROTOCOLS]


async def test_an_unreadable_saved_protocol_is_left_out(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    await _add(hass, init_integration, KNEE)
    broken = {**_saved(init_integration), "custom_broken": {"name": "no numbers"}}
    hass.config_entries.async_update_entry(
        init_integration, options={**init_integration.options, OPTION_PROTOCOLS: broken}
    )
    await hass.async_block_till_done()
    options = hass.states.get(SELECT).attributes["options"]
    assert "Knee, evenings" in options
    assert "custom_broken" not in options
    assert "no numbers" not in options
