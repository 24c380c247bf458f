"""Waiting for what the test's clocks do not drive: real sockets and the emulators' own tasks.

Time frozen by ``freezer`` or moved by hand cannot make a datagram cross a socket, so these
waits poll a condition, bounded in time, and fail when it never holds. Nothing here proves
that something did *not* happen: for that, move a clock and look.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

POLL_S = 0.01
"""How often the condition is looked at."""


async def wait_until(predicate: Callable[[], bool], within_s: float = 3.0) -> None:
    """Return once ``predicate()`` holds; fail if it does not within ``within_s`` seconds."""
    for _ in range(int(within_s / POLL_S)):
        if predicate():
            return
        await asyncio.sleep(POLL_S)
    assert predicate(), "condition not reached in time"
