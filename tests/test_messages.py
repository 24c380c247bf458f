"""Every user-facing message of the integration renders as a sentence a person would write.

Each exception text in strings.json is rendered through Home Assistant's translation
machinery (the way a raised error reads in the UI and in Assist) with realistic placeholder
values: the refusals with the words the session manager makes from real limit reasons
(including the awkward ones: seconds after a session, one session of one allowed, a limit
that never frees), the therapy errors with the placeholders the therapy layer produces.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import re
import string

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy.const import DOMAIN
from custom_components.red_light_therapy.session_manager import (
    duration_words,
    refusal_key,
    refusal_words,
    when_words,
)
from custom_components.red_light_therapy.therapy import (
    BandIrradiance,
    DoseBand,
    ErrorCode,
    IrradianceProfile,
    Reason,
    ReasonCode,
    TherapyError,
    blockbluelight_profile,
    seconds_for_dose,
)
from custom_components.red_light_therapy.therapy.dose import BAND_WORDS
from custom_components.red_light_therapy.words import dose_today_words

STRINGS = json.loads(
    (Path(__file__).parent.parent / "custom_components" / DOMAIN / "strings.json").read_text()
)
EXCEPTIONS: dict[str, str] = {k: v["message"] for k, v in STRINGS["exceptions"].items()}
FLOW_TEXTS: dict[str, str] = {
    f"{section}.{part}.{key}": text
    for section in ("config", "options")
    for part in ("error", "abort")
    for key, text in STRINGS[section].get(part, {}).items()
    if not text.startswith("[%key:")  # Home Assistant's own texts
}
ISSUES: dict[str, str] = {
    f"{k}.{part}": v[part]
    for k, v in STRINGS["issues"].items()
    for part in ("title", "description")
}
AT = datetime(2025, 6, 5, 14, 30, tzinfo=UTC)


def _texts(node: object, path: str) -> dict[str, str]:
    """Every string under ``node`` by its dotted path."""
    if isinstance(node, dict):
        return {k: v for key, sub in node.items() for k, v in _texts(sub, f"{path}.{key}").items()}
    return {path: node} if isinstance(node, str) else {}


# What a person reads in the forms: each step's title, description, field names and help, and
# the options of every selector (Home Assistant's own texts, "[%key:...]", left out).
FORM_TEXTS: dict[str, str] = {
    key: text
    for key, text in (
        _texts(STRINGS["config"]["step"], "config.step")
        | _texts(STRINGS["options"]["step"], "options.step")
        | _texts(STRINGS["selector"], "selector")
    ).items()
    if not text.startswith("[%key:")
}

# Action, option and field names a user types, and the area list of unknown_area: allowed.
TYPED = {"override_spacing", "log_session", "start_session", "remove_session"}
AREA_LIST_KEY = "therapy_unknown_area"  # lists the area names to type, whole_body among them


WRITTEN_BY_NO_ONE = (
    (r"[{}]", "unfilled placeholder"),
    (r"\d\.\d{3,}", "unrounded number"),
    (r"(?<![\d.])0 (h|s|min|hours|minutes)\b", "a zero duration"),
    (r"(?<![\d.])1 (hours|minutes|sessions|seconds)\b", "one with a plural"),
    (r"\s-(?:[.,;]|\s|$)", "a dash for a missing value"),
    (r"\ba [aeiou]", "'a' before a vowel"),
    (r"\bboth (band|irradiance|light)\b", "'both' as a band name"),
)
"""Patterns of what a person would not write, each with the problem it names."""


def _sentence_problems(text: str, typed: set[str] = TYPED) -> list[str]:
    """What a person would not write: unfilled placeholders, long floats, "0 h", "1 minutes",
    "a active", raw keys, no capital. (Home Assistant drops an exception's final full stop
    when it renders it, so the full stop is checked on the template.)"""
    problems = [problem for pattern, problem in WRITTEN_BY_NO_ONE if re.search(pattern, text)]
    if set(re.findall(r"(?<![.\w])[a-z]+(?:_[a-z]+)+\b", text)) - typed:
        problems.append("raw key")
    if re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}|T\d{2}:", text):
        problems.append("a machine date-time")
    if not (text[:1].isupper() or text[:1].isdigit()):
        problems.append("no capital")
    return problems


@pytest.mark.parametrize(
    ("when", "words"),
    [
        (datetime(2026, 12, 2, 23, 43), "today at 23:43"),
        (datetime(2026, 12, 3, 7, 0), "tomorrow at 07:00"),
        (datetime(2026, 12, 1, 7, 0), "yesterday at 07:00"),
        (datetime(2026, 12, 10, 23, 43), "Thursday 10 December at 23:43"),
        (datetime(2027, 1, 7, 9, 15), "Thursday 7 January 2027 at 09:15"),
    ],
)
async def test_times_in_messages_read_as_a_person_says_them(
    hass: HomeAssistant, when: datetime, words: str
) -> None:
    """Refusals said "Next session allowed from 2026-12-02 23:43", which Assist reads out as
    digits. Times are said in Home Assistant's time zone, relative to today when near."""
    await hass.config.async_set_time_zone("Europe/Berlin")
    zone = dt_util.get_default_time_zone()
    now = datetime(2026, 12, 2, 20, 0, tzinfo=zone)
    assert when_words(when.replace(tzinfo=zone), now) == words
    # The same moment given in UTC reads the same: the zone is Home Assistant's.
    assert when_words(when.replace(tzinfo=zone).astimezone(UTC), now) == words


