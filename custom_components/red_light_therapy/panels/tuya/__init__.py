"""Tuya Wi-Fi panels (Smart Life / Tuya app) over the local protocol 3.3, 3.4 and 3.5.

The emulator is not imported here (it is test and demo tooling, and runs as a script):
``from .emulator import TuyaEmulator``.
"""

from __future__ import annotations

from .discovery import DEFAULT_PORTS, DiscoveredDevice, TuyaDiscovery, parse_broadcast
from .driver import DEFAULT_PORT, TuyaPanel
from .errors import TuyaAuthError
from .profiles import PROFILES, ChannelDp, DpProfile, get_profile, load_profiles, profile_from_dict
from .protocol import TuyaIntegrityError, TuyaProtocolError, Version, parse_version

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_PORTS",
    "PROFILES",
    "ChannelDp",
    "DiscoveredDevice",
    "DpProfile",
    "TuyaAuthError",
    "TuyaDiscovery",
    "TuyaIntegrityError",
    "TuyaPanel",
    "TuyaProtocolError",
    "Version",
    "get_profile",
    "load_profiles",
    "parse_broadcast",
    "parse_version",
    "profile_from_dict",
]
