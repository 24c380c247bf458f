"""The BlockBlueLight driver, driven against the emulated panel through the bleak-like client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
import gc
import logging
from typing import Any

from bleak.exc import BleakError
from bleak_retry_connector import BleakClientWithServiceCache
import pytest

from custom_components.red_light_therapy.panels.base import (
    CONNECTION_BLUETOOTH,
    PanelConnectionError,
    PanelError,
    PanelState,
    PanelTimeoutError,
)
from custom_components.red_light_therapy.panels.blockbluelight import (
    BlockBlueLightEmulator,
    BlockBlueLightPanel,
    EmulatedBleakClient,
    Frame,
    codec,
    driver as driver_module,
    emulator as emulator_module,
    make_ble_device,
)
from custom_components.red_light_therapy.therapy import Band, band_for_wavelength

from ..waiting import wait_until as wait_until_within
from .blockbluelight_helpers import T0, FakeClock, LoopClock, settle, wait_until

TIMEOUT_S = 0.3


def make_panel(
    emulator: BlockBlueLightEmulator, clock: FakeClock, **kwargs: Any
) -> BlockBlueLightPanel:
    kwargs.setdefault("client_factory", emulator.client_factory)
    kwargs.setdefault("command_timeout_s", TIMEOUT_S)
    return BlockBlueLightPanel(emulator.ble_device(), clock=clock, sleep=clock.sleep, **kwargs)


@asynccontextmanager
async def disconnected_after(panel: BlockBlueLightPanel) -> AsyncIterator[BlockBlueLightPanel]:
    """Use ``panel``, then disconnect it, whatever the block raised."""
    try:
        yield panel
    finally:
        await panel.disconnect()


@pytest.fixture
async def panel(
    emulator: BlockBlueLightEmulator, clock: FakeClock
) -> AsyncGenerator[BlockBlueLightPanel]:
    p = make_panel(emulator, clock)
    yield p
    await p.disconnect()


@pytest.fixture
def states(panel: BlockBlueLightPanel) -> list[PanelState]:
    seen: list[PanelState] = []
    panel.subscribe(seen.append)
    return seen


def commands(emulator: BlockBlueLightEmulator) -> list[int]:
    return [frame.command for frame in emulator.commands]


async def switched_on_held(panel: BlockBlueLightPanel, seconds: int) -> None:
    """The link held (as for a session), the panel's timer set to ``seconds``, switched on."""
    panel.hold_connection()
    await panel.set_timer(seconds)
    await panel.set_power(True)


# Identity and capabilities ---------------------------------------------------------------------


def test_capabilities_and_identity(clock: FakeClock) -> None:
    emu = BlockBlueLightEmulator(clock=clock)
    panel = BlockBlueLightPanel(emu.ble_device(), clock=clock)
    caps = panel.capabilities
    assert [c.key for c in caps.channels] == [f"channel_{i}" for i in range(1, 6)]
    assert [c.wavelength_nm for c in caps.channels] == [630, 660, 810, 830, 850]
    bands = [band_for_wavelength(c.wavelength_nm) for c in caps.channels]
    assert bands == [Band.RED] * 2 + [Band.NIR] * 3
    assert (caps.dimming, caps.hardware_timer, caps.max_timer_s, caps.pulse) == (
        True,
        True,
        65535,
        False,
    )
    assert panel.address == "3C:AB:72:5E:F5:22"
    assert panel.name == "BLOCK3CAB725EF522"
    assert panel.state == PanelState()
    assert panel.keep_connected is False
    assert panel.connected is False
    nameless = BlockBlueLightPanel(make_ble_device("3c:ab:72:5e:f5:22", None), clock=clock)
    assert nameless.name == "BLOCK3CAB725EF522"
    custom = BlockBlueLightPanel(
        emu.ble_device(), clock=clock, channel_wavelengths_nm=(620, 670, 760, 810, 940)
    )
    assert custom.capabilities.channels[4].wavelength_nm == 940
    with pytest.raises(ValueError, match="5 channels"):
        BlockBlueLightPanel(emu.ble_device(), clock=clock, channel_wavelengths_nm=(660, 850))