def test_the_checks_catch_the_reported_defects() -> None:
    """The checks are not vacuous: each kind of message they exist to flag is caught."""
    for bad in (
        "Refused: only 0 h since the last session.",
        "Refused: 0.0027575933333333336 h.",
        "Cannot resume a active plan.",
        "The panel emits nothing in the both band.",
        "no both irradiance at these levels and distance",
        "The whole_body area is busy.",
        "Next session allowed from {next_allowed_at}.",
        "Next session allowed from -.",
        "Next session allowed from 2026-12-02 23:43.",
        "Next session allowed from 2026-12-02T23:43:00+01:00.",
    ):
        assert _sentence_problems(bad), bad


def _examples(key: str, template: str) -> list[dict[str, str]]:
    """Realistic placeholder sets for the message ``key``."""
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    if key.startswith("refused_"):
        for_person = key.endswith("_for_person")
        whose = {"person": "Bob"} if for_person else {}
        return [
            {"name": "BlockBlueLight F522"} | whose | refusal_words(reason, AT)
            for reason in REASONS
            if refusal_key(reason, AT, for_person=for_person) == key
        ]
    base = {
        "name": "BlockBlueLight F522",
        "error": "the panel did not answer in time",
        "address": "AA:BB:CC:DD:EE:FF",
        "panel_type": "zigbee",
        "value": "-5",
        "area": "whole body",  # every message names an area in words
        "other": "face",
        "first": "BlockBlueLight F522",
        "second": "Bedroom panel",
        "count": "5",
        "entity_id": "switch.bedroom_panel",
        "protocol": "Skin rejuvenation",
        "protocols": "Skin rejuvenation, Hair",
        "fields": "dose, sessions per week",
        "areas": "face, knee",
        "date": "2025-06-12",
        "today": "2025-06-13",
        "min": "0.5",
        "max": "60",
        "days": "30",
        "session": "today at 07:30",
        "distance_cm": "7.5",
        "min_distance_cm": "15",
        "names": "Alice, Bob",
        "person": "Bob",
        "minutes": "3",
        "dose": "5",
    }
    if key == "ambiguous_person":
        base = base | {"count": "Two", "name": "Carl", "names": "Carl or Carl (2)"}
    sets = [base]
    if "band" in names:
        sets = [base | {"band": word} for word in BAND_WORDS.values()]
    return sets


# Realistic refusals: seconds after a session, hours after, one of one, a limit never freeing.
REASONS = [
    Reason(ReasonCode.SPACING, 20.0, 10 / 3600, AT),
    Reason(ReasonCode.SPACING, 20.0, 0.0027575933333333336, AT),
    Reason(ReasonCode.SPACING, 20.0, 1 / 60, AT),
    Reason(ReasonCode.SPACING, 40.0, 19.4833, AT),
    Reason(ReasonCode.SPACING, 1.0, 0.999, AT),
    # a session on the same skin still running (here or on another panel) until AT + 4 min
    Reason(ReasonCode.SPACING, 20.0, 0.0, AT + timedelta(hours=20, minutes=4)),
    Reason(ReasonCode.WEEKLY_SESSIONS, 5.0, 5.0, AT),
    Reason(ReasonCode.WEEKLY_SESSIONS, 1.0, 1.0, AT),
    Reason(ReasonCode.BELOW_MINIMUM, 60.0, 17.0, AT),
    Reason(ReasonCode.BELOW_MINIMUM, 60.0, 0.0, None),
    Reason(ReasonCode.SESSION_DOSE, 20.0, 20.0027575933),
    Reason(ReasonCode.SESSION_MINUTES, 20.0, 21.333333),
    Reason(ReasonCode.DAILY_DOSE, 30.0, 31.2345678),
]


