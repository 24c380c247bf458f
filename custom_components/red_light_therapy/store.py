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
from copy import deepcopy
from dataclasses import dataclass, replace
from datetime import date, datetime
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
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN, MAX_DISTANCE_CM, MAX_SESSION_MINUTES
from .therapy import History, Session, SessionRecord, SessionStatus, TherapyError, validate_area
from .therapy._util import finite, shown, stored_person
from .therapy.plans import ProtocolPlan
from .therapy.stored import (
    StoredTherapy,
    history_index,
    history_period,
    is_period,
    read_history_files,
    read_history_index,
    read_stored,
)

_LOGGER = logging.getLogger(__name__)

STORAGE_KEY = f"{DOMAIN}.therapy"
STORAGE_VERSION = 2
STORAGE_MINOR_VERSION = 1
HISTORY_KEY = f"{DOMAIN}.history"
"""History files are ``red_light_therapy.history.<ISO week>`` (``history_period``); the file
``red_light_therapy.history`` itself is their index (``{"periods": [...]}``), written only
when a week is added or emptied."""
HISTORY_VERSION = 1
SETTINGS_SAVE_DELAY = 10
"""Seconds a changed setting waits before the file is written (``async_delay_save``)."""


_UNREAD = object()
_INDEX = "index"


class _VersionedStore(Store[dict[str, Any]]):
    loaded_version: int | None = None
    """The major version of the file last loaded (None: none was)."""

    """Reads its file in pieces (``_load_json_in_pieces``) so years of history never hold the
    event loop; pending data, a missing or undecodable file go Home Assistant's way.

    The layout of version 1 (the history inside this file) is returned as it is, sections
    completed: ``TherapyStore`` moves its history into files of their own and only then
    saves this file, so a crash half-way loses nothing."""

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


