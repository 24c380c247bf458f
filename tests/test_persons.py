"""The household's persons, read from Home Assistant's person integration."""

from __future__ import annotations

from homeassistant.components.person import async_create_person
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockUser

from custom_components.red_light_therapy.persons import (
    Person,
    async_find_person,
    async_household,
    async_only_person,
    async_person_for_user,
    async_person_name,
    async_persons,
)
from custom_components.red_light_therapy.therapy.household import (
    Attribution,
    PersonRefusal,
    RefusalCode,
    Request,
    Source,
    who_is_treated,
)


async def _setup_persons(hass: HomeAssistant, persons: list[dict[str, str]]) -> None:
    assert await async_setup_component(hass, "person", {"person": persons})
    await hass.async_block_till_done()


async def test_without_persons_the_household_is_empty(hass: HomeAssistant) -> None:
    assert async_persons(hass) == []
    assert async_household(hass).persons == ()
    assert async_only_person(hass) is None
    assert async_person_for_user(hass, "someone") is None
    assert async_find_person(hass, "Alice") is None
    # nobody to tell apart: a voice request is not refused, as before households
    answer = who_is_treated(async_household(hass), Request(voice=True))
    assert answer == Attribution(None, Source.UNASSIGNED)


async def test_two_persons_with_their_logins(
    hass: HomeAssistant, hass_admin_user: MockUser
) -> None:
    bob_user = await hass.auth.async_create_user("Bob")
    await _setup_persons(
        hass,
        [
            {"id": "bob", "name": "Bob", "user_id": bob_user.id},
            {"id": "alice", "name": "Alice Smith", "user_id": hass_admin_user.id},
            {"id": "guest", "name": "Guest"},
        ],
    )
    alice = Person("person.alice_smith", "Alice Smith", hass_admin_user.id)
    bob = Person("person.bob", "Bob", bob_user.id)
    guest = Person("person.guest", "Guest", None)
    assert async_persons(hass) == [alice, bob, guest]
    assert async_household(hass).persons == (
        "person.alice_smith",
        "person.bob",
        "person.guest",
    )
    assert async_only_person(hass) is None
    # Assist's speaker: the login's person
    assert async_person_for_user(hass, bob_user.id) == bob
    assert async_person_for_user(hass, hass_admin_user.id) == alice
    assert async_person_for_user(hass, None) is None
    stranger = await hass.auth.async_create_user("Stranger")
    assert async_person_for_user(hass, stranger.id) is None
    # Assist: the speaker's person is treated; an unknown speaker among several is asked who
    household = async_household(hass)
    speaking = async_person_for_user(hass, bob_user.id)
    assert speaking is not None
    answer = who_is_treated(household, Request(voice=True, speaker=speaking.entity_id))
    assert answer == Attribution("person.bob", Source.SPEAKER)
    answer = who_is_treated(household, Request(voice=True, speaker=None))
    assert answer == PersonRefusal(RefusalCode.WHO_IS_SPEAKING, household.persons)
    # names as a person says them, or entity ids
    assert async_find_person(hass, "  alice   SMITH ") == alice
    assert async_find_person(hass, "person.bob") == bob
    assert async_find_person(hass, "Carol") is None
    assert async_person_name(hass, "person.guest") == "Guest"
    assert async_person_name(hass, "person.carol") is None


async def test_one_person_is_the_only_person(hass: HomeAssistant) -> None:
    await _setup_persons(hass, [{"id": "alice", "name": "Alice"}])
    only = async_only_person(hass)
    assert only == Person("person.alice", "Alice", None)
    assert async_household(hass).only_person == "person.alice"


async def test_persons_added_later_are_seen(hass: HomeAssistant, hass_admin_user: MockUser) -> None:
    await _setup_persons(hass, [{"id": "alice", "name": "Alice"}])
    assert async_only_person(hass) is not None
    await async_create_person(hass, "Bob", user_id=hass_admin_user.id)
    await hass.async_block_till_done()
    assert [p.name for p in async_persons(hass)] == ["Alice", "Bob"]
    assert async_only_person(hass) is None
    bob = async_person_for_user(hass, hass_admin_user.id)
    assert bob is not None
    assert bob.name == "Bob"


async def test_names_that_differ_in_case_are_each_named_as_spelt(hass: HomeAssistant) -> None:
    """ "Sam" next to "sam": each is named by its own spelling (what the select shows); said in
    another case, the name is shared and nobody is guessed."""
    await _setup_persons(hass, [{"id": "sam1", "name": "Sam"}, {"id": "sam2", "name": "sam"}])
    spelt = {text: async_find_person(hass, text) for text in ("Sam", " sam ", "SAM")}
    assert {text: p.name if p else None for text, p in spelt.items()} == {
        "Sam": "Sam",
        " sam ": "sam",
        "SAM": None,
    }
    found = async_find_person(hass, "person.sam_2")
    assert found is not None
    assert found.name == "sam"
