"""Base entity: one device per panel, names from translations."""

from __future__ import annotations

import functools
import inspect
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_MAC, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity
from propcache.api import cached_property

from .const import DOMAIN
from .coordinator import PanelCoordinator
from .models import RedLightTherapyData
from .panels.base import CONNECTION_BLUETOOTH, CONNECTION_MAC, Panel
from .protocol_manager import Run

LIGHT_KEY = "light"
"""The key of a panel's light, the entity its actions and Assist address."""


def entity_unique_id(entry: ConfigEntry, key: str) -> str:
    """Return the unique id of the panel entity ``key`` of ``entry``."""
    return f"{entry.unique_id or entry.entry_id}_{key}"


def light_entity_id(hass: HomeAssistant, entry: ConfigEntry) -> str | None:
    """Return the entity id of the panel's light, None while the light is not registered."""
    return er.async_get(hass).async_get_entity_id(
        Platform.LIGHT, DOMAIN, entity_unique_id(entry, LIGHT_KEY)
    )


def shown_protocol_run(data: RedLightTherapyData) -> Run:
    """Return the protocol run a panel's entities show, for its switch or Skip button.

    A translated refusal when there is none.
    """
    run = data.protocols.current
    if run is None:
        raise data.protocols.no_run_error()
    return run


_CACHED_PROPERTIES = (cached_property, functools.cached_property)


def _uncache_properties(cls: type) -> None:
    """Make the cached properties ``cls`` inherits from Home Assistant plain properties.

    Home Assistant caches each entity property in the instance's ``__dict__`` (about 25 of
    them per entity), which takes an entity past the 30 attributes CPython keeps inline in the
    object: its attributes then move to a dict of 1.9 KiB instead of about 0.3 KiB (some
    40 KiB per panel of 27 entities: DESIGN.md, setup cost). The values are the same: each is
    computed by Home Assistant's own getter, just not kept; they are cheap (an ``_attr_`` or
    the entity description), read at a state write.
    """
    if not any(klass.__module__.startswith("homeassistant.components.") for klass in cls.__mro__):
        # A base of the integration's entities, with no platform's entity class yet: its own
        # plain copies would hide the platform's properties (a sensor's state) from subclasses.
        return
    for klass in cls.__mro__:
        if not klass.__module__.startswith("homeassistant."):
            continue  # the integration's own cached properties stay cached
        for name, attr in vars(klass).items():
            # Only the one ``cls`` resolves to: not one a subclass overrides.
            if isinstance(attr, _CACHED_PROPERTIES) and inspect.getattr_static(cls, name) is attr:
                setattr(cls, name, property(attr.func))


class RedLightTherapyEntity(CoordinatorEntity[PanelCoordinator]):
    """An entity of one panel."""

    _attr_has_entity_name = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Make the cached properties a new entity class inherits plain ones."""
        super().__init_subclass__(**kwargs)
        _uncache_properties(cls)

    def __init__(self, data: RedLightTherapyData, key: str) -> None:
        """Make the entity ``key`` of the panel behind ``data``."""
        super().__init__(data.coordinator)
        self._data = data
        entry = data.coordinator.config_entry
        self._attr_unique_id = entity_unique_id(entry, key)
        if data.device_info is None:  # built once per panel, shared by its entities
            data.device_info = _device_info(entry, data.panel)
        self._attr_device_info = data.device_info
        self._link_is_availability = data.panel.link_is_availability

    @property
    def available(self) -> bool:
        """Whether the panel answers; a wrapped entity's own availability is the panel's."""
        # A wrapped entity is followed, not polled: its own availability is the panel's.
        return super().available and (
            not self._link_is_availability or self.coordinator.data.connected
        )


_CONNECTION_KINDS = {
    CONNECTION_BLUETOOTH: dr.CONNECTION_BLUETOOTH,
    CONNECTION_MAC: dr.CONNECTION_NETWORK_MAC,
}
"""The panel layer's connection kinds, as the device registry names them."""


class RedLightDescribedEntity[D: EntityDescription](RedLightTherapyEntity):
    """An entity of one panel that is what its description says.

    The description's key is the unique id's suffix (and its translation key); a platform's
    entity class reads what it shows or does from its own kind of description (``D``).
    """

    entity_description: D

    def __init__(self, data: RedLightTherapyData, description: D) -> None:
        """Make the entity ``description`` describes, of the panel behind ``data``."""
        super().__init__(data, description.key)
        self.entity_description = description


def _device_info(entry: ConfigEntry, panel: Panel) -> DeviceInfo:
    """Return the panel's device.

    Its identity, the name the user gave it, and the MAC learnt for a network panel (DHCP follows it
    by that; the panel itself cannot tell it).
    """
    identity = panel.identity
    connections = {(_CONNECTION_KINDS[kind], value) for kind, value in identity.connections}
    if mac := entry.data.get(CONF_MAC):
        connections.add((dr.CONNECTION_NETWORK_MAC, mac))
    return DeviceInfo(
        identifiers={(DOMAIN, entry.unique_id or entry.entry_id)},
        connections=connections,
        manufacturer=identity.manufacturer,
        model=identity.model,
        sw_version=identity.firmware,
        name=entry.title,
    )