class TherapyStore:
    """History, active sessions, per-panel settings and protocol runs.

    The main file (``STORAGE_KEY``) holds the active sessions, settings and runs, and the
    list of history files; the history is kept in one file per ISO week of the sessions'
    starts (``HISTORY_KEY``.<week>). A save writes the main file and only the weeks whose
    records changed: a session writes its start, its end and this week's few records,
    whatever the years before it hold.

    ``history``, ``active``, ``settings`` and ``plans`` are still read and changed in place
    by the session and protocol managers; the methods below (``async_start_session``,
    ``async_record_session``, ``async_update_settings``, ...) are the way to change them.
    """

    def __init__(self, hass: HomeAssistant) -> None:
        """Prepare the store; nothing is read until it loads."""
        self._hass = hass
        self._store = _VersionedStore(
            hass, STORAGE_VERSION, STORAGE_KEY, minor_version=STORAGE_MINOR_VERSION
        )
        self._history = History()
        self._history.on_change = self._history_changed
        self._placement: dict[str, str] = {}
        self._periods: dict[str, dict[str, SessionRecord]] = {}
        self._period_stores: dict[str, _VersionedStore] = {}
        self._index = _VersionedStore(hass, HISTORY_VERSION, HISTORY_KEY)
        self._indexed: set[str] | None = set()
        """The weeks the index file names (None: it must be written again)."""
        self._dirty: set[str] = set()
        self.active: dict[str, Session] = {}
        self.settings: dict[str, dict[str, Any]] = {}
        # Protocol runs by id (``therapy.ProtocolPlan.to_dict``); read by ``protocol_manager``.
        self.plans: dict[str, dict[str, Any]] = {}

    # -- the history and where each record is kept ------------------------------------------

    @property
    def history(self) -> History:
        """Every finished session; ``append`` and ``remove`` mark its week to be written."""
        return self._history

    @history.setter
    def history(self, history: History) -> None:
        """Replace the whole history (a reassignment): every week is written again."""
        self._dirty.update(self._periods)
        self._adopt(history, *_grouped(history, {}))
        self._dirty.update(self._periods)

    def _adopt(
        self,
        history: History,
        placement: dict[str, str],
        periods: dict[str, dict[str, SessionRecord]],
    ) -> None:
        if self._history is not history:
            self._history.on_change = None
        self._history = history
        self._placement = placement
        self._periods = periods
        history.on_change = self._history_changed

    def _history_changed(self, record: SessionRecord, added: bool) -> None:
        if added:
            period = history_period(record.started_at)
            self._placement[record.id] = period
            self._periods.setdefault(period, {})[record.id] = record
        else:
            period = self._placement.pop(record.id, "") or history_period(record.started_at)
            self._periods.get(period, {}).pop(record.id, None)
        self._dirty.add(period)

    def _period_store(self, period: str) -> _VersionedStore:
        if (store := self._period_stores.get(period)) is None:
            store = _VersionedStore(self._hass, HISTORY_VERSION, f"{HISTORY_KEY}.{period}")
            self._period_stores[period] = store
        return store

    # -- the API -------------------------------------------------------------------------------

    async def async_start_session(self, session: Session) -> None:
        """Make ``session`` the panel's active one, and write it now.

        That is before the panel switches on, so a restart finds it.
        """
        if session.panel_id is None:
            raise ValueError("an active session belongs to a panel")
        self.active[session.panel_id] = session
        await self.async_save()

    async def async_record_session(self, record: SessionRecord) -> None:
        """``record`` joins the history and its panel's active session (same id) ends."""
        if record.panel_id is not None:
            active = self.active.get(record.panel_id)
            if active is not None and active.id == record.id:
                del self.active[record.panel_id]
        self.history.append(record)
        await self.async_save()

    async def async_remove_session(self, record_id: str) -> SessionRecord:
        """Take a record out of the history (unknown: ``HistoryError``) and write its week."""
        record = self.history.remove(record_id)
        await self.async_save()
        return record

    def panel_settings(self, panel_id: str) -> PanelSettings:
        """Return the panel's settings, typed (what was never set is None)."""
        return PanelSettings.from_dict(self.settings.get(panel_id, {}))

    @callback
    def async_update_settings(self, panel_id: str, **changes: Any) -> PanelSettings:
        """Change some of the panel's settings (``minutes=12``; None forgets one).

        They are written within ``SETTINGS_SAVE_DELAY``: a slider drag writes once.
        """
        unknown = set(changes) - set(PanelSettings.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown settings {sorted(unknown)}")
        stored = self.settings.setdefault(panel_id, {})
        for key, value in changes.items():
            if value is None:
                stored.pop(key, None)
            else:
                stored[key] = dict(value) if key == "calibration" else value
        self.async_delay_save()
        return PanelSettings.from_dict(stored)

    def runs(self) -> dict[str, ProtocolPlan]:
        """Return the protocol runs, typed (every stored one was checked when it was loaded)."""
        return {key: ProtocolPlan.from_dict(value) for key, value in self.plans.items()}

    async def async_save_run(self, plan: ProtocolPlan) -> None:
        """Add or replace a protocol run, written now."""
        self.plans[plan.id] = plan.to_dict()
        await self.async_save()

    async def async_remove_run(self, plan_id: str) -> None:
        """Forget a protocol run (an unknown id changes nothing), written now."""
        if self.plans.pop(plan_id, None) is not None:
            await self.async_save()

    def assign_unassigned(self, person: str) -> int:
        """Give everything that belongs to no one to ``person``; return how many changed.

        That is every record, active session and protocol run, for the household's migration;
        ``person`` is a person entity id. The history weeks that changed are written by the
        next save.
        """
        person = person.strip()
        if not person or stored_person(person) != person:
            raise ValueError(f"{person!r} is not a person entity id")
        changed = 0
        records = list(self.history.records)
        for index, record in enumerate(records):
            if record.person is None:
                records[index] = replace(record, person=person)
                self._dirty.add(self._placement.get(record.id) or history_period(record.started_at))
                changed += 1
        if changed:
            history = History(records)
            self._adopt(history, *_grouped(history, self._placement))
        for session in self.active.values():
            if session.person is None:
                session.person = person
                changed += 1
        for run in self.plans.values():
            if stored_person(run.get("person")) is None:
                run["person"] = person
                changed += 1
        return changed

    def assign_session(self, session_id: str, person: str) -> bool:
        """Give the record or open session ``session_id`` to ``person`` (a person entity id),
        whoever it belonged to (the ``assign_person`` action); False when there is none.
        The history week that changed is written by the next save."""
        if stored_person(person) != person:
            raise ValueError(f"{person!r} is not a person entity id")
        for session in self.active.values():
            if session.id == session_id:
                session.person = person
                return True
        records = list(self.history.records)
        for index, record in enumerate(records):
            if record.id == session_id:
                records[index] = replace(record, person=person)
                self._dirty.add(self._placement.get(record.id) or history_period(record.started_at))
                history = History(records)
                self._adopt(history, *_grouped(history, self._placement))
                return True
        return False

    def rename_person(self, old: str, new: str) -> int:
        """A person's entity id changed from ``old`` to ``new``: every record, open session,
        protocol run and panel choice of ``old`` follows, so nothing reads as a departed
        person's; how many changed. The history weeks that changed are written by the next
        save."""
        if stored_person(new) != new:
            raise ValueError(f"{new!r} is not a person entity id")
        changed = 0
        records = list(self.history.records)
        for index, record in enumerate(records):
            if record.person == old:
                records[index] = replace(record, person=new)
                self._dirty.add(self._placement.get(record.id) or history_period(record.started_at))
                changed += 1
        if changed:
            history = History(records)
            self._adopt(history, *_grouped(history, self._placement))
        for session in self.active.values():
            if session.person == old:
                session.person = new
                changed += 1
        for container in (*self.plans.values(), *self.settings.values()):
            if container.get("person") == old:
                container["person"] = new
                changed += 1
        return changed

    # -- loading -------------------------------------------------------------------------------

    async def async_load(self) -> None:
        """Load what can be trusted.

        An unreadable file is moved aside, reported, and replaced by empty data; a readable one with
        untrusted records is copied aside, reported, and loaded without them. The same holds for
        each history file on its own, and the history is read even when the main file is lost.
        """
        loaded = StoredTherapy()
        repaired: list[str] = []
        old_layout = False
        try:
            data = await self._store.async_load()
        except (
            HomeAssistantError,
            NotImplementedError,  # a newer major version than this release reads
            KeyError,  # no version or no data
            TypeError,  # not an object
            ValueError,
        ) as err:
            await self._async_keep_aside(self._store.path, err)
        else:
            if data is None:
                # No file yet; or one holding nothing (``{}``, or null data): the latter
                # was lost.
                if await self._hass.async_add_executor_job(os.path.isfile, self._store.path):
                    await self._async_keep_aside(
                        self._store.path, ValueError("the file holds no therapy data")
                    )
            else:
                old_layout = self._store.loaded_version == 1
                # Handed over in a box the executor empties: freeing years of records is
                # work too, and it happens where the last reference goes.
                box = [data]
                del data
                loaded = await self._hass.async_add_executor_job(
                    _read_boxed, box, dt_util.utcnow(), old_layout
                )
                if loaded.dropped:
                    repaired.append(self._store.path)
        if not old_layout:
            await self._async_load_history(loaded, repaired)
        grouped = await self._hass.async_add_executor_job(
            _grouped, loaded.history, loaded.placement
        )
        self._adopt(loaded.history, *grouped)
        self.active = loaded.active
        self.settings = loaded.settings
        self.plans = loaded.plans
        if old_layout:
            # Version 1: every week is written before the main file stops holding them.
            self._dirty.update(self._periods)
        self._dirty.update(loaded.rewrite)
        if loaded.dropped:
            repaired += [self._period_store(period).path for period in sorted(loaded.rewrite)]
            await self._async_report_repaired(loaded, repaired)
        elif old_layout:
            await self.async_save()

    async def _async_load_history(self, loaded: StoredTherapy, repaired: list[str]) -> None:
        """Load every history file the index names or the storage folder holds.

        Also the weeks a crash between writing a week and the index could have left unnamed
        (this one, and those the active sessions started in); a missing named one is reported,
        an unreadable one (or index) kept aside.
        """
        try:
            index = await self._index.async_load()
        except (HomeAssistantError, NotImplementedError, KeyError, TypeError, ValueError) as err:
            await self._async_keep_aside(self._index.path, err, _INDEX)
            index = None
        if index is not None:
            before = len(loaded.dropped)
            read_history_index(index, loaded)
            if len(loaded.dropped) > before:
                repaired.append(self._index.path)
        self._indexed = set(loaded.periods) if not repaired else None
        now = dt_util.utcnow()
        wanted = set(loaded.periods) | {history_period(now)}
        wanted |= {
            history_period(session.started_at)
            for session in loaded.active.values()
            if session.started_at is not None
        }
        folder = os.path.dirname(self._store.path)
        wanted |= await self._hass.async_add_executor_job(_periods_on_disk, folder)
        files: dict[str, object] = {}
        for period in sorted(wanted):
            store = self._period_store(period)
            try:
                data = await store.async_load()
            except (
                HomeAssistantError,
                NotImplementedError,
                KeyError,
                TypeError,
                ValueError,
            ) as err:
                await self._async_keep_aside(store.path, err, period)
                continue
            if data is None:
                if period in loaded.periods:
                    loaded.dropped.append(f"history {period}: the file is missing")
                continue
            files[period] = data
        box = [files]
        del files
        await self._hass.async_add_executor_job(_read_history_boxed, box, loaded)

    async def _async_report_repaired(self, loaded: StoredTherapy, paths: list[str]) -> None:
        """Copy each file (``paths``) aside as it was, say so, and save the cleaned data.

        So the next start does not repair again. Without a copy the original is not
        overwritten.
        """
        stamp = _stamp()
        backups: list[str] = []
        copied = True
        for path in paths:
            backup = f"{path}.before-repair-{stamp}"
            try:
                if await self._hass.async_add_executor_job(_copy_if_exists, path, backup):
                    backups.append(backup)
            except OSError as err:
                _LOGGER.error("Could not copy %s to %s: %s", path, backup, err)
                copied = False
        dropped = loaded.dropped
        _LOGGER.error(
            "Therapy data in %s: %d stored records could not be trusted and were left out or "
            "reset (%s); %s",
            ", ".join(paths) or self._store.path,
            len(dropped),
            "; ".join(dropped),
            f"the files as they were are kept as {', '.join(backups)}"
            if copied and backups
            else "the files are unchanged",
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
                "backup": ", ".join(backups) if copied and backups else self._store.path,
            },
        )
        if copied:
            await self.async_save()

    async def _async_keep_aside(self, path: str, err: Exception, period: str = "") -> None:
        """Move an unreadable file aside and say so.

        The main file (the integration starts empty), one week (the other weeks load) or the index
        (only logged: the weeks are found in the folder too, and the index is written again).
        """
        backup = f"{path}.unreadable-{_stamp()}"
        await self._hass.async_add_executor_job(_move_if_exists, path, backup)
        _LOGGER.error("Therapy data in %s could not be read (%s); kept as %s", path, err, backup)
        if period == _INDEX:
            return
        placeholders = {"backup": backup, "error": str(err)}
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            f"history_week_unreadable_{period.lower()}" if period else "store_unreadable",
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="history_week_unreadable" if period else "store_unreadable",
            translation_placeholders=(
                {**placeholders, "monday": _monday(period).isoformat()} if period else placeholders
            ),
        )

    # -- saving --------------------------------------------------------------------------------

    async def async_forget_panel(self, panel_id: str) -> None:
        """Forget a removed panel.

        Its open session is recorded (stopped, with what it delivered up to now, never past its
        planned end or its own countdown), its settings and protocol runs are dropped. The history
        stays: it is the person's, not the panel's.
        """
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
        """Write now: the history weeks that changed, then the main file (which names them).

        A week is written before the main file drops a session it holds (an ended session
        leaves the active ones as its record joins the history), so a crash between the two
        writes finds the session twice at worst, never lost; the week is loaded even
        before the main file names it.
        """
        while self._dirty:
            period = min(self._dirty)
            self._dirty.discard(period)
            records = self._periods.get(period)
            store = self._period_store(period)
            if records:
                rows = sorted(records.values(), key=lambda record: record.started_at)
                await store.async_save({"records": [record.to_row() for record in rows]})
            else:
                self._periods.pop(period, None)
                await store.async_remove()
        periods = {period for period, records in self._periods.items() if records}
        if periods != self._indexed:
            await self._index.async_save({"periods": history_index(periods)})
            self._indexed = periods
        await self._store.async_save(self._main_data())

    @callback
    def async_delay_save(self) -> None:
        """Write the main file within ``SETTINGS_SAVE_DELAY`` seconds.

        A setting changed. Moving a slider through ten steps writes the file once; a save before
        that (a session) takes the setting along, and Home Assistant writes a pending save when it
        stops.
        """
        self._store.async_delay_save(self._main_data, SETTINGS_SAVE_DELAY)

    @callback
    def _main_data(self) -> dict[str, Any]:
        """Everything but the history's records, copied.

        The file is written in the executor while the event loop may change the settings and runs.
        """
        return {
            "active": {key: session.to_dict() for key, session in self.active.items()},
            "settings": {key: dict(value) for key, value in self.settings.items()},
            "plans": {key: dict(value) for key, value in self.plans.items()},
        }


