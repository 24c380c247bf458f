"""TuyaPanel over the emulator on loopback, for protocol 3.3, 3.4 and 3.5."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from typing import Any

import pytest

from custom_components.red_light_therapy.panels.base import (
    PanelConnectionError,
    PanelError,
    PanelState,
    PanelTimeoutError,
)
from custom_components.red_light_therapy.panels.tuya import (
    DP_MAPS,
    TuyaAuthError,
    TuyaPanel,
    protocol,
)
from custom_components.red_light_therapy.panels.tuya.emulator import TuyaEmulator
from custom_components.red_light_therapy.panels.tuya.protocol import Command

from ...waiting import wait_until
from .conftest import DEVICE_ID, LOCAL_KEY, WRONG_KEY, EmulatorFactory, FakeClock, PanelFactory

EXAMPLE = DP_MAPS["example_red_nir_panel"]


@contextlib.asynccontextmanager
async def _scripted_device(
    clock: FakeClock,
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    version: str = "3.3",
) -> AsyncIterator[TuyaPanel]:
    """A panel whose device is a local server answering as ``handler`` scripts it."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    panel = TuyaPanel("127.0.0.1", DEVICE_ID, LOCAL_KEY, version, clock=clock, port=port)
    try:
        yield panel
    finally:
        await panel.disconnect()
        server.close()
        await server.wait_closed()


async def _connected(
    make_emulator: EmulatorFactory,
    make_panel: PanelFactory,
    version: str,
    clock: FakeClock,
    **panel_kwargs: Any,
) -> tuple[TuyaEmulator, TuyaPanel]:
    """An emulated panel of ``version`` on ``clock``, and a driver connected to it."""
    emulator = await make_emulator(version, clock=clock)
    panel = make_panel(emulator, **panel_kwargs)
    await panel.connect()
    return emulator, panel


