"""The emulated BlockBlueLight panel answers like the real one, through a bleak-like client."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
import uuid

from bleak.exc import BleakError
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.red_light_therapy.panels.blockbluelight import (
    NOTIFY_CHAR,
    SERVICE_UUID,
    WRITE_CHAR,
    BlockBlueLightEmulator,
    EmissionSegment,
    EmulatedBleakClient,
    Frame,
    codec,
)
from custom_components.red_light_therapy.panels.blockbluelight.codec import encode
from custom_components.red_light_therapy.panels.blockbluelight.emulator import (
    EmulatedCharacteristic,
    normalize_uuid,
)

from .blockbluelight_helpers import T0, FakeClock, Sink, settle

ADDRESS = "3C:AB:72:5E:F5:22"


async def linked(emulator: BlockBlueLightEmulator) -> tuple[EmulatedBleakClient, Sink]:
    client = await emulator.connect()
    sink = Sink()
    await client.start_notify(NOTIFY_CHAR, sink)
    return client, sink


async def send(client: EmulatedBleakClient, *frames: Frame) -> None:
    for frame in frames:
        await client.write_gatt_char(WRITE_CHAR, encode(frame), response=False)
    await settle()


async def on_with_a_minute_countdown(
    emulator: BlockBlueLightEmulator,
) -> tuple[EmulatedBleakClient, Sink]:
    """A linked host sets the timer to 60 s and switches the panel on."""
    client, sink = await linked(emulator)
    await send(client, codec.set_timer(60), codec.power(True))
    return client, sink


def test_identity(clock: FakeClock) -> None:
    emu = BlockBlueLightEmulator(clock=clock)
    assert emu.address == ADDRESS
    assert emu.name == "BLOCK3CAB725EF522"
    assert emu.service_uuids == [SERVICE_UUID]
    assert emu.levels == (100, 100, 100, 100, 100)
    assert emu.is_on is False
    assert emu.timer_remaining_s == 0
    device = emu.ble_device()
    assert (device.address, device.name) == (ADDRESS, "BLOCK3CAB725EF522")
    assert BlockBlueLightEmulator("AA:BB:CC:DD:EE:0f", clock=clock).name == "BLOCKAABBCCDDEE0F"


@pytest.mark.parametrize(
    "kwargs", [{"levels": (100, 100)}, {"levels": (100, 100, 100, 100, 101)}, {"timer_set_s": -1}]
)
def test_constructor_validates(clock: FakeClock, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        BlockBlueLightEmulator(clock=clock, **kwargs)


async def test_status_query_is_answered(emulator: BlockBlueLightEmulator) -> None:
    client, sink = await linked(emulator)
    assert client.address == ADDRESS
    assert client.is_connected
    await send(client, codec.status_query())
    assert sink.frames() == [codec.status_reply(False, 0, 0)]
    assert sink.senders[0] == EmulatedCharacteristic(NOTIFY_CHAR, 0x0011)
    assert emulator.commands == [codec.status_query()]
    assert emulator.commands_received == 1
    assert emulator.bytes_received == 7
    assert emulator.bytes_sent == 12
    assert emulator.notifications_sent == 1


async def test_timer_then_power_on_and_off(
    emulator: BlockBlueLightEmulator, clock: FakeClock
) -> None:
    client, sink = await linked(emulator)
    await send(client, codec.set_timer(900))
    assert sink.frames() == [codec.timer_ack()]
    await send(client, codec.power(True))
    assert sink.frames()[1:] == [codec.power_ack(), codec.status_reply(True, 900, 900)]
    assert emulator.is_on
    clock.advance(1.5)
    assert emulator.timer_remaining_s == 899  # whole seconds, rounded up
    await send(client, codec.status_query())
    assert sink.frames()[-1] == codec.status_reply(True, 900, 899)
    clock.advance(100)
    await send(client, codec.power(False))
    assert sink.frames()[-2:] == [codec.power_ack(), codec.status_reply(False, 900, 0)]
    assert emulator.emission_log == [EmissionSegment(T0, T0 + 101.5, (100,) * 5)]
    assert emulator.on_seconds() == pytest.approx(101.5)


async def test_power_on_twice_keeps_one_segment(emulator: BlockBlueLightEmulator) -> None:
    client, _sink = await linked(emulator)
    await send(client, codec.power(True), codec.power(True))
    assert len(emulator.emission_log) == 1


async def test_countdown_switches_off_at_its_deadline_when_noticed_late(
    emulator: BlockBlueLightEmulator, clock: FakeClock
) -> None:
    _client, sink = await on_with_a_minute_countdown(emulator)
    clock.advance(75)  # nobody looked for 15 s after the deadline
    emulator.tick()
    await settle()
    assert sink.frames()[-1] == codec.status_reply(False, 60, 0)
    assert emulator.emission_log == [EmissionSegment(T0, T0 + 60, (100,) * 5)]
    assert emulator.on_seconds() == 60


async def test_countdown_is_noticed_on_any_interaction(
    emulator: BlockBlueLightEmulator, clock: FakeClock
) -> None:
    client, sink = await on_with_a_minute_countdown(emulator)
    clock.advance(61)
    await send(client, codec.status_query())
    # The push of the off state comes first, then the answer to the query.
    assert sink.frames()[-2:] == [codec.status_reply(False, 60, 0)] * 2
    assert emulator.emission_log[0].end == T0 + 60


async def test_setting_the_timer_while_on_restarts_the_countdown(
    emulator: BlockBlueLightEmulator, clock: FakeClock
) -> None:
    client, _sink = await on_with_a_minute_countdown(emulator)
    clock.advance(50)
    await send(client, codec.set_timer(30))
    assert emulator.timer_remaining_s == 30
    clock.advance(31)
    assert emulator.is_on is False
    assert emulator.emission_log[0].end == T0 + 80


async def test_timer_zero_means_no_countdown(
    emulator: BlockBlueLightEmulator, clock: FakeClock
) -> None:
    client, _sink = await linked(emulator)
    await send(client, codec.power(True))
    clock.advance(100_000)
    assert emulator.is_on
    assert emulator.timer_remaining_s == 0


async def test_home_assistant_time_machinery_fires_the_countdown(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Advancing HA's test clock runs the emulator's loop handle: the off state is pushed
    without any interaction, and the off time is the deadline itself."""
    emu = BlockBlueLightEmulator(clock=lambda: dt_util.utcnow().timestamp())
    try:
        client, sink = await linked(emu)
        start = dt_util.utcnow().timestamp()
        await send(client, codec.set_timer(1200), codec.power(True))
        freezer.tick(timedelta(seconds=1203))
        async_fire_time_changed(hass)
        await settle()
        assert sink.frames()[-1] == codec.status_reply(False, 1200, 0)
        assert emu.emission_log == [EmissionSegment(start, start + 1200, (100,) * 5)]
    finally:
        emu.close()
        await settle()


