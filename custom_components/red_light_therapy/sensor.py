"""The panel's sensors, each from a description.

The session timer (modelled on Home Assistant's timer helper), its end and dose, the dose today and
this week, the irradiance, and the protocol run the panel shows (next session, progress, adherence,
streak).

A sensor is its description: what it shows (``value_fn``), its attributes (``attrs_fn``) and,
for a dose over a calendar period, where the period starts (``period_start_fn``; such a sensor
is written once at local midnight, when its period turns). Their states change when the
session, the settings or a run change, never because time passed.

The protocol sensors show the panel's current run (``ProtocolManager.current``: the run on the
panel's treatment area, else the run with a session due, else the soonest); see select.py for
the Protocol select that picks it.

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

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_track_time_change
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .entity import RedLightTherapyEntity
from .household_entities import (
    PERSON_KEY_PREFIXES,
    async_remove_departed,
    has_person_entities,
    person_labels,
    person_shown,
)
from .models import RedLightTherapyConfigEntry, RedLightTherapyData
from .persons import async_household, async_persons
from .protocol_manager import Run
from .session_manager import TimerState
from .store import DATA_STORE
from .therapy.history import History
from .therapy.household import limits_view, records_of
from .therapy.limits import weekly_sessions

PARALLEL_UPDATES = 0

DOSE_UNIT = "J/cm²"
IRRADIANCE_UNIT = "mW/cm²"


@dataclass(frozen=True, kw_only=True)
class RedLightSensorEntityDescription(SensorEntityDescription):
    """A sensor of one panel: its value and attributes are read from the panel's data."""

    value_fn: Callable[[RedLightTherapyData], str | float | datetime | None]
    attrs_fn: Callable[[RedLightTherapyData], dict[str, Any] | None] = lambda _data: None
    period_start_fn: Callable[[datetime], datetime] | None = None
    """The start of the calendar period a total counts over, from now (local time): the
    sensor's ``last_reset``, and it is written at local midnight."""


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RedLightTherapyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the panel's sensors, and each person's doses when there are two persons or more."""
    data = entry.runtime_data
    descriptions = list(SENSORS)
    persons = async_persons(hass)
    if has_person_entities(persons):
        for person, label in person_labels(persons).items():
            descriptions.extend(person_sensors(person, label))
        descriptions.append(UNASSIGNED_SESSIONS)
    # A person who left the household (or every person, down to one): their sensors go.
    keep = {description.key for description in descriptions}
    async_remove_departed(hass, entry, "sensor", _is_person_key, keep)
    async_add_entities(RedLightSensor(data, description) for description in descriptions)


def _is_person_key(key: str) -> bool:
    return key.startswith(PERSON_KEY_PREFIXES) or key == UNASSIGNED_SESSIONS.key


class RedLightSensor(RedLightTherapyEntity, SensorEntity):
    """A panel's sensor, as its description says."""

    entity_description: RedLightSensorEntityDescription

    def __init__(
        self, data: RedLightTherapyData, description: RedLightSensorEntityDescription
    ) -> None:
        """Make the sensor ``description`` describes."""
        super().__init__(data, description.key)
        self.entity_description = description

    @property
    def native_value(self) -> str | float | datetime | None:
        """The sensor's value, from its description."""
        return self.entity_description.value_fn(self._data)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The sensor's attributes, from its description."""
        return self.entity_description.attrs_fn(self._data)

    @property
    def last_reset(self) -> datetime | None:
        """The start of the sensor's period (today, this week), for a dose that resets."""
        period_start = self.entity_description.period_start_fn
        return None if period_start is None else period_start(dt_util.now())

    async def async_added_to_hass(self) -> None:
        """Write the state again at local midnight when the sensor's period resets then."""
        await super().async_added_to_hass()
        if self.entity_description.period_start_fn is not None:
            # The period changes at local midnight: one write a day, not a tick.
            self.async_on_remove(_async_at_midnight(self.hass, self.async_write_ha_state))


