"""The figures of scripts/bench, measured on the emulated panel, against their budgets."""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator

from .bench.measure import (
    card_bundle_gzip_kb,
    card_first_render_ms,
    dose_accuracy,
    state_writes_per_session,
)
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


DOSE_ERROR_BUDGET_PCT = 1.0
"""Issue 3: the panel emits within 1 % of the asked dose with 250 ms latency each way."""
RECORDED_VS_EMITTED_BUDGET_PCT = 0.5
"""Issue 3: the recorded dose is within 0.5 % of what the panel emitted."""


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


CARD_BUNDLE_BUDGET_KB = 40
"""Issue 14: the dashboard card, gzipped as a browser downloads it, is at most 40 kB."""


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