async def test_countdown_handle_waits_for_the_clock(hass: HomeAssistant) -> None:
    """If the loop fires the handle before the injected clock reaches the deadline, the panel
    stays on and waits: the clock is the emulator's only notion of time."""
    clock = FakeClock()
    emu = BlockBlueLightEmulator(clock=clock)
    try:
        client, _sink = await linked(emu)
        await send(client, codec.set_timer(60), codec.power(True))
        async_fire_time_changed(hass, fire_all=True)
        await settle()
        assert emu.is_on
        clock.advance(60)
        async_fire_time_changed(hass, fire_all=True)
        await settle()
        assert emu.is_on is False
        assert emu.emission_log[0].end == T0 + 60
    finally:
        emu.close()
        await settle()


def test_countdown_without_an_event_loop_is_noticed_lazily(clock: FakeClock) -> None:
    emu = BlockBlueLightEmulator(clock=clock, timer_set_s=10)
    emu.press_button()  # no running loop: nothing scheduled, no link to push to
    assert emu.is_on
    clock.advance(10)
    assert emu.is_on is False
    assert emu.emission_log == [EmissionSegment(T0, T0 + 10, (100,) * 5)]


async def test_levels(emulator: BlockBlueLightEmulator, clock: FakeClock) -> None:
    client, sink = await linked(emulator)
    await send(client, codec.power(True))
    clock.advance(10)
    await send(client, codec.set_level(0, 50), codec.set_level(0, 50), codec.levels_query())
    assert sink.frames()[-1] == codec.levels_reply([50, 100, 100, 100, 100])
    assert emulator.levels == (50, 100, 100, 100, 100)
    clock.advance(10)
    await send(client, codec.power(False))
    await send(client, codec.set_level(4, 0))  # while off: no segment
    assert emulator.emission_log == [
        EmissionSegment(T0, T0 + 10, (100,) * 5),
        EmissionSegment(T0 + 10, T0 + 20, (50, 100, 100, 100, 100)),
    ]
    assert emulator.level_seconds() == (15.0, 20.0, 20.0, 20.0, 20.0)
    assert emulator.level_seconds(until=T0 + 5) == (5.0, 5.0, 5.0, 5.0, 5.0)
    assert emulator.on_seconds(until=T0 + 15) == 15.0
    assert emulator.levels == (50, 100, 100, 100, 0)


