"""Persistent therapy data: the history of every panel, each panel's active session and settings.

One versioned ``Store`` for the whole integration, because limits are about a person's skin,
not about a panel: a session on one panel counts against the next one on another.

The file is untrusted. One that cannot be read at all (not JSON, not an object, a newer major
version) is moved aside, a ``store_unreadable`` repair says so and the integration starts
empty. Otherwise it is read record by record (``therapy.read_stored``, in the executor: years
of history must not hold the event loop): what cannot be trusted is left out or reset, the file
as it was is copied aside, a ``store_repaired`` repair says how many records and where the copy
is, and the cleaned data is saved. Nothing valid is lost, nothing is silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
import json
import logging
import os
import re
import shutil
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN, MAX_DISTANCE_CM, MAX_SESSION_MINUTES
from .therapy import History, Session, SessionRecord, SessionStatus, TherapyError, validate_area
from .therapy._util import finite, shown
from .therapy.stored import StoredTherapy, read_stored

_LOGGER = logging.getLogger(__name__)

STORAGE_KEY = f"{DOMAIN}.therapy"
STORAGE_VERSION = 1
STORAGE_MINOR_VERSION = 1
SETTINGS_SAVE_DELAY = 10
"""Seconds a changed setting waits before the file is written (``async_delay_save``)."""


_UNREAD = object()


class _VersionedStore(Store[dict[str, Any]]):
    """Migrates older layouts; minor versions only add keys, so they load as they are.

    Reads its file in pieces (``_load_json_in_pieces``) so years of history never hold the
    event loop; pending data, a missing or undecodable file go Home Assistant's way."""

    async def _async_load_data(self) -> Any:
        if self._data is not None:
            return await super()._async_load_data()  # type: ignore[no-untyped-call]
        document = await self.hass.async_add_executor_job(_load_json_in_pieces, self.path)
        if document is _UNREAD or not isinstance(document, dict) or not document:
            return await super()._async_load_data()  # type: ignore[no-untyped-call]
        version = document["version"]
        minor = document.setdefault("minor_version", 1)
        if (version, minor) == (self.version, self.minor_version):
            return document["data"]
        stored = await self._async_migrate_func(version, minor, document["data"])
        await self.async_save(stored)
        return stored

    async def _async_migrate_func(
        self, old_major_version: int, old_minor_version: int, old_data: Any
    ) -> Any:
        if old_major_version > STORAGE_VERSION:
            raise NotImplementedError(
                f"stored therapy data is version {old_major_version}; this release reads "
                f"up to {STORAGE_VERSION}"
            )
        if not isinstance(old_data, dict):
            return old_data  # the wrong shape: read_stored says what it is
        old_data.setdefault("history", {"records": []})
        old_data.setdefault("active", {})
        old_data.setdefault("settings", {})
        old_data.setdefault("plans", {})
        return old_data


