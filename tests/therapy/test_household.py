"""Households: who a session is for, and which records count for whose limits and dose."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.red_light_therapy.therapy.areas import default_limits
from custom_components.red_light_therapy.therapy.dose import BandDose
from custom_components.red_light_therapy.therapy.history import History, SessionRecord
from custom_components.red_light_therapy.therapy.household import (
    DEPARTED,
    Attribution,
    Household,
    PersonRefusal,
    RefusalCode,
    Request,
    Source,
    counting_for_limits,
    dose_this_week,
    dose_today,
    last_person_on_panel,
    last_session_of,
    limits_view,
    owner,
    owners,
    panel_person,
    person_of,
    pseudonyms,
    records_of,
    who_is_treated,
)
from custom_components.red_light_therapy.therapy.irradiance import BandIrradiance
from custom_components.red_light_therapy.therapy.limits import (
    Outcome,
    ReasonCode,
    SessionRequest,
    check,
)
from custom_components.red_light_therapy.therapy.session import SessionOrigin, SessionStatus

from .conftest import T0

BERLIN = ZoneInfo("Europe/Berlin")
ALICE = "person.alice"
BOB = "person.bob"
CAROL = "person.carol"
PAIR = Household((ALICE, BOB))
PANEL = BandIrradiance(10.0, 10.0)
"""20 mW/cm²: ten minutes give 12 J/cm², within a face session's 20."""


@dataclass(frozen=True, slots=True)
class PersonRecord(SessionRecord):
    """A record with the person the store will keep on it (the field may not exist yet)."""

    person: str | None = None


def rec(
    rid: str,
    start: datetime,
    person: str | None,
    *,
    minutes: float = 10.0,
    area: str = "face",
    panel: str = "p1",
) -> SessionRecord:
    seconds = minutes * 60.0
    return PersonRecord(
        id=rid,
        panel_id=panel,
        area=area,
        origin=SessionOrigin.PLANNED,
        started_at=start,
        ended_at=start + timedelta(seconds=seconds),
        dose=BandDose(PANEL.red * seconds / 1000.0, PANEL.nir * seconds / 1000.0),
        status=SessionStatus.COMPLETED,
        on_seconds=seconds,
        person=person,
    )


def verdict_for(history: History, person: str | None, household: Household, at: datetime) -> str:
    """The outcome and reasons a ten-minute face session for ``person`` gets at ``at``."""
    verdict = check(
        SessionRequest("face", 600.0, PANEL, at),
        limits_view(history, person, household),
        default_limits("face"),
        tz=BERLIN,
    )
    return f"{verdict.outcome} {sorted(r.code for r in verdict.reasons)} {verdict.allowed_seconds}"


# who a session is for


def test_a_named_person_wins_over_everything_else() -> None:
    asked = Request(named=BOB, voice=True, speaker=ALICE, panel_choice=ALICE, last_user=ALICE)
    assert who_is_treated(PAIR, asked) == Attribution(BOB, Source.NAMED)


def test_a_name_outside_the_household_is_refused_not_guessed() -> None:
    answer = who_is_treated(PAIR, Request(named=CAROL, panel_choice=ALICE))
    assert answer == PersonRefusal(RefusalCode.UNKNOWN_PERSON, (ALICE, BOB), CAROL)
    nobody = who_is_treated(Household(), Request(named=CAROL))
    assert nobody == PersonRefusal(RefusalCode.NO_PERSONS, (), CAROL)


def test_voice_uses_the_speaker_not_the_panel_choice() -> None:
    answer = who_is_treated(PAIR, Request(voice=True, speaker=BOB, panel_choice=ALICE))
    assert answer == Attribution(BOB, Source.SPEAKER)


def test_an_unknown_speaker_in_a_household_of_several_is_asked_who() -> None:
    for speaker in (None, CAROL):
        answer = who_is_treated(
            PAIR, Request(voice=True, speaker=speaker, panel_choice=ALICE, last_user=BOB)
        )
        assert answer == PersonRefusal(RefusalCode.WHO_IS_SPEAKING, (ALICE, BOB))


