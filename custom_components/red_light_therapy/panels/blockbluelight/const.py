"""BlockBlueLight constants: advertising and GATT."""

from __future__ import annotations

from typing import Final

MANUFACTURER: Final = "BlockBlueLight"
MODEL: Final = "Red light therapy panel"
"""The panel does not tell its model: every BlockBlueLight panel is this one."""

LOCAL_NAME_PREFIX: Final = "BLOCK"
"""Advertised local name: ``BLOCK`` + the 12 hex digits of the MAC, e.g. BLOCK3CAB725EF522."""

SERVICE_UUID: Final = "0000fff0-0000-1000-8000-00805f9b34fb"
"""Generic vendor service: never match a device on it alone."""

NOTIFY_CHAR: Final = "0000fff1-0000-1000-8000-00805f9b34fb"
"""The panel notifies on FFF1 (the reverse of the usual FFF1-write convention)."""

WRITE_CHAR: Final = "0000fff2-0000-1000-8000-00805f9b34fb"
"""The host writes commands, without response, to FFF2."""

DEFAULT_WAVELENGTHS_NM: Final = (630, 660, 810, 830, 850)
"""Assumed wavelengths of the five channels: the app shows five LED channels but the vendor
does not publish which wavelength each one drives. Override per panel model."""


def local_name(address: str) -> str:
    """Return the name a panel with this MAC address advertises."""
    return LOCAL_NAME_PREFIX + address.replace(":", "").replace("-", "").upper()
