"""The figures of scripts/bench, measured on the emulated panel, against their budgets."""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator

from .bench.measure import state_writes_per_session
from .bench.report import record

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
