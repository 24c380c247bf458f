"""Measurements on the emulated panel, driven the way a person drives the integration.

Each function takes a running ``hass`` with the integration set up on an emulated panel
(``init_integration`` and ``emulator`` in tests/conftest.py) and the test's ``freezer``;
time moves in small steps with ``async_fire_time_changed``, so anything that ticks is seen.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import gc
import gzip
import json
import logging
from pathlib import Path
import time
import tracemalloc
from typing import Any
from unittest.mock import patch

import coverage
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.button import DOMAIN as BUTTON_DOMAIN, SERVICE_PRESS
from homeassistant.components.number import (
    ATTR_VALUE,
    DOMAIN as NUMBER_DOMAIN,
    SERVICE_SET_VALUE,
)
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, CONF_ADDRESS, EVENT_STATE_CHANGED
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er, storage
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.json import json_encoder_default
from homeassistant.util import dt as dt_util
import orjson
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.red_light_therapy.const import (
    CONF_PANEL_TYPE,
    DOMAIN,
    PANEL_TYPE_BLOCKBLUELIGHT,
)
from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator
from custom_components.red_light_therapy.panels.tuya.emulator import TuyaEmulator
from custom_components.red_light_therapy.panels.tuya.protocol import Command
from custom_components.red_light_therapy.store import (
    HISTORY_KEY,
    HISTORY_VERSION,
    STORAGE_KEY,
    STORAGE_MINOR_VERSION,
    STORAGE_VERSION,
    TherapyStore,
)
from custom_components.red_light_therapy.store_files import VersionedStore
from custom_components.red_light_therapy.therapy import (
    Area,
    BandDose,
    BandIrradiance,
    IrradianceProfile,
    SessionRecord,
    SessionRequest,
    check,
    default_limits,
)
from custom_components.red_light_therapy.therapy.stored import history_period

from ..common import inject_advertisement, service_info
from ..therapy.builders import session_record

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
        emitted_j_cm2=emitted_dose(
            emulator, sessions.panel_settings.profile, sessions.panel_settings.distance_cm
        ),
        recorded_j_cm2=record.dose.total,
    )


# -- years of history ----------------------------------------------------------------------

# Captured at import, before the ``hass`` fixture routes Store reads and writes through
# ``hass_storage`` (in the event loop): the measurement uses the real file path, as at home.
_REAL_LOAD = storage.Store._async_load
_REAL_WRITE = storage.Store._async_write_data


@dataclass(frozen=True, slots=True)
class HistoryLoad:
    """A store of ``sessions`` daily records loaded and saved from a real file."""

    sessions: int
    loaded: int
    load_seconds: float
    load_max_block_ms: float
    save_max_block_ms: float
    load_worst_block_ms: float
    limits_check_ms: float
    dose_today_ms: float


class LoopLag:
    """The longest time the event loop went without running this monitor: a task that
    yields at every turn of the loop, so a gap between two turns is a block."""

    def __init__(self) -> None:
        self.max_block_s = 0.0
        self._running = True

    async def run(self) -> None:
        last = time.perf_counter()
        while self._running:
            await asyncio.sleep(0)
            now = time.perf_counter()
            self.max_block_s = max(self.max_block_s, now - last)
            last = now

    async def measure(self, work: Awaitable[object]) -> float:
        """Run ``work`` under the monitor; the longest block in ms."""
        self.max_block_s, self._running = 0.0, True
        monitor = asyncio.create_task(self.run())
        await asyncio.sleep(0)
        try:
            await work
        finally:
            self._running = False
            await monitor
        return self.max_block_s * 1000


def daily_records(sessions: int, now: datetime) -> list[dict[str, Any]]:
    """One ten-minute session a day ending yesterday, on rotating areas; more than fit in
    the days since 2000 come closer together."""
    areas = [area.value for area in Area]
    step = min(timedelta(days=1), (now - datetime(2000, 1, 1, tzinfo=UTC)) / sessions)
    first = now - step * sessions
    records = []
    for index in range(sessions):
        start = first + step * index
        records.append(
            session_record(
                f"record-{index:06d}",
                start,
                length=timedelta(minutes=10),
                dose=BandDose(4.8, 2.4),
                area=areas[index % len(areas)],
                on_seconds=600.0,
                panel_id="panel",
            ).to_dict()
        )
    return records


def stored_files(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The store's documents (by key, as ``hass_storage`` holds them) for ``records``: the
    main file, one history file per week and their index."""
    weeks: dict[str, list[Any]] = {}
    for item in records:
        record = SessionRecord.from_dict(item)
        weeks.setdefault(history_period(record.started_at), []).append(record.to_row())
    files = {
        f"{HISTORY_KEY}.{week}": {
            "version": HISTORY_VERSION,
            "minor_version": 1,
            "key": f"{HISTORY_KEY}.{week}",
            "data": {"records": rows},
        }
        for week, rows in weeks.items()
    }
    files[HISTORY_KEY] = {
        "version": HISTORY_VERSION,
        "minor_version": 1,
        "key": HISTORY_KEY,
        "data": {"periods": sorted(weeks)},
    }
    files[STORAGE_KEY] = {
        "version": STORAGE_VERSION,
        "minor_version": STORAGE_MINOR_VERSION,
        "key": STORAGE_KEY,
        "data": {"active": {}, "settings": {}, "plans": {}},
    }
    return files


