"""Snapshots of what each panel kind shows a user: its entities, their states, its diagnostics.

A change to an entity's name, unit, device class, category, state or attributes shows up here
as a snapshot diff, to be reviewed and accepted with ``scripts/test --snapshot-update``.

Only what the integration decides is snapshotted. Home Assistant's own registry fields (ids,
timestamps, fields that come and go between releases) and the entry's bookkeeping in the
diagnostics are left out, so the same snapshots hold on the pinned and the newest release.
The clock is frozen and every id fixed, so a run is the same as the last.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import Enum
from typing import Any

from freezegun.api import FrozenDateTimeFactory

# Diagnostics import hassio on first use; imported under the frozen clock, its mashumaro
# models are built against freezegun's datetime and fail. Imported here, before any freeze.
import homeassistant.components.hassio  # noqa: F401
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_ADDRESS
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.matchers import path_type

from custom_components.red_light_therapy.const import (
    CONF_PANEL_TYPE,
    DOMAIN,
    PANEL_TYPE_BLOCKBLUELIGHT,
)

from .common import (
    ADDRESS,
    inject_advertisement,
    plug_panel_entry,
    service_info,
    settle,
    tuya_entry_data,
)
from .conftest import SESSION_LEVEL
from .emulated_tuya import reachable_tuya_panel
from .panels.tuya.conftest import DEVICE_ID

NOW = "2026-03-02 07:00:00+00:00"
"""A Monday morning: the frozen clock every snapshot is taken at."""

ENTRY_ID = "01JSNAPSHOTENTRY0000000000"
PLUG = "switch.panel_plug"
RELAY = "input_boolean.relay"

REGISTRY_FIELDS = (
    "unique_id",
    "translation_key",
    "original_name",
    "original_device_class",
    "original_icon",
    "entity_category",
    "unit_of_measurement",
    "capabilities",
    "disabled_by",
)
"""What the integration decides of a registry entry; the rest is Home Assistant's."""


def _plain(value: Any) -> Any:
    """``value`` with enums as their values, so the snapshot reads as the frontend sees it."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {_plain(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def entities(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    """Each of the entry's entities: its registry entry (our fields) and its state."""
    registry = er.async_get(hass)
    shown: dict[str, Any] = {}
    for entity in sorted(
        er.async_entries_for_config_entry(registry, entry.entry_id), key=lambda e: e.entity_id
    ):
        state = hass.states.get(entity.entity_id)
        shown[entity.entity_id] = {
            "entry": {field: _plain(getattr(entity, field)) for field in REGISTRY_FIELDS},
            "state": None
            if state is None
            else {"state": state.state, "attributes": _plain(dict(state.attributes))},
        }
    return shown


async def diagnostics_of(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, entry: MockConfigEntry
) -> dict[str, Any]:
    """The entry's diagnostics, with the entry reduced to what the integration wrote in it."""
    result = dict(await get_diagnostics_for_config_entry(hass, hass_client, entry))
    written = result.pop("entry")
    result["entry"] = {key: written[key] for key in ("domain", "version", "data", "options")}
    return result


@pytest.fixture(autouse=True)
def frozen(freezer: FrozenDateTimeFactory) -> FrozenDateTimeFactory:
    freezer.move_to(NOW)
    return freezer