@dataclass(frozen=True, slots=True)
class PanelSettings:
    """A panel's settings as the entities keep them; None: never set (the default)."""

    minutes: float | None = None
    distance_cm: float | None = None
    area: str | None = None
    calibration: Mapping[str, float] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PanelSettings:
        """From the stored settings (already made safe by ``_trust_settings``)."""
        return cls(
            minutes=data.get("minutes"),
            distance_cm=data.get("distance_cm"),
            area=data.get("area"),
            calibration=data.get("calibration"),
        )


def _monday(period: str) -> date:
    """Return the first day of a history week (``2026-W49``: 2026-11-30)."""
    year, _, week = period.partition("-W")
    return date.fromisocalendar(int(year), int(week), 1)


def _stamp() -> str:
    return dt_util.utcnow().strftime("%Y%m%dT%H%M%S")


def _periods_on_disk(folder: str) -> set[str]:
    """Return the weeks of the history files in ``folder`` (none when it cannot be listed)."""
    prefix = f"{HISTORY_KEY}."
    try:
        names = os.listdir(folder)
    except OSError:
        return set()
    return {
        name.removeprefix(prefix)
        for name in names
        if name.startswith(prefix) and is_period(name.removeprefix(prefix))
    }


def _move_if_exists(path: str, backup: str) -> None:
    if os.path.exists(path):
        os.replace(path, backup)


