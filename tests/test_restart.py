"""Sessions across a Home Assistant restart: reconciled from the stored active session.

A restart is the entry unloaded (Home Assistant stops; the panel keeps its own countdown), the
therapy data read back from what was saved (``hass_storage``), time passing, and the entry set
up again. Stored sessions are also written directly to test the states a crash can leave.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime, timedelta
import math
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy import DATA_STORE
from custom_components.red_light_therapy.const import DOMAIN
from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator, codec
from custom_components.red_light_therapy.store import STORAGE_KEY, STORAGE_VERSION, TherapyStore
from custom_components.red_light_therapy.therapy import (
    BandIrradiance,
    Session,
    SessionOrigin,
    SessionStatus,
    default_limits,
)

from .common import (
    ADDRESS,
    advance,
    inject_advertisement,
    move_to,
    saved_history,
    service_info,
)
from .common_store import recorded_to_its_planned_end
from .therapy.builders import new_session

LIGHT = "light.blockbluelight_f522"
TIMER = "sensor.blockbluelight_f522_session_timer"
END = "sensor.blockbluelight_f522_session_end"
TEN_MINUTES = 600.0
LEVEL = 20
IRRADIANCE = BandIrradiance(4.8, 7.2)  # the panel at 20 %: 12 mW/cm², 7.2 J/cm² in ten minutes


@pytest.fixture
def emulator() -> Generator[BlockBlueLightEmulator]:
    """The panel at the levels the stored sessions were planned at (``IRRADIANCE``)."""
    panel = BlockBlueLightEmulator(
        ADDRESS, clock=lambda: dt_util.utcnow().timestamp(), levels=(LEVEL,) * codec.CHANNEL_COUNT
    )
    yield panel
    panel.close()


async def _start(hass: HomeAssistant, entry: MockConfigEntry, minutes: float) -> Session:
    """Start a session of ``minutes`` on the light; return it as the entry runs it."""
    await hass.services.async_call(
        DOMAIN, "start_session", {"entity_id": LIGHT, "minutes": minutes}, blocking=True
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    session = entry.runtime_data.sessions.session
    assert session is not None
    return session


async def _stop_home_assistant(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Unload, then forget everything in memory: the next start reads what was saved."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    store = TherapyStore(hass)
    await store.async_load()
    hass.data[DATA_STORE] = store


async def _start_home_assistant(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    inject_advertisement(hass, service_info())
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED


def _stored_session(
    entry: MockConfigEntry,
    status: SessionStatus,
    *,
    started_ago: timedelta = timedelta(0),
    on_for: timedelta | None = None,
    planned_seconds: float = TEN_MINUTES,
    origin: SessionOrigin = SessionOrigin.PLANNED,
) -> dict[str, Any]:
    """A session as the store holds it; ``on_for`` ends the first segment (paused)."""
    now = dt_util.utcnow()
    session = new_session(
        "stored-session",
        "whole_body",
        planned_seconds,
        IRRADIANCE,
        origin=origin,
        panel_id=entry.entry_id,
    )
    if status is not SessionStatus.PLANNED:
        session.start(now - started_ago)
    if status is SessionStatus.PAUSED:
        assert on_for is not None
        session.pause(now - started_ago + on_for)
    return session.to_dict()


def _prefill(
    hass_storage: dict[str, Any], entry: MockConfigEntry, session: dict[str, Any]
) -> Session:
    """Store ``session`` as the entry's active session (as a crash left it); return it."""
    hass_storage[STORAGE_KEY] = {
        "version": STORAGE_VERSION,
        "minor_version": 1,
        "key": STORAGE_KEY,
        "data": {
            "active": {entry.entry_id: session},
            "settings": {},
            "plans": {},
        },
    }
    return Session.from_dict(session)


def _freeze(request: pytest.FixtureRequest) -> FrozenDateTimeFactory:
    """Freeze time only now: frozen before setup, the loop's clock jumps and the Bluetooth
    stack's unavailable check forgets the injected advertisement."""
    freezer: FrozenDateTimeFactory = request.getfixturevalue("freezer")
    return freezer


def _last_power(emulator: BlockBlueLightEmulator) -> bool | None:
    """What the host last asked the panel to do with its power (None: never)."""
    powers = [codec.parse_power(f) for f in emulator.commands if f.command == codec.CMD_POWER]
    return powers[-1] if powers else None


