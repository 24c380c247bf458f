"""Every number an action takes is bounded in its schema, as its selector in services.yaml.

A user or an automation may send anything: a typo (``minutes: 100000``), a template that
renders ``nan`` or ``1e999``, a list, ``None``. Each is refused with a translated error naming
the field and its range, and changes nothing; a number in range is a valid call. The actions
are called through Home Assistant on the emulated panel, as an automation would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
import json
import math
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator
import voluptuous as vol
import yaml

from custom_components.red_light_therapy import services, services_protocol
from custom_components.red_light_therapy.bounds import BoundedNumber
from custom_components.red_light_therapy.const import DOMAIN
from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator
from custom_components.red_light_therapy.therapy import Area

from .common import stored_files

PACIFIC = ZoneInfo("US/Pacific")
LIGHT = "light.blockbluelight_f522"
CHANNEL_1 = "number.blockbluelight_f522_channel_1_630_nm"
EVENT = "event.blockbluelight_f522_session"
COMPONENT = Path(__file__).parent.parent / "custom_components" / "red_light_therapy"
SCHEMAS: dict[str, vol.Schema] = {name: spec[0] for name, spec in services.SERVICES.items()} | {
    name: spec[0] for name, spec in services_protocol.SERVICES.items()
}
EXCEPTIONS: dict[str, dict[str, str]] = json.loads(
    (COMPONENT / "strings.json").read_text(encoding="utf-8")
)["exceptions"]


def _services_yaml() -> dict[str, Any]:
    with (COMPONENT / "services.yaml").open(encoding="utf-8") as file:
        loaded: dict[str, Any] = yaml.safe_load(file)
    return loaded


def _validators(schema: vol.Schema) -> dict[str, Any]:
    return {str(key): value for key, value in schema.schema.items()}


def _number_fields() -> list[tuple[str, str, dict[str, Any]]]:
    """(action, field, number selector) of every numeric field in services.yaml."""
    return [
        (action, field, spec["selector"]["number"])
        for action, description in _services_yaml().items()
        for field, spec in (description.get("fields") or {}).items()
        if "number" in spec["selector"]
    ]


NUMBER_FIELDS = _number_fields()


def test_every_number_field_is_bounded_as_its_selector() -> None:
    """The form and the schema agree: what the slider offers is exactly what is accepted."""
    assert len(NUMBER_FIELDS) >= 16
    for action, field, selector in NUMBER_FIELDS:
        validator = _validators(SCHEMAS[action])[field]
        assert isinstance(validator, BoundedNumber), (action, field)
        assert (validator.minimum, validator.maximum) == (selector["min"], selector["max"]), (
            action,
            field,
        )
        assert validator.key in EXCEPTIONS, validator.key
    # And no bounded field is missing a number selector.
    bounded = {
        (action, field)
        for action, schema in SCHEMAS.items()
        for field, validator in _validators(schema).items()
        if isinstance(validator, BoundedNumber)
    }
    assert bounded == {(action, field) for action, field, _ in NUMBER_FIELDS}


async def test_channel_levels_are_bounded_as_the_channel_numbers(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """``levels`` has no number selector (it is a list): its items are bounded like the
    channel level numbers on the device page, in whole steps."""
    channel = hass.states.get(CHANNEL_1)
    assert channel is not None
    for action in ("start_session", "calculate"):
        (item,) = _validators(SCHEMAS[action])["levels"].validators[1]
        assert isinstance(item, BoundedNumber)
        assert item.whole
        assert (item.minimum, item.maximum) == (
            channel.attributes["min"],
            channel.attributes["max"],
        )


def test_every_area_field_is_a_select_of_the_areas() -> None:
    """The area is picked from the areas, in the user's language; never free text."""
    strings = json.loads((COMPONENT / "strings.json").read_text(encoding="utf-8"))
    labels = strings["selector"]["area"]["options"]
    areas = [area.value for area in Area]
    fields = [
        spec
        for description in _services_yaml().values()
        for field, spec in (description.get("fields") or {}).items()
        if field == "area"
    ]
    assert len(fields) == 9  # protocol_status too
    for spec in fields:
        assert spec["selector"] == {"select": {"translation_key": "area", "options": areas}}
    assert set(labels) == set(areas)


# -- the examples, through Home Assistant -----------------------------------------


