"""Sessions for a person: the actions' ``person``, limits per person, the panel's entities
showing whose session runs, the migration of a one-person store and ``assign_person``.

Persons come from Home Assistant's real person integration; sessions run on the emulated
panel through the actions, the light and the Start button, with the frozen clock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
import pathlib
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.button import DOMAIN as BUTTON_DOMAIN, SERVICE_PRESS
from homeassistant.components.light import DOMAIN as LIGHT_DOMAIN
from homeassistant.components.person import DOMAIN as PERSON_DOMAIN, async_create_person
from homeassistant.components.select import (
    ATTR_OPTION,
    DOMAIN as SELECT_DOMAIN,
    SERVICE_SELECT_OPTION,
)
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_TURN_ON
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.const import DOMAIN
from custom_components.red_light_therapy.entity import entity_unique_id
from custom_components.red_light_therapy.panels.blockbluelight import BlockBlueLightEmulator
from custom_components.red_light_therapy.store import DATA_STORE, STORAGE_KEY
from custom_components.red_light_therapy.therapy import (
    BandIrradiance,
    Session,
    SessionRecord,
)

from .common import (
    advance,
    completed_record,
    converse,
    inject_advertisement,
    install_sentences,
    move_to,
    recorded_events,
    saved_history,
    service_info,
    settle,
    stored_files,
    to_end,
)

PACIFIC = ZoneInfo("US/Pacific")
LIGHT = "light.blockbluelight_f522"
TIMER = "sensor.blockbluelight_f522_session_timer"
START = "button.blockbluelight_f522_start_session"
NAME = "BlockBlueLight F522"


@pytest.fixture(autouse=True)
def fixed_clock(freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to(datetime(2025, 6, 4, 9, 0, tzinfo=PACIFIC))


async def persons(hass: HomeAssistant, *names: str) -> dict[str, str]:
    """Create persons through the person integration; name -> entity id."""
    assert await async_setup_component(hass, PERSON_DOMAIN, {})
    for name in names:
        await async_create_person(hass, name)
    await settle(hass)
    return {state.name: state.entity_id for state in hass.states.async_all(PERSON_DOMAIN)}


async def call(hass: HomeAssistant, service: str, *, target: bool = True, **data: Any) -> Any:
    result = await hass.services.async_call(
        DOMAIN,
        service,
        ({ATTR_ENTITY_ID: LIGHT} if target else {}) | data,
        blocking=True,
        return_response=True,
    )
    await settle(hass)
    return result


async def _log(hass: HomeAssistant, ago: timedelta, **data: Any) -> Any:
    """Log a session that started ``ago``, with ``data`` (its minutes, its person)."""
    return await call(hass, "log_session", started_at=dt_util.now() - ago, **data)


async def test_start_session_for_a_named_person_is_theirs_in_answer_event_and_record(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    people = await persons(hass, "Alice", "Bob")
    with recorded_events(init_integration) as events:
        answer = await call(hass, "start_session", dose=10, person="alice")
        assert answer[LIGHT]["person"] == people["Alice"]
        assert answer[LIGHT]["person_name"] == "Alice"
        assert init_integration.runtime_data.sessions.session.person == people["Alice"]
        await to_end(hass, freezer, init_integration)
    started = dict(events)["session_started"]
    completed = dict(events)["session_completed"]
    assert (started["person"], started["person_name"]) == (people["Alice"], "Alice")
    assert (completed["person"], completed["person_name"]) == (people["Alice"], "Alice")
    assert [r.person for r in init_integration.runtime_data.sessions.history] == [people["Alice"]]


UNKNOWN = (
    {"name": "Carol", "names": "Alice, Bob"},
    "Carol is not one of the people in this home. Choose one of: Alice, Bob",
)
BLANK = {"names": "Alice, Bob"}, "No person was named. Give one of these names: Alice, Bob"
THREE_HOURS_EARLIER = datetime(2025, 6, 4, 6, 0, tzinfo=PACIFIC)  # than the fixed clock


@pytest.mark.parametrize(
    ("service", "data", "key", "refusal"),
    [
        ("start_session", {"minutes": 5, "person": "Carol"}, "unknown_person", UNKNOWN),
        ("calculate", {"minutes": 5, "person": "Carol"}, "unknown_person", UNKNOWN),
        (
            "log_session",
            {"minutes": 5, "person": "Carol", "started_at": THREE_HOURS_EARLIER},
            "unknown_person",
            UNKNOWN,
        ),
        # ``person: "  "`` was refused as '"" is not one of the people in this home'.
        ("start_session", {"minutes": 2, "person": "  "}, "blank_person", BLANK),
        ("calculate", {"minutes": 2, "person": "  "}, "blank_person", BLANK),
        ("assign_person", {"person": "  "}, "blank_person", BLANK),
    ],
)
async def test_an_unknown_or_blank_person_is_refused_by_name_and_changes_nothing(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    *,
    hass_storage: dict[str, Any],
    service: str,
    data: dict[str, Any],
    key: str,
    refusal: tuple[dict[str, str], str],
) -> None:
    await persons(hass, "Alice", "Bob")
    stored = stored_files(hass_storage)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, service, target=service != "assign_person", **data)
    assert err.value.translation_key == key
    assert (err.value.translation_placeholders, str(err.value)) == refusal
    assert not emulator.is_on
    assert init_integration.runtime_data.sessions.session is None
    assert len(init_integration.runtime_data.sessions.history) == 0
    assert stored_files(hass_storage) == stored


async def test_persons_whose_names_match_are_named_as_the_select_shows_them(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    hass_storage: dict[str, Any],
) -> None:
    """With "bob" next to "Bob", ``person: "Bob"`` names Bob, and of two "Carl"s, "Carl (2)",
    what the select shows, names the second. Each label names its person; a name said in a
    case two persons share is refused saying so, with the labels to say."""
    await persons(hass, "Alice", "Bob", "bob", "Carl", "Carl")
    ids = {s.entity_id for s in hass.states.async_all(PERSON_DOMAIN)}
    assert {"person.bob", "person.bob_2", "person.carl", "person.carl_2"} <= ids
    select = hass.states.get(_select(hass, init_integration))
    assert select is not None
    assert {"Bob", "bob", "Carl", "Carl (2)"} <= set(select.attributes["options"])
    named = {}
    for text in ("Bob", "bob", "Carl", "Carl (2)", "carl (2)", "Carl 2"):
        named[text] = (await call(hass, "calculate", minutes=2, person=text))[LIGHT]["person"]
    assert named == {
        "Bob": "person.bob",
        "bob": "person.bob_2",
        "Carl": "person.carl",
        "Carl (2)": "person.carl_2",
        "carl (2)": "person.carl_2",
        "Carl 2": "person.carl_2",
    }

    stored = stored_files(hass_storage)
    for text, said in (
        ("carl", "Two people are called Carl: say Carl or Carl (2)"),
        ("BOB", "Two people are called Bob: say Bob or bob"),
    ):
        with pytest.raises(ServiceValidationError) as err:
            await call(hass, "start_session", minutes=2, person=text)
        assert err.value.translation_key == "ambiguous_person"
        assert str(err.value) == said
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "calculate", minutes=2, person="Dave")
    assert str(err.value) == (
        "Dave is not one of the people in this home. Choose one of: Alice, Bob, bob, Carl, Carl (2)"
    )
    assert not emulator.is_on
    assert init_integration.runtime_data.sessions.session is None
    assert stored_files(hass_storage) == stored


@pytest.mark.parametrize(
    ("names", "refused"),
    [
        (("Alice",), f"Refused on {NAME}: the last session on this skin ended 2 hours ago"),
        (
            ("Alice", "Bob"),
            f"Refused for Alice on {NAME}: the last session on this skin ended 2 hours ago",
        ),
    ],
)
async def test_a_refusal_says_whose_limit_it_is_only_in_a_household(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    names: tuple[str, ...],
    refused: str,
) -> None:
    """ "Refused on BlockBlueLight F522: the last session on this skin ended ..." did not say
    whose spacing it was when two people share the panel; with one person it still reads as
    before households."""
    await persons(hass, *names)
    await call(hass, "start_session", dose=10, person="Alice")
    await to_end(hass, freezer, init_integration)
    await advance(hass, freezer, timedelta(hours=2))
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "start_session", dose=10, person="Alice")
    whose = "_for_person" if len(names) > 1 else ""
    assert err.value.translation_key == f"refused_spacing{whose}"
    assert str(err.value).startswith(refused)
    assert init_integration.runtime_data.sessions.session is None


async def test_a_person_named_with_no_persons_set_up_is_refused(
    hass: HomeAssistant, init_integration: MockConfigEntry, emulator: BlockBlueLightEmulator
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "start_session", minutes=5, person="Alice")
    assert err.value.translation_key == "no_persons"
    assert not emulator.is_on
    assert init_integration.runtime_data.sessions.session is None


async def test_one_persons_session_never_refuses_anothers_and_each_has_their_own_limits(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Whole body: 20 hours between sessions. Alice's session does not space Bob's; her own
    next one two hours later is refused by her spacing; calculate says the same for each."""
    people = await persons(hass, "Alice", "Bob")
    await call(hass, "start_session", dose=10, person=people["Alice"])
    await to_end(hass, freezer, init_integration)
    await advance(hass, freezer, timedelta(hours=2))

    for_bob = await call(hass, "calculate", minutes=2, person="Bob")
    for_alice = await call(hass, "calculate", minutes=2, person="Alice")
    assert for_bob[LIGHT]["refused"] is False
    assert for_alice[LIGHT]["refused"] is True
    assert for_alice[LIGHT]["deciding"]["code"] == "spacing"

    await call(hass, "start_session", dose=10, person="Bob")
    await to_end(hass, freezer, init_integration)
    await advance(hass, freezer, timedelta(hours=2))
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "start_session", dose=10, person="Alice")
    assert err.value.translation_key == "refused_spacing_for_person"
    assert str(err.value).startswith(f"Refused for Alice on {NAME}: the last session")
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "start_session", dose=10, person="Bob")
    assert err.value.translation_key == "refused_spacing_for_person"
    assert str(err.value).startswith(f"Refused for Bob on {NAME}: the last session")
    history = init_integration.runtime_data.sessions.history
    assert [r.person for r in history] == [people["Alice"], people["Bob"]]