def test_identity_and_diagnostics_are_plain_data(clock: FakeClock) -> None:
    """The device page and diagnostics are made of what the driver says, no Home Assistant
    type: the maker, a model, and the Bluetooth address the panel is known by."""
    emu = BlockBlueLightEmulator(clock=clock)
    panel = BlockBlueLightPanel(emu.ble_device(), clock=clock)
    identity = panel.identity
    assert identity.manufacturer == "BlockBlueLight"
    assert identity.model
    assert identity.connections == frozenset({(CONNECTION_BLUETOOTH, panel.address)})
    diagnostics = panel.diagnostics()
    assert len(diagnostics["capabilities"]["channels"]) == 5
    assert diagnostics["state"]["connected"] is False
    assert diagnostics["bluetooth"] == {"connected": False, "decoder_dropped_bytes": 0}


# Commands ---------------------------------------------------------------------------------------


async def test_update_connects_and_reads_status_and_levels(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator, states: list[PanelState]
) -> None:
    state = await panel.update()
    assert state == PanelState(
        connected=True,
        is_on=False,
        levels=(100,) * 5,
        timer_set_s=0,
        timer_remaining_s=0,
        updated_at=T0,
    )
    assert states[-1] == state
    assert states[0].connected
    assert states[0].is_on is None
    assert commands(emulator) == [0x10, 0x40]
    await panel.update()
    assert commands(emulator) == [0x10, 0x40, 0x10]  # levels only on a fresh connection
    assert emulator.connections == 1


async def test_session_flow_timer_then_power(
    panel: BlockBlueLightPanel,
    emulator: BlockBlueLightEmulator,
    clock: FakeClock,
    states: list[PanelState],
) -> None:
    await panel.set_timer(1200)
    clock.advance(1)
    on_at = await panel.set_power(True)
    assert on_at == T0 + 1
    assert emulator.is_on
    assert emulator.emission_log[0].start == on_at
    assert panel.state.is_on is True
    assert panel.state.timer_set_s == 1200
    assert panel.state.timer_remaining_s == 1200
    # Two round trips: each acknowledgement confirms its command, nothing is read back.
    assert commands(emulator) == [0x31, 0x20]
    clock.advance(300)
    off_at = await panel.set_power(False)
    assert off_at == T0 + 301
    assert emulator.on_seconds() == 300
    assert panel.state.is_on is False
    assert [s.is_on for s in states if s.is_on is not None][-1] is False


async def test_set_power_returns_the_acknowledged_time(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator, clock: FakeClock
) -> None:
    """With 0.25 s each way the panel switches on 0.25 s after the write and the ack comes
    back 0.5 s after it: dose counting starts from the ack, never from the request."""
    emulator.latency_s = 0.25
    await panel.connect()
    sent = clock()
    on_at = await panel.set_power(True)
    assert on_at == pytest.approx(sent + 0.5)
    assert emulator.emission_log[0].start == pytest.approx(sent + 0.25)


async def test_set_levels_sends_only_changes_and_reads_back(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator
) -> None:
    await panel.set_levels({0: 40, 1: 100, 4: 0})
    assert emulator.levels == (40, 100, 100, 100, 0)
    assert panel.state.levels == (40, 100, 100, 100, 0)
    # The first levels read carries a status query (the power as the link opens).
    assert commands(emulator) == [0x10, 0x40, 0x41, 0x41, 0x40]
    assert [f.payload for f in emulator.commands if f.command == 0x41] == [b"\x00\x28", b"\x04\x00"]
    await panel.set_levels({0: 40})  # nothing to change: no traffic
    assert len(emulator.commands) == 5


@pytest.mark.parametrize("levels", [{5: 10}, {-1: 10}, {0: 101}, {0: -1}])
async def test_set_levels_validates_first(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator, levels: dict[int, int]
) -> None:
    with pytest.raises(ValueError, match="must be"):
        await panel.set_levels(levels)
    assert emulator.connect_attempts == 0


