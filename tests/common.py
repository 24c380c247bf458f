"""Helpers shared by the Home Assistant tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
import copy
from datetime import datetime, timedelta
import inspect
import pathlib
import shutil
import time
from typing import Any

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import conversation
from homeassistant.components.bluetooth import (
    BluetoothServiceInfoBleak,
    async_get_advertisement_callback,
)
from homeassistant.components.number import ATTR_VALUE, DOMAIN as NUMBER_DOMAIN, SERVICE_SET_VALUE
from homeassistant.const import ATTR_ENTITY_ID, CONF_ENTITY_ID, CONF_HOST, STATE_OFF
from homeassistant.core import Context, HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.red_light_therapy.const import (
    CONF_DEVICE_ID,
    CONF_DP_MAP,
    CONF_LOCAL_KEY,
    CONF_PANEL_TYPE,
    CONF_PROFILE,
    CONF_VERSION,
    DOMAIN,
    PANEL_TYPE_ENTITY,
    PANEL_TYPE_TUYA,
)
from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator, codec
from custom_components.red_light_therapy.session_manager import SessionManager
from custom_components.red_light_therapy.store import HISTORY_KEY, STORAGE_KEY
from custom_components.red_light_therapy.therapy import (
    BandDose,
    SessionOrigin,
    SessionRecord,
    SessionStatus,
    single_channel_profile,
)

from .emulated_tuya import HOST
from .panels.tuya.conftest import DEVICE_ID, LOCAL_KEY

ADDRESS = "3C:AB:72:5E:F5:22"
NAME = "BLOCK3CAB725EF522"
SERVICE_UUID = "0000fff0-0000-1000-8000-00805f9b34fb"
PANEL_LIGHT = "light.blockbluelight_f522"


def service_info(
    address: str = ADDRESS, name: str = NAME, source: str = "local"
) -> BluetoothServiceInfoBleak:
    """An advertisement as Home Assistant's Bluetooth stack hands it to integrations."""
    # bleak 0.22 requires rssi; bleak 1.x+ no longer takes it (a DeprecationWarning in **kwargs).
    rssi = {"rssi": -60} if "rssi" in inspect.signature(BLEDevice).parameters else {}
    device = BLEDevice(address, name, {}, **rssi)
    advertisement = AdvertisementData(
        local_name=name,
        manufacturer_data={},
        service_data={},
        service_uuids=[SERVICE_UUID],
        tx_power=-127,
        rssi=-60,
        platform_data=(),
    )
    return BluetoothServiceInfoBleak(
        name=name,
        address=address,
        rssi=-60,
        manufacturer_data={},
        service_data={},
        service_uuids=[SERVICE_UUID],
        source=source,
        device=device,
        advertisement=advertisement,
        connectable=True,
        time=time.monotonic(),
        tx_power=-127,
    )


def inject_advertisement(hass: HomeAssistant, info: BluetoothServiceInfoBleak) -> None:
    """Feed an advertisement through Home Assistant's public Bluetooth API."""
    async_get_advertisement_callback(hass)(info)


async def settle(hass: HomeAssistant) -> None:
    """Let everything started so far finish, background tasks included."""
    await hass.async_block_till_done(wait_background_tasks=True)


async def move_to(hass: HomeAssistant, freezer: FrozenDateTimeFactory, at: datetime) -> None:
    """Move the frozen clock to ``at``, fire what is due, and let it finish."""
    freezer.move_to(at)
    async_fire_time_changed(hass)
    await settle(hass)


async def advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta) -> None:
    """Move the frozen clock on by ``delta``, fire what is due, and let it finish."""
    freezer.tick(delta)
    async_fire_time_changed(hass)
    await settle(hass)


def power_commands(emulator: BlockBlueLightEmulator) -> int:
    """Power frames (on or off) the emulated panel received."""
    return sum(frame.command == codec.CMD_POWER for frame in emulator.commands)