@pytest.fixture
async def translations(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """The integration loaded, and its exception texts in Home Assistant's cache."""
    await async_get_translations(hass, "en", "exceptions", {DOMAIN})


def _render(key: str, placeholders: dict[str, str]) -> str:
    return str(
        ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key=key,
            translation_placeholders=placeholders,
        )
    )


@pytest.mark.parametrize("key", sorted(EXCEPTIONS))
async def test_every_exception_reads_as_a_sentence(
    hass: HomeAssistant, translations: None, key: str
) -> None:
    assert EXCEPTIONS[key].endswith((".", "?")), "a sentence ends with a full stop"
    examples = _examples(key, EXCEPTIONS[key])
    assert examples, f"no realistic example for {key}"
    for placeholders in examples:
        text = _render(key, placeholders)
        assert text != key, "not rendered through the translations"
        typed = TYPED | {"whole_body"} if key == AREA_LIST_KEY else TYPED
        assert _sentence_problems(text, typed) == [], (key, text)


@pytest.mark.parametrize("key", sorted(FORM_TEXTS))
def test_every_form_text_names_things_in_words(key: str) -> None:
    """No form names an option by its key: the Wi-Fi setup said "(generic_light)" and
    "generic_switch" next to the options a person reads as "Dimmable Wi-Fi light panel" and
    "Panel on a Wi-Fi plug"."""
    text = re.sub(r"\{\w+\}", "X", FORM_TEXTS[key])  # placeholders: links, names, numbers
    # The one action a person types that a form names (the protocols' menu).
    assert _sentence_problems(text, TYPED | {"start_protocol"}) == [], (key, text)


@pytest.mark.parametrize("key", sorted(FLOW_TEXTS))
def test_every_flow_error_and_abort_reads_as_a_sentence(key: str) -> None:
    text = FLOW_TEXTS[key].replace("{version}", "3.1")
    assert _sentence_problems(text) == [], (key, text)
    assert text.endswith("."), text


# What the protocol repair is filled with (protocol_manager's shortfall warning).
ISSUE_EXAMPLES = {
    "protocol": "Hair growth",
    "dose": "67",
    "band": "red",
    "area": "scalp",
    "limit_dose": "70",
    "limit_minutes": "30",
    "delivered": "28",
    "count": "1",
    "monday": "2026-11-30",
}


@pytest.mark.parametrize("key", sorted(ISSUES))
def test_every_repair_issue_reads_as_a_sentence(key: str) -> None:
    text = ISSUES[key]
    for name in ("name", "error", "backup"):
        text = text.replace("{" + name + "}", "BlockBlueLight F522")
    for name, value in ISSUE_EXAMPLES.items():
        text = text.replace("{" + name + "}", value)
    assert _sentence_problems(text) == [], (key, text)
    if key.endswith(".description"):  # a title is a heading: no full stop
        assert text.endswith("."), text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    code=st.sampled_from(list(ReasonCode)),
    limit=st.floats(0.5, 200),
    actual=st.floats(0, 300),
    until=st.none() | st.just(AT),
)
async def test_every_refusal_reads_as_a_sentence(
    hass: HomeAssistant,
    translations: None,
    *,
    code: ReasonCode,
    limit: float,
    actual: float,
    until: datetime | None,
) -> None:
    """Whatever the numbers of a limit reason, its refusal is a sentence with readable numbers."""
    if code in (ReasonCode.SPACING, ReasonCode.WEEKLY_SESSIONS) and until is None:
        until = AT  # these always free up
    if code is ReasonCode.WEEKLY_SESSIONS:
        limit, actual = float(round(limit)) or 1.0, float(round(limit)) or 1.0
    reason = Reason(code, limit, actual, until)
    key = refusal_key(reason)
    if key not in EXCEPTIONS:  # spacing_overridden allows; it is never a refusal
        assert code is ReasonCode.SPACING_OVERRIDDEN
        return
    text = _render(key, {"name": "BlockBlueLight F522"} | refusal_words(reason))
    assert _sentence_problems(text) == [], text
    whose = {"name": "BlockBlueLight F522", "person": "Bob"} | refusal_words(reason)
    text = _render(refusal_key(reason, for_person=True), whose)
    assert _sentence_problems(text) == [], text
    assert text.startswith("Refused for Bob on BlockBlueLight F522: "), text


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "less than a minute"),
        (10, "less than a minute"),
        (60, "1 minute"),
        (61, "1 minute"),
        (150, "3 minutes"),
        (3569, "59 minutes"),
        (3600, "1 hour"),
        (19.5 * 3600, "19.5 hours"),
        (20 * 3600, "20 hours"),
    ],
)
def test_durations_read_as_a_person_says_them(seconds: float, words: str) -> None:
    assert duration_words(seconds) == words


