r"""An emulated Tuya Wi-Fi panel: a real TCP server speaking protocol 3.3, 3.4 or 3.5.

``TuyaEmulator`` listens on a real socket with real encryption, so the driver, tinytuya or the
Smart Life integration of someone's choosing talks to it exactly as to a device. Its data
points come from a data-point map. It answers status queries, applies writes (acknowledging
them, then pushing a STATUS with the written data points to every client, as devices do), answers
heartbeats, negotiates session keys, and pushes on its own when its countdown runs out or its
button is pressed. It broadcasts its discovery packet over UDP if asked to
(``broadcast_address``): every ``broadcast_interval_s``, or only on ``send_broadcast()`` when
that is None (tests: nothing reaches a port they did not choose).

Emulated behaviour where devices differ: the countdown data point counts down from when it is
set, whether on or off; switching off by command or button clears it. What happens at zero and
at a power-on depends on two options, both off by default:

- ``countdown_toggles`` False (default): at zero the panel switches OFF, never on (a lenient
  device). True: at zero the switch *toggles*, as Tuya plugs and lights do: a countdown armed
  while the device is off switches it ON.
- ``power_on_clears_countdown`` False (default): switching on keeps a running countdown. True:
  switching on (command, button or app) clears a countdown armed before, as many devices do.

Within one control message the countdown is applied after the switch (their data-point order
in every built-in data-point map), so a countdown written together with the power-on survives
``power_on_clears_countdown``. ``countdown_toggles=True,
power_on_clears_countdown=True`` is the faithful common plug.

Faults: ``latency_s``; ``unresponsive`` (frames are read and ignored); ``drop_connections()``;
``idle_timeout_s`` (a client silent that long is closed, as devices do after about 30 s);
``push_writes = False`` (writes acknowledged without a STATUS push); ``ack_writes = False``
(writes reported by a STATUS push but never acknowledged);
``report_on_write`` (those values reported as each write arrives);
``busy = True`` (accepts TCP, then closes at the first frame, as a single-client device does
while another client holds it); ``report(dps)`` pushes any data-point values, garbage
included, without applying them (a device reporting what it likes).
A client with the wrong key gets what a real device gives it: its frames fail to decrypt or
authenticate, and the device answers under its own key, which the client cannot read, and
closes the link (``wrong_key_behaviour="answer"``, the default: the proof of a wrong key), closes
the link without a word
(``"close"``: indistinguishable from busy) or ignores the frame (``"silent"``).

Run it on its own::

    python -m custom_components.red_light_therapy.panels.tuya.emulator \
        --host 127.0.0.1 --port 6668 --version 3.4 --device-id ID --local-key KEY
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
import contextlib
from dataclasses import dataclass, field
import logging
import math
import os
import signal
import socket
import time
from typing import Any, Literal

from ..base import Clock
from . import protocol
from .dp_maps import DpMap, get_dp_map
from .protocol import (
    Command,
    Message,
    RandomBytes,
    TuyaProtocolError,
    TuyaSession,
    Version,
    parse_version,
)

_LOGGER = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
WrongKeyBehaviour = Literal["answer", "close", "silent"]


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


@dataclass(eq=False, slots=True)
class _Client:
    writer: asyncio.StreamWriter
    session: TuyaSession
    client_nonce: bytes = b""
    device_nonce: bytes = b""
    authenticated: bool = False
    frames: int = 0
    task: asyncio.Task[None] | None = field(default=None)


class _Close(Exception):
    """End this client's connection."""