_MIDNIGHT: HassKey[_Midnight] = HassKey(f"{DOMAIN}_midnight")


class _Midnight:
    """One local-midnight timer shared by the period sensors of every panel.

    A timer each cost 1.5 KiB a sensor (issue 12, setup memory).
    """

    __slots__ = ("actions", "cancel")

    def __init__(self, hass: HomeAssistant) -> None:
        self.actions: dict[Callable[[], None], None] = {}
        self.cancel = async_track_time_change(hass, self._fire, hour=0, minute=0, second=0)

    @callback
    def _fire(self, _now: datetime) -> None:
        for action in list(self.actions):
            action()


@callback
def _async_at_midnight(hass: HomeAssistant, action: Callable[[], None]) -> CALLBACK_TYPE:
    """Call ``action`` at every local midnight until the returned callback is called."""
    midnight = hass.data.get(_MIDNIGHT)
    if midnight is None:
        midnight = hass.data[_MIDNIGHT] = _Midnight(hass)
    midnight.actions[action] = None

    @callback
    def _remove() -> None:
        midnight.actions.pop(action, None)
        if not midnight.actions and hass.data.get(_MIDNIGHT) is midnight:
            del hass.data[_MIDNIGHT]  # the last one: no timer left behind
            midnight.cancel()

    return _remove


# The session -------------------------------------------------------------------------------


def _format(delta: timedelta) -> str:
    """H:MM:SS, as the timer helper shows durations."""
    seconds = max(round(delta.total_seconds()), 0)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02}:{seconds % 60:02}"


def _timer_attributes(data: RedLightTherapyData) -> dict[str, Any]:
    """``duration``, ``remaining`` and ``finishes_at``, like a timer helper.

    ``remaining`` is the time left when the state last changed; a frontend counts down from
    ``finishes_at``. Nothing is written while time merely passes.
    """
    sessions = data.sessions
    session = sessions.session
    if session is None or session.started_at is None:
        return {"duration": _format(sessions.default_duration)}
    # Remaining as of the last change (start, pause, extend): a fixed value, not a tick.
    last = session.last_event_at or session.started_at
    attributes: dict[str, Any] = {
        "duration": _format(timedelta(seconds=session.planned_seconds)),
        "remaining": _format(timedelta(seconds=session.remaining_seconds(last))),
    }
    if session.ends_at is not None:
        attributes["finishes_at"] = session.ends_at.isoformat()
    if (name := person_shown(data.coordinator.hass, session.person)) is not None:
        attributes["person"] = name  # whose session runs, by name (never an entity id)
    return attributes


def _session_end(data: RedLightTherapyData) -> datetime | None:
    """When the running session ends; unknown when none runs or it is paused."""
    session = data.sessions.session
    return session.ends_at if session else None


def _session_dose(data: RedLightTherapyData) -> float | None:
    """Return the dose of the session: the one it is heading for, or the last one's.

    While a session runs or is paused, the dose it is heading for (its planned end at the
    current levels), not the dose as of its last change (0 all through a session that is never
    changed): without a write per second, no state can show the dose so far truly. Otherwise
    the dose the last session delivered. ``planned`` says which one is shown.
    """
    sessions = data.sessions
    session = sessions.session
    if session is not None and session.started_at is not None:
        return round(session.planned_dose().total, 3)
    record = sessions.last_session
    return round(record.dose.total, 3) if record else None


def _session_dose_attributes(data: RedLightTherapyData) -> dict[str, Any]:
    session = data.sessions.session
    return {"planned": session is not None and session.started_at is not None}


# Dose over a calendar period ---------------------------------------------------------------


def _today(now: datetime) -> datetime:
    return dt_util.start_of_local_day(now)


def _this_week(now: datetime) -> datetime:
    return dt_util.start_of_local_day(now - timedelta(days=now.weekday()))


