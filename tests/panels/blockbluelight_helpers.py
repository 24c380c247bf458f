"""Test helpers for the BlockBlueLight tests: a clock the tests move, a notification sink."""

from __future__ import annotations

import asyncio
from typing import Any

from custom_components.red_light_therapy.panels.blockbluelight import Frame, FrameDecoder

T0 = 1_750_000_000.0


class FakeClock:
    """POSIX seconds that only move when told; ``sleep`` moves them (and yields once)."""

    def __init__(self, now: float = T0) -> None:
        self.now = now
        self.sleeps: list[float] = []
        self._slept = asyncio.Condition()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        async with self._slept:
            self._slept.notify_all()
        await asyncio.sleep(0)

    async def until_slept(self, count: int, within_s: float = 5.0) -> None:
        """Wait (bounded) until ``sleep`` has been asked for ``count`` waits in all."""
        async with asyncio.timeout(within_s), self._slept:
            await self._slept.wait_for(lambda: len(self.sleeps) >= count)


class Sink:
    """A notify callback that keeps every notification it gets."""

    def __init__(self) -> None:
        self.notifications: list[bytes] = []
        self.senders: list[Any] = []

    def __call__(self, sender: Any, data: bytearray) -> None:
        assert isinstance(data, bytearray)
        self.senders.append(sender)
        self.notifications.append(bytes(data))

    def frames(self) -> list[Frame]:
        return FrameDecoder().feed(b"".join(self.notifications))


async def settle(rounds: int = 10) -> None:
    """Let queued callbacks and tasks run."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def wait_until(condition: Any, rounds: int = 500) -> None:
    """Run the loop until ``condition()`` holds (no real time passes unless tasks sleep)."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


class LoopClock:
    """The running event loop's clock, moved on by hand: ``call_later`` timers (the idle
    grace) fire when ``advance`` passes them, never because real time went by."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._real = loop.time
        self._offset = 0.0
        loop.time = self._time  # type: ignore[method-assign]

    def _time(self) -> float:
        return self._real() + self._offset

    async def advance(self, seconds: float) -> None:
        """Move the loop's clock on by ``seconds`` and let what fell due run."""
        self._offset += seconds
        await settle()

    def restore(self) -> None:
        """Give the loop its own clock back."""
        self._loop.time = self._real  # type: ignore[method-assign]