async def _set_up(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await settle(hass)
    assert entry.state is ConfigEntryState.LOADED
    return entry


@asynccontextmanager
async def blockbluelight(hass: HomeAssistant) -> AsyncIterator[MockConfigEntry]:
    """A BlockBlueLight panel in Bluetooth range, set up."""
    inject_advertisement(hass, service_info())
    await hass.async_block_till_done()
    entry = MockConfigEntry(
        domain=DOMAIN,
        entry_id=ENTRY_ID,
        title="BlockBlueLight F522",
        unique_id=ADDRESS,
        data={CONF_ADDRESS: ADDRESS, CONF_PANEL_TYPE: PANEL_TYPE_BLOCKBLUELIGHT},
    )
    yield await _set_up(hass, entry)


@asynccontextmanager
async def tuya(hass: HomeAssistant) -> AsyncIterator[MockConfigEntry]:
    """A Tuya Wi-Fi light panel (protocol 3.4) on loopback, set up."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        entry_id=ENTRY_ID,
        title=f"Tuya panel {DEVICE_ID[-4:]}",
        unique_id=DEVICE_ID,
        data=tuya_entry_data(),
    )
    async with reachable_tuya_panel("3.4"):
        yield await _set_up(hass, entry)
        assert await hass.config_entries.async_unload(entry.entry_id)
        await settle(hass)


@asynccontextmanager
async def wrapped(hass: HomeAssistant) -> AsyncIterator[MockConfigEntry]:
    """A smart plug (a template switch over an input boolean) wrapped as a panel, set up."""
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": {"relay": {}}})
    relay_on = {"action": "input_boolean.turn_on", "target": {"entity_id": RELAY}}
    relay_off = {"action": "input_boolean.turn_off", "target": {"entity_id": RELAY}}
    plug = {
        "name": "Panel plug",
        "unique_id": "panel_plug",
        "state": f"{{{{ is_state('{RELAY}', 'on') }}}}",
        "turn_on": relay_on,
        "turn_off": relay_off,
    }
    assert await async_setup_component(hass, "template", {"template": [{"switch": [plug]}]})
    await hass.async_block_till_done()
    yield await _set_up(hass, plug_panel_entry(PLUG, entry_id=ENTRY_ID))


PANELS = {"blockbluelight": blockbluelight, "tuya": tuya, "wrapped": wrapped}
"""Each panel kind: a Bluetooth panel, a Wi-Fi panel, a plug wrapped as a panel."""


@pytest.fixture(params=PANELS)
async def panel(
    request: pytest.FixtureRequest,
    hass: HomeAssistant,
    enable_bluetooth: None,
    mock_ble_link: None,
    socket_enabled: None,
) -> AsyncIterator[MockConfigEntry]:
    """Each panel kind in turn, set up."""
    async with PANELS[request.param](hass) as entry:
        yield entry


@pytest.fixture
async def bluetooth_panel(
    hass: HomeAssistant, enable_bluetooth: None, mock_ble_link: None
) -> AsyncIterator[MockConfigEntry]:
    async with blockbluelight(hass) as entry:
        yield entry


async def _run_a_session(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Dim every channel to ``SESSION_LEVEL`` and start a session, as the Start button does."""
    panel = entry.runtime_data.panel
    await panel.set_levels(dict.fromkeys(range(len(panel.capabilities.channels)), SESSION_LEVEL))
    await entry.runtime_data.sessions.runner.async_start()
    await settle(hass)
    assert entry.runtime_data.sessions.session is not None


async def test_entities(
    hass: HomeAssistant, panel: MockConfigEntry, snapshot: SnapshotAssertion
) -> None:
    """Each panel kind's entities and their states, just set up."""
    assert entities(hass, panel) == snapshot


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    panel: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    """Each panel kind's diagnostics, just set up."""
    assert await diagnostics_of(hass, hass_client, panel) == snapshot


async def test_bluetooth_panel_entities_during_a_session(
    hass: HomeAssistant, bluetooth_panel: MockConfigEntry, snapshot: SnapshotAssertion
) -> None:
    await _run_a_session(hass, bluetooth_panel)
    assert entities(hass, bluetooth_panel) == snapshot


async def test_bluetooth_panel_diagnostics_during_a_session(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    bluetooth_panel: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    await _run_a_session(hass, bluetooth_panel)
    # A session's id is a new ULID each run: its type is what holds.
    fresh_id = path_type({"session.id": (str,)})
    assert await diagnostics_of(hass, hass_client, bluetooth_panel) == snapshot(matcher=fresh_id)
