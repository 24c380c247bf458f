"""A Wi-Fi panel's link under the user's policy: held for good, or opened to look and closed
again after a short grace (``LinkPolicy.POLL``). Time is the fake clock; each heartbeat's wait
ends only when the test releases it, so nothing waits in real time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from custom_components.red_light_therapy.panels.link_policy import IDLE_GRACE_S, LinkPolicy
from custom_components.red_light_therapy.panels.tuya import TuyaPanel
from custom_components.red_light_therapy.panels.tuya.emulator import TuyaEmulator
from custom_components.red_light_therapy.panels.tuya.protocol import Command

from ...waiting import wait_until
from .conftest import EmulatorFactory, FakeClock, PanelFactory

HEARTBEAT = 20.0


@dataclass
class Beats:
    """A sleep whose heartbeat waits end one per ``release``; other waits are recorded only."""

    clock: FakeClock
    waits: list[float] = field(default_factory=list)
    _gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(0))

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        if seconds == HEARTBEAT:
            await self._gate.acquire()
        else:
            await asyncio.sleep(0)

    async def beat(self, panel: TuyaPanel) -> None:
        """Move the clock by one heartbeat interval and let that heartbeat's wait end; returns
        when the loop waits for the next one, or has ended with the link closed."""
        waiting = self.waits.count(HEARTBEAT)
        self.clock.advance(HEARTBEAT)
        self._gate.release()
        await wait_until(lambda: self.waits.count(HEARTBEAT) > waiting or not panel.state.connected)


def heartbeats(emulator: TuyaEmulator) -> int:
    return emulator.commands.count(Command.HEART_BEAT)


def status_reads(emulator: TuyaEmulator) -> int:
    return sum(cmd in (Command.DP_QUERY, Command.DP_QUERY_NEW) for cmd in emulator.commands)


async def polling_panel(
    version: str, clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> tuple[TuyaEmulator, TuyaPanel, Beats]:
    emulator = await make_emulator(version, clock=clock)
    beats = Beats(clock)
    panel = make_panel(
        emulator, sleep=beats.sleep, heartbeat_interval_s=HEARTBEAT, link_policy=LinkPolicy.POLL
    )
    return emulator, panel, beats


async def test_polling_closes_an_idle_link_after_its_grace_and_stays_closed(
    version: str, clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    emulator, panel, beats = await polling_panel(version, clock, make_emulator, make_panel)
    await panel.update()  # a read, as at setup: a use, the grace starts
    await wait_until(lambda: beats.waits == [HEARTBEAT])
    for _ in range(int(IDLE_GRACE_S / HEARTBEAT) - 1):
        await beats.beat(panel)
        assert panel.connected  # within the grace: kept alive
    assert heartbeats(emulator) == 2
    await beats.beat(panel)  # the grace is over: closed instead of a heartbeat
    assert not panel.state.connected
    await wait_until(lambda: emulator.clients == 0)
    assert heartbeats(emulator) == 2
    # Nothing re-opens it: no reconnect wait began, the device saw one connection.
    for _ in range(20):
        await asyncio.sleep(0)
    assert beats.waits == [HEARTBEAT] * 3
    assert emulator.connections == 1


async def test_a_look_opens_reads_once_and_closes_at_once(
    version: str, clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    emulator, panel, _beats = await polling_panel(version, clock, make_emulator, make_panel)
    emulator.press_button()  # switched on at the panel while nobody is connected
    reads = status_reads(emulator)
    state = await panel.poll()
    assert state.is_on is True
    assert status_reads(emulator) == reads + 1
    assert emulator.connections == 1
    assert not panel.connected
    await wait_until(lambda: emulator.clients == 0)
    assert heartbeats(emulator) == 0


async def test_a_look_leaves_an_open_link_and_its_grace_alone(
    clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    emulator, panel, beats = await polling_panel("3.4", clock, make_emulator, make_panel)
    await panel.set_power(False)  # a command: the link is kept for the grace
    reads = status_reads(emulator)
    await panel.poll()
    assert panel.connected
    assert status_reads(emulator) == reads  # the link pushes: nothing read
    await wait_until(lambda: beats.waits == [HEARTBEAT])
    for _ in range(int(IDLE_GRACE_S / HEARTBEAT)):
        await beats.beat(panel)
    assert not panel.state.connected  # the look did not extend it


async def test_a_session_holds_the_link_and_a_grace_follows_it(
    clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    emulator, panel, beats = await polling_panel("3.5", clock, make_emulator, make_panel)
    release = panel.hold_connection()
    await panel.power_on_for(600)
    await wait_until(lambda: beats.waits == [HEARTBEAT])
    for _ in range(10):  # far past the grace: held, and kept alive
        await beats.beat(panel)
    assert panel.connected
    assert heartbeats(emulator) == 10
    # A press at the panel during the session is pushed at once.
    emulator.press_button()
    await wait_until(lambda: panel.state.is_on is False)
    release()  # the session ended: the grace starts now
    for _ in range(int(IDLE_GRACE_S / HEARTBEAT) - 1):
        await beats.beat(panel)
        assert panel.connected
    await beats.beat(panel)
    assert not panel.state.connected
    assert emulator.connections == 1


async def test_a_session_reopens_a_dropped_link_but_an_idle_one_is_left_closed(
    clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    emulator, panel, _beats = await polling_panel("3.3", clock, make_emulator, make_panel)
    await panel.connect()
    emulator.drop_connections()
    await wait_until(lambda: not panel.state.connected)
    for _ in range(20):
        await asyncio.sleep(0)
    assert emulator.connections == 1  # idle: the next look opens it
    panel.hold_connection()
    await panel.poll()  # a session's look keeps what it opened
    assert panel.connected
    emulator.drop_connections()
    await wait_until(lambda: panel.reconnects == 1)
    assert panel.connected


async def test_staying_connected_holds_the_link_past_any_grace_until_the_policy_changes(
    clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    emulator = await make_emulator("3.4", clock=clock)
    beats = Beats(clock)
    panel = make_panel(emulator, sleep=beats.sleep, heartbeat_interval_s=HEARTBEAT)
    assert panel.link_policy is LinkPolicy.STAY_CONNECTED
    await panel.update()
    await wait_until(lambda: beats.waits == [HEARTBEAT])
    for _ in range(10):
        await beats.beat(panel)
    assert panel.connected
    assert heartbeats(emulator) == 10
    panel.link_policy = LinkPolicy.POLL  # the user's choice, at once: the grace is long over
    await beats.beat(panel)
    assert not panel.state.connected
    assert heartbeats(emulator) == 10
