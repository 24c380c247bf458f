"""The household operations on the therapy data: whose each record, session and run is.

``TherapyStore`` inherits them (``HouseholdStore``): giving what belongs to no one to a person
(the one-time household migration), giving one session to a person, following a person whose
entity id changed, and keeping a deleted person's data as departed. Each changes the store's
data in place; the history weeks that changed are written by the next save.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from homeassistant.util import dt as dt_util

from .store_files import grouped_by_week
from .therapy import History, Session, SessionRecord
from .therapy._util import stored_person
from .therapy.household import DEPARTED
from .therapy.plans import ProtocolPlan, ProtocolPlanStatus
from .therapy.stored import history_period


class HouseholdStore:
    """Who each record, open session and protocol run belongs to (mixed into ``TherapyStore``)."""

    _active: dict[str, Session]
    _settings: dict[str, dict[str, Any]]
    _plans: dict[str, dict[str, Any]]
    _placement: dict[str, str]
    _dirty: set[str]
    households_migrated: bool

    if TYPE_CHECKING:

        @property
        def history(self) -> History:
            """Every finished session (``TherapyStore.history``)."""

        def _adopt(
            self,
            history: History,
            placement: dict[str, str],
            periods: dict[str, dict[str, SessionRecord]],
        ) -> None:
            """Take ``history`` as the store's (``TherapyStore._adopt``)."""

        async def async_save(self) -> None:
            """Write now (``TherapyStore.async_save``)."""

        def async_delay_save(self) -> None:
            """Write the main file soon (``TherapyStore.async_delay_save``)."""

    def assign_unassigned(self, person: str) -> int:
        """Give everything that belongs to no one to ``person``; return how many changed.

        That is every record, active session and protocol run, for the household's migration;
        ``person`` is a person entity id. The history weeks that changed are written by the
        next save.
        """
        person = person.strip()
        if not person or stored_person(person) != person:
            raise ValueError(f"{person!r} is not a person entity id")
        changed = self._give_records(lambda record: record.person is None, person)
        for session in self._active.values():
            if session.person is None:
                session.person = person
                changed += 1
        for run in self._plans.values():
            if stored_person(run.get("person")) is None:
                run["person"] = person
                changed += 1
        return changed

    async def async_migrate_households(self, only_person: str | None) -> int:
        """Run the household migration once; return how many it gave to ``only_person``.

        The store version bump (2.2): the first time a panel is set up with a store that has not
        been migrated, every unassigned record, open session and run becomes the only person's
        (``only_person``, the household's one person at that moment); with none or several they
        stay unassigned. The flag is written with the data (now when something was given, else
        within ``SETTINGS_SAVE_DELAY``, like a setting), so later setups (a person removed, a
        person added) never give anything away silently.
        """
        if self.households_migrated:
            return 0
        changed = self.assign_unassigned(only_person) if only_person is not None else 0
        self.households_migrated = True
        if changed:
            await self.async_save()
        else:
            self.async_delay_save()
        return changed

    def assign_session(self, session_id: str, person: str) -> bool:
        """Give the record or open session ``session_id`` to ``person``; False when there is none.

        ``person`` is a person entity id; whoever the session belonged to does not matter (the
        ``assign_person`` action). The history week that changed is written by the next save.
        """
        if stored_person(person) != person:
            raise ValueError(f"{person!r} is not a person entity id")
        for session in self._active.values():
            if session.id == session_id:
                session.person = person
                return True
        return self._give_records(lambda record: record.id == session_id, person) > 0

    def _give_records(self, matches: Callable[[SessionRecord], bool], person: str) -> int:
        """Give every record that ``matches`` to ``person``; return how many changed.

        The history weeks that changed are written by the next save.
        """
        changed = 0
        records = list(self.history.records)
        for index, record in enumerate(records):
            if matches(record):
                records[index] = replace(record, person=person)
                self._dirty.add(self._placement.get(record.id) or history_period(record.started_at))
                changed += 1
        if changed:
            history = History(records)
            self._adopt(history, *grouped_by_week(history, self._placement))
        return changed

    def depart_person(self, person: str) -> int:
        """Re-key everything of the deleted ``person`` to ``DEPARTED``; return how many changed.

        Their records, open sessions and runs are kept, but belong to nobody: a new person who gets
        the same entity id starts empty. Their unfinished runs are stopped now (nobody follows
        them any more: no next session, no reminder), and a panel's choice of them is forgotten.
        The history weeks that changed are written by the next save.
        """
        changed = self.rename_person(person, DEPARTED)
        now = dt_util.utcnow()
        for plan_id, stored in self._plans.items():
            if stored.get("person") != DEPARTED:
                continue
            plan = ProtocolPlan.from_dict(stored)
            if plan.status in (ProtocolPlanStatus.ACTIVE, ProtocolPlanStatus.PAUSED):
                plan.stop(now)
                self._plans[plan_id] = plan.to_dict()
        for settings in self._settings.values():
            if settings.get("person") == DEPARTED:
                del settings["person"]
        return changed

    def rename_person(self, old: str, new: str) -> int:
        """Move everything of person ``old`` to ``new``; return how many changed.

        A person's entity id changed from ``old`` to ``new``: every record, open session, protocol
        run and panel choice of ``old`` follows, so nothing reads as a departed person's; how many
        changed. The history weeks that changed are written by the next save.
        """
        if stored_person(new) != new:
            raise ValueError(f"{new!r} is not a person entity id")
        changed = self._give_records(lambda record: record.person == old, new)
        for session in self._active.values():
            if session.person == old:
                session.person = new
                changed += 1
        for container in (*self._plans.values(), *self._settings.values()):
            if container.get("person") == old:
                container["person"] = new
                changed += 1
        return changed