class TuyaEmulator:
    """A Tuya device on a real socket. ``await start()``, then ``port``; ``await stop()``."""

    def __init__(
        self,
        device_id: str,
        local_key: str | bytes,
        version: str | float | Version,
        dp_map: str | DpMap = "generic_light",
        *,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_s: float = 0.0,
        dps: Mapping[str, Any] | None = None,
        product_key: str = "rltEmulatorPanel",
        advertised_ip: str | None = None,
        broadcast_address: str | None = None,
        broadcast_port: int = 6667,
        broadcast_interval_s: float | None = 5.0,
        wrong_key_behaviour: WrongKeyBehaviour = "answer",
        random_bytes: RandomBytes = os.urandom,
        countdown_toggles: bool = False,
        power_on_clears_countdown: bool = False,
    ) -> None:
        """Create a device ``device_id`` with ``local_key``, speaking ``version``.

        Nothing listens until it starts. ``broadcast_address`` makes it announce itself as real
        devices do; ``wrong_key_behaviour``, ``countdown_toggles`` and ``power_on_clears_countdown``
        pick how it behaves where devices differ.
        """
        self.device_id = device_id
        self.local_key = protocol.key_bytes(local_key)
        self.version = parse_version(version)
        self.dp_map = get_dp_map(dp_map)
        self.clock = clock
        self.sleep = sleep
        self.host = host
        self._requested_port = port
        self.latency_s = latency_s
        self.product_key = product_key
        self.advertised_ip = advertised_ip
        self.broadcast_address = broadcast_address
        self.broadcast_port = broadcast_port
        self.broadcast_interval_s = broadcast_interval_s
        self.wrong_key_behaviour: WrongKeyBehaviour = wrong_key_behaviour
        self.unresponsive = False
        self.busy = False
        """True: accept connections, then close each at its first frame (busy elsewhere)."""
        self.idle_timeout_s: float | None = None
        """Close a client it has heard nothing from for this long, as devices do (about 30 s,
        DESIGN.md); None (default): never."""
        self.idle_closes = 0
        """Clients closed for their silence."""
        self.report_on_write: Mapping[str | int, Any] | None = None
        """Reported (``report``) as each write arrives, before its answer: bad data mid-command."""
        self.ack_writes = True
        """False: report written data points without acknowledging the write first."""
        self.push_writes = True
        """False: acknowledge writes without the STATUS push (some firmwares do that)."""
        self.countdown_toggles = countdown_toggles
        """True: the countdown toggles the switch at zero (off to on too), as plugs do."""
        self.power_on_clears_countdown = power_on_clears_countdown
        """True: switching on clears a countdown armed before (not one in the same message)."""
        self._random = random_bytes

        self._dps: dict[str, Any] = self.dp_map.default_dps()
        if dps:
            self._dps.update({str(k): v for k, v in dps.items()})
        self._deadline: float | None = None
        self._deadline_handle: asyncio.TimerHandle | None = None
        self._server: asyncio.Server | None = None
        self._clients: set[_Client] = set()
        self._broadcast_task: asyncio.Task[None] | None = None
        self._udp: asyncio.DatagramTransport | None = None

        self.emission_log: list[EmissionSegment] = []
        self.writes: list[dict[str, Any]] = []
        """Every data-point write the panel accepted, in order."""
        self.commands: list[int] = []
        """The command number of every frame received from any client."""
        self.connections = 0
        self.bytes_received = 0
        """Bytes of every frame any client sent (the TCP payload, not its headers)."""
        self.bytes_sent = 0
        """Bytes of every frame sent to any client."""
        self.auth_failures = 0
        self.broadcasts_sent = 0
        if self.is_on:
            self._open_segment(self.clock())

    # Lifecycle -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port it listens on (the real one when started with port 0)."""
        if self._server is None or not self._server.sockets:
            return self._requested_port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def clients(self) -> int:
        """Open client connections."""
        return len(self._clients)

    async def start(self) -> None:
        """Listen for clients, and start broadcasting when there is an address for it."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._serve, self.host, self._requested_port)
        if self.broadcast_address is not None:
            loop = asyncio.get_running_loop()
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            sock.setblocking(False)
            # Sent from the address it serves on: a listener takes the sender's address as the
            # device's, so one on another loopback address (127.0.0.2) is found there.
            sock.bind((self.host or "", 0))
            self._udp, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, sock=sock)
            if self.broadcast_interval_s is not None:
                self._broadcast_task = loop.create_task(
                    self._broadcast_loop(), name=f"tuya emulator broadcast {self.device_id}"
                )

    async def stop(self) -> None:
        """Close the server, every connection and the broadcasts; cancel the countdown check."""
        self._cancel_deadline_handle()
        if self._broadcast_task is not None:
            self._broadcast_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._broadcast_task
            self._broadcast_task = None
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        server, self._server = self._server, None
        if server is not None:
            server.close()
        await self._close_clients()
        if server is not None:
            await server.wait_closed()

    async def __aenter__(self) -> TuyaEmulator:
        """Start the device for the ``async with`` block."""
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        """Stop the device at the end of the ``async with`` block."""
        await self.stop()

    # What the panel is doing --------------------------------------------------------------------

    @property
    def is_on(self) -> bool:
        """Whether the device is on now (its countdown may have switched it)."""
        self.tick()
        return bool(self._dps.get(str(self.dp_map.switch_dp)))

    @property
    def levels(self) -> tuple[int, ...]:
        """The channels' levels, 0..100 each."""
        return tuple(
            channel.to_level(int(self._dps.get(str(channel.dp), 0)))
            for channel in self.dp_map.channels
        )

    @property
    def timer_remaining_s(self) -> int:
        """Whole seconds left on the countdown (0: not armed)."""
        self.tick()
        return self._remaining()

    def current_dps(self) -> dict[str, Any]:
        """Every data point as the device would report it now."""
        self.tick()
        dps = dict(self._dps)
        if self.dp_map.countdown_dp is not None:
            dps[str(self.dp_map.countdown_dp)] = self._remaining()
        return dps

    def on_seconds(self, until: float | None = None) -> float:
        """Seconds emitted in total, up to ``until`` (default now)."""
        end = self.clock() if until is None else until
        return sum(segment.duration(end) for segment in self.emission_log)

    # Things that happen at the panel --------------------------------------------------------

    def tick(self) -> None:
        """Notice a countdown that ran out.

        The panel switched at its deadline, not now (off; from off to on only with
        ``countdown_toggles``).
        """
        if self._deadline is not None and self.clock() >= self._deadline:
            deadline = self._deadline
            self._deadline = None
            self._cancel_deadline_handle()
            changed: dict[str, Any] = {}
            if self.dp_map.countdown_dp is not None:
                changed[str(self.dp_map.countdown_dp)] = 0
            switch = str(self.dp_map.switch_dp)
            if self._dps.get(switch):
                self._dps[switch] = False
                self._close_segment(deadline)
                changed[switch] = False
            elif self.countdown_toggles:
                self._dps[switch] = True
                self._open_segment(deadline)
                changed[switch] = True
            self._push(changed)

    def press_button(self) -> None:
        """Someone pressed the power button: toggle, and tell every client."""
        self.apply_local({str(self.dp_map.switch_dp): not self.is_on})

    def apply_local(self, dps: Mapping[str | int, Any]) -> None:
        """Return data points changed at the device (button, app, cloud): apply and push them."""
        changed = self._apply({str(k): v for k, v in dps.items()})
        self._push(changed)

    def report(self, dps: Mapping[str | int, Any]) -> None:
        """Push ``dps`` as reported values without applying them: any JSON value at all."""
        self._push({str(k): v for k, v in dps.items()})

    def drop_connections(self) -> None:
        """Every client link is lost (the device rebooted, Wi-Fi dropped)."""
        for client in list(self._clients):
            client.writer.transport.abort()

    async def send_broadcast(self) -> None:
        """Send one discovery broadcast now (needs ``broadcast_address``)."""
        if self._udp is None or self.broadcast_address is None:
            raise RuntimeError("broadcasts need a broadcast_address and a started emulator")
        self._udp.sendto(self.broadcast_packet(), (self.broadcast_address, self.broadcast_port))
        self.broadcasts_sent += 1

    def broadcast_packet(self) -> bytes:
        """Return the discovery packet, as the device broadcasts it."""
        info = {
            "ip": self.advertised_ip or self.host,
            "gwId": self.device_id,
            "active": 2,
            "ability": 0,
            "mode": 0,
            "encrypt": True,
            "productKey": self.product_key,
            "version": self.version.value,
            "token": True,
            "wf_cfg": True,
        }
        return protocol.encode_broadcast(info, self.version, random_bytes=self._random)

    # The connection --------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(
            writer,
            TuyaSession(self.version, self.local_key, from_device=True, random_bytes=self._random),
            authenticated=not self.version.negotiates,
            task=asyncio.current_task(),
        )
        self._clients.add(client)
        self.connections += 1
        splitter = protocol.FrameSplitter()
        try:
            while data := await self._read(reader):
                self.bytes_received += len(data)
                for frame in splitter.feed(data):
                    await self._handle(client, frame)
        except (_Close, OSError):
            pass
        finally:
            self._clients.discard(client)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _read(self, reader: asyncio.StreamReader) -> bytes:
        """Return the next bytes from a client; none once it closed or stayed silent too long."""
        if self.idle_timeout_s is None:
            return await reader.read(4096)
        try:
            async with asyncio.timeout(self.idle_timeout_s):
                return await reader.read(4096)
        except TimeoutError:
            self.idle_closes += 1
            return b""

    async def _close_clients(self) -> None:
        clients = list(self._clients)
        for client in clients:
            client.writer.close()
        tasks = [
            c.task for c in clients if c.task is not None and c.task is not asyncio.current_task()
        ]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _handle(self, client: _Client, frame: bytes) -> None:
        self.tick()
        client.frames += 1
        if self.busy:
            raise _Close("busy with another client")
        try:
            message = client.session.decode(frame)
            negotiation = message.cmd in (
                Command.SESS_KEY_NEG_START,
                Command.SESS_KEY_NEG_FINISH,
            )
            obj = (
                protocol.parse_json(message.payload) if message.payload and not negotiation else {}
            )
        except TuyaProtocolError as err:
            self._answer_unreadable(client, frame)
            self._wrong_key(f"cannot read a frame: {err}")
            return
        self.commands.append(message.cmd)
        if self.unresponsive:
            return
        if self.latency_s > 0:
            await self.sleep(self.latency_s)
        if message.cmd == Command.SESS_KEY_NEG_START and self.version.negotiates:
            client.client_nonce = message.payload[: protocol.NONCE_LEN]
            client.device_nonce = self._random(protocol.NONCE_LEN)
            client.session.reset()
            answer = protocol.negotiation_response(
                self.local_key, client.client_nonce, client.device_nonce
            )
            self._send(client, Command.SESS_KEY_NEG_RESP, answer, seqno=message.seqno)
            return
        if message.cmd == Command.SESS_KEY_NEG_FINISH and client.device_nonce:
            try:
                protocol.check_negotiation_finish(
                    self.local_key, client.device_nonce, message.payload
                )
            except TuyaProtocolError as err:
                self._wrong_key(str(err))
                return
            client.session.set_session_key(
                protocol.session_key(
                    self.version, self.local_key, client.client_nonce, client.device_nonce
                )
            )
            client.authenticated = True
            return
        if not client.authenticated:
            self._wrong_key(f"command 0x{message.cmd:02x} before the session key")
            return
        self._execute(client, message, obj)

    def _execute(self, client: _Client, message: Message, obj: dict[str, Any]) -> None:
        cmd = message.cmd
        if cmd == Command.HEART_BEAT:
            self._send(client, Command.HEART_BEAT, b"", seqno=message.seqno)
        elif cmd in (Command.DP_QUERY, Command.DP_QUERY_NEW):
            payload = protocol.query_reply_payload(self.version, self.device_id, self.current_dps())
            self._send(client, cmd, payload, seqno=message.seqno)
        elif cmd in (Command.CONTROL, Command.CONTROL_NEW):
            if self.report_on_write:
                self.report(self.report_on_write)
            dps = protocol.extract_dps(obj) or {}
            if self.ack_writes:
                self._send(client, cmd, b"", seqno=message.seqno)
            self.writes.append(dps)
            changed = self._apply(dps)
            if self.push_writes:
                current = self.current_dps()
                self._push({k: current.get(k, v) for k, v in (dps | changed).items()})
        elif cmd == Command.UPDATEDPS:
            wanted = [str(dp) for dp in obj.get("dpId", [])]
            self._send(client, cmd, b"", seqno=message.seqno)
            current = self.current_dps()
            self._push({k: current[k] for k in wanted if k in current})
        else:
            _LOGGER.debug("emulator ignores command 0x%02x", cmd)

    def _wrong_key(self, reason: str) -> None:
        self.auth_failures += 1
        _LOGGER.debug("emulator %s: %s", self.device_id, reason)
        if self.wrong_key_behaviour != "silent":
            raise _Close(reason)

    def _answer_unreadable(self, client: _Client, frame: bytes) -> None:
        """Answer a frame it cannot read under its own key (``wrong_key_behaviour="answer"``).

        A session-key answer to a 3.4/3.5 client, an encrypted error to a 3.3 one.
        """
        if self.wrong_key_behaviour != "answer":
            return
        offset = 6 if frame[:4] == protocol.PREFIX_6699 else 4
        seqno = int.from_bytes(frame[offset : offset + 4], "big")
        cmd = int.from_bytes(frame[offset + 4 : offset + 8], "big")
        if self.version.negotiates:
            client.session.reset()
            nonce = self._random(protocol.NONCE_LEN)
            answer = protocol.negotiation_response(self.local_key, nonce, nonce)
            self._send(client, Command.SESS_KEY_NEG_RESP, answer, seqno=seqno)
        else:
            self._send(client, cmd, b'{"error":"data format error"}', seqno=seqno)

    def _send(self, client: _Client, cmd: int, payload: bytes, *, seqno: int | None = None) -> None:
        data = client.session.encode(cmd, payload, seqno=seqno)
        if not client.writer.is_closing():
            client.writer.write(data)
            self.bytes_sent += len(data)

    def _push(self, dps: Mapping[str, Any]) -> None:
        if not dps:
            return
        payload = protocol.status_payload(self.version, self.device_id, dps, self.clock())
        for client in list(self._clients):
            if client.authenticated:
                self._send(client, Command.STATUS, payload)

    # The device's data points --------------------------------------------------------------

    def _apply(self, dps: Mapping[str, Any]) -> dict[str, Any]:
        """Apply written data points; return what they changed to."""
        now = self.clock()
        dp_map = self.dp_map
        switch = str(dp_map.switch_dp)
        countdown = None if dp_map.countdown_dp is None else str(dp_map.countdown_dp)
        channel_dps = {str(channel.dp) for channel in dp_map.channels}
        changed: dict[str, Any] = {}
        was_on = bool(self._dps.get(switch))
        armed: int | None = None
        for key, value in dps.items():
            if key == countdown:
                armed = max(0, min(int(value), dp_map.countdown_max_s))
                continue
            if key in channel_dps:
                channel = next(c for c in dp_map.channels if str(c.dp) == key)
                self._dps[key] = max(channel.min_value, min(channel.max_value, int(value)))
            else:
                self._dps[key] = value
            changed[key] = self._dps[key]
        is_on = bool(self._dps.get(switch))
        if was_on and not is_on:
            self._close_segment(now)
            if countdown is not None and self._deadline is not None:
                self._arm(0, now)
                changed[countdown] = 0
        elif is_on and not was_on:
            self._open_segment(now)
            if (
                self.power_on_clears_countdown
                and countdown is not None
                and self._deadline is not None
            ):
                self._arm(0, now)
                changed[countdown] = 0
        elif is_on and channel_dps & changed.keys():
            self._close_segment(now)
            self._open_segment(now)
        if countdown is not None and armed is not None:
            # After the switch (data-point order in the built-in data-point maps): a power-on in the
            # same message does not clear it.
            self._arm(armed, now)
            changed[countdown] = armed
        return changed

    def _arm(self, seconds: int, now: float) -> None:
        self._cancel_deadline_handle()
        self._deadline = now + seconds if seconds > 0 else None
        if self._deadline is not None:
            with contextlib.suppress(RuntimeError):  # no running loop: lazy checks only
                self._deadline_handle = asyncio.get_running_loop().call_later(seconds, self.tick)

    def _remaining(self) -> int:
        if self._deadline is None:
            return 0
        return max(0, math.ceil(self._deadline - self.clock()))

    def _cancel_deadline_handle(self) -> None:
        if self._deadline_handle is not None:
            self._deadline_handle.cancel()
            self._deadline_handle = None

    def _open_segment(self, at: float) -> None:
        self.emission_log.append(EmissionSegment(at, None, self.levels))

    def _close_segment(self, at: float) -> None:
        if self.emission_log and self.emission_log[-1].end is None:
            last = self.emission_log[-1]
            self.emission_log[-1] = EmissionSegment(last.start, at, last.levels)

    async def _broadcast_loop(self) -> None:
        interval = self.broadcast_interval_s
        assert interval is not None
        while True:
            with contextlib.suppress(OSError):
                await self.send_broadcast()
            await self.sleep(interval)