async def test_silent_and_rejected_commands(emulator: BlockBlueLightEmulator) -> None:
    client, sink = await linked(emulator)
    await send(
        client,
        codec.pulse(b"\x01\x02"),  # accepted silently
        Frame(0x3A, 0x75),  # preset query: not emulated, no reply
        Frame(0x3A, 0x41, b"\x09\x10"),  # channel 9: rejected
        Frame(0x3A, 0x20, b"\x05"),  # power 5: rejected
        codec.status_reply(True, 0, 0),  # a panel frame written by the host: rejected
    )
    assert sink.notifications == []
    assert emulator.pulse_setting == b"\x01\x02"
    assert emulator.commands_received == 5
    assert emulator.commands_rejected == 3
    assert emulator.levels == (100,) * 5


async def test_physical_button_pushes_status(
    emulator: BlockBlueLightEmulator, clock: FakeClock
) -> None:
    client, sink = await linked(emulator)
    emulator.press_button()
    await settle()
    assert sink.frames() == [codec.status_reply(True, 0, 0)]
    clock.advance(5)
    emulator.press_button()
    emulator.emit_status()
    await settle()
    assert sink.frames()[1:] == [codec.status_reply(False, 0, 0)] * 2
    assert emulator.emission_log == [EmissionSegment(T0, T0 + 5, (100,) * 5)]
    assert client.is_connected


async def test_no_notifications_before_notify_is_enabled(
    emulator: BlockBlueLightEmulator,
) -> None:
    client = await emulator.connect()
    await send(client, codec.status_query())
    sink = Sink()
    await client.start_notify("fff1", sink)
    await client.stop_notify(uuid.UUID(NOTIFY_CHAR))
    await send(client, codec.status_query())
    assert sink.notifications == []
    assert emulator.notifications_sent == 0
    assert emulator.commands_received == 2


async def test_async_notify_callbacks_are_awaited(emulator: BlockBlueLightEmulator) -> None:
    client = await emulator.connect()
    got: list[bytes] = []

    async def callback(_sender: Any, data: bytearray) -> None:
        got.append(bytes(data))

    await client.start_notify(NOTIFY_CHAR, callback)
    await send(client, codec.status_query())
    assert got == [encode(codec.status_reply(False, 0, 0))]


class _Char:
    uuid = WRITE_CHAR


@pytest.mark.parametrize(
    "spec",
    [WRITE_CHAR, WRITE_CHAR.upper(), "FFF2", "0000fff2", uuid.UUID(WRITE_CHAR), _Char()],
)
async def test_characteristic_specifiers(emulator: BlockBlueLightEmulator, spec: object) -> None:
    client, sink = await linked(emulator)
    await client.write_gatt_char(spec, encode(codec.status_query()))
    await settle()
    assert len(sink.frames()) == 1


