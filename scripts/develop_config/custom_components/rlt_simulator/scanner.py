"""A remote Bluetooth scanner, like an ESPHome Bluetooth proxy, whose radio is simulated.

It hears the emulated panels' advertisements and hands Home Assistant a connector whose bleak
backend talks to the emulators, so discovery, the config flow and every connection go through
Home Assistant's real Bluetooth stack (manager, matchers, client wrapper, retry connector).
"""

from __future__ import annotations

from collections.abc import Iterable
import logging

from bluetooth_data_tools import monotonic_time_coarse
from homeassistant.components.bluetooth import BaseHaRemoteScanner, HaBluetoothConnector

from custom_components.red_light_therapy.panels.blockbluelight.emulator import (
    BlockBlueLightEmulator,
)

from .backend import client_class_for

_LOGGER = logging.getLogger(__name__)

SCANNER_SOURCE = "00:00:5E:00:53:01"
"""The simulated proxy's address (from the range RFC 7042 reserves for documentation)."""
SCANNER_NAME = "Red Light Therapy simulator"


class SimulatedScanner(BaseHaRemoteScanner):
    """A connectable remote scanner that sees only the simulated panels."""

    def __init__(self, panels: Iterable[BlockBlueLightEmulator], rssi: int) -> None:
        """See ``panels`` at ``rssi``, through a connector whose clients reach the emulators."""
        self.panels = {panel.address.upper(): panel for panel in panels}
        self.rssi = rssi
        connector = HaBluetoothConnector(
            client=client_class_for(self.find_panel),
            source=SCANNER_SOURCE,
            can_connect=lambda: True,
        )
        super().__init__(SCANNER_SOURCE, SCANNER_NAME, connector, True)

    def find_panel(self, address: str) -> BlockBlueLightEmulator | None:
        """Return the emulator answering at ``address``."""
        return self.panels.get(address.upper())

    def advertise(self, panel: BlockBlueLightEmulator) -> None:
        """One advertisement of ``panel``, as the proxy would forward it."""
        self._async_on_advertisement(
            panel.address,
            self.rssi,
            panel.name,
            panel.service_uuids,
            {},
            {},
            None,
            {"address_type": "public"},
            monotonic_time_coarse(),
        )