@pytest.mark.parametrize("seconds", [-1, 65536])
async def test_set_timer_validates(panel: BlockBlueLightPanel, seconds: int) -> None:
    with pytest.raises(ValueError, match="timer"):
        await panel.set_timer(seconds)


async def test_levels_the_panel_refuses_are_reported(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emulator, "_set_level", lambda _channel, _level: None)
    with pytest.raises(PanelError, match="kept channel levels"):
        await panel.set_levels({2: 10})
    assert panel.state.levels == (100,) * 5  # the state tells what the panel really does


async def test_commands_are_serialised(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator
) -> None:
    await asyncio.gather(panel.set_timer(60), panel.set_power(True), panel.update())
    assert commands(emulator) == [0x31, 0x20, 0x10, 0x40]
    assert emulator.connections == 1


# What the panel does on its own -------------------------------------------------------------


async def test_countdown_turning_the_panel_off_is_pushed(
    panel: BlockBlueLightPanel,
    emulator: BlockBlueLightEmulator,
    clock: FakeClock,
    states: list[PanelState],
) -> None:
    await switched_on_held(panel, 60)
    clock.advance(61)
    emulator.tick()
    await settle()
    assert states[-1].is_on is False
    assert states[-1].timer_remaining_s == 0
    assert states[-1].updated_at == T0 + 61
    assert emulator.emission_log[0].end == T0 + 60


async def test_physical_button_is_pushed(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator, states: list[PanelState]
) -> None:
    await panel.update()
    emulator.press_button()
    await settle()
    assert states[-1].is_on is True
    emulator.press_button()
    await settle()
    assert states[-1].is_on is False
    assert len(emulator.commands) == 2  # nothing was asked: the panel pushed it


async def test_identical_pushes_do_not_notify(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator, states: list[PanelState]
) -> None:
    await panel.update()
    count = len(states)
    emulator.emit_status()
    await settle()
    assert len(states) == count


# Real-world traffic ----------------------------------------------------------------------------


FAULTS: dict[str, dict[str, Any]] = {
    "latency": {"latency_s": 0.2},
    "split": {"split_notifications": True},
    "joined": {"join_notifications": True},
    "doubled start byte": {"inject_garbage": b"\x2a"},
    "stray header": {"inject_garbage": b"\x2a\x01\x10"},
    "all at once": {
        "latency_s": 0.1,
        "split_notifications": True,
        "join_notifications": True,
        "inject_garbage": b"\x2a",
    },
}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
async def test_full_flow_over_faulty_traffic(
    panel: BlockBlueLightPanel,
    emulator: BlockBlueLightEmulator,
    clock: FakeClock,
    states: list[PanelState],
    fault: dict[str, Any],
) -> None:
    for name, value in fault.items():
        setattr(emulator, name, value)
    await panel.set_levels({0: 50})
    await panel.set_timer(600)
    on_at = await panel.set_power(True)
    assert emulator.is_on
    assert panel.state.is_on is True
    assert panel.state.levels == (50, 100, 100, 100, 100)
    assert on_at >= emulator.emission_log[0].start
    emulator.press_button()
    await wait_until(lambda: states[-1].is_on is False)
    await panel.update()
    assert panel.state.is_on is False
    # Every stray byte, and nothing else, was dropped.
    garbage = fault.get("inject_garbage", b"")
    assert emulator.frames_sent >= 7
    assert panel.decoder_dropped_bytes == emulator.frames_sent * len(garbage)


async def test_host_frames_in_notifications_are_ignored(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator
) -> None:
    emulator.inject_garbage = codec.encode(codec.status_query())
    state = await panel.update()
    assert state.levels == (100,) * 5
    assert panel.decoder_dropped_bytes == 0


