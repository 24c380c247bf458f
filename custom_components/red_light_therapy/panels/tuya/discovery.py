"""Finding Tuya devices on the LAN from their UDP broadcasts.

Tuya devices broadcast a small JSON object every few seconds: on UDP 6666 in plain text (3.1
firmware), on 6667 encrypted with the well-known UDP key (3.3/3.4 as AES-ECB in a 55AA frame,
3.5 as AES-GCM in a 6699 frame), and some answer the app's requests on 7000. ``TuyaDiscovery``
listens on any set of ports (SO_REUSEADDR and SO_REUSEPORT, so several listeners, and other
programs such as the Tuya integrations, can share them), decodes what arrives and calls back
once per device, and again whenever its address or version changes, or after ``forget``.

The LAN is untrusted: a device's address is the datagram's sender, never the ``ip`` its payload
claims; nothing of the payload is kept beyond the device id, version, product key and
encryption flag (each of bounded length); and the table of devices is bounded (least recently
heard dropped first), so a flood of distinct ids costs bounded memory.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterable
import functools
import logging
import time
from typing import Any, Final

from ..base import Clock
from ..lan import DiscoveredDevice, DiscoveryCallback
from ..lan_probe import shared_udp_socket
from ..registry import TUYA_DISCOVERY_PORTS
from . import protocol
from .protocol import TuyaProtocolError

_LOGGER = logging.getLogger(__name__)

DEFAULT_PORTS: Final = TUYA_DISCOVERY_PORTS
MAX_DEVICES: Final = 256
"""Devices the listener remembers at most (the least recently heard are dropped first)."""
MAX_ID_LEN: Final = 64
"""Longer device ids are not a device's (real ones have about 20 characters)."""
_MAX_FIELD_LEN: Final = 32
_SUPPORTED: Final = frozenset(version.value for version in protocol.Version)


def parse_broadcast(
    data: bytes, sender_ip: str, *, port: int = 0, now: float = 0.0
) -> DiscoveredDevice | None:
    """Return the device in one datagram; None for app broadcasts and anything unreadable.

    Its address is ``sender_ip``, whatever ``ip`` the payload claims (anyone on the LAN can
    send a broadcast naming any address).
    """
    try:
        info = protocol.decode_broadcast(data)
    except TuyaProtocolError:
        return None
    device_id = info.get("gwId") or info.get("devId") or info.get("id")
    if (
        not isinstance(device_id, str)
        or not 0 < len(device_id) <= MAX_ID_LEN
        or not device_id.isprintable()
        or info.get("from") == "app"
    ):
        return None
    product_key = info.get("productKey")
    version = str(info.get("version", "3.1"))[:_MAX_FIELD_LEN]
    return DiscoveredDevice(
        device_id=device_id,
        ip=sender_ip,
        version=version,
        product_key=str(product_key)[:_MAX_FIELD_LEN] if product_key else None,
        encrypted=bool(info.get("encrypt", False)),
        port=port,
        last_seen=now,
        supported=version in _SUPPORTED,
    )


class _Listener(asyncio.DatagramProtocol):
    def __init__(self, owner: TuyaDiscovery, port: int) -> None:
        self._owner = owner
        self.port = port

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._owner._received(data, str(addr[0]), self.port)


def _identity(listener: _Listener) -> _Listener:
    return listener


class TuyaDiscovery:
    """Listens for Tuya broadcasts; ``await start()`` / ``await stop()``.

    ``callback`` gets a ``DiscoveredDevice`` the first time a device is heard and whenever its
    ip, version or product key changes (every broadcast with ``every_broadcast=True``).
    Bind ``host="127.0.0.1"`` and ports ``(0,)`` in tests; ``bound_ports`` tells the real ports.
    """

    def __init__(
        self,
        callback: DiscoveryCallback,
        *,
        ports: Iterable[int] = DEFAULT_PORTS,
        host: str = "0.0.0.0",
        clock: Clock = time.time,
        every_broadcast: bool = False,
        max_devices: int = MAX_DEVICES,
    ) -> None:
        """Prepare a listener that calls ``callback`` for each device heard on ``ports``.

        It calls it when a device is first heard or its address, version or product key changes
        (with ``every_broadcast``: for every broadcast), and remembers at most ``max_devices``.
        """
        self._callback = callback
        self._ports = tuple(ports)
        self._host = host
        self._clock = clock
        self._every = every_broadcast
        self._transports: list[asyncio.DatagramTransport] = []
        self._max_devices = max_devices
        self.devices: OrderedDict[str, DiscoveredDevice] = OrderedDict()
        """Devices heard, least recently heard first; at most ``max_devices``."""
        self.ignored = 0
        """Datagrams that were not a device broadcast."""
        self.started_at: float | None = None
        """When it started listening (its clock), None while stopped."""

    @property
    def bound_ports(self) -> tuple[int, ...]:
        """The ports actually bound (the system picks them for port 0)."""
        return tuple(int(transport.get_extra_info("sockname")[1]) for transport in self._transports)

    @property
    def running(self) -> bool:
        """Whether it is listening."""
        return bool(self._transports)

    async def start(self) -> None:
        """Bind every port (OSError if one cannot be bound; none stay bound then)."""
        if self._transports:
            return
        loop = asyncio.get_running_loop()
        try:
            for port in self._ports:
                sock = shared_udp_socket(self._host, port, broadcast=True)
                listener = _Listener(self, int(sock.getsockname()[1]))
                transport, _ = await loop.create_datagram_endpoint(
                    functools.partial(_identity, listener), sock=sock
                )
                self._transports.append(transport)
        except OSError:
            await self.stop()
            raise
        self.started_at = self._clock()

    async def stop(self) -> None:
        """Stop listening."""
        self.started_at = None
        transports, self._transports = self._transports, []
        for transport in transports:
            transport.close()
        await asyncio.sleep(0)  # let the transports finish closing

    async def __aenter__(self) -> TuyaDiscovery:
        """Start listening for the ``async with`` block."""
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        """Stop listening at the end of the ``async with`` block."""
        await self.stop()

    def forget(self, device_id: str) -> None:
        """Drop a device from the record: its next broadcast is reported as new."""
        self.devices.pop(device_id, None)

    def _received(self, data: bytes, sender_ip: str, port: int) -> None:
        device = parse_broadcast(data, sender_ip, port=port, now=self._clock())
        if device is None:
            self.ignored += 1
            return
        known = self.devices.pop(device.device_id, None)
        self.devices[device.device_id] = device
        while len(self.devices) > self._max_devices:
            self.devices.popitem(last=False)
        if (
            self._every
            or known is None
            or (known.ip, known.version, known.product_key)
            != (device.ip, device.version, device.product_key)
        ):
            self._callback(device)
