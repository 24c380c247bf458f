"""The blueprints, loaded by Home Assistant's blueprint machinery from blueprints/ and run."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from datetime import date, datetime, timedelta
import logging
import pathlib
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.blueprint import models
from homeassistant.components.person import DOMAIN as PERSON_DOMAIN, async_create_person
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_mock_service,
)

from custom_components.red_light_therapy import DATA_STORE
from custom_components.red_light_therapy.const import DOMAIN
from custom_components.red_light_therapy.session_manager import async_panels_changed
from custom_components.red_light_therapy.therapy.dose import BandDose
from custom_components.red_light_therapy.therapy.session import SessionOrigin

from . import common_protocols
from .common import move_to
from .common_protocols import ALICE, BERLIN, BOB, KNEE_COURSE, LIGHT, berlin, stop_the_session
from .therapy.builders import session_record

BLUEPRINTS = pathlib.Path(__file__).parent.parent / "blueprints"
EVENT = "event.blockbluelight_f522_session"
KNEE = {"entity_id": LIGHT} | KNEE_COURSE
REMINDER = {"session_event": EVENT, "panel": LIGHT, "notify_action": "notify.phone"}
# The shared fixtures: the Berlin clock (autouse) and the household (Alice and Bob).
berlin_clock = common_protocols.berlin_clock
household_fixture = common_protocols.household_fixture
OCCUPIED = "binary_sensor.room_occupied"
AUTO_START = {
    "session_event": EVENT,
    "panel": LIGHT,
    "presence": [{"condition": "state", "entity_id": OCCUPIED, "state": "on"}],
}


@pytest.fixture(autouse=True)
def repo_blueprints() -> Generator[None]:
    """Blueprints are read from this repository's blueprints/ folder."""
    with patch.object(
        models.DomainBlueprints,
        "blueprint_folder",
        property(lambda self: BLUEPRINTS / self.domain),
    ):
        yield


@pytest.fixture
def notified(hass: HomeAssistant) -> list[ServiceCall]:
    return async_mock_service(hass, "notify", "phone")


async def _automation(hass: HomeAssistant, path: str, inputs: dict[str, Any]) -> None:
    await _automations(hass, (path, inputs))


async def _automations(hass: HomeAssistant, *blueprints: tuple[str, dict[str, Any]]) -> None:
    """An automation from each blueprint (``path``) with its ``inputs``."""
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": [
                {
                    "id": f"{path}_{n}",
                    "use_blueprint": {"path": f"red_light_therapy/{path}", "input": inputs},
                }
                for n, (path, inputs) in enumerate(blueprints)
            ]
        },
    )
    await hass.async_block_till_done()


async def _spin() -> None:
    """Let what was started run, without waiting for everything: a reminder waits for an
    answer, and ``async_block_till_done`` would wait for it too."""
    for _ in range(50):
        await asyncio.sleep(0)


async def _tick_to(hass: HomeAssistant, freezer: FrozenDateTimeFactory, at: datetime) -> None:
    """Move the clock without waiting for everything (see ``_spin``)."""
    freezer.move_to(at)
    async_fire_time_changed(hass)
    await _spin()


def _press(hass: HomeAssistant, call: ServiceCall, kind: str) -> None:
    """The person answers the notification ``call`` with its ``kind`` action (start, snooze,
    skip), as the companion app sends it."""
    action = next(a["action"] for a in call.data["data"]["actions"] if a["action"].endswith(kind))
    hass.bus.async_fire("mobile_app_notification_action", {"action": action})


async def _reminded(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    notified: list[ServiceCall],
    reminder: dict[str, Any] = REMINDER,
    **course: Any,
) -> None:
    """The reminder blueprint (``reminder``'s inputs) and the knee course (``course`` changes
    it); Monday 07:30 its session is due, and the phone is notified once."""
    await _automation(hass, "session_reminder.yaml", reminder)
    await hass.services.async_call(DOMAIN, "start_protocol", KNEE | course, blocking=True)
    await _tick_to(hass, freezer, berlin(date(2025, 3, 3)))
    assert len(notified) == 1


