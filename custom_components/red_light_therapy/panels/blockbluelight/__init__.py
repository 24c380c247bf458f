"""BlockBlueLight red/NIR panels over Bluetooth LE: codec, driver and emulator."""

from __future__ import annotations

from .codec import Frame, FrameDecoder, FrameError, Status
from .const import (
    DEFAULT_WAVELENGTHS_NM,
    LOCAL_NAME_PREFIX,
    NOTIFY_CHAR,
    SERVICE_UUID,
    WRITE_CHAR,
    local_name,
)
from .driver import BlockBlueLightPanel, ClientFactory
from .emulator import (
    BlockBlueLightEmulator,
    EmissionSegment,
    EmulatedBleakClient,
    make_ble_device,
)

__all__ = [
    "DEFAULT_WAVELENGTHS_NM",
    "LOCAL_NAME_PREFIX",
    "NOTIFY_CHAR",
    "SERVICE_UUID",
    "WRITE_CHAR",
    "BlockBlueLightEmulator",
    "BlockBlueLightPanel",
    "ClientFactory",
    "EmissionSegment",
    "EmulatedBleakClient",
    "Frame",
    "FrameDecoder",
    "FrameError",
    "Status",
    "local_name",
    "make_ble_device",
]