# Command line --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Return the command line of ``python -m …panels.tuya.emulator``."""
    parser = argparse.ArgumentParser(description="Serve an emulated Tuya therapy panel.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6668)
    parser.add_argument("--version", choices=[v.value for v in Version], default="3.3")
    parser.add_argument("--device-id", required=True)
    parser.add_argument("--local-key", required=True, help="16 characters")
    parser.add_argument("--dp-map", default="generic_light")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per reply")
    parser.add_argument("--broadcast-address", default=None, help="e.g. 127.0.0.1")
    parser.add_argument("--broadcast-port", type=int, default=6667)
    parser.add_argument("--broadcast-interval", type=float, default=5.0)
    parser.add_argument(
        "--plug-countdown",
        action="store_true",
        help="the countdown toggles the switch at zero and a power-on clears it (common plugs)",
    )
    return parser


async def serve(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    """Run an emulator from parsed arguments until ``stop`` is set (or SIGINT/SIGTERM)."""
    emulator = TuyaEmulator(
        args.device_id,
        args.local_key,
        args.version,
        args.dp_map,
        host=args.host,
        port=args.port,
        latency_s=args.latency,
        broadcast_address=args.broadcast_address,
        broadcast_port=args.broadcast_port,
        broadcast_interval_s=args.broadcast_interval,
        countdown_toggles=args.plug_countdown,
        power_on_clears_countdown=args.plug_countdown,
    )
    done = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, done.set)
    async with emulator:
        print(
            f"Tuya {emulator.version} emulator {args.device_id} ({emulator.dp_map.name}) "
            f"on {args.host}:{emulator.port}",
            flush=True,
        )
        await done.wait()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m ...panels.tuya.emulator --device-id ID --local-key KEY [...]``."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