def _write_store(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for key, document in stored_files(records).items():
        (path.parent / key).write_text(json.dumps(document, indent=2), encoding="utf-8")


async def history_load(
    hass: HomeAssistant, directory: Path, sessions: int, *, repeats: int = 1
) -> HistoryLoad:
    """Load a store of ``sessions`` records from a real file with the event loop watched,
    save it back (watched too), then time what every start and the dose sensor compute over
    it: the limits check and today's dose.

    The longest block is the best of ``repeats`` loads (and saves): on a machine whose cores
    are all busy, any thread holding the GIL may be descheduled for tens of milliseconds, so
    a single run mixes the machine's noise into the figure (a trivial busy thread shows 50 to
    100 ms here); a block the code itself causes shows in every run."""
    now = dt_util.utcnow()
    path = directory / STORAGE_KEY
    records = await hass.async_add_executor_job(daily_records, sessions, now)
    await hass.async_add_executor_job(_write_store, path, records)
    del records
    lag = LoopLag()
    load_blocks: list[float] = []
    save_blocks: list[float] = []
    with (
        patch.object(VersionedStore, "_async_load", _REAL_LOAD),
        patch.object(VersionedStore, "_async_write_data", _REAL_WRITE),
        patch.object(VersionedStore, "path", property(lambda self: str(path.parent / self.key))),
    ):
        for _ in range(repeats):
            store = TherapyStore(hass)
            # A full collection first: the garbage the test made is not the load's (a full
            # collection holds every thread while it scans the whole heap).
            gc.collect()
            started = time.perf_counter()
            load_blocks.append(await lag.measure(store.async_load()))
            load_seconds = time.perf_counter() - started
            gc.collect()
            save_blocks.append(await lag.measure(store.async_save()))

    request = SessionRequest("face", 600.0, BandIrradiance(30.0, 20.0), now)
    started = time.perf_counter()
    check(request, store.history, default_limits("face"))
    check_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    store.history.dose_on_day(dt_util.now().date(), dt_util.get_default_time_zone())
    today_ms = (time.perf_counter() - started) * 1000
    return HistoryLoad(
        sessions=sessions,
        loaded=len(store.history),
        load_seconds=load_seconds,
        load_max_block_ms=min(load_blocks),
        save_max_block_ms=min(save_blocks),
        load_worst_block_ms=max(load_blocks),
        limits_check_ms=check_ms,
        dose_today_ms=today_ms,
    )


async def _run_clock(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    delta: timedelta,
    step: timedelta,
    *,
    turns: int = 1,
    epsilon: timedelta = timedelta(0),
) -> None:
    """Let the test clock run for ``delta`` in ``step``s (each ``epsilon`` longer); after each
    step the loop turns ``turns`` times and everything started finishes: timers fire when they
    are due."""
    end = dt_util.utcnow() + delta
    while (left := end - dt_util.utcnow()) > timedelta(0):
        freezer.tick(min(step + epsilon, left))
        for _ in range(turns):
            await asyncio.sleep(0)
        await hass.async_block_till_done(wait_background_tasks=True)


@dataclass(frozen=True, slots=True)
class IdleDay:
    """A day with nobody using the panel, on a link with latency."""

    link_s: float
    connections: int
    states_computed: int
    state_changes: int


async def idle_day(
    hass: HomeAssistant,
    entry: ConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    *,
    latency_s: float = 0.25,
    step: timedelta = timedelta(seconds=2),
) -> IdleDay:
    """24 hours from local noon with no session: how long the panel's radio is taken, and
    how often the entry's entities computed their state against how often it changed.

    Every connection and query takes ``latency_s`` each way on the test clock, as the
    start measurement does. A computed state is a call of ``Entity._async_write_ha_state``
    (the entity works out its state and attributes); a change is a ``state_changed`` event.
    """
    await _advance_to_local_noon(hass, freezer)
    emulator.latency_s = latency_s
    emulator.sleep = clock_sleep(freezer)
    await _run_clock(hass, freezer, timedelta(minutes=5), step)  # past the setup's grace
    registry = er.async_get(hass)
    entity_ids = {e.entity_id for e in er.async_entries_for_config_entry(registry, entry.entry_id)}
    computed = 0
    changes = 0
    original = Entity._async_write_ha_state

    def _counting(entity: Entity) -> None:
        nonlocal computed
        if entity.entity_id in entity_ids:
            computed += 1
        original(entity)

    @callback
    def _count(event: Event[EventStateChangedData]) -> None:
        nonlocal changes
        if event.data["entity_id"] in entity_ids:
            changes += 1

    link_before = emulator.link_seconds()
    connections_before = emulator.connections
    unsubscribe = hass.bus.async_listen(EVENT_STATE_CHANGED, _count)
    try:
        with patch.object(Entity, "_async_write_ha_state", _counting):
            await _run_clock(hass, freezer, timedelta(days=1), step)
    finally:
        unsubscribe()
    return IdleDay(
        link_s=emulator.link_seconds() - link_before,
        connections=emulator.connections - connections_before,
        states_computed=computed,
        state_changes=changes,
    )


IO_TURNS = 40
"""Turns of the event loop after each step: enough for a heartbeat or a status read and its
answer on loopback (the timer, the device reading and answering, the driver reading, the
waiter resuming), with room to spare."""
CLOCK_EPSILON = timedelta(milliseconds=1)
"""Added to each step: the loop's clock is a frozen ``time.monotonic()`` near 1.8e9 s, where a
float cannot hold asyncio's 1 ns clock resolution, so a timer due exactly at a step's end
would only fire one step later (a 10 s heartbeat measured every 15 s with 5 s steps)."""


async def run_clock_with_sockets(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta, step: timedelta
) -> None:
    """``_run_clock`` for a panel on a real socket: after each step the loop turns a few
    times, so whatever became due is sent, answered and read before time moves on."""
    await _run_clock(hass, freezer, delta, step, turns=IO_TURNS, epsilon=CLOCK_EPSILON)


@dataclass(frozen=True, slots=True)
class TuyaIdleDay:
    """A day with nobody using a Wi-Fi panel: what crossed its TCP link, both ways."""

    bytes: int
    heartbeats: int
    status_reads: int
    connections: int


async def tuya_idle_day(
    hass: HomeAssistant,
    emulator: TuyaEmulator,
    freezer: FrozenDateTimeFactory,
    *,
    step: timedelta = timedelta(seconds=10),
) -> TuyaIdleDay:
    """24 hours from local noon with no session, counted at the emulated device: the bytes of
    every frame it received and sent (TCP payload), its heartbeats and status reads, and how
    many connections were opened (none when the link is held; one a look when polling, the
    default)."""
    await _advance_to_local_noon(hass, freezer)
    await run_clock_with_sockets(hass, freezer, timedelta(minutes=5), step)  # past setup
    bytes_before = emulator.bytes_received + emulator.bytes_sent
    commands_before = len(emulator.commands)
    connections_before = emulator.connections
    await run_clock_with_sockets(hass, freezer, timedelta(days=1), step)
    commands = emulator.commands[commands_before:]
    return TuyaIdleDay(
        bytes=emulator.bytes_received + emulator.bytes_sent - bytes_before,
        heartbeats=commands.count(Command.HEART_BEAT),
        status_reads=sum(cmd in (Command.DP_QUERY, Command.DP_QUERY_NEW) for cmd in commands),
        connections=emulator.connections - connections_before,
    )


async def tuya_unplanned_detect_s(
    hass: HomeAssistant,
    emulator: TuyaEmulator,
    freezer: FrozenDateTimeFactory,
    *,
    step: timedelta = timedelta(seconds=1),
) -> float:
    """A Wi-Fi panel whose link is opened to look (``LinkPolicy.POLL``, the default), the worst
    case for use at its button: pressed just after a look closed the link, until the light shows
    it on (a running session). Its only light is the panel's."""
    await _advance_to_local_noon(hass, freezer)
    (light,) = hass.states.async_entity_ids("light")
    deadline = dt_util.utcnow() + timedelta(hours=1)
    looks = emulator.connections
    while emulator.connections == looks or emulator.clients:
        assert dt_util.utcnow() < deadline, "the idle panel is never looked at"
        await run_clock_with_sockets(hass, freezer, step, step)
    emulator.press_button()
    pressed = dt_util.utcnow()
    while (state := hass.states.get(light)) is None or state.state != "on":
        assert dt_util.utcnow() < deadline, "use at the panel was never noticed"
        await run_clock_with_sockets(hass, freezer, step, step)
    return (dt_util.utcnow() - pressed).total_seconds()


async def unplanned_detect_s(
    hass: HomeAssistant,
    entry: ConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    *,
    latency_s: float = 0.25,
    step: timedelta = timedelta(milliseconds=250),
) -> float:
    """The worst case for use at the panel's button while its link is idle: pressed just
    after a look at the panel closed its link, until the light shows it on."""
    await _advance_to_local_noon(hass, freezer)
    emulator.latency_s = latency_s
    emulator.sleep = clock_sleep(freezer)
    light = _entity_id(hass, entry, "light", "panel")
    deadline = dt_util.utcnow() + timedelta(hours=1)
    # Wait for a look at the panel to begin and end: the press then waits for the next one.
    looks = emulator.connections
    while emulator.connections == looks or emulator.connected:
        assert dt_util.utcnow() < deadline, "the idle panel is never looked at"
        await _run_clock(hass, freezer, step, step)
    emulator.press_button()
    pressed = dt_util.utcnow()
    while (state := hass.states.get(light)) is None or state.state != "on":
        assert dt_util.utcnow() < deadline, "use at the panel was never noticed"
        await _run_clock(hass, freezer, step, step)
    return (dt_util.utcnow() - pressed).total_seconds()


@dataclass(frozen=True, slots=True)
class Start:
    """A session started on a closed link with latency: round trips and the return time."""

    round_trips: int
    return_s: float


async def ble_start(
    hass: HomeAssistant,
    entry: ConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    *,
    latency_s: float = 0.25,
) -> Start:
    """``start_session`` from a closed link, ``latency_s`` each way (the connection too):
    the writes the panel received (each one round trip: a write may carry several frames) and
    how long the action took to return."""
    await _advance_to_local_noon(hass, freezer)
    await _run_clock(hass, freezer, timedelta(minutes=5), timedelta(seconds=1))
    assert not emulator.connected, "the link should be closed before the start"
    emulator.latency_s = latency_s
    emulator.sleep = clock_sleep(freezer)
    light = _entity_id(hass, entry, "light", "panel")
    writes_before = emulator.writes
    started = dt_util.utcnow()
    await hass.services.async_call(
        "red_light_therapy",
        "start_session",
        {ATTR_ENTITY_ID: light, "minutes": 5, "area": "knee"},
        blocking=True,
        return_response=True,
    )
    returned = dt_util.utcnow()
    assert emulator.is_on
    return Start(
        round_trips=emulator.writes - writes_before,
        return_s=(returned - started).total_seconds(),
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


# -- several panels ------------------------------------------------------------------------


def panel_address(index: int) -> str:
    """The Bluetooth address of the ``index``-th emulated panel of a bench."""
    return f"3C:AB:72:5F:{index // 256:02X}:{index % 256:02X}"


@contextmanager
def ble_link_to(emulators: dict[str, BlockBlueLightEmulator]) -> Iterator[None]:
    """Route each connection to the emulator at the device's address."""

    async def _establish(
        _client_class: Any, device: Any, _name: str, disconnected_callback: Any = None, **_: Any
    ) -> Any:
        return await emulators[device.address.upper()].client_factory(device, disconnected_callback)

    with patch(
        "custom_components.red_light_therapy.panels.blockbluelight.driver.establish_connection",
        _establish,
    ):
        yield


def add_ble_panels(
    hass: HomeAssistant, first: int, count: int
) -> tuple[dict[str, BlockBlueLightEmulator], list[MockConfigEntry]]:
    """``count`` emulated panels in Bluetooth range, each with its (not yet set up) entry."""
    emulators: dict[str, BlockBlueLightEmulator] = {}
    entries: list[MockConfigEntry] = []
    for index in range(first, first + count):
        address = panel_address(index)
        emulators[address] = BlockBlueLightEmulator(
            address, clock=lambda: dt_util.utcnow().timestamp()
        )
        inject_advertisement(hass, service_info(address, f"BLOCK{address.replace(':', '')}"))
        entry = MockConfigEntry(
            domain=DOMAIN,
            title=f"Panel {index}",
            unique_id=address,
            data={CONF_ADDRESS: address, CONF_PANEL_TYPE: PANEL_TYPE_BLOCKBLUELIGHT},
        )
        entry.add_to_hass(hass)
        entries.append(entry)
    return emulators, entries


@dataclass(frozen=True, slots=True)
class SetupCost:
    """Setting up panels after the first: time and memory each, and states written."""

    ms_per_panel: float
    kib_per_panel: float
    state_changes_per_panel: float
    entities_per_panel: float


async def setup_cost(hass: HomeAssistant, panels: int = 50, *, trace: bool = False) -> SetupCost:
    """Set up one panel (the integration's own setup, its platforms), then ``panels`` more:
    the CPU time per added panel (the process's, every thread's: on a busy machine wall
    time counts the other programs too), or (``trace``) the memory still held per added panel
    (``tracemalloc``, which slows everything down: its run's time is not the figure).

    The event loop runs as in production for the measured part: the test harness's asyncio
    debug mode records a traceback at every task and callback, which alone doubles the time
    and adds to the memory. For the memory, INFO records are not made either: pytest's log
    capture keeps every one (Home Assistant's handlers write them and let them go)."""
    emulators, entries = add_ble_panels(hass, 0, 1)
    await hass.async_block_till_done()
    changes = 0

    @callback
    def _count(_event: Event[EventStateChangedData]) -> None:
        nonlocal changes
        changes += 1

    try:
        with ble_link_to(emulators):
            assert await hass.config_entries.async_setup(entries[0].entry_id)
            await hass.async_block_till_done()
            more, added = add_ble_panels(hass, 1, panels)
            emulators.update(more)
            entries += added
            await hass.async_block_till_done()
            gc.collect()
            unsubscribe = hass.bus.async_listen(EVENT_STATE_CHANGED, _count)
            debug = hass.loop.get_debug()
            hass.loop.set_debug(False)
            if trace:
                logging.disable(logging.INFO)
                tracemalloc.start()
            before, _ = tracemalloc.get_traced_memory()
            # Not under the coverage tracer either (scripts/test runs with it): it is no part
            # of a user's Home Assistant, and it alone about doubles the time.
            tracer = coverage.Coverage.current()
            if tracer is not None:
                tracer.stop()
            started = time.process_time()
            try:
                for entry in entries[1:]:
                    assert await hass.config_entries.async_setup(entry.entry_id)
                await hass.async_block_till_done()
                elapsed = time.process_time() - started
            finally:
                if tracer is not None:
                    tracer.start()
            gc.collect()
            after, _ = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            logging.disable(logging.NOTSET)
            hass.loop.set_debug(debug)
            unsubscribe()
            registry = er.async_get(hass)
            entities = sum(
                len(er.async_entries_for_config_entry(registry, entry.entry_id))
                for entry in entries[1:]
            )
            for entry in entries:
                assert entry.state is ConfigEntryState.LOADED
                await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()
    finally:
        for emulator in emulators.values():
            emulator.close()
    return SetupCost(
        ms_per_panel=elapsed * 1000 / panels,
        kib_per_panel=(after - before) / 1024 / panels,
        state_changes_per_panel=changes / panels,
        entities_per_panel=entities / panels,
    )


@dataclass(frozen=True, slots=True)
class OtherPanels:
    """State changes of other panels' entities during one panel's session."""

    unrelated: int
    related: int
    related_by_entity: dict[str, int]


async def other_panel_state_changes(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    panels: list[tuple[MockConfigEntry, BlockBlueLightEmulator]],
    *,
    minutes: int = 2,
) -> OtherPanels:
    """Three set-up panels: the first runs a ``minutes`` face session; the second treats the
    legs (it shares no skin with the face), the third the face too. The ``state_changed``
    events of the second's and the third's entities from the start to 10 s after the end."""
    (first, panel), (unrelated_entry, _), (related_entry, _) = panels
    await _advance_to_local_noon(hass, freezer)
    for (entry, _), area in zip(panels, ("face", "leg", "face"), strict=True):
        select = _entity_id(hass, entry, "select", "treatment_area")
        await _call(hass, "select", "select_option", {ATTR_ENTITY_ID: select, "option": area})
    registry = er.async_get(hass)
    unrelated = {
        e.entity_id for e in er.async_entries_for_config_entry(registry, unrelated_entry.entry_id)
    }
    related = {
        e.entity_id for e in er.async_entries_for_config_entry(registry, related_entry.entry_id)
    }
    changes: Counter[str] = Counter()

    @callback
    def _count(event: Event[EventStateChangedData]) -> None:
        changes[event.data["entity_id"]] += 1

    unsubscribe = hass.bus.async_listen(EVENT_STATE_CHANGED, _count)
    try:
        light = _entity_id(hass, first, "light", "panel")
        await hass.services.async_call(
            DOMAIN,
            "start_session",
            {ATTR_ENTITY_ID: light, "minutes": minutes, "area": "face"},
            blocking=True,
            return_response=True,
        )
        assert panel.is_on
        await _advance(hass, freezer, timedelta(minutes=minutes, seconds=10))
        assert not panel.is_on
    finally:
        unsubscribe()
    return OtherPanels(
        unrelated=sum(n for e, n in changes.items() if e in unrelated),
        related=sum(n for e, n in changes.items() if e in related),
        related_by_entity={e: n for e, n in sorted(changes.items()) if e in related},
    )


# -- what the store writes ---------------------------------------------------------------


def stored_history(sessions: int) -> dict[str, dict[str, Any]]:
    """The store's files (as ``hass_storage`` holds them) with ``sessions`` daily records,
    the last a month ago (none of them keeps today's session out)."""
    return stored_files(daily_records(sessions, dt_util.utcnow() - timedelta(days=30)))


def _on_disk(document: dict[str, Any]) -> bytes:
    """A store document as Home Assistant's ``save_json`` writes it: orjson, indented by 2."""
    return orjson.dumps(
        document,
        option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS,
        default=json_encoder_default,
    )


@dataclass(frozen=True, slots=True)
class StoreWrites:
    """The integration's store files written during one session."""

    writes: int
    bytes: int


async def store_bytes_per_session(
    hass: HomeAssistant,
    entry: ConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    *,
    minutes: int = 2,
) -> StoreWrites:
    """Bytes of every file of the integration's store written (as JSON, the way Home
    Assistant writes it) from pressing Start to 10 s after the session's end, pending
    delayed saves included."""
    await _advance_to_local_noon(hass, freezer)
    duration = _entity_id(hass, entry, NUMBER_DOMAIN, "session_duration")
    await _call(
        hass, NUMBER_DOMAIN, SERVICE_SET_VALUE, {ATTR_ENTITY_ID: duration, ATTR_VALUE: minutes}
    )
    await _advance(hass, freezer, timedelta(minutes=1))  # the setting's own delayed save
    start = _entity_id(hass, entry, BUTTON_DOMAIN, "start_session")
    writes = 0
    written = 0
    write = storage.Store._async_write_data

    async def _counting(self: storage.Store[Any], *args: Any) -> None:
        # (path, data) on Home Assistant 2025.4, (data) on newer releases: the data is last.
        # Written first: a delayed save's data is made then (``data_func``). Counted as
        # Home Assistant's ``save_json`` puts it on disk (indented by two).
        nonlocal writes, written
        await write(self, *args)
        if self.key.startswith(DOMAIN):
            writes += 1
            written += len(_on_disk(args[-1]))

    with patch.object(storage.Store, "_async_write_data", _counting):
        await _call(hass, BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: start})
        assert emulator.is_on
        await _advance(hass, freezer, timedelta(minutes=minutes, seconds=10))
        assert not emulator.is_on
        await _advance(hass, freezer, timedelta(minutes=1))  # any delayed save
    return StoreWrites(writes=writes, bytes=written)