def test_an_unknown_speaker_alone_or_without_persons_is_not_refused() -> None:
    assert who_is_treated(Household((ALICE,)), Request(voice=True)) == Attribution(
        ALICE, Source.ONLY_PERSON
    )
    assert who_is_treated(Household(), Request(voice=True)) == Attribution(None, Source.UNASSIGNED)


def test_without_a_name_the_panel_choice_then_only_person_then_last_user() -> None:
    assert who_is_treated(PAIR, Request(panel_choice=BOB, last_user=ALICE)) == Attribution(
        BOB, Source.PANEL_CHOICE
    )
    assert who_is_treated(Household((ALICE,)), Request(last_user=BOB)) == Attribution(
        ALICE, Source.ONLY_PERSON
    )
    assert who_is_treated(PAIR, Request(last_user=ALICE)) == Attribution(ALICE, Source.LAST_USER)
    assert who_is_treated(PAIR, Request()) == Attribution(None, Source.UNASSIGNED)


def test_a_choice_or_last_user_who_left_the_household_is_ignored() -> None:
    answer = who_is_treated(PAIR, Request(panel_choice=CAROL, last_user=CAROL))
    assert answer == Attribution(None, Source.UNASSIGNED)
    assert panel_person(PAIR, CAROL, BOB) == Attribution(BOB, Source.LAST_USER)


def test_household_orders_and_deduplicates_its_persons() -> None:
    household = Household((BOB, ALICE, BOB))
    assert household.persons == (ALICE, BOB)
    assert Household(("", ALICE)).persons == (ALICE,)
    assert len(household) == 2
    assert household.only_person is None
    assert Household((BOB,)).only_person == BOB
    assert Household().only_person is None


@settings(max_examples=200, deadline=None)
@given(
    persons=st.lists(st.sampled_from([ALICE, BOB, CAROL]), max_size=3),
    asked=st.builds(
        Request,
        named=st.none() | st.sampled_from([ALICE, BOB, CAROL, "person.dave"]),
        voice=st.booleans(),
        speaker=st.none() | st.sampled_from([ALICE, BOB, CAROL]),
        panel_choice=st.none() | st.sampled_from([ALICE, BOB, CAROL]),
        last_user=st.none() | st.sampled_from([ALICE, BOB, CAROL]),
    ),
)
def test_a_session_is_only_ever_for_someone_in_the_household(
    persons: list[str], asked: Request
) -> None:
    household = Household(tuple(persons))
    answer = who_is_treated(household, asked)
    named = asked.named
    if isinstance(answer, PersonRefusal):
        assert answer.choices == household.persons
        # refused only for a wrong name, or an unknown voice among several persons
        assert (named is not None and named not in household) or (
            named is None and asked.voice and asked.speaker not in household and len(household) > 1
        )
    else:
        assert answer.person is None or answer.person in household
        assert (answer.person is None) == (answer.source is Source.UNASSIGNED)
        if household.only_person is not None:
            assert answer.person == household.only_person
        if named is not None:
            assert answer.person == named


# who a record belongs to


def test_person_of_reads_only_a_non_empty_string() -> None:
    assert person_of(rec("a", T0, ALICE)) == ALICE
    assert person_of(rec("a", T0, None)) is None
    assert person_of(rec("a", T0, "")) is None
    assert person_of(object()) is None

    @dataclass
    class Odd:
        person: object

    assert person_of(Odd(3)) is None


def test_unassigned_belongs_to_the_only_person_else_to_nobody() -> None:
    record = rec("a", T0, None)
    assert owner(record, Household((ALICE,))) == ALICE
    assert owner(record, PAIR) is None
    assert owner(record, Household()) is None
    # a person who left keeps their records
    assert owner(rec("b", T0, CAROL), PAIR) == CAROL
    assert owner(rec("b", T0, CAROL), Household((ALICE,))) == CAROL


def test_last_person_on_panel_skips_other_panels_unassigned_and_departed() -> None:
    history = History(
        [
            rec("1", T0, ALICE, panel="p1"),
            rec("2", T0 + timedelta(hours=1), BOB, panel="p2"),
            rec("3", T0 + timedelta(hours=2), None, panel="p1"),
            rec("4", T0 + timedelta(hours=3), CAROL, panel="p1"),
        ]
    )
    assert last_person_on_panel(history, "p1", PAIR) == ALICE
    assert last_person_on_panel(history, "p2", PAIR) == BOB
    assert last_person_on_panel(history, "p3", PAIR) is None