class TherapyStore:
    """History, active sessions and per-panel settings, saved on every change that matters."""

    def __init__(self, hass: HomeAssistant) -> None:
        self._hass = hass
        self._store = _VersionedStore(
            hass, STORAGE_VERSION, STORAGE_KEY, minor_version=STORAGE_MINOR_VERSION
        )
        self.history = History()
        self.active: dict[str, Session] = {}
        self.settings: dict[str, dict[str, Any]] = {}
        # Protocol runs by id (``therapy.ProtocolPlan.to_dict``); read by ``protocol_manager``.
        self.plans: dict[str, dict[str, Any]] = {}

    async def async_load(self) -> None:
        """Load what can be trusted. An unreadable file is moved aside, reported, and replaced
        by empty data; a readable one with untrusted records is copied aside, reported, and
        loaded without them."""
        try:
            data = await self._store.async_load()
        except (
            HomeAssistantError,
            NotImplementedError,  # a newer major version than this release reads
            KeyError,  # no version or no data
            TypeError,  # not an object
            ValueError,
        ) as err:
            await self._async_keep_aside(err)
            return
        if data is None:
            # No file yet; or one holding nothing (``{}``, or null data): the latter was lost.
            if await self._hass.async_add_executor_job(os.path.isfile, self._store.path):
                await self._async_keep_aside(ValueError("the file holds no therapy data"))
            return
        # Handed over in a box the executor empties: freeing years of records is work too,
        # and it happens where the last reference goes.
        box = [data]
        del data
        loaded = await self._hass.async_add_executor_job(_read_boxed, box, dt_util.utcnow())
        self.history = loaded.history
        self.active = loaded.active
        self.settings = loaded.settings
        self.plans = loaded.plans
        if loaded.dropped:
            await self._async_report_repaired(loaded.dropped)

    async def _async_report_repaired(self, dropped: list[str]) -> None:
        """Copy the file as it was aside, say so, and save the cleaned data (so the next start
        does not repair again). Without a copy the original is not overwritten."""
        path = self._store.path
        backup = f"{path}.before-repair-{_stamp()}"
        try:
            copied = await self._hass.async_add_executor_job(_copy_if_exists, path, backup)
        except OSError as err:
            _LOGGER.error("Could not copy %s to %s: %s", path, backup, err)
            copied = False
        _LOGGER.error(
            "Therapy data in %s: %d stored records could not be trusted and were left out or "
            "reset (%s); %s",
            path,
            len(dropped),
            "; ".join(dropped),
            f"the file as it was is kept as {backup}" if copied else "the file is unchanged",
        )
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            "store_repaired",
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="store_repaired",
            translation_placeholders={
                "count": str(len(dropped)),
                "backup": backup if copied else path,
            },
        )
        if copied:
            await self.async_save()

    async def _async_keep_aside(self, err: Exception) -> None:
        path = self._store.path
        backup = f"{path}.unreadable-{_stamp()}"
        await self._hass.async_add_executor_job(_move_if_exists, path, backup)
        _LOGGER.error("Therapy data in %s could not be read (%s); kept as %s", path, err, backup)
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            "store_unreadable",
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="store_unreadable",
            translation_placeholders={"backup": backup, "error": str(err)},
        )
        self.history = History()
        self.active = {}
        self.settings = {}
        self.plans = {}

    def _rest_as_dict(self) -> dict[str, Any]:
        """Everything but the history, copied: the file is written in the executor while
        the event loop may change the settings and runs."""
        return {
            "active": {key: session.to_dict() for key, session in self.active.items()},
            "settings": {key: dict(value) for key, value in self.settings.items()},
            "plans": {key: dict(value) for key, value in self.plans.items()},
        }

    async def async_forget_panel(self, panel_id: str) -> None:
        """A removed panel: its open session is recorded (stopped, with what it delivered up
        to now, never past its planned end or its own countdown), its settings and protocol
        runs are dropped. The history stays: it is the person's, not the panel's."""
        session = self.active.pop(panel_id, None)
        if session is not None and session.started_at is not None and not session.is_final:
            now = dt_util.utcnow()
            ends_at = session.ends_at
            end = min(now, ends_at) if ends_at is not None else now
            session.close(end, SessionStatus.STOPPED, stop_at_end_completes=False)
            self.history.append(SessionRecord.from_session(session))
        self.settings.pop(panel_id, None)
        for plan_id in [k for k, v in self.plans.items() if v.get("panel_id") == panel_id]:
            del self.plans[plan_id]
        await self.async_save()

    async def async_save(self) -> None:
        """Write now: used before a panel is switched on and when a session is recorded.

        Years of history take longer to turn into JSON than the event loop may be held (some
        50 ms for 20,000 records here, far more on a small board): the history is handed over
        as a snapshot of its (immutable) records that the JSON writer, in the executor, turns
        into dicts one record at a time, and frees there."""
        await self._store.async_save(self._data_to_save())

    @callback
    def async_delay_save(self) -> None:
        """Write within ``SETTINGS_SAVE_DELAY`` seconds: a setting changed. Moving a slider
        through ten steps writes the file once; a save before that (a session) takes the
        setting along, and Home Assistant writes a pending save when it stops."""
        self._store.async_delay_save(self._data_to_save, SETTINGS_SAVE_DELAY)

    @callback
    def _data_to_save(self) -> dict[str, Any]:
        return {"history": _StoredHistory(self.history.records), **self._rest_as_dict()}


def _stamp() -> str:
    return dt_util.utcnow().strftime("%Y%m%dT%H%M%S")


def _move_if_exists(path: str, backup: str) -> None:
    if os.path.exists(path):
        os.replace(path, backup)


def _copy_if_exists(path: str, backup: str) -> bool:
    if not os.path.isfile(path):
        return False
    shutil.copy2(path, backup)
    return True


class _StoredHistory:
    """The history as the JSON writer asks for it (Home Assistant's encoder calls
    ``as_dict``): built while the file is written, in the executor."""

    __slots__ = ("_records",)

    def __init__(self, records: tuple[SessionRecord, ...]) -> None:
        self._records = records

    def as_dict(self) -> dict[str, Any]:
        return {"records": [_StoredRecord(record) for record in self._records]}