async def test_an_unassigned_record_counts_for_everyones_limits(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A session nobody was chosen for (several persons, no choice, nobody used the panel)
    may be anyone's skin: it spaces both persons until it is assigned."""
    people = await persons(hass, "Alice", "Bob")
    answer = await call(hass, "start_session", dose=10)
    assert answer[LIGHT]["person"] is None
    await to_end(hass, freezer, init_integration)
    await advance(hass, freezer, timedelta(hours=2))
    for name in ("Alice", "Bob"):
        plan = await call(hass, "calculate", minutes=2, person=name)
        assert plan[LIGHT]["refused"] is True

    given = await call(hass, "assign_person", target=False, person="Alice")
    record = init_integration.runtime_data.sessions.history.records[0]
    assert given == {
        "person": people["Alice"],
        "person_name": "Alice",
        "sessions": [record.id],
        "runs": 0,
    }
    assert record.person == people["Alice"]
    assert (await call(hass, "calculate", minutes=2, person="Bob"))[LIGHT]["refused"] is False
    assert (await call(hass, "calculate", minutes=2, person="Alice"))[LIGHT]["refused"] is True


async def test_log_session_for_a_person_and_reassign_it_by_id(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    people = await persons(hass, "Alice", "Bob")
    logged = await _log(hass, timedelta(hours=3), minutes=2, person="Bob")
    assert (logged[LIGHT]["person"], logged[LIGHT]["person_name"]) == (people["Bob"], "Bob")
    session_id = logged[LIGHT]["session_id"]

    given = await call(
        hass, "assign_person", target=False, person=people["Alice"], session_id=session_id
    )
    assert given["sessions"] == [session_id]
    assert [r.person for r in init_integration.runtime_data.sessions.history] == [people["Alice"]]

    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "assign_person", target=False, person="Alice", session_id="01NOPE")
    assert err.value.translation_key == "assign_session_not_found"
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "assign_person", target=False, person="Zed", session_id=session_id)
    assert err.value.translation_key == "unknown_person"
    assert [r.person for r in init_integration.runtime_data.sessions.history] == [people["Alice"]]
    # remove_session still works on a person's session.
    await call(hass, "remove_session", session_id=session_id)
    assert len(init_integration.runtime_data.sessions.history) == 0


