"""Doses over a calendar period and the household's sensors, for sensor.py.

A panel's "Dose today" and "Dose this week" count the dose recorded since the period started
(``period_start_fn``: the sensor is written once at local midnight, when its period turns).

With two or more persons (household_entities.py), each panel also has every person's "Dose
today" and "Dose this week": the person's own records on skin the panel's treatment area shares
(unassigned records are nobody's), with the same limit attributes as the panel's dose sensors;
the count of the weekly limit is what that person's limits see (their own and unassigned).
It also has the diagnostic "Unassigned sessions": how many of the home's sessions belong to
nobody, with the latest ids and starts for the ``assign_person`` action.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from homeassistant.components.sensor import SensorEntityDescription, SensorStateClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from .household_entities import (
    PERSON_KEY_PREFIXES,
    async_remove_departed,
    has_person_entities,
    person_labels,
)
from .models import RedLightTherapyConfigEntry, RedLightTherapyData
from .persons import async_household, async_persons
from .store import DATA_STORE
from .therapy.history import History
from .therapy.household import limits_view, records_of
from .therapy.limits import weekly_sessions

DOSE_UNIT = "J/cm²"


@dataclass(frozen=True, kw_only=True)
class RedLightSensorEntityDescription(SensorEntityDescription):
    """A sensor of one panel: its value and attributes are read from the panel's data."""

    value_fn: Callable[[RedLightTherapyData], str | float | datetime | None]
    attrs_fn: Callable[[RedLightTherapyData], dict[str, Any] | None] = lambda _data: None
    period_start_fn: Callable[[datetime], datetime] | None = None
    """The start of the calendar period a total counts over, from now (local time): the
    sensor's ``last_reset``, and it is written at local midnight."""


# Dose over a calendar period ---------------------------------------------------------------


def today(now: datetime) -> datetime:
    """Return the start of the local day of ``now``."""
    return dt_util.start_of_local_day(now)


def this_week(now: datetime) -> datetime:
    """Return the start of the local week (Monday) of ``now``."""
    return dt_util.start_of_local_day(now - timedelta(days=now.weekday()))


def period_dose(
    period_start: Callable[[datetime], datetime],
    person: str | None = None,
) -> Callable[[RedLightTherapyData], float]:
    """Return the dose recorded since ``period_start`` on skin the treatment area shares.

    That is the area and whole body (every session when the area is whole body), on every
    panel; with a ``person``, only the records that are that person's
    (``household.records_of``).
    """

    def _dose(data: RedLightTherapyData) -> float:
        now = dt_util.now()
        sessions = data.sessions
        history = sessions.history
        if person is not None:
            history = records_of(history, person, async_household(data.coordinator.hass))
        dose = history.dose_in_window(
            period_start(now), now, sessions.panel_settings.area, related=True
        )
        return round(dose.total, 3)

    return _dose


def daily_limits(data: RedLightTherapyData) -> dict[str, Any]:
    """Return the treatment area's daily limits (for a card's "x / y").

    They change only with the area, which writes the sensor's state anyway.
    """
    limits = data.sessions.panel_settings.limits(data.sessions.panel_settings.area)
    return {
        "max_daily_dose": limits.max_daily_dose,
        "min_hours_between": limits.min_hours_between,
    }


def weekly_limits(data: RedLightTherapyData) -> dict[str, Any]:
    """Return the treatment area's weekly limit and what it counts now.

    It counts recorded sessions on shared skin started in the last 7 local days: that count
    changes only when a session is recorded or removed, or at local midnight, when the sensor
    is written anyway.
    """
    return _weekly_limits_of(data, data.sessions.history)


def _weekly_limits_of(data: RedLightTherapyData, history: History) -> dict[str, Any]:
    area = data.sessions.panel_settings.area
    return {
        "sessions_in_7_days": weekly_sessions(
            history, area, dt_util.now(), dt_util.get_default_time_zone()
        ),
        "max_sessions_per_week": data.sessions.panel_settings.limits(area).max_sessions_per_week,
    }


