"""What the store tests share: a panel set up on what is stored, Home Assistant started
again on it (a fresh store read), and a session's record checked as it is kept."""

from __future__ import annotations

from datetime import datetime

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy import DATA_STORE
from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator
from custom_components.red_light_therapy.session_manager import SessionManager
from custom_components.red_light_therapy.store import TherapyStore
from custom_components.red_light_therapy.therapy import Session, SessionRecord, SessionStatus

from .common import inject_advertisement, service_info


async def set_up(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """The panel is seen and its entry set up on what is stored."""
    inject_advertisement(hass, service_info())
    await hass.async_block_till_done()
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


async def unload(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """The entry unloaded, if it is loaded."""
    if entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(entry.entry_id)


async def restart(hass: HomeAssistant, entry: MockConfigEntry) -> TherapyStore:
    """Home Assistant again on what is stored: a fresh store read, the panel set up."""
    await unload(hass, entry)
    hass.data[DATA_STORE] = store = TherapyStore(hass)
    await store.async_load()
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return store


def recorded_to_its_planned_end(
    sessions: SessionManager,
    session: Session,
    ends_at: datetime,
    emulator: BlockBlueLightEmulator,
    on_seconds: float,
) -> SessionRecord:
    """``session`` is over and recorded as completed at its planned end ``ends_at``, with the
    ``on_seconds`` the panel really emitted (its own countdown switched it off there)."""
    assert sessions.session is None
    record = sessions.last_session
    assert record is not None
    assert record.id == session.id
    assert record.status is SessionStatus.COMPLETED
    assert record.ended_at == ends_at
    assert record.on_seconds == pytest.approx(on_seconds)
    assert record.on_seconds == pytest.approx(emulator.on_seconds(), abs=0.01)
    return record
