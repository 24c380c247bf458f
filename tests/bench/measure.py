"""Measurements on the emulated panel, driven the way a person drives the integration.

Each function takes a running ``hass`` with the integration set up on an emulated panel
(``init_integration`` and ``emulator`` in tests/conftest.py) and the test's ``freezer``;
time moves in small steps with ``async_fire_time_changed``, so anything that ticks is seen.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
import gzip
import json
from pathlib import Path

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.button import DOMAIN as BUTTON_DOMAIN, SERVICE_PRESS
from homeassistant.components.number import (
    ATTR_VALUE,
    DOMAIN as NUMBER_DOMAIN,
    SERVICE_SET_VALUE,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import ATTR_ENTITY_ID, EVENT_STATE_CHANGED
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator
from custom_components.red_light_therapy.therapy import IrradianceProfile

STEP = timedelta(seconds=1)
"""How far time moves between two checks: any per-second tick would be counted."""


@dataclass(frozen=True, slots=True)
class StateWrites:
    """``state_changed`` events of the entry's entities, in total and per entity."""

    total: int
    by_entity: dict[str, int]
    emitted_seconds: float


def _entity_id(hass: HomeAssistant, entry: ConfigEntry, domain: str, key: str) -> str:
    """The entity of ``entry`` in ``domain`` whose translation key is ``key``."""
    registry = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        if entity.domain == domain and entity.translation_key == key:
            return entity.entity_id
    raise LookupError(f"{entry.title} has no {domain} entity {key!r}")


async def _call(hass: HomeAssistant, domain: str, service: str, data: dict[str, object]) -> None:
    await hass.services.async_call(domain, service, data, blocking=True)
    await hass.async_block_till_done(wait_background_tasks=True)


async def _advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta) -> None:
    """Move time by ``delta`` in ``STEP``s, letting everything due run at each step."""
    end = dt_util.utcnow() + delta
    while (left := end - dt_util.utcnow()) > timedelta(0):
        freezer.tick(min(STEP, left))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)


