"""The figures of scripts/bench, measured on the emulated panel, against their budgets."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, __version__ as HA_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import async_get_platforms
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.const import (
    CONF_DEVICE_ID,
    CONF_DP_MAP,
    CONF_LINK_POLICY,
    CONF_LOCAL_KEY,
    CONF_PANEL_TYPE,
    CONF_VERSION,
    DOMAIN,
    PANEL_TYPE_TUYA,
)
from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator
from custom_components.red_light_therapy.panels.link_policy import (
    DEFAULT_LINK_POLICY,
    DETECT_BOUND_S,
    LinkPolicy,
)
from custom_components.red_light_therapy.panels.tuya import TuyaPanel
from custom_components.red_light_therapy.panels.tuya.emulator import TuyaEmulator

from .bench.measure import (
    add_ble_panels,
    ble_link_to,
    ble_start,
    card_bundle_gzip_kb,
    card_first_render_ms,
    dose_accuracy,
    history_load,
    idle_day,
    other_panel_state_changes,
    setup_cost,
    state_writes_per_session,
    store_bytes_per_session,
    stored_history,
    tuya_idle_day,
    tuya_unplanned_detect_s,
    unplanned_detect_s,
)
from .bench.report import record
from .panels.tuya.conftest import DEVICE_ID, LOCAL_KEY

STATE_WRITES_BUDGET = 15
"""A 20-minute session costs a handful of state writes (DESIGN.md): nothing for time passing."""


async def test_state_writes_per_20min_session(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    writes = await state_writes_per_session(hass, init_integration, emulator, freezer, minutes=20)

    # The measurement is only meaningful if the session really ran its 20 minutes.
    assert writes.emitted_seconds == pytest.approx(20 * 60)
    assert not emulator.is_on
    record("state_writes_per_20min_session", writes.total)
    assert writes.total <= STATE_WRITES_BUDGET, writes.by_entity


DOSE_ERROR_BUDGET_PCT = 1.0
"""The panel emits within 1 % of the asked dose with 250 ms latency each way."""
RECORDED_VS_EMITTED_BUDGET_PCT = 0.5
"""The recorded dose is within 0.5 % of what the panel emitted."""


async def test_dose_accuracy_with_latency(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    accuracy = await dose_accuracy(hass, init_integration, emulator, freezer, latency_s=0.25)

    assert not emulator.is_on
    record("dose_error_pct", round(accuracy.dose_error_pct, 3))
    record("recorded_vs_emitted_pct", round(accuracy.recorded_vs_emitted_pct, 3))
    assert accuracy.dose_error_pct <= DOSE_ERROR_BUDGET_PCT, accuracy
    assert accuracy.recorded_vs_emitted_pct <= RECORDED_VS_EMITTED_BUDGET_PCT, accuracy


HISTORY_LOAD_BLOCK_BUDGET_MS = 100.0
"""20,000 sessions (some eighteen years of daily use) load without holding the event
loop for more than 100 ms at a time."""


@pytest.mark.parametrize(
    ("sessions", "repeats", "suffix"), [(20_000, 3, ""), (100_000, 1, "_100k")]
)
async def test_history_load_max_block(
    hass: HomeAssistant, tmp_path: Path, sessions: int, repeats: int, suffix: str
) -> None:
    load = await history_load(hass, tmp_path, sessions, repeats=repeats)

    assert load.loaded == sessions  # every record was read
    record(f"history_load_max_block_ms{suffix}", round(load.load_max_block_ms, 1))
    record(f"history_load_worst_block_ms{suffix}", round(load.load_worst_block_ms, 1))
    record(f"history_save_max_block_ms{suffix}", round(load.save_max_block_ms, 1))
    record(f"history_load_s{suffix}", round(load.load_seconds, 2))
    record(f"history_limits_check_ms{suffix}", round(load.limits_check_ms, 2))
    record(f"history_dose_today_ms{suffix}", round(load.dose_today_ms, 2))
    if sessions == 20_000:
        assert load.load_max_block_ms <= HISTORY_LOAD_BLOCK_BUDGET_MS, load
        assert load.save_max_block_ms <= HISTORY_LOAD_BLOCK_BUDGET_MS, load


IDLE_LINK_BUDGET_S = 900
"""An idle Bluetooth panel's radio is taken at most 1 % of the day (15 minutes)."""
STATES_PER_CHANGE_BUDGET = 10
"""An idle day computes entity states at most 10 times per state that changed."""
UNPLANNED_DETECT_BOUND_S = 125
"""Use at the panel's button is noticed within one idle look (README "How
data is updated": every 2 minutes) plus the look itself."""
START_ROUND_TRIPS_BUDGET = 2
START_RETURN_BUDGET_S = 1.25
"""A start from a closed link at 250 ms each way is the connection and 2 round trips."""


