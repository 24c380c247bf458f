"""The types every module of the glue shares: a panel's runtime data and its config entry.

They live here, apart from ``__init__``, so that the coordinator, the services, Assist and
the platforms import them at run time without importing the integration's setup. This is
the one module that names the managers only for the type checker: they import the
coordinator, which imports the entry type from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry
from homeassistant.helpers.device_registry import DeviceInfo

from .panels.base import Panel

if TYPE_CHECKING:
    from .coordinator import PanelCoordinator
    from .protocol_manager import ProtocolManager
    from .session_manager import SessionManager


@dataclass(slots=True)
class RedLightTherapyData:
    """What one configured panel needs at run time."""

    panel: Panel
    coordinator: PanelCoordinator
    sessions: SessionManager
    protocols: ProtocolManager
    device_info: DeviceInfo | None = None
    """The panel's device, built by its first entity and shared by the others."""


type RedLightTherapyConfigEntry = ConfigEntry[RedLightTherapyData]
