"""The therapy data's files: their keys and versions, and a ``Store`` that reads in pieces.

``TherapyFiles`` names every file of the integration: the main one (``STORAGE_KEY``: active
sessions, settings, protocol runs), the history index (``HISTORY_KEY``) and one file per ISO
week of the history (``HISTORY_KEY``.<week>; ``grouped_by_week`` says which record is in
which). Each is a ``VersionedStore``, which decodes its JSON record by record in the executor,
so years of history never hold the event loop, and hands the first layout (version 1, the
history inside the main file) over for ``TherapyStore`` to move. Loading them untrusted is
``store_load.py``'s job; saving, ``store.py``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from copy import deepcopy
import json
import re
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import DOMAIN
from .therapy import History, SessionRecord
from .therapy.stored import history_period

STORAGE_KEY = f"{DOMAIN}.therapy"
STORAGE_VERSION = 2
STORAGE_MINOR_VERSION = 2
"""2.2 adds ``households_migrated``: the one-time household migration has run (an older file
lacks it, so the migration runs once on it, at the first panel setup)."""
HISTORY_KEY = f"{DOMAIN}.history"
"""History files are ``red_light_therapy.history.<ISO week>`` (``history_period``); the file
``red_light_therapy.history`` itself is their index (``{"periods": [...]}``), written only
when a week is added or emptied."""
HISTORY_VERSION = 1

_UNREAD = object()


class VersionedStore(Store[dict[str, Any]]):
    """A ``Store`` that reads its file in pieces (``_load_json_in_pieces``).

    So years of history never hold the event loop; pending data, a missing or undecodable file
    go Home Assistant's way.

    The layout of version 1 (the history inside this file) is returned as it is, sections
    completed: ``TherapyStore`` moves its history into files of their own and only then
    saves this file, so a crash half-way loses nothing.
    """

    loaded_version: int | None = None
    """The major version of the file last loaded (None: none was)."""

    async def _async_load_data(self) -> Any:
        if self._data is not None:
            # A pending write (or the tests' storage): read like a file, migrated the same
            # way (Home Assistant's own migration would save the old layout at once).
            pending = self._data
            if "data_func" in pending:
                pending["data"] = pending.pop("data_func")()
            document = deepcopy(pending)
        else:
            document = await self.hass.async_add_executor_job(_load_json_in_pieces, self.path)
        if document is _UNREAD or not isinstance(document, dict) or not document:
            return await super()._async_load_data()  # type: ignore[no-untyped-call]
        version = document["version"]
        minor = document.setdefault("minor_version", 1)
        self.loaded_version = version
        if (version, minor) == (self.version, self.minor_version):
            return document["data"]
        return await self._async_migrate_func(version, minor, document["data"])

    async def _async_migrate_func(
        self, old_major_version: int, old_minor_version: int, old_data: Any
    ) -> Any:
        if old_major_version > self.version:
            raise NotImplementedError(
                f"stored therapy data is version {old_major_version}; this release reads "
                f"up to {self.version}"
            )
        if (
            not isinstance(old_data, dict)
            or self.key != STORAGE_KEY
            or (old_major_version, old_minor_version) >= (1, 1)
        ):
            # The wrong shape (read_stored says what it is), or a layout whose sections are
            # all there: one missing was lost, and is reported.
            return old_data
        # 1.0 kept only the history.
        old_data.setdefault("history", {"records": []})
        old_data.setdefault("active", {})
        old_data.setdefault("settings", {})
        old_data.setdefault("plans", {})
        return old_data


class TherapyFiles:
    """The stores of the main file, the history index and each week (made on first use)."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Name the files; nothing is read or written yet."""
        self._hass = hass
        self.main = VersionedStore(
            hass, STORAGE_VERSION, STORAGE_KEY, minor_version=STORAGE_MINOR_VERSION
        )
        self.index = VersionedStore(hass, HISTORY_VERSION, HISTORY_KEY)
        self._weeks: dict[str, VersionedStore] = {}

    def week(self, period: str) -> VersionedStore:
        """Return the store of one history week (``2026-W49``)."""
        if (store := self._weeks.get(period)) is None:
            store = VersionedStore(self._hass, HISTORY_VERSION, f"{HISTORY_KEY}.{period}")
            self._weeks[period] = store
        return store


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
    """Return the JSON value at ``index`` and the index after it."""
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
    """Return the file's JSON, decoded record by record.

    ``_UNREAD`` when it is missing or not valid JSON (Home Assistant's own loader then reports it
    the usual way).

    Run in the executor. Home Assistant's loader (orjson) decodes the whole file in one call
    that holds the GIL, so the event loop waits for it too: about 130 ms for 20,000 records
    here. Decoded in pieces, the thread hands the GIL back between records.
    """
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
        value, end = _decode(text, _skip(text, 0), 0)
        if _skip(text, end) != len(text):
            raise ValueError("extra data after the document")
    except (OSError, UnicodeDecodeError, ValueError, IndexError, RecursionError):
        return _UNREAD
    return value


def grouped_by_week(
    history: History, placement: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, dict[str, SessionRecord]]]:
    """Each record's week file (``placement``'s, else its start's), and the records by week.

    Run in the executor for a loaded history: years of records.
    """
    where: dict[str, str] = {}
    periods: dict[str, dict[str, SessionRecord]] = {}
    for record in history:
        period = placement.get(record.id) or history_period(record.started_at)
        where[record.id] = period
        periods.setdefault(period, {})[record.id] = record
    return where, periods