def _select(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    unique_id = entity_unique_id(entry, "current_person")
    entity_id = er.async_get(hass).async_get_entity_id("select", DOMAIN, unique_id)
    assert entity_id is not None
    return entity_id


async def _choose(hass: HomeAssistant, entry: MockConfigEntry, name: str) -> None:
    await hass.services.async_call(
        SELECT_DOMAIN,
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: _select(hass, entry), ATTR_OPTION: name},
        blocking=True,
    )
    await settle(hass)


async def test_light_start_button_and_the_panels_own_button_follow_the_panels_person(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Each start without a person is for the panel's "Who is using the panel" choice, and
    the light and the session timer show that person's name (never the entity id) while the
    session runs; each person's own spacing then refuses only their own next session."""
    people = await persons(hass, "Alice", "Bob", "Carol")
    entry = dimmed_integration

    await _choose(hass, entry, "Alice")
    await hass.services.async_call(
        LIGHT_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: LIGHT}, blocking=True
    )
    await settle(hass)
    assert entry.runtime_data.sessions.session.person == people["Alice"]
    assert hass.states.get(LIGHT).attributes["person"] == "Alice"
    assert hass.states.get(TIMER).attributes["person"] == "Alice"
    await to_end(hass, freezer, entry)
    assert "person" not in hass.states.get(TIMER).attributes

    await _choose(hass, entry, "Bob")
    await hass.services.async_call(
        BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: START}, blocking=True
    )
    await settle(hass)
    assert hass.states.get(TIMER).attributes["person"] == "Bob"
    await to_end(hass, freezer, entry)

    await _choose(hass, entry, "Carol")
    emulator.press_button()  # at the panel itself
    await settle(hass)
    assert entry.runtime_data.sessions.session.person == people["Carol"]
    assert hass.states.get(LIGHT).attributes["person"] == "Carol"
    await to_end(hass, freezer, entry)

    history = entry.runtime_data.sessions.history
    assert [r.person for r in history] == [people["Alice"], people["Bob"], people["Carol"]]
    # Carol's turn is over; Alice's choice again: her own spacing refuses her at the light.
    await _choose(hass, entry, "Alice")
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            LIGHT_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: LIGHT}, blocking=True
        )
    assert err.value.translation_key == "refused_spacing_for_person"
    assert not emulator.is_on


# -- Assist ------------------------------------------------------------------------------


async def users_and_persons(hass: HomeAssistant, *names: str) -> dict[str, tuple[str, str]]:
    """Persons linked to logins: name -> (person entity id, user id)."""
    assert await async_setup_component(hass, PERSON_DOMAIN, {})
    linked: dict[str, str] = {}
    for name in names:
        user = await hass.auth.async_create_user(name)
        await async_create_person(hass, name, user_id=user.id)
        linked[name] = user.id
    await settle(hass)
    return {
        state.name: (state.entity_id, linked[state.name])
        for state in hass.states.async_all(PERSON_DOMAIN)
    }


@pytest.fixture
async def say(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry, tmp_path: pathlib.Path
) -> Callable[..., Awaitable[str]]:
    """Assist with custom_sentences/en/red_light_therapy.yaml installed as the README says;
    ``user_id``: the speaking user (None: a satellite with no login)."""
    await install_sentences(hass, tmp_path)
    return partial(converse, hass)


async def test_voice_starts_the_speakers_session_and_asks_who_when_it_cannot_tell(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    say: Callable[..., Awaitable[str]],
) -> None:
    people = await users_and_persons(hass, "Alice", "Bob")
    alice, alice_user = people["Alice"]
    bob, bob_user = people["Bob"]
    entry = dimmed_integration
    await _choose(hass, entry, "Bob")  # the panel's choice never decides a voice request

    said = await say("start my red light session", alice_user)
    assert said.startswith(f"Started 10 minutes on {NAME} for Alice, about")
    assert entry.runtime_data.sessions.session.person == alice
    assert hass.states.get(TIMER).attributes["person"] == "Alice"
    await to_end(hass, freezer, entry)
    assert (await say("what's my dose today", alice_user)).startswith("Alice's dose today is 7.2")
    assert (await say("what's my dose today", bob_user)) == "Bob has had no red light today."

    # An unknown speaker (a satellite): Assist says how to name the person; nothing starts.
    said = await say("start my red light session")
    assert said == 'Who is the session for? Say, for example, "start a red light session for Alice"'
    assert entry.runtime_data.sessions.session is None
    assert not emulator.is_on
    said = await say("what's my dose today")
    assert said.startswith("Whose dose? Say, for example")
    said = await say("what's the dose today for alice")
    assert said.startswith("Alice's dose today is 7.2")

    # Named: Bob's session, although Alice's spacing still runs on the same area.
    await advance(hass, freezer, timedelta(hours=1))
    said = await say("start a red light session for bob")
    assert said.startswith(f"Started 10 minutes on {NAME} for Bob")
    assert entry.runtime_data.sessions.session.person == bob
    await to_end(hass, freezer, entry)
    said = await say("start a red light session for Carol")
    assert said.startswith("Carol is not one of the people in this home")
    # Alice's own spacing refuses her, in words.
    said = await say("start my red light session", alice_user)
    assert said.startswith(f"Refused for Alice on {NAME}: the last session on this skin ended 1.2")
    assert entry.runtime_data.sessions.session is None


