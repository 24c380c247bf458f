"""Every kind of panel built from its stored settings, and every kind's LAN discovery.

The Home Assistant layer names a kind (its config entry's panel type) and hands over the
settings its entry stores; what classes stand behind a kind is this package's business. A
kind's code is imported only when a panel of that kind is built or its discovery listens: an
install without Wi-Fi panels never loads the Tuya code (setup time and memory).

A Bluetooth panel is not built here: it needs the Bluetooth device Home Assistant found, and
``panel_factory`` hands that to ``BlockBlueLightPanel`` itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from .base import Clock, Panel
from .link_policy import DEFAULT_LINK_POLICY, LinkPolicy

if TYPE_CHECKING:
    from .lan import DiscoveryCallback, LanListener

TUYA_KIND: Final = "tuya"
"""The kind of the Tuya Wi-Fi panels (Smart Life app); the entry's panel type."""

TUYA_PORT = 6668
"""The TCP port of a Wi-Fi panel (always 6668 on real ones; tests point it at an emulator)."""

TUYA_DISCOVERY_PORTS: Final = (6666, 6667, 7000)
"""The UDP ports Tuya devices broadcast on: 6666 plain (3.1), 6667 encrypted (3.3 and newer),
7000 (3.5 apps)."""

# The settings a Tuya panel's entry stores (the data-point map keeps its stored name).
HOST: Final = "host"
DEVICE_ID: Final = "device_id"
LOCAL_KEY: Final = "local_key"
VERSION: Final = "version"
DP_MAP: Final = "dp_profile"


class UnknownPanelKind(ValueError):
    """A kind of panel this version does not know."""


def build_panel(
    kind: str,
    settings: Mapping[str, Any],
    *,
    clock: Clock,
    link_policy: LinkPolicy = DEFAULT_LINK_POLICY,
) -> Panel:
    """Return the panel of ``kind`` that ``settings`` describe; UnknownPanelKind otherwise.

    ``link_policy`` is how an idle panel keeps its link (a panel that opens it per use has no
    choice to make).
    """
    if kind == TUYA_KIND:
        from .tuya import TuyaPanel  # noqa: PLC0415  (only when a Wi-Fi panel exists)

        return TuyaPanel(
            settings[HOST],
            settings[DEVICE_ID],
            settings[LOCAL_KEY],
            settings[VERSION],
            settings[DP_MAP],
            clock=clock,
            port=TUYA_PORT,
            link_policy=link_policy,
        )
    raise UnknownPanelKind(kind)


def set_link_policy(kind: str, panel: Panel, policy: LinkPolicy) -> bool:
    """Keep the panel's idle link as ``policy`` says, from now on (a running session goes on).

    Return whether that changed the panel's policy. Only a kind that can hold its link when idle
    has a choice to make; the others open their link to use it, and ignore it.
    """
    if kind == TUYA_KIND:
        from .tuya import TuyaPanel  # noqa: PLC0415  (only when a Wi-Fi panel exists)

        if isinstance(panel, TuyaPanel):  # pragma: no branch - a Tuya entry's panel is one
            changed = panel.link_policy is not policy
            panel.link_policy = policy
            return changed
    return False


def lan_listener(
    callback: DiscoveryCallback, *, ports: Iterable[int], host: str, clock: Clock
) -> LanListener:
    """Return a listener for the broadcasts of Wi-Fi panels on ``ports`` (not started yet).

    It calls ``callback`` the first time it hears a device, and again when the device's
    address or version changes or after ``forget``.
    """
    from .tuya import TuyaDiscovery  # noqa: PLC0415  (only when discovery listens)

    return TuyaDiscovery(callback, ports=ports, host=host, clock=clock)
