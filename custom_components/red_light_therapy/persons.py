"""The household's persons, as Home Assistant's ``person`` integration knows them.

Read from the state machine (``person.*`` states: the name, and the ``user_id`` attribute of a
person linked to a login): the public surface, the same across the supported versions, with
no dependency on the person component's internals (it offers no lookup function of its own).
Live: every call sees the persons as they are now. Without the person integration, or without
persons, the household is empty and everything behaves as before households.
"""

from __future__ import annotations

from dataclasses import dataclass
import re

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError

from .const import DOMAIN
from .therapy.household import Household

PERSON_DOMAIN = "person"
ATTR_USER_ID = "user_id"
"""The attribute a person's state carries when the person is linked to a login."""


@dataclass(frozen=True, slots=True)
class Person:
    """One person of the household: entity id (the key stored on records), name, login."""

    entity_id: str
    name: str
    user_id: str | None


def _words(text: str) -> str:
    """Return a name as compared: case and spacing ignored."""
    return " ".join(text.casefold().split())


@callback
def async_persons(hass: HomeAssistant) -> list[Person]:
    """Every person, ordered by name."""
    persons = []
    for state in hass.states.async_all(PERSON_DOMAIN):
        user_id = state.attributes.get(ATTR_USER_ID)
        persons.append(
            Person(state.entity_id, state.name, user_id if isinstance(user_id, str) else None)
        )
    return sorted(persons, key=lambda p: (_words(p.name), p.entity_id))


@callback
def async_household(hass: HomeAssistant) -> Household:
    """Return the household the therapy rules decide with (keys: person entity ids)."""
    return Household(tuple(p.entity_id for p in async_persons(hass)))


@callback
def async_only_person(hass: HomeAssistant) -> Person | None:
    """Return the household's person when there is exactly one."""
    persons = async_persons(hass)
    return persons[0] if len(persons) == 1 else None


@callback
def async_person_for_user(hass: HomeAssistant, user_id: str | None) -> Person | None:
    """Return the person linked to the login ``user_id`` (Assist: ``intent.context.user_id``).

    None for no login, or a login no person is linked to.
    """
    if user_id is None:
        return None
    return next((p for p in async_persons(hass) if p.user_id == user_id), None)


def person_labels(persons: list[Person]) -> dict[str, str]:
    """Return person entity id -> the name shown for it; a name two persons share gets a number.

    In ``async_persons``' order: the first "Carl" is "Carl", the next "Carl (2)". What the "Who is
    using the panel" select and the per-person sensors show, and what an action or Assist may say.
    """
    labels: dict[str, str] = {}
    taken: set[str] = set()
    for person in persons:
        label, n = person.name, 1
        while label in taken:
            n += 1
            label = f"{person.name} ({n})"
        taken.add(label)
        labels[person.entity_id] = label
    return labels


_DIGITS = {
    word: str(n)
    for n, word in enumerate(
        ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine"), start=1
    )
}
"""A label's number as Assist may hear it: "Carl two" is "Carl (2)"."""


def _spoken(text: str) -> str:
    """Return a name or label as said: case, spacing and brackets ignored ("carl 2").

    A number said as a word after the name is its digit: "Carl two" is "carl 2".
    """
    said = _words(text.replace("(", " ").replace(")", " ")).split(" ")
    return " ".join(said[:1] + [_DIGITS.get(word, word) for word in said[1:]])


def spoken_label(label: str) -> str:
    """Return a label as Assist says it: "Carl (2)" is "Carl 2" (brackets cannot be spoken)."""
    return re.sub(r" \((\d+)\)$", r" \1", label)


def _shared(persons: list[Person], text: str) -> list[Person]:
    """Return the persons ``text`` could mean when it is not exactly one's label."""
    labels = person_labels(persons)
    spoken = _spoken(text)
    named = [p for p in persons if _words(p.name) == _words(text)]
    by_label = [p for p in persons if _spoken(labels[p.entity_id]) == spoken]
    return named if len(named) > 1 else by_label


@callback
def async_find_person(hass: HomeAssistant, text: str) -> Person | None:
    """Return the person ``text`` names.

    In this order: an entity id; a label as shown (``person_labels``: "Carl", "Carl (2)", exact
    case; "bob" next to "Bob" is the one spelt so); a name or label said with other case, spacing
    or no brackets, when only one person has it. None when nobody, or more than one person, has
    that name (``async_named_person`` says which).
    """
    persons = async_persons(hass)
    wanted = text.strip()
    if (by_id := next((p for p in persons if p.entity_id == wanted), None)) is not None:
        return by_id
    labels = person_labels(persons)
    exact = " ".join(wanted.split())
    if (shown := next((p for p in persons if labels[p.entity_id] == exact), None)) is not None:
        return shown
    candidates = _shared(persons, text)
    return candidates[0] if len(candidates) == 1 else None


@callback
def async_person_name(hass: HomeAssistant, entity_id: str) -> str | None:
    """Return the name of the person ``entity_id`` for a message, as the select shows it.

    Their label (``person_labels``): the second "Carl" is "Carl (2)" in every answer, event and
    attribute, never a plain "Carl" two persons share. None when that person has been removed
    (the records keep the entity id: the caller says "a person no longer in this home" rather
    than show a key).
    """
    return person_labels(async_persons(hass)).get(entity_id)


@callback
def async_named_person(hass: HomeAssistant, text: str, *, spoken: bool = False) -> Person:
    """Return the person an action's ``person`` field (or a name said to Assist) names.

    An entity id, a label or a name (``async_find_person``). Refused, never guessed: ``no_persons``
    when no persons are set up at all; ``blank_person`` for a blank name; ``ambiguous_person``
    with the labels to say when several persons share that name; else ``unknown_person`` with the
    household's labels to choose from. ``spoken`` (Assist): the labels as said ("Carl 2").
    """
    if (person := async_find_person(hass, text)) is not None:
        return person
    persons = async_persons(hass)
    if not persons:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_persons")
    labels = person_labels(persons)
    if spoken:
        labels = {key: spoken_label(label) for key, label in labels.items()}
    if not text.strip():
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="blank_person",
            translation_placeholders={"names": ", ".join(labels.values())},
        )
    if len(shared := _shared(persons, text)) > 1:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="ambiguous_person",
            translation_placeholders={
                "count": _NUMBERS.get(len(shared), str(len(shared))),
                "name": shared[0].name,
                "names": _choices([labels[p.entity_id] for p in shared]),
            },
        )
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="unknown_person",
        translation_placeholders={
            "name": " ".join(text.split()),
            "names": ", ".join(labels.values()),
        },
    )


_NUMBERS = {2: "Two", 3: "Three", 4: "Four", 5: "Five"}
"""How many people share a name, as the start of a sentence says it (else the digits)."""


def _choices(labels: list[str]) -> str:
    """Return two or more labels as a person lists alternatives: "Carl or Carl (2)", "A, B or C"."""
    return f"{', '.join(labels[:-1])} or {labels[-1]}"
