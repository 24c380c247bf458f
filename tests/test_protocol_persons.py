"""Protocol runs in a household: each run is a person's, counted from their sessions only.

Persons come from Home Assistant's real person integration, set up before the panel. Alice's
and Bob's sessions are put into the store's history with their person, as the session wiring
records them (the records' ``person``), and the panels are told the history changed.
The clock is Europe/Berlin; 2025-03-03 is a Monday.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.person import DOMAIN as PERSON_DOMAIN, async_create_person
from homeassistant.components.select import (
    ATTR_OPTION,
    DOMAIN as SELECT_DOMAIN,
    SERVICE_SELECT_OPTION,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy import DATA_STORE
from custom_components.red_light_therapy.session_manager import async_panels_changed
from custom_components.red_light_therapy.therapy.dose import BandDose

from . import common_protocols
from .common import move_to, recorded_events, settle
from .common_protocols import (
    ALICE,
    BERLIN,
    BOB,
    KNEE_PLAN,
    LIGHT,
    calendar_events,
    call_light,
)
from .therapy.builders import session_record

PROTOCOL_SELECT = "select.blockbluelight_f522_protocol"
WHO = "select.blockbluelight_f522_who_is_using_the_panel"
COURSE = {"entity_id": LIGHT} | KNEE_PLAN
MONDAY = datetime(2025, 3, 3, 7, 0, tzinfo=BERLIN)

# The shared fixtures: the Berlin clock (autouse: Monday 07:00) and the household.
berlin_clock = common_protocols.berlin_clock
household_fixture = common_protocols.household_fixture


async def _session(hass: HomeAssistant, person: str, start: datetime, rid: str) -> None:
    """A completed 3 J/cm² knee session of ``person`` on the panel, recorded."""
    hass.data[DATA_STORE].history.append(
        session_record(
            rid,
            start,
            length=timedelta(minutes=5),
            dose=BandDose(1.5, 1.5),
            area="knee",
            on_seconds=300,
            panel_id="elsewhere",
            person=person,
        )
    )
    async_panels_changed(hass)
    await settle(hass)


async def _status(hass: HomeAssistant, person: str) -> dict[str, Any]:
    (run,) = (await call_light(hass, "protocol_status", person=person))[LIGHT]["runs"]
    return run  # type: ignore[no-any-return]


async def test_two_persons_follow_their_own_course_on_one_area(
    hass: HomeAssistant,
    household: None,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Alice and Bob each run a knee course on the same panel: Alice's session counts for
    Alice only, Bob's missed session is Bob's; adherence and streak follow."""
    alice = await call_light(hass, "start_protocol", **COURSE, name="Alice's knees", person="Alice")
    bob = await call_light(hass, "start_protocol", **COURSE, name="Bob's knees", person=BOB)
    assert (alice[LIGHT]["person"], alice[LIGHT]["person_name"]) == (ALICE, "Alice")
    assert (bob[LIGHT]["person"], bob[LIGHT]["person_name"]) == (BOB, "Bob")

    await move_to(hass, freezer, MONDAY.replace(hour=7, minute=40))
    await _session(hass, ALICE, MONDAY.replace(hour=7, minute=35), "alice-monday")
    await move_to(hass, freezer, MONDAY + timedelta(days=1))  # Tuesday 07:00

    alice_now, bob_now = await _status(hass, "alice"), await _status(hass, "person.bob")
    assert (alice_now["done"], alice_now["missed"]) == (1, 0)
    assert (alice_now["adherence_percent"], alice_now["streak"]) == (100.0, 1)
    assert (bob_now["done"], bob_now["missed"]) == (0, 1)
    assert (bob_now["adherence_percent"], bob_now["streak"]) == (0.0, 0)

    # Thursday: Bob's session counts for Bob, and Alice's course is not touched by it.
    thursday = MONDAY + timedelta(days=3, minutes=40)
    await move_to(hass, freezer, thursday)
    await _session(hass, BOB, thursday, "bob-thursday")
    assert (await _status(hass, BOB))["done"] == 1
    alice_thursday = await _status(hass, ALICE)
    assert (alice_thursday["done"], alice_thursday["next_session"]) == (
        1,
        thursday.replace(minute=30).isoformat(),
    )


