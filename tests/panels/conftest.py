"""Fixtures shared by the panel tests (no Home Assistant)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator

from .blockbluelight_helpers import FakeClock, LoopClock, settle


@pytest.fixture
async def loop_clock() -> AsyncGenerator[LoopClock]:
    """The event loop's clock, moved on by hand (``await loop_clock.advance(seconds)``)."""
    moved = LoopClock(asyncio.get_running_loop())
    yield moved
    moved.restore()


@pytest.fixture
def clock() -> FakeClock:
    """A BlockBlueLight panel's clock, moved on by hand (the Tuya tests have their own)."""
    return FakeClock()


@pytest.fixture
async def emulator(clock: FakeClock) -> AsyncGenerator[BlockBlueLightEmulator]:
    """A BlockBlueLight panel on ``clock``, closed after the test."""
    emu = BlockBlueLightEmulator(clock=clock, sleep=clock.sleep)
    yield emu
    emu.close()
    await settle()