async def _three_minutes_in_then_stopped(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> tuple[Session, datetime]:
    """A ten-minute session three minutes in when Home Assistant stops: it and its planned
    end."""
    session = await _start(hass, entry, 10)
    ends_at = session.ends_at
    assert ends_at is not None
    await advance(hass, freezer, timedelta(minutes=3))
    await _stop_home_assistant(hass, entry)
    return session, ends_at


# -- through a real restart ----------------------------------------------------------------


async def test_a_session_that_ended_while_home_assistant_was_down_is_recorded(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """Overdue at start-up: the panel's own countdown ended it at the planned end, so the
    session is closed there, with the dose of the ten minutes it really emitted."""
    session, ends_at = await _three_minutes_in_then_stopped(hass, dimmed_integration, freezer)
    stored = hass_storage[STORAGE_KEY]["data"]["active"][dimmed_integration.entry_id]
    assert stored["status"] == "running"
    await advance(hass, freezer, timedelta(minutes=12))
    assert not emulator.is_on  # its countdown switched it off at the planned end
    await _start_home_assistant(hass, dimmed_integration)

    sessions = dimmed_integration.runtime_data.sessions
    record = recorded_to_its_planned_end(sessions, session, ends_at, emulator, TEN_MINUTES)
    assert record.dose.total == pytest.approx(session.irradiance.total * TEN_MINUTES / 1000)
    data = hass_storage[STORAGE_KEY]["data"]
    assert data["active"] == {}
    assert [r["id"] for r in saved_history(hass_storage)] == [session.id]
    assert hass.states.get(LIGHT).state == STATE_OFF
    assert hass.states.get(TIMER).state == "idle"


async def test_a_running_session_is_rearmed_and_recorded_once(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    session, ends_at = await _three_minutes_in_then_stopped(hass, dimmed_integration, freezer)
    await advance(hass, freezer, timedelta(minutes=1))
    await _start_home_assistant(hass, dimmed_integration)

    sessions = dimmed_integration.runtime_data.sessions
    resumed = sessions.session
    assert resumed is not None
    assert resumed.id == session.id
    assert resumed.status is SessionStatus.RUNNING
    assert resumed.ends_at == ends_at
    assert emulator.is_on
    assert hass.states.get(LIGHT).state == STATE_ON
    assert hass.states.get(TIMER).state == "active"
    assert dt_util.parse_datetime(hass.states.get(END).state) == ends_at.replace(microsecond=0)

    await move_to(hass, freezer, ends_at)

    assert not emulator.is_on
    assert sessions.session is None
    # Recorded once, although the panel's countdown and the re-armed callback both ended it.
    assert [r.id for r in hass.data[DATA_STORE].history] == [session.id]
    recorded_to_its_planned_end(sessions, session, ends_at, emulator, TEN_MINUTES)
    assert hass_storage[STORAGE_KEY]["data"]["active"] == {}


async def test_a_panel_out_of_reach_at_start_up_is_reconciled_when_it_is_back(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Setup waits for the panel (its countdown is the safety net meanwhile); once it answers,
    the session that ended meanwhile is closed at its planned end."""
    session = await _start(hass, dimmed_integration, 10)
    ends_at = session.ends_at
    await _stop_home_assistant(hass, dimmed_integration)
    emulator.refuse_connections = 1000
    inject_advertisement(hass, service_info())
    await hass.config_entries.async_setup(dimmed_integration.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert dimmed_integration.state is ConfigEntryState.SETUP_RETRY

    await advance(hass, freezer, timedelta(minutes=15))
    assert not emulator.is_on
    emulator.refuse_connections = 0
    inject_advertisement(hass, service_info())  # still (or again) in range
    await advance(hass, freezer, timedelta(seconds=30))

    assert dimmed_integration.state is ConfigEntryState.LOADED
    sessions = dimmed_integration.runtime_data.sessions
    recorded_to_its_planned_end(sessions, session, ends_at, emulator, TEN_MINUTES)


# -- states a crash can leave ------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "planned_seconds"),
    [
        (SessionOrigin.PLANNED, TEN_MINUTES),
        # Switched on at the panel: governed by the session maximum, across the restart too.
        (SessionOrigin.UNPLANNED, default_limits("whole_body").max_session_minutes * 60),
    ],
)
@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_a_session_not_yet_due_is_switched_off_by_home_assistant_at_its_end(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    *,
    hass_storage: dict[str, Any],
    request: pytest.FixtureRequest,
    origin: SessionOrigin,
    planned_seconds: float,
) -> None:
    """The panel's countdown was not running: it is armed again to what is left (the safety
    net if Home Assistant stops once more), and the re-armed end callback switches the panel
    off exactly at the planned end, so the restart did not lengthen the session."""
    stored = _prefill(
        hass_storage,
        config_entry,
        _stored_session(
            config_entry,
            SessionStatus.RUNNING,
            started_ago=timedelta(minutes=4),
            planned_seconds=planned_seconds,
            origin=origin,
        ),
    )
    emulator.press_button()  # on, without a countdown
    ends_at = stored.ends_at
    assert ends_at is not None

    await _start_home_assistant(hass, config_entry)
    freezer = _freeze(request)

    sessions = config_entry.runtime_data.sessions
    assert sessions.session is not None
    assert sessions.session.status is SessionStatus.RUNNING
    assert config_entry.runtime_data.panel.keep_connected
    left = (ends_at - dt_util.utcnow()).total_seconds()
    assert emulator.timer_remaining_s == math.ceil(left)
    assert sessions.session.device_deadline is not None
    assert sessions.session.device_deadline >= ends_at
    await move_to(hass, freezer, ends_at - timedelta(seconds=1))
    assert emulator.is_on
    assert sessions.session is not None

    await move_to(hass, freezer, ends_at)

    assert not emulator.is_on
    assert _last_power(emulator) is False  # switched off by Home Assistant
    assert sessions.session is None
    record = sessions.last_session
    assert record is not None
    assert record.origin is origin
    assert record.status is SessionStatus.COMPLETED
    assert record.ended_at == ends_at
    assert record.on_seconds == pytest.approx(planned_seconds)
    assert hass_storage[STORAGE_KEY]["data"]["active"] == {}


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_an_overdue_session_on_a_panel_still_on_is_switched_off_at_once(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    hass_storage: dict[str, Any],
) -> None:
    """No countdown stopped it (the panel is still on at start-up): it is switched off at
    once and the whole time it was on is recorded, the honest (and conservative) dose."""
    stored = _prefill(
        hass_storage,
        config_entry,
        _stored_session(config_entry, SessionStatus.RUNNING, started_ago=timedelta(minutes=30)),
    )
    emulator.press_button()

    await _start_home_assistant(hass, config_entry)

    assert not emulator.is_on
    assert _last_power(emulator) is False
    sessions = config_entry.runtime_data.sessions
    assert sessions.session is None
    record = sessions.last_session
    assert record is not None
    assert record.started_at == stored.started_at
    assert record.status is SessionStatus.COMPLETED
    assert record.on_seconds == pytest.approx(30 * 60, abs=1)
    assert record.dose.total == pytest.approx(IRRADIANCE.total * 30 * 60 / 1000, rel=1e-3)
    assert hass.states.get(LIGHT).state == STATE_OFF


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_an_overdue_session_on_a_panel_already_off_is_closed_at_its_planned_end(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    hass_storage: dict[str, Any],
) -> None:
    stored = _prefill(
        hass_storage,
        config_entry,
        _stored_session(config_entry, SessionStatus.RUNNING, started_ago=timedelta(hours=2)),
    )

    await _start_home_assistant(hass, config_entry)

    assert _last_power(emulator) is None  # nothing to switch
    record = config_entry.runtime_data.sessions.last_session
    assert record is not None
    assert record.ended_at == stored.ends_at
    assert record.on_seconds == pytest.approx(TEN_MINUTES)
    assert record.dose.total == pytest.approx(7.2)
    assert hass_storage[STORAGE_KEY]["data"]["active"] == {}


@pytest.mark.parametrize("panel_on", [False, True], ids=["panel_off", "panel_on"])
@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_a_planned_session_that_never_started_is_dropped(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    hass_storage: dict[str, Any],
    panel_on: bool,
) -> None:
    """Saved, then Home Assistant stopped before the panel acknowledged switching on. If the
    power-on got through after all, the panel is switched off."""
    _prefill(hass_storage, config_entry, _stored_session(config_entry, SessionStatus.PLANNED))
    if panel_on:
        emulator.press_button()

    await _start_home_assistant(hass, config_entry)

    assert not emulator.is_on
    assert _last_power(emulator) is (False if panel_on else None)
    sessions = config_entry.runtime_data.sessions
    assert sessions.session is None
    assert len(sessions.history) == 0
    assert hass_storage[STORAGE_KEY]["data"]["active"] == {}
    assert hass.states.get(LIGHT).state == STATE_OFF
    assert hass.states.get(TIMER).state == "idle"


@pytest.mark.usefixtures("enable_bluetooth", "mock_ble_link")
async def test_a_paused_session_stays_paused_and_resumes_for_what_is_left(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    hass_storage: dict[str, Any],
    request: pytest.FixtureRequest,
) -> None:
    _prefill(
        hass_storage,
        config_entry,
        _stored_session(
            config_entry,
            SessionStatus.PAUSED,
            started_ago=timedelta(minutes=20),
            on_for=timedelta(minutes=3),
        ),
    )

    await _start_home_assistant(hass, config_entry)
    freezer = _freeze(request)

    sessions = config_entry.runtime_data.sessions
    assert sessions.session is not None
    assert sessions.session.status is SessionStatus.PAUSED
    assert not emulator.is_on
    assert hass.states.get(TIMER).state == "paused"
    await advance(hass, freezer, timedelta(hours=1))
    assert sessions.session is not None
    assert sessions.session.status is SessionStatus.PAUSED
    assert len(sessions.history) == 0

    await hass.services.async_call(DOMAIN, "resume_session", {"entity_id": LIGHT}, blocking=True)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert emulator.is_on
    assert emulator.timer_set_s == 7 * 60  # the panel's own countdown for what is left
    await advance(hass, freezer, timedelta(minutes=7))

    assert not emulator.is_on
    record = sessions.last_session
    assert record is not None
    assert record.status is SessionStatus.COMPLETED
    assert record.on_seconds == pytest.approx(TEN_MINUTES, abs=1)
