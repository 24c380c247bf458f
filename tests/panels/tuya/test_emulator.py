"""The emulator itself: its device behaviour, faults, and command line."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
import sys
import time

import pytest

from custom_components.red_light_therapy.panels.base import PanelTimeoutError
from custom_components.red_light_therapy.panels.tuya import (
    TuyaPanel,
    emulator as emulator_module,
    protocol,
)
from custom_components.red_light_therapy.panels.tuya.emulator import TuyaEmulator
from custom_components.red_light_therapy.panels.tuya.protocol import Command, Version

from ...waiting import wait_until
from ..blockbluelight_helpers import LoopClock
from .conftest import DEVICE_ID, LOCAL_KEY, WRONG_KEY, EmulatorFactory, FakeClock

REPO = Path(__file__).resolve().parents[3]


async def _raw_link(emulator: TuyaEmulator) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", emulator.port)


async def _raw_session(
    emulator: TuyaEmulator,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, protocol.TuyaSession]:
    """A raw link to ``emulator`` and a session of its version with the right local key, no
    key negotiated yet."""
    reader, writer = await _raw_link(emulator)
    return reader, writer, protocol.TuyaSession(emulator.version, LOCAL_KEY.encode())


async def _read_message(
    reader: asyncio.StreamReader, session: protocol.TuyaSession
) -> protocol.Message:
    splitter = protocol.FrameSplitter()
    async with asyncio.timeout(1):
        while True:
            frames = splitter.feed(await reader.read(4096))
            if frames:
                return session.decode(frames[0])


def test_device_state_without_a_loop() -> None:
    clock = FakeClock()
    emulator = TuyaEmulator(DEVICE_ID, LOCAL_KEY, "3.3", clock=clock, dps={20: True})
    assert emulator.is_on
    assert emulator.port == 0
    assert emulator.clients == 0
    assert emulator.emission_log[0].start == clock.now
    emulator.apply_local({26: 10})  # no loop: the countdown is checked lazily
    clock.advance(4)
    assert emulator.timer_remaining_s == 6
    clock.advance(10)
    assert not emulator.is_on
    assert emulator.on_seconds() == 10
    assert emulator.on_seconds(until=clock.now - 12) == 2
    emulator.apply_local({"22": 5})  # clamped to the device's range
    assert emulator.current_dps()["22"] == 10


async def test_lifecycle_and_broadcast_errors(clock: FakeClock, socket_enabled: None) -> None:
    emulator = TuyaEmulator(DEVICE_ID, LOCAL_KEY, "3.5", clock=clock)
    with pytest.raises(RuntimeError, match="broadcast"):
        await emulator.send_broadcast()
    async with emulator:
        await emulator.start()  # idempotent
        assert emulator.port != 0
    await emulator.stop()
    info = protocol.decode_broadcast(emulator.broadcast_packet())
    assert info["gwId"] == DEVICE_ID
    assert info["version"] == "3.5"


async def test_latency(clock: FakeClock, make_emulator: EmulatorFactory) -> None:
    delays: list[float] = []

    async def _sleep(seconds: float) -> None:
        delays.append(seconds)

    emulator = await make_emulator("3.3", clock=clock, latency_s=0.25, sleep=_sleep)
    panel = TuyaPanel("127.0.0.1", DEVICE_ID, LOCAL_KEY, "3.3", clock=clock, port=emulator.port)
    try:
        await panel.set_power(True)
    finally:
        await panel.disconnect()
    assert delays == [0.25, 0.25]  # the status query and the write


async def test_wrong_key_silent_33(clock: FakeClock, make_emulator: EmulatorFactory) -> None:
    emulator = await make_emulator("3.3", clock=clock, wrong_key_behaviour="silent")
    panel = TuyaPanel(
        "127.0.0.1",
        DEVICE_ID,
        WRONG_KEY,
        "3.3",
        clock=clock,
        port=emulator.port,
        connect_timeout_s=0.2,
        command_timeout_s=0.2,
    )
    try:
        with pytest.raises(PanelTimeoutError):
            await panel.connect()
    finally:
        await panel.disconnect()
    assert emulator.auth_failures == 1
    assert emulator.writes == []


async def test_commands_need_the_session_key(
    clock: FakeClock, make_emulator: EmulatorFactory
) -> None:
    emulator = await make_emulator("3.4", clock=clock)
    reader, writer, session = await _raw_session(emulator)
    writer.write(session.encode(Command.DP_QUERY_NEW, b"{}"))
    assert await reader.read(100) == b""  # closed: no negotiation, no service
    writer.close()
    assert emulator.auth_failures == 1


async def test_bad_negotiation_finish(clock: FakeClock, make_emulator: EmulatorFactory) -> None:
    emulator = await make_emulator("3.5", clock=clock)
    reader, writer, session = await _raw_session(emulator)
    writer.write(session.encode(Command.SESS_KEY_NEG_START, b"N" * 16))
    answer = await _read_message(reader, session)
    assert answer.cmd == Command.SESS_KEY_NEG_RESP
    assert answer.retcode == 0
    writer.write(session.encode(Command.SESS_KEY_NEG_FINISH, b"\x00" * 32))
    assert await reader.read(100) == b""
    writer.close()
    assert emulator.auth_failures == 1


async def test_unknown_commands_are_ignored(
    clock: FakeClock, make_emulator: EmulatorFactory
) -> None:
    emulator = await make_emulator("3.3", clock=clock)
    reader, writer, session = await _raw_session(emulator)
    writer.write(session.encode(0x25, b'{"x":1}'))
    writer.write(session.encode(Command.HEART_BEAT, protocol.heartbeat_payload(DEVICE_ID)))
    reply = await _read_message(reader, session)
    assert reply.cmd == Command.HEART_BEAT
    assert reply.payload == b""
    assert emulator.commands == [0x25, Command.HEART_BEAT]
    writer.close()


async def test_stop_closes_clients(clock: FakeClock, make_emulator: EmulatorFactory) -> None:
    emulator = await make_emulator("3.3", clock=clock)
    reader, writer = await _raw_link(emulator)
    await wait_until(lambda: emulator.clients == 1)
    await emulator.stop()
    assert await reader.read(100) == b""
    writer.close()
    assert emulator.clients == 0


async def test_serve_from_arguments(
    socket_enabled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command line's emulator says where it listens, takes a device's link there, and
    lets go of the port once told to stop."""
    args = emulator_module.build_parser().parse_args(
        [
            "--port",
            "0",
            "--version",
            "3.4",
            "--device-id",
            DEVICE_ID,
            "--local-key",
            LOCAL_KEY,
            "--broadcast-address",
            "127.0.0.1",
            "--broadcast-port",
            "9",
            "--broadcast-interval",
            "60",
        ]
    )
    stop = asyncio.Event()
    task = asyncio.create_task(emulator_module.serve(args, stop))
    printed: list[str] = []

    def _said_where() -> bool:
        printed.append(capsys.readouterr().out)
        return "\n" in "".join(printed)

    await wait_until(_said_where)
    banner = "".join(printed)
    assert banner.startswith(f"Tuya 3.4 emulator {DEVICE_ID} (")
    port = int(banner.strip().rsplit(":", 1)[1])
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()
    await writer.wait_closed()
    stop.set()
    await asyncio.wait_for(task, 2)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)