async def test_a_person_has_one_course_per_area(
    hass: HomeAssistant, household: None, dimmed_integration: MockConfigEntry
) -> None:
    """A second knee course for Alice is refused and starts nothing; Bob may have his."""
    await call_light(hass, "start_protocol", **COURSE, name="Knees", person=ALICE)
    with pytest.raises(ServiceValidationError) as refused:
        await call_light(hass, "start_protocol", **COURSE, name="Knees again", person=ALICE)
    assert refused.value.translation_key == "protocol_area_busy"
    protocols = dimmed_integration.runtime_data.protocols
    assert [run.plan.person for run in protocols.unfinished] == [ALICE]
    await call_light(hass, "start_protocol", **COURSE, name="Knees", person=BOB)
    assert sorted(run.plan.person or "" for run in protocols.unfinished) == [ALICE, BOB]
    # Kept across a reload (as across a restart): each run is still its person's.
    assert await hass.config_entries.async_reload(dimmed_integration.entry_id)
    await settle(hass)
    protocols = dimmed_integration.runtime_data.protocols
    assert sorted(run.plan.person or "" for run in protocols.unfinished) == [ALICE, BOB]
    with pytest.raises(ServiceValidationError):
        await call_light(hass, "start_protocol", **COURSE, name="Knees again", person=BOB)


