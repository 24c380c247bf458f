"""Households: who a session is for, and which records count for whom.

Persons are opaque keys (the Home Assistant layer uses person entity ids, ``person.alice``);
``None`` is *unassigned*. Nothing here knows names: the Home Assistant layer maps keys to
names and refusals to sentences.

**Who a session is for** (:func:`who_is_treated`), first match wins:

1. the person the request *names* (an action's ``person``, a name said to Assist); a name
   that is not one of the household's persons is refused (``UNKNOWN_PERSON``, or
   ``NO_PERSONS`` when none are set up), never guessed;
2. for a voice request, the *speaker's* person. A voice request whose speaker is unknown is
   never given to the panel's chosen person: with one person it is theirs, with nobody set up
   it is unassigned as today, with several it is refused (``WHO_IS_SPEAKING``) so Assist asks
   who it is for or says how to name them. "My dose" said by someone else must not start a
   session on another body;
3. the panel's "Who is using the panel" choice (a person no longer in the household is
   ignored);
4. the household's only person;
5. the last person who used the panel (:func:`last_person_on_panel`);
6. nobody: *unassigned*.

A dashboard tap is not attributed to the logged-in user: wall tablets share one login, and the
panel's choice is the one place a household says who stands in front of it.

**Who a record belongs to** (:func:`owner`): its person when it has one; an unassigned record
belongs to the only person of a one-person household, else to nobody (it stays *unassigned*).
A record of a person who has been deleted is re-keyed to :data:`DEPARTED` (by the Home
Assistant layer, when the person's entity is removed): Home Assistant hands a deleted person's
entity id to the next person of the same name, who must start empty, and ``DEPARTED`` is no
entity id (it has no domain), so no person ever gets it. A departed record is kept, shown as
"someone no longer in this home", and belongs to nobody: it is in no person's figures, not in
the unassigned ones, and counts for nobody's limits (it is no one's skin in this home now; an
unassigned session, checked against the whole history, still sees it). Nothing is ever lost.

**What counts for a person's limits** (:func:`limits_view`): their own records and every
unassigned one. Safety decides the asymmetry: an unassigned record may be anyone's skin, so it
counts for everyone's spacing, rolling 24 h dose and weekly count until it is reassigned;
another person's record never counts, so one person's session never refuses another's. A
session that is itself unassigned is checked against the whole history, as before households.
**What is shown as a person's dose** (:func:`records_of`, :func:`dose_today`,
:func:`dose_this_week`): their own records only; unassigned ones are shown as unassigned, so
the persons' figures plus the unassigned and the departed figures add up to the whole history
exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum

from ._util import require_aware
from .dose import BandDose
from .history import History, SessionRecord

DEPARTED = "departed"
"""The person of a record whose person has been deleted: a valid stored value no person can get
(a person is a ``person.*`` entity id)."""


def person_of(record: object) -> str | None:
    """Return the person a record carries, None when it carries none.

    A record here is also an active session or a protocol run. Works before the stored objects have
    a ``person`` field, and reads anything but a non-empty string as unassigned.
    """
    person = getattr(record, "person", None)
    return person if isinstance(person, str) and person else None


@dataclass(frozen=True, slots=True)
class Household:
    """The persons who may use the panels (keys, e.g. person entity ids), in a stable order."""

    persons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Keep each named person once, sorted."""
        object.__setattr__(self, "persons", tuple(sorted({p for p in self.persons if p})))

    @property
    def only_person(self) -> str | None:
        """The household's person when it has exactly one, else None."""
        return self.persons[0] if len(self.persons) == 1 else None

    @property
    def is_shared(self) -> bool:
        """Whether several persons share the panels: a refusal then says whose limit it is."""
        return len(self.persons) > 1

    def __contains__(self, person: object) -> bool:
        """Whether ``person`` belongs to the household."""
        return person in self.persons

    def __len__(self) -> int:
        """Count the household's persons."""
        return len(self.persons)


class Source(StrEnum):
    """Why a session is for the person it is for."""

    NAMED = "named"
    SPEAKER = "speaker"
    PANEL_CHOICE = "panel_choice"
    ONLY_PERSON = "only_person"
    LAST_USER = "last_user"
    UNASSIGNED = "unassigned"


class RefusalCode(StrEnum):
    """Why nobody could be chosen (the Home Assistant layer's translation keys)."""

    UNKNOWN_PERSON = "unknown_person"
    """The request named someone who is not one of the household's persons."""
    WHO_IS_SPEAKING = "who_is_speaking"
    """A voice request from an unknown speaker, and several persons it could be for."""
    NO_PERSONS = "no_persons"
    """The request named someone, and no persons are set up in Home Assistant at all."""


@dataclass(frozen=True, slots=True)
class Attribution:
    """The person a session is for (None: unassigned) and why."""

    person: str | None
    source: Source


