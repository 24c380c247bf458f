"""A bleak backend client whose radio is the in-memory BlockBlueLight emulator.

Home Assistant's Bluetooth stack picks the backend of the scanner that saw the device
(``HaBluetoothConnector.client``), exactly as it picks an ESPHome proxy's client, and wraps it
in ``bleak.BleakClient``. So the integration's ``establish_connection(...)``,
``start_notify(FFF1)`` and ``write_gatt_char(FFF2)`` run the same code as with hardware; only
the bottom layer, the radio, is this class.

Works with the bleak 0.22 backend API that Home Assistant 2025.4 pins and with bleak >= 1 (the
newest Home Assistant): where the two differ, it follows what the installed bleak offers.
"""

from __future__ import annotations

from collections.abc import Buffer, Callable
import inspect
import logging
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError

from custom_components.red_light_therapy.panels.blockbluelight.const import (
    NOTIFY_CHAR,
    SERVICE_UUID,
    WRITE_CHAR,
)

if TYPE_CHECKING:
    from custom_components.red_light_therapy.panels.blockbluelight.emulator import (
        BlockBlueLightEmulator,
        EmulatedBleakClient,
    )

_LOGGER = logging.getLogger(__name__)

ATT_DEFAULT_MTU = 23
SERVICE_HANDLE = 0x000C
NOTIFY_HANDLE = 0x000E
WRITE_HANDLE = 0x0011


def _max_write_without_response() -> int:
    return ATT_DEFAULT_MTU - 3


def _init_takes(cls: type, parameter: str) -> bool:
    """Whether ``cls.__init__`` has ``parameter`` (what the installed bleak offers)."""
    return parameter in inspect.signature(cls).parameters


GATT_OBJECTS_CARRY_IDENTITY = _init_takes(BleakGATTService, "handle")
"""bleak >= 1: services and characteristics are concrete classes built from their handle, UUID
(and a characteristic's properties and service); bleak 0.22: abstract, with only the platform
object (and the write size), each backend providing the rest as properties."""


class SimulatedService(BleakGATTService):
    """The panel's vendor service FFF0."""

    def __init__(self, uuid_: str, handle: int) -> None:
        """Make the service ``uuid_`` at ``handle``, with no characteristics yet."""
        base_init: Callable[..., None] = super().__init__
        if GATT_OBJECTS_CARRY_IDENTITY:
            base_init(None, handle, uuid_)
        else:
            base_init(None)
        self._uuid = uuid_
        self._handle = handle
        # A dict keyed by handle, as bleak >= 1 keeps it (its get_characteristic reads it).
        self._characteristics: dict[int, BleakGATTCharacteristic] = {}

    @property
    def handle(self) -> int:
        """The service's handle."""
        return self._handle

    @property
    def uuid(self) -> str:
        """The service's UUID."""
        return self._uuid

    @property
    def characteristics(self) -> list[BleakGATTCharacteristic]:
        """The service's characteristics."""
        return list(self._characteristics.values())

    def add_characteristic(self, characteristic: BleakGATTCharacteristic) -> None:
        """Add ``characteristic`` to the service."""
        self._characteristics[characteristic.handle] = characteristic


class SimulatedCharacteristic(BleakGATTCharacteristic):
    """FFF1 (notify) or FFF2 (write without response)."""

    def __init__(
        self, service: SimulatedService, uuid_: str, handle: int, properties: list[str]
    ) -> None:
        """Make the characteristic ``uuid_`` of ``service`` at ``handle``, with ``properties``."""
        base_init: Callable[..., None] = super().__init__
        if GATT_OBJECTS_CARRY_IDENTITY:
            base_init(None, handle, uuid_, properties, _max_write_without_response, service)
        else:
            base_init(None, _max_write_without_response)
        self._service = service
        self._uuid = uuid_
        self._handle = handle
        self._properties = properties

    @property
    def service_uuid(self) -> str:
        """The UUID of the characteristic's service."""
        return self._service.uuid

    @property
    def service_handle(self) -> int:
        """The handle of the characteristic's service."""
        return self._service.handle

    @property
    def handle(self) -> int:
        """The characteristic's handle."""
        return self._handle

    @property
    def uuid(self) -> str:
        """The characteristic's UUID."""
        return self._uuid

    @property
    def properties(self) -> list[str]:
        """What the characteristic allows ("write", "notify", ...)."""
        return self._properties

    @property
    def descriptors(self) -> list[BleakGATTDescriptor]:
        """None: the panel has no descriptors."""
        return []

    def get_descriptor(self, specifier: int | str | UUID) -> BleakGATTDescriptor | None:
        """Return None: the panel has no descriptors."""
        return None

    def add_descriptor(self, descriptor: BleakGATTDescriptor) -> None:
        """Refuse: the simulated panel has no descriptors."""
        raise NotImplementedError("the simulated panel has no descriptors")


def panel_services() -> BleakGATTServiceCollection:
    """Return the GATT table a BlockBlueLight panel presents (what service discovery finds)."""
    collection = BleakGATTServiceCollection()
    service = SimulatedService(SERVICE_UUID, SERVICE_HANDLE)
    collection.add_service(service)
    collection.add_characteristic(
        SimulatedCharacteristic(service, NOTIFY_CHAR, NOTIFY_HANDLE, ["notify"])
    )
    collection.add_characteristic(
        SimulatedCharacteristic(service, WRITE_CHAR, WRITE_HANDLE, ["write-without-response"])
    )
    return collection