class _StoredRecord:
    """One record, turned into a dict when the writer reaches it: Python runs between
    records, so the writer's thread lets the event loop in."""

    __slots__ = ("_record",)

    def __init__(self, record: SessionRecord) -> None:
        self._record = record

    def as_dict(self) -> dict[str, Any]:
        return self._record.to_dict()


def _read_boxed(box: list[Any], now: datetime) -> StoredTherapy:
    """Run in the executor: read the data, then free its records one at a time (freeing a
    list of 20,000 dicts at once is one long C call that holds the GIL)."""
    data = box.pop()
    loaded = _read(data, now)
    history = data.get("history") if isinstance(data, dict) else None
    records = history.get("records") if isinstance(history, dict) else None
    while isinstance(records, list) and records:
        records.pop()
    return loaded


def _read(data: object, now: datetime) -> StoredTherapy:
    """Run in the executor: every trusted record, and each panel's settings made safe."""
    loaded = read_stored(data, now)
    for panel_id, settings in loaded.settings.items():
        _trust_settings(panel_id, settings, loaded.dropped)
    return loaded


def _trust_settings(panel_id: str, settings: dict[str, Any], dropped: list[str]) -> None:
    """Each panel's settings as the entities can show them: a number that is not one (text,
    infinite) or an unknown or eye area falls back to its default; a number out of the
    entity's range is clamped into it. Keys this release does not know are kept."""

    def number(key: str, low: float, high: float) -> None:
        if key not in settings:
            return
        value = settings[key]
        if not finite(value) or value <= 0:
            del settings[key]
            dropped.append(f"setting {key} of {panel_id}: {shown(value)} reset to its default")
        elif not low <= value <= high:
            settings[key] = min(max(float(value), low), high)
            dropped.append(
                f"setting {key} of {panel_id}: {shown(value)} clamped into {low}..{high}"
            )

    number("minutes", 1, MAX_SESSION_MINUTES)
    number("distance_cm", 1, MAX_DISTANCE_CM)
    if "area" in settings:
        try:
            settings["area"] = validate_area(settings["area"]).value
        except TherapyError:
            dropped.append(f"setting area of {panel_id}: {shown(settings.pop('area'))} reset")
    calibration = settings.get("calibration")
    if calibration is not None and not (
        isinstance(calibration, Mapping)
        and all(finite(calibration.get(key)) for key in ("distance_cm", "measured_mw_cm2"))
    ):
        del settings["calibration"]
        dropped.append(f"calibration of {panel_id}: {shown(calibration)} ignored")


# -- reading the file without holding the event loop -------------------------------------

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")
_SHALLOW = 4
"""Containers nearer the root than this (the document, ``data``, ``history``, its list of
records) are walked here; everything deeper (one record) is decoded in one C call."""


def _skip(text: str, index: int) -> int:
    match = _SPACE.match(text, index)
    assert match is not None  # ``*`` matches the empty string
    return match.end()


def _decode(text: str, index: int, depth: int) -> tuple[Any, int]:
    """The JSON value at ``index`` and the index after it."""
    opening = text[index]
    if depth >= _SHALLOW or opening not in "{[":
        return _DECODER.raw_decode(text, index)
    closing = "}" if opening == "{" else "]"
    members: dict[str, Any] = {}
    items: list[Any] = []
    index = _skip(text, index + 1)
    if text[index] == closing:
        return (members if opening == "{" else items), index + 1
    while True:
        if opening == "{":
            key, index = _DECODER.raw_decode(text, index)
            index = _skip(text, index)
            if not isinstance(key, str) or text[index] != ":":
                raise ValueError(f"expected a key and ':' at {index}")
            members[key], index = _decode(text, _skip(text, index + 1), depth + 1)
        else:
            item, index = _decode(text, index, depth + 1)
            items.append(item)
        index = _skip(text, index)
        if text[index] == closing:
            return (members if opening == "{" else items), index + 1
        if text[index] != ",":
            raise ValueError(f"expected ',' or {closing!r} at {index}")
        index = _skip(text, index + 1)


def _load_json_in_pieces(path: str) -> Any:
    """The file's JSON, decoded record by record; ``_UNREAD`` when it is missing or not
    valid JSON (Home Assistant's own loader then reports it the usual way).

    Run in the executor. Home Assistant's loader (orjson) decodes the whole file in one call
    that holds the GIL, so the event loop waits for it too: about 130 ms for 20,000 records
    here. Decoded in pieces, the thread hands the GIL back between records."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
        value, end = _decode(text, _skip(text, 0), 0)
        if _skip(text, end) != len(text):
            raise ValueError("extra data after the document")
    except (OSError, UnicodeDecodeError, ValueError, IndexError, RecursionError):
        return _UNREAD
    return value