@dataclass(frozen=True, slots=True)
class PersonRefusal:
    """No person could be chosen.

    ``named`` is the unknown name (``UNKNOWN_PERSON``), ``choices`` the household's persons the
    request could name.
    """

    code: RefusalCode
    choices: tuple[str, ...]
    named: str | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """What is known about who a request is for.

    ``named``: the person the request names (an action's ``person``, a name said to Assist).
    ``voice``: the request comes from Assist; ``speaker`` is then the speaking user's person
    (None: unknown). ``panel_choice``: the panel's "Who is using the panel" choice.
    ``last_user``: the last person who used the panel.
    """

    named: str | None = None
    voice: bool = False
    speaker: str | None = None
    panel_choice: str | None = None
    last_user: str | None = None


def who_is_treated(household: Household, request: Request) -> Attribution | PersonRefusal:
    """Return the person a session (or a question about a dose) is for; see the module docstring."""
    if request.named is not None:
        if request.named in household:
            return Attribution(request.named, Source.NAMED)
        code = RefusalCode.UNKNOWN_PERSON if household.persons else RefusalCode.NO_PERSONS
        return PersonRefusal(code, household.persons, request.named)
    if request.voice:
        if request.speaker in household:
            return Attribution(request.speaker, Source.SPEAKER)
        if len(household) > 1:
            return PersonRefusal(RefusalCode.WHO_IS_SPEAKING, household.persons)
        if household.only_person is not None:
            return Attribution(household.only_person, Source.ONLY_PERSON)
        return Attribution(None, Source.UNASSIGNED)
    return panel_person(household, request.panel_choice, request.last_user)


def panel_person(
    household: Household, panel_choice: str | None, last_user: str | None
) -> Attribution:
    """Who uses the panel when the request does not say.

    The panel's choice, else the only person, else the last person who used it, else nobody. Also
    the default of the panel's "Who is using the panel" select (called with ``panel_choice=None``).
    """
    if panel_choice in household:
        return Attribution(panel_choice, Source.PANEL_CHOICE)
    if household.only_person is not None:
        return Attribution(household.only_person, Source.ONLY_PERSON)
    if last_user in household:
        return Attribution(last_user, Source.LAST_USER)
    return Attribution(None, Source.UNASSIGNED)


def last_person_on_panel(history: History, panel_id: str, household: Household) -> str | None:
    """Return the person of the latest record on ``panel_id`` who is still in the household."""
    for record in reversed(history.records):
        if record.panel_id == panel_id and (person := person_of(record)) in household:
            return person
    return None


def owner(record: object, household: Household) -> str | None:
    """Whom a record belongs to: its person, else the only person, else nobody (unassigned)."""
    return person_of(record) or household.only_person


def counts_for_limits(record: object, person: str | None, household: Household) -> bool:
    """Whether ``record`` counts toward the limits of a session for ``person``.

    Its owner's and, while unassigned, everyone's; a session for nobody counts everything.
    """
    if person is None:
        return True
    belongs_to = owner(record, household)
    return belongs_to is None or belongs_to == person


def limits_view(history: History, person: str | None, household: Household) -> History:
    """Return the history the safety limits see for a session for ``person``.

    Those are ``limits.check``, ``check_extension`` and ``fit_running``.
    """
    if person is None:
        return history
    return History(r for r in history if counts_for_limits(r, person, household))


def counting_for_limits[T](items: Iterable[T], person: str | None, household: Household) -> list[T]:
    """Return the items (e.g. other panels' open sessions) that count toward ``person``'s limits."""
    return [item for item in items if counts_for_limits(item, person, household)]


def records_of(history: History, person: str | None, household: Household) -> History:
    """Return the records shown as ``person``'s (None: the unassigned ones)."""
    return History(r for r in history if owner(r, household) == person)


def owners(history: History, household: Household) -> set[str | None]:
    """Everyone who owns a record (None when some are unassigned), for per-person lists."""
    return {owner(r, household) for r in history}


def dose_today(
    history: History, person: str | None, household: Household, at: datetime, tz: tzinfo
) -> BandDose:
    """``person``'s dose of the local day of ``at`` (None: the unassigned dose)."""
    day = require_aware(at, "at").astimezone(tz).date()
    return records_of(history, person, household).dose_on_day(day, tz)


def dose_this_week(
    history: History, person: str | None, household: Household, at: datetime, tz: tzinfo
) -> BandDose:
    """``person``'s dose of the local ISO week (Mon-Sun) of ``at`` (None: unassigned)."""
    return records_of(history, person, household).dose_in_week(at, tz)


def last_session_of(
    history: History, person: str | None, household: Household
) -> SessionRecord | None:
    """``person``'s latest record (None: the latest unassigned one)."""
    return records_of(history, person, household).last_session()


def pseudonyms(people: Iterable[str | None]) -> dict[str, str]:
    """Stand-ins for diagnostics.

    Each person, in order of first appearance, becomes "person 1", "person 2", …, so a reader sees
    which records share a person without learning who (entity ids carry names). Unassigned (None)
    and departed (``DEPARTED``, which names nobody) need none.
    """
    names: dict[str, str] = {}
    for person in people:
        if person is not None and person != DEPARTED and person not in names:
            names[person] = f"person {len(names) + 1}"
    return names
