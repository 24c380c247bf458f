"""Panels found on the local network, whatever their kind: what a listener reports.

A kind that broadcasts on the LAN (Tuya Wi-Fi panels) has a listener that decodes those
broadcasts (``registry.lan_listener`` builds it). What the Home Assistant layer sees of one is
``LanListener`` and the ``DiscoveredDevice`` records it calls back with.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DiscoveredDevice:
    """One device as its broadcast describes it."""

    device_id: str
    ip: str
    """The address the broadcast came from (never what its payload claims)."""
    version: str
    """The protocol version it broadcast."""
    product_key: str | None = None
    encrypted: bool = True
    port: int = 0
    """The UDP port the broadcast arrived on."""
    last_seen: float = 0.0
    supported: bool = True
    """Whether the integration speaks its protocol version (a device that it does not is
    recorded, never offered)."""


DiscoveryCallback = Callable[[DiscoveredDevice], None]


class LanListener(Protocol):
    """A running listener: ``await start()``, ``await stop()``, and what it has heard."""

    devices: OrderedDict[str, DiscoveredDevice]
    started_at: float | None

    @property
    def bound_ports(self) -> tuple[int, ...]:
        """The ports actually bound."""

    @property
    def running(self) -> bool:
        """Whether it is listening."""

    async def start(self) -> None:
        """Bind every port (OSError if one cannot be bound)."""

    async def stop(self) -> None:
        """Stop listening."""

    def forget(self, device_id: str) -> None:
        """Drop a device from the record: its next broadcast is reported as new."""
