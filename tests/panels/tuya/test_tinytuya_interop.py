"""The emulator against tinytuya, an independent implementation of the Tuya local protocol.

tinytuya is synchronous; it runs in a worker thread while the emulator serves on the loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import tinytuya

from custom_components.red_light_therapy.panels.tuya.emulator import TuyaEmulator
from custom_components.red_light_therapy.panels.tuya.protocol import Command

from .conftest import DEVICE_ID, LOCAL_KEY, WRONG_KEY, EmulatorFactory


def _device(emulator: TuyaEmulator, key: str = LOCAL_KEY) -> Any:
    device = tinytuya.Device(
        DEVICE_ID,
        "127.0.0.1",
        key,
        version=float(emulator.version.value),
        port=emulator.port,
        connection_timeout=2,
    )
    device.set_socketRetryLimit(1)
    device.set_socketRetryDelay(0)
    return device


async def test_status_and_writes(version: str, make_emulator: EmulatorFactory) -> None:
    emulator = await make_emulator(version)

    def _run() -> list[Any]:
        device = _device(emulator)
        try:
            return [
                device.status(),
                device.turn_on(switch=20),
                device.set_multiple_values({"22": 300, "26": 600}),
                device.set_value(20, False),
                device.status(),
            ]
        finally:
            device.close()

    status, on, multiple, off, after = await asyncio.to_thread(_run)
    assert status["dps"] == {"20": False, "22": 1000, "26": 0}
    assert on["dps"] == {"20": True}
    assert multiple["dps"] == {"22": 300, "26": 600}
    assert off["dps"] == {"20": False, "26": 0}  # off clears the countdown
    assert after["dps"] == {"20": False, "22": 300, "26": 0}
    assert emulator.writes == [{"20": True}, {"22": 300, "26": 600}, {"20": False}]
    assert [segment.levels for segment in emulator.emission_log] == [(100,), (30,)]
    assert emulator.emission_log[-1].end is not None


async def test_heartbeat_updatedps_and_push(version: str, make_emulator: EmulatorFactory) -> None:
    emulator = await make_emulator(version)
    device = _device(emulator)
    device.set_socketPersistent(True)
    try:
        assert "dps" in await asyncio.to_thread(device.status)
        # tinytuya waits for a payload after the (empty) heartbeat answer: keep that short.
        device.set_socketTimeout(0.2)
        await asyncio.to_thread(device.heartbeat, False)
        device.set_socketTimeout(2)
        assert Command.HEART_BEAT in emulator.commands
        updated = await asyncio.to_thread(device.updatedps, [20, 22])
        assert updated["dps"] == {"20": False, "22": 1000}
        emulator.press_button()
        pushed = await asyncio.to_thread(device.receive)
        assert pushed["dps"] == {"20": True}
    finally:
        await asyncio.to_thread(device.close)


async def test_wrong_key_is_refused(version: str, make_emulator: EmulatorFactory) -> None:
    emulator = await make_emulator(version)

    def _run() -> Any:
        device = _device(emulator, WRONG_KEY)
        try:
            return device.status()
        finally:
            device.close()

    result = await asyncio.to_thread(_run)
    assert "Err" in result
    assert emulator.auth_failures >= 1
    assert emulator.writes == []


@pytest.mark.parametrize("dp_map", ["generic_switch", "example_red_nir_panel"])
async def test_other_dp_maps(dp_map: str, make_emulator: EmulatorFactory) -> None:
    emulator = await make_emulator("3.4", dp_map=dp_map)

    def _run() -> Any:
        device = _device(emulator)
        try:
            return device.status()
        finally:
            device.close()

    status = await asyncio.to_thread(_run)
    assert status["dps"] == emulator.current_dps()
