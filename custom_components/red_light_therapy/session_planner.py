"""What a session would be on one panel, checked against its person's limits.

Dose <-> duration at its distance and levels, checked against the limits of the session's person
(their records and the unassigned ones, on every panel: ``household.limits_view``; another person's
sessions never count), and a refusal in the words of its deciding limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Unpack

from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .coordinator import PanelCoordinator
from .panel_settings import PanelSettings
from .persons import async_household, async_person_name
from .session_persons import SessionPersons
from .session_plan import RunDefaults, SessionPlan, StartOptions
from .store import TherapyStore
from .therapy import (
    BandIrradiance,
    DoseBand,
    History,
    Outcome,
    ReasonCode,
    SessionRecord,
    SessionRequest,
    TherapyError,
    Verdict,
    check,
    seconds_for_dose,
)
from .therapy.household import counting_for_limits, limits_view
from .words import refusal_key, refusal_words, therapy_error


class SessionPlanner:
    """Plans sessions for one panel; changes nothing."""

    def __init__(
        self,
        store: TherapyStore,
        settings: PanelSettings,
        panel_id: str,
        coordinator: PanelCoordinator,
        persons: SessionPersons,
    ) -> None:
        """Plan the sessions of the panel ``panel_id`` with its ``settings``.

        A session for nobody in particular is for the panel's current person (``persons``).
        """
        self._store = store
        self._settings = settings
        self._panel_id = panel_id
        self._coordinator = coordinator
        self._persons = persons
        # Given at setup: a session started during a protocol run takes the run's dose and area.
        self.run_defaults: RunDefaults | None = None

    def limits_history(self, now: datetime, person: str | None) -> History:
        """Return the history the limits of a session for ``person`` judge by.

        The recorded sessions that count for that person (``household.limits_view``: their own and
        the unassigned ones; all of them for a session for nobody), plus the *other* panels'
        unfinished sessions that count for them (``counting_for_limits``), as they will be recorded
        (``SessionRecord.as_planned``). Without other sessions, that history itself.
        """
        household = async_household(self._coordinator.hass)
        others = [
            SessionRecord.as_planned(session, now)
            for panel_id, session in self._store.active.items()
            if panel_id != self._panel_id
            and session.started_at is not None
            and not session.is_final
        ]
        history = limits_view(self._store.history, person, household)
        others = counting_for_limits(others, person, household)
        if not others:
            return history
        history = History(history)
        for record in others:
            history.append(record)
        return history

    def person_name(self, person: str | None) -> str | None:
        """Return the name of ``person`` for answers and the panel's entities.

        None: unassigned, or a person no longer in the home.
        """
        return None if person is None else async_person_name(self._coordinator.hass, person)

    def lockout_until(self, now: datetime) -> datetime | None:
        """Return when the panel's default area can next take a session, if it cannot now.

        For the panel's current person.
        """
        verdict = check(
            SessionRequest(
                self._settings.area,
                60.0,
                self._settings.irradiance or BandIrradiance(1.0, 0.0),
                now,
            ),
            self.limits_history(now, self._persons.current_person()),
            self._settings.limits(self._settings.area),
            tz=dt_util.get_default_time_zone(),
        )
        lockout = {ReasonCode.SPACING, ReasonCode.WEEKLY_SESSIONS}
        if verdict.outcome is Outcome.REFUSED and lockout & set(verdict.codes):
            return verdict.next_allowed_at
        return None

    def plan(
        self,
        *,
        minutes: float | None = None,
        dose: float | None = None,
        band: DoseBand = DoseBand.BOTH,
        distance_cm: float | None = None,
        area: str | None = None,
        override_spacing: bool = False,
        at: datetime | None = None,
        levels: Mapping[int, int] | None = None,
        person: str | None = None,
    ) -> SessionPlan:
        """Plan a session by dose or duration, checked against the limits of ``person``.

        Dose <-> duration at this distance and levels, checked against the limits of ``person`` (a
        person entity id; None: the panel's current person, and with nobody there, unassigned,
        checked against everything). Changes nothing.

        ``levels`` (by panel channel index) plans at those levels instead of the current ones.
        """
        if person is None:
            person = self._persons.current_person()
        if minutes is not None and dose is not None:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="dose_and_minutes"
            )
        area = self._settings.validated_area(area or self._settings.area)
        distance = distance_cm or self._settings.distance_cm
        irradiance = self._settings.irradiance_at(distance, levels)
        try:
            if dose is not None:
                seconds = seconds_for_dose(irradiance, dose, band)
            else:
                seconds = (
                    minutes * 60
                    if minutes is not None
                    else self._settings.default_seconds(area, irradiance)
                )
            when = at or dt_util.utcnow()
            verdict = check(
                SessionRequest(area, seconds, irradiance, when, override_spacing),
                self.limits_history(when, person),
                self._settings.limits(area),
                tz=dt_util.get_default_time_zone(),
            )
        except TherapyError as err:
            raise therapy_error(err) from err
        return SessionPlan(
            area,
            distance,
            irradiance,
            seconds,
            verdict,
            dose,
            band,
            person=person,
            person_name=self.person_name(person),
        )

    def preview_start(
        self, duration: timedelta | None = None, **options: Unpack[StartOptions]
    ) -> SessionPlan:
        """Return what ``SessionRunner.async_start`` would start, changing nothing.

        An active protocol run's dose and area when neither a dose nor a duration is given. Raises
        when a session is running already or the input is bad; a refusal is in the plan's verdict.
        ``options`` as ``StartOptions`` says; a ``person`` left out or None is the panel's current
        person (``SessionPersons.current_person``).
        """
        if self._store.active.get(self._panel_id) is not None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="session_already_running",
                translation_placeholders={"name": self._coordinator.name},
            )
        if (person := options.get("person")) is None:
            person = self._persons.current_person()
        dose, band = options.get("dose"), options.get("band", DoseBand.BOTH)
        area = options.get("area")
        if self.run_defaults is not None and (run := self.run_defaults(area, person)) is not None:
            if duration is None and dose is None:
                dose, band = run[0], run[1]
            area = area or run[2]
        return self.plan(
            minutes=duration.total_seconds() / 60 if duration is not None else None,
            dose=dose,
            band=band,
            distance_cm=options.get("distance_cm"),
            area=area,
            override_spacing=options.get("override_spacing", False),
            levels=options.get("levels"),
            person=person,
        )

    def refusal(self, verdict: Verdict, person: str | None = None) -> ServiceValidationError:
        """Return the refusal of ``verdict`` for ``person`` in the words of its deciding limit.

        The deciding limit is ``Verdict.deciding``, the one whose next allowed time is latest; the
        refusal gives that limit's own time. In a household of several persons it says whose limit
        it is ("Refused for Bob on ..."); with one person or none (or a person no longer in the
        home), the wording of a home without persons.
        """
        reason = verdict.deciding or verdict.reasons[0]
        now = dt_util.utcnow()
        placeholders = {"name": self._coordinator.name} | refusal_words(reason, now)
        name = self.person_name(person)
        if name is not None and async_household(self._coordinator.hass).is_shared:
            placeholders["person"] = name
        return ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key=refusal_key(reason, now, for_person="person" in placeholders),
            translation_placeholders=placeholders,
        )