# limits per person


def test_two_people_use_one_panel_on_the_same_area_without_refusing_each_other() -> None:
    history = History([rec("a", T0, ALICE)])
    after = T0 + timedelta(minutes=15)
    assert verdict_for(history, BOB, PAIR, after) == verdict_for(History(), BOB, PAIR, after)
    alice = check(
        SessionRequest("face", 600.0, PANEL, after),
        limits_view(history, ALICE, PAIR),
        default_limits("face"),
        tz=BERLIN,
    )
    assert alice.outcome is Outcome.REFUSED
    assert alice.deciding is not None
    assert alice.deciding.code is ReasonCode.SPACING


def test_an_unassigned_record_counts_for_everyone_until_reassigned() -> None:
    after = T0 + timedelta(minutes=15)
    history = History([rec("a", T0, None)])
    for person in (ALICE, BOB, None):
        assert verdict_for(history, person, PAIR, after).startswith(str(Outcome.REFUSED))
    reassigned = History([rec("a", T0, ALICE)])
    assert verdict_for(reassigned, BOB, PAIR, after).startswith(str(Outcome.ALLOWED))


def test_an_unassigned_session_is_checked_against_everyones_records() -> None:
    history = History([rec("a", T0, ALICE), rec("b", T0 + timedelta(days=1), BOB)])
    assert limits_view(history, None, PAIR).records == history.records


def test_other_panels_open_sessions_count_only_for_their_own_person() -> None:
    open_sessions = [rec("a", T0, ALICE), rec("b", T0, BOB), rec("c", T0, None)]
    assert [r.id for r in counting_for_limits(open_sessions, BOB, PAIR)] == ["b", "c"]
    assert [r.id for r in counting_for_limits(open_sessions, None, PAIR)] == ["a", "b", "c"]


# dose per person


def test_dose_today_and_this_week_are_each_persons_own() -> None:
    monday = datetime(2025, 1, 6, 7, 0, tzinfo=UTC)
    history = History(
        [
            rec("a1", monday, ALICE),
            rec("a2", monday + timedelta(days=1), ALICE, minutes=5),
            rec("b1", monday + timedelta(days=1, hours=1), BOB),
            rec("u1", monday + timedelta(days=1, hours=2), None, minutes=2),
        ]
    )
    tuesday = monday + timedelta(days=1, hours=6)
    assert dose_today(history, ALICE, PAIR, tuesday, BERLIN).total == pytest.approx(6.0)
    assert dose_today(history, BOB, PAIR, tuesday, BERLIN).total == pytest.approx(12.0)
    assert dose_today(history, None, PAIR, tuesday, BERLIN).total == pytest.approx(2.4)
    assert dose_this_week(history, ALICE, PAIR, tuesday, BERLIN).total == pytest.approx(18.0)
    assert dose_this_week(history, CAROL, PAIR, tuesday, BERLIN).total == 0.0
    # alone, the unassigned minutes are Alice's
    alone = Household((ALICE,))
    assert dose_today(history, ALICE, alone, tuesday, BERLIN).total == pytest.approx(8.4)
    last = last_session_of(history, ALICE, PAIR)
    assert last is not None
    assert last.id == "a2"
    assert last_session_of(history, CAROL, PAIR) is None


def test_owners_lists_everyone_with_a_record_and_unassigned() -> None:
    history = History([rec("a", T0, ALICE), rec("u", T0, None), rec("c", T0, CAROL)])
    assert owners(history, PAIR) == {ALICE, CAROL, None}
    assert owners(History([rec("u", T0, None)]), Household((BOB,))) == {BOB}


def test_diagnostics_pseudonyms_keep_who_shares_a_record_but_not_who() -> None:
    history = History(
        [rec("1", T0, BOB), rec("2", T0, None), rec("3", T0, ALICE), rec("4", T0, BOB)]
    )
    names = pseudonyms(person_of(r) for r in history)
    assert names == {BOB: "person 1", ALICE: "person 2"}
    assert not any("alice" in n or "bob" in n for n in names.values())


