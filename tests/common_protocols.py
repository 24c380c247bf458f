"""What the protocol-run tests share: the knee course, the Berlin clock and the light's actions.

The clock is Europe/Berlin, Monday 3 March 2025, 07:00, before the integration is set up.
A test module takes the fixtures by binding them as module attributes
(``berlin_clock = common_protocols.berlin_clock``): ``berlin_clock`` (autouse),
``events_fixture`` (the fixture ``events``: what the panel fired, recorded) and
``household_fixture`` (the fixture ``household``: Alice and Bob).
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.calendar import DOMAIN as CALENDAR_DOMAIN
from homeassistant.components.person import DOMAIN as PERSON_DOMAIN, async_create_person
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.const import DOMAIN
from custom_components.red_light_therapy.session_manager import SessionManager

from .common import Events, recorded_events, settle

BERLIN = ZoneInfo("Europe/Berlin")
LIGHT = "light.blockbluelight_f522"
ALICE, BOB = "person.alice", "person.bob"
CALENDAR = "calendar.blockbluelight_f522_protocol_sessions"

# A knee course: 3 J/cm² on Mondays and Thursdays at 07:30, for twelve weeks.
KNEE_PLAN: dict[str, Any] = {
    "dose": 3.0,
    "sessions_per_week": 2,
    "weeks": 12,
    "area": "knee",
    "weekdays": ["mon", "thu"],
    "time_of_day": "07:30:00",
}
KNEE_COURSE: dict[str, Any] = {"name": "Knee course"} | KNEE_PLAN


def berlin(day: date, at: time = time(7, 30)) -> datetime:
    return datetime.combine(day, at, tzinfo=BERLIN)


@pytest.fixture(autouse=True)
async def berlin_clock(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Monday 3 March 2025, 07:00 in Berlin, before the integration is set up."""
    await hass.config.async_set_time_zone("Europe/Berlin")
    freezer.move_to(berlin(date(2025, 3, 3), time(7, 0)))


@pytest.fixture(name="events")
def events_fixture(dimmed_integration: MockConfigEntry) -> Generator[Events]:
    with recorded_events(dimmed_integration) as fired:
        yield fired


@pytest.fixture(name="household")
async def household_fixture(hass: HomeAssistant) -> None:
    """Alice and Bob, Home Assistant's real persons, before the panel is set up."""
    assert await async_setup_component(hass, PERSON_DOMAIN, {})
    for name in ("Alice", "Bob"):
        await async_create_person(hass, name)
    await settle(hass)


async def stop_the_session(
    hass: HomeAssistant, sessions: SessionManager, area: str, dose: float | None = None
) -> None:
    """A session is running on ``area`` (for ``dose`` J/cm² where given); it is stopped."""
    session = sessions.session
    assert session is not None
    assert session.area == area
    if dose is not None:
        assert session.target_dose == dose
    await sessions.runner.async_stop()
    await hass.async_block_till_done(wait_background_tasks=True)


async def call_light(hass: HomeAssistant, action: str, **data: Any) -> Any:
    """The integration's ``action`` on the panel's light, with its whole response."""
    return await hass.services.async_call(
        DOMAIN, action, {"entity_id": LIGHT} | data, blocking=True, return_response=True
    )


async def calendar_events(
    hass: HomeAssistant, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """The protocol calendar's events from ``start`` to ``end``, as an automation reads them."""
    answer: Any = await hass.services.async_call(
        CALENDAR_DOMAIN,
        "get_events",
        {
            "entity_id": CALENDAR,
            "start_date_time": start.isoformat(),
            "end_date_time": end.isoformat(),
        },
        blocking=True,
        return_response=True,
    )
    listed: list[dict[str, Any]] = answer[CALENDAR]["events"]
    return listed
