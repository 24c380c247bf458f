"""An emulated BlockBlueLight panel, at the level a real one sits behind bleak.

``BlockBlueLightEmulator`` keeps the panel's state (power, five channel levels, its own
countdown) and answers frames the way the real panel does. ``EmulatedBleakClient`` is the
subset of ``bleak.BleakClient`` the driver uses, so tests and the demo drive the emulator
through exactly the code path a real panel takes. Faults can be injected: latency, torn and
joined notifications, stray bytes, an unresponsive panel, a lost link, refused connections.

Where the protocol facts are silent the emulator makes these assumptions: power off clears
the countdown (TREM reads 0 while off; the host re-arms the timer before every power-on), a
power-on or a button press starts the countdown from the timer last set (none when it is 0),
setting the timer while on restarts the countdown, and commands 0x41/0x42 get no reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
import inspect
import logging
import math
from typing import Any, Final
import uuid

from bleak.backends.device import BLEDevice
from bleak.exc import BleakError

from ..base import Clock
from . import codec
from .codec import Frame, FrameDecoder, FrameError
from .const import NOTIFY_CHAR, SERVICE_UUID, WRITE_CHAR, local_name

_LOGGER = logging.getLogger(__name__)

DEFAULT_ADDRESS: Final = "3C:AB:72:5E:F5:22"
BLUETOOTH_BASE_UUID_TAIL: Final = "-0000-1000-8000-00805f9b34fb"

Sleep = Callable[[float], Awaitable[None]]
NotifyCallback = Callable[[Any, bytearray], object]
DisconnectedCallback = Callable[["EmulatedBleakClient"], None]


@dataclass(frozen=True, slots=True)
class EmissionSegment:
    """The panel emitted at ``levels`` from ``start`` to ``end`` (None: still emitting)."""

    start: float
    end: float | None
    levels: tuple[int, ...]

    def duration(self, until: float) -> float:
        """Seconds emitted up to ``until``."""
        end = until if self.end is None else min(self.end, until)
        return max(0.0, end - self.start)


@dataclass(frozen=True, slots=True)
class EmulatedCharacteristic:
    """What the notify callback gets as its sender (bleak passes a characteristic)."""

    uuid: str
    handle: int


def normalize_uuid(char_specifier: object) -> str:
    """Return a characteristic specifier as a full lower-case UUID string.

    ``BleakError`` when it names no characteristic.
    """
    value = getattr(char_specifier, "uuid", char_specifier)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        text = value.lower()
        if len(text) == 4:
            return f"0000{text}{BLUETOOTH_BASE_UUID_TAIL}"
        if len(text) == 8:
            return f"{text}{BLUETOOTH_BASE_UUID_TAIL}"
        return text
    raise BleakError(f"Characteristic {char_specifier!r} was not found")


def make_ble_device(address: str, name: str | None, rssi: int = -60) -> BLEDevice:
    """Return a ``BLEDevice`` on both bleak 0.22 (takes rssi) and bleak 1.x+ (does not)."""
    extra: dict[str, Any] = {}
    if "rssi" in inspect.signature(BLEDevice).parameters:  # bleak < 1.0 requires it
        extra["rssi"] = rssi
    return BLEDevice(address, name, {}, **extra)


class EmulatedBleakClient:
    """The part of ``bleak.BleakClient`` the driver uses, wired to an emulated panel.

    Writes go to FFF2, notifications come from FFF1; anything else raises ``BleakError`` as
    bleak does. ``disconnected_callback(client)`` is called whenever the link ends, also on an
    explicit ``disconnect()`` (as bleak does on Linux).
    """

    def __init__(
        self,
        emulator: BlockBlueLightEmulator,
        disconnected_callback: DisconnectedCallback | None,
    ) -> None:
        """Start a live link to ``emulator``; ``disconnected_callback`` hears when it ends."""
        self._emulator = emulator
        self._disconnected_callback = disconnected_callback
        self._connected = True
        self._notify: NotifyCallback | None = None
        self._decoder = FrameDecoder()
        self._outbox: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        self._worker = asyncio.get_running_loop().create_task(
            self._deliver(), name=f"emulated BLE link to {emulator.name}"
        )

    @property
    def address(self) -> str:
        """The emulated panel's address."""
        return self._emulator.address

    @property
    def is_connected(self) -> bool:
        """Whether the link is up."""
        return self._connected

    @property
    def notifying(self) -> bool:
        """Whether a notification callback is registered."""
        return self._notify is not None

    @property
    def host_bytes_dropped(self) -> int:
        """Bytes the panel discarded from the host's writes on this link."""
        return self._decoder.dropped_bytes

    async def start_notify(
        self, char_specifier: object, callback: NotifyCallback, **_kwargs: Any
    ) -> None:
        """Send the panel's notifications to ``callback``."""
        self._check_connected()
        self._check_char(char_specifier, NOTIFY_CHAR, "notify")
        self._notify = callback

    async def stop_notify(self, char_specifier: object) -> None:
        """Stop sending notifications."""
        self._check_connected()
        self._check_char(char_specifier, NOTIFY_CHAR, "notify")
        self._notify = None

    async def write_gatt_char(
        self, char_specifier: object, data: bytes | bytearray | memoryview, response: bool = False
    ) -> None:
        """Hand ``data`` to the emulated panel, as a write to its command characteristic."""
        self._check_connected()
        self._check_char(char_specifier, WRITE_CHAR, "write")
        if self._emulator.drop_on_next_write:
            # The radio link goes while the write is in flight: callback first, as bleak does.
            self._emulator.drop_on_next_write = False
            self._end_link()
            raise BleakError(f"{self._emulator.name}: disconnected during the write")
        payload = bytes(data)
        self._emulator.writes += 1
        if self._emulator.latency_s > 0:
            await self._emulator.sleep(self._emulator.latency_s)
            self._check_connected()
        self._emulator._receive(self, payload)

    async def disconnect(self) -> bool:
        """End the link."""
        self._end_link()
        return True

    def _check_connected(self) -> None:
        if not self._connected:
            raise BleakError(f"{self._emulator.name}: not connected")

    @staticmethod
    def _check_char(char_specifier: object, expected: str, what: str) -> None:
        found = normalize_uuid(char_specifier)
        if found not in (NOTIFY_CHAR, WRITE_CHAR):
            raise BleakError(f"Characteristic {found} was not found")
        if found != expected:
            raise BleakError(f"Characteristic {found} does not support {what}")

    def _queue(self, notification: bytes) -> None:
        due = self._emulator.clock() + self._emulator.latency_s
        self._outbox.put_nowait((due, notification))

    async def _deliver(self) -> None:
        sender = EmulatedCharacteristic(NOTIFY_CHAR, 0x0011)
        while True:
            due, data = await self._outbox.get()
            delay = due - self._emulator.clock()
            if delay > 0:
                await self._emulator.sleep(delay)
            callback = self._notify
            if not self._connected or callback is None:
                continue
            try:
                result = callback(sender, bytearray(data))
                if inspect.isawaitable(result):
                    await result
            except Exception:
                # bleak logs a failing callback and keeps the link; so does the emulator.
                _LOGGER.exception("%s: notification callback failed", self._emulator.name)

    def _end_link(self, *, call_back: bool = True) -> None:
        """End the link (either side ended it): stop, then tell the owner once."""
        if not self._connected:
            return
        self._connected = False
        self._notify = None
        self._worker.cancel()
        self._emulator._client_gone(self)
        if call_back and self._disconnected_callback is not None:
            self._disconnected_callback(self)