@pytest.mark.parametrize("answer", ["start", "skip"])
async def test_reminder_start_or_skip(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    notified: list[ServiceCall],
    answer: str,
) -> None:
    started, skipped = answer == "start", answer == "skip"
    await _reminded(hass, freezer, notified)
    message = notified[0].data
    assert message["message"].startswith("Knee course: 3 J/cm² on the knee is due.")
    actions = [a["action"] for a in message["data"]["actions"]]
    assert [a.rsplit("_", 1)[1] for a in actions] == ["start", "snooze", "skip"]
    _press(hass, notified[0], answer)
    await hass.async_block_till_done(wait_background_tasks=True)
    data = dimmed_integration.runtime_data
    assert (data.sessions.session is not None) is started
    if started:
        await stop_the_session(hass, data.sessions, "knee", dose=3)
    (run,) = data.protocols.unfinished
    assert (date(2025, 3, 3) in run.plan.skipped_dates) is skipped
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_reminder_names_the_area_in_words(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    notified: list[ServiceCall],
) -> None:
    """A whole-body run's reminder said "on the whole_body is due": the area's key."""
    await _reminded(hass, freezer, notified, area="whole_body")
    # Answered (Skip) first, so the reminder stops waiting whatever the message says.
    _press(hass, notified[0], "skip")
    await hass.async_block_till_done(wait_background_tasks=True)
    message = notified[0].data["message"]
    assert message.startswith("Knee course: 3 J/cm² on the whole body is due."), message


async def test_reminder_snooze_asks_again_later_then_gives_up(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    notified: list[ServiceCall],
) -> None:
    """Snooze: asked again after the snooze time, not before; at most ``max_snoozes`` times;
    nothing is started or skipped meanwhile, and Start on a later reminder still works."""
    await _reminded(hass, freezer, notified, REMINDER | {"snooze_minutes": 10, "max_snoozes": 2})
    data = dimmed_integration.runtime_data
    for snoozes in (1, 2):
        _press(hass, notified[-1], "snooze")
        await _spin()  # the snooze delay starts now
        start = dt_util.utcnow()
        await _tick_to(hass, freezer, start + timedelta(minutes=9))
        assert len(notified) == snoozes  # not before the snooze time is up
        assert data.sessions.session is None
        await _tick_to(hass, freezer, start + timedelta(minutes=10, seconds=1))
        assert len(notified) == snoozes + 1
        # the same session, the same answers
        assert notified[-1].data["data"]["tag"] == notified[0].data["data"]["tag"]
    (run,) = data.protocols.unfinished
    assert date(2025, 3, 3) not in run.plan.skipped_dates

    # Snoozed twice (the limit): this is the last reminder; snoozing it asks no more.
    _press(hass, notified[-1], "snooze")
    await _spin()
    await _tick_to(hass, freezer, dt_util.utcnow() + timedelta(hours=3))
    assert len(notified) == 3
    assert data.sessions.session is None
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_reminder_start_after_a_snooze(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    notified: list[ServiceCall],
) -> None:
    await _reminded(hass, freezer, notified)
    _press(hass, notified[0], "snooze")
    await _spin()  # the snooze delay starts now
    await _tick_to(hass, freezer, dt_util.utcnow() + timedelta(minutes=15, seconds=1))
    assert len(notified) == 2
    _press(hass, notified[1], "start")
    await hass.async_block_till_done(wait_background_tasks=True)
    await stop_the_session(hass, dimmed_integration.runtime_data.sessions, "knee", dose=3)


