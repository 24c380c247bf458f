"""A calendar per panel: the planned, done, missed and skipped sessions of its protocol runs.

Done sessions show when they really ran; the others at their planned time, as long as the
protocol dose takes at the panel's distance and levels (``ProtocolManager.session_minutes``,
which a new run's free time of day is chosen by too). ``event`` is the next pending session,
so calendar triggers and cards work.

In a home with two or more persons every event is named with the person whose run it is
("Alice: Knee course (planned)"; an unassigned run's "Unassigned: …"), so one calendar per
panel shows the whole household. One calendar per person would add an entity per person and
panel, and a calendar card can still filter by the name. With one person or none the names
are as before.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from homeassistant.components.calendar import CalendarEntity, CalendarEvent
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .entity import RedLightTherapyEntity
from .models import RedLightTherapyConfigEntry, RedLightTherapyData
from .persons import async_persons, person_labels
from .protocol_manager import ANYONE, Run
from .session_manager import date_words
from .therapy import (
    DoseBand,
    PlannedSession,
    SessionRecord,
    SlotStatus,
)

PARALLEL_UPDATES = 0

LABELS = {
    SlotStatus.DONE: "done",
    SlotStatus.MISSED: "missed",
    SlotStatus.SKIPPED: "skipped",
    SlotStatus.DUE: "due",
    SlotStatus.UPCOMING: "planned",
    SlotStatus.IN_PROGRESS: "in progress",
}
# The light a protocol's dose is counted in, as the event's description says it.
LIGHT_WORDS = {
    DoseBand.RED: "red light",
    DoseBand.NIR: "near-infrared light",
    DoseBand.BOTH: "red and near-infrared light",
}


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RedLightTherapyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the panel's protocol calendar."""
    async_add_entities([ProtocolCalendar(entry.runtime_data)])


class ProtocolCalendar(RedLightTherapyEntity, CalendarEntity):
    """Sessions of every protocol run of the panel (finished runs too)."""

    _attr_translation_key = "protocol"

    def __init__(self, data: RedLightTherapyData) -> None:
        """Make the protocol calendar."""
        super().__init__(data, "protocol_calendar")

    def _length(self, run: Run) -> timedelta:
        return timedelta(minutes=self._data.protocols.session_minutes(run.plan))

    def _whose(self, run: Run) -> str:
        """Return "Alice: " to put before an event's name in a home of several persons, else ""."""
        persons = async_persons(self.hass)
        if len(persons) < 2:
            return ""
        person = self._data.protocols.person_of(run.plan)
        if person is None:
            return "Unassigned: "
        name = person_labels(persons).get(person)
        return f"{name or 'Someone no longer in this home'}: "

    def _event(
        self, run: Run, session: PlannedSession, records: dict[str, SessionRecord]
    ) -> CalendarEvent:
        plan, protocol = run.plan, run.plan.protocol
        record = records.get(session.record_id) if session.record_id else None
        if record is not None:
            start, end = record.started_at, record.ended_at
        else:
            start = session.scheduled_at
            end = start + self._length(run)
        label = LABELS[session.status]
        if session.catch_up:
            today = dt_util.now().date()
            label = f"{label}, catch-up for {date_words(session.original_date, today)}"
        return CalendarEvent(
            start=dt_util.as_local(start),
            end=dt_util.as_local(end),
            summary=f"{self._whose(run)}{protocol.name} ({label})",
            description=(
                f"{protocol.dose_j_cm2:g} J/cm² of {LIGHT_WORDS[protocol.band]} on the "
                f"{plan.area.replace('_', ' ')}; "
                f"session {session.index + 1} of {run.report.total}."
            ),
            uid=f"{plan.id}_{session.index}",
        )

    def _records(self) -> dict[str, SessionRecord]:
        return {record.id: record for record in self._data.sessions.history.records}

    @property
    def event(self) -> CalendarEvent | None:
        """The soonest pending session of any run, or None when nothing is planned."""
        found = self._data.protocols.next_session_of(ANYONE)
        if found is None:
            return None
        return self._event(found[0], found[1], {})

    async def async_get_events(
        self, hass: HomeAssistant, start_date: datetime, end_date: datetime
    ) -> list[CalendarEvent]:
        """Return the sessions of every run that overlap ``start_date`` to ``end_date``.

        A session that ran shows the times it really ran (from the session history); the
        others show the time they were planned for, lasting one session.
        """
        records = self._records()
        events = [
            self._event(run, session, records)
            for run in self._data.protocols.runs
            for session in run.report.sessions
        ]
        return sorted(
            (e for e in events if e.end_datetime_local > start_date and e.start < end_date),
            key=lambda e: e.start_datetime_local,
        )
