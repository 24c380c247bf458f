"""Fixtures shared by the panel tests (no Home Assistant)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from .blockbluelight_helpers import LoopClock


@pytest.fixture
async def loop_clock() -> AsyncGenerator[LoopClock]:
    """The event loop's clock, moved on by hand (``await loop_clock.advance(seconds)``)."""
    moved = LoopClock(asyncio.get_running_loop())
    yield moved
    moved.restore()
