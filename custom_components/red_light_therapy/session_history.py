"""A panel's history commands: log a session done elsewhere, remove one, and what they answer.

``SessionHistory`` is its ``SessionManager``'s ``records``: it records a logged session or takes one
out of the shared history, reads the panel's last record again when sessions changed person,
says what a record is in the session events and the answers
(``record_data``), finds the panel's last record and gives each new session an id no other has.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.core import callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util, ulid as ulid_util

from .const import DOMAIN
from .coordinator import PanelCoordinator
from .store import TherapyStore
from .therapy import Session, SessionRecord, TherapyError
from .words import _same_minute, therapy_error, when_words

if TYPE_CHECKING:
    from .session_manager import SessionManager


class SessionHistory:
    """The history commands of one panel: log, remove, and the records' ids and data."""

    def __init__(
        self, coordinator: PanelCoordinator, store: TherapyStore, sessions: SessionManager
    ) -> None:
        """Keep the history of ``store`` for the panel of ``sessions``."""
        self._coordinator = coordinator
        self._store = store
        self._sessions = sessions
        self.panel_id = coordinator.config_entry.entry_id

    def new_id(self) -> str:
        """Return a session id no stored or open session has.

        ULIDs are time and randomness, but two made in the same millisecond from a reseeded
        generator (a test's frozen clock, a restored snapshot) can repeat: a repeat would refuse to
        record the session.
        """
        taken = {session.id for session in self._store.active.values()}
        while (new := ulid_util.ulid_now()) in self._store.history or new in taken:
            pass
        return new

    async def async_log(
        self,
        *,
        started_at: datetime,
        minutes: float,
        area: str | None = None,
        distance_cm: float | None = None,
        person: str | None = None,
    ) -> SessionRecord:
        """Record a session done away from Home Assistant for ``person``.

        ``person`` None: the panel's current person. The session counts toward their limits.
        """
        sessions = self._sessions
        settings = sessions.panel_settings
        area = settings.validated_area(area or settings.area)
        distance = distance_cm or settings.distance_cm
        irradiance = settings.irradiance_at(distance)
        ended_at = started_at + timedelta(minutes=minutes)
        if ended_at > dt_util.utcnow():
            raise ServiceValidationError(translation_domain=DOMAIN, translation_key="log_in_future")
        try:
            session = Session.logged(
                id=self.new_id(),
                area=area,
                started_at=started_at,
                ended_at=ended_at,
                irradiance=irradiance,
                distance_cm=distance,
                panel_id=self.panel_id,
            )
            session.person = person if person is not None else sessions.persons.current_person()
            record = SessionRecord.from_session(session)
        except TherapyError as err:
            raise therapy_error(err) from err
        await self._store.async_record_session(record)
        sessions.last_session = self.last_record()
        sessions.events.changed(record.area)
        return record

    async def async_remove(
        self, *, session_id: str | None = None, started_at: datetime | None = None
    ) -> SessionRecord:
        """Take a recorded or logged session out of the history, by its id or its start.

        By its id (any panel's: the history is shared), or by the minute it started on this panel.
        The sensors, the lockout and the limits follow at once. A session still open (running or
        paused) is refused: stop it first.
        """
        open_session = self._sessions.session
        if open_session is not None and (
            open_session.id == session_id
            or (started_at is not None and _same_minute(open_session.started_at, started_at))
        ):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="remove_open_session",
                translation_placeholders={"name": self._coordinator.name},
            )
        history = self._store.history
        if session_id is not None:
            found = [r for r in history if r.id == session_id]
            asked = session_id
        else:
            found = [
                r
                for r in history
                if r.panel_id == self.panel_id and _same_minute(r.started_at, started_at)
            ]
            asked = when_words(started_at) if started_at else ""
        if not found:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="session_not_found",
                translation_placeholders={"name": self._coordinator.name, "session": asked},
            )
        if len(found) > 1:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="session_ambiguous",
                translation_placeholders={"session": asked, "count": str(len(found))},
            )
        record = await self._store.async_remove_session(found[0].id)
        self._sessions.last_session = self.last_record()
        self._sessions.events.changed(record.area)
        return record

    @callback
    def async_persons_changed(self) -> None:
        """Read the last record again after sessions were given to another person.

        After ``assign_person`` or a renamed person; the panel's entities follow.
        """
        self._sessions.last_session = self.last_record()
        self._coordinator.async_update_listeners()

    def removed_data(self, record: SessionRecord) -> dict[str, Any]:
        """Return what ``remove_session`` answers about the record it removed."""
        return self.record_data(record) | {
            "status": record.status.value,
            "started_at": dt_util.as_local(record.started_at).isoformat(),
            "ended_at": dt_util.as_local(record.ended_at).isoformat(),
        }

    def record_data(self, record: SessionRecord | None) -> dict[str, Any]:
        """Return what a session event and an answer say about ``record`` (empty: none)."""
        if record is None:
            return {}
        return {
            "session_id": record.id,
            "area": record.area,
            "origin": record.origin.value,
            "minutes": round(record.on_seconds / 60, 2),
            "dose_j_cm2": round(record.dose.total, 3),
            "red_dose_j_cm2": round(record.dose.red, 3),
            "nir_dose_j_cm2": round(record.dose.nir, 3),
            "person": record.person,
            "person_name": self._sessions.planner.person_name(record.person),
        }

    def last_record(self) -> SessionRecord | None:
        """Return the last session recorded on this panel (None: none yet)."""
        for record in reversed(self._store.history.records):
            if record.panel_id == self.panel_id:
                return record
        return None