def _period_dose(
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
        dose = history.dose_in_window(period_start(now), now, sessions.area, related=True)
        return round(dose.total, 3)

    return _dose


def _daily_limits(data: RedLightTherapyData) -> dict[str, Any]:
    """Return the treatment area's daily limits (for a card's "x / y").

    They change only with the area, which writes the sensor's state anyway.
    """
    limits = data.sessions.limits(data.sessions.area)
    return {
        "max_daily_dose": limits.max_daily_dose,
        "min_hours_between": limits.min_hours_between,
    }


def _weekly_limits(data: RedLightTherapyData) -> dict[str, Any]:
    """Return the treatment area's weekly limit and what it counts now.

    It counts recorded sessions on shared skin started in the last 7 local days: that count
    changes only when a session is recorded or removed, or at local midnight, when the sensor
    is written anyway.
    """
    return _weekly_limits_of(data, data.sessions.history)


def _weekly_limits_of(data: RedLightTherapyData, history: History) -> dict[str, Any]:
    area = data.sessions.area
    return {
        "sessions_in_7_days": weekly_sessions(
            history, area, dt_util.now(), dt_util.get_default_time_zone()
        ),
        "max_sessions_per_week": data.sessions.limits(area).max_sessions_per_week,
    }


def _person_weekly_limits(person: str) -> Callable[[RedLightTherapyData], dict[str, Any]]:
    """Return the weekly limit, counting what ``person``'s limits count.

    That is ``household.limits_view``: their own records and the unassigned ones.
    """

    def _attributes(data: RedLightTherapyData) -> dict[str, Any]:
        household = async_household(data.coordinator.hass)
        return _weekly_limits_of(data, limits_view(data.sessions.history, person, household))

    return _attributes


def person_sensors(
    person: str, name: str
) -> tuple[RedLightSensorEntityDescription, RedLightSensorEntityDescription]:
    """Return ``person``'s "Dose today" and "Dose this week" sensors.

    Their keys end with the person entity id; ``name`` is the person's name, in the entity's
    name.
    """
    return (
        RedLightSensorEntityDescription(
            key=f"dose_today_{person}",
            translation_key="person_dose_today",
            translation_placeholders={"person": name},
            native_unit_of_measurement=DOSE_UNIT,
            state_class=SensorStateClass.TOTAL,
            suggested_display_precision=2,
            value_fn=_period_dose(_today, person),
            attrs_fn=_daily_limits,
            period_start_fn=_today,
        ),
        RedLightSensorEntityDescription(
            key=f"dose_week_{person}",
            translation_key="person_dose_week",
            translation_placeholders={"person": name},
            native_unit_of_measurement=DOSE_UNIT,
            state_class=SensorStateClass.TOTAL,
            suggested_display_precision=2,
            value_fn=_period_dose(_this_week, person),
            attrs_fn=_person_weekly_limits(person),
            period_start_fn=_this_week,
        ),
    )


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


# Irradiance --------------------------------------------------------------------------------


def _irradiance(data: RedLightTherapyData) -> float | None:
    """Irradiance at the skin at the set distance and the channel levels."""
    irradiance = data.sessions.irradiance
    return round(irradiance.total, 2) if irradiance else None


def _irradiance_attributes(data: RedLightTherapyData) -> dict[str, Any]:
    irradiance = data.sessions.irradiance
    return {
        "red": round(irradiance.red, 2) if irradiance else None,
        "nir": round(irradiance.nir, 2) if irradiance else None,
        "distance_cm": data.sessions.distance_cm,
        "profile": data.sessions.profile.name,
    }


# The protocol run the panel shows ----------------------------------------------------------


def _next_session(data: RedLightTherapyData) -> datetime | None:
    """When the next session of any active run on this panel is due."""
    found = data.protocols.next_session
    return dt_util.as_utc(found[1].scheduled_at) if found else None


def _next_session_attributes(data: RedLightTherapyData) -> dict[str, Any] | None:
    found = data.protocols.next_session
    if found is None:
        return None
    run, session = found
    return {
        "protocol": run.plan.protocol.name,
        "area": run.plan.area,
        "dose_j_cm2": run.plan.protocol.dose_j_cm2,
        "catch_up": session.catch_up,
    }


def _run_value(
    value: Callable[[Run], float | int | None],
) -> Callable[[RedLightTherapyData], float | int | None]:
    """Return a figure of the shown run; unknown without one."""

    def _value(data: RedLightTherapyData) -> float | int | None:
        run = data.protocols.current
        return None if run is None else value(run)

    return _value


def _run_attributes(data: RedLightTherapyData) -> dict[str, Any] | None:
    run = data.protocols.current
    if run is None:
        return None
    return {
        "protocol": run.plan.protocol.name,
        "area": run.plan.area,
        "status": run.plan.status.value,
        "done": run.report.done,
        "missed": run.report.missed,
        "skipped": run.report.skipped,
        "total": run.report.total,
    }


def _adherence(run: Run) -> float | None:
    """Done out of done + missed; unknown until a session was due."""
    adherence = run.report.adherence_percent
    return None if adherence is None else round(adherence, 1)


SENSORS: tuple[RedLightSensorEntityDescription, ...] = (
    RedLightSensorEntityDescription(
        key="session_timer",
        translation_key="session_timer",
        device_class=SensorDeviceClass.ENUM,
        options=[state.value for state in TimerState],
        value_fn=lambda data: data.sessions.timer_state.value,
        attrs_fn=_timer_attributes,
    ),
    RedLightSensorEntityDescription(
        key="session_end",
        translation_key="session_end",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=_session_end,
    ),
    RedLightSensorEntityDescription(
        key="session_dose",
        translation_key="session_dose",
        native_unit_of_measurement=DOSE_UNIT,
        suggested_display_precision=2,
        value_fn=_session_dose,
        attrs_fn=_session_dose_attributes,
    ),
    RedLightSensorEntityDescription(
        key="dose_today",
        translation_key="dose_today",
        native_unit_of_measurement=DOSE_UNIT,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=2,
        value_fn=_period_dose(_today),
        attrs_fn=_daily_limits,
        period_start_fn=_today,
    ),
    RedLightSensorEntityDescription(
        key="dose_week",
        translation_key="dose_week",
        native_unit_of_measurement=DOSE_UNIT,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=2,
        value_fn=_period_dose(_this_week),
        attrs_fn=_weekly_limits,
        period_start_fn=_this_week,
    ),
    RedLightSensorEntityDescription(
        key="irradiance",
        translation_key="irradiance",
        native_unit_of_measurement=IRRADIANCE_UNIT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=_irradiance,
        attrs_fn=_irradiance_attributes,
    ),
    RedLightSensorEntityDescription(
        key="next_session",
        translation_key="next_session",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=_next_session,
        attrs_fn=_next_session_attributes,
    ),
    RedLightSensorEntityDescription(
        # Done sessions out of the course (skipped ones do not count).
        key="protocol_progress",
        translation_key="protocol_progress",
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=0,
        value_fn=_run_value(lambda run: round(run.report.progress_percent, 1)),
        attrs_fn=_run_attributes,
    ),
    RedLightSensorEntityDescription(
        key="protocol_adherence",
        translation_key="protocol_adherence",
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=0,
        value_fn=_run_value(_adherence),
        attrs_fn=_run_attributes,
    ),
    RedLightSensorEntityDescription(
        # Sessions done in a row up to the latest one that was due.
        key="protocol_streak",
        translation_key="protocol_streak",
        native_unit_of_measurement="sessions",
        value_fn=_run_value(lambda run: run.report.streak),
        attrs_fn=_run_attributes,
    ),
)