async def test_an_unknown_speaker_is_told_how_to_ask_for_a_length_or_dose_for_a_person(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    say: Callable[..., Awaitable[str]],
) -> None:
    """From a satellite, "start a 3 minute red light session" and "give me 5 joules" were
    answered 'Say ... "start a red light session for Alice"', and following that hint started
    the default length. The hint repeats the request with a name, and saying it does that."""
    await users_and_persons(hass, "Alice", "Bob")
    entry = dimmed_integration

    said = await say("start a 3 minute red light session")
    assert said == (
        'Who is the session for? Say, for example, "start a 3 minute red light session for Alice"'
    )
    assert entry.runtime_data.sessions.session is None
    said = await say("start a 3 minute red light session for Alice")
    assert said.startswith(f"Started 3 minutes on {NAME} for Alice, about")
    session = entry.runtime_data.sessions.session
    assert session is not None
    assert session.planned_seconds == 180
    await to_end(hass, freezer, entry)

    said = await say("give me 5 joules")
    assert said == 'Who is the session for? Say, for example, "give me 5 joules for Alice"'
    assert entry.runtime_data.sessions.session is None
    said = await say("give me 5 joules for bob")
    assert said.startswith("Started ")
    assert f"on {NAME} for Bob, about" in said
    session = entry.runtime_data.sessions.session
    assert session is not None
    assert session.person == "person.bob"
    assert emulator.is_on


async def test_voice_says_today_s_dose_as_a_person_would(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    say: Callable[..., Awaitable[str]],
) -> None:
    """ "0.0 joules per square centimetre (0.0 red, 0.0 near-infrared)" for someone who had no
    light today; numbers rounded as read."""
    people = await users_and_persons(hass, "Alice", "Bob")
    _alice, alice_user = people["Alice"]
    assert await say("what's my dose today", alice_user) == "Alice has had no red light today."
    assert await say("what's the dose today for bob") == "Bob has had no red light today."
    await say("start a 3 minute red light session for Alice")
    await to_end(hass, freezer, dimmed_integration)
    said = await say("what's my dose today", alice_user)
    record = list(dimmed_integration.runtime_data.sessions.history)[-1]
    red, nir = f"{round(record.dose.red, 1):g}", f"{round(record.dose.nir, 1):g}"
    total = f"{round(record.dose.total, 1):g}"
    assert said == (
        f"Alice's dose today is {total} joules per square centimetre "
        f"({red} red, {nir} near-infrared)."
    )
    assert ".0 " not in said


# -- the household over a week -----------------------------------------------------------


async def test_a_two_person_household_shares_one_panel_for_a_week(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    emulator: BlockBlueLightEmulator,
    freezer: FrozenDateTimeFactory,
    say: Callable[..., Awaitable[str]],
) -> None:
    """Alice starts by voice on her login, Bob with the panel's Start button (the panel's
    choice is Bob), both on the whole body (20 hours apart, 5 sessions a week) every morning,
    one right after the other: neither ever refuses the other. Bob skips Saturday. Each is
    refused by their own limits: Alice's second session on the first morning by her spacing,
    Alice on Tuesday by her weekly count while Bob (one session fewer) still starts, Bob on
    Wednesday by his."""
    people = await users_and_persons(hass, "Alice", "Bob")
    alice, alice_user = people["Alice"]
    bob = people["Bob"][0]
    entry = dimmed_integration
    await _choose(hass, entry, "Bob")
    started: dict[str, list[int]] = {alice: [], bob: []}

    for day in range(7):  # Thursday 5 June to Wednesday 11 June 2025
        await move_to(hass, freezer, datetime(2025, 6, 5 + day, 7, 0, tzinfo=PACIFIC))
        said = await say("start my red light session", alice_user)
        if day < 5:
            assert said.startswith(f"Started 10 minutes on {NAME} for Alice"), (day, said)
            started[alice].append(day)
            await to_end(hass, freezer, entry)
        else:
            assert said.startswith(f"Refused for Alice on {NAME}: the weekly limit on this skin")
            assert not emulator.is_on
        if day == 0:  # her own spacing, an hour on the same morning
            await advance(hass, freezer, timedelta(minutes=50))
            said = await say("start my red light session", alice_user)
            assert said.startswith(f"Refused for Alice on {NAME}: the last session on this skin")
        if day == 2:
            continue  # Bob skips Saturday
        if day < 6:
            await hass.services.async_call(
                BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: START}, blocking=True
            )
            await settle(hass)
            assert hass.states.get(TIMER).attributes["person"] == "Bob"
            started[bob].append(day)
            await to_end(hass, freezer, entry)
        else:
            with pytest.raises(ServiceValidationError) as err:
                await hass.services.async_call(
                    BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: START}, blocking=True
                )
            assert err.value.translation_key == "refused_weekly_sessions_for_person"
            assert not emulator.is_on

    assert started == {alice: [0, 1, 2, 3, 4], bob: [0, 1, 3, 4, 5]}
    history = entry.runtime_data.sessions.history
    assert [r.person for r in history].count(alice) == 5
    assert [r.person for r in history].count(bob) == 5
    assert len(history) == 10
    # Each person's dose today is their own; the panel's own sensor stays the household's.
    assert (await say("what's my dose today", alice_user)) == "Alice has had no red light today."
    said = await say("what's the dose today for bob")
    assert said == "Bob has had no red light today."


# -- migration -----------------------------------------------------------------------------