async def test_auto_start_only_when_the_condition_holds(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass.states.async_set(OCCUPIED, "off")
    await _automation(hass, "auto_start.yaml", AUTO_START)
    sessions = dimmed_integration.runtime_data.sessions
    await hass.services.async_call(DOMAIN, "start_protocol", KNEE, blocking=True)
    await move_to(hass, freezer, berlin(date(2025, 3, 3)))
    assert sessions.session is None  # nobody in the room
    hass.states.async_set(OCCUPIED, "on")
    await move_to(hass, freezer, berlin(date(2025, 3, 6)))
    await stop_the_session(hass, sessions, "knee")


@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_weekly_report(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    notified: list[ServiceCall],
) -> None:
    await _automation(
        hass,
        "weekly_report.yaml",
        {
            "adherence": "sensor.blockbluelight_f522_protocol_adherence",
            "progress": "sensor.blockbluelight_f522_protocol_progress",
            "next_session": "sensor.blockbluelight_f522_next_session",
            "notify_action": "notify.phone",
            "weekday": "sun",
            "at": "19:00:00",
        },
    )
    await hass.services.async_call(DOMAIN, "start_protocol", KNEE, blocking=True)
    # Monday 7:30 missed, Thursday done (logged), then Sunday evening.
    await move_to(hass, freezer, datetime(2025, 3, 6, 9, 0, tzinfo=BERLIN))
    await hass.services.async_call(
        DOMAIN,
        "log_session",
        {
            "entity_id": LIGHT,
            "started_at": datetime(2025, 3, 6, 7, 35, tzinfo=BERLIN).isoformat(),
            "minutes": 5,
            "area": "knee",
        },
        blocking=True,
    )
    await move_to(hass, freezer, datetime(2025, 3, 8, 19, 0, tzinfo=BERLIN))  # Saturday
    assert notified == []
    await move_to(hass, freezer, datetime(2025, 3, 9, 19, 0, tzinfo=BERLIN))
    assert len(notified) == 1
    message = " ".join(notified[0].data["message"].split())
    assert message.startswith("Knee course: 1 of 24 sessions done (4 %), 1 missed,")
    assert "adherence 50 %." in message
    assert "Next session: Monday 07:30." in message
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.parametrize("path", ["session_reminder.yaml", "auto_start.yaml"])
async def test_a_restored_event_is_not_a_new_one(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    notified: list[ServiceCall],
    path: str,
) -> None:
    """When the panel is reloaded or Home Assistant restarts, the event entity comes back
    from unavailable with its last event: that old "session due" neither reminds nor starts
    anything again. A new one does."""
    inputs = REMINDER if path == "session_reminder.yaml" else AUTO_START
    hass.states.async_set(OCCUPIED, "on")
    await hass.services.async_call(DOMAIN, "start_protocol", KNEE, blocking=True)
    await _tick_to(hass, freezer, datetime(2025, 3, 3, 7, 30, tzinfo=BERLIN))
    event = hass.states.get(EVENT)
    assert event is not None
    assert event.attributes["event_type"] == "session_due"
    await _tick_to(hass, freezer, datetime(2025, 3, 3, 9, 0, tzinfo=BERLIN))
    await _automation(hass, path, inputs)

    hass.states.async_set(EVENT, "unavailable", event.attributes)
    hass.states.async_set(EVENT, event.state, event.attributes)  # restored
    await _spin()  # (a reminder would wait for an answer: no block_till_done)
    assert notified == []
    assert dimmed_integration.runtime_data.sessions.session is None

    fresh = dt_util.utcnow().isoformat(timespec="milliseconds")
    hass.states.async_set(EVENT, fresh, event.attributes)
    await _spin()
    sessions = dimmed_integration.runtime_data.sessions
    if path == "session_reminder.yaml":
        assert len(notified) == 1
        _press(hass, notified[0], "skip")
    else:
        assert sessions.session is not None
        await sessions.runner.async_stop()
    await hass.async_block_till_done(wait_background_tasks=True)


# -- a household: each person's reminders and report ----------------------------------------


async def _two_courses(hass: HomeAssistant) -> None:
    """Alice's knee course at 7:30 and Bob's at 8:00, on the same panel and area."""
    await hass.services.async_call(
        DOMAIN, "start_protocol", KNEE | {"name": "Alice's knees", "person": ALICE}, blocking=True
    )
    bob = KNEE | {"name": "Bob's knees", "person": BOB, "time_of_day": "08:00:00"}
    await hass.services.async_call(DOMAIN, "start_protocol", bob, blocking=True)


async def test_each_person_is_reminded_of_their_own_session(
    hass: HomeAssistant,
    household: None,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """One reminder per person: Alice's phone hears of Alice's session only, Bob's of Bob's;
    Bob's Skip skips Bob's session and leaves Alice's."""
    alice_phone = async_mock_service(hass, "notify", "alice_phone")
    bob_phone = async_mock_service(hass, "notify", "bob_phone")
    await _automations(
        hass,
        (
            "session_reminder.yaml",
            REMINDER | {"person": ALICE, "notify_action": "notify.alice_phone"},
        ),
        ("session_reminder.yaml", REMINDER | {"person": BOB, "notify_action": "notify.bob_phone"}),
    )
    await _two_courses(hass)
    await _tick_to(hass, freezer, datetime(2025, 3, 3, 7, 30, tzinfo=BERLIN))
    assert (len(alice_phone), len(bob_phone)) == (1, 0)
    assert alice_phone[0].data["title"] == "Red light therapy for Alice"
    assert alice_phone[0].data["message"].startswith("Alice's knees: 3 J/cm² on the knee")
    await _tick_to(hass, freezer, datetime(2025, 3, 3, 8, 0, tzinfo=BERLIN))
    assert (len(alice_phone), len(bob_phone)) == (1, 1)
    assert bob_phone[0].data["title"] == "Red light therapy for Bob"
    _press(hass, bob_phone[0], "skip")
    await _spin()  # (Alice's reminder still waits for her answer)
    runs = {run.plan.person: run.plan for run in dimmed_integration.runtime_data.protocols.runs}
    assert date(2025, 3, 3) in runs[BOB].skipped_dates
    assert date(2025, 3, 3) not in runs[ALICE].skipped_dates
    _press(hass, alice_phone[0], "skip")
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_auto_start_starts_only_its_persons_sessions(
    hass: HomeAssistant,
    household: None,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Bob's auto-start leaves Alice's due session alone and acts on Bob's."""
    hass.states.async_set(OCCUPIED, "on")
    await _automations(hass, ("auto_start.yaml", AUTO_START | {"person": BOB}))
    await _two_courses(hass)
    await move_to(hass, freezer, datetime(2025, 3, 3, 7, 30, tzinfo=BERLIN))
    assert dimmed_integration.runtime_data.sessions.session is None
    assert hass.states.get("automation.automation_0").attributes["last_triggered"] is None
    # Bob's session: the automation acts (whose session it starts: see the reminder's
    # Start, below).
    await move_to(hass, freezer, datetime(2025, 3, 3, 8, 0, tzinfo=BERLIN))
    assert hass.states.get("automation.automation_0").attributes["last_triggered"] is not None
    sessions = dimmed_integration.runtime_data.sessions
    if sessions.session is not None:
        await sessions.runner.async_stop()
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_start_in_a_reminder_starts_that_persons_session(
    hass: HomeAssistant,
    household: None,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    bob_phone = async_mock_service(hass, "notify", "bob_phone")
    await _automations(
        hass,
        ("session_reminder.yaml", REMINDER | {"person": BOB, "notify_action": "notify.bob_phone"}),
    )
    await _two_courses(hass)
    await _tick_to(hass, freezer, datetime(2025, 3, 3, 8, 0, tzinfo=BERLIN))
    _press(hass, bob_phone[0], "start")
    await hass.async_block_till_done(wait_background_tasks=True)
    sessions = dimmed_integration.runtime_data.sessions
    try:
        assert sessions.session is not None
        assert (sessions.session.person, sessions.session.area) == (BOB, "knee")
    finally:
        if sessions.session is not None:
            await sessions.runner.async_stop()
        await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_weekly_report_per_person(
    hass: HomeAssistant,
    household: None,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Each person's report gives their own figures: Alice's Thursday session is hers."""
    alice_phone = async_mock_service(hass, "notify", "alice_phone")
    bob_phone = async_mock_service(hass, "notify", "bob_phone")
    report = {"panel": LIGHT, "weekday": "sun", "at": "19:00:00"}
    await _automations(
        hass,
        ("weekly_report.yaml", report | {"person": ALICE, "notify_action": "notify.alice_phone"}),
        ("weekly_report.yaml", report | {"person": BOB, "notify_action": "notify.bob_phone"}),
    )
    await _two_courses(hass)
    thursday = datetime(2025, 3, 6, 7, 35, tzinfo=BERLIN)
    await move_to(hass, freezer, thursday + timedelta(minutes=10))
    hass.data[DATA_STORE].history.append(
        session_record(
            "alice-thursday",
            thursday,
            length=timedelta(minutes=5),
            dose=BandDose(1.5, 1.5),
            area="knee",
            on_seconds=300,
            panel_id=dimmed_integration.entry_id,
            origin=SessionOrigin.LOGGED,
            person=ALICE,
        )
    )
    async_panels_changed(hass)
    # The week goes by an evening at a time (Bob's Thursday session due, then missed; each
    # evening's report time passes on its own day), then Sunday evening.
    for day, hour in ((6, 9), (6, 20), (7, 20), (8, 20), (9, 19)):
        await move_to(hass, freezer, datetime(2025, 3, day, hour, 0, tzinfo=BERLIN))
    assert (len(alice_phone), len(bob_phone)) == (1, 1)
    assert alice_phone[0].data["title"] == "Red light therapy this week for Alice"
    alice = " ".join(alice_phone[0].data["message"].split())
    assert alice.startswith("Alice's knees: 1 of 24 sessions done (4 %), 1 missed,")
    assert "adherence 50 %." in alice
    assert "Next session: Monday 07:30." in alice
    bob = " ".join(bob_phone[0].data["message"].split())
    assert bob.startswith("Bob's knees: 0 of 24 sessions done (0 %), 2 missed,")
    assert "adherence 0 %." in bob
    assert "Next session: Monday 08:00." in bob
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_a_one_person_home_is_reminded_and_started_as_before(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    notified: list[ServiceCall],
) -> None:
    """With one person the reminder names them, and Start starts the session as before
    households (the session is theirs: they are the only person)."""
    assert await async_setup_component(hass, PERSON_DOMAIN, {})
    await async_create_person(hass, "Alice")
    await hass.async_block_till_done()
    await _automation(hass, "session_reminder.yaml", REMINDER)
    await hass.services.async_call(DOMAIN, "start_protocol", KNEE, blocking=True)
    (run,) = dimmed_integration.runtime_data.protocols.unfinished
    assert run.plan.person == ALICE
    await _tick_to(hass, freezer, datetime(2025, 3, 3, 7, 30, tzinfo=BERLIN))
    assert notified[0].data["title"] == "Red light therapy for Alice"
    _press(hass, notified[0], "start")
    await hass.async_block_till_done(wait_background_tasks=True)
    await stop_the_session(hass, dimmed_integration.runtime_data.sessions, "knee")


async def test_a_session_starting_or_ending_logs_nothing_in_a_reminder(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    notified: list[ServiceCall],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A session that starts or ends is no due session: the reminder stays silent, in the
    log too (it wrote template warnings about the missing run for every such event)."""
    await _automation(hass, "session_reminder.yaml", REMINDER)
    await hass.services.async_call(DOMAIN, "start_protocol", KNEE, blocking=True)
    caplog.clear()
    await hass.services.async_call(
        DOMAIN, "start_session", {"entity_id": LIGHT, "dose": 3, "area": "knee"}, blocking=True
    )
    started = hass.states.get(EVENT)
    assert started is not None
    assert started.attributes["event_type"] == "session_started"
    await move_to(hass, freezer, datetime(2025, 3, 3, 7, 5, tzinfo=BERLIN))
    await hass.async_block_till_done(wait_background_tasks=True)
    ended = hass.states.get(EVENT)
    assert ended is not None
    assert ended.attributes["event_type"] == "session_completed"
    assert notified == []
    # Home Assistant's own log only (asyncio's slow-callback notes come from the frozen clock).
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith("homeassistant")
    ]
    assert warnings == []


async def test_reminder_says_a_dose_with_a_half_as_written(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    notified: list[ServiceCall],
) -> None:
    await _reminded(hass, freezer, notified, dose=7.5)
    _press(hass, notified[0], "skip")
    await hass.async_block_till_done(wait_background_tasks=True)
    message = notified[0].data["message"]
    assert message.startswith("Knee course: 7.5 J/cm² on the knee is due."), message