PanelLookup = Callable[[str], "BlockBlueLightEmulator | None"]


class SimulatedBleakClient(BaseBleakClient):
    """A bleak backend connected over the emulator instead of a radio.

    ``find_panel`` is bound per scanner by ``client_class_for`` (Home Assistant instantiates
    the connector's class with only the BLEDevice and keyword arguments).
    """

    find_panel: ClassVar[PanelLookup]

    def __init__(self, address_or_ble_device: BLEDevice | str, **kwargs: Any) -> None:
        """Make a client for the panel at ``address_or_ble_device``; it links on connect."""
        super().__init__(address_or_ble_device, **kwargs)
        self._link: EmulatedBleakClient | None = None

    @property
    def name(self) -> str:
        """The panel's name (bleak >= 1 asks the backend; bleak 0.22 never does)."""
        panel = type(self).find_panel(self.address)
        return self.address if panel is None else panel.name

    @property
    def mtu_size(self) -> int:
        """The default ATT MTU."""
        return ATT_DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        """Whether the link to the emulated panel is up."""
        return self._link is not None and self._link.is_connected

    async def connect(self, *_args: Any, **kwargs: Any) -> bool:
        """Link to the emulated panel; ``BleakError`` when no simulated panel has the address."""
        # bleak >= 1 passes ``pair`` positionally and ignores the result; bleak 0.22 wants True.
        if self.is_connected:
            return True
        panel = type(self).find_panel(self.address)
        if panel is None:
            raise BleakError(f"Device with address {self.address} was not found")
        self._link = await panel.connect(disconnected_callback=self._link_ended)
        self.services = panel_services()
        _LOGGER.debug("%s: connected over the simulated radio", panel.name)
        return True

    async def disconnect(self) -> bool:
        """End the link, if there is one."""
        link = self._link
        if link is not None:
            await link.disconnect()
        return True

    def _link_ended(self, link: EmulatedBleakClient) -> None:
        if link is not self._link:
            return
        _LOGGER.debug("%s: simulated link ended", self.address)
        callback: Callable[[], None] | None = self._disconnected_callback
        if callback is not None:
            callback()

    async def pair(self, *args: Any, **kwargs: Any) -> bool:
        """Succeed: the panel has no pairing."""
        return True  # the panel has no pairing

    async def unpair(self) -> bool:
        """Succeed: the panel has no pairing."""
        return True

    async def get_services(self, **kwargs: Any) -> BleakGATTServiceCollection:
        """Return the panel's services; ``BleakError`` while not connected."""
        if self.services is None:
            raise BleakError("Not connected")
        return self.services

    async def read_gatt_char(
        self, char_specifier: BleakGATTCharacteristic | int | str | UUID, **kwargs: Any
    ) -> bytearray:
        """Refuse: the panel has no readable characteristic."""
        raise BleakError("The panel has no readable characteristic")

    async def read_gatt_descriptor(
        self, handle: BleakGATTDescriptor | int, **kwargs: Any
    ) -> bytearray:
        """Refuse: the panel has no descriptors."""
        # bleak 0.22 passes the handle, bleak >= 1 the descriptor; the panel has none either way.
        raise BleakError(f"Descriptor {getattr(handle, 'handle', handle)} was not found")

    async def write_gatt_char(
        self,
        characteristic: BleakGATTCharacteristic,
        data: Buffer,
        response: bool,
    ) -> None:
        """Write ``data`` to the emulated panel's characteristic."""
        await self._connected_link().write_gatt_char(characteristic.uuid, bytes(data), response)

    async def write_gatt_descriptor(self, handle: BleakGATTDescriptor | int, data: Buffer) -> None:
        """Refuse: the panel has no descriptors."""
        raise BleakError(f"Descriptor {getattr(handle, 'handle', handle)} was not found")

    async def start_notify(
        self,
        characteristic: BleakGATTCharacteristic,
        callback: Callable[[bytearray], None],
        **kwargs: Any,
    ) -> None:
        """Send the panel's notifications of ``characteristic`` to ``callback``."""

        def deliver(_sender: object, data: bytearray) -> None:
            callback(data)

        await self._connected_link().start_notify(characteristic.uuid, deliver)

    async def stop_notify(self, char_specifier: BleakGATTCharacteristic | int | str | UUID) -> None:
        """Stop the panel's notifications."""
        specifier = getattr(char_specifier, "uuid", char_specifier)
        await self._connected_link().stop_notify(specifier)

    def _connected_link(self) -> EmulatedBleakClient:
        if self._link is None or not self._link.is_connected:
            raise BleakError("Not connected")
        return self._link


def client_class_for(find_panel: PanelLookup) -> type[SimulatedBleakClient]:
    """Return a backend class bound to one simulator's panels."""
    return type(
        "BoundSimulatedBleakClient",
        (SimulatedBleakClient,),
        {"find_panel": staticmethod(find_panel), "__module__": __name__},
    )