@pytest.fixture(autouse=True)
async def fixed_clock(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Wednesday 4 June 2025, 09:00 local, before the integration is set up."""
    freezer.move_to(datetime(2025, 6, 4, 9, 0, tzinfo=PACIFIC))


class Snapshot:
    """What a refused call must leave as it was: the stored therapy data, every state of the
    panel's entities, and what the emulated panel was told. Not the Session event entity: a
    start the limits refuse is reported there (``session_refused``), by design."""

    def __init__(
        self, hass: HomeAssistant, storage: dict[str, Any], emulator: BlockBlueLightEmulator
    ) -> None:
        self.hass, self.storage, self.emulator = hass, storage, emulator
        self.taken = self._take()

    def _take(self) -> tuple[Any, ...]:
        states = {
            state.entity_id: (state.state, dict(state.attributes))
            for state in self.hass.states.async_all()
            if "blockbluelight_f522" in state.entity_id and state.domain != "event"
        }
        return (
            stored_files(self.storage),
            states,
            len(self.emulator.commands),
            len(self.emulator.emission_log),
        )

    def unchanged(self) -> bool:
        return self._take() == self.taken


async def _call(hass: HomeAssistant, action: str, data: dict[str, Any]) -> Any:
    result = await hass.services.async_call(
        DOMAIN,
        action,
        {ATTR_ENTITY_ID: LIGHT, **data},
        blocking=True,
        return_response=action != "calibrate",
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    return result


def _three_hours_ago() -> str:
    return (dt_util.now() - timedelta(hours=3)).isoformat()


def _message(err: ServiceValidationError) -> str:
    """The English text a user reads, every placeholder filled."""
    assert err.translation_domain == DOMAIN
    assert err.translation_key in EXCEPTIONS, err.translation_key
    text = EXCEPTIONS[err.translation_key]["message"].format(**(err.translation_placeholders or {}))
    assert "{" not in text
    return text


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("start_session", {"minutes": 100000}, "Minutes must be a number from 0.5 to 60."),
        ("start_session", {"minutes": 1e15}, "Minutes must be a number from 0.5 to 60."),
        ("start_session", {"minutes": 10**400}, "Minutes must be a number from 0.5 to 60."),
        ("start_session", {"minutes": "1e999"}, "Minutes must be a number from 0.5 to 60."),
        ("start_session", {"dose": 1e9}, "The dose must be a number from 0.1 to 100 J/cm²."),
        (
            "start_session",
            {"dose": 5, "levels": [math.inf] * 5},
            "Each channel level must be a whole number from 0 to 100 %.",
        ),
        ("extend_session", {"minutes": math.nan}, "Minutes must be a number from 0.5 to 60."),
        (
            "log_session",
            {"started_at": "2025-06-04T05:00:00-07:00", "minutes": 500},
            "Minutes must be a number from 0.5 to 120.",
        ),
        (
            "log_session",
            {"started_at": "1970-01-01T00:00:00+00:00", "minutes": 10},
            "A logged session must have started within the last 30 days.",
        ),
        (
            "log_session",
            {"started_at": "0001-01-01T00:00:00+14:00", "minutes": 10},
            "A logged session must have started within the last 30 days.",
        ),
        (
            "log_session",
            {"started_at": "9999-12-31T23:59:00", "minutes": 120},
            "A logged session must have ended already.",
        ),
        (
            "calibrate",
            {"distance_cm": 30, "measured_mw_cm2": 99999},
            "The measured irradiance must be a number from 0.1 to 500 mW/cm².",
        ),
        (
            "calibrate",
            {"distance_cm": 99999, "measured_mw_cm2": 45},
            "The distance must be a number from 1 to 200 cm.",
        ),
        (
            "start_protocol",
            {"protocol": "hair_growth", "weeks": math.inf},
            "Weeks must be a whole number from 1 to 104.",
        ),
        (
            "start_protocol",
            {"protocol": "hair_growth", "sessions_per_week": 2.5},
            "Sessions per week must be a whole number from 1 to 7.",
        ),
        (
            "start_protocol",
            {"protocol": "hair_growth", "min_spacing_hours": -1},
            "The spacing between sessions must be a number of hours from 0 to 168.",
        ),
        (
            "start_protocol",
            {"protocol": "hair_growth", "start_date": "9999-12-25"},
            "A protocol run cannot start on 9999-12-25: start it within a year from today.",
        ),
        (
            "start_protocol",
            {"protocol": "hair_growth", "start_date": "0001-01-01"},
            "A protocol run cannot start on 0001-01-01: that is before today (2025-06-04)."
            " Start it today or later.",
        ),
    ],
)
async def test_out_of_range_is_refused_by_name_and_changes_nothing(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    *,
    hass_storage: dict[str, Any],
    action: str,
    data: dict[str, Any],
    message: str,
) -> None:
    snapshot = Snapshot(hass, hass_storage, emulator)

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, action, data)

    assert _message(err.value) == message
    assert init_integration.runtime_data.sessions.session is None
    assert init_integration.runtime_data.protocols.runs == []
    assert snapshot.unchanged()


async def test_a_log_within_the_month_is_recorded(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The window's edge: 29 days back is logged, 31 days back is not."""
    sessions = init_integration.runtime_data.sessions
    await _call(
        hass,
        "log_session",
        {"started_at": (dt_util.now() - timedelta(days=29)).isoformat(), "minutes": 120},
    )
    assert len(sessions.history) == 1
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass,
            "log_session",
            {"started_at": (dt_util.now() - timedelta(days=31)).isoformat(), "minutes": 10},
        )
    assert err.value.translation_key == "therapy_logged_too_old"
    assert len(sessions.history) == 1


