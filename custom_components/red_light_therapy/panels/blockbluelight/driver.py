"""BlockBlueLight panels over Bluetooth LE: the Panel interface on bleak.

The link is opened on demand (every command connects first) and closed after
``idle_disconnect_s`` without commands (a short grace: a command or a session often follows
another), unless it is held (``Panel.hold_connection``: a session is running): then the link
stays open and is re-opened in the background, with exponential backoff, whenever it drops.
``poll``, the periodic look at an idle panel, is one status query on a link it closes again at
once.
Commands are serialised; each one waits for its reply frame (the acknowledgement is the
confirmation: nothing is read back, so a start is two round trips; its timer write carries a
status query too, answered in the same round trip: ``read_before_on``). Status frames the panel
pushes on its own (its countdown ran out, its button was pressed) update ``state`` as well.

In Home Assistant the ``BLEDevice`` comes from its Bluetooth stack (local adapters or ESPHome
proxies) and ``set_ble_device`` keeps it fresh; the default client factory connects through
bleak-retry-connector.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
import logging
from typing import Any, Protocol

from bleak.backends.device import BLEDevice
from bleak.exc import BleakError
import bleak_retry_connector
from bleak_retry_connector import establish_connection

from ..base import (
    CONNECTION_BLUETOOTH,
    Capabilities,
    Channel,
    Clock,
    Panel,
    PanelConnectionError,
    PanelError,
    PanelIdentity,
    PanelState,
    PanelTimeoutError,
)
from . import codec
from .codec import Frame, FrameDecoder, FrameError
from .const import (
    DEFAULT_WAVELENGTHS_NM,
    MANUFACTURER,
    MODEL,
    NOTIFY_CHAR,
    WRITE_CHAR,
    local_name,
)

_LOGGER = logging.getLogger(__name__)

LINK_ERRORS = (BleakError, OSError, EOFError)
"""What a broken or failing BLE link raises (BleakError covers the retry connector's own)."""


class BleClient(Protocol):
    """The part of ``bleak.BleakClient`` this driver uses."""

    @property
    def address(self) -> str:
        """The device's Bluetooth address."""

    @property
    def is_connected(self) -> bool:
        """Whether the link is up."""

    async def start_notify(
        self, char_specifier: str, callback: Callable[[Any, bytearray], None]
    ) -> None:
        """Call ``callback`` with each notification of the characteristic."""

    async def write_gatt_char(self, char_specifier: str, data: bytes, response: bool = ...) -> None:
        """Write ``data`` to the characteristic."""

    async def disconnect(self) -> Any:
        """Close the link."""


ClientFactory = Callable[[BLEDevice, Callable[[Any], None]], Awaitable[BleClient]]
"""``(ble_device, disconnected_callback) -> connected client``."""

Sleep = Callable[[float], Awaitable[None]]


class _LinkLostError(Exception):
    """The link dropped while a command waited for its reply."""


@dataclass(slots=True)
class _Waiter:
    command: int
    future: asyncio.Future[tuple[Frame, float]]


def _check_timer(seconds: int) -> None:
    if not 0 <= seconds <= codec.MAX_TIMER_S:
        raise ValueError(f"timer must be 0..{codec.MAX_TIMER_S} s, not {seconds}")


class BlockBlueLightPanel(Panel):
    """A BlockBlueLight panel reached over BLE (FFF2 to write, FFF1 for notifications)."""

    def __init__(
        self,
        ble_device: BLEDevice,
        *,
        clock: Clock,
        idle_disconnect_s: float = 60.0,
        command_timeout_s: float = 5.0,
        client_factory: ClientFactory | None = None,
        channel_wavelengths_nm: tuple[int, ...] = DEFAULT_WAVELENGTHS_NM,
        sleep: Sleep = asyncio.sleep,
        reconnect_min_s: float = 1.0,
        reconnect_max_s: float = 30.0,
        levels_poll_s: float = 1800.0,
    ) -> None:
        """Drive the panel behind ``ble_device``; nothing connects before it is used.

        The timeouts, back-off and polling interval are in seconds; ``client_factory`` and ``sleep``
        let tests use the emulator and the frozen clock.
        """
        super().__init__(clock)
        if len(channel_wavelengths_nm) != codec.CHANNEL_COUNT:
            raise ValueError(f"a BlockBlueLight panel has {codec.CHANNEL_COUNT} channels")
        # Wavelengths are assumed: the app shows five channels but does not name them.
        self.capabilities = Capabilities(
            channels=tuple(
                Channel(index, f"channel_{index + 1}", nm)
                for index, nm in enumerate(channel_wavelengths_nm)
            ),
            dimming=True,
            hardware_timer=True,
            max_timer_s=codec.MAX_TIMER_S,
            pulse=False,
        )
        self._ble_device = ble_device
        self._idle_disconnect_s = idle_disconnect_s
        self._command_timeout_s = command_timeout_s
        self._client_factory: ClientFactory = client_factory or self._establish
        self._sleep = sleep
        self._reconnect_min_s = reconnect_min_s
        self._reconnect_max_s = reconnect_max_s
        self._levels_poll_s = levels_poll_s
        self._levels_read_at = float("-inf")

        self._client: BleClient | None = None
        self._decoder = FrameDecoder()
        self._dropped_earlier = 0
        self._levels_read = False
        self._command_lock = asyncio.Lock()
        self._waiter: _Waiter | None = None
        self._idle_handle: asyncio.TimerHandle | None = None
        self._idle_task: asyncio.Task[None] | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._reconnect_backing_off = False
        self._status_read: PanelState | None = None

    # Identity and settings ---------------------------------------------------------------

    @property
    def address(self) -> str:
        """The panel's Bluetooth address."""
        return self._ble_device.address

    @property
    def name(self) -> str:
        """The panel's advertised name, else the name its address gives it."""
        return self._ble_device.name or local_name(self._ble_device.address)

    @property
    def identity(self) -> PanelIdentity:
        """A BlockBlueLight panel, known by its Bluetooth address (it tells no firmware)."""
        return PanelIdentity(
            manufacturer=MANUFACTURER,
            model=MODEL,
            connections=frozenset({(CONNECTION_BLUETOOTH, self.address)}),
        )

    def diagnostics(self) -> dict[str, Any]:
        """Return the base's, and whether the link is open and how much garbage it carried."""
        return {
            **super().diagnostics(),
            "bluetooth": {
                "connected": self.connected,
                "decoder_dropped_bytes": self.decoder_dropped_bytes,
            },
        }

    @property
    def decoder_dropped_bytes(self) -> int:
        """Garbage bytes discarded from the panel's notifications, over all connections."""
        return self._dropped_earlier + self._decoder.dropped_bytes

    @property
    def connected(self) -> bool:
        """Whether the Bluetooth link is up."""
        return self._client is not None and self._client.is_connected

    def set_ble_device(self, ble_device: BLEDevice) -> None:
        """Use the newest ``BLEDevice`` (route) from advertisements for the next connection."""
        self._ble_device = ble_device

    def _connection_hold_changed(self, *, held: bool) -> None:
        """Held (a session runs): no idle disconnect, reconnect when the link drops."""
        if held:
            self._cancel_idle_timer()
        else:
            # A reconnect waiting out its backoff stops now; one in the middle of reading
            # the state back (perhaps the very read that ended the session) finishes it.
            if self._reconnect_task is not None and self._reconnect_backing_off:
                self._reconnect_task.cancel()
                self._reconnect_task = None
            self._schedule_idle()

    # Panel interface ---------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the link now, rather than on the first command."""
        async with self._exclusive():
            await self._ensure_connected()

    async def disconnect(self) -> None:
        """Close the link and stop reconnecting."""
        self._cancel_idle_timer()
        await self._cancel_and_wait(self._reconnect_task)
        await self._cancel_and_wait(self._idle_task)
        async with self._command_lock:
            await self._close_link()
            self._cancel_idle_timer()

    async def update(self) -> PanelState:
        """Read the panel's power and countdown (and its levels, once) and return its state."""
        async with self._exclusive():
            await self._query_status()
            if not self._levels_read:
                await self._query_levels()
        return self.state

    async def poll(self) -> PanelState:
        """One status query; a link opened for it is closed at once (a look, not a stay).

        The channel levels are read too when the panel is on (an unplanned session is dosed
        at them), when they are unknown, or once ``levels_poll_s`` has passed since the last
        read: levels change only at the panel's buttons or the vendor's app. A link found
        open (a session, or the grace after a command) is left as it is: a look neither ends
        nor extends the grace.
        """
        async with self._command_lock:
            opened = not self.connected
            try:
                status = await self._query_status()
                if (
                    status.on
                    or not self._state.levels
                    or self._clock() - self._levels_read_at >= self._levels_poll_s
                ):
                    await self._query_levels()
            finally:
                if opened and not self.keep_connected:
                    await self._close_link()
        return self.state

    async def set_power(self, on: bool) -> float:
        """Switch the panel on or off; return the time it acknowledged, by its clock."""
        async with self._exclusive():
            _ack, acked_at = await self._exchange(codec.power(on), codec.CMD_POWER)
            self._publish(self._state.evolve(is_on=on, updated_at=acked_at))
        return acked_at

    async def set_timer(self, seconds: int) -> None:
        """Arm the panel's own countdown to ``seconds`` (0..65535)."""
        _check_timer(seconds)
        async with self._exclusive():
            await self._exchange(codec.set_timer(seconds), codec.CMD_TIMER)

    async def power_on_for(self, seconds: int | None) -> float:
        """Arm the countdown, then switch on: two writes, each waiting for its acknowledgement.

        The timer write carries a status query before the timer frame (one write, several
        frames): the panel answers it first, with its power and countdown before the start
        re-arms them, in the same round trip. That reading is ``read_before_on``; it is
        best-effort: a status reply missing or garbled leaves it None and the start goes on.
        """
        if seconds is None:
            self.read_before_on = None
            return await self.set_power(True)
        _check_timer(seconds)
        async with self._exclusive():
            self.read_before_on = None
            self._status_read = None
            await self._request((codec.status_query(), codec.set_timer(seconds)), codec.CMD_TIMER)
            self.read_before_on = self._status_read
            _ack, acked_at = await self._exchange(codec.power(True), codec.CMD_POWER)
            self._publish(self._state.evolve(is_on=True, updated_at=acked_at))
        return acked_at

    async def set_levels(self, levels: Mapping[int, int]) -> None:
        """Set the channels' levels (0..100 each), by channel index."""
        for index, level in levels.items():
            if not 0 <= index < codec.CHANNEL_COUNT:
                raise ValueError(f"channel index must be 0..{codec.CHANNEL_COUNT - 1}")
            if not 0 <= level <= codec.MAX_LEVEL:
                raise ValueError(f"level must be 0..{codec.MAX_LEVEL}, not {level}")
        async with self._exclusive():
            await self._ensure_connected()
            if not self._levels_read:
                # With the status, in the same write: a levels report carries the power last
                # known, which on a link just opened is a look's, perhaps no longer true.
                await self._query_levels(with_status=True)
            current = self._state.levels
            changed = {i: lvl for i, lvl in sorted(levels.items()) if current[i] != lvl}
            if not changed:
                return
            for index, level in changed.items():
                await self._send(codec.set_level(index, level))
            reported = await self._query_levels()
            wrong = {i: reported[i] for i, lvl in changed.items() if reported[i] != lvl}
            if wrong:
                raise PanelError(f"{self.name} kept channel levels {wrong}, asked for {changed}")

    # Commands ----------------------------------------------------------------------------

    @asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[None]:
        """One command at a time; the idle countdown restarts after each."""
        async with self._command_lock:
            self._cancel_idle_timer()
            await self._cancel_and_wait(self._idle_task)
            try:
                yield
            finally:
                self._schedule_idle()

    async def _query_status(self) -> codec.Status:
        frame, _at = await self._exchange(codec.status_query(), codec.CMD_STATUS)
        try:
            return codec.parse_status(frame)
        except FrameError as err:
            raise PanelError(f"{self.name} sent a malformed status: {err}") from err

    async def _query_levels(self, *, with_status: bool = False) -> tuple[int, ...]:
        query = codec.levels_query()
        frames = (codec.status_query(), query) if with_status else (query,)
        result = await self._request(frames, codec.CMD_LEVELS)
        assert result is not None
        frame, at = result
        try:
            levels = codec.parse_levels(frame)
        except FrameError as err:
            raise PanelError(f"{self.name} sent malformed levels: {err}") from err
        self._levels_read_at = at
        return levels

    async def _send(self, frame: Frame) -> None:
        await self._request((frame,), None)

    async def _exchange(self, frame: Frame, reply: int) -> tuple[Frame, float]:
        result = await self._request((frame,), reply)
        assert result is not None
        return result

    async def _request(
        self, frames: tuple[Frame, ...], reply: int | None
    ) -> tuple[Frame, float] | None:
        """Write ``frames`` in one write, wait for ``reply``; one reconnect and retry on link loss.

        The replies to frames before the last one are handled as they come (a status reply is
        published) but not waited for: the panel answers in order, so they come first or never.
        """
        frame = frames[-1]
        data = b"".join(codec.encode(each) for each in frames)
        for attempt in range(2):
            client = await self._ensure_connected()
            waiter: _Waiter | None = None
            if reply is not None:
                waiter = _Waiter(reply, asyncio.get_running_loop().create_future())
                self._waiter = waiter
            try:
                async with asyncio.timeout(self._command_timeout_s):
                    _LOGGER.debug("%s: sending %s", self.name, data.hex(" "))
                    await client.write_gatt_char(WRITE_CHAR, data, response=False)
                    return None if waiter is None else await waiter.future
            except TimeoutError as err:
                # Start clean: a wedged link, or a decoder holding a bogus partial frame.
                await self._close_link(reconnect=True)
                raise PanelTimeoutError(
                    f"{self.name} did not answer command {frame.command:#04x} "
                    f"within {self._command_timeout_s} s"
                ) from err
            except (*LINK_ERRORS, _LinkLostError) as err:
                await self._close_link(reconnect=attempt > 0)
                if attempt > 0:
                    raise PanelConnectionError(f"lost the link to {self.name}: {err!r}") from err
                _LOGGER.debug("%s: link lost during %s, retrying once", self.name, frame)
            finally:
                if self._waiter is waiter:
                    self._waiter = None
        raise AssertionError("unreachable")  # pragma: no cover

    def _publish(self, state: PanelState) -> None:
        """Store and announce a state; a failing subscriber must not break the link."""
        try:
            self._set_state(state)
        except Exception:
            _LOGGER.exception("%s: a state subscriber failed", self.name)

    # Notifications -----------------------------------------------------------------------

    def _notify_handler(self, client: BleClient) -> Callable[[Any, bytearray], None]:
        def on_notify(_sender: Any, data: bytearray) -> None:
            if client is self._client:  # late notifications of a closed link are ignored
                self._on_data(bytes(data))

        return on_notify

    def _on_data(self, data: bytes) -> None:
        _LOGGER.debug("%s: received %s", self.name, data.hex(" "))
        received_at = self._clock()
        for frame in self._decoder.feed(data):
            self._on_frame(frame, received_at)

    def _on_frame(self, frame: Frame, at: float) -> None:
        if not frame.from_panel:
            return
        try:
            if frame.command == codec.CMD_STATUS:
                status = codec.parse_status(frame)
                read = self._state.evolve(
                    connected=True,
                    is_on=status.on,
                    timer_set_s=status.timer_set_s,
                    timer_remaining_s=status.timer_remaining_s,
                    updated_at=at,
                )
                self._status_read = read
                self._publish(read)
            elif frame.command == codec.CMD_LEVELS:
                levels = codec.parse_levels(frame)
                self._levels_read = True
                self._publish(self._state.evolve(connected=True, levels=levels, updated_at=at))
        except FrameError as err:
            _LOGGER.debug("%s: ignoring %s: %s", self.name, frame, err)
        waiter = self._waiter
        if waiter is not None and waiter.command == frame.command and not waiter.future.done():
            waiter.future.set_result((frame, at))

    # The link ----------------------------------------------------------------------------

    async def _establish(
        self, ble_device: BLEDevice, disconnected_callback: Callable[[Any], None]
    ) -> BleClient:
        """Connect through bleak-retry-connector (retries, service cache, fresh routes)."""
        client: BleClient = await establish_connection(
            # Looked up at call time: Home Assistant's Bluetooth stack swaps in its own
            # wrapper class (the route through proxies) when it starts.
            bleak_retry_connector.BleakClientWithServiceCache,
            ble_device,
            self.name,
            disconnected_callback=disconnected_callback,
            ble_device_callback=lambda: self._ble_device,
        )
        return client

    async def _ensure_connected(self) -> BleClient:
        """Return the open link, or a new one. Callers hold the command lock."""
        client = self._client
        if client is not None and client.is_connected:
            return client
        self._client = None
        return await self._open_link()

    async def _open_link(self) -> BleClient:
        try:
            client = await self._client_factory(self._ble_device, self._on_disconnected)
        except (*LINK_ERRORS, TimeoutError) as err:
            raise PanelConnectionError(f"cannot connect to {self.name}: {err!r}") from err
        self._dropped_earlier += self._decoder.dropped_bytes
        self._decoder = FrameDecoder()
        self._levels_read = False
        try:
            await client.start_notify(NOTIFY_CHAR, self._notify_handler(client))
        except (*LINK_ERRORS, TimeoutError) as err:
            await self._disconnect_client(client)
            raise PanelConnectionError(f"cannot subscribe to {self.name}: {err!r}") from err
        except asyncio.CancelledError:
            await self._disconnect_client(client)
            raise
        if not client.is_connected:
            raise PanelConnectionError(f"{self.name} dropped the link while connecting")
        # Nothing awaited since start_notify: no notification or callback was missed.
        self._client = client
        self._publish(self._state.evolve(connected=True))
        return client

    def _on_disconnected(self, client: Any) -> None:
        """Bleak's disconnected callback; only an unexpected loss of the current link counts.

        A callback naming another client is a link closed on purpose or an old one, unless
        the current link is down too (a wrapper reporting a different object).
        """
        current = self._client
        if current is None or (client is not current and current.is_connected):
            return
        _LOGGER.debug("%s: link lost", self.name)
        self._client = None
        waiter = self._waiter
        if waiter is not None and not waiter.future.done():
            waiter.future.set_exception(_LinkLostError("link lost"))
            # Marked retrieved: a write failing with the same loss never awaits it.
            waiter.future.exception()
        self._cancel_idle_timer()
        self._publish(self._state.evolve(connected=False))
        if self.keep_connected:
            self._start_reconnect()

    async def _close_link(self, *, reconnect: bool = False) -> None:
        client = self._client
        self._client = None
        self._cancel_idle_timer()
        if client is not None:
            self._publish(self._state.evolve(connected=False))
            await self._disconnect_client(client)
        if reconnect and self.keep_connected:
            self._start_reconnect()

    async def _disconnect_client(self, client: BleClient) -> None:
        try:
            async with asyncio.timeout(self._command_timeout_s):
                await client.disconnect()
        except (*LINK_ERRORS, TimeoutError) as err:
            _LOGGER.debug("%s: error while disconnecting: %r", self.name, err)

    # Idle disconnect and background reconnect --------------------------------------------

    def _schedule_idle(self) -> None:
        self._cancel_idle_timer()
        if self.keep_connected or self._client is None:
            return
        self._idle_handle = asyncio.get_running_loop().call_later(
            self._idle_disconnect_s, self._idle_expired
        )

    def _cancel_idle_timer(self) -> None:
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None

    def _idle_expired(self) -> None:
        self._idle_handle = None  # (every path that makes idling moot cancels this timer)
        self._idle_task = asyncio.get_running_loop().create_task(
            self._idle_disconnect(), name=f"{self.name} idle disconnect"
        )

    async def _idle_disconnect(self) -> None:
        try:
            async with self._command_lock:
                if not self.keep_connected:
                    _LOGGER.debug("%s: idle, closing the link", self.name)
                    await self._close_link()
        finally:
            if self._idle_task is asyncio.current_task():
                self._idle_task = None

    def _start_reconnect(self) -> None:
        if self._reconnect_task is not None:
            return
        self._reconnect_task = asyncio.get_running_loop().create_task(
            self._reconnect_loop(), name=f"{self.name} reconnect"
        )

    async def _reconnect_loop(self) -> None:
        delay = self._reconnect_min_s
        try:
            while self.keep_connected and not self.connected:
                self._reconnect_backing_off = True
                try:
                    await self._sleep(delay)
                finally:
                    self._reconnect_backing_off = False
                try:
                    await self.update()  # connects, and reads what happened while away
                except PanelError as err:
                    delay = min(delay * 2, self._reconnect_max_s)
                    _LOGGER.debug("%s: reconnect failed (%s), next in %s s", self.name, err, delay)
        finally:
            if self._reconnect_task is asyncio.current_task():
                self._reconnect_task = None

    @staticmethod
    async def _cancel_and_wait(task: asyncio.Task[None] | None) -> None:
        if task is None or task is asyncio.current_task():
            return
        task.cancel()
        await asyncio.wait([task])
