"""Shared fixtures: a settable clock and emulators on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
import time
from typing import Any

import pytest

from custom_components.red_light_therapy.panels.tuya import TuyaPanel
from custom_components.red_light_therapy.panels.tuya.emulator import TuyaEmulator

DEVICE_ID = "bf01234567890abcdef1"
LOCAL_KEY = "0123456789abcdef"
WRONG_KEY = "fedcba9876543210"
VERSIONS = ("3.3", "3.4", "3.5")


class FakeClock:
    """A clock tests move by hand; starts at a fixed POSIX time."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


EmulatorFactory = Callable[..., Awaitable[TuyaEmulator]]
PanelFactory = Callable[..., TuyaPanel]


@pytest.fixture
async def make_emulator(socket_enabled: None) -> AsyncIterator[EmulatorFactory]:
    """Start emulators on 127.0.0.1 (ephemeral ports); all stopped at the end."""
    started: list[TuyaEmulator] = []

    async def _make(version: str, **kwargs: Any) -> TuyaEmulator:
        kwargs.setdefault("clock", time.time)
        emulator = TuyaEmulator(DEVICE_ID, kwargs.pop("local_key", LOCAL_KEY), version, **kwargs)
        await emulator.start()
        started.append(emulator)
        return emulator

    yield _make
    for emulator in started:
        await emulator.stop()


@pytest.fixture
async def make_panel() -> AsyncIterator[PanelFactory]:
    """Panels with short timeouts; all disconnected at the end."""
    panels: list[TuyaPanel] = []

    def _make(emulator: TuyaEmulator, **kwargs: Any) -> TuyaPanel:
        kwargs.setdefault("clock", emulator.clock)
        kwargs.setdefault("command_timeout_s", 1.0)
        kwargs.setdefault("connect_timeout_s", 1.0)
        kwargs.setdefault("confirm_timeout_s", 0.3)
        kwargs.setdefault("backoff_initial_s", 0.01)
        kwargs.setdefault("backoff_max_s", 0.05)
        panel = TuyaPanel(
            "127.0.0.1",
            DEVICE_ID,
            kwargs.pop("local_key", LOCAL_KEY),
            emulator.version,
            kwargs.pop("dp_map", emulator.dp_map),
            port=emulator.port,
            **kwargs,
        )
        panels.append(panel)
        return panel

    yield _make
    for panel in panels:
        await panel.disconnect()
