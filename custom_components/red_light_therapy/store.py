"""Persistent therapy data: the history of every panel, each panel's active session and settings.

One versioned ``Store`` for the whole integration, because limits are about a person's skin,
not about a panel: a session on one panel counts against the next one on another. An unreadable
file is kept aside as a backup and a repair issue says so; nothing is silently dropped.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .therapy import History, Session, SessionRecord, SessionStatus, TherapyError

_LOGGER = logging.getLogger(__name__)

STORAGE_KEY = f"{DOMAIN}.therapy"
STORAGE_VERSION = 1
STORAGE_MINOR_VERSION = 1


class _VersionedStore(Store[dict[str, Any]]):
    """Migrates older layouts; minor versions only add keys, so they load as they are."""

    async def _async_migrate_func(
        self, old_major_version: int, old_minor_version: int, old_data: dict[str, Any]
    ) -> dict[str, Any]:
        if old_major_version > STORAGE_VERSION:
            raise NotImplementedError(
                f"stored therapy data is version {old_major_version}; this release reads "
                f"up to {STORAGE_VERSION}"
            )
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
        """Load; an unreadable file is moved aside, reported, and replaced by empty data."""
        try:
            data = await self._store.async_load()
            if data is not None:
                self.history = History.from_dict(data["history"])
                self.active = {
                    key: Session.from_dict(value) for key, value in data["active"].items()
                }
                self.settings = {key: dict(value) for key, value in data["settings"].items()}
                self.plans = {key: dict(value) for key, value in data.get("plans", {}).items()}
        except (
            HomeAssistantError,
            NotImplementedError,  # a newer major version than this release reads
            TherapyError,
            KeyError,
            TypeError,
            ValueError,
        ) as err:
            await self._async_keep_aside(err)

    async def _async_keep_aside(self, err: Exception) -> None:
        path = self._store.path
        stamp = dt_util.utcnow().strftime("%Y%m%dT%H%M%S")
        backup = f"{path}.unreadable-{stamp}"
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


def _move_if_exists(path: str, backup: str) -> None:
    if os.path.exists(path):
        os.replace(path, backup)