async def test_wrong_characteristics_raise_like_bleak(emulator: BlockBlueLightEmulator) -> None:
    client = await emulator.connect()
    with pytest.raises(BleakError, match="does not support write"):
        await client.write_gatt_char(NOTIFY_CHAR, encode(codec.status_query()))
    with pytest.raises(BleakError, match="does not support notify"):
        await client.start_notify(WRITE_CHAR, Sink())
    with pytest.raises(BleakError, match="not found"):
        await client.write_gatt_char("00002a00-0000-1000-8000-00805f9b34fb", b"\x00")
    with pytest.raises(BleakError, match="not found"):
        await client.write_gatt_char(42, b"\x00")
    assert normalize_uuid("2A00") == "00002a00-0000-1000-8000-00805f9b34fb"


async def test_closed_link_raises_on_use(emulator: BlockBlueLightEmulator) -> None:
    calls: list[EmulatedBleakClient] = []
    client = await emulator.connect(calls.append)
    assert await client.disconnect() is True
    assert await client.disconnect() is True  # idempotent
    assert calls == [client]  # bleak calls it on explicit disconnects too
    assert not client.is_connected
    assert emulator.connected is False
    with pytest.raises(BleakError, match="not connected"):
        await client.write_gatt_char(WRITE_CHAR, b"\x00")
    with pytest.raises(BleakError, match="not connected"):
        await client.start_notify(NOTIFY_CHAR, Sink())
    with pytest.raises(BleakError, match="not connected"):
        await client.stop_notify(NOTIFY_CHAR)


async def test_drop_connection_calls_the_disconnected_callback(
    emulator: BlockBlueLightEmulator,
) -> None:
    calls: list[EmulatedBleakClient] = []
    client = await emulator.connect(calls.append)
    assert emulator.client is client
    emulator.drop_connection()
    emulator.drop_connection()  # nothing left to drop
    assert calls == [client]
    assert emulator.client is None
    again = await emulator.connect()
    assert again.is_connected
    assert emulator.connections == 2


async def test_one_central_at_a_time(emulator: BlockBlueLightEmulator) -> None:
    await emulator.connect()
    with pytest.raises(BleakError, match="already connected"):
        await emulator.connect()


async def test_refused_connections(emulator: BlockBlueLightEmulator) -> None:
    emulator.refuse_connections = 2
    for _ in range(2):
        with pytest.raises(BleakError, match="refused"):
            await emulator.connect()
    assert (await emulator.connect()).is_connected
    assert emulator.connect_attempts == 3
    assert emulator.connections == 1


async def test_client_factory_checks_the_address(
    emulator: BlockBlueLightEmulator, clock: FakeClock
) -> None:
    other = BlockBlueLightEmulator("11:22:33:44:55:66", clock=clock)
    with pytest.raises(BleakError, match="is not"):
        await emulator.client_factory(other.ble_device(), lambda _c: None)
    client = await emulator.client_factory(emulator.ble_device(), lambda _c: None)
    assert client.is_connected


async def test_latency_each_way_uses_the_injected_sleep(
    emulator: BlockBlueLightEmulator, clock: FakeClock
) -> None:
    emulator.latency_s = 0.25
    client = await emulator.connect()
    arrived: list[float] = []
    await client.start_notify(NOTIFY_CHAR, lambda _s, _d: arrived.append(clock()))
    sent_at = clock()
    await send(client, codec.power(True))
    assert emulator.emission_log[0].start == pytest.approx(sent_at + 0.25)
    assert arrived == [pytest.approx(sent_at + 0.5)] * 2
    assert 0.25 in clock.sleeps