async def test_unknown_person_is_refused_and_changes_nothing(
    hass: HomeAssistant, household: None, dimmed_integration: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as refused:
        await call_light(hass, "start_protocol", **COURSE, name="Knees", person="Carol")
    assert refused.value.translation_key == "unknown_person"
    assert refused.value.translation_placeholders == {"name": "Carol", "names": "Alice, Bob"}
    assert str(refused.value).startswith(
        "Carol is not one of the people in this home. Choose one of: Alice, Bob"
    )
    assert dimmed_integration.runtime_data.protocols.unfinished == []


async def test_a_second_person_of_the_same_name_starts_a_course_by_their_label(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry
) -> None:
    """Two "Carl"s: "Carl (2)", as "Who is using the panel" shows the second, was refused as
    not one of the people in this home; "carl" is refused saying which to write."""
    assert await async_setup_component(hass, PERSON_DOMAIN, {})
    for name in ("Carl", "Carl"):
        await async_create_person(hass, name)
    await settle(hass)
    with pytest.raises(ServiceValidationError) as refused:
        await call_light(hass, "start_protocol", **COURSE, name="Knees", person="carl")
    assert refused.value.translation_key == "ambiguous_person"
    assert str(refused.value) == "Two people are called Carl: say Carl or Carl (2)"
    assert dimmed_integration.runtime_data.protocols.unfinished == []
    await call_light(hass, "start_protocol", **COURSE, name="Knees", person="Carl (2)")
    await settle(hass)
    (run,) = dimmed_integration.runtime_data.protocols.unfinished
    assert run.plan.person == "person.carl_2"


async def test_naming_a_person_without_persons_is_refused(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as refused:
        await call_light(hass, "start_protocol", **COURSE, name="Knees", person="Alice")
    assert refused.value.translation_key == "no_persons"
    assert dimmed_integration.runtime_data.protocols.unfinished == []


async def test_commands_act_on_the_named_or_the_current_persons_run(
    hass: HomeAssistant, household: None, dimmed_integration: MockConfigEntry
) -> None:
    """Stop without a person stops the run of whoever uses the panel; the protocol select
    shows that person's run."""
    await call_light(hass, "start_protocol", **COURSE, name="Alice's knees", person=ALICE)
    await call_light(hass, "start_protocol", **COURSE, name="Bob's knees", person=BOB)
    await hass.services.async_call(
        SELECT_DOMAIN, SERVICE_SELECT_OPTION, {"entity_id": WHO, ATTR_OPTION: "Bob"}, blocking=True
    )
    await settle(hass)
    assert hass.states.get(PROTOCOL_SELECT).state == "Bob's knees"
    await call_light(hass, "pause_protocol", person="Alice")
    stopped = await call_light(hass, "stop_protocol")
    assert (stopped[LIGHT]["protocol_name"], stopped[LIGHT]["status"]) == (
        "Bob's knees",
        "stopped",
    )
    (left,) = dimmed_integration.runtime_data.protocols.unfinished
    assert (left.plan.person, left.plan.status.value) == (ALICE, "paused")
    await settle(hass)
    assert hass.states.get(PROTOCOL_SELECT).state == "none"


async def test_events_and_calendar_name_the_person(
    hass: HomeAssistant,
    household: None,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await call_light(hass, "start_protocol", **COURSE, name="Knees", person=ALICE)
    await call_light(
        hass,
        "start_protocol",
        **COURSE | {"time_of_day": "08:00:00"},
        name="Bob's knees",
        person=BOB,
    )
    with recorded_events(dimmed_integration) as fired:
        await move_to(hass, freezer, MONDAY.replace(hour=8))
    due = [(data["person"], data["person_name"]) for kind, data in fired if kind == "session_due"]
    assert due == [(ALICE, "Alice"), (BOB, "Bob")]
    assert await _calendar_names(hass) == [
        "Alice: Knees (due)",
        "Bob: Bob's knees (due)",
    ]


async def _calendar_names(hass: HomeAssistant) -> list[str]:
    return [e["summary"] for e in await calendar_events(hass, MONDAY, MONDAY + timedelta(days=1))]


async def test_a_run_from_before_persons_stays_reachable(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry
) -> None:
    """A run started before anyone was set up is unassigned once the home has two persons:
    the calendar says so, and Alice (who has no run of her own) can still stop it."""
    await call_light(hass, "start_protocol", **COURSE, name="Knees")
    assert await _calendar_names(hass) == ["Knees (planned)"]
    assert await async_setup_component(hass, PERSON_DOMAIN, {})
    for name in ("Alice", "Bob"):
        await async_create_person(hass, name)
    await settle(hass)  # the panel reloads for the household
    assert await _calendar_names(hass) == ["Unassigned: Knees (planned)"]
    stopped = await call_light(hass, "stop_protocol", person="Alice")
    assert (stopped[LIGHT]["person"], stopped[LIGHT]["status"]) == (None, "stopped")


async def test_a_departed_persons_course_is_kept_stopped_and_nobodys(
    hass: HomeAssistant, household: None, dimmed_integration: MockConfigEntry
) -> None:
    await async_create_person(hass, "Carol")
    await settle(hass)
    await call_light(hass, "start_protocol", **COURSE, name="Carol's knees", person="Carol")
    storage = hass.data[PERSON_DOMAIN][1]
    carol = next(item for item in storage.async_items() if item["name"] == "Carol")
    await storage.async_delete_item(carol["id"])
    # The deletion reloads the panels (they read their runs again): wait for that.
    await hass.async_block_till_done(wait_background_tasks=True)
    await settle(hass)
    # Her course is kept, stopped and nobody's: the calendar plans no session of it, and no
    # new person called Carol inherits it.
    (run,) = hass.data[DATA_STORE].plans.values()
    assert (run["person"], run["status"]) == ("departed", "stopped")
    assert await _calendar_names(hass) == []


async def test_no_protocol_run_names_the_person_in_a_household(
    hass: HomeAssistant, household: None, dimmed_integration: MockConfigEntry
) -> None:
    """With Carl chosen while Alice and Bob have runs on the panel, Skip and the Protocol run
    switch are refused saying that Carl has no protocol run there, and nothing changes."""
    await async_create_person(hass, "Carl")
    await settle(hass)
    await call_light(hass, "start_protocol", **COURSE, name="Alice's knees", person=ALICE)
    await call_light(hass, "start_protocol", **COURSE, name="Bob's knees", person=BOB)
    await hass.services.async_call(
        SELECT_DOMAIN, SERVICE_SELECT_OPTION, {"entity_id": WHO, ATTR_OPTION: "Carl"}, blocking=True
    )
    await settle(hass)
    runs = dimmed_integration.runtime_data.protocols.unfinished
    before = [(r.plan.person, r.plan.status, set(r.plan.skipped_dates)) for r in runs]
    said = f"Carl has no protocol run on {dimmed_integration.title}"
    for domain, service, entity in (
        ("button", "press", "button.blockbluelight_f522_skip_next_protocol_session"),
        ("switch", "turn_off", "switch.blockbluelight_f522_protocol_run"),
    ):
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(domain, service, {"entity_id": entity}, blocking=True)
        assert err.value.translation_key == "no_protocol_run_for_person"
        assert str(err.value) == said
    with pytest.raises(ServiceValidationError) as err:
        await call_light(hass, "stop_protocol")
    assert str(err.value) == said
    runs = dimmed_integration.runtime_data.protocols.unfinished
    assert [(r.plan.person, r.plan.status, set(r.plan.skipped_dates)) for r in runs] == before
