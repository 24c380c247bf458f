"""Build the Panel of a config entry, whatever kind of device it is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.components import bluetooth
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_ADDRESS, CONF_ENTITY_ID
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryError, ConfigEntryNotReady
from homeassistant.util import dt as dt_util

from .const import (
    CONF_LINK_POLICY,
    CONF_PANEL_TYPE,
    CONF_PROFILE,
    DOMAIN,
    PANEL_TYPE_BLOCKBLUELIGHT,
    PANEL_TYPE_ENTITY,
)
from .panels import registry
from .panels.base import Panel
from .panels.blockbluelight import BlockBlueLightPanel
from .panels.link_policy import DEFAULT_LINK_POLICY, LinkPolicy
from .therapy import IrradianceProfile, blockbluelight_profile
from .wrapped import EntityPanel


def clock() -> float:
    """Return the integration's clock for the device layer: Home Assistant's UTC now."""
    return dt_util.utcnow().timestamp()


def create_panel(hass: HomeAssistant, entry: ConfigEntry) -> Panel:
    """Return the panel of ``entry``; raises ConfigEntryNotReady when it cannot be reached yet.

    A kind of panel this version does not know raises ConfigEntryError: no retry can help.
    """
    panel_type = entry.data.get(CONF_PANEL_TYPE, PANEL_TYPE_BLOCKBLUELIGHT)
    if panel_type == PANEL_TYPE_BLOCKBLUELIGHT:
        return _create_blockbluelight(hass, entry)
    if panel_type == PANEL_TYPE_ENTITY:
        return _create_entity_panel(hass, entry)
    try:
        return build_panel(str(panel_type), entry.data, link_policy=link_policy(entry))
    except registry.UnknownPanelKind:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="unknown_panel_type",
            translation_placeholders={"panel_type": str(panel_type)},
        ) from None


def build_panel(
    kind: str, settings: Mapping[str, Any], *, link_policy: LinkPolicy = DEFAULT_LINK_POLICY
) -> Panel:
    """Return the panel of a kind built from its settings alone, on the integration's clock.

    The config flow tests a connection with the same panel its entry will have.
    """
    return registry.build_panel(kind, settings, clock=clock, link_policy=link_policy)


def link_policy(entry: ConfigEntry) -> LinkPolicy:
    """How the entry's Wi-Fi panel keeps its link: the user's option, else the default."""
    return LinkPolicy(entry.options.get(CONF_LINK_POLICY, DEFAULT_LINK_POLICY))


def apply_link_policy(panel: Panel, entry: ConfigEntry) -> bool:
    """Give a Wi-Fi panel the link policy the entry's options now hold.

    At once: no reload, and a running session goes on. A panel that opens its link only to
    use it ignores it. Return whether the panel's policy changed.
    """
    kind = str(entry.data.get(CONF_PANEL_TYPE, PANEL_TYPE_BLOCKBLUELIGHT))
    return registry.set_link_policy(kind, panel, link_policy(entry))


def entry_profile(entry: ConfigEntry) -> IrradianceProfile:
    """Return the entry's irradiance profile, as chosen or measured in the flow.

    BlockBlueLight entries have none (the panel's own default profile), nor have Tuya entries
    created before the flow asked for one: they keep that default too.
    """
    if CONF_PROFILE in entry.data:
        return IrradianceProfile.from_dict(entry.data[CONF_PROFILE])
    return blockbluelight_profile()


def _create_entity_panel(hass: HomeAssistant, entry: ConfigEntry) -> Panel:
    """Return a wrapped light or switch.

    Not ready until its entity exists (its integration loads).
    """
    entity_id: str = entry.data[CONF_ENTITY_ID]
    if hass.states.get(entity_id) is None:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="wrapped_entity_not_found",
            translation_placeholders={"entity_id": entity_id},
        )
    return EntityPanel(hass, entity_id, clock=clock)


def _create_blockbluelight(hass: HomeAssistant, entry: ConfigEntry) -> Panel:
    address: str = entry.data[CONF_ADDRESS]
    ble_device = bluetooth.async_ble_device_from_address(hass, address, connectable=True)
    if ble_device is None:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="device_not_found",
            translation_placeholders={"address": address},
        )
    panel = BlockBlueLightPanel(ble_device, clock=clock)

    @callback
    def _async_advertisement(
        service_info: bluetooth.BluetoothServiceInfoBleak, _change: bluetooth.BluetoothChange
    ) -> None:
        """Keep the freshest route to the panel (local adapter or a Bluetooth proxy)."""
        panel.set_ble_device(service_info.device)

    entry.async_on_unload(
        bluetooth.async_register_callback(
            hass,
            _async_advertisement,
            bluetooth.BluetoothCallbackMatcher(address=address, connectable=True),
            bluetooth.BluetoothScanningMode.PASSIVE,
        )
    )
    return panel