async def test_write_lost_when_the_link_drops_in_flight(
    emulator: BlockBlueLightEmulator, clock: FakeClock
) -> None:
    async def sleep_and_drop(seconds: float) -> None:
        await clock.sleep(seconds)
        emulator.drop_connection()

    client = await emulator.connect()
    emulator.latency_s = 0.1
    emulator.sleep = sleep_and_drop
    with pytest.raises(BleakError, match="not connected"):
        await client.write_gatt_char(WRITE_CHAR, encode(codec.power(True)))
    assert emulator.commands_received == 0


async def test_split_notifications_send_the_end_byte_alone(
    emulator: BlockBlueLightEmulator,
) -> None:
    client, sink = await linked(emulator)
    emulator.split_notifications = True
    await send(client, codec.power(True))
    assert sink.notifications[1] == b"\x0a"
    assert sink.notifications[3] == b"\x0a"
    assert len(sink.notifications) == 4
    assert sink.frames() == [codec.power_ack(), codec.status_reply(True, 0, 0)]


async def test_joined_notifications(emulator: BlockBlueLightEmulator) -> None:
    client, sink = await linked(emulator)
    emulator.join_notifications = True
    await send(client, codec.power(True))
    assert len(sink.notifications) == 1
    assert sink.frames() == [codec.power_ack(), codec.status_reply(True, 0, 0)]


async def test_injected_garbage(emulator: BlockBlueLightEmulator) -> None:
    client, sink = await linked(emulator)
    emulator.inject_garbage = b"\x2a"
    await send(client, codec.status_query())
    assert sink.notifications == [b"\x2a" + encode(codec.status_reply(False, 0, 0))]
    assert sink.frames() == [codec.status_reply(False, 0, 0)]


async def test_unresponsive_panel_ignores_commands(emulator: BlockBlueLightEmulator) -> None:
    client, sink = await linked(emulator)
    emulator.unresponsive = True
    await send(client, codec.status_query(), codec.power(True))
    assert sink.notifications == []
    assert emulator.is_on is False
    assert emulator.commands_received == 2


async def test_host_writes_are_decoded_as_a_stream(emulator: BlockBlueLightEmulator) -> None:
    """The panel side copes with joined and torn writes and stray bytes, too."""
    client, sink = await linked(emulator)
    data = b"\x3a" + encode(codec.status_query()) + encode(codec.levels_query())
    await client.write_gatt_char(WRITE_CHAR, data[:5])
    await client.write_gatt_char(WRITE_CHAR, data[5:])
    await settle()
    assert [f.command for f in sink.frames()] == [0x10, 0x40]
    assert client.host_bytes_dropped == 1


async def test_close_forgets_link_and_countdown(
    emulator: BlockBlueLightEmulator, clock: FakeClock
) -> None:
    calls: list[EmulatedBleakClient] = []
    client = await emulator.connect(calls.append)
    await client.start_notify(NOTIFY_CHAR, Sink())
    await send(client, codec.set_timer(60), codec.power(True))
    emulator.close()
    assert calls == []  # closing the emulator is not a link loss the host should see
    assert not client.is_connected
    clock.advance(60)
    assert emulator.is_on is False  # its own countdown still runs, noticed lazily


async def test_notifications_in_flight_are_lost_with_notify_off(
    emulator: BlockBlueLightEmulator,
) -> None:
    emulator.latency_s = 0.25
    client, sink = await linked(emulator)
    await client.write_gatt_char(WRITE_CHAR, encode(codec.set_timer(90)))
    await client.stop_notify(NOTIFY_CHAR)
    await settle()
    assert sink.notifications == []
    assert emulator.notifications_sent == 1
    assert emulator.timer_set_s == 90


async def test_failing_notify_callback_is_logged_and_the_link_stays(
    emulator: BlockBlueLightEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    client = await emulator.connect()
    calls: list[bytes] = []

    def callback(_sender: Any, data: bytearray) -> None:
        calls.append(bytes(data))
        if len(calls) == 1:
            raise RuntimeError("boom")

    await client.start_notify(NOTIFY_CHAR, callback)
    await send(client, codec.status_query(), codec.status_query())
    assert len(calls) == 2
    assert "notification callback failed" in caplog.text
    assert client.is_connected
