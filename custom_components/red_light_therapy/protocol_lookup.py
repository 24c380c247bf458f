"""Which protocol runs a person has: the per-person lookup of one panel's runs.

A run belongs to a person (``household.owner``). Commands and the panel's entities act on
the runs of one person: the one named, else the panel's current person (``current_person``,
the "Who is using the panel" choice). A person without a run of their own there also
reaches the unassigned runs (runs from before households in a home of several), so those
can still be stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util

from . import protocol_data
from .const import DOMAIN
from .coordinator import PanelCoordinator
from .persons import async_household, async_person_name
from .protocol_data import Run
from .protocol_schedule import UNFINISHED
from .therapy import (
    DoseBand,
    PlannedSession,
    ProtocolPlan,
    ProtocolPlanReport,
    ProtocolPlanStatus,
    SlotStatus,
)
from .therapy.household import Household, owner


class _Current:
    """The ``person`` default: the panel's current person."""

    def __repr__(self) -> str:
        return "CURRENT"


CURRENT: Any = _Current()
"""``person=CURRENT``: whoever is using the panel now (``current_person``)."""
ANYONE: Any = _Current()
"""``person=ANYONE`` (queries): every person's runs."""


class RunLookup:
    """The runs of one panel, found by person and area; changes nothing.

    ``plans`` and ``reports`` are the panel's runs and their reports by id, shared with the
    ``ProtocolManager`` that changes them. ``treatment_area`` and ``current_person`` tell
    the panel's treatment area and its current person now; they are read when needed.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        coordinator: PanelCoordinator,
        plans: dict[str, ProtocolPlan],
        reports: dict[str, ProtocolPlanReport],
        *,
        treatment_area: Callable[[], str],
        current_person: Callable[[], str | None],
    ) -> None:
        """Keep what the lookup reads."""
        self._hass = hass
        self._coordinator = coordinator
        self._plans = plans
        self._reports = reports
        self._treatment_area = treatment_area
        self._current_person = current_person

    @property
    def runs(self) -> list[Run]:
        """Every run of this panel (finished ones too), oldest first."""
        return [
            Run(plan, self._reports[plan.id])
            for plan in sorted(self._plans.values(), key=lambda p: (p.start_date, p.id))
            if plan.id in self._reports
        ]

    @property
    def unfinished(self) -> list[Run]:
        """Every person's unfinished runs on this panel."""
        return [run for run in self.runs if run.plan.status in UNFINISHED]

    def household(self) -> Household:
        """Return the persons who may use the panels, whom the runs belong to."""
        return async_household(self._hass)

    def person_of(self, plan: ProtocolPlan) -> str | None:
        """Return whose run ``plan`` is: its person, else the home's only person, else None."""
        return protocol_data.person_of(self._hass, plan)

    def person_fields(self, plan: ProtocolPlan) -> tuple[str | None, str | None]:
        """Return the run's person (entity id) and their name, for events and answers."""
        return protocol_data.person_fields(self._hass, plan)

    def describe(self, plan: ProtocolPlan, session: PlannedSession | None) -> dict[str, Any]:
        """Return ``session_data`` with the run's person and their name."""
        return protocol_data.describe(self._hass, plan, session)

    @staticmethod
    def figures(report: ProtocolPlanReport) -> dict[str, Any]:
        """Return a run's progress figures as event data, percentages rounded to one decimal."""
        return protocol_data.figures(report)

    def no_run_error(self, person: str | None = CURRENT) -> ServiceValidationError:
        """Return the refusal for ``person`` having no protocol run on this panel.

        In a home of several persons it names them ("Carl has no protocol run on ..."): others
        may well have runs here; else "No protocol run is active on ...".
        """
        name = self._coordinator.name
        who = None if person is ANYONE else self.resolve(person)
        shown = async_person_name(self._hass, who) if who is not None else None
        if shown is not None and len(self.household().persons) > 1:
            return ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="no_protocol_run_for_person",
                translation_placeholders={"person": shown, "name": name},
            )
        return ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="no_protocol_run",
            translation_placeholders={"name": name},
        )

    def resolve(self, person: str | None) -> str | None:
        """Return ``person``, or the panel's current person for ``CURRENT``."""
        return self._current_person() if person is CURRENT else person

    def runs_of(self, person: str | None = CURRENT) -> list[Run]:
        """Return the unfinished runs of ``person``.

        ``person`` defaults to the panel's current person; ``ANYONE`` gives every run. A
        person without a run of their own reaches the unassigned ones.
        """
        runs = self.unfinished
        if person is ANYONE:
            return runs
        person = self.resolve(person)
        household = self.household()
        own = [run for run in runs if owner(run.plan, household) == person]
        if own or person is None:
            return own
        return [run for run in runs if owner(run.plan, household) is None]

    @property
    def current_runs(self) -> list[Run]:
        """The unfinished runs the panel's entities offer: the current person's."""
        return self.runs_of(CURRENT)

    @property
    def current(self) -> Run | None:
        """The run the entities show and the select stops.

        That is the current person's unfinished run on the panel's treatment area, else
        the one of theirs a session started now belongs to (see ``_most_urgent_run``).
        The Treatment area select therefore chooses which of several runs the entities
        show.
        """
        runs = self.current_runs
        on_area = [run for run in runs if run.plan.area == self._treatment_area()]
        return on_area[0] if on_area else self._most_urgent_run(runs)

    def _most_urgent_run(self, runs: list[Run]) -> Run | None:
        """Return a run with a session due, else the one on the panel's area, else the soonest."""
        if not runs:
            return None
        for run in runs:
            if any(s.status is SlotStatus.DUE for s in run.report.sessions):
                return run
        for run in runs:
            if run.plan.area == self._treatment_area():
                return run
        far = datetime.max.replace(tzinfo=dt_util.UTC)

        def soonest(run: Run) -> datetime:
            due = run.report.next_due
            return dt_util.as_utc(due.scheduled_at) if due else far

        return min(runs, key=soonest)

    @property
    def next_session(self) -> tuple[Run, PlannedSession] | None:
        """The soonest pending session of the current person's runs."""
        return self.next_session_of(CURRENT)

    def next_session_of(self, person: str | None = ANYONE) -> tuple[Run, PlannedSession] | None:
        """Return the soonest pending session of ``person``'s runs (``ANYONE``: of every run)."""
        pending = [
            (run, run.report.next_due) for run in self.runs_of(person) if run.report.next_due
        ]
        if not pending:
            return None
        run, session = min(pending, key=lambda p: dt_util.as_utc(p[1].scheduled_at))
        assert session is not None
        return run, session

    def run_defaults(
        self, area: str | None, person: str | None = CURRENT
    ) -> tuple[float, DoseBand, str] | None:
        """Return the dose, band and area of a session started now without dose or minutes.

        They are those of ``person``'s active run on ``area`` (any area when None), the
        most urgent of several; ``person`` defaults to the panel's current person. None
        when no run is active there.
        """
        runs = [
            run
            for run in self.runs_of(person)
            if run.plan.status is ProtocolPlanStatus.ACTIVE
            and (area is None or run.plan.area == area)
        ]
        run = self._most_urgent_run(runs)
        if run is None:
            return None
        protocol = run.plan.protocol
        return protocol.dose_j_cm2, protocol.band, run.plan.area

    def find(self, area: str | None = None, person: str | None = CURRENT) -> Run:
        """Return ``person``'s unfinished run on ``area``, or their only one.

        Raise a translated error when there is none, or several and no area says which.
        """
        runs = [r for r in self.runs_of(person) if area is None or r.plan.area == area]
        name = self._coordinator.name
        if not runs:
            raise self.no_run_error(person)
        if len(runs) > 1:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="protocol_run_ambiguous",
                translation_placeholders={
                    "name": name,
                    "areas": ", ".join(r.plan.area for r in runs),
                },
            )
        return runs[0]