async def test_ble_idle_day(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    day = await idle_day(hass, init_integration, emulator, freezer, latency_s=0.25)

    record("ble_idle_link_s_per_day", round(day.link_s, 1))
    record("ble_idle_connections_per_day", day.connections)
    record("entity_states_computed_per_idle_day", day.states_computed)
    record("entity_state_changes_per_idle_day", day.state_changes)
    # The panel was really looked at all day (a day without looks would pass trivially).
    assert day.connections > 0, day
    assert day.link_s <= IDLE_LINK_BUDGET_S, day
    assert day.states_computed <= STATES_PER_CHANGE_BUDGET * day.state_changes, day


async def test_unplanned_use_is_noticed(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    detect_s = await unplanned_detect_s(hass, init_integration, emulator, freezer)

    record("unplanned_detect_s", round(detect_s, 2))
    assert detect_s <= UNPLANNED_DETECT_BOUND_S


async def test_ble_start_from_a_closed_link(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    start = await ble_start(hass, init_integration, emulator, freezer, latency_s=0.25)

    record("ble_start_round_trips", start.round_trips)
    record("ble_start_return_s", round(start.return_s, 3))
    assert start.round_trips <= START_ROUND_TRIPS_BUDGET, start
    assert start.return_s <= START_RETURN_BUDGET_S, start


TUYA_IDLE_BUDGET_BYTES = 200_000
"""The issue's budget for an idle Wi-Fi panel on the default (``DEFAULT_LINK_POLICY``, polling):
every 5 minutes a connection (with its session-key negotiation on 3.4 and 3.5) and one status
read, no link held between looks."""
TUYA_IDLE_STAY_CONNECTED_GUARD_BYTES = 750_000
"""A held link (``LinkPolicy.STAY_CONNECTED``, the panels set up before polling became the
default, or the user's choice) carries a heartbeat every 20 s and nothing else (1.5 MB a day
before, on 3.4). No heartbeat inside the devices' 30 s window gets to 200 KB (DESIGN.md, "The
idle link"): this guard keeps the figure reached from growing back."""


@pytest.fixture
def link_policy() -> LinkPolicy | None:
    """The entry's option; None: a panel set up now, which has none (the default)."""
    return None


@pytest.fixture
async def tuya_emulator(
    hass: HomeAssistant, version: str, link_policy: LinkPolicy | None
) -> AsyncIterator[TuyaEmulator]:
    """A Tuya light panel on loopback, on Home Assistant's clock, set up as an entry."""
    device = TuyaEmulator(DEVICE_ID, LOCAL_KEY, version, clock=lambda: dt_util.utcnow().timestamp())
    device.idle_timeout_s = 30  # as devices do: the heartbeat must keep the link
    await device.start()
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Tuya panel",
        unique_id=DEVICE_ID,
        data={
            CONF_PANEL_TYPE: PANEL_TYPE_TUYA,
            CONF_HOST: device.host,
            CONF_DEVICE_ID: DEVICE_ID,
            CONF_LOCAL_KEY: LOCAL_KEY,
            CONF_VERSION: version,
            CONF_DP_MAP: "generic_light",
        },
        options={} if link_policy is None else {CONF_LINK_POLICY: link_policy},
        minor_version=2,  # as the flow makes it today: no migration writes a policy
    )
    entry.add_to_hass(hass)
    with patch("custom_components.red_light_therapy.panels.registry.TUYA_PORT", device.port):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        panel = entry.runtime_data.panel
        assert isinstance(panel, TuyaPanel)
        assert panel.link_policy is (link_policy or DEFAULT_LINK_POLICY)
        yield device
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    await device.stop()


def _suffix(version: str) -> str:
    return "" if version == "3.4" else f"_v{version.replace('.', '')}"


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.parametrize("version", ["3.3", "3.4", "3.5"])
async def test_tuya_idle_day(
    hass: HomeAssistant,
    tuya_emulator: TuyaEmulator,
    freezer: FrozenDateTimeFactory,
    version: str,
) -> None:
    """The default: the link opened to look every 5 minutes."""
    day = await tuya_idle_day(hass, tuya_emulator, freezer)

    record(f"tuya_idle_bytes_per_day{_suffix(version)}", day.bytes)
    record(f"tuya_idle_connections_per_day{_suffix(version)}", day.connections)
    # Really looked at all day (a day without looks would cost nothing): one read a look,
    # no link held between them (nothing kept alive).
    assert DEFAULT_LINK_POLICY is LinkPolicy.POLL
    assert day.connections >= 0.95 * 24 * 60 // 5, day  # a look takes a little too
    assert day.status_reads == day.connections, day
    assert day.heartbeats == 0, day
    assert day.bytes <= TUYA_IDLE_BUDGET_BYTES, day


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.parametrize("link_policy", [LinkPolicy.STAY_CONNECTED])
@pytest.mark.parametrize("version", ["3.3", "3.4", "3.5"])
async def test_tuya_idle_day_stay_connected(
    hass: HomeAssistant,
    tuya_emulator: TuyaEmulator,
    freezer: FrozenDateTimeFactory,
    version: str,
) -> None:
    day = await tuya_idle_day(hass, tuya_emulator, freezer)

    suffix = f"_stay_connected{_suffix(version)}"
    record(f"tuya_idle_bytes_per_day{suffix}", day.bytes)
    record(f"tuya_idle_heartbeats_per_day{suffix}", day.heartbeats)
    record(f"tuya_idle_status_reads_per_day{suffix}", day.status_reads)
    # The link really held all day and was kept alive (a dead link would cost nothing).
    assert day.connections == 0, day
    assert day.heartbeats > 0, day
    assert day.status_reads == 0, day  # the device pushes: nothing is read on a timer
    assert day.bytes <= TUYA_IDLE_STAY_CONNECTED_GUARD_BYTES, day


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.parametrize("version", ["3.4"])
async def test_tuya_unplanned_use_is_noticed_by_a_look(
    hass: HomeAssistant, tuya_emulator: TuyaEmulator, freezer: FrozenDateTimeFactory
) -> None:
    detect_s = await tuya_unplanned_detect_s(hass, tuya_emulator, freezer)

    record("tuya_unplanned_detect_s", round(detect_s, 2))
    assert detect_s <= DETECT_BOUND_S


CARD_BUNDLE_BUDGET_KB = 40
"""The dashboard card, gzipped as a browser downloads it, is at most 40 kB."""


def test_card_bundle_gzip_kb() -> None:
    size = card_bundle_gzip_kb()
    record("card_bundle_gzip_kb", round(size, 1))
    assert size <= CARD_BUNDLE_BUDGET_KB


def test_card_first_render_ms() -> None:
    """Measured in Chromium by scripts/test-browser; reported here from its last run."""
    value = card_first_render_ms()
    if value is None:
        pytest.skip("run scripts/test-browser first: it measures the card's first render")
    record("card_first_render_ms", value)


SETUP_MS_BUDGET = 15
SETUP_KIB_BUDGET = 250
"""At 50 Bluetooth panels, each panel's setup takes at most 15 ms and 250 KiB."""
SETUP_KIB_GUARD_NEWEST = 275
"""Not the issue's budget: the newest Home Assistant holds more per entity (261 KiB a panel on
2026.10.4 against 248 on 2025.4.4, the same 27 entities, both before the entities' properties
were uncached: 214 since on 2025.4.4); this guard keeps it from growing.
The budget is asserted on the release the project pins and scripts/bench measures."""


@pytest.mark.usefixtures("enable_bluetooth")
async def test_setup_ms_at_50_panels(hass: HomeAssistant) -> None:
    cost = await setup_cost(hass, panels=50)

    record("setup_ms_per_panel", round(cost.ms_per_panel, 1))
    record("setup_state_changes_per_panel", cost.state_changes_per_panel)
    assert cost.entities_per_panel > 0, cost  # the panels really came up with their entities
    assert cost.ms_per_panel <= SETUP_MS_BUDGET, cost


@pytest.mark.usefixtures("enable_bluetooth")
async def test_setup_kib_at_50_panels(hass: HomeAssistant) -> None:
    cost = await setup_cost(hass, panels=50, trace=True)

    record("setup_kib_per_panel", round(cost.kib_per_panel, 1))
    assert cost.entities_per_panel > 0, cost
    budget = SETUP_KIB_BUDGET if HA_VERSION == "2025.4.4" else SETUP_KIB_GUARD_NEWEST
    assert cost.kib_per_panel <= budget, cost


INLINE_ATTRIBUTES = 30
"""CPython keeps an object's first 29 attributes inline (about 0.3 KiB); at 30 they move to a
dict of 1.9 KiB. Home Assistant caches every entity property it reads in the entity, which
took each of a panel's 27 entities past it: some 40 KiB a panel (DESIGN.md, setup cost)."""


async def test_entities_stay_compact_through_a_session(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The setup memory budget holds after use: a session, its levels and duration set
    through the numbers, started with the button, does not grow the entities past it."""
    await state_writes_per_session(hass, init_integration, emulator, freezer, minutes=2)

    entities = [
        entity
        for platform in async_get_platforms(hass, DOMAIN)
        if platform.config_entry is init_integration
        for entity in platform.entities.values()
    ]
    assert len(entities) == len(
        er.async_entries_for_config_entry(er.async_get(hass), init_integration.entry_id)
    )
    sizes = {entity.entity_id: len(vars(entity)) for entity in entities}
    assert max(sizes.values()) < INLINE_ATTRIBUTES, sizes


@pytest.fixture
async def three_panels(
    hass: HomeAssistant, enable_bluetooth: None
) -> AsyncGenerator[list[tuple[MockConfigEntry, BlockBlueLightEmulator]]]:
    """Three emulated Bluetooth panels, set up (before the test's clock is frozen)."""
    emulators, entries = add_ble_panels(hass, 0, 3)
    await hass.async_block_till_done()
    with ble_link_to(emulators):
        assert await hass.config_entries.async_setup(entries[0].entry_id)  # sets up all three
        await hass.async_block_till_done()
        yield [(entry, emulators[entry.unique_id or ""]) for entry in entries]
        for entry in entries:
            await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    for emulator in emulators.values():
        emulator.close()


async def test_other_panels_state_changes_per_session(
    hass: HomeAssistant,
    three_panels: list[tuple[MockConfigEntry, BlockBlueLightEmulator]],
    freezer: FrozenDateTimeFactory,
) -> None:
    """A session changes nothing on a panel that shares no skin with it; on one
    that does, only what a person sees change (its dose today and week, its lockout)."""
    others = await other_panel_state_changes(hass, freezer, three_panels)

    record("other_panel_state_changes_per_session", others.unrelated)
    record("sharing_panel_state_changes_per_session", others.related)
    assert others.unrelated == 0, others
    # The sharing panel really follows the session (a filter that updated nobody would pass).
    assert others.related > 0, others


STORE_BYTES_BUDGET = 4096
"""A session writes at most 4 KB of store with 1,000 sessions of history."""


@pytest.fixture
def thousand_sessions(hass_storage: dict[str, Any]) -> None:
    """A store holding 1,000 recorded sessions, there before the integration loads it."""
    hass_storage.update(stored_history(1000))


@pytest.mark.usefixtures("thousand_sessions")
async def test_store_bytes_written_per_session(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    assert len(init_integration.runtime_data.sessions.history) == 1000
    store = await store_bytes_per_session(hass, init_integration, emulator, freezer)

    assert len(init_integration.runtime_data.sessions.history) == 1001  # it was recorded
    record("store_bytes_written_per_session", store.bytes)
    record("store_writes_per_session", store.writes)
    assert store.bytes <= STORE_BYTES_BUDGET, store