def _person_weekly_limits(person: str) -> Callable[[RedLightTherapyData], dict[str, Any]]:
    """Return the weekly limit, counting what ``person``'s limits count.

    That is ``household.limits_view``: their own records and the unassigned ones.
    """

    def _attributes(data: RedLightTherapyData) -> dict[str, Any]:
        household = async_household(data.coordinator.hass)
        return _weekly_limits_of(data, limits_view(data.sessions.history, person, household))

    return _attributes


def dose_sensors(
    person: str | None = None, name: str = ""
) -> tuple[RedLightSensorEntityDescription, RedLightSensorEntityDescription]:
    """Return the "Dose today" and "Dose this week" sensors: the panel's, or ``person``'s.

    A person's keys end with the person entity id, ``name`` (the person's name) is in their
    entity's name, they count only that person's records, and their weekly limit counts what
    that person's limits count.
    """

    def _sensor(
        period: str,
        start: Callable[[datetime], datetime],
        attrs_fn: Callable[[RedLightTherapyData], dict[str, Any]],
    ) -> RedLightSensorEntityDescription:
        return RedLightSensorEntityDescription(
            key=f"dose_{period}" if person is None else f"dose_{period}_{person}",
            translation_key=f"dose_{period}" if person is None else f"person_dose_{period}",
            translation_placeholders=None if person is None else {"person": name},
            native_unit_of_measurement=DOSE_UNIT,
            state_class=SensorStateClass.TOTAL,
            suggested_display_precision=2,
            value_fn=period_dose(start, person),
            attrs_fn=attrs_fn,
            period_start_fn=start,
        )

    weekly = weekly_limits if person is None else _person_weekly_limits(person)
    return _sensor("today", today, daily_limits), _sensor("week", this_week, weekly)


MAX_LISTED_UNASSIGNED = 20
"""The "Unassigned sessions" sensor lists this many (the most recent); its state counts all."""


def _unassigned(data: RedLightTherapyData) -> list[tuple[str, datetime]]:
    """Every session of the home that belongs to nobody (id, start), most recent first.

    The recorded ones and the panels' open ones that have started, on every panel: the
    ``assign_person`` action gives them to someone by ``session_id``.
    """
    hass = data.coordinator.hass
    store = hass.data[DATA_STORE]
    household = async_household(hass)
    found = [(r.id, r.started_at) for r in records_of(store.history, None, household)]
    found += [
        (s.id, s.started_at)
        for s in store.active.values()
        if s.person is None and s.started_at is not None
    ]
    return sorted(found, key=lambda item: item[1], reverse=True)


def _unassigned_attributes(data: RedLightTherapyData) -> dict[str, Any]:
    return {
        "sessions": [
            {"session_id": session_id, "started_at": dt_util.as_local(started).isoformat()}
            for session_id, started in _unassigned(data)[:MAX_LISTED_UNASSIGNED]
        ]
    }


UNASSIGNED_SESSIONS = RedLightSensorEntityDescription(
    key="unassigned_sessions",
    translation_key="unassigned_sessions",
    entity_category=EntityCategory.DIAGNOSTIC,
    native_unit_of_measurement="sessions",
    value_fn=lambda data: len(_unassigned(data)),
    attrs_fn=_unassigned_attributes,
)
"""How many sessions belong to nobody, listing the latest (a home of two persons or more)."""


def async_household_sensors(
    hass: HomeAssistant, entry: RedLightTherapyConfigEntry
) -> list[RedLightSensorEntityDescription]:
    """Return each person's doses and the unassigned sessions, with two persons or more.

    A person who left the household (or every person, down to one): their sensors go.
    """
    descriptions: list[RedLightSensorEntityDescription] = []
    persons = async_persons(hass)
    if has_person_entities(persons):
        for person, label in person_labels(persons).items():
            descriptions.extend(dose_sensors(person, label))
        descriptions.append(UNASSIGNED_SESSIONS)
    keep = {description.key for description in descriptions}
    async_remove_departed(hass, entry, "sensor", _is_person_key, keep)
    return descriptions


def _is_person_key(key: str) -> bool:
    return key.startswith(PERSON_KEY_PREFIXES) or key == UNASSIGNED_SESSIONS.key
