"""Protocol runs in Home Assistant: a twelve-week course followed, missed, caught up and
finished across a daylight-saving change and a restart; actions, errors, select, sensors and
calendar.

The clock is Europe/Berlin; 2025-03-30 is the spring-forward Sunday.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy import DATA_STORE
from custom_components.red_light_therapy.const import DOMAIN
from custom_components.red_light_therapy.store import TherapyStore
from custom_components.red_light_therapy.therapy import (
    PRESET_PROTOCOLS,
    ProtocolPlanStatus,
    SessionStatus,
)

from . import common_protocols
from .common import inject_advertisement, move_to, service_info
from .common_protocols import (
    CALENDAR,
    LIGHT,
    berlin,
    calendar_events,
    call_light,
    stop_the_session,
)

# The shared fixtures: the Berlin clock (autouse) and the recorded events (``events``).
berlin_clock = common_protocols.berlin_clock
events_fixture = common_protocols.events_fixture

START_BUTTON = "button.blockbluelight_f522_start_session"
NEXT = "sensor.blockbluelight_f522_next_session"
PROGRESS = "sensor.blockbluelight_f522_protocol_progress"
ADHERENCE = "sensor.blockbluelight_f522_protocol_adherence"
STREAK = "sensor.blockbluelight_f522_protocol_streak"
SELECT = "select.blockbluelight_f522_protocol"
EVENT = "event.blockbluelight_f522_session"

KNEE_COURSE = common_protocols.KNEE_COURSE | {"missed_policy": "catch_up"}


def _kinds(fired: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [kind for kind, _ in fired]


async def _do_session(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, fired: list[tuple[str, dict[str, Any]]]
) -> None:
    """Press start (no dose given: the run's dose and area), let the session run out."""
    await hass.services.async_call("button", "press", {"entity_id": START_BUTTON}, blocking=True)
    await hass.async_block_till_done(wait_background_tasks=True)
    started = fired[-1]
    assert started[0] == "session_started"
    assert started[1]["area"] == "knee"
    assert started[1]["expected_dose_j_cm2"] == pytest.approx(3.0, abs=0.01)
    count = len(fired)
    await move_to(hass, freezer, dt_util.utcnow() + timedelta(minutes=5))
    assert "session_completed" in _kinds(fired[count:])


async def test_twelve_weeks_missed_caught_up_dst_restart_finished(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    events: list[tuple[str, dict[str, Any]]],
    hass_storage: dict[str, Any],
) -> None:
    entry = dimmed_integration
    answer = await call_light(hass, "start_protocol", **KNEE_COURSE)
    run = answer[LIGHT]
    assert run["protocol"] == "custom_knee_course"
    assert run["total_sessions"] == 24
    assert run["next_session"] == berlin(date(2025, 3, 3)).isoformat()
    assert hass.states.get(SELECT).state == "Knee course"  # its name, not its key
    assert hass.states.get(PROGRESS).state == "0.0"
    assert hass.states.get(ADHERENCE).state == "unknown"
    assert dt_util.parse_datetime(hass.states.get(NEXT).state) == berlin(date(2025, 3, 3))

    missed_day = date(2025, 4, 3)  # Thursday of week 5
    catch_up_day = date(2025, 4, 4)
    day = date(2025, 3, 3)
    done = 0
    restarted = False
    while done < 24:
        if day.weekday() not in (0, 3) and day != catch_up_day:
            day += timedelta(days=1)
            continue
        fired_before = len(events)
        await move_to(hass, freezer, berlin(day))
        due = [d for k, d in events[fired_before:] if k == "session_due"]
        assert len(due) == 1, (day, events[fired_before:])
        assert due[0]["date"] == day.isoformat()
        assert due[0]["catch_up"] is (day == catch_up_day)
        if day == missed_day:
            await move_to(hass, freezer, berlin(day + timedelta(days=1), time(0, 0)))
            missed = [d for k, d in events[fired_before:] if k == "session_missed"]
            assert missed == [missed[0]]
            assert missed[0]["date"] == missed_day.isoformat()
            assert missed[0]["catch_up_on"] == catch_up_day.isoformat()
            assert dt_util.parse_datetime(hass.states.get(NEXT).state) == berlin(catch_up_day)
            day += timedelta(days=1)
            continue
        await _do_session(hass, freezer, events)
        done += 1
        if day == date(2025, 3, 27):
            # The next session is across the spring-forward night: 07:30 local is now
            # 05:30 UTC, not 06:30.
            nxt = dt_util.parse_datetime(hass.states.get(NEXT).state)
            assert nxt == berlin(date(2025, 3, 31))
            assert nxt.astimezone(dt_util.UTC).hour == 5
        if done == 12 and not restarted:
            restarted = True
            stored = hass_storage[f"{DOMAIN}.therapy"]["data"]["plans"]
            assert len(stored) == 1
            assert await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()
            # A restart: what is in memory is gone; the runs come back from what was saved.
            store = TherapyStore(hass)
            await store.async_load()
            hass.data[DATA_STORE] = store
            inject_advertisement(hass, service_info())  # still in range, weeks later
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done(wait_background_tasks=True)
            entry.runtime_data.sessions.events.async_add_event_listener(
                lambda event, data: events.append((event.value, data))
            )
            (survivor,) = entry.runtime_data.protocols.unfinished
            assert survivor.report.done == 12
            assert survivor.report.missed == 0
            assert hass.states.get(PROGRESS).state == "50.0"
        day += timedelta(days=1)

    assert _kinds(events).count("protocol_completed") == 1
    completed = next(d for k, d in events if k == "protocol_completed")
    assert completed["done"] == 24
    assert completed["missed"] == 0
    (finished,) = entry.runtime_data.protocols.runs
    assert finished.plan.status is ProtocolPlanStatus.COMPLETED
    assert finished.report.finished
    assert entry.runtime_data.protocols.unfinished == []
    assert hass.states.get(SELECT).state == "none"
    assert hass.states.get(NEXT).state == "unknown"
    assert hass_storage[f"{DOMAIN}.therapy"]["data"]["plans"][finished.plan.id]["status"] == (
        "completed"
    )
    # No more runs: a session goes back to the panel's own defaults.
    assert entry.runtime_data.sessions.planner.run_defaults is not None
    assert entry.runtime_data.sessions.planner.run_defaults(None) is None
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.fixture
async def monday_done_thursday_missed(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    """The knee course with the skip policy: Monday's session done, Thursday's missed; it is
    Friday 00:00. The calendar shows the run planned, and on while Monday's session is due."""
    await call_light(hass, "start_protocol", **(KNEE_COURSE | {"missed_policy": "skip"}))
    assert hass.states.get(CALENDAR).attributes["message"] == "Knee course (planned)"
    await move_to(hass, freezer, berlin(date(2025, 3, 3)))
    assert hass.states.get(CALENDAR).state == "on"  # the due session is happening now
    await _do_session(hass, freezer, events)
    await move_to(hass, freezer, berlin(date(2025, 3, 7), time(0, 0)))  # Thursday missed


@pytest.mark.usefixtures("monday_done_thursday_missed")
async def test_missed_with_skip_policy_adherence_and_streak(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, events: list[tuple[str, dict[str, Any]]]
) -> None:
    missed = [d for k, d in events if k == "session_missed"]
    assert [m["date"] for m in missed] == ["2025-03-06"]
    assert "catch_up_on" not in missed[0]
    assert hass.states.get(ADHERENCE).state == "50.0"
    assert hass.states.get(STREAK).state == "0"
    assert dt_util.parse_datetime(hass.states.get(NEXT).state) == berlin(date(2025, 3, 10))
    # The event entity shows the last event.
    assert hass.states.get(EVENT).attributes["event_type"] == "session_missed"
    await move_to(hass, freezer, berlin(date(2025, 3, 10)))
    await _do_session(hass, freezer, events)
    assert hass.states.get(STREAK).state == "1"
    assert float(hass.states.get(PROGRESS).state) == pytest.approx(100 * 2 / 24, abs=0.1)


async def test_pause_resume_skip_stop_and_answers(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    protocols = dimmed_integration.runtime_data.protocols
    await call_light(hass, "start_protocol", protocol="skin_rejuvenation", weekdays=["tue", "fri"])
    answer = await call_light(hass, "skip_session")
    assert answer[LIGHT] == {"skipped": "2025-03-04"}
    assert dt_util.parse_datetime(hass.states.get(NEXT).state) == berlin(date(2025, 3, 7), time(7))

    answer = await call_light(hass, "pause_protocol")
    assert answer[LIGHT]["status"] == "paused"
    assert hass.states.get(NEXT).state == "unknown"
    with pytest.raises(ServiceValidationError) as err:
        await call_light(hass, "pause_protocol")
    assert err.value.translation_key == "therapy_invalid_transition"

    await move_to(hass, freezer, berlin(date(2025, 3, 12)))
    answer = await call_light(hass, "resume_protocol", area="face")
    assert answer[LIGHT]["status"] == "active"
    # The sessions of the pause moved to the end; the next one is Friday 14 March.
    assert answer[LIGHT]["next_session"] == berlin(date(2025, 3, 14), time(7)).isoformat()

    # A second run on another area; now actions must say which.
    await call_light(hass, "start_protocol", protocol="low_back_pain")
    assert len(protocols.unfinished) == 2
    with pytest.raises(ServiceValidationError) as err:
        await call_light(hass, "stop_protocol")
    assert err.value.translation_key == "protocol_run_ambiguous"
    answer = await call_light(hass, "stop_protocol", area="back")
    assert answer[LIGHT]["status"] == "stopped"
    assert [r.plan.area for r in protocols.unfinished] == ["face"]

    with pytest.raises(ServiceValidationError) as err:
        await call_light(hass, "skip_session", date="2025-03-13")
    assert err.value.translation_key == "no_session_on_date"
    await call_light(hass, "stop_protocol")
    with pytest.raises(ServiceValidationError) as err:
        await call_light(hass, "stop_protocol")
    assert err.value.translation_key == "no_protocol_run"
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"protocol": "nope"}, "unknown_protocol"),
        ({"name": "Mine", "dose": 3}, "custom_protocol_fields"),
        (KNEE_COURSE | {"area": "eyes"}, "therapy_eye_area_forbidden"),
        (KNEE_COURSE | {"area": "elbow"}, "therapy_unknown_area"),
        (KNEE_COURSE | {"dose": 50}, "therapy_protocol_exceeds_limits"),
        (KNEE_COURSE | {"dose": 500}, "invalid_dose"),
        (KNEE_COURSE | {"weeks": 0}, "invalid_weeks"),
        (KNEE_COURSE | {"weekdays": ["mon"]}, "therapy_invalid_plan"),
        ({"protocol": "hair_growth", "area": "eye"}, "therapy_eye_area_forbidden"),
    ],
)
async def test_start_protocol_refuses_bad_input(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    data: dict[str, Any],
    key: str,
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await call_light(hass, "start_protocol", **data)
    assert err.value.translation_key == key
    assert dimmed_integration.runtime_data.protocols.runs == []


async def test_area_busy_and_changed_preset_is_marked(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry
) -> None:
    answer = await call_light(hass, "start_protocol", protocol="wound_healing", dose=5)
    assert answer[LIGHT]["protocol"] == "wound_healing_custom"
    (run,) = dimmed_integration.runtime_data.protocols.runs
    assert run.plan.protocol.evidence == "experimental"
    assert "Changed by the user: dose_j_cm2" in run.plan.protocol.source
    with pytest.raises(ServiceValidationError) as err:
        await call_light(hass, "start_protocol", protocol="wound_healing")
    assert err.value.translation_key == "protocol_area_busy"


async def test_select_starts_and_stops_a_run_with_defaults(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await move_to(hass, freezer, berlin(date(2025, 3, 5), time(18, 7)))  # a Wednesday
    state = hass.states.get(SELECT)
    assert state.state == "none"
    assert "hair_growth" in state.attributes["options"]
    await hass.services.async_call(
        "select", "select_option", {"entity_id": SELECT, "option": "hair_growth"}, blocking=True
    )
    (run,) = dimmed_integration.runtime_data.protocols.unfinished
    assert run.plan.start_date == date(2025, 3, 5)
    assert run.plan.weekdays == {2, 4, 6}  # Wed, Fri, Sun: spread over the week
    # The first session is never in the past: now rounded UP to the quarter hour.
    assert run.plan.time_of_day == time(18, 15)
    assert hass.states.get(SELECT).state == "hair_growth"
    first = dt_util.parse_datetime(hass.states.get(NEXT).state)
    assert first == berlin(date(2025, 3, 5), time(18, 15))
    assert first > dt_util.utcnow()
    # Picking it again changes nothing; "none" stops it.
    await hass.services.async_call(
        "select", "select_option", {"entity_id": SELECT, "option": "hair_growth"}, blocking=True
    )
    assert len(dimmed_integration.runtime_data.protocols.unfinished) == 1
    await hass.services.async_call(
        "select", "select_option", {"entity_id": SELECT, "option": "none"}, blocking=True
    )
    assert dimmed_integration.runtime_data.protocols.unfinished == []
    assert hass.states.get(SELECT).state == "none"
    await hass.services.async_call(
        "select", "select_option", {"entity_id": SELECT, "option": "none"}, blocking=True
    )
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_session_uses_the_run_unless_told_otherwise(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    sessions = dimmed_integration.runtime_data.sessions
    await call_light(hass, "start_protocol", **KNEE_COURSE)
    # Minutes given: the run's area still applies, the dose does not.
    await hass.services.async_call(
        DOMAIN, "start_session", {"entity_id": LIGHT, "minutes": 2}, blocking=True
    )
    session = sessions.session
    assert session is not None
    assert session.area == "knee"
    assert session.target_dose is None
    assert session.planned_seconds == pytest.approx(120)
    await sessions.runner.async_stop()
    # Area given that has no run: the panel's defaults.
    await move_to(hass, freezer, dt_util.utcnow() + timedelta(days=1))
    await hass.services.async_call(
        DOMAIN,
        "start_session",
        {"entity_id": LIGHT, "minutes": 2, "area": "back"},
        blocking=True,
    )
    await stop_the_session(hass, sessions, "back")


@pytest.mark.usefixtures("monday_done_thursday_missed")
async def test_calendar_shows_planned_done_and_missed(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry
) -> None:
    found = await calendar_events(
        hass, berlin(date(2025, 3, 1), time(0)), berlin(date(2025, 3, 15), time(0))
    )
    listed = [(e["summary"], e["start"]) for e in found]
    record = dimmed_integration.runtime_data.sessions.last_session
    assert record is not None
    assert record.status is SessionStatus.COMPLETED
    assert listed == [
        ("Knee course (done)", dt_util.as_local(record.started_at).isoformat()),
        ("Knee course (missed)", berlin(date(2025, 3, 6)).isoformat()),
        ("Knee course (planned)", berlin(date(2025, 3, 10)).isoformat()),
        ("Knee course (planned)", berlin(date(2025, 3, 13)).isoformat()),
    ]
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_a_changed_preset_is_no_longer_the_published_protocol(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry
) -> None:
    """A preset with fields changed runs with the changes, under its own key, marked
    experimental, its source saying what the user changed; the area alone is no change."""
    await call_light(
        hass,
        "start_protocol",
        protocol="skin_rejuvenation",
        band="red",
        min_spacing_hours=48,
        weeks=10,
    )
    await call_light(hass, "start_protocol", protocol="hair_growth", area="scalp")
    runs = {
        run.plan.area: run.plan.protocol
        for run in dimmed_integration.runtime_data.protocols.unfinished
    }

    changed = runs["face"]
    assert changed.key == "skin_rejuvenation_custom"
    assert changed.evidence.value == "experimental"
    assert (changed.band.value, changed.min_spacing_hours, changed.weeks) == ("red", 48, 10)
    assert changed.dose_j_cm2 == PRESET_PROTOCOLS["skin_rejuvenation"].dose_j_cm2
    assert changed.source.endswith("Changed by the user: band, min_spacing_hours, weeks.")
    assert runs["scalp"] == PRESET_PROTOCOLS["hair_growth"]


async def test_skipping_a_catch_up_skips_the_missed_session(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    """Monday's session is missed and offered again as a catch-up; skipping the catch-up (as
    the reminder's Skip does, by its date) skips that session: it no longer counts as missed,
    and the next session is the regular Thursday one."""
    await call_light(hass, "start_protocol", **KNEE_COURSE)
    await move_to(hass, freezer, berlin(date(2025, 3, 4), time(0, 0)))
    (missed,) = [d for k, d in events if k == "session_missed"]
    catch_up = date.fromisoformat(missed["catch_up_on"])
    assert catch_up > date(2025, 3, 3)
    await move_to(hass, freezer, berlin(catch_up))
    due = [d for k, d in events if k == "session_due"]
    assert due[-1]["catch_up"] is True

    answer = await call_light(hass, "skip_session", date=catch_up.isoformat())

    assert answer[LIGHT]["skipped"] == catch_up.isoformat()
    (run,) = dimmed_integration.runtime_data.protocols.unfinished
    first = run.report.sessions[0]
    assert first.status.value == "skipped"
    assert run.report.missed == 0
    assert dt_util.parse_datetime(hass.states.get(NEXT).state) == berlin(date(2025, 3, 6))
    await move_to(hass, freezer, berlin(catch_up + timedelta(days=1), time(0, 0)))
    assert [d for k, d in events if k == "session_missed"] == [missed]  # not missed again


async def test_the_light_during_a_run_starts_the_run_s_session(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Switching the panel's light on while a run is active starts the run's session: its
    dose (3 J/cm², 250 s at 12 mW/cm²) on its area, not the default length on the panel's."""
    await call_light(hass, "start_protocol", **KNEE_COURSE)
    await move_to(hass, freezer, berlin(date(2025, 3, 3)))

    await hass.services.async_call("light", "turn_on", {"entity_id": LIGHT}, blocking=True)
    await hass.async_block_till_done(wait_background_tasks=True)

    session = dimmed_integration.runtime_data.sessions.session
    assert session is not None
    assert session.area == "knee"
    assert session.target_dose == 3.0
    assert session.planned_seconds == pytest.approx(250, abs=1)
    await move_to(hass, freezer, dt_util.utcnow() + timedelta(seconds=251))
    (run,) = dimmed_integration.runtime_data.protocols.unfinished
    assert run.report.done == 1