async def test_connect_reads_status(
    version: str, clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    emulator = await make_emulator(version, clock=clock, dps={"22": 500})
    panel = make_panel(emulator)
    seen: list[PanelState] = []
    panel.subscribe(seen.append)
    await panel.connect()
    await panel.connect()  # idempotent
    assert panel.connected
    assert emulator.connections == 1
    assert panel.state == PanelState(
        connected=True,
        is_on=False,
        levels=(50,),
        timer_set_s=None,
        timer_remaining_s=0,
        updated_at=clock.now,
    )
    assert seen[-1] == panel.state
    assert panel.dps == {"20": False, "22": 500, "26": 0}
    assert panel.capabilities == DP_MAPS["generic_light"].capabilities
    assert await panel.update() == panel.state


async def test_identity_and_diagnostics_are_plain_data(
    version: str, clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    """The device page shows the data-point map's name for the kind of panel; no MAC (the local
    protocol never carries it). Diagnostics show every data point the device reported."""
    emulator = await make_emulator(version, clock=clock, dps={"22": 500})
    panel = make_panel(emulator)
    dp_map = DP_MAPS["generic_light"]
    identity = panel.identity
    assert identity.manufacturer == "Tuya"
    assert identity.model == dp_map.display_name
    assert identity.connections == frozenset()
    await panel.connect()
    tuya = panel.diagnostics()["tuya"]
    assert tuya["dps"] == panel.dps
    assert tuya["dps"]["22"] == 500
    assert (tuya["version"], tuya["dp_map"], tuya["reconnects"]) == (version, dp_map.name, 0)
    assert panel.diagnostics()["state"]["connected"] is True


async def test_power_levels_and_ack_time(
    version: str, clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    emulator = await make_emulator(version, clock=clock, dp_map=EXAMPLE)
    panel = make_panel(emulator)
    await panel.connect()
    clock.advance(10)
    acknowledged = await panel.set_power(True)
    assert acknowledged == clock.now
    assert emulator.is_on
    assert panel.state.is_on
    await panel.set_levels({0: 40, 1: 70})
    assert emulator.levels == (40, 70)
    assert panel.state.levels == (40, 70)
    clock.advance(60)
    off_at = await panel.set_power(False)
    assert not emulator.is_on
    assert panel.state.is_on is False
    assert emulator.on_seconds() == 60
    assert [s.levels for s in emulator.emission_log] == [(100, 100), (40, 70)]
    assert emulator.emission_log[-1].end == off_at
    assert emulator.writes[0] == {"20": True}
    await panel.set_levels({})  # nothing to do
    assert len(emulator.writes) == 3


async def test_level_and_timer_validation(
    clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    switch = await make_emulator("3.3", clock=clock, dp_map="generic_switch")
    panel = make_panel(switch)
    with pytest.raises(PanelError, match="no dimmable"):
        await panel.set_levels({0: 50})
    light = make_panel(switch, dp_map="generic_light")
    with pytest.raises(PanelError, match="no channel 3"):
        await light.set_levels({3: 50})
    with pytest.raises(PanelError, match=r"outside 0\.\.100"):
        await light.set_levels({0: 150})
    with pytest.raises(PanelError, match="outside"):
        await light.set_timer(86401)
    no_timer = make_panel(switch, dp_map=DP_MAPS["generic_switch"].__class__("x", switch_dp=1))
    with pytest.raises(PanelError, match="no countdown"):
        await no_timer.set_timer(10)
    assert switch.connections == 0  # nothing was sent


async def test_countdown_arms_and_switches_off(
    version: str, clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    emulator, panel = await _connected(make_emulator, make_panel, version, clock)
    on_at = await panel.power_on_for(120)
    assert on_at == clock.now
    assert emulator.writes == [{"20": True, "26": 120}]  # one message
    assert panel.state.timer_set_s == 120
    assert panel.state.timer_remaining_s == 120
    clock.advance(30)
    assert emulator.timer_remaining_s == 90
    await panel.update()
    assert panel.state.timer_remaining_s == 90
    clock.advance(100)
    emulator.tick()  # the emulator notices lazily; it switched off at the deadline
    await wait_until(lambda: panel.state.is_on is False)
    assert panel.state.timer_remaining_s == 0
    assert emulator.emission_log[-1].end == on_at + 120
    await panel.set_timer(0)
    assert panel.state.timer_set_s == 0


async def test_countdown_fires_on_its_own(
    make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    """With the real clock the emulator's call_later switches off and pushes."""
    emulator = await make_emulator("3.4")
    panel = make_panel(emulator)
    await panel.power_on_for(1)
    await wait_until(lambda: panel.state.is_on is False, within_s=3)
    assert 0.9 < emulator.on_seconds() < 2


async def test_power_off_clears_countdown(
    clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    emulator = await make_emulator("3.5", clock=clock)
    panel = make_panel(emulator)
    await panel.power_on_for(300)
    await panel.set_power(False)
    assert emulator.timer_remaining_s == 0
    await wait_until(lambda: panel.state.timer_remaining_s == 0)


async def test_pushes_update_state(
    version: str, clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    emulator, panel = await _connected(make_emulator, make_panel, version, clock)
    seen: list[PanelState] = []
    unsubscribe = panel.subscribe(seen.append)
    clock.advance(5)
    emulator.press_button()
    await wait_until(lambda: panel.state.is_on is True)
    assert seen[-1].updated_at == clock.now
    emulator.apply_local({22: 250})
    await wait_until(lambda: panel.state.levels == (25,))
    unsubscribe()
    emulator.press_button()
    await wait_until(lambda: panel.state.is_on is False)
    assert seen[-1].is_on is True


async def test_write_confirmed_by_query_without_push(
    clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    emulator = await make_emulator("3.3", clock=clock)
    emulator.push_writes = False
    panel = make_panel(emulator, confirm_timeout_s=0.05)
    assert await panel.set_power(True) == clock.now
    assert panel.state.is_on
    assert emulator.commands.count(Command.DP_QUERY) == 2


async def test_write_not_taken_raises(
    clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    emulator = await make_emulator("3.4", clock=clock)
    emulator.push_writes = False
    panel = make_panel(emulator, confirm_timeout_s=0.05)
    with pytest.raises(PanelTimeoutError, match="reports"):
        await panel.set_dps({"22": 5})  # the device clamps to 10


async def test_reconnects_after_drop(
    version: str, clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    emulator, panel = await _connected(make_emulator, make_panel, version, clock)
    seen: list[bool] = []
    panel.subscribe(lambda state: seen.append(state.connected))
    emulator.drop_connections()
    await wait_until(lambda: panel.reconnects == 1)
    assert seen[:2] == [False, True]
    assert emulator.connections == 2
    await panel.set_power(True)
    assert emulator.is_on


async def test_command_reopens_link(
    clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    emulator = await make_emulator("3.3", clock=clock)
    panel = make_panel(emulator, backoff_initial_s=30)
    await panel.connect()
    emulator.drop_connections()
    await wait_until(lambda: not panel.state.connected)
    await panel.set_power(True)  # does not wait for the backoff
    assert panel.connected
    assert emulator.connections == 2


async def test_wrong_key(
    version: str, clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    waits: list[float] = []

    async def _sleep(seconds: float) -> None:  # a reconnect loop's first step is to wait
        waits.append(seconds)

    emulator = await make_emulator(version, clock=clock)
    panel = make_panel(emulator, local_key=WRONG_KEY, sleep=_sleep)
    with pytest.raises(TuyaAuthError):
        await panel.connect()
    assert isinstance(TuyaAuthError(), PanelConnectionError)
    assert emulator.auth_failures == 1
    assert not panel.connected
    assert not panel.state.connected
    for _ in range(10):  # let any task started by the failure run its first steps
        await asyncio.sleep(0)
    assert waits == []
    assert emulator.connections == 1  # no reconnect loop after a failed connect


async def test_wrong_key_to_a_silent_device_times_out(
    clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    emulator = await make_emulator("3.4", clock=clock, wrong_key_behaviour="silent")
    panel = make_panel(emulator, local_key=WRONG_KEY, connect_timeout_s=0.2)
    with pytest.raises(PanelTimeoutError):
        await panel.connect()


async def test_undecryptable_reply_is_an_auth_error(socket_enabled: None, clock: FakeClock) -> None:
    """A device answering in a key we do not share (3.3 has no negotiation to catch it)."""
    other = protocol.TuyaSession(protocol.Version.V33, WRONG_KEY.encode(), from_device=True)

    async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(4096)
        writer.write(other.encode(Command.DP_QUERY, b'{"dps":{"20":true}}', retcode=1))
        await writer.drain()
        await reader.read(4096)
        writer.close()

    async with _scripted_device(clock, _answer) as panel:
        with pytest.raises(TuyaAuthError):
            await panel.connect()


async def test_unresponsive_times_out(
    version: str, clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    emulator, panel = await _connected(
        make_emulator, make_panel, version, clock, command_timeout_s=0.1
    )
    emulator.unresponsive = True
    with pytest.raises(PanelTimeoutError):
        await panel.set_power(True)
    with pytest.raises(PanelTimeoutError):
        await panel.update()
    fresh = make_panel(emulator, connect_timeout_s=0.1, command_timeout_s=0.1)
    with pytest.raises(PanelTimeoutError):
        await fresh.connect()


async def test_connection_refused(socket_enabled: None, clock: FakeClock) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    panel = TuyaPanel("127.0.0.1", DEVICE_ID, LOCAL_KEY, 3.3, clock=clock, port=port)
    with pytest.raises(PanelConnectionError, match="cannot connect"):
        await panel.connect()
    await panel.disconnect()


async def test_connect_timeout(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    async def _never(*_args: object, **_kwargs: object) -> None:
        await asyncio.Event().wait()  # a device that never accepts

    monkeypatch.setattr(asyncio, "open_connection", _never)
    panel = TuyaPanel("127.0.0.1", DEVICE_ID, LOCAL_KEY, "3.5", clock=clock, connect_timeout_s=0.05)
    with pytest.raises(PanelTimeoutError, match="did not accept"):
        await panel.connect()


async def test_heartbeats_keep_the_link(
    clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    """Three heartbeats, each answered: the link is the one opened, never reopened."""
    heartbeat = 20.0
    beats = asyncio.Semaphore(0)  # one heartbeat's wait ends per release
    waits: list[float] = []

    async def _sleep(seconds: float) -> None:
        waits.append(seconds)
        if seconds == heartbeat:
            await beats.acquire()
        else:
            await asyncio.sleep(seconds)

    emulator = await make_emulator("3.5", clock=clock)
    panel = make_panel(emulator, sleep=_sleep, heartbeat_interval_s=heartbeat)
    await panel.connect()
    await wait_until(lambda: waits == [heartbeat])
    for _ in range(3):
        beats.release()
    # The fourth wait has begun: the third heartbeat was sent and its answer read.
    await wait_until(lambda: waits == [heartbeat] * 4)
    assert emulator.commands.count(Command.HEART_BEAT) == 3
    assert panel.connected
    assert emulator.connections == 1
    assert panel.reconnects == 0


async def test_failed_heartbeat_reconnects(
    clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    emulator = await make_emulator("3.3", clock=clock)
    panel = make_panel(emulator, heartbeat_interval_s=0.02, command_timeout_s=0.05)
    await panel.connect()
    emulator.unresponsive = True
    await wait_until(lambda: not panel.state.connected)
    await wait_until(lambda: emulator.connections >= 3)  # a second attempt: the first timed out
    assert panel.reconnects == 0  # while it stays silent
    emulator.unresponsive = False
    await wait_until(lambda: panel.reconnects == 1)
    assert panel.state.connected


async def test_disconnect_is_clean(
    version: str, clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    emulator, panel = await _connected(
        make_emulator, make_panel, version, clock, heartbeat_interval_s=0.01
    )
    emulator.drop_connections()
    await panel.disconnect()
    await panel.disconnect()
    assert not panel.state.connected
    await wait_until(lambda: emulator.clients == 0)
    left = {task.get_name().rsplit(" ", 1)[0] for task in asyncio.all_tasks()}
    assert not left & {"tuya heartbeat", "tuya reconnect", "tuya reader"}  # nothing to come
    assert emulator.connections == 1


async def test_rejected_write(socket_enabled: None, clock: FakeClock) -> None:
    """A device acknowledging a write with a non-zero return code."""
    device = protocol.TuyaSession(protocol.Version.V33, LOCAL_KEY.encode(), from_device=True)
    splitter = protocol.FrameSplitter()

    async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(4096):
            for frame in splitter.feed(data):
                message = device.decode(frame)
                if message.cmd == Command.DP_QUERY:
                    reply = device.encode(message.cmd, b'{"dps":{"20":false}}', seqno=message.seqno)
                else:
                    reply = device.encode(message.cmd, b"", seqno=message.seqno, retcode=1)
                writer.write(reply)
        writer.close()

    async with _scripted_device(clock, _serve) as panel:
        with pytest.raises(PanelError, match="rejected"):
            await panel.set_power(True)


@pytest.mark.parametrize("version", ["3.4", "3.5"])
async def test_device_failing_the_key_proof(
    version: str, socket_enabled: None, clock: FakeClock
) -> None:
    """A device that frames correctly but cannot prove the key: the negotiation fails."""
    device = protocol.TuyaSession(protocol.Version(version), LOCAL_KEY.encode(), from_device=True)

    async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        frame = protocol.FrameSplitter().feed(await reader.read(4096))[0]
        message = device.decode(frame)
        writer.write(device.encode(Command.SESS_KEY_NEG_RESP, b"\x01" * 48, seqno=message.seqno))
        await reader.read(4096)
        writer.close()

    async with _scripted_device(clock, _serve, version) as panel:
        with pytest.raises(TuyaAuthError, match="wrong local key"):
            await panel.connect()


async def test_write_confirmed_without_ack(
    clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    emulator = await make_emulator("3.5", clock=clock)
    emulator.ack_writes = False
    panel = make_panel(emulator, command_timeout_s=0.1)
    assert await panel.set_power(True) == clock.now
    emulator.push_writes = False
    with pytest.raises(PanelTimeoutError):
        await panel.set_power(False)


async def test_reconnect_backoff_doubles_up_to_its_cap_and_comes_back(
    clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    """While the device is gone the waits between attempts double (1, 2, 4 s ...) up to the
    cap; once it answers again the link is back."""
    waits: list[float] = []
    heartbeat = 3600.0

    async def _sleep(seconds: float) -> None:
        if seconds == heartbeat:
            await asyncio.sleep(seconds)  # not part of this test: cancelled at the end
            return
        waits.append(seconds)
        await asyncio.sleep(0)  # the wait is recorded, not waited: the next attempt goes at once

    emulator = await make_emulator("3.4", clock=clock)
    panel = make_panel(
        emulator,
        sleep=_sleep,
        backoff_initial_s=1.0,
        backoff_max_s=8.0,
        heartbeat_interval_s=heartbeat,
        connect_timeout_s=0.2,
    )
    await panel.connect()
    port = emulator.port
    await emulator.stop()  # gone: connections refused
    await wait_until(lambda: len(waits) >= 6, within_s=10)
    assert waits[:6] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert panel.reconnects == 0

    emulator._requested_port = port  # back, at the same address
    await emulator.start()
    await wait_until(lambda: panel.reconnects == 1, within_s=10)
    assert panel.connected
    await panel.set_power(True)
    assert emulator.is_on


async def test_commands_at_once_are_sent_one_after_another(
    clock: FakeClock, make_emulator: EmulatorFactory, make_panel: PanelFactory
) -> None:
    """Commands issued together (an automation and a person at once) go out one at a time,
    each confirmed by its own report, in the order they were made."""
    emulator = await make_emulator("3.5", clock=clock, latency_s=0.02)
    panel = make_panel(emulator)
    await panel.connect()
    await asyncio.gather(
        panel.set_power(True),
        panel.set_dps({"22": 500}),
        panel.set_dps({"22": 300}),
        panel.set_power(False),
    )
    assert emulator.writes == [{"20": True}, {"22": 500}, {"22": 300}, {"20": False}]
    assert not emulator.is_on
    assert panel.state.is_on is False
    assert panel.dps["22"] == 300