async def test_the_action_form_shows_the_sentence(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """What the frontend gets for ``minutes: 100000`` from the action form or the developer
    tools: the field's translated error, not voluptuous's "expected float … @ data['minutes']"
    (Home Assistant 2025.4 passes a schema's vol.Invalid on untranslated)."""
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "call_service",
            "domain": DOMAIN,
            "service": "start_session",
            "service_data": {"minutes": 100000},
            "target": {ATTR_ENTITY_ID: LIGHT},
        }
    )
    answer = await client.receive_json()

    assert not answer["success"]
    assert answer["error"]["code"] == "service_validation_error"
    assert answer["error"]["translation_domain"] == DOMAIN
    assert answer["error"]["translation_key"] == "invalid_minutes"
    # (Home Assistant drops the sentence's full stop here.)
    assert answer["error"]["message"] == "Validation error: Minutes must be a number from 0.5 to 60"
    assert not emulator.is_on


@pytest.mark.parametrize("start", ["2025-06-04", "2026-06-05"])
async def test_a_run_may_start_today_or_up_to_a_year_ahead(
    hass: HomeAssistant, init_integration: MockConfigEntry, start: str
) -> None:
    """The start date's window, at its edges (year 9999 would overflow the schedule)."""
    answer = await _call(hass, "start_protocol", {"protocol": "hair_growth", "start_date": start})
    assert answer[LIGHT]["start_date"] == start


@pytest.mark.parametrize(
    "target", ["sensor.blockbluelight_f522_irradiance", "number.blockbluelight_f522_distance"]
)
@pytest.mark.parametrize("action", ["start_session", "start_protocol"])
async def test_a_panel_is_targeted_by_its_light_not_its_sensors(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    *,
    hass_storage: dict[str, Any],
    target: str,
    action: str,
) -> None:
    """Aimed at the irradiance sensor, an action is refused and starts no session on its
    panel."""
    assert hass.states.get(target) is not None
    snapshot = Snapshot(hass, hass_storage, emulator)

    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            action,
            {ATTR_ENTITY_ID: target, "minutes": 5}
            if action == "start_session"
            else {ATTR_ENTITY_ID: target, "protocol": "hair_growth"},
            blocking=True,
            return_response=True,
        )

    assert _message(err.value) == (
        f"The entity {target} is not a panel: target a panel's light or its device."
    )
    assert not emulator.is_on
    assert snapshot.unchanged()


# -- any value in any numeric field -------------------------------------------------------


def _json_ish() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=10**300, max_value=10**400),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from(["nan", "-inf", "1e999", "", "abc", " 7 ", "0x10", "1_0", "5"]),
        st.text(max_size=8),
    )
    return st.one_of(
        scalars,
        st.lists(scalars, max_size=6),
        st.dictionaries(st.text(max_size=3), scalars, max_size=2),
    )


def _in_range(selector: dict[str, Any]) -> st.SearchStrategy[Any]:
    return st.floats(min_value=selector["min"], max_value=selector["max"])