async def test_therapy_errors_carry_readable_placeholders(
    hass: HomeAssistant, translations: None
) -> None:
    """Two therapy errors raised by the therapy layer itself, rendered as the user sees them:
    a distance nearer than measured (numbers as read), no light in the asked band (named in
    words, "red or near-infrared", never "both")."""
    profile: IrradianceProfile = blockbluelight_profile()
    with pytest.raises(TherapyError) as err:
        profile.irradiance(profile.min_distance_cm - 2.5)
    text = _render(f"therapy_{err.value.code.value}", err.value.placeholders)
    assert _sentence_problems(text) == [], text
    with pytest.raises(TherapyError) as err:
        seconds_for_dose(BandIrradiance(0.0, 0.0), 5, DoseBand.BOTH)
    assert err.value.code is ErrorCode.NO_IRRADIANCE_IN_BAND
    text = _render(f"therapy_{err.value.code.value}", err.value.placeholders)
    assert "red or near-infrared light" in text
    assert _sentence_problems(text) == [], text
    assert "both" not in str(err.value)


def test_refusal_examples_cover_every_refusal_key() -> None:
    refusals = {key for key in EXCEPTIONS if key.startswith("refused_")}
    assert {refusal_key(r, AT, for_person=f) for r in REASONS for f in (False, True)} == refusals
    assert timedelta(0) < timedelta(seconds=1)


async def test_area_and_status_attributes_read_as_words_on_every_entity(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry
) -> None:
    """More-info showed "whole_body", "paused" as they are stored: every entity's ``area``
    and ``status`` attribute has a translated value, as the light's ``area`` already had."""
    for service, data in (
        ("start_protocol", {"protocol": "wound_healing"}),
        ("start_protocol", {"protocol": "hair_growth"}),
        ("pause_protocol", {"area": "leg"}),
        ("pause_protocol", {"area": "scalp"}),
    ):
        await hass.services.async_call(
            DOMAIN, service, {"entity_id": "light.blockbluelight_f522", **data}, blocking=True
        )
    await hass.async_block_till_done()
    texts = await async_get_translations(hass, "en", "entity", {DOMAIN})
    registry = er.async_get(hass)
    seen: set[str] = set()
    for entry in er.async_entries_for_config_entry(registry, dimmed_integration.entry_id):
        state = hass.states.get(entry.entity_id)
        assert state is not None
        for attribute in ("area", "status"):
            value = state.attributes.get(attribute)
            if not isinstance(value, str):
                continue
            seen.add(f"{entry.domain}.{attribute}={value}")
            key = (
                f"component.{DOMAIN}.entity.{entry.domain}.{entry.translation_key}"
                f".state_attributes.{attribute}.state.{value}"
            )
            assert key in texts, (entry.entity_id, attribute, value)
            assert "_" not in texts[key]
    # The attributes were there to check: the lockout's whole body, the shown run's area and
    # its status.
    assert "binary_sensor.area=whole_body" in seen
    assert "sensor.status=paused" in seen
    assert {"switch.area=leg", "switch.area=scalp"} & seen


@pytest.mark.parametrize(
    ("name", "total", "red", "nir", "said"),
    [
        (None, 0.0, 0.0, 0.0, "There has been no red light today."),
        ("You", 0.0, 0.0, 0.0, "You have had no red light today."),
        ("Alice", 0.0, 0.0, 0.0, "Alice has had no red light today."),
        (
            "Alice",
            7.2345,
            5.0012,
            2.2333,
            "Alice's dose today is 7.2 joules per square centimetre (5 red, 2.2 near-infrared).",
        ),
        ("You", 1.0, 1.0, 0.0, "Your dose today is 1 joule per square centimetre (all red)."),
        (
            None,
            0.04,
            0.0,
            0.04,
            "Today's dose is less than 0.1 joules per square centimetre (all near-infrared).",
        ),
    ],
)
def test_todays_dose_is_said_as_a_person_reads_it(
    name: str | None, total: float, red: float, nir: float, said: str
) -> None:
    """Assist said "0.0 joules per square centimetre (0.0 red, 0.0 near-infrared)"."""
    assert dose_today_words(name, total, red, nir) == said
    assert _sentence_problems(said) == [], said
