"""Concurrent session commands on one panel: one session at most, every failure translated.

Calls are made as automations make them (``hass.services.async_call`` on the panel's light,
several at once); the clock is frozen, so "the end passing" is a move of the clock.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.const import DOMAIN
from custom_components.red_light_therapy.panels.blockbluelight import (
    BlockBlueLightEmulator,
    codec,
)
from custom_components.red_light_therapy.therapy import SessionStatus

from .common import settle

PACIFIC = ZoneInfo("US/Pacific")
LIGHT = "light.blockbluelight_f522"


@pytest.fixture(autouse=True)
async def fixed_clock(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Wednesday 4 June 2025, 09:00 local, before the integration is set up."""
    freezer.move_to(datetime(2025, 6, 4, 9, 0, tzinfo=PACIFIC))


def _power_ons(emulator: BlockBlueLightEmulator) -> int:
    return sum(f.command == codec.CMD_POWER and f.payload == b"\x01" for f in emulator.commands)


def _call(hass: HomeAssistant, service: str, **data: Any) -> asyncio.Task[Any]:
    """An action call running alongside the others (as several automations at once)."""
    return hass.async_create_task(
        hass.services.async_call(DOMAIN, service, {ATTR_ENTITY_ID: LIGHT, **data}, blocking=True)
    )


def _untranslated(results: list[Any]) -> list[BaseException]:
    """Failures a user would see as a raw Python error (no translation key)."""
    return [
        r
        for r in results
        if isinstance(r, BaseException)
        and not (isinstance(r, HomeAssistantError) and r.translation_key)
    ]


@pytest.mark.parametrize(
    ("calls", "extra"),
    [(2, {}), (20, {}), (2, {"levels": [20] * 5}), (20, {"levels": [20] * 5})],
    ids=["2", "20", "2 with levels", "20 with levels"],
)
async def test_concurrent_starts_start_one_session(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    calls: int,
    extra: dict[str, Any],
) -> None:
    events: list[str] = []
    init_integration.runtime_data.sessions.async_add_event_listener(
        lambda event, _data: events.append(event.value)
    )
    tasks = [_call(hass, "start_session", minutes=2, **extra) for _ in range(calls)]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    await settle(hass)

    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == calls - 1
    assert _untranslated(results) == []
    assert {f.translation_key for f in failures} == {"session_already_running"}  # type: ignore[attr-defined]
    assert _power_ons(emulator) == 1
    assert events == ["session_started"]
    session = init_integration.runtime_data.sessions.session
    assert session is not None
    assert session.status is SessionStatus.RUNNING
    assert emulator.is_on