FIELDS = [(action, field) for action, field, _ in NUMBER_FIELDS] + [
    ("start_session", "levels"),
    ("calculate", "levels"),
]
SELECTORS = {(action, field): selector for action, field, selector in NUMBER_FIELDS}


def _value(draw: Callable[[st.SearchStrategy[Any]], Any], action: str, field: str) -> Any:
    if not draw(st.booleans()):  # half of the calls anything, half of them in range
        return draw(_json_ish())
    if field == "levels":
        item = st.integers(min_value=0, max_value=100)
        return draw(st.lists(item, min_size=5, max_size=5))
    return draw(_in_range(SELECTORS[action, field]))


BASE: dict[str, Callable[[], dict[str, Any]]] = {
    "start_session": dict,
    "extend_session": dict,
    "calculate": lambda: {"dose": 5},
    "log_session": lambda: {"started_at": _three_hours_ago(), "minutes": 5},
    "calibrate": lambda: {"distance_cm": 30, "measured_mw_cm2": 45},
    "start_protocol": lambda: {
        "name": "Knee course",
        "dose": 3.0,
        "sessions_per_week": 2,
        "weeks": 12,
        "area": "knee",
    },
}


@st.composite
def _calls(draw: Callable[[st.SearchStrategy[Any]], Any]) -> tuple[str, str, dict[str, Any]]:
    action, field = draw(st.sampled_from(FIELDS))
    data = BASE[action]()
    if action == "calculate" and field in ("dose", "minutes"):
        data = {}
    data[field] = _value(draw, action, field)
    return action, field, data


def _field_key(action: str, field: str) -> str:
    validator = _validators(SCHEMAS[action])[field]
    if field == "levels":
        (validator,) = validator.validators[1]
    assert isinstance(validator, BoundedNumber)
    return validator.key


@settings(max_examples=300, deadline=None)
@given(call=_calls())
def test_any_value_passes_the_schema_in_range_or_is_refused_by_name(
    call: tuple[str, str, dict[str, Any]],
) -> None:
    """The schema alone: a finite number in range comes out, or the field's error; never
    another exception (overflow, type error), never a value the later steps cannot take."""
    action, field, data = call
    refusal: ServiceValidationError | None = None
    try:
        checked = SCHEMAS[action]({ATTR_ENTITY_ID: LIGHT, **data})
    except ServiceValidationError as err:
        refusal = err
    if refusal is not None:
        assert refusal.translation_key == _field_key(action, field)
        _message(refusal)
        return
    values = checked[field] if field == "levels" else [checked[field]]
    for value in values:
        assert isinstance(value, (int, float))
        assert not isinstance(value, bool)
        assert math.isfinite(value)
        if field == "levels":
            assert 0 <= value <= 100
            assert value == int(value)
        else:
            selector = SELECTORS[action, field]
            assert selector["min"] <= value <= selector["max"]


async def test_any_value_in_any_action_is_refused_by_name_or_valid(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    hass_storage: dict[str, Any],
) -> None:
    """Through Home Assistant, one panel, many calls: each is a valid call or a translated
    refusal that changed nothing. (A valid call may leave the panel busy, so a later call is
    refused for that; that is a translated refusal too.)"""
    loop = asyncio.get_running_loop()
    refused: list[str] = []
    accepted: list[str] = []

    async def _one(action: str, data: dict[str, Any]) -> None:
        snapshot = Snapshot(hass, hass_storage, emulator)
        event = hass.states.get(EVENT)
        try:
            await _call(hass, action, data)
            accepted.append(action)
        except ServiceValidationError as err:
            _message(err)
            refused.append(err.translation_key or "")
            assert snapshot.unchanged(), (action, data)
            if (err.translation_key or "").startswith("invalid_"):  # refused by its schema
                assert hass.states.get(EVENT) == event

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(call=_calls())
    def _property(call: tuple[str, str, dict[str, Any]]) -> None:
        action, _, data = call
        asyncio.run_coroutine_threadsafe(_one(action, data), loop).result(timeout=120)

    # In a thread of its own, not one Home Assistant tracks: each call waits for Home
    # Assistant to settle, which would otherwise wait for this thread.
    await loop.run_in_executor(None, _property)
    # The strategy reaches both: refusals, and valid calls of several actions.
    assert refused
    assert len(set(accepted)) >= 3, accepted