async def test_dropped_bytes_add_up_over_connections(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator
) -> None:
    emulator.inject_garbage = b"\x2a"
    await panel.update()  # status and levels: two frames, one stray byte each
    assert panel.decoder_dropped_bytes == 2
    emulator.drop_connection()
    await panel.update()
    assert panel.decoder_dropped_bytes == 4


# Faults -----------------------------------------------------------------------------------------


async def test_unresponsive_panel_times_out_without_hanging(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator
) -> None:
    emulator.unresponsive = True
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(PanelTimeoutError, match="did not answer command 0x10"):
        await panel.update()
    assert loop.time() - started < TIMEOUT_S * 3
    assert not emulator.connected  # the link is dropped to start clean
    assert panel.state.connected is False
    emulator.unresponsive = False
    assert (await panel.update()).is_on is False
    assert emulator.connections == 2


async def test_refused_connection_is_a_connection_error(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator
) -> None:
    emulator.refuse_connections = 1
    with pytest.raises(PanelConnectionError, match="cannot connect"):
        await panel.set_power(True)
    assert panel.state.connected is False
    await panel.set_power(True)
    assert emulator.is_on


async def update_left_waiting(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator
) -> asyncio.Task[PanelState]:
    """A read the panel received and, unresponsive, leaves unanswered: the task still
    waiting for the answer."""
    emulator.unresponsive = True
    task = asyncio.create_task(panel.update())
    await wait_until(lambda: emulator.commands_received == 1)
    return task


async def test_link_lost_while_waiting_is_retried_once(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator
) -> None:
    task = await update_left_waiting(panel, emulator)
    emulator.unresponsive = False
    emulator.drop_connection()
    state = await task
    assert state.connected is True
    assert emulator.connections == 2


async def test_link_lost_and_reconnect_refused_fails(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator
) -> None:
    task = await update_left_waiting(panel, emulator)
    emulator.refuse_connections = 1
    emulator.drop_connection()
    with pytest.raises(PanelConnectionError):
        await task


class WrappedClient:
    """An emulated client with faults the emulator does not model (failing GATT calls)."""

    def __init__(self, inner: EmulatedBleakClient, plan: dict[str, Any]) -> None:
        self.inner = inner
        self.plan = plan

    @property
    def address(self) -> str:
        return self.inner.address

    @property
    def is_connected(self) -> bool:
        return self.inner.is_connected

    async def start_notify(self, char: str, callback: Callable[[Any, bytearray], None]) -> None:
        if self.plan.get("notify_fails"):
            raise BleakError("notify failed")
        if self.plan.get("notify_blocks"):
            await asyncio.Event().wait()
        await self.inner.start_notify(char, callback)
        if self.plan.get("drop_after_notify"):
            self.inner._end_link()

    async def write_gatt_char(self, char: str, data: bytes, response: bool = False) -> None:
        if self.plan.get("write_failures", 0) > 0:
            self.plan["write_failures"] -= 1
            raise BleakError("write failed")
        await self.inner.write_gatt_char(char, data, response)

    async def disconnect(self) -> bool:
        await self.inner.disconnect()
        if self.plan.get("disconnect_fails"):
            raise BleakError("disconnect failed")
        return True


def wrapped_panel(
    emulator: BlockBlueLightEmulator, clock: FakeClock, plan: dict[str, Any]
) -> BlockBlueLightPanel:
    async def factory(_device: Any, callback: Callable[[Any], None]) -> WrappedClient:
        wrapped: WrappedClient | None = None

        def forward(inner: Any) -> None:
            callback(inner if plan.get("callback_names_inner") else wrapped)

        wrapped = WrappedClient(await emulator.connect(forward), plan)
        return wrapped

    return make_panel(emulator, clock, client_factory=factory)


async def test_failed_write_is_retried_once_on_a_new_link(
    emulator: BlockBlueLightEmulator, clock: FakeClock
) -> None:
    async with disconnected_after(wrapped_panel(emulator, clock, {"write_failures": 1})) as panel:
        await panel.set_power(True)
        assert emulator.is_on
        assert emulator.connections == 2


