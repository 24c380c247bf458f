"""Protocol runs of one panel: the runs kept in the store, and the commands that change them.

A run is a ``therapy.ProtocolPlan`` (a protocol on a calendar) and belongs to a person (its
``person``, a person entity id; None: unassigned, which in a one-person home is that person's,
``household.owner``). Its next session, progress, adherence and streak are computed from that
person's records only (``household.records_of``). Several runs may coexist on one panel; a
person has at most one unfinished run per area (on any panel: history is shared, and two of
their runs on one area would count the same sessions), while two persons may each run one on
the same area of the same panel. Runs are saved in the shared ``TherapyStore`` under ``plans``
and survive restarts.

``ProtocolManager`` is what the rest of the integration talks to. It finds a person's runs
as ``protocol_lookup.RunLookup`` (its base), leaves their evaluation, events, scheduled
callback and undeliverable-run repairs to ``protocol_schedule.RunSchedule``, and what a run
says (event data, figures, repair words) to ``protocol_data``.

The manager knows nothing of sessions but what it is given: the history in the shared store,
the panel's treatment area and its irradiance now (two functions passed in at setup). A
session started during a run asks ``run_defaults`` for the run's dose, band and area.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, time
import logging
from typing import Any, TypedDict, Unpack
from zoneinfo import ZoneInfo

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util, ulid as ulid_util

from . import protocol_data
from .const import DOMAIN
from .coordinator import PanelCoordinator
from .protocol_data import Run, undeliverable_issue_id
from .protocol_lookup import ANYONE, CURRENT, RunLookup
from .protocol_schedule import UNFINISHED, RunSchedule
from .session_manager import therapy_error
from .store import TherapyStore
from .therapy import (
    BandIrradiance,
    MissedPolicy,
    Protocol,
    ProtocolPlan,
    ProtocolPlanStatus,
    SlotStatus,
    TherapyError,
    check_start_date,
    default_time_of_day,
    free_time_of_day,
)
from .therapy._util import stored_person
from .therapy.household import owner

_LOGGER = logging.getLogger(__name__)

__all__ = ["ANYONE", "CURRENT", "ProtocolManager", "Run", "undeliverable_issue_id"]


class RunOptions(TypedDict, total=False):
    """How a run is asked to start, beside its protocol (``ProtocolManager.prepare``)."""

    area: str | None
    start_date: date | None
    weekdays: Iterable[int] | None
    time_of_day: time | None
    missed_policy: MissedPolicy
    person: str | None


def spread_weekdays(first: int, per_week: int) -> frozenset[int]:
    """Return ``per_week`` weekdays spread evenly over the week, starting on ``first``."""
    return frozenset((first + (i * 7) // per_week) % 7 for i in range(per_week))


class ProtocolManager(RunLookup):
    """The protocol runs of one panel: its lookup (``RunLookup``) and the commands.

    ``treatment_area`` and ``irradiance`` tell the panel's treatment area and its irradiance at
    its distance and levels now (None: not known); they are read when needed, never kept.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        coordinator: PanelCoordinator,
        store: TherapyStore,
        *,
        treatment_area: Callable[[], str],
        irradiance: Callable[[], BandIrradiance | None],
        current_person: Callable[[], str | None] = lambda: None,
    ) -> None:
        """Read the panel's runs from ``store`` and follow the panel's updates."""
        plans: dict[str, ProtocolPlan] = {}
        self._schedule = RunSchedule(hass, coordinator, store, plans, irradiance)
        super().__init__(
            hass,
            coordinator,
            plans,
            self._schedule.reports,
            treatment_area=treatment_area,
            current_person=current_person,
        )
        self._store = store
        self.panel_id = coordinator.config_entry.entry_id
        for plan_id, data in store.plans.items():
            if data.get("panel_id") != self.panel_id:
                continue
            try:
                self._plans[plan_id] = ProtocolPlan.from_dict(data)
            except TherapyError as err:
                _LOGGER.error("Protocol run %s could not be read (%s); ignored", plan_id, err)
        self._schedule.refresh(fire=False)
        self._remove_listener = coordinator.async_add_listener(self._schedule.handle_update)

    # -- commands --------------------------------------------------------------------------

    async def async_start(self, protocol: Protocol, **options: Unpack[RunOptions]) -> Run:
        """Start a run of ``protocol`` as ``prepare`` makes it of ``options``.

        For the panel's current person unless ``person`` is given. Unless given, it starts today,
        with the sessions spread over the week, at the time of day it is now (rounded).
        """
        return await self.async_adopt(self.prepare(protocol, **options))

    async def async_adopt(self, plan: ProtocolPlan) -> Run:
        """Start the run ``prepare`` made; a run the panel cannot deliver raises a repair."""
        self._plans[plan.id] = plan
        await self._async_save(plan)
        self._schedule.report_shortfall(plan)
        return Run(plan, self._reports[plan.id])

    def deliverable(self, plan: ProtocolPlan) -> float | None:
        """Return the dose in the run's band one session delivers now (see ``RunSchedule``)."""
        return self._schedule.deliverable(plan)

    def session_minutes(self, plan: ProtocolPlan) -> float:
        """Return the minutes one session of ``plan`` takes (see ``RunSchedule``)."""
        return self._schedule.session_minutes(plan)

    def shortfall(self, plan: ProtocolPlan) -> float | None:
        """Return the deliverable dose when it falls short of the protocol's, else None."""
        return self._schedule.shortfall(plan)

    def shortfall_placeholders(self, plan: ProtocolPlan, delivered: float) -> dict[str, str]:
        """Return the words of a shortfall warning: what ``plan`` asks for, and ``delivered``."""
        return protocol_data.shortfall_placeholders(self._coordinator.name, plan, delivered)

    def _new_id(self) -> str:
        """Return a run id no stored run has.

        Runs are kept by id, so a repeat (two ULIDs made in the same millisecond from a
        reseeded generator) would replace another run.
        """
        while (new := ulid_util.ulid_now()) in self._store.plans:
            pass
        return new

    def prepare(
        self,
        protocol: Protocol,
        *,
        area: str | None = None,
        start_date: date | None = None,
        weekdays: Iterable[int] | None = None,
        time_of_day: time | None = None,
        missed_policy: MissedPolicy = MissedPolicy.SKIP,
        person: str | None = CURRENT,
    ) -> ProtocolPlan:
        """Return the run ``async_start`` would start, checked, changing nothing.

        The check: the person has no other unfinished run on its area.
        """
        person = self.resolve(person)
        now = dt_util.utcnow()
        tz = ZoneInfo(self._hass.config.time_zone)
        local_now = now.astimezone(tz)
        start = start_date or local_now.date()
        try:
            check_start_date(start, local_now.date())
            plan = ProtocolPlan(
                id=self._new_id(),
                protocol=protocol,
                area=area or protocol.area,
                panel_id=self.panel_id,
                start_date=start,
                weekdays=frozenset(
                    weekdays
                    if weekdays is not None
                    else spread_weekdays(start.weekday(), protocol.sessions_per_week)
                ),
                time_of_day=time_of_day or default_time_of_day(local_now),
                tz=tz,
                missed_policy=missed_policy,
                created_at=now,
                person=person,
            )
        except TherapyError as err:
            raise therapy_error(err) from err
        if time_of_day is None:
            # One panel runs one session at a time: keep clear of its other runs' sessions.
            busy = [
                (other.time_of_day, self.session_minutes(other))
                for other in self._plans.values()
                if other.status in UNFINISHED
            ]
            plan.time_of_day = free_time_of_day(local_now, self.session_minutes(plan), busy)
        household = self.household()
        for other in self._store.plans.values():
            whose = stored_person(other.get("person")) or household.only_person
            if (
                other.get("area") == plan.area
                and other.get("status") in UNFINISHED
                and whose == owner(plan, household)
            ):
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="protocol_area_busy",
                    translation_placeholders={
                        "area": plan.area.replace("_", " "),
                        "protocol": str(other.get("protocol", {}).get("name", "")),
                    },
                )
        return plan

    async def async_pause(self, area: str | None = None, person: str | None = CURRENT) -> Run:
        """Pause ``person``'s run on ``area`` (see ``find``) and return it."""
        return await self._async_change(area, person, lambda plan, now: plan.pause(now))

    async def async_resume(self, area: str | None = None, person: str | None = CURRENT) -> Run:
        """Resume ``person``'s paused run on ``area`` (see ``find``) and return it."""
        return await self._async_change(area, person, lambda plan, now: plan.resume(now))

    async def async_stop(self, area: str | None = None, person: str | None = CURRENT) -> Run:
        """Stop ``person``'s run on ``area`` (see ``find``) for good and return it."""
        return await self._async_change(area, person, lambda plan, now: plan.stop(now))

    async def async_skip(
        self, area: str | None = None, day: date | None = None, person: str | None = CURRENT
    ) -> date:
        """Skip the session on ``day`` (default: the next pending one) of ``person``'s run."""
        person = self.resolve(person)
        run = self.find(area, person)
        paused = run.plan.status is ProtocolPlanStatus.PAUSED
        pending = [
            s
            for s in run.report.sessions
            if s.status in (SlotStatus.DUE, SlotStatus.UPCOMING) and (day is None or s.date == day)
        ]
        if paused or (not pending and day is None):
            # A paused run has nothing to skip until it resumes; otherwise every session is
            # behind.
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="protocol_paused_no_skip" if paused else "no_session_to_skip",
                translation_placeholders={
                    "protocol": run.plan.protocol.name,
                    "area": run.plan.area.replace("_", " "),
                },
            )
        if not pending:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="no_session_on_date",
                translation_placeholders={"date": str(day)},
            )
        # A catch-up is the missed session given another day: skipping it skips that session
        # (by its own date), so it counts as skipped, not missed.
        target = pending[0]
        await self._async_change(area, person, lambda plan, _now: plan.skip(target.original_date))
        return target.date

    async def _async_change(self, area: str | None, person: str | None, change: Any) -> Run:
        run = self.find(area, person)
        try:
            change(run.plan, dt_util.utcnow())
        except TherapyError as err:
            raise therapy_error(err) from err
        await self._async_save(run.plan)
        return Run(run.plan, self._reports[run.plan.id])

    async def _async_save(self, plan: ProtocolPlan) -> None:
        self._schedule.clear_shortfall(plan)
        await self._store.async_save_run(plan)
        self._schedule.refresh(fire=False, only=plan.id)
        self._coordinator.async_update_listeners()

    @callback
    def async_unload(self) -> None:
        """Stop the scheduled evaluation and stop following the panel."""
        self._schedule.cancel()
        self._remove_listener()
