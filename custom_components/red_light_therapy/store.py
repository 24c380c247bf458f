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
import logging
import os
import shutil
from typing import Any

from homeassistant.core import HomeAssistant
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


class _VersionedStore(Store[dict[str, Any]]):
    """Migrates older layouts; minor versions only add keys, so they load as they are."""

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
        # Protocol runs by id (``therapy.Plan.to_dict``); read by ``protocol_manager``.
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
        loaded = await self._hass.async_add_executor_job(_read, data, dt_util.utcnow())
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "history": self.history.to_dict(),
            "active": {key: session.to_dict() for key, session in self.active.items()},
            "settings": self.settings,
            "plans": self.plans,
        }

    async def async_forget_panel(self, panel_id: str) -> None:
        """A removed panel: its open session is recorded (stopped, with what it delivered up
        to now, never past its planned end or its own countdown), its settings and protocol
        runs are dropped. The history stays: it is the person's, not the panel's."""
        session = self.active.pop(panel_id, None)
        if session is not None and session.started_at is not None and not session.is_final:
            end = dt_util.utcnow()
            if session.status is SessionStatus.RUNNING:
                for deadline in (session.ends_at, session.device_deadline):
                    if deadline is not None:
                        end = min(end, deadline)
            last = session.last_event_at
            session.finish(max(end, last) if last else end, SessionStatus.STOPPED)
            self.history.append(SessionRecord.from_session(session))
        self.settings.pop(panel_id, None)
        for plan_id in [k for k, v in self.plans.items() if v.get("panel_id") == panel_id]:
            del self.plans[plan_id]
        await self.async_save()

    async def async_save(self) -> None:
        """Write now: used before a panel is switched on and when a session is recorded."""
        await self._store.async_save(self.as_dict())


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