async def test_failed_write_twice_is_a_connection_error(
    emulator: BlockBlueLightEmulator, clock: FakeClock
) -> None:
    async with disconnected_after(wrapped_panel(emulator, clock, {"write_failures": 2})) as panel:
        with pytest.raises(PanelConnectionError, match="lost the link"):
            await panel.set_power(True)
        assert not emulator.is_on
        assert not emulator.connected


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ({"notify_fails": True}, "cannot subscribe"),
        ({"drop_after_notify": True}, "dropped the link while connecting"),
    ],
)
async def test_subscription_failures(
    emulator: BlockBlueLightEmulator, clock: FakeClock, plan: dict[str, Any], message: str
) -> None:
    async with disconnected_after(wrapped_panel(emulator, clock, plan)) as panel:
        with pytest.raises(PanelConnectionError, match=message):
            await panel.update()
        assert not emulator.connected
        assert panel.state.connected is False


async def test_cancelled_while_subscribing_closes_the_link(
    emulator: BlockBlueLightEmulator, clock: FakeClock
) -> None:
    panel = wrapped_panel(emulator, clock, {"notify_blocks": True})
    task = asyncio.create_task(panel.update())
    await wait_until(lambda: emulator.connected)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not emulator.connected
    await panel.disconnect()


async def test_errors_while_disconnecting_are_swallowed(
    emulator: BlockBlueLightEmulator, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    panel = wrapped_panel(emulator, clock, {"disconnect_fails": True})
    await panel.update()
    with caplog.at_level(logging.DEBUG, logger=driver_module.__name__):
        await panel.disconnect()
    assert "error while disconnecting" in caplog.text
    assert panel.state.connected is False


async def test_malformed_status_reply(
    panel: BlockBlueLightPanel,
    emulator: BlockBlueLightEmulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(emulator, "_status", lambda: Frame(0x2A, 0x10, b"\x01"))
    with pytest.raises(PanelError, match="malformed status"):
        await panel.update()
    # An acknowledged power command stands; a malformed status the panel sends is ignored.
    with caplog.at_level(logging.WARNING):
        on_at = await panel.set_power(True)
    assert on_at == T0
    assert panel.state.is_on is True
    assert "malformed" not in caplog.text


async def test_malformed_levels_reply(
    panel: BlockBlueLightPanel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        emulator_module.codec, "levels_reply", lambda _levels: Frame(0x2A, 0x40, b"\x01")
    )
    with pytest.raises(PanelError, match="malformed levels"):
        await panel.update()


# The link's life: idle, sessions, reconnects, cleanup -------------------------------------------


async def test_poll_is_one_status_query_on_a_link_closed_at_once(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator, clock: FakeClock
) -> None:
    """The idle look does not hold the radio (the vendor's app, a proxy slot)."""
    await panel.poll()  # levels unknown yet: read once
    assert commands(emulator) == [0x10, 0x40]
    assert not emulator.connected
    assert panel.state.connected is False
    assert panel.state.levels == (100,) * 5

    await panel.poll()
    assert commands(emulator)[2:] == [0x10]  # the panel is off: the status alone
    assert not emulator.connected
    assert emulator.connections == 2

    emulator.press_button()  # nobody hears it: the link is closed
    await panel.poll()
    assert panel.state.is_on is True
    assert commands(emulator)[3:] == [0x10, 0x40]  # on: its levels dose what it emits
    assert not emulator.connected

    emulator.press_button()
    clock.advance(1800)
    await panel.poll()
    assert commands(emulator)[5:] == [0x10, 0x40]  # levels read at least every 30 minutes


async def test_poll_leaves_an_open_link_as_it_is(
    emulator: BlockBlueLightEmulator, clock: FakeClock, loop_clock: LoopClock
) -> None:
    """A look during the grace after a command neither ends nor extends it."""
    async with disconnected_after(make_panel(emulator, clock, idle_disconnect_s=0.6)) as panel:
        await panel.update()
        await loop_clock.advance(0.35)
        await panel.poll()
        assert emulator.connected  # the grace goes on
        await loop_clock.advance(0.3)
        assert not emulator.connected  # and ends when it was due, not 0.6 s after the look
        panel.hold_connection()
        await panel.connect()
        await panel.poll()
        assert emulator.connected  # a session's link stays


async def test_idle_disconnect(
    emulator: BlockBlueLightEmulator, clock: FakeClock, loop_clock: LoopClock
) -> None:
    async with disconnected_after(make_panel(emulator, clock, idle_disconnect_s=0.05)) as panel:
        await panel.update()
        assert emulator.connected
        await loop_clock.advance(0.15)
        assert not emulator.connected
        assert panel.state.connected is False
        await panel.update()  # connects again on demand
        assert emulator.connections == 2


async def test_a_held_connection_stays_open(
    emulator: BlockBlueLightEmulator, clock: FakeClock, loop_clock: LoopClock
) -> None:
    async with disconnected_after(make_panel(emulator, clock, idle_disconnect_s=0.05)) as panel:
        await panel.update()
        with panel.connection_held():
            with panel.connection_held():
                await loop_clock.advance(0.15)
                assert emulator.connected
            await loop_clock.advance(0.15)
            assert emulator.connected  # one hold is left
        await loop_clock.advance(0.15)
        assert not emulator.connected


async def test_dropped_link_mid_session_reconnects_with_backoff(
    panel: BlockBlueLightPanel,
    emulator: BlockBlueLightEmulator,
    clock: FakeClock,
    states: list[PanelState],
) -> None:
    await switched_on_held(panel, 600)
    emulator.refuse_connections = 7
    emulator.drop_connection()
    assert panel.state.connected is False
    await wait_until(lambda: panel.connected, rounds=5000)
    assert clock.sleeps == [1, 2, 4, 8, 16, 30, 30, 30]
    await wait_until(lambda: panel.state.timer_remaining_s is not None and panel.state.connected)
    assert panel.state.is_on is True  # read back after reconnecting
    assert any(not s.connected for s in states)
    assert emulator.connections == 2


async def test_link_lost_mid_write_leaves_no_unretrieved_future(
    panel: BlockBlueLightPanel,
    emulator: BlockBlueLightEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The link drops while a command's write is in flight: the command is retried on a new
    link, and the reply waiter the drop failed is not left to log "Future exception was never
    retrieved"."""
    await panel.update()
    emulator.drop_on_next_write = True
    await panel.set_power(True)
    assert emulator.is_on
    assert emulator.connections == 2
    gc.collect()
    await settle()
    assert "never retrieved" not in caplog.text


async def test_countdown_expiring_while_the_link_is_down_is_read_on_reconnect(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator, clock: FakeClock
) -> None:
    await switched_on_held(panel, 60)
    clock.advance(59)  # the first backoff step (1 s) takes it past the deadline
    emulator.drop_connection()
    await wait_until(lambda: panel.connected and panel.state.is_on is False, rounds=5000)
    assert emulator.emission_log[0].end == T0 + 60


async def test_timeout_during_a_session_reconnects_in_the_background(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator
) -> None:
    panel.hold_connection()
    await panel.update()
    emulator.unresponsive = True
    with pytest.raises(PanelTimeoutError):
        await panel.set_power(True)
    emulator.unresponsive = False
    await wait_until(lambda: panel.connected, rounds=5000)
    assert emulator.connections == 2


async def test_ending_the_session_stops_reconnecting(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator
) -> None:
    release = panel.hold_connection()
    await panel.update()
    emulator.refuse_connections = 10**9
    emulator.drop_connection()
    await wait_until(lambda: emulator.connect_attempts > 3, rounds=5000)
    release()
    await settle()
    attempts = emulator.connect_attempts
    await settle(50)
    assert emulator.connect_attempts == attempts


async def test_session_ending_from_a_subscriber_during_reconnect(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator
) -> None:
    """A subscriber that ends the session while the reconnect task reads the state back (as
    the session manager does when the panel went dark) must not cancel that read."""
    release = panel.hold_connection()
    await panel.set_power(True)

    def on_state(state: PanelState) -> None:
        if state.is_on is False:
            release()

    panel.subscribe(on_state)
    emulator.drop_connection()
    emulator.press_button()  # off while the link is down
    await wait_until(lambda: panel.state.is_on is False and panel.connected, rounds=5000)
    await wait_until(lambda: panel._reconnect_task is None)
    assert panel.keep_connected is False
    assert commands(emulator)[-2:] == [0x10, 0x40]  # the read-back ran to its end
    assert panel.state.levels == (100,) * 5


async def test_late_callbacks_from_a_closed_link_are_ignored(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator, states: list[PanelState]
) -> None:
    await panel.update()
    old = emulator.client
    assert old is not None
    handler = old._notify
    assert handler is not None
    emulator.drop_connection()
    await panel.update()
    count = len(states)
    handler(None, bytearray(codec.encode(codec.status_reply(True, 5, 5))))
    panel._on_disconnected(old)
    assert len(states) == count
    assert panel.connected


async def test_default_client_factory_uses_bleak_retry_connector(
    emulator: BlockBlueLightEmulator, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []

    async def fake_establish(
        client_class: type, device: Any, name: str, **kwargs: Any
    ) -> EmulatedBleakClient:
        calls.append({"class": client_class, "device": device, "name": name, **kwargs})
        return await emulator.connect(kwargs["disconnected_callback"])

    monkeypatch.setattr(driver_module, "establish_connection", fake_establish)
    first = emulator.ble_device()
    async with disconnected_after(
        BlockBlueLightPanel(first, clock=clock, command_timeout_s=TIMEOUT_S)
    ) as panel:
        await panel.update()
        newer = emulator.ble_device(rssi=-40)
        panel.set_ble_device(newer)
        (call,) = calls
        assert call["class"] is BleakClientWithServiceCache
        assert call["device"] is first
        assert call["name"] == "BLOCK3CAB725EF522"
        assert call["ble_device_callback"]() is newer  # retries use the freshest route
        emulator.drop_connection()  # the callback given to bleak reaches the driver
        assert panel.state.connected is False


async def test_disconnect_leaves_nothing_running(
    emulator: BlockBlueLightEmulator, clock: FakeClock
) -> None:
    before = asyncio.all_tasks()
    panel = make_panel(emulator, clock)
    await panel.update()
    assert panel._idle_handle is not None
    panel.hold_connection()
    emulator.refuse_connections = 10**9
    emulator.drop_connection()
    await wait_until(lambda: emulator.connect_attempts > 2, rounds=5000)
    assert panel._reconnect_task is not None
    await panel.disconnect()
    await panel.disconnect()  # idempotent
    await settle()
    assert asyncio.all_tasks() - before == set()
    assert panel._reconnect_task is None
    assert panel._idle_task is None
    assert panel._idle_handle is None
    assert panel._waiter is None
    assert not emulator.connected


async def test_disconnect_cancels_a_pending_idle_disconnect(
    emulator: BlockBlueLightEmulator, clock: FakeClock, loop_clock: LoopClock
) -> None:
    before = asyncio.all_tasks()
    panel = make_panel(emulator, clock, idle_disconnect_s=0.01)
    await panel.update()
    async with panel._command_lock:  # a command is running when the idle timer fires
        await loop_clock.advance(0.05)
        assert panel._idle_task is not None
        disconnecting = asyncio.create_task(panel.disconnect())
        await settle()
    await disconnecting
    await settle()
    assert asyncio.all_tasks() - before == set()
    assert panel._idle_task is None
    assert not emulator.connected


async def test_reconnect_keeps_trying_while_the_panel_does_not_answer(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator, clock: FakeClock
) -> None:
    panel.hold_connection()
    await panel.update()
    emulator.unresponsive = True
    emulator.drop_connection()
    await wait_until(lambda: emulator.connections == 2, rounds=5000)
    await clock.until_slept(2)  # the read-back after reconnecting timed out: it waits longer
    assert clock.sleeps[:2] == [1, 2]
    emulator.unresponsive = False
    # An attempt sent while it was silent times out first (TIMEOUT_S of the loop's real time).
    await wait_until_within(lambda: panel.connected and panel._reconnect_task is None, 5.0)
    assert panel.state.connected  # and says so to its subscribers


async def test_link_loss_reported_for_another_object_still_counts(
    emulator: BlockBlueLightEmulator, clock: FakeClock
) -> None:
    """A wrapper may report the loss with a different client object: the current link is
    down all the same, so it counts (and a session reconnects)."""
    async with disconnected_after(
        wrapped_panel(emulator, clock, {"callback_names_inner": True})
    ) as panel:
        panel.hold_connection()
        await panel.update()
        emulator.drop_connection()
        assert panel.state.connected is False
        await wait_until(lambda: panel.connected, rounds=5000)
        assert emulator.connections == 2


async def test_failing_subscriber_does_not_break_commands(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_state: PanelState) -> None:
        raise RuntimeError("subscriber bug")

    panel.subscribe(broken)
    await panel.set_power(True)
    assert panel.state.is_on is True
    emulator.press_button()
    await settle()
    assert panel.state.is_on is False
    assert "a state subscriber failed" in caplog.text


@pytest.mark.parametrize("fault", [None, "missing", "garbled"])
async def test_a_start_reads_the_status_in_its_timer_write(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator, fault: str | None
) -> None:
    """Pressed on: the start's timer write carries a status query, answered in the same round
    trip with the power before the start; a lost or garbled answer only leaves it unread."""
    emulator.press_button()
    emulator.status_reply_fault = fault
    writes = emulator.writes
    await panel.power_on_for(120)
    assert commands(emulator) == [codec.CMD_STATUS, codec.CMD_TIMER, codec.CMD_POWER]
    assert emulator.writes - writes == 2  # still two round trips
    assert emulator.is_on
    assert emulator.timer_set_s == 120
    read = panel.read_before_on
    if fault is None:
        assert read is not None
        assert read.is_on
        assert read.timer_remaining_s == 0  # no countdown ran: the press, not the start
    else:
        assert read is None


async def test_levels_read_as_the_link_opens_carry_the_power_read_with_them(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator
) -> None:
    """Pressed on while the link was closed: setting levels reads the status in the same write,
    so the state never says the panel is off while it shines."""
    await panel.poll()
    assert panel.state.is_on is False
    emulator.press_button()
    await panel.set_levels({0: 40})
    assert panel.state.is_on is True
    assert panel.state.levels[0] == 40


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
async def test_a_start_reads_the_panel_pressed_on_over_faulty_traffic(
    panel: BlockBlueLightPanel,
    emulator: BlockBlueLightEmulator,
    clock: FakeClock,
    fault: dict[str, Any],
) -> None:
    """The status answered in the start's timer write, then the timer's acknowledgement, are
    told apart however the notifications are cut, joined or dirtied."""
    for name, value in fault.items():
        setattr(emulator, name, value)
    emulator._timer_set_s = 600  # what the countdown was left at: the press runs it
    emulator.press_button()
    clock.advance(30)
    await panel.power_on_for(120)
    read = panel.read_before_on
    assert read is not None
    assert read.is_on
    assert read.timer_set_s == 600
    assert read.timer_remaining_s == 570  # read before the timer frame re-armed it
    assert emulator.timer_set_s == 120
    assert emulator.is_on


async def test_a_start_without_a_countdown_only_switches_on(
    panel: BlockBlueLightPanel, emulator: BlockBlueLightEmulator
) -> None:
    await panel.power_on_for(None)
    assert commands(emulator) == [codec.CMD_POWER]
    assert emulator.is_on
    assert panel.read_before_on is None