def _copy_if_exists(path: str, backup: str) -> bool:
    if not os.path.isfile(path):
        return False
    shutil.copy2(path, backup)
    return True


def _read_boxed(box: list[Any], now: datetime, old_layout: bool) -> StoredTherapy:
    """Read the stored data, in the executor.

    Read the data (``old_layout``: of the first layout, with the history), then free its records one
    at a time (freeing a list of 20,000 dicts at once is one long C call that holds the GIL).
    """
    data = box.pop()
    loaded = _read(data, now, old_layout)
    history = data.get("history") if isinstance(data, dict) else None
    records = history.get("records") if isinstance(history, dict) else None
    while isinstance(records, list) and records:
        records.pop()
    return loaded


def _grouped(
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


def _read_history_boxed(box: list[dict[str, object]], loaded: StoredTherapy) -> None:
    """Run in the executor: the history files' records into ``loaded``."""
    files = box.pop()
    read_history_files(files, loaded)
    files.clear()


def _read(data: object, now: datetime, history: bool = True) -> StoredTherapy:
    """Run in the executor: every trusted record, and each panel's settings made safe."""
    loaded = read_stored(data, now, history=history)
    for panel_id, settings in loaded.settings.items():
        _trust_settings(panel_id, settings, loaded.dropped)
    return loaded


def _trust_settings(panel_id: str, settings: dict[str, Any], dropped: list[str]) -> None:
    """Each panel's settings as the entities can show them.

    A number that is not one (text, infinite) or an unknown or eye area falls back to its default; a
    number out of the entity's range is clamped into it. Keys this release does not know are kept.
    """

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


DATA_STORE: HassKey[TherapyStore] = HassKey(DOMAIN)
"""Where the one store shared by every panel is kept (``hass.data``)."""
