"""The session rules as a user meets them: the factory session, test sessions, removing a
session, the limit a refusal names, and calculate during a lockout.

The default BlockBlueLight profile gives 60 mW/cm² at 15 cm and full output; the default area
is the whole body (20 J/cm² a session, 20 h apart, 5 a week). The clock is fixed (Wednesday
4 June 2025, 09:00 in US/Pacific).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.light import DOMAIN as LIGHT_DOMAIN
from homeassistant.const import (
    ATTR_ENTITY_ID,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_OFF,
    STATE_ON,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.const import DOMAIN
from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator
from custom_components.red_light_therapy.session_manager import when_words

from .common import advance, stored_files

PACIFIC = ZoneInfo("US/Pacific")
LIGHT = "light.blockbluelight_f522"
DURATION = "number.blockbluelight_f522_session_duration"
LOCKOUT = "binary_sensor.blockbluelight_f522_limit_lockout"
TODAY = "sensor.blockbluelight_f522_dose_today"
WEEK = "sensor.blockbluelight_f522_dose_this_week"
AREA = "select.blockbluelight_f522_treatment_area"
FULL = 60.0  # mW/cm² at 15 cm, full output


@pytest.fixture(autouse=True)
async def fixed_clock(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Wednesday 4 June 2025, 09:00 local, before the integration is set up."""
    freezer.move_to(datetime(2025, 6, 4, 9, 0, tzinfo=PACIFIC))