def test_a_departed_record_is_nobodys_and_counts_for_nobodys_limits() -> None:
    """A deleted person's record (re-keyed to DEPARTED) is in no person's figures, not in the
    unassigned ones, counts for no person's limits (only an unassigned session, checked
    against everything, sees it) and needs no pseudonym."""
    history = History([rec("gone", T0, DEPARTED), rec("a", T0, ALICE), rec("u", T0, None)])
    for household in (Household((ALICE,)), PAIR):
        assert owner(history.records[0], household) == DEPARTED
        assert [r.id for r in records_of(history, ALICE, household)] == (
            ["a", "u"] if len(household) == 1 else ["a"]
        )
        assert "gone" not in {r.id for r in records_of(history, None, household)}
        assert "gone" not in {r.id for r in limits_view(history, ALICE, household)}
        assert "gone" in {r.id for r in limits_view(history, None, household)}
    assert DEPARTED not in pseudonyms(person_of(r) for r in history)


# properties

PEOPLE = [ALICE, BOB, CAROL]


@st.composite
def histories(draw: st.DrawFn) -> list[SessionRecord]:
    """Up to a dozen sessions over ten days on related and unrelated areas."""
    count = draw(st.integers(0, 12))
    records = []
    for index in range(count):
        start = T0 + timedelta(minutes=draw(st.integers(0, 10 * 24 * 60)))
        records.append(
            rec(
                f"r{index}",
                start,
                draw(st.none() | st.sampled_from([*PEOPLE, DEPARTED])),
                minutes=draw(st.integers(1, 15)),
                area=draw(st.sampled_from(["face", "whole_body", "knee"])),
            )
        )
    return records


households = st.lists(st.sampled_from(PEOPLE), max_size=3).map(lambda p: Household(tuple(p)))


@settings(max_examples=150, deadline=None)
@given(records=histories(), household=households)
def test_the_persons_and_unassigned_share_the_whole_history_exactly(
    records: list[SessionRecord], household: Household
) -> None:
    history = History(records)
    parts = [records_of(history, who, household) for who in owners(history, household)]
    ids = [r.id for part in parts for r in part]
    assert sorted(ids) == sorted(r.id for r in history)  # every record once, none twice
    at = T0 + timedelta(days=5)
    shown = BandDose.sum(
        dose_this_week(history, who, household, at, BERLIN) for who in owners(history, household)
    )
    assert shown.total == pytest.approx(history.dose_in_week(at, BERLIN).total)


@settings(max_examples=150, deadline=None)
@given(
    records=histories(),
    minute=st.integers(0, 10 * 24 * 60),
    minutes=st.integers(1, 15),
    check_minute=st.integers(0, 11 * 24 * 60),
    area=st.sampled_from(["face", "whole_body", "knee"]),
)
def test_a_session_for_alice_never_changes_bobs_limits(
    records: list[SessionRecord], minute: int, minutes: int, check_minute: int, area: str
) -> None:
    history = History(records)
    at = T0 + timedelta(minutes=check_minute)
    before = verdict_for(history, BOB, PAIR, at)
    history.append(rec("new", T0 + timedelta(minutes=minute), ALICE, minutes=minutes, area=area))
    assert verdict_for(history, BOB, PAIR, at) == before


@settings(max_examples=100, deadline=None)
@given(records=histories(), check_minute=st.integers(0, 11 * 24 * 60))
def test_alone_the_limits_are_what_they_were_before_households(
    records: list[SessionRecord], check_minute: int
) -> None:
    # migration gives every record to the only person; unassigned ones count for them too
    mine = History(
        rec(r.id, r.started_at, person_of(r) and ALICE, minutes=r.on_seconds / 60, area=r.area)
        for r in records
    )
    at = T0 + timedelta(minutes=check_minute)
    alone = Household((ALICE,))
    assert verdict_for(mine, ALICE, alone, at) == verdict_for(mine, None, Household(), at)