class BlockBlueLightEmulator:
    r"""A BlockBlueLight panel in memory. Time comes from ``clock``; latency uses ``sleep``.

    Fault injection (set at any time): ``latency_s`` (each way), ``split_notifications``
    (each frame arrives as two notifications, the tail 0x0A alone), ``join_notifications``
    (the frames of one answer arrive in one notification), ``inject_garbage`` (bytes sent
    before every frame, e.g. ``b"\x2a"`` for a doubled start byte), ``unresponsive``
    (commands are received and ignored), ``refuse_connections`` (the next N connection
    attempts fail), ``drop_connection()`` (the link is lost) and ``drop_on_next_write`` (the
    link is lost during the next write, which fails), ``status_reply_fault`` (status queries
    answered ``"missing"``: not at all, or ``"garbled"``: with a frame cut short).
    """

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        *,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
        latency_s: float = 0.0,
        levels: Sequence[int] = (100,) * codec.CHANNEL_COUNT,
        timer_set_s: int = 0,
        refuse_connections: int = 0,
    ) -> None:
        """Create a panel at ``address``, off, with ``levels`` and a countdown of ``timer_set_s``.

        ``refuse_connections`` connection attempts fail before one succeeds.
        """
        if len(levels) != codec.CHANNEL_COUNT or not all(
            0 <= level <= codec.MAX_LEVEL for level in levels
        ):
            raise ValueError(f"levels must be {codec.CHANNEL_COUNT} values 0..100")
        if not 0 <= timer_set_s <= codec.MAX_TIMER_S:
            raise ValueError("timer_set_s must be 0..65535")
        self.address = address
        self.clock = clock
        self.sleep = sleep
        self.latency_s = latency_s
        self.split_notifications = False
        self.join_notifications = False
        self.inject_garbage = b""
        self.unresponsive = False
        self.refuse_connections = refuse_connections
        self.drop_on_next_write = False
        self.status_reply_fault: str | None = None

        self.emission_log: list[EmissionSegment] = []
        self.commands: list[Frame] = []
        """Every frame the panel decoded from the host, in order."""
        self.commands_received = 0
        self.writes = 0
        """Writes from the host (one may carry several frames)."""
        self.commands_rejected = 0
        self.bytes_received = 0
        self.bytes_sent = 0
        self.frames_sent = 0
        self.notifications_sent = 0
        self.connect_attempts = 0
        self.connections = 0
        self.link_seconds_closed = 0.0
        """Seconds links were held (or being set up), over every link already closed."""
        self._link_started: float | None = None
        self.pulse_setting = b"\x00\x00"

        self._on = False
        self._levels = list(levels)
        self._timer_set_s = timer_set_s
        self._deadline: float | None = None
        self._deadline_handle: asyncio.TimerHandle | None = None
        self._client: EmulatedBleakClient | None = None

    # What the panel is doing -------------------------------------------------------------

    @property
    def name(self) -> str:
        """The name the panel advertises."""
        return local_name(self.address)

    @property
    def service_uuids(self) -> list[str]:
        """The service the panel advertises."""
        return [SERVICE_UUID]

    @property
    def is_on(self) -> bool:
        """Whether the panel is on now (its countdown may have switched it off)."""
        self.tick()
        return self._on

    @property
    def levels(self) -> tuple[int, ...]:
        """The channels' levels, 0..100 each."""
        return tuple(self._levels)

    @property
    def timer_set_s(self) -> int:
        """The countdown the panel is armed with, in seconds."""
        return self._timer_set_s

    @property
    def timer_remaining_s(self) -> int:
        """Whole seconds left on the panel's own countdown (0 when off or no timer)."""
        self.tick()
        return self._remaining()

    @property
    def client(self) -> EmulatedBleakClient | None:
        """The connected client, if any."""
        return self._client

    @property
    def connected(self) -> bool:
        """Whether a client is connected."""
        return self._client is not None

    def link_seconds(self) -> float:
        """Seconds the panel's radio was taken by a central (the link and its setup).

        While it is, the vendor's app cannot connect and a Bluetooth proxy's slot is in use.
        """
        held = self.link_seconds_closed
        if self._link_started is not None:
            held += self.clock() - self._link_started
        return held

    def on_seconds(self, until: float | None = None) -> float:
        """Seconds emitted in total, up to ``until`` (default now)."""
        end = self.clock() if until is None else until
        return sum(segment.duration(end) for segment in self.emission_log)

    def level_seconds(self, until: float | None = None) -> tuple[float, ...]:
        """Per channel, seconds emitted weighted by level (100 % for 60 s is 60.0)."""
        end = self.clock() if until is None else until
        totals = [0.0] * codec.CHANNEL_COUNT
        for segment in self.emission_log:
            seconds = segment.duration(end)
            for channel, level in enumerate(segment.levels):
                totals[channel] += seconds * level / codec.MAX_LEVEL
        return tuple(totals)

    # Things that happen at the panel -----------------------------------------------------

    def tick(self) -> None:
        """Notice a countdown that ran out; it switched off at its deadline, not now."""
        if self._on and self._deadline is not None and self.clock() >= self._deadline:
            self._switch(on=False, at=self._deadline)
            self._push_status()

    def press_button(self) -> None:
        """Someone pressed the panel's power button: toggle, and tell the host."""
        self.tick()
        self._switch(on=not self._on, at=self.clock())
        self._push_status()

    def emit_status(self) -> None:
        """Send a status report unasked (the panel does this on its own)."""
        self.tick()
        self._push_status()

    def drop_connection(self) -> None:
        """Lose the radio link: the client sees its disconnected callback."""
        if self._client is not None:
            self._client._end_link()

    def close(self) -> None:
        """Forget the link and the scheduled countdown check (end of a test or demo)."""
        self._cancel_deadline()
        if self._client is not None:
            self._client._end_link(call_back=False)

    # bleak side --------------------------------------------------------------------------

    async def connect(
        self, disconnected_callback: DisconnectedCallback | None = None
    ) -> EmulatedBleakClient:
        """Open a link, as ``establish_connection`` would; BleakError when refused."""
        self.connect_attempts += 1
        started = self.clock()
        if self.latency_s > 0:
            await self.sleep(self.latency_s)
        if self.refuse_connections > 0:
            self.refuse_connections -= 1
            raise BleakError(f"{self.name}: connection refused")
        if self._client is not None:
            raise BleakError(f"{self.name}: already connected to another central")
        self.tick()
        client = EmulatedBleakClient(self, disconnected_callback)
        self._client = client
        self._link_started = started
        self.connections += 1
        return client

    async def client_factory(
        self, ble_device: BLEDevice, disconnected_callback: Callable[[Any], None]
    ) -> EmulatedBleakClient:
        """Return a driver ``client_factory`` that connects to this emulator."""
        if ble_device.address.upper() != self.address.upper():
            raise BleakError(f"{ble_device.address} is not {self.address}")
        return await self.connect(disconnected_callback)

    def ble_device(self, rssi: int = -60) -> BLEDevice:
        """How the emulator looks in a scan."""
        return make_ble_device(self.address, self.name, rssi)

    # Internals ---------------------------------------------------------------------------

    def _client_gone(self, client: EmulatedBleakClient) -> None:
        if self._client is client:
            self._client = None
            if self._link_started is not None:
                self.link_seconds_closed += self.clock() - self._link_started
                self._link_started = None

    def _receive(self, client: EmulatedBleakClient, data: bytes) -> None:
        """Bytes written by the host; answer every complete command in them."""
        self.bytes_received += len(data)
        replies: list[Frame] = []
        for frame in client._decoder.feed(data):
            replies.extend(self._handle(frame))
        if replies:
            self._transmit(replies)

    def _handle(self, frame: Frame) -> list[Frame]:
        self.tick()
        self.commands_received += 1
        self.commands.append(frame)
        if self.unresponsive:
            return []
        if frame.from_panel:
            self.commands_rejected += 1
            return []
        try:
            return self._execute(frame)
        except FrameError as err:
            _LOGGER.debug("%s ignores %s: %s", self.name, frame, err)
            self.commands_rejected += 1
            return []

    def _execute(self, frame: Frame) -> list[Frame]:
        command = frame.command
        if command == codec.CMD_STATUS:
            if self.status_reply_fault == "missing":
                return []
            if self.status_reply_fault == "garbled":
                return [codec.Frame(codec.START_PANEL, codec.CMD_STATUS, b"\x01")]
            return [self._status()]
        if command == codec.CMD_POWER:
            self._switch(on=codec.parse_power(frame), at=self.clock())
            return [codec.power_ack(), self._status()]
        if command == codec.CMD_TIMER:
            self._timer_set_s = codec.parse_set_timer(frame)
            if self._on:
                self._start_countdown(self.clock())
            return [codec.timer_ack()]
        if command == codec.CMD_LEVELS:
            return [codec.levels_reply(self._levels)]
        if command == codec.CMD_SET_LEVEL:
            channel, level = codec.parse_set_level(frame)
            self._set_level(channel, level)
            return []
        if command == codec.CMD_PULSE:
            self.pulse_setting = codec.pulse(frame.payload).payload
            return []
        return []  # presets (0x52, 0x74, 0x75) and anything unknown: not emulated

    def _remaining(self) -> int:
        if not self._on or self._deadline is None:
            return 0
        return min(codec.MAX_TIMER_S, max(0, math.ceil(self._deadline - self.clock())))

    def _status(self) -> Frame:
        return codec.status_reply(self._on, self._timer_set_s, self._remaining())

    def _switch(self, *, on: bool, at: float) -> None:
        if on == self._on:
            return
        self._on = on
        if on:
            self.emission_log.append(EmissionSegment(at, None, tuple(self._levels)))
            self._start_countdown(at)
        else:
            self._close_segment(at)
            self._deadline = None
            self._cancel_deadline()

    def _set_level(self, channel: int, level: int) -> None:
        if self._levels[channel] == level:
            return
        self._levels[channel] = level
        if self._on:
            now = self.clock()
            self._close_segment(now)
            self.emission_log.append(EmissionSegment(now, None, tuple(self._levels)))

    def _close_segment(self, at: float) -> None:
        last = self.emission_log[-1]
        self.emission_log[-1] = replace(last, end=at)

    def _start_countdown(self, at: float) -> None:
        self._cancel_deadline()
        if self._timer_set_s == 0:
            self._deadline = None
            return
        self._deadline = at + self._timer_set_s
        self._arm_deadline(self._deadline)

    def _arm_deadline(self, deadline: float) -> None:
        """Wake at the deadline to switch off and push the status (time-travel friendly)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: noticed lazily by the next interaction instead
        delay = max(0.0, deadline - self.clock())
        self._deadline_handle = loop.call_later(delay, self._deadline_reached, deadline)

    def _deadline_reached(self, deadline: float) -> None:
        self._deadline_handle = None
        if self.clock() < deadline:
            self._arm_deadline(deadline)  # the loop ran ahead of the clock: wait for it
            return
        self.tick()

    def _cancel_deadline(self) -> None:
        if self._deadline_handle is not None:
            self._deadline_handle.cancel()
            self._deadline_handle = None

    def _push_status(self) -> None:
        self._transmit([self._status()])

    def _transmit(self, frames: list[Frame]) -> None:
        """Send frames to the host, shaped by the injected faults."""
        client = self._client
        if client is None or not client.notifying:
            return  # nobody listening: a real panel's notifications go nowhere either
        self.frames_sent += len(frames)
        chunks = [self.inject_garbage + codec.encode(frame) for frame in frames]
        if self.join_notifications:
            chunks = [b"".join(chunks)]
        if self.split_notifications:
            chunks = [part for chunk in chunks for part in (chunk[:-1], chunk[-1:])]
        for chunk in chunks:
            self.bytes_sent += len(chunk)
            self.notifications_sent += 1
            client._queue(chunk)