async def _call(hass: HomeAssistant, service: str, **data: Any) -> Any:
    result = await hass.services.async_call(
        DOMAIN, service, {ATTR_ENTITY_ID: LIGHT, **data}, blocking=True, return_response=True
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    return result


async def _light(hass: HomeAssistant, service: str) -> None:
    await hass.services.async_call(LIGHT_DOMAIN, service, {ATTR_ENTITY_ID: LIGHT}, blocking=True)
    await hass.async_block_till_done(wait_background_tasks=True)


def _value(hass: HomeAssistant, entity_id: str) -> float:
    return float(hass.states.get(entity_id).state)


# -- the factory session fits ----------------------------------------------------------------


async def test_the_first_factory_session_fits_and_the_number_shows_it(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    """Factory settings at full output: 10 minutes would be 36 J/cm² on the whole body (20
    allowed). The default is the whole minutes that fit (5: 18 J/cm²); the number says so,
    the light runs exactly that, and nothing is clamped."""
    fitting = int(20 * 1000 / FULL // 60)  # whole minutes within 20 J/cm²
    assert _value(hass, DURATION) == fitting

    await _light(hass, SERVICE_TURN_ON)

    session = init_integration.runtime_data.sessions.session
    assert session is not None
    assert session.planned_seconds == fitting * 60
    assert emulator.timer_set_s == fitting * 60
    assert [kind for kind, _ in events] == ["session_started"]
    await advance(hass, freezer, timedelta(minutes=fitting))
    assert hass.states.get(LIGHT).state == STATE_OFF
    assert _value(hass, TODAY) == pytest.approx(FULL * fitting * 60 / 1000, abs=0.01)
    assert "limit_reached" not in [kind for kind, _ in events]


async def test_the_default_follows_the_levels_and_respects_what_the_user_set(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    """Dimmed to 20 % (12 mW/cm²) the factory 10 minutes fit; a length the user sets is kept
    as set (and the limits then clamp it, saying so)."""
    panel = init_integration.runtime_data.panel
    await panel.set_levels(dict.fromkeys(range(len(panel.capabilities.channels)), 20))
    await hass.async_block_till_done()
    assert _value(hass, DURATION) == 10

    await panel.set_levels(dict.fromkeys(range(len(panel.capabilities.channels)), 100))
    await hass.async_block_till_done()
    assert _value(hass, DURATION) == 5

    await hass.services.async_call(
        "number", "set_value", {ATTR_ENTITY_ID: DURATION, "value": 10}, blocking=True
    )
    assert _value(hass, DURATION) == 10
    await _light(hass, SERVICE_TURN_ON)
    assert [kind for kind, _ in events] == ["session_started", "limit_reached"]


# -- what counts as a treatment, and removing a session -------------------------------------


async def test_a_six_second_test_session_locks_nothing(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Six seconds at 60 mW/cm² (0.36 J/cm²) counts its dose, but is not a treatment: no
    lockout, and a handful of such tests never reach the weekly count."""
    for _ in range(6):
        await _light(hass, SERVICE_TURN_ON)
        await advance(hass, freezer, timedelta(seconds=6))
        await _light(hass, SERVICE_TURN_OFF)
        assert hass.states.get(LOCKOUT).state == STATE_OFF
        await advance(hass, freezer, timedelta(minutes=1))

    assert _value(hass, TODAY) == pytest.approx(6 * FULL * 6 / 1000, abs=0.01)
    await _call(hass, "start_session", minutes=2)
    assert init_integration.runtime_data.sessions.session is not None


async def test_remove_session_undoes_a_mistyped_log(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """A log_session with a typo (5 minutes for 0.5) locks the skin out; removing it by the
    session_id the log answered gives everything back at once, and says what it removed."""
    started_at = dt_util.now() - timedelta(hours=1)
    logged = await _call(hass, "log_session", started_at=started_at.isoformat(), minutes=5)
    session_id = logged[LIGHT]["session_id"]
    assert _value(hass, TODAY) == pytest.approx(FULL * 300 / 1000)
    assert hass.states.get(LOCKOUT).state == STATE_ON

    answer = await _call(hass, "remove_session", session_id=session_id)

    removed = answer[LIGHT]["removed"]
    assert removed["session_id"] == session_id
    assert removed["origin"] == "logged"
    assert removed["minutes"] == 5
    assert removed["dose_j_cm2"] == pytest.approx(FULL * 300 / 1000)
    assert dt_util.parse_datetime(removed["started_at"]) == started_at.replace(microsecond=0)
    assert _value(hass, TODAY) == 0
    assert _value(hass, WEEK) == 0
    assert hass.states.get(LOCKOUT).state == STATE_OFF
    assert session_id not in str(stored_files(hass_storage))
    plan = await _call(hass, "calculate", minutes=2)
    assert plan[LIGHT]["refused"] is False
    # Gone is gone: a second removal is a translated error.
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "remove_session", session_id=session_id)
    assert err.value.translation_key == "session_not_found"


async def test_remove_session_by_start_time_and_its_refusals(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """A finished session is found by the minute it started; a running one is not removed
    (translated error, nothing changes); neither or both keys is an error too."""
    started = await _call(hass, "start_session", minutes=3)
    session_id = started[LIGHT]["session_id"]
    sessions = init_integration.runtime_data.sessions
    assert sessions.session is not None
    assert sessions.session.id == session_id
    stored = str(stored_files(hass_storage))
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "remove_session", session_id=session_id)
    assert err.value.translation_key == "remove_open_session"
    assert sessions.session is not None
    assert str(stored_files(hass_storage)) == stored
    for data in ({}, {"session_id": session_id, "started_at": dt_util.now().isoformat()}):
        with pytest.raises(ServiceValidationError) as err:
            await _call(hass, "remove_session", **data)
        assert err.value.translation_key == "session_id_or_started_at"

    start_local = dt_util.now()
    await advance(hass, freezer, timedelta(minutes=3))
    assert sessions.session is None
    assert hass.states.get(LOCKOUT).state == STATE_ON
    minute = start_local.replace(second=0, microsecond=0).strftime("%Y-%m-%d %H:%M")

    answer = await _call(hass, "remove_session", started_at=minute)

    assert answer[LIGHT]["removed"]["session_id"] == session_id
    assert answer[LIGHT]["removed"]["status"] == "completed"
    assert len(sessions.history) == 0
    assert hass.states.get(LOCKOUT).state == STATE_OFF


# -- the deciding limit ----------------------------------------------------------------------


async def test_the_refusal_names_the_limit_whose_wait_is_longest(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    """Five whole-body sessions this week, the last two hours ago: the spacing frees at
    +20 h, the weekly count only when the oldest session leaves the 7 days. The refusal
    names the weekly count, with its own date; the event says the same."""
    now = dt_util.now()
    days_ago = [5, 4, 3, 2, 0]
    for days in days_ago:
        started_at = now - timedelta(days=days, hours=2, minutes=5)
        await _call(hass, "log_session", started_at=started_at.isoformat(), minutes=5)

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "start_session", minutes=2)

    assert err.value.translation_key == "refused_weekly_sessions"
    oldest = (now - timedelta(days=5)).date()
    weekly_free = datetime.combine(oldest + timedelta(days=7), datetime.min.time(), PACIFIC)
    placeholders = err.value.translation_placeholders
    assert placeholders["next_allowed_at"] == when_words(weekly_free)
    assert (placeholders["actual"], placeholders["limit"]) == ("5 sessions", "5")
    message = str(err.value)
    assert "weekly limit" in message
    assert when_words(weekly_free) in message
    kind, data = events[-1]
    assert kind == "session_refused"
    assert data["deciding"]["code"] == "weekly_sessions"
    assert dt_util.parse_datetime(data["deciding"]["until"]) == weekly_free
    assert dt_util.parse_datetime(data["refused_until"]) == weekly_free
    assert {r["code"] for r in data["reasons"]} == {"spacing", "weekly_sessions"}


# -- readable numbers, and calculate during a lockout ----------------------------------------


async def test_calculate_during_a_lockout_converts_and_says_it_is_refused(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Ten seconds after a 3-minute session: calculate still turns 2 minutes into 7.2
    J/cm², and separately says refused, by the spacing, until 20 h after that session;
    its reasons carry numbers a person reads (hours rounded, never 0.0027575...)."""
    await _call(hass, "start_session", minutes=3)
    await advance(hass, freezer, timedelta(minutes=3))
    ended = dt_util.utcnow()
    await advance(hass, freezer, timedelta(seconds=10))

    answer = (await _call(hass, "calculate", minutes=2))[LIGHT]

    assert answer["expected_dose_j_cm2"] == pytest.approx(FULL * 120 / 1000)
    assert answer["planned_minutes"] == 2
    assert answer["verdict"] == "refused"
    assert answer["refused"] is True
    assert answer["deciding"]["code"] == "spacing"
    assert dt_util.parse_datetime(answer["refused_until"]) == ended + timedelta(hours=20)
    for reason in answer["reasons"]:
        for key in ("limit", "actual"):
            assert reason[key] == round(reason[key], 2)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "start_session", minutes=2)
    message = str(err.value)
    assert "ended less than a minute ago" in message
    assert "20 hours" in message
    assert " 0 h" not in message


async def test_two_sessions_in_one_minute_are_removed_by_id(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Logged twice by mistake at the same minute: the minute is ambiguous (translated error,
    nothing removed); the session_id is not."""
    started_at = (dt_util.now() - timedelta(days=2)).replace(second=0, microsecond=0)
    first = await _call(hass, "log_session", started_at=started_at.isoformat(), minutes=1)
    await _call(hass, "log_session", started_at=started_at.isoformat(), minutes=1)
    sessions = init_integration.runtime_data.sessions

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "remove_session", started_at=started_at.isoformat())
    assert err.value.translation_key == "session_ambiguous"
    assert len(sessions.history) == 2

    await _call(hass, "remove_session", session_id=first[LIGHT]["session_id"])
    assert [r.id for r in sessions.history] != [first[LIGHT]["session_id"]]
    assert len(sessions.history) == 1
