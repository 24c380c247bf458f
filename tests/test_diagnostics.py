"""Diagnostics: useful to a maintainer, without the panel's address."""

from __future__ import annotations

import json
from typing import Any

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from .common import ADDRESS


@pytest.fixture
async def diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    dimmed_integration: MockConfigEntry,
) -> Any:
    """Diagnostics downloaded while a session runs."""
    await dimmed_integration.runtime_data.sessions.async_start()
    await hass.async_block_till_done(wait_background_tasks=True)
    return await get_diagnostics_for_config_entry(hass, hass_client, dimmed_integration)


async def test_diagnostics_show_the_panel_and_the_session(diagnostics: Any) -> None:
    assert diagnostics["entry"]["data"]["address"] == "**REDACTED**"
    assert diagnostics["entry"]["unique_id"] == "**REDACTED**"
    assert diagnostics["entry"]["title"] == "**REDACTED**"

    assert diagnostics["state"]["is_on"] is True
    assert diagnostics["state"]["levels"] == [20] * 5
    assert diagnostics["state"]["timer_set_s"] == 600
    assert diagnostics["last_update_success"] is True
    assert len(diagnostics["capabilities"]["channels"]) == 5
    assert diagnostics["session"]["status"] == "running"
    assert diagnostics["session"]["planned_seconds"] == 600
    assert diagnostics["settings"]["default_minutes"] == 10
    assert diagnostics["history_records"] == 0


async def test_diagnostics_contain_the_address_nowhere(diagnostics: Any) -> None:
    text = json.dumps(diagnostics).upper()
    assert ADDRESS.upper() not in text
    assert ADDRESS.replace(":", "").upper() not in text
