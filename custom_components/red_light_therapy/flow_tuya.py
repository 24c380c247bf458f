"""Config flow steps for Tuya Wi-Fi panels (LAN discovery, manual address, local key).

Three ways in. The ``tuya`` menu step scans the LAN: it starts the integration's shared UDP
listener when it does not run yet (a first install has no entry, so no ``async_setup``) and
shows progress until the listener has heard broadcasts for ``discovery.SCAN_S``; ``tuya_pick``
then lists the devices heard that are not set up, plus entering the address by hand. Nothing
heard, or no listener (ports taken, discovery off): ``tuya_manual`` (address, device id, local
key, protocol version or "auto", data-point map, optional MAC) directly. A picked device,
and ``integration_discovery`` (the listener heard a device on its own), know id, address and
version, so ``tuya_key`` only asks the key, data-point map and MAC. All test the connection
first: TCP reachability, then a status read with the key. Then ``tuya_profile`` /
``tuya_measured`` (the shared steps of ``flow_profile.py``) ask for the irradiance profile, and
the entry is created.
The unique id is the device id; a known device heard at a new address moves its entry.

An entry's panel that refuses its key starts ``reauth`` (a new key, tested the same way);
``tuya_reconfigure`` changes address, key, version, data-point map and MAC of the same
device; ``dhcp`` follows a registered panel (matched by the MAC in its entry) to a new address
and never creates an entry (the key is needed for that).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
import contextlib
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState, ConfigFlowResult
from homeassistant.const import CONF_HOST, CONF_MAC
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.dhcp import DhcpServiceInfo
from homeassistant.helpers.typing import DiscoveryInfoType
import voluptuous as vol

from . import discovery
from .const import (
    CONF_DEVICE_ID,
    CONF_DP_MAP,
    CONF_LOCAL_KEY,
    CONF_PANEL_TYPE,
    CONF_PROFILE,
    CONF_VERSION,
    DOMAIN,
    PANEL_TYPE_TUYA,
    TUYA_VERSION_AUTO,
    TUYA_VERSIONS,
)
from .discovery import discovered_version
from .flow_profile import ProfileFlowMixin
from .neighbours import normalise_mac
from .panel_factory import create_tuya_panel
from .panels.base import PanelAuthError, PanelError, PanelTimeoutError
from .therapy import IrradianceProfile

if TYPE_CHECKING:
    from .panels.tuya.dp_maps import DpMap

# How long the reachability check waits for the device to accept a TCP connection.
CONNECT_TIMEOUT_S = 5.0

DEFAULT_DP_MAP = "generic_light"

# How to get the local key, shown in both steps (facts only; README says the same).
LOCAL_KEY_HELP = (
    "https://iot.tuya.com",
    "https://github.com/jasonacox/tinytuya#setup-wizard---getting-local-keys",
)


def _title(device_id: str) -> str:
    return f"Tuya panel {device_id[-4:]}"


def dp_map_label(dp_map: DpMap) -> str:
    """Return a data-point map as a person reads it.

    What the device is and what the panel controls of it ("Dimmable Wi-Fi light panel: on and off,
    brightness, and its own timer"), not its key and data-point numbers.
    """
    controls = ["on and off"]
    if len(dp_map.channels) == 1:
        controls.append("brightness")
    elif dp_map.channels:
        controls.append(f"{len(dp_map.channels)} dimmable channels")
    if dp_map.countdown_dp is not None:
        controls.append("its own timer")
    words = ", ".join(controls[:-1]) + f" and {controls[-1]}" if len(controls) > 1 else controls[0]
    return f"{dp_map.display_name}: {words}"


def _dp_map_selector() -> SelectSelector:
    """Return the built-in data-point maps (examples left out), labelled in words.

    Translated where strings.json has the map's key (``selector.dp_profile``), else the label.
    """
    from .panels.tuya import DP_MAPS  # noqa: PLC0415  (the Tuya code, when adding one)

    options = [
        SelectOptionDict(value=name, label=dp_map_label(dp_map))
        for name, dp_map in DP_MAPS.items()
        if not dp_map.example
    ]
    return SelectSelector(
        SelectSelectorConfig(
            options=options, translation_key="dp_profile", mode=SelectSelectorMode.LIST
        )
    )


def _version_selector() -> SelectSelector:
    """Automatic (translated) or a protocol version, labelled with its number.

    Translation keys cannot contain dots, so only "auto" is translated; the frontend shows an
    option's label where its key has no translation.
    """
    return SelectSelector(
        SelectSelectorConfig(
            options=[
                SelectOptionDict(value=TUYA_VERSION_AUTO, label=TUYA_VERSION_AUTO),
                *(SelectOptionDict(value=v, label=v) for v in TUYA_VERSIONS),
            ],
            translation_key="tuya_version",
            mode=SelectSelectorMode.DROPDOWN,
        )
    )


_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))

# The pick list's choice that leads to the manual form (device ids never look like this).
PICK_MANUAL = "manual"


async def _async_reachable(host: str, port: int) -> bool:
    """Whether the device accepts a TCP connection at all (then closes it)."""
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            _reader, writer = await asyncio.open_connection(host, port)
    except OSError:  # refused, no route, and TimeoutError
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def async_test_tuya(
    host: str, device_id: str, local_key: str, versions: Sequence[str], dp_map: str
) -> tuple[str | None, str]:
    """Try each version: ``(None, version)`` on success, else ``(error key, "")``.

    ``cannot_connect``: nothing accepts a connection at the address, or the device closes the
    link without an answer (busy with another client) for every version tried.
    ``invalid_auth``: the device proved the key wrong (every version tried).
    ``invalid_auth_or_busy``: connected but no answer in time, what a device does with a wrong
    key or while another client holds it.
    """
    panel = create_tuya_panel(host, device_id, local_key, versions[0], dp_map)
    if not await _async_reachable(host, panel.port):
        return "cannot_connect", ""
    errors: set[str] = set()
    for version in versions:
        panel = create_tuya_panel(host, device_id, local_key, version, dp_map)
        try:
            await panel.connect()
            await panel.update()
        except PanelAuthError:
            errors.add("invalid_auth")
        except PanelTimeoutError:
            errors.add("invalid_auth_or_busy")
        except PanelError:  # closed without an answer: busy (or a version it does not speak)
            errors.add("cannot_connect")
        else:
            return None, version
        finally:
            await panel.disconnect()
    if errors == {"invalid_auth"}:
        return "invalid_auth", ""
    if errors == {"cannot_connect"}:
        return "cannot_connect", ""
    return "invalid_auth_or_busy", ""


def _valid_key(key: str) -> bool:
    from .panels.tuya import protocol  # noqa: PLC0415  (the Tuya code, when adding one)

    try:
        protocol.key_bytes(key)
    except ValueError:
        return False
    return True


class TuyaFlowMixin(ProfileFlowMixin):
    """Steps mixed into the integration's config flow."""

    MENU: tuple[str, ...] = ("tuya",)
    """The steps this kind adds to the user menu."""

    _tuya_discovered: dict[str, str] | None = None
    _tuya_entry: dict[str, Any] | None = None
    """The tested connection data, waiting for the irradiance profile."""

    # Setup ---------------------------------------------------------------------------------

    _tuya_scan: asyncio.Task[None] | None = None

    async def async_step_tuya(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Scan the LAN for Tuya broadcasts (progress), then list what was heard."""
        if self._tuya_scan is None:
            wait = await discovery.async_scan_wait(self.hass)
            if wait is None:  # discovery is off
                return await self.async_step_tuya_manual()
            if wait <= 0:  # the shared listener has heard the LAN long enough already
                return await self.async_step_tuya_pick()
            self._tuya_scan = self.hass.async_create_task(
                asyncio.sleep(wait), f"{DOMAIN} Tuya scan", eager_start=False
            )
        if not self._tuya_scan.done():
            return self.async_show_progress(
                progress_action="tuya_scan",
                progress_task=self._tuya_scan,
                description_placeholders={"seconds": f"{discovery.SCAN_S:g}"},
            )
        return self.async_show_progress_done(next_step_id="tuya_pick")

    async def async_step_tuya_pick(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer the devices the scan heard that are not set up, or the address by hand."""
        heard = {
            device.device_id: device
            for device in discovery.heard_devices(self.hass)
            if device.version in TUYA_VERSIONS
        }
        if user_input is not None:
            if (device := heard.get(user_input[CONF_DEVICE_ID])) is None:
                return await self.async_step_tuya_manual()  # "by hand"
            await self.async_set_unique_id(device.device_id, raise_on_progress=False)
            self._abort_if_unique_id_configured()  # set up meanwhile
            self._tuya_discovered = {
                CONF_DEVICE_ID: device.device_id,
                CONF_HOST: device.ip,
                CONF_VERSION: device.version,
            }
            self.context["title_placeholders"] = {"name": _title(device.device_id)}
            return await self.async_step_tuya_key()
        configured = self._async_current_ids(include_ignore=False)
        new = [device for device in heard.values() if device.device_id not in configured]
        if not new:
            return await self.async_step_tuya_manual()
        options = [
            SelectOptionDict(
                value=device.device_id,
                label=f"{_title(device.device_id)} at {device.ip} "
                f"(ID {device.device_id}, protocol {device.version})",
            )
            for device in new
        ]
        options.append(SelectOptionDict(value=PICK_MANUAL, label="Enter the address by hand"))
        selector = SelectSelector(
            SelectSelectorConfig(
                options=options, translation_key="tuya_pick", mode=SelectSelectorMode.LIST
            )
        )
        return self.async_show_form(
            step_id="tuya_pick",
            data_schema=vol.Schema({vol.Required(CONF_DEVICE_ID): selector}),
            description_placeholders={"count": str(len(new))},
        )

    async def async_step_tuya_manual(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a Tuya panel by address, device id and local key."""
        errors: dict[str, str] = {}
        if user_input is not None:
            device_id = user_input[CONF_DEVICE_ID].strip()
            await self.async_set_unique_id(device_id, raise_on_progress=False)
            self._abort_if_unique_id_configured()
            data = await self._async_check(
                {**user_input, CONF_DEVICE_ID: device_id},
                self._versions(device_id, user_input[CONF_VERSION]),
                errors,
            )
            if data is not None:
                return await self._async_profile_next(data)

        schema = vol.Schema(
            {
                vol.Required(CONF_HOST): str,
                vol.Required(CONF_DEVICE_ID): str,
                vol.Required(CONF_LOCAL_KEY): _PASSWORD,
                vol.Required(CONF_VERSION, default=TUYA_VERSION_AUTO): _version_selector(),
                vol.Required(CONF_DP_MAP, default=DEFAULT_DP_MAP): _dp_map_selector(),
                vol.Optional(CONF_MAC): str,
            }
        )
        if user_input is not None:
            schema = self.add_suggested_values_to_schema(
                schema, {k: v for k, v in user_input.items() if k != CONF_LOCAL_KEY}
            )
        return self.async_show_form(
            step_id="tuya_manual",
            data_schema=schema,
            errors=errors,
            description_placeholders=_help_placeholders(),
        )

    async def async_step_integration_discovery(
        self, discovery_info: DiscoveryInfoType
    ) -> ConfigFlowResult:
        """Offer a Tuya device the integration's UDP listener heard."""
        device_id = str(discovery_info[CONF_DEVICE_ID])
        host = str(discovery_info[CONF_HOST])
        version = str(discovery_info[CONF_VERSION])
        if version not in TUYA_VERSIONS:  # before the address update: apply nothing
            return self.async_abort(
                reason="unsupported_version", description_placeholders={"version": version}
            )
        await self.async_set_unique_id(device_id)
        self._abort_if_unique_id_configured(updates={CONF_HOST: host})
        self._tuya_discovered = {CONF_DEVICE_ID: device_id, CONF_HOST: host, CONF_VERSION: version}
        self.context["title_placeholders"] = {"name": _title(device_id)}
        return await self.async_step_tuya_key()

    async def async_step_tuya_key(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask a discovered device's local key, data-point map and MAC."""
        found = self._tuya_discovered
        assert found is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            data = await self._async_check(
                {**user_input, CONF_HOST: found[CONF_HOST], CONF_DEVICE_ID: found[CONF_DEVICE_ID]},
                [found[CONF_VERSION]],
                errors,
            )
            if data is not None:
                return await self._async_profile_next(data)
        schema = vol.Schema(
            {
                vol.Required(CONF_LOCAL_KEY): _PASSWORD,
                vol.Required(CONF_DP_MAP, default=DEFAULT_DP_MAP): _dp_map_selector(),
                vol.Optional(CONF_MAC): str,
            }
        )
        return self.async_show_form(
            step_id="tuya_key",
            data_schema=schema,
            errors=errors,
            description_placeholders={
                "name": _title(found[CONF_DEVICE_ID]),
                **found,
                **_help_placeholders(),
            },
        )

    async def _async_profile_next(self, data: dict[str, Any]) -> ConfigFlowResult:
        self._tuya_entry = data
        return await self.async_step_tuya_profile()

    async def async_step_tuya_profile(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask how bright the panel is (a preset, or measured points), now the connection works."""
        return await self._async_profile_step(
            "tuya_profile",
            user_input,
            title=self._tuya_title,
            measured=self.async_step_tuya_measured,
            chosen=self._create_tuya,
        )

    async def async_step_tuya_measured(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Enter 1-4 measured points and the red share."""
        return await self._async_measured_step(
            "tuya_measured", user_input, title=self._tuya_title, chosen=self._create_tuya
        )

    @property
    def _tuya_title(self) -> str:
        assert self._tuya_entry is not None
        return _title(self._tuya_entry[CONF_DEVICE_ID])

    def _create_tuya(self, profile: IrradianceProfile) -> ConfigFlowResult:
        assert self._tuya_entry is not None
        return self.async_create_entry(
            title=self._tuya_title,
            data={**self._tuya_entry, CONF_PROFILE: profile.to_dict()},
        )

    # An entry's panel refused its key ----------------------------------------------------------

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Ask for a new local key: the panel of an entry no longer accepts its own."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask the new local key and test it against the panel."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            await _async_release_link(entry)
            data = await self._async_check(
                {**entry.data, CONF_LOCAL_KEY: user_input[CONF_LOCAL_KEY]},
                [entry.data[CONF_VERSION]],
                errors,
            )
            if data is not None:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_LOCAL_KEY: data[CONF_LOCAL_KEY]}
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Required(CONF_LOCAL_KEY): _PASSWORD}),
            errors=errors,
            description_placeholders={
                "name": entry.title,
                CONF_HOST: entry.data[CONF_HOST],
                **_help_placeholders(),
            },
        )

    # Change how an entry's panel is reached ----------------------------------------------------

    async def async_step_tuya_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Address, key (empty: keep it), version, data-point map and MAC of the panel."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            device_id = user_input[CONF_DEVICE_ID].strip()
            await self.async_set_unique_id(device_id, raise_on_progress=False)
            self._abort_if_unique_id_mismatch()
            await _async_release_link(entry)
            data = await self._async_check(
                {
                    **user_input,
                    CONF_DEVICE_ID: device_id,
                    CONF_LOCAL_KEY: user_input.get(CONF_LOCAL_KEY) or entry.data[CONF_LOCAL_KEY],
                },
                self._versions(device_id, user_input[CONF_VERSION]),
                errors,
            )
            if data is not None:
                self._forget_old_mac(entry, data.get(CONF_MAC))
                kept = {k: v for k, v in entry.data.items() if k != CONF_MAC}
                return self.async_update_reload_and_abort(entry, data=kept | data)

        schema = vol.Schema(
            {
                vol.Required(CONF_HOST): str,
                vol.Required(CONF_DEVICE_ID): str,
                vol.Optional(CONF_LOCAL_KEY): _PASSWORD,
                vol.Required(CONF_VERSION): _version_selector(),
                vol.Required(CONF_DP_MAP): _dp_map_selector(),
                vol.Optional(CONF_MAC): str,
            }
        )
        shown = user_input if user_input is not None else entry.data
        return self.async_show_form(
            step_id="tuya_reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                schema, {k: v for k, v in shown.items() if k != CONF_LOCAL_KEY}
            ),
            errors=errors,
            description_placeholders={"name": entry.title, **_help_placeholders()},
        )

    def _forget_old_mac(self, entry: ConfigEntry, mac: str | None) -> None:
        """Take a MAC the entry no longer has off its device (DHCP matches on it)."""
        old = entry.data.get(CONF_MAC)
        if not old or old == mac:
            return
        registry = dr.async_get(self.hass)
        device = registry.async_get_device(identifiers={(DOMAIN, str(entry.unique_id))})
        if device is not None:
            registry.async_update_device(
                device.id, new_connections=device.connections - {(dr.CONNECTION_NETWORK_MAC, old)}
            )

    # A registered panel renewed its DHCP lease -------------------------------------------------

    async def async_step_dhcp(self, discovery_info: DhcpServiceInfo) -> ConfigFlowResult:
        """Follow a set-up panel (known by its MAC) to its address; never add one from DHCP."""
        mac = dr.format_mac(discovery_info.macaddress)  # entries keep MACs in this form
        for entry in self._async_current_entries(include_ignore=False):
            if entry.data.get(CONF_MAC) == mac:
                await self.async_set_unique_id(entry.unique_id)
                self._abort_if_unique_id_configured(updates={CONF_HOST: discovery_info.ip})
        return self.async_abort(reason="not_registered")

    # Shared ------------------------------------------------------------------------------------

    def _versions(self, device_id: str, chosen: str) -> list[str]:
        """Return the versions to try: the chosen one, else the one broadcast, else all."""
        if chosen != TUYA_VERSION_AUTO:
            return [chosen]
        heard = discovered_version(self.hass, device_id)
        return [heard] if heard in TUYA_VERSIONS else list(TUYA_VERSIONS)

    async def _async_check(
        self, given: Mapping[str, Any], versions: Sequence[str], errors: dict[str, str]
    ) -> dict[str, Any] | None:
        """Check the key and MAC and test the connection.

        ``given`` holds the address, device id, key, data-point map and optional MAC. The
        result is the entry's connection data (the version that answered, the MAC
        normalised, absent when not given), or None with ``errors`` filled in.
        """
        local_key: str = given[CONF_LOCAL_KEY]
        if not _valid_key(local_key):
            errors[CONF_LOCAL_KEY] = "invalid_local_key"
        mac: str | None = None
        if raw_mac := (given.get(CONF_MAC) or "").strip():
            if (mac := normalise_mac(raw_mac)) is None:
                errors[CONF_MAC] = "invalid_mac"
            elif self._mac_of_another_panel(mac, given[CONF_DEVICE_ID]):
                errors[CONF_MAC] = "mac_in_use"
        if errors:
            return None
        host = given[CONF_HOST].strip()
        device_id = given[CONF_DEVICE_ID]
        dp_map = given[CONF_DP_MAP]
        error, version = await async_test_tuya(host, device_id, local_key, versions, dp_map)
        if error is not None:
            errors["base"] = error
            return None
        data = {
            CONF_PANEL_TYPE: PANEL_TYPE_TUYA,
            CONF_HOST: host,
            CONF_DEVICE_ID: device_id,
            CONF_LOCAL_KEY: local_key,
            CONF_VERSION: version,
            CONF_DP_MAP: dp_map,
        }
        if mac is not None:
            data[CONF_MAC] = mac
        return data

    def _mac_of_another_panel(self, mac: str, device_id: str) -> bool:
        return any(
            entry.data.get(CONF_MAC) == mac and entry.unique_id != device_id
            for entry in self._async_current_entries(include_ignore=False)
        )


async def _async_release_link(entry: ConfigEntry) -> None:
    """Close the loaded entry's own link first: many panels take one connection at a time."""
    if entry.state is ConfigEntryState.LOADED:
        await entry.runtime_data.panel.disconnect()


def _help_placeholders() -> dict[str, str]:
    iot, wizard = LOCAL_KEY_HELP
    return {"iot_url": iot, "wizard_url": wizard}
