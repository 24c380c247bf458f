"""Helpers shared by the Home Assistant tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
import copy
from datetime import datetime, timedelta
import inspect
import time
from typing import Any

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.bluetooth import (
    BluetoothServiceInfoBleak,
    async_get_advertisement_callback,
)
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator, codec
from custom_components.red_light_therapy.store import HISTORY_KEY, STORAGE_KEY
from custom_components.red_light_therapy.therapy import SessionRecord

ADDRESS = "3C:AB:72:5E:F5:22"
NAME = "BLOCK3CAB725EF522"
SERVICE_UUID = "0000fff0-0000-1000-8000-00805f9b34fb"


def service_info(
    address: str = ADDRESS, name: str = NAME, source: str = "local"
) -> BluetoothServiceInfoBleak:
    """An advertisement as Home Assistant's Bluetooth stack hands it to integrations."""
    # bleak 0.22 requires rssi; bleak 1.x+ no longer takes it (a DeprecationWarning in **kwargs).
    rssi = {"rssi": -60} if "rssi" in inspect.signature(BLEDevice).parameters else {}
    device = BLEDevice(address, name, {}, **rssi)
    advertisement = AdvertisementData(
        local_name=name,
        manufacturer_data={},
        service_data={},
        service_uuids=[SERVICE_UUID],
        tx_power=-127,
        rssi=-60,
        platform_data=(),
    )
    return BluetoothServiceInfoBleak(
        name=name,
        address=address,
        rssi=-60,
        manufacturer_data={},
        service_data={},
        service_uuids=[SERVICE_UUID],
        source=source,
        device=device,
        advertisement=advertisement,
        connectable=True,
        time=time.monotonic(),
        tx_power=-127,
    )


def inject_advertisement(hass: HomeAssistant, info: BluetoothServiceInfoBleak) -> None:
    """Feed an advertisement through Home Assistant's public Bluetooth API."""
    async_get_advertisement_callback(hass)(info)


async def settle(hass: HomeAssistant) -> None:
    """Let everything started so far finish, background tasks included."""
    await hass.async_block_till_done(wait_background_tasks=True)


async def move_to(hass: HomeAssistant, freezer: FrozenDateTimeFactory, at: datetime) -> None:
    """Move the frozen clock to ``at``, fire what is due, and let it finish."""
    freezer.move_to(at)
    async_fire_time_changed(hass)
    await settle(hass)


async def advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta) -> None:
    """Move the frozen clock on by ``delta``, fire what is due, and let it finish."""
    freezer.tick(delta)
    async_fire_time_changed(hass)
    await settle(hass)


def power_commands(emulator: BlockBlueLightEmulator) -> int:
    """Power frames (on or off) the emulated panel received."""
    return sum(frame.command == codec.CMD_POWER for frame in emulator.commands)


Events = list[tuple[str, dict[str, Any]]]
"""Session events as (event type, data), in the order they were fired."""


@contextmanager
def recorded_events(entry: MockConfigEntry) -> Iterator[Events]:
    """Every session event of the entry's panel, in order, while the block runs."""
    fired: Events = []
    remove = entry.runtime_data.sessions.events.async_add_event_listener(
        lambda event, data: fired.append((event.value, data))
    )
    try:
        yield fired
    finally:
        remove()


# -- what the store holds (wherever it keeps it) ------------------------------------------


def stored_files(storage: dict[str, Any]) -> dict[str, Any]:
    """Every file of the integration's store in ``hass_storage`` (the main file, each
    history week and their index), copied: compare two of these to prove nothing was written."""
    return {
        key: copy.deepcopy(value)
        for key, value in storage.items()
        if key in (STORAGE_KEY, HISTORY_KEY) or key.startswith(f"{HISTORY_KEY}.")
    }


def saved_history(storage: dict[str, Any]) -> list[dict[str, Any]]:
    """The history as it is stored, each record as ``SessionRecord.to_dict``, oldest first:
    read from the history weeks (and from an old layout's main file, if one is there)."""
    rows: list[Any] = []
    for key in sorted(storage):
        if key.startswith(f"{HISTORY_KEY}."):
            rows.extend(storage[key]["data"]["records"])
    main = storage.get(STORAGE_KEY, {}).get("data") or {}
    rows.extend(main.get("history", {}).get("records", []))
    records = [SessionRecord.from_row(row) for row in rows]
    return [r.to_dict() for r in sorted(records, key=lambda record: record.started_at)]
