"""Persistent therapy data: the history of every panel, each panel's active session and settings.

One store for the whole integration, because limits are about a person's skin, not about a
panel: a session on one panel counts against the next one on another. ``TherapyStore`` is the
API the rest of the integration changes the data through, and it saves: the main file and only
the history weeks that changed. Which files there are is ``store_files.py``'s; loading them
untrusted and repairing them, ``store_load.py``'s; whose each record, session and run is (the
household operations ``TherapyStore`` inherits), ``store_persons.py``'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .store_files import (
    HISTORY_KEY,
    HISTORY_VERSION,
    STORAGE_KEY,
    STORAGE_MINOR_VERSION,
    STORAGE_VERSION,
    TherapyFiles,
    grouped_by_week,
)
from .store_load import async_load_files, async_report_repaired
from .store_persons import HouseholdStore
from .therapy import History, Session, SessionRecord, SessionStatus
from .therapy.plans import ProtocolPlan
from .therapy.stored import history_index, history_period

__all__ = [
    "HISTORY_KEY",
    "HISTORY_VERSION",
    "SETTINGS_SAVE_DELAY",
    "STORAGE_KEY",
    "STORAGE_MINOR_VERSION",
    "STORAGE_VERSION",
    "PanelSettings",
    "TherapyStore",
]

SETTINGS_SAVE_DELAY = 10
"""Seconds a changed setting waits before the file is written (``async_delay_save``)."""


class TherapyStore(HouseholdStore):
    """History, active sessions, per-panel settings and protocol runs.

    The main file (``STORAGE_KEY``) holds the active sessions, settings and runs, and the
    list of history files; the history is kept in one file per ISO week of the sessions'
    starts (``HISTORY_KEY``.<week>). A save writes the main file and only the weeks whose
    records changed: a session writes its start, its end and this week's few records,
    whatever the years before it hold.

    ``active``, ``settings`` and ``plans`` are read-only views: the methods below
    (``async_start_session``, ``async_end_session``, ``async_record_session``,
    ``async_set_setting``, ``async_update_settings``, ``async_save_run``, ...) are the way to
    change them. ``history`` may still be changed in place (``History.on_change`` tells the
    store which weeks to write).
    """

    def __init__(self, hass: HomeAssistant) -> None:
        """Prepare the store; nothing is read until it loads."""
        self._hass = hass
        self._files = TherapyFiles(hass)
        self._history = History()
        self._history.on_change = self._history_changed
        self._placement: dict[str, str] = {}
        self._periods: dict[str, dict[str, SessionRecord]] = {}
        self._indexed: set[str] | None = set()
        """The weeks the index file names (None: it must be written again)."""
        self._dirty: set[str] = set()
        self._active: dict[str, Session] = {}
        self._settings: dict[str, dict[str, Any]] = {}
        # Protocol runs by id (``therapy.ProtocolPlan.to_dict``); read by ``protocol_manager``.
        self._plans: dict[str, dict[str, Any]] = {}
        self.households_migrated = False
        """The one-time household migration has run (``async_migrate_households``)."""

    @property
    def active(self) -> Mapping[str, Session]:
        """Each panel's open session by panel id (read-only: see ``async_start_session``)."""
        return MappingProxyType(self._active)

    @property
    def plans(self) -> Mapping[str, Mapping[str, Any]]:
        """Each protocol run as stored, by run id (read-only: see ``async_save_run``)."""
        return MappingProxyType(
            {key: MappingProxyType(value) for key, value in self._plans.items()}
        )

    @property
    def settings(self) -> Mapping[str, Mapping[str, Any]]:
        """Each panel's stored settings by panel id (read-only: see ``async_set_setting``)."""
        return MappingProxyType(
            {key: MappingProxyType(value) for key, value in self._settings.items()}
        )

    # -- the history and where each record is kept ------------------------------------------

    @property
    def history(self) -> History:
        """Every finished session; ``append`` and ``remove`` mark its week to be written."""
        return self._history

    @history.setter
    def history(self, history: History) -> None:
        """Replace the whole history (a reassignment): every week is written again."""
        self._dirty.update(self._periods)
        self._adopt(history, *grouped_by_week(history, {}))
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

    # -- the API -------------------------------------------------------------------------------

    async def async_start_session(self, session: Session) -> None:
        """Make ``session`` the panel's active one, and write it now.

        That is before the panel switches on, so a restart finds it.
        """
        if session.panel_id is None:
            raise ValueError("an active session belongs to a panel")
        self._active[session.panel_id] = session
        await self.async_save()

    async def async_end_session(self, panel_id: str, record: SessionRecord | None = None) -> None:
        """End the panel's open session, its ``record`` (if it ran) joining the history; write now.

        A panel without an open session changes nothing but the record's joining.
        """
        self._active.pop(panel_id, None)
        if record is not None:
            self.history.append(record)
        await self.async_save()

    async def async_record_session(self, record: SessionRecord) -> None:
        """``record`` joins the history and its panel's active session (same id) ends."""
        if record.panel_id is not None:
            active = self._active.get(record.panel_id)
            if active is not None and active.id == record.id:
                del self._active[record.panel_id]
        self.history.append(record)
        await self.async_save()

    async def async_remove_session(self, record_id: str) -> SessionRecord:
        """Take a record out of the history (unknown: ``HistoryError``) and write its week."""
        record = self.history.remove(record_id)
        await self.async_save()
        return record

    def panel_settings(self, panel_id: str) -> PanelSettings:
        """Return the panel's settings, typed (what was never set is None)."""
        return PanelSettings.from_dict(self._settings.get(panel_id, {}))

    def setting(self, panel_id: str, key: str) -> Any:
        """Return the stored value of one of the panel's settings, or None when never set."""
        return self._settings.get(panel_id, {}).get(key)

    @callback
    def async_set_setting(self, panel_id: str, key: str, value: Any) -> None:
        """Store one of the panel's settings under ``key`` (any key, ``person`` too) as given.

        It is written within ``SETTINGS_SAVE_DELAY``: a slider drag writes once.
        """
        self._settings.setdefault(panel_id, {})[key] = value
        self.async_delay_save()

    @callback
    def async_update_settings(self, panel_id: str, **changes: Any) -> PanelSettings:
        """Change some of the panel's settings (``minutes=12``; None forgets one).

        They are written within ``SETTINGS_SAVE_DELAY``: a slider drag writes once.
        """
        unknown = set(changes) - set(PanelSettings.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown settings {sorted(unknown)}")
        stored = self._settings.setdefault(panel_id, {})
        for key, value in changes.items():
            if value is None:
                stored.pop(key, None)
            else:
                stored[key] = dict(value) if key == "calibration" else value
        self.async_delay_save()
        return PanelSettings.from_dict(stored)

    def runs(self) -> dict[str, ProtocolPlan]:
        """Return the protocol runs, typed (every stored one was checked when it was loaded)."""
        return {key: ProtocolPlan.from_dict(value) for key, value in self._plans.items()}

    async def async_save_run(self, plan: ProtocolPlan) -> None:
        """Add or replace a protocol run, written now."""
        self._plans[plan.id] = plan.to_dict()
        await self.async_save()

    @callback
    def async_save_runs_later(self, plans: Iterable[ProtocolPlan]) -> None:
        """Add or replace protocol runs now, written by one save in a task.

        For a caller that cannot wait, such as a run completed by a session recorded.
        """
        for plan in plans:
            self._plans[plan.id] = plan.to_dict()
        self._hass.async_create_task(self.async_save(), eager_start=True)

    async def async_remove_run(self, plan_id: str) -> None:
        """Forget a protocol run (an unknown id changes nothing), written now."""
        if self._plans.pop(plan_id, None) is not None:
            await self.async_save()

    # -- loading -------------------------------------------------------------------------------

    async def async_load(self) -> None:
        """Load what can be trusted (``store_load.async_load_files``).

        An unreadable file is moved aside, reported, and replaced by empty data; a readable one with
        untrusted records is copied aside, reported, and loaded without them, and the cleaned data
        is saved. The same holds for each history file on its own, and the history is read even
        when the main file is lost.
        """
        files = await async_load_files(self._hass, self._files)
        loaded = files.therapy
        self._indexed = files.indexed
        grouped = await self._hass.async_add_executor_job(
            grouped_by_week, loaded.history, loaded.placement
        )
        self._adopt(loaded.history, *grouped)
        self._active = loaded.active
        self._settings = loaded.settings
        self._plans = loaded.plans
        self.households_migrated = loaded.households_migrated
        if files.old_layout:
            # Version 1: every week is written before the main file stops holding them.
            self._dirty.update(self._periods)
        self._dirty.update(loaded.rewrite)
        if loaded.dropped:
            repaired = files.repaired + [
                self._files.week(period).path for period in sorted(loaded.rewrite)
            ]
            if await async_report_repaired(self._hass, self._files, loaded.dropped, repaired):
                await self.async_save()
        elif files.old_layout:
            await self.async_save()

    # -- saving --------------------------------------------------------------------------------

    async def async_forget_panel(self, panel_id: str) -> None:
        """Forget a removed panel.

        Its open session is recorded (stopped, with what it delivered up to now, never past its
        planned end or its own countdown), its settings and protocol runs are dropped. The history
        stays: it is the person's, not the panel's.
        """
        session = self._active.pop(panel_id, None)
        if session is not None and session.started_at is not None and not session.is_final:
            now = dt_util.utcnow()
            ends_at = session.ends_at
            end = min(now, ends_at) if ends_at is not None else now
            session.close(end, SessionStatus.STOPPED, stop_at_end_completes=False)
            self.history.append(SessionRecord.from_session(session))
        self._settings.pop(panel_id, None)
        for plan_id in [k for k, v in self._plans.items() if v.get("panel_id") == panel_id]:
            del self._plans[plan_id]
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
            store = self._files.week(period)
            if records:
                rows = sorted(records.values(), key=lambda record: record.started_at)
                await store.async_save({"records": [record.to_row() for record in rows]})
            else:
                self._periods.pop(period, None)
                await store.async_remove()
        periods = {period for period, records in self._periods.items() if records}
        if periods != self._indexed:
            await self._files.index.async_save({"periods": history_index(periods)})
            self._indexed = periods
        await self._files.main.async_save(self._main_data())

    @callback
    def async_delay_save(self) -> None:
        """Write the main file within ``SETTINGS_SAVE_DELAY`` seconds.

        A setting changed. Moving a slider through ten steps writes the file once; a save before
        that (a session) takes the setting along, and Home Assistant writes a pending save when it
        stops.
        """
        self._files.main.async_delay_save(self._main_data, SETTINGS_SAVE_DELAY)

    @callback
    def _main_data(self) -> dict[str, Any]:
        """Everything but the history's records, copied.

        The file is written in the executor while the event loop may change the settings and runs.
        """
        return {
            "active": {key: session.to_dict() for key, session in self._active.items()},
            "settings": {key: dict(value) for key, value in self._settings.items()},
            "plans": {key: dict(value) for key, value in self._plans.items()},
            "households_migrated": self.households_migrated,
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
        """From the stored settings (already made safe by ``store_load._trust_settings``)."""
        return cls(
            minutes=data.get("minutes"),
            distance_cm=data.get("distance_cm"),
            area=data.get("area"),
            calibration=data.get("calibration"),
        )


DATA_STORE: HassKey[TherapyStore] = HassKey(DOMAIN)
"""Where the one store shared by every panel is kept (``hass.data``)."""