Events = list[tuple[str, dict[str, Any]]]
"""Session events as (event type, data), in the order they were fired."""


@contextmanager
def recorded_events(entry: MockConfigEntry) -> Iterator[Events]:
    """Every session event of the entry's panel, in order, while the block runs."""
    fired: Events = []
    remove = entry.runtime_data.sessions.events.async_add_event_listener(
        lambda event, data: fired.append((event.value, data))
    )
    try:
        yield fired
    finally:
        remove()


# -- what the store holds (wherever it keeps it) ------------------------------------------


def stored_files(storage: dict[str, Any]) -> dict[str, Any]:
    """Every file of the integration's store in ``hass_storage`` (the main file, each
    history week and their index), copied: compare two of these to prove nothing was written."""
    return {
        key: copy.deepcopy(value)
        for key, value in storage.items()
        if key in (STORAGE_KEY, HISTORY_KEY) or key.startswith(f"{HISTORY_KEY}.")
    }


def saved_history(storage: dict[str, Any]) -> list[dict[str, Any]]:
    """The history as it is stored, each record as ``SessionRecord.to_dict``, oldest first:
    read from the history weeks (and from an old layout's main file, if one is there)."""
    rows: list[Any] = []
    for key in sorted(storage):
        if key.startswith(f"{HISTORY_KEY}."):
            rows.extend(storage[key]["data"]["records"])
    main = storage.get(STORAGE_KEY, {}).get("data") or {}
    rows.extend(main.get("history", {}).get("records", []))
    records = [SessionRecord.from_row(row) for row in rows]
    return [r.to_dict() for r in sorted(records, key=lambda record: record.started_at)]


# -- actions, entities and the session's end as a test drives them ------------------------


async def act(
    hass: HomeAssistant, domain: str, service: str, data: dict[str, Any], *, response: bool = False
) -> Any:
    """Call an action as a user or an automation does, and let what it started finish."""
    result = await hass.services.async_call(
        domain, service, data, blocking=True, return_response=response
    )
    await settle(hass)
    return result


async def set_number(hass: HomeAssistant, entity_id: str, value: float) -> None:
    """Set a number entity as a user moves its slider."""
    await act(
        hass, NUMBER_DOMAIN, SERVICE_SET_VALUE, {ATTR_ENTITY_ID: entity_id, ATTR_VALUE: value}
    )


async def no_power_command_for(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: BlockBlueLightEmulator,
    delta: timedelta,
) -> None:
    """Move the clock on by ``delta``: the panel is sent no power command (on or off) in it,
    so nothing was left scheduled."""
    sent = power_commands(emulator)
    await advance(hass, freezer, delta)
    assert power_commands(emulator) == sent


async def out_of_reach(hass: HomeAssistant, emulator: BlockBlueLightEmulator) -> None:
    """The panel drops its link and refuses every new one, as a panel out of range does."""
    emulator.refuse_connections = 1000
    emulator.drop_connection()
    await hass.async_block_till_done()


async def to_end(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, entry: MockConfigEntry
) -> None:
    """Move the clock exactly to the running session's planned end."""
    session = entry.runtime_data.sessions.session
    assert session is not None
    assert session.ends_at is not None
    await advance(hass, freezer, session.ends_at - dt_util.utcnow())


async def start_session(hass: HomeAssistant, entry: MockConfigEntry) -> SessionManager:
    """Start a session of the panel's default length as its Start button does; the sessions."""
    sessions: SessionManager = entry.runtime_data.sessions
    await sessions.runner.async_start()
    await settle(hass)
    return sessions


def switched_off(
    hass: HomeAssistant, emulator: BlockBlueLightEmulator, sessions: SessionManager
) -> SessionRecord:
    """The emulated panel is off, no session runs and the panel's light shows it off; the
    session it ran, as recorded."""
    assert not emulator.is_on
    assert sessions.session is None
    assert hass.states.get(PANEL_LIGHT).state == STATE_OFF
    return last_record(sessions)