async def _sessions_before_households(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> list[str]:
    """Sessions made with no persons set up (unassigned): one logged, two recorded over two
    days, and one still running; their ids."""
    logged = await _log(hass, timedelta(days=3), minutes=5)
    ids = [logged[LIGHT]["session_id"]]
    for _ in range(2):
        answer = await call(hass, "start_session", minutes=5)
        ids.append(answer[LIGHT]["session_id"])
        await to_end(hass, freezer, entry)
        await advance(hass, freezer, timedelta(days=1))
    answer = await call(hass, "start_session", minutes=10)
    ids.append(answer[LIGHT]["session_id"])
    await advance(hass, freezer, timedelta(minutes=2))
    history = entry.runtime_data.sessions.history
    assert [r.person for r in history] == [None, None, None]
    assert entry.runtime_data.sessions.session.person is None
    return ids


async def test_a_one_person_store_migrates_with_every_record_kept(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """A store from before households, then the home's one person is added: at the next
    setup every unassigned record and the running session are theirs, written at once;
    every record is kept as it was but for its person, and the session carries on."""
    entry = dimmed_integration
    ids = await _sessions_before_households(hass, entry, freezer)
    before = list(entry.runtime_data.sessions.history)
    saved_before = saved_history(hass_storage)
    people = await persons(hass, "Ada")
    ada = people["Ada"]
    # The integration's store was set up with nobody, so its migration has run; this one is
    # from before households (version 2.1: no ``households_migrated``).
    hass.data[DATA_STORE].households_migrated = False

    inject_advertisement(hass, service_info())  # days have passed: the panel is heard again
    assert await hass.config_entries.async_reload(entry.entry_id)
    await settle(hass)

    sessions = entry.runtime_data.sessions
    after = list(sessions.history)
    assert [r.id for r in after] == [r.id for r in before] == ids[:3]
    assert after == [replace(r, person=ada) for r in before]
    assert sessions.session is not None
    assert sessions.session.id == ids[3]
    assert sessions.session.person == ada
    assert hass.states.get(TIMER).attributes["person"] == "Ada"
    saved = saved_history(hass_storage)
    assert [row["person"] for row in saved] == [ada] * 3
    assert [{k: v for k, v in row.items() if k != "person"} for row in saved] == saved_before
    await to_end(hass, freezer, entry)
    assert [r.person for r in sessions.history] == [ada] * 4
    assert [r.id for r in sessions.history] == ids


async def test_with_several_persons_old_sessions_stay_unassigned_until_assigned(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    entry = dimmed_integration
    ids = await _sessions_before_households(hass, entry, freezer)
    inject_advertisement(hass, service_info())  # days have passed: the panel is heard again
    people = await persons(hass, "Alice", "Bob")  # two persons: the entry reloads
    await settle(hass)
    sessions = entry.runtime_data.sessions
    assert [r.person for r in sessions.history] == [None, None, None]
    assert sessions.session.person is None

    given = await call(hass, "assign_person", target=False, person="Bob")
    assert given["sessions"] == ids
    assert given["person_name"] == "Bob"
    assert [r.person for r in sessions.history] == [people["Bob"]] * 3
    assert sessions.session.person == people["Bob"]
    # Nothing left to give: an empty answer, nothing changed.
    again = await call(hass, "assign_person", target=False, person="Alice")
    assert again["sessions"] == []
    assert [r.person for r in sessions.history] == [people["Bob"]] * 3


async def test_another_panels_running_session_counts_only_for_its_own_person(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Alice's session running on another panel (the garage's, on her whole body) spaces
    her own next session here, never Bob's; an unassigned one there spaces both. Assigning
    it by its id gives it to Bob and moves the refusal with it."""
    people = await persons(hass, "Alice", "Bob")
    garage = Session(
        id="01GARAGE",
        area="whole_body",
        distance_cm=15.0,
        planned_seconds=600.0,
        irradiance=BandIrradiance(24.0, 36.0),
        panel_id="garage",
        person=people["Alice"],
    )
    garage.start(dt_util.utcnow())
    await hass.data[DATA_STORE].async_start_session(garage)

    async def refused(name: str) -> bool:
        plan = await call(hass, "calculate", minutes=2, person=name)
        return bool(plan[LIGHT]["refused"])

    assert await refused("Alice")
    assert not await refused("Bob")
    garage.person = None
    assert await refused("Alice")
    assert await refused("Bob")

    await call(hass, "assign_person", target=False, person="Bob", session_id="01GARAGE")
    assert garage.person == people["Bob"]
    assert not await refused("Alice")
    assert await refused("Bob")
    with pytest.raises(ValueError, match="not a person entity id"):
        hass.data[DATA_STORE].assign_session("01GARAGE", "Bob Smith")


def _record(rid: str, start: datetime, minutes: float, person: str | None) -> SessionRecord:
    """A completed session on the whole body at 60 mW/cm² (24 red, 36 NIR)."""
    return completed_record(rid, start, minutes, person, area="whole_body", irradiance=(24.0, 36.0))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sessions=st.lists(
        st.tuples(
            st.sampled_from(["Alice", "Bob", None]),
            st.integers(10, 8 * 24 * 60),  # minutes before now
            st.integers(1, 20),  # minutes long
        ),
        max_size=8,
    )
)
async def test_bobs_sessions_never_change_what_alice_may_do(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    sessions: list[tuple[str | None, int, int]],
) -> None:
    """Whatever Bob's history, ``calculate`` for Alice answers as if he had none: his records
    neither refuse nor shorten her session; hers and the unassigned ones do."""
    # The persons are made once: Home Assistant is shared by every example.
    people = {s.name: s.entity_id for s in hass.states.async_all(PERSON_DOMAIN)}
    if not people:
        people = await persons(hass, "Alice", "Bob")
    history = hass.data[DATA_STORE].history
    now = dt_util.utcnow()
    records = [
        _record(f"01REC{index}", now - timedelta(minutes=ago), long, people.get(name or ""))
        for index, (name, ago, long) in enumerate(sessions)
    ]

    async def for_alice() -> dict[str, Any]:
        plan = await call(hass, "calculate", minutes=15, person="Alice")
        return dict(plan[LIGHT])

    try:
        for record in records:
            history.append(record)
        with_bob = await for_alice()
        for record in records:
            if record.person == people["Bob"]:
                history.remove(record.id)
        without_bob = await for_alice()
    finally:
        for record in records:
            if record.id in history:
                history.remove(record.id)
    assert with_bob == without_bob


async def test_in_a_one_person_home_an_unknown_speaker_is_that_person(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    say: Callable[..., Awaitable[str]],
) -> None:
    """A satellite without a login, one person at home: the session is theirs, no question."""
    people = await persons(hass, "Ada")
    said = await say("start my red light session")
    assert said.startswith(f"Started 10 minutes on {NAME} for Ada, about")
    assert dimmed_integration.runtime_data.sessions.session.person == people["Ada"]


async def _course(hass: HomeAssistant, area: str) -> None:
    """A protocol run on ``area``, started with nobody chosen (unassigned)."""
    await hass.services.async_call(
        DOMAIN,
        "start_protocol",
        {
            ATTR_ENTITY_ID: LIGHT,
            "name": f"{area.title()} course",
            "dose": 3,
            "sessions_per_week": 1,
            "weeks": 4,
            "area": area,
        },
        blocking=True,
    )
    await settle(hass)


def _run_persons(entry: MockConfigEntry) -> dict[str, str | None]:
    return {run.plan.area: run.plan.person for run in entry.runtime_data.protocols.runs}


async def test_unassigned_runs_migrate_and_are_assigned_where_the_panel_reads_them(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The panel's protocol runs are read at setup: a one-person migration happens before,
    and ``assign_person`` has the panels read them again, so a run is never kept (and saved
    back) without its person."""
    entry = init_integration
    await _course(hass, "knee")
    assert _run_persons(entry) == {"knee": None}
    people = await persons(hass, "Ada")
    hass.data[DATA_STORE].households_migrated = False  # a store from before households
    assert await hass.config_entries.async_reload(entry.entry_id)
    await settle(hass)
    assert _run_persons(entry) == {"knee": people["Ada"]}

    people = await persons(hass, "Bob")  # two persons now: the panel reloads
    await _course(hass, "back")
    assert _run_persons(entry) == {"knee": people["Ada"], "back": None}
    given = await call(hass, "assign_person", target=False, person="Bob")
    assert (given["sessions"], given["runs"]) == ([], 1)
    await settle(hass)
    assert _run_persons(entry) == {"knee": people["Ada"], "back": people["Bob"]}
    stored = {plan["area"]: plan.get("person") for plan in hass.data[DATA_STORE].plans.values()}
    assert stored == {"knee": people["Ada"], "back": people["Bob"]}


async def test_a_persons_renamed_entity_id_keeps_their_sessions_and_limits(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """Alice's entity id is changed under Settings → Entities: her sessions, her running
    session, her run and the panel's choice follow it, so her spacing still holds her and
    the panel still names her."""
    entry = dimmed_integration
    people = await persons(hass, "Alice", "Bob")
    await _choose(hass, entry, "Alice")
    await _course(hass, "knee")
    await call(hass, "start_session", minutes=5, area="face")
    await to_end(hass, freezer, entry)
    await advance(hass, freezer, timedelta(hours=1))
    await call(hass, "start_session", minutes=5, area="knee", person="Alice")
    # The run as a run started for Alice is stored (runs per person are protocol_manager's).
    for plan in hass.data[DATA_STORE].runs().values():
        plan.person = people["Alice"]
        await hass.data[DATA_STORE].async_save_run(plan)

    inject_advertisement(hass, service_info())  # an hour on: the panel is heard again
    er.async_get(hass).async_update_entity(people["Alice"], new_entity_id="person.alice_smith")
    await settle(hass)
    assert entry.state is ConfigEntryState.LOADED, entry.state

    sessions = entry.runtime_data.sessions
    assert [r.person for r in sessions.history] == ["person.alice_smith"]
    assert sessions.session.person == "person.alice_smith"
    assert hass.states.get(TIMER).attributes["person"] == "Alice"
    assert _run_persons(entry) == {"knee": "person.alice_smith"}
    assert hass.states.get(_select(hass, entry)).state == "Alice"
    assert saved_history(hass_storage)[0]["person"] == "person.alice_smith"
    await to_end(hass, freezer, entry)
    assert (await call(hass, "calculate", minutes=2, person="Alice"))[LIGHT]["refused"]
    assert not (await call(hass, "calculate", minutes=2, person="Bob"))[LIGHT]["refused"]


async def test_each_persons_24_hour_dose_limits_only_their_own_session(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Bob had 25 J/cm² on his whole body 22 hours ago (spacing passed, the 30 J/cm² rolling
    24-hour cap not): his 15-minute session is cut to what his cap leaves, Alice's session
    and her extension are not."""
    people = await persons(hass, "Alice", "Bob")
    minutes = 25 * 1000 / 60.0 / 60  # 25 J/cm² at full output (24 + 36 mW/cm²)
    hass.data[DATA_STORE].history.append(
        _record("01BOB", dt_util.utcnow() - timedelta(hours=22), minutes, people["Bob"])
    )
    for_alice = (await call(hass, "calculate", minutes=15, person="Alice"))[LIGHT]
    for_bob = (await call(hass, "calculate", minutes=15, person="Bob"))[LIGHT]
    assert for_alice["verdict"] == "allowed"
    assert for_alice["expected_dose_j_cm2"] == pytest.approx(10.8)
    assert for_bob["verdict"] == "clamped"
    assert for_bob["expected_dose_j_cm2"] == pytest.approx(5.0, abs=0.01)  # whole seconds
    assert "daily_dose" in [reason["code"] for reason in for_bob["reasons"]]

    # Alice's extension is checked against her own 24 hours: Bob's 25 J/cm² would cut it.
    await call(hass, "start_session", minutes=4, person="Alice")  # 2.88 J/cm²
    extended = await call(hass, "extend_session", minutes=10)  # 10.08 J/cm² in all
    assert extended[LIGHT]["verdict"] == "allowed"
    assert dimmed_integration.runtime_data.sessions.session.planned_seconds == 14 * 60


# -- the migration runs once; a deleted person's sessions; unassigned sessions shown --------


async def _delete_person(hass: HomeAssistant, name: str) -> None:
    storage = hass.data[PERSON_DOMAIN][1]
    item = next(item for item in storage.async_items() if item["name"] == name)
    await storage.async_delete_item(item["id"])
    await settle(hass)


async def test_the_migration_runs_once_and_never_gives_sessions_away_later(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """Sessions recorded with nobody set up are not rewritten when the first person is added
    (the migration ran at the first setup) but read as theirs, and they stay unassigned when
    a home of two goes down to one person (the panel reloads): never silently given away."""
    entry = dimmed_integration
    ids = await _sessions_before_households(hass, entry, freezer)
    await to_end(hass, freezer, entry)
    assert hass_storage[STORAGE_KEY]["data"]["households_migrated"] is True
    people = await persons(hass, "Ada")  # 0 -> 1: nothing rewritten, shown as Ada's
    await advance(hass, freezer, timedelta(days=1))
    inject_advertisement(hass, service_info())
    await settle(hass)
    await call(hass, "start_session", minutes=5)
    assert hass.states.get(TIMER).attributes["person"] == "Ada"
    await to_end(hass, freezer, entry)
    sessions = entry.runtime_data.sessions
    assert [r.person for r in sessions.history] == [None, None, None, None, people["Ada"]]

    await advance(hass, freezer, timedelta(days=1))
    inject_advertisement(hass, service_info())
    await persons(hass, "Bob")  # two persons: the panel reloads
    assert [r.person for r in sessions.history][:4] == [None] * 4
    inject_advertisement(hass, service_info())
    await _delete_person(hass, "Bob")  # one person again: the panel reloads
    assert entry.state is ConfigEntryState.LOADED
    sessions = entry.runtime_data.sessions
    assert [r.id for r in sessions.history][:4] == ids
    assert [r.person for r in sessions.history] == [None, None, None, None, people["Ada"]]
    assert [row.get("person") for row in saved_history(hass_storage)][:4] == [None] * 4


async def test_a_new_person_never_inherits_a_deleted_persons_sessions(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """Robert (person.bob) is deleted with a session recorded and one running; a new "Bob"
    gets person.bob again and starts empty: no dose, no spacing, no run of Robert's. Robert's
    sessions are kept, shown as someone no longer in this home, and count for nobody."""
    entry = dimmed_integration
    people = await persons(hass, "Alice", "Bob")
    bob = people["Bob"]
    await call(hass, "start_session", minutes=5, area="face", person="Bob")
    await to_end(hass, freezer, entry)
    await advance(hass, freezer, timedelta(days=1))
    inject_advertisement(hass, service_info())
    await settle(hass)
    await call(hass, "start_session", minutes=5, area="face", person="Bob")
    running = entry.runtime_data.sessions.session.id
    await _choose(hass, entry, "Bob")
    await _course(hass, "knee")  # Robert's course
    assert _run_persons(entry) == {"knee": bob}

    inject_advertisement(hass, service_info())
    await _delete_person(hass, "Bob")
    assert entry.state is ConfigEntryState.LOADED
    sessions = entry.runtime_data.sessions
    assert sessions.session.id == running
    assert hass.states.get(TIMER).attributes["person"] == "Someone no longer in this home"
    assert hass.states.get(LIGHT).attributes["person"] == "Someone no longer in this home"
    await to_end(hass, freezer, entry)
    assert len(sessions.history) == 2  # nothing lost
    assert {r.person for r in sessions.history} == {"departed"}
    assert {row["person"] for row in saved_history(hass_storage)} == {"departed"}
    # Robert's course is kept, his, stopped: nobody follows it any more.
    (run,) = entry.runtime_data.protocols.runs
    assert (run.plan.person, run.plan.status.value) == ("departed", "stopped")
    assert hass.states.get(TIMER).state == "idle"

    inject_advertisement(hass, service_info())
    people = await persons(hass, "Bob")
    assert people["Bob"] == bob  # Home Assistant gives the new Bob the same entity id
    today = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, entity_unique_id(entry, f"dose_today_{bob}")
    )
    assert today is not None
    assert float(hass.states.get(today).state) == 0
    # Robert's spacing holds neither the new Bob nor Alice.
    assert not (await call(hass, "calculate", minutes=2, area="face", person="Bob"))[LIGHT][
        "refused"
    ]
    assert not (await call(hass, "calculate", minutes=2, area="face", person="Alice"))[LIGHT][
        "refused"
    ]
    # The new Bob starts his own course on the knee.
    await _choose(hass, entry, "Bob")
    await _course(hass, "knee")
    assert sorted(
        (run.plan.person or "", run.plan.status.value) for run in entry.runtime_data.protocols.runs
    ) == [("departed", "stopped"), (bob, "active")]


async def test_unassigned_sessions_are_shown_and_can_be_given_by_their_id(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """In a home of two with nobody chosen, a session belongs to nobody: the running one reads
    "Unassigned", and the diagnostic "Unassigned sessions" counts and lists them, latest first,
    with the ids ``assign_person`` takes."""
    entry = dimmed_integration
    inject_advertisement(hass, service_info())
    await persons(hass, "Alice", "Bob")
    sensor = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, entity_unique_id(entry, "unassigned_sessions")
    )
    assert sensor is not None
    assert hass.states.get(sensor).state == "0"
    logged = await _log(hass, timedelta(days=2), minutes=5)
    running = await call(hass, "start_session", minutes=5)
    assert running[LIGHT]["person"] is None
    assert hass.states.get(TIMER).attributes["person"] == "Unassigned"
    assert hass.states.get(LIGHT).attributes["person"] == "Unassigned"
    state = hass.states.get(sensor)
    assert state.state == "2"
    assert [s["session_id"] for s in state.attributes["sessions"]] == [
        running[LIGHT]["session_id"],
        logged[LIGHT]["session_id"],
    ]
    assert state.attributes["sessions"][1]["started_at"] == (
        (dt_util.now() - timedelta(days=2)).replace(microsecond=0).isoformat()
    )

    await call(
        hass, "assign_person", target=False, person="Bob", session_id=logged[LIGHT]["session_id"]
    )
    state = hass.states.get(sensor)
    assert state.state == "1"
    assert [s["session_id"] for s in state.attributes["sessions"]] == [running[LIGHT]["session_id"]]


async def test_voice_starts_the_speakers_own_protocol_dose_on_their_area(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    say: Callable[..., Awaitable[str]],
) -> None:
    """Alice follows a knee course and Bob a face course on the same panel: "start my red
    light session" starts the speaker's own course session (their area and their dose), never
    the other person's, whoever the panel's choice is."""
    people = await users_and_persons(hass, "Alice", "Bob")
    alice, alice_user = people["Alice"]
    bob, bob_user = people["Bob"]
    entry = dimmed_integration
    await _choose(hass, entry, "Bob")  # the panel's choice never decides a voice request
    for person, area, dose in (("Alice", "knee", 3.0), ("Bob", "face", 4.0)):
        await hass.services.async_call(
            DOMAIN,
            "start_protocol",
            {
                ATTR_ENTITY_ID: LIGHT,
                "name": f"{person}'s course",
                "dose": dose,
                "sessions_per_week": 3,
                "weeks": 4,
                "area": area,
                "person": person,
            },
            blocking=True,
        )
    await settle(hass)

    for name, user, person, area, dose in (
        ("Bob", bob_user, bob, "face", 4.0),
        ("Alice", alice_user, alice, "knee", 3.0),
    ):
        said = await say("start my red light session", user)
        assert f"for {name}" in said, said
        session = entry.runtime_data.sessions.session
        assert session is not None
        assert (session.person, session.area, session.target_dose) == (person, area, dose)
        await to_end(hass, freezer, entry)

    records = entry.runtime_data.sessions.history.records
    assert [(r.person, r.area) for r in records] == [(bob, "face"), (alice, "knee")]


async def test_voice_says_a_start_as_a_person_reads_it_and_a_courses_band_dose(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    say: Callable[..., Awaitable[str]],
) -> None:
    """Assist said "Started 1 minutes ... about 4.0 joules", and for Alice's near-infrared
    course of 4 J/cm² "about 6.7 joules" (both bands together). One minute is "1 minute", a
    dose has no trailing ".0", and a course's session says the dose of the band it counts."""
    people = await users_and_persons(hass, "Alice", "Bob")
    alice, alice_user = people["Alice"]
    entry = dimmed_integration

    said = await say("start a 1 minute red light session for bob")
    session = entry.runtime_data.sessions.session
    assert session is not None
    dose = f"{round(session.irradiance.total * session.planned_seconds / 1000, 1):g}"
    unit = "joule" if dose == "1" else "joules"
    assert said == (
        f"Started 1 minute on {entry.title} for Bob, about {dose} {unit} per square centimetre."
    )
    await to_end(hass, freezer, entry)

    await hass.services.async_call(
        DOMAIN,
        "start_protocol",
        {
            ATTR_ENTITY_ID: LIGHT,
            "name": "Alice's course",
            "dose": 4,
            "band": "nir",
            "sessions_per_week": 3,
            "weeks": 4,
            "area": "knee",
            "person": "Alice",
        },
        blocking=True,
    )
    await settle(hass)
    said = await say("start my red light session", alice_user)
    session = entry.runtime_data.sessions.session
    assert session is not None
    assert (session.person, session.target_dose) == (alice, 4.0)
    minutes = round(session.planned_seconds / 60)
    assert said == (
        f"Started {minutes} minutes on {entry.title} for Alice, about 4 joules of near-infrared "
        "per square centimetre."
    )


async def test_the_second_carl_is_carl_2_in_answers_attributes_and_voice(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    say: Callable[..., Awaitable[str]],
) -> None:
    """Of two Carls, ``person: Carl (2)`` answers ``person_name: "Carl (2)"``, and Assist tells
    the two apart in words a person can say ("Carl 2"), understands "Carl two", and names the
    persons the same way when it refuses "Carl". Every answer, attribute and voice answer names
    the person as the select does."""
    people = await persons(hass, "Alice", "Carl", "Carl")
    entry = dimmed_integration
    plan = await call(hass, "calculate", minutes=2, person="Carl (2)")
    assert (plan[LIGHT]["person"], plan[LIGHT]["person_name"]) == ("person.carl_2", "Carl (2)")
    logged = await _log(hass, timedelta(hours=25), minutes=2, person="Carl (2)")
    assert logged[LIGHT]["person_name"] == "Carl (2)"
    given = await call(
        hass,
        "assign_person",
        target=False,
        person="Carl (2)",
        session_id=logged[LIGHT]["session_id"],
    )
    assert given["person_name"] == "Carl (2)"

    assert await say("what's the dose today for carl") == (
        "Two people are called Carl: say Carl or Carl 2"
    )
    for spoken in ("carl two", "Carl 2", "carl (2)"):
        said = await say(f"what's the dose today for {spoken}")
        assert said == "Carl 2 has had no red light today.", (spoken, said)
    said = await say("start a 2 minute red light session for carl two")
    assert said.startswith(f"Started 2 minutes on {entry.title} for Carl 2, about"), said
    session = entry.runtime_data.sessions.session
    assert session is not None
    assert session.person == "person.carl_2"
    assert hass.states.get(TIMER).attributes["person"] == "Carl (2)"
    assert hass.states.get(LIGHT).attributes["person"] == "Carl (2)"
    await to_end(hass, freezer, entry)
    said = await say("start a 2 minute red light session for carl 2")
    assert said.startswith(f"Refused for Carl 2 on {entry.title}: the last session"), said
    assert people["Alice"] == "person.alice"