async def _advance_to_local_noon(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Start every measurement at the next local noon: far from the midnight dose reset."""
    now = dt_util.now()
    noon = dt_util.start_of_local_day(now + timedelta(days=1)) - timedelta(hours=12)
    if noon <= now:
        noon += timedelta(days=1)
    freezer.move_to(noon)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


async def state_writes_per_session(
    hass: HomeAssistant,
    entry: ConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    *,
    minutes: int = 20,
    level: int = 20,
    after: timedelta = timedelta(seconds=10),
) -> StateWrites:
    """State writes of all the entry's entities from a session's start to ``after`` its end.

    Set up as a person would before a session (not counted): every channel at ``level`` % so
    the dose limits leave the session its full length, and the session duration at
    ``minutes``. Then the start button is pressed and time runs to ``after`` past the end.
    """
    await _advance_to_local_noon(hass, freezer)
    registry = er.async_get(hass)
    channels = [
        entity.entity_id
        for entity in er.async_entries_for_config_entry(registry, entry.entry_id)
        if entity.domain == NUMBER_DOMAIN and entity.translation_key == "channel_level"
    ]
    for entity_id in channels:
        await _call(
            hass, NUMBER_DOMAIN, SERVICE_SET_VALUE, {ATTR_ENTITY_ID: entity_id, ATTR_VALUE: level}
        )
    duration = _entity_id(hass, entry, NUMBER_DOMAIN, "session_duration")
    await _call(
        hass, NUMBER_DOMAIN, SERVICE_SET_VALUE, {ATTR_ENTITY_ID: duration, ATTR_VALUE: minutes}
    )
    start = _entity_id(hass, entry, BUTTON_DOMAIN, "start_session")

    entity_ids = {e.entity_id for e in er.async_entries_for_config_entry(registry, entry.entry_id)}
    writes: Counter[str] = Counter()

    @callback
    def _count(event: Event[EventStateChangedData]) -> None:
        if event.data["entity_id"] in entity_ids:
            writes[event.data["entity_id"]] += 1

    emitted_before = emulator.on_seconds()
    unsubscribe = hass.bus.async_listen(EVENT_STATE_CHANGED, _count)
    try:
        await _call(hass, BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: start})
        await _advance(hass, freezer, timedelta(minutes=minutes) + after)
    finally:
        unsubscribe()
    return StateWrites(
        total=sum(writes.values()),
        by_entity=dict(sorted(writes.items())),
        emitted_seconds=emulator.on_seconds() - emitted_before,
    )


@dataclass(frozen=True, slots=True)
class DoseAccuracy:
    """A dose session on a panel with latency: what was asked, emitted and recorded."""

    target_j_cm2: float
    emitted_j_cm2: float
    recorded_j_cm2: float

    @property
    def dose_error_pct(self) -> float:
        """The panel's own emission against the target."""
        return abs(self.emitted_j_cm2 - self.target_j_cm2) / self.target_j_cm2 * 100

    @property
    def recorded_vs_emitted_pct(self) -> float:
        """The integration's record against the panel's own emission."""
        return abs(self.recorded_j_cm2 - self.emitted_j_cm2) / self.emitted_j_cm2 * 100


def clock_sleep(freezer: FrozenDateTimeFactory) -> Callable[[float], Awaitable[None]]:
    """An emulator ``sleep`` that lets the test clock run for the delay (latency is time)."""

    async def _sleep(delay: float) -> None:
        freezer.tick(timedelta(seconds=delay))
        await asyncio.sleep(0)

    return _sleep


def emitted_dose(
    emulator: BlockBlueLightEmulator, profile: IrradianceProfile, distance_cm: float
) -> float:
    """J/cm² the emulated panel really emitted: its own on-segments at its own levels."""
    keys = [spec.key for spec in profile.channels]
    total = 0.0
    for segment in emulator.emission_log:
        assert segment.end is not None, "the panel is still on"
        irradiance = profile.irradiance(distance_cm, dict(zip(keys, segment.levels, strict=True)))
        total += irradiance.total * (segment.end - segment.start) / 1000
    return total


async def dose_accuracy(
    hass: HomeAssistant,
    entry: ConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    *,
    dose: float = 10.0,
    latency_s: float = 0.25,
    step: timedelta = timedelta(milliseconds=10),
) -> DoseAccuracy:
    """Start a ``dose`` J/cm² session through the action and let it run to its end.

    The emulator answers every command ``latency_s`` late each way, and that time passes on
    the test clock; time then moves in ``step``s until the panel is off and the session
    recorded. Nothing here knows the plan: it reads what the panel and the integration did.
    """
    await _advance_to_local_noon(hass, freezer)
    emulator.latency_s = latency_s
    emulator.sleep = clock_sleep(freezer)
    sessions = entry.runtime_data.sessions
    light = _entity_id(hass, entry, "light", "panel")
    await hass.services.async_call(
        "red_light_therapy",
        "start_session",
        {ATTR_ENTITY_ID: light, "dose": dose, "area": "knee"},
        blocking=True,
        return_response=True,
    )
    deadline = dt_util.utcnow() + timedelta(hours=1)
    while sessions.session is not None or emulator.is_on:
        assert dt_util.utcnow() < deadline, "the session never ended"
        # The event loop's clock follows the frozen clock: timers fire when they are due,
        # exactly as in real time (async_fire_time_changed would fire them early).
        freezer.tick(step)
        await asyncio.sleep(0)
        await hass.async_block_till_done(wait_background_tasks=True)
    record = sessions.last_session
    assert record is not None
    return DoseAccuracy(
        target_j_cm2=dose,
        emitted_j_cm2=emitted_dose(emulator, sessions.profile, sessions.distance_cm),
        recorded_j_cm2=record.dose.total,
    )


CARD_BUNDLE = (
    Path(__file__).parents[2]
    / "custom_components"
    / "red_light_therapy"
    / "frontend"
    / "red-light-therapy-card.js"
)
CARD_METRICS = Path(__file__).parents[2] / "frontend" / "screenshots" / "metrics.json"


def card_bundle_gzip_kb() -> float:
    """Size of the committed card bundle as a browser downloads it: gzip (level 9), in kB."""
    return len(gzip.compress(CARD_BUNDLE.read_bytes(), compresslevel=9)) / 1024


def card_first_render_ms() -> float | None:
    """The card's first render in Chromium, as scripts/test-browser last measured it for this
    bundle (median of 5: element created, configured, given hass, attached, first update
    done); None when it has not run since the bundle changed."""
    if not CARD_METRICS.exists() or CARD_METRICS.stat().st_mtime < CARD_BUNDLE.stat().st_mtime:
        return None
    value = json.loads(CARD_METRICS.read_text()).get("card_first_render_ms")
    return float(value) if isinstance(value, int | float) else None