def test_main_runs_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[argparse.Namespace] = []

    async def _serve(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
        seen.append(args)
        raise KeyboardInterrupt

    monkeypatch.setattr(emulator_module, "serve", _serve)
    emulator_module.main(["--device-id", DEVICE_ID, "--local-key", LOCAL_KEY, "--version", "3.5"])
    assert seen[0].version == "3.5"
    assert seen[0].port == 6668


async def test_dev_script(socket_enabled: None) -> None:
    """``python -m ...tuya.emulator`` serves a device the driver can use, until stopped."""
    with __import__("socket").socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "custom_components.red_light_therapy.panels.tuya.emulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--version",
        "3.5",
        "--device-id",
        DEVICE_ID,
        "--local-key",
        LOCAL_KEY,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        assert f"127.0.0.1:{port}" in line.decode()
        panel = TuyaPanel("127.0.0.1", DEVICE_ID, LOCAL_KEY, "3.5", clock=time.time, port=port)
        try:
            await panel.set_power(True)
            assert panel.state.is_on
        finally:
            await panel.disconnect()
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)
    assert process.returncode is not None


async def test_a_silent_client_is_closed_after_the_idle_timeout(
    clock: FakeClock, make_emulator: EmulatorFactory, loop_clock: LoopClock
) -> None:
    """As devices do: a client that sends nothing for ``idle_timeout_s`` is closed; one that
    keeps talking (a heartbeat) is not, and the bytes both ways are counted."""
    emulator = await make_emulator("3.3", clock=clock)
    emulator.idle_timeout_s = 0.2
    session = protocol.TuyaSession(Version.V33, LOCAL_KEY.encode())
    reader, writer = await _raw_link(emulator)
    for _ in range(3):  # 0.3 s in all, never 0.2 s silent
        await loop_clock.advance(0.1)
        frame = session.encode(Command.HEART_BEAT, protocol.heartbeat_payload(DEVICE_ID))
        writer.write(frame)
        await _read_message(reader, session)
    assert emulator.idle_closes == 0
    assert emulator.bytes_received == 3 * len(frame)
    assert emulator.bytes_sent > 0
    await loop_clock.advance(0.2)
    async with asyncio.timeout(1):
        assert await reader.read(4096) == b""  # silent: closed
    assert emulator.idle_closes == 1
    writer.close()