def last_record(of: MockConfigEntry | SessionManager) -> SessionRecord:
    """The last session recorded for a panel (its entry or its sessions): there must be one."""
    sessions = of.runtime_data.sessions if isinstance(of, MockConfigEntry) else of
    record = sessions.last_session
    assert record is not None
    return record


def completed_record(
    rid: str,
    start: datetime,
    minutes: float,
    person: str | None,
    *,
    area: str,
    irradiance: tuple[float, float],
) -> SessionRecord:
    """A completed planned session of ``minutes`` on ``area`` for ``person``, from a panel
    that is not set up here, at ``irradiance`` (red, NIR in mW/cm²)."""
    seconds = minutes * 60
    red, nir = irradiance
    return SessionRecord(
        id=rid,
        panel_id="somewhere",
        area=area,
        origin=SessionOrigin.PLANNED,
        started_at=start,
        ended_at=start + timedelta(seconds=seconds),
        dose=BandDose(red * seconds / 1000, nir * seconds / 1000),
        status=SessionStatus.COMPLETED,
        on_seconds=seconds,
        person=person,
    )


# -- Assist with the integration's sentences ------------------------------------------------

SENTENCES = (
    pathlib.Path(__file__).parent.parent / "custom_sentences" / "en" / "red_light_therapy.yaml"
)


async def install_sentences(hass: HomeAssistant, config_dir: pathlib.Path) -> None:
    """Assist with custom_sentences/en/red_light_therapy.yaml installed as the README says,
    in ``config_dir`` (the configuration folder)."""
    hass.config.config_dir = str(config_dir)
    target = config_dir / "custom_sentences" / "en"
    target.mkdir(parents=True)
    shutil.copy(SENTENCES, target / "red_light_therapy.yaml")
    for component in ("homeassistant", "intent", "conversation"):
        assert await async_setup_component(hass, component, {})
    await settle(hass)


async def converse(hass: HomeAssistant, text: str, user_id: str | None = None) -> str:
    """What Assist answers to ``text`` said by the user ``user_id`` (None: a satellite with
    no login), once what it started has finished."""
    result = await conversation.async_converse(
        hass, text, None, Context(user_id=user_id), language="en"
    )
    await settle(hass)
    speech: str = result.response.speech["plain"]["speech"]
    return speech


# -- a Tuya panel's entry --------------------------------------------------------------------


def tuya_entry_data(**more: Any) -> dict[str, Any]:
    """The entry data of the Tuya Wi-Fi light panel ``reachable_tuya_panel("3.4")`` emulates
    on loopback (the generic light's data points); ``more`` adds to it."""
    return {
        CONF_PANEL_TYPE: PANEL_TYPE_TUYA,
        CONF_HOST: HOST,
        CONF_DEVICE_ID: DEVICE_ID,
        CONF_LOCAL_KEY: LOCAL_KEY,
        CONF_VERSION: "3.4",
        CONF_DP_MAP: "generic_light",
        **more,
    }


# -- a plug wrapped as a panel ----------------------------------------------------------------

PLUG_PROFILE = single_channel_profile("Test panel", "Test figures.", {15.0: 10.0, 60.0: 5.0})
"""10 mW/cm² at 15 cm: a 10-minute session is 6 J/cm², inside every default limit."""


def plug_panel_entry(entity_id: str, **more: Any) -> MockConfigEntry:
    """The entry of the switch ``entity_id`` wrapped as a panel with ``PLUG_PROFILE``, not yet
    added; ``more`` goes to the entry (its id)."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Plug panel",
        unique_id=f"entity_{entity_id}",
        data={
            CONF_PANEL_TYPE: PANEL_TYPE_ENTITY,
            CONF_ENTITY_ID: entity_id,
            CONF_PROFILE: PLUG_PROFILE.to_dict(),
        },
        **more,
    )
