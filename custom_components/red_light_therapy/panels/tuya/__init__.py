"""Tuya Wi-Fi panels (Smart Life / Tuya app) over the local protocol 3.3, 3.4 and 3.5.

The emulator is not imported here (it is test and demo tooling, and runs as a script):
``from .emulator import TuyaEmulator``.
"""

from __future__ import annotations

from ..lan import DiscoveredDevice
from .discovery import DEFAULT_PORTS, TuyaDiscovery, parse_broadcast
from .dp_maps import DP_MAPS, ChannelDp, DpMap, dp_map_from_dict, get_dp_map, load_dp_maps
from .driver import DEFAULT_PORT, TuyaPanel
from .errors import TuyaAuthError
from .protocol import TuyaIntegrityError, TuyaProtocolError, Version, parse_version

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_PORTS",
    "DP_MAPS",
    "ChannelDp",
    "DiscoveredDevice",
    "DpMap",
    "TuyaAuthError",
    "TuyaDiscovery",
    "TuyaIntegrityError",
    "TuyaPanel",
    "TuyaProtocolError",
    "Version",
    "dp_map_from_dict",
    "get_dp_map",
    "load_dp_maps",
    "parse_broadcast",
    "parse_version",
]
