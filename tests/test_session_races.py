"""Concurrent session commands on one panel: one session at most, every failure translated.

Calls are made as automations make them (``hass.services.async_call`` on the panel's light,
several at once); the clock is frozen, so "the end passing" is a move of the clock.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
import random
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.red_light_therapy.const import DOMAIN
from custom_components.red_light_therapy.panels.blockbluelight import (
    BlockBlueLightEmulator,
    codec,
)
from custom_components.red_light_therapy.therapy import SessionStatus

from .common import advance, settle

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
    init_integration.runtime_data.sessions.events.async_add_event_listener(
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


# A bounded random schedule: concurrent actions and light commands on one panel, with the
# session's planned end passing somewhere among them. Seeded, so a failure replays exactly.
OPERATIONS = (
    "start",
    "start_levels",
    "pause",
    "resume",
    "stop",
    "extend",
    "light_on",
    "light_dim",
    "light_off",
    "end",
)
SEEDS = (*range(10), 33, 43, 49, 63)  # 0-9, and schedules that found races before
ROUNDS = 6


def _operation(hass: HomeAssistant, entry: MockConfigEntry, name: str) -> asyncio.Task[Any] | None:
    start = {"minutes": 2, "override_spacing": True}
    match name:
        case "start":
            return _call(hass, "start_session", **start)
        case "start_levels":
            return _call(hass, "start_session", levels=[20] * 5, **start)
        case "pause" | "resume" | "stop":
            return _call(hass, f"{name}_session")
        case "extend":
            return _call(hass, "extend_session", minutes=1)
        case "light_on" | "light_dim" | "light_off":
            service = "turn_off" if name == "light_off" else "turn_on"
            data = {"brightness_pct": 20} if name == "light_dim" else {}
            return hass.async_create_task(
                hass.services.async_call(
                    "light", service, {ATTR_ENTITY_ID: LIGHT, **data}, blocking=True
                )
            )
    return None


def _pass_the_end(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, entry: MockConfigEntry
) -> None:
    """The running session's planned end passes now (its callback fires among the calls)."""
    session = entry.runtime_data.sessions.session
    if session is not None and (ends_at := session.ends_at) is not None:
        freezer.move_to(max(ends_at, dt_util.utcnow()))
        async_fire_time_changed(hass)


@pytest.mark.parametrize("seed", SEEDS)
async def test_interleaved_commands_keep_one_honest_session(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    seed: int,
) -> None:
    """Whatever the order: every failure is a translated error, at most one session runs,
    the panel is on exactly while a session runs, and every started session is recorded."""
    rng = random.Random(seed)
    sessions = dimmed_integration.runtime_data.sessions
    events: list[str] = []
    sessions.events.async_add_event_listener(lambda event, _data: events.append(event.value))
    for _ in range(ROUNDS):
        tasks: list[asyncio.Task[Any]] = []
        for name in rng.choices(OPERATIONS, k=rng.randint(2, 6)):
            for _ in range(rng.randint(0, 3)):
                await asyncio.sleep(0)
            if name == "end":
                _pass_the_end(hass, freezer, dimmed_integration)
            elif (task := _operation(hass, dimmed_integration, name)) is not None:
                tasks.append(task)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await settle(hass)

        assert _untranslated(results) == []
        session = sessions.session
        running = session is not None and session.status is SessionStatus.RUNNING
        if emulator.is_on:  # never on without an open session
            assert running
        started = events.count("session_started")
        ended = events.count("session_completed") + events.count("session_stopped")
        assert started - ended == (1 if session is not None else 0)
        records = [r for r in sessions.history.records if r.panel_id == sessions.panel_id]
        assert len(records) == ended
        freezer.tick(timedelta(minutes=rng.randint(0, 3)))
        async_fire_time_changed(hass)
        await settle(hass)
    # A switch-off the clock's jumps timed out is retried; every session ends (a paused one
    # when stopped), and every one is recorded.
    if (session := sessions.session) is not None and session.status is SessionStatus.PAUSED:
        await _call(hass, "stop_session")
    for _ in range(3):
        await advance(hass, freezer, timedelta(minutes=30))
    assert sessions.session is None
    assert not emulator.is_on
    records = [r for r in sessions.history.records if r.panel_id == sessions.panel_id]
    assert len(records) == events.count("session_started")
