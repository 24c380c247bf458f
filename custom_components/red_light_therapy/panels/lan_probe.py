"""A probe of the ports a kind of panel broadcasts on, which decodes nothing.

It binds the same ports as that kind's listener (``SO_REUSEPORT``) and only notices that
something broadcasts there: an install with no panel of such a kind loads none of its code
until a datagram arrives, and then starts the listener.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
import contextlib
import socket
from typing import Any


class _Heard(asyncio.DatagramProtocol):
    """Notices a datagram, and nothing else (it does not decode it)."""

    def __init__(self, heard: Callable[[], None]) -> None:
        self._heard = heard

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._heard()


def shared_udp_socket(host: str, port: int, *, broadcast: bool = False) -> socket.socket:
    """Return a non-blocking UDP socket bound to ``port`` that other listeners can bind too.

    ``SO_REUSEPORT`` where the system has it; ``broadcast`` lets it receive (and send) broadcasts.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with contextlib.suppress(AttributeError, OSError):  # off Linux/BSD
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if broadcast:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class LanProbe:
    """Binds ports and calls ``heard`` for every datagram that arrives on them."""

    def __init__(self, heard: Callable[[], None], *, ports: Iterable[int], host: str) -> None:
        """Prepare a probe of ``ports`` on ``host``; ``await start()`` binds them."""
        self._heard = heard
        self._ports = tuple(ports)
        self._host = host
        self._transports: list[asyncio.DatagramTransport] = []

    @property
    def bound_ports(self) -> tuple[int, ...]:
        """The ports actually bound (the system picks them for port 0)."""
        return tuple(int(transport.get_extra_info("sockname")[1]) for transport in self._transports)

    async def start(self) -> None:
        """Bind every port (OSError, or RuntimeError in a sandbox: none stay bound then)."""
        loop = asyncio.get_running_loop()
        try:
            for port in self._ports:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Heard(self._heard), sock=shared_udp_socket(self._host, port)
                )
                self._transports.append(transport)
        except (OSError, RuntimeError):
            self.stop()
            raise

    def stop(self) -> None:
        """Close every port."""
        transports, self._transports = self._transports, []
        for transport in transports:
            transport.close()
