"""Protocol runs as a user meets them: start dates,
the first session, what counts toward a run, changed presets, stopped runs in the calendar,
several runs on one panel, presets the panel cannot deliver, and what the select and the
calendar read.

The clock is Europe/Berlin, Monday 3 March 2025, 07:00.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, time, timedelta
from itertools import pairwise
import re
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.red_light_therapy import DATA_STORE
from custom_components.red_light_therapy.const import DOMAIN
from custom_components.red_light_therapy.saved_protocols import OPTION_PROTOCOLS, build_custom
from custom_components.red_light_therapy.store import TherapyStore

from . import common_protocols
from .common import inject_advertisement, move_to, service_info, settle
from .common_protocols import CALENDAR, KNEE_COURSE, LIGHT, berlin, calendar_events, call_light

# The shared fixtures: the Berlin clock (autouse) and the recorded events (``events``).
berlin_clock = common_protocols.berlin_clock
events_fixture = common_protocols.events_fixture

NEXT = "sensor.blockbluelight_f522_next_session"
PROGRESS = "sensor.blockbluelight_f522_protocol_progress"
SELECT = "select.blockbluelight_f522_protocol"
AREA = "select.blockbluelight_f522_treatment_area"
RUN_SWITCH = "switch.blockbluelight_f522_protocol_run"
SKIP = "button.blockbluelight_f522_skip_next_protocol_session"


async def _call(hass: HomeAssistant, service: str, **data: Any) -> Any:
    answer = await call_light(hass, service, **data)
    return answer[LIGHT] if answer else answer


async def _select(hass: HomeAssistant, entity_id: str, option: str) -> None:
    await hass.services.async_call(
        "select", "select_option", {"entity_id": entity_id, "option": option}, blocking=True
    )
    await settle(hass)


async def _calendar(hass: HomeAssistant, first: date, last: date) -> list[str]:
    listed = await calendar_events(hass, berlin(first, time(0)), berlin(last, time(0)))
    return [event["summary"] for event in listed]


# -- start dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start_date", "key"),
    [
        ("2020-01-01", "therapy_start_date_in_past"),
        ("2025-03-02", "therapy_start_date_in_past"),
        ("9999-12-31", "therapy_start_date_too_late"),
        ("2026-03-05", "therapy_start_date_too_late"),
    ],
)
async def test_a_start_date_in_the_past_or_years_ahead_is_refused(
    *,
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    events: list[tuple[str, dict[str, Any]]],
    hass_storage: dict[str, Any],
    start_date: str,
    key: str,
) -> None:
    """A start date in the past (2020-01-01 would make a run completed at once with 24 missed
    sessions) or years ahead (9999-12-31 would break the entry) is refused, and nothing is
    saved or fired."""
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "start_protocol", **KNEE_COURSE, start_date=start_date)
    assert err.value.translation_key == key
    assert err.value.translation_placeholders["date"] == start_date
    await settle(hass)
    assert dimmed_integration.runtime_data.protocols.runs == []
    assert not hass_storage.get(f"{DOMAIN}.therapy", {}).get("data", {}).get("plans")
    assert events == []


async def test_today_and_a_date_ahead_are_accepted(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry
) -> None:
    run = await _call(hass, "start_protocol", **KNEE_COURSE, start_date="2026-03-03")
    assert run["next_session"] == berlin(date(2026, 3, 5)).isoformat()  # a Thursday
    run = await _call(hass, "start_protocol", protocol="hair_growth", start_date="2025-03-03")
    assert run["start_date"] == "2025-03-03"


async def test_a_stored_run_off_the_calendar_no_longer_breaks_the_entry(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry
) -> None:
    """A run saved by an older version with start date 9999-12-31 is left out (logged) when
    the panel loads; the panel works and the area is free again."""
    entry = dimmed_integration
    await _call(hass, "start_protocol", **KNEE_COURSE)
    store: TherapyStore = hass.data[DATA_STORE]
    (plan,) = store.runs().values()
    plan.start_date = date(9999, 12, 31)
    await store.async_save_run(plan)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await settle(hass)
    inject_advertisement(hass, service_info())
    assert await hass.config_entries.async_setup(entry.entry_id)
    await settle(hass)
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.protocols.runs == []
    assert hass.states.get(SELECT).state == "none"


# -- the first session never lies in the past --------------------------------------------------


async def test_the_first_session_of_a_new_run_is_never_in_the_past(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    """Started at 07:00 with sessions at 06:00 on Mondays and Thursdays: today's 06:00 is
    already gone, so the course starts on Thursday; nothing is due, nothing missed at
    midnight, and it still has its 24 sessions."""
    run = await _call(hass, "start_protocol", **(KNEE_COURSE | {"time_of_day": "06:00:00"}))
    assert run["next_session"] == berlin(date(2025, 3, 6), time(6)).isoformat()
    assert run["total_sessions"] == 24
    assert dt_util.parse_datetime(hass.states.get(NEXT).state) > dt_util.utcnow()
    await move_to(hass, freezer, berlin(date(2025, 3, 4), time(0, 0)))
    assert [kind for kind, _ in events if kind in ("session_due", "session_missed")] == []
    (current,) = dimmed_integration.runtime_data.protocols.unfinished
    assert current.report.missed == 0
    assert len(current.report.sessions) == 24


# -- a session before the run is history, not progress -----------------------------------------


async def test_a_session_recorded_before_the_run_does_not_count_toward_it(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A 2-minute knee session at 07:00, then a knee course started at 07:10 with today's
    session at 07:30: that session is still to do (done 0), and the progress is 0 %."""
    await hass.services.async_call(
        DOMAIN,
        "start_session",
        {"entity_id": LIGHT, "minutes": 2, "area": "knee"},
        blocking=True,
    )
    await move_to(hass, freezer, berlin(date(2025, 3, 3), time(7, 10)))
    assert dimmed_integration.runtime_data.sessions.last_session is not None

    run = await _call(hass, "start_protocol", **KNEE_COURSE)

    assert run["done"] == 0
    assert run["next_session"] == berlin(date(2025, 3, 3)).isoformat()
    assert hass.states.get(PROGRESS).state == "0.0"


# -- a preset with a name is a custom protocol, and says so ------------------------------------


async def test_a_preset_with_a_name_says_it_is_a_custom_protocol(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry
) -> None:
    run = await _call(hass, "start_protocol", protocol="hair_growth", name="My scalp")
    assert run["protocol"] == "hair_growth_custom"
    assert run["protocol_name"] == "My scalp"
    assert (run["custom"], run["based_on"], run["changed"]) == (True, "hair_growth", ["name"])
    (started,) = dimmed_integration.runtime_data.protocols.unfinished
    # A new name changes no dose: the evidence is still the preset's.
    assert started.plan.protocol.evidence.value == "strong"

    run = await _call(hass, "start_protocol", protocol="skin_rejuvenation")
    assert (run["custom"], run["based_on"], run["changed"]) == (False, "skin_rejuvenation", [])
    run = await _call(hass, "start_protocol", **KNEE_COURSE)
    assert (run["custom"], run["based_on"]) == (True, None)


# -- a stopped run leaves the calendar's future --------------------------------------------------


async def test_a_stopped_run_shows_no_due_or_planned_session(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await _call(hass, "start_protocol", **KNEE_COURSE)
    await move_to(hass, freezer, berlin(date(2025, 3, 3), time(7, 31)))
    assert hass.states.get(CALENDAR).state == "on"
    assert await _calendar(hass, date(2025, 3, 3), date(2025, 3, 4)) == ["Knee course (due)"]

    await _call(hass, "stop_protocol")

    assert await _calendar(hass, date(2025, 3, 1), date(2025, 6, 1)) == []
    assert hass.states.get(CALENDAR).state == "off"
    assert hass.states.get(NEXT).state == "unknown"


async def test_calendar_events_describe_the_dose_in_words(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry
) -> None:
    """The calendar said "4 J/cm² (nir) on the foot" and "(both)": raw band keys on screen.
    Each band and area reads as words."""
    await _call(hass, "start_protocol", protocol="achilles_tendinopathy")
    await _call(hass, "start_protocol", protocol="wound_healing")
    await _call(hass, "start_protocol", protocol="hair_growth")
    listed = await calendar_events(
        hass, berlin(date(2025, 3, 3), time(0)), berlin(date(2025, 3, 10), time(0))
    )
    described = {event["summary"].split(" (")[0]: event["description"] for event in listed}
    assert described["Achilles tendon pain"].startswith(
        "4 J/cm² of near-infrared light on the foot;"
    )
    assert described["Wound healing"].startswith(
        "4 J/cm² of red and near-infrared light on the leg;"
    )
    assert described["Hair growth"].startswith("67 J/cm² of red light on the scalp;")
    for text in described.values():
        assert not re.search(r"\((?:nir|both|red)\)|_", text), text


# -- several runs on one panel -------------------------------------------------------------------


async def test_every_run_of_a_panel_is_visible_and_controllable_from_its_entities(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry
) -> None:
    """Knee, scalp and foot runs on one panel: the select lists all three; the Treatment area
    select (or picking a running protocol) chooses which the select and sensors show; a pause
    of any run changes the select; "none" stops only the run shown."""
    await _call(hass, "start_protocol", **KNEE_COURSE)
    await _call(hass, "start_protocol", protocol="hair_growth")
    await _call(hass, "start_protocol", protocol="achilles_tendinopathy")
    runs = hass.states.get(SELECT).attributes["runs"]
    assert sorted(r["area"] for r in runs) == ["foot", "knee", "scalp"]

    await _select(hass, AREA, "scalp")
    assert hass.states.get(SELECT).state == "hair_growth"
    assert hass.states.get(PROGRESS).attributes["area"] == "scalp"
    assert hass.states.get(SELECT).attributes["runs"][0]["area"] == "scalp"

    await _select(hass, SELECT, "Knee course")
    assert hass.states.get(AREA).state == "knee"
    assert hass.states.get(SELECT).state == "Knee course"
    assert hass.states.get(PROGRESS).attributes["area"] == "knee"

    before = hass.states.get(SELECT)
    await _call(hass, "pause_protocol", area="foot")
    after = hass.states.get(SELECT)
    assert after.state == "Knee course"
    foot = next(r for r in after.attributes["runs"] if r["area"] == "foot")
    assert foot["status"] == "paused"
    assert after.last_updated > before.last_updated or after.attributes != before.attributes

    await _select(hass, SELECT, "none")
    left = dimmed_integration.runtime_data.protocols.unfinished
    assert sorted(r.plan.area for r in left) == ["foot", "scalp"]
    events = await _calendar(hass, date(2025, 3, 3), date(2025, 3, 10))
    assert "Hair growth (planned)" in events
    # The stopped knee run plans nothing more; the paused foot run nothing until it resumes.
    assert not [e for e in events if e.startswith(("Knee course", "Achilles"))]
    await _call(hass, "resume_protocol", area="foot")
    events = await _calendar(hass, date(2025, 3, 3), date(2025, 3, 10))
    assert "Achilles tendon pain (planned)" in events


async def _switch(hass: HomeAssistant, service: str) -> None:
    await hass.services.async_call("switch", service, {"entity_id": RUN_SWITCH}, blocking=True)
    await settle(hass)


async def _skip(hass: HomeAssistant) -> None:
    await hass.services.async_call("button", "press", {"entity_id": SKIP}, blocking=True)
    await settle(hass)


def _stored(hass: HomeAssistant) -> dict[str, Any]:
    return copy.deepcopy({key: dict(run) for key, run in hass.data[DATA_STORE].plans.items()})


async def test_every_run_is_paused_resumed_and_skipped_from_the_switch_and_the_button(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry
) -> None:
    """Knee, scalp and foot runs on one panel: each, chosen in the Protocol select, is paused
    with the Protocol run switch, resumed, and its next session skipped with the button; the
    calendar and the sensors follow, and the other runs are left alone."""
    await _call(hass, "start_protocol", **KNEE_COURSE)
    await _call(hass, "start_protocol", protocol="hair_growth")
    await _call(hass, "start_protocol", protocol="achilles_tendinopathy")
    week = (date(2025, 3, 3), date(2025, 6, 1))

    for option, name, area in (
        ("Knee course", "Knee course", "knee"),
        ("hair_growth", "Hair growth", "scalp"),
        ("achilles_tendinopathy", "Achilles tendon pain", "foot"),
    ):
        await _select(hass, SELECT, option)
        switch = hass.states.get(RUN_SWITCH)
        assert (switch.state, switch.attributes["area"]) == ("on", area)
        assert f"{name} (planned)" in await _calendar(hass, *week)

        await _switch(hass, "turn_off")
        assert hass.states.get(RUN_SWITCH).state == "off"
        shown = hass.states.get(SELECT).attributes["runs"][0]
        assert (shown["area"], shown["status"]) == (area, "paused")
        assert hass.states.get(PROGRESS).attributes["status"] == "paused"
        assert not [e for e in await _calendar(hass, *week) if e.startswith(name)]

        # A paused run has no session to skip: refused, nothing changes.
        stored = _stored(hass)
        with pytest.raises(ServiceValidationError) as err:
            await _skip(hass)
        assert err.value.translation_key == "protocol_paused_no_skip"
        assert str(err.value) == (
            f"{name} on the {area} is paused, so it has no session to skip; resume it first"
        )
        assert _stored(hass) == stored

        await _switch(hass, "turn_on")
        assert hass.states.get(RUN_SWITCH).state == "on"
        before = hass.states.get(SELECT).attributes["runs"][0]
        assert (before["area"], before["status"]) == (area, "active")
        assert hass.states.get(PROGRESS).attributes["skipped"] == 0

        await _skip(hass)
        after = hass.states.get(SELECT).attributes["runs"][0]
        assert after["area"] == area
        later = datetime.fromisoformat(after["next_session"])
        assert later > datetime.fromisoformat(before["next_session"])
        assert hass.states.get(PROGRESS).attributes["skipped"] == 1
        day = datetime.fromisoformat(before["next_session"]).date()
        summaries = await _calendar(hass, day, day + timedelta(days=1))
        assert f"{name} (skipped)" in summaries
        assert f"{name} (planned)" not in summaries

    # Each run was paused, resumed and skipped once, by its own turn; all run again.
    runs = dimmed_integration.runtime_data.protocols.unfinished
    assert sorted((r.plan.area, r.plan.status.value, r.report.skipped) for r in runs) == [
        ("foot", "active", 1),
        ("knee", "active", 1),
        ("scalp", "active", 1),
    ]


async def test_the_switch_and_the_button_refuse_when_no_run_is_shown(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry
) -> None:
    """Without a run the switch is unknown; turning it or pressing Skip says why, changes
    nothing. Turning a running run on (or a paused one off) leaves it as it is."""
    assert hass.states.get(RUN_SWITCH).state == "unknown"
    for act in (
        lambda: _switch(hass, "turn_on"),
        lambda: _switch(hass, "turn_off"),
        lambda: _skip(hass),
    ):
        with pytest.raises(ServiceValidationError) as err:
            await act()
        assert err.value.translation_key == "no_protocol_run"
    assert _stored(hass) == {}

    await _call(hass, "start_protocol", **KNEE_COURSE)
    stored = _stored(hass)
    await _switch(hass, "turn_on")
    assert _stored(hass) == stored
    await _switch(hass, "turn_off")
    paused = _stored(hass)
    await _switch(hass, "turn_off")
    assert _stored(hass) == paused
    assert hass.states.get(RUN_SWITCH).state == "off"
    # The action says the same as the button: this run is paused.
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "skip_session")
    assert err.value.translation_key == "protocol_paused_no_skip"
    assert _stored(hass) == paused

    await _select(hass, SELECT, "none")
    assert hass.states.get(RUN_SWITCH).state == "unknown"


# -- a preset the panel cannot deliver says so ------------------------------------------------


async def test_a_preset_the_panel_cannot_deliver_says_so_until_the_run_ends(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Hair growth asks for 67 J/cm² of red. At full output the panel gives 24 mW/cm² red and
    36 NIR at 15 cm: the scalp's 70 J/cm² total cap stops a session at 28 J/cm² of red
    (70 x 24/60). The answer and a repair issue say so; stopping the run clears it."""
    run = await _call(hass, "start_protocol", protocol="hair_growth")
    assert run["deliverable_dose_j_cm2"] == 28.0
    assert "about 28.0 J/cm² of red light" in run["warning"]
    plan_id = run["run_id"]
    issue = issue_registry.async_get_issue(DOMAIN, f"protocol_undeliverable_{plan_id}")
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["delivered"] == "28.0"
    assert issue.translation_placeholders["dose"] == "67"

    # A session of the run really stops there.
    await hass.services.async_call(
        "button", "press", {"entity_id": "button.blockbluelight_f522_start_session"}, blocking=True
    )
    await settle(hass)
    session = init_integration.runtime_data.sessions.session
    assert session is not None
    assert session.planned_seconds * 24.0 / 1000 == pytest.approx(28.0, abs=0.05)
    await init_integration.runtime_data.sessions.runner.async_stop()

    await _call(hass, "stop_protocol", area="scalp")
    assert issue_registry.async_get_issue(DOMAIN, f"protocol_undeliverable_{plan_id}") is None

    # A run that never ends: removing the panel takes its warning with it.
    run = await _call(hass, "start_protocol", protocol="hair_growth")
    assert issue_registry.async_get_issue(DOMAIN, f"protocol_undeliverable_{run['run_id']}")
    await hass.config_entries.async_remove(init_integration.entry_id)
    await settle(hass)
    assert not [i for i in issue_registry.issues if i[0] == DOMAIN]


async def test_a_run_started_from_the_select_warns_too(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry, issue_registry: ir.IssueRegistry
) -> None:
    """Dimmed to 20 % (4.8 mW/cm² red, 7.2 NIR), hair growth reaches its 30 minutes at
    8.6 J/cm² of red; picking it in the select raises the same repair issue."""
    await _select(hass, SELECT, "hair_growth")
    (run,) = dimmed_integration.runtime_data.protocols.unfinished
    issue = issue_registry.async_get_issue(DOMAIN, f"protocol_undeliverable_{run.plan.id}")
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["delivered"] == "8.6"
    assert issue.translation_placeholders["limit_minutes"] == "30"
    await _select(hass, SELECT, "none")
    assert issue_registry.async_get_issue(DOMAIN, f"protocol_undeliverable_{run.plan.id}") is None


async def test_a_deliverable_run_raises_nothing(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry, issue_registry: ir.IssueRegistry
) -> None:
    run = await _call(hass, "start_protocol", **KNEE_COURSE)
    assert run["deliverable_dose_j_cm2"] == 3.0
    assert "warning" not in run
    assert not [i for i in issue_registry.issues if i[0] == DOMAIN]


# -- what the select and the calendar read --------------------------------------------------------


async def test_a_saved_custom_protocol_reads_as_its_name_in_the_select(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry
) -> None:
    protocol = build_custom(KNEE_COURSE | {"name": "My knee course", "band": "both"})
    hass.config_entries.async_update_entry(
        dimmed_integration, options={OPTION_PROTOCOLS: {protocol.key: protocol.to_dict()}}
    )
    await settle(hass)
    options = hass.states.get(SELECT).attributes["options"]
    assert "My knee course" in options
    assert not [o for o in options if o.startswith("custom_")]

    await _select(hass, SELECT, "My knee course")

    (run,) = dimmed_integration.runtime_data.protocols.unfinished
    assert run.plan.protocol.key == "custom_my_knee_course"
    assert hass.states.get(SELECT).state == "My knee course"


async def test_the_calendar_state_reads_as_a_sentence(hass: HomeAssistant) -> None:
    texts = await async_get_translations(hass, "en", "entity", {DOMAIN})
    prefix = f"component.{DOMAIN}.entity.calendar.protocol"
    assert texts[f"{prefix}.state.on"] == "Session time now"
    assert texts[f"{prefix}.state.off"] == "No session now"


async def test_a_run_answer_keeps_the_next_session_ahead_on_a_late_start(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """From the select at 23:50: no quarter hour is left today, so 23:59."""
    await move_to(hass, freezer, berlin(date(2025, 3, 3), time(23, 50)))
    await _select(hass, SELECT, "skin_rejuvenation")
    (run,) = dimmed_integration.runtime_data.protocols.unfinished
    assert run.plan.time_of_day == time(23, 59)
    assert dt_util.as_utc(run.report.next_due.scheduled_at) > dt_util.utcnow()
    assert run.report.next_due.scheduled_at - berlin(date(2025, 3, 3), time(23, 50)) < (
        timedelta(minutes=10)
    )


# -- a session already running is not due ------------------------------------------------------


async def test_a_session_running_for_the_slot_is_in_progress_not_due(
    hass: HomeAssistant,
    dimmed_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    """Today's knee session is at 07:30; the person starts it at 07:29:30. At 07:31 nothing
    says it is due (no ``session_due``, the calendar reads "in progress", the select's run is
    not due now); when the session has run its course it is done, and still no reminder
    fired."""
    await _call(hass, "start_protocol", **KNEE_COURSE)
    await move_to(hass, freezer, berlin(date(2025, 3, 3), time(7, 29, 30)))
    await hass.services.async_call(
        DOMAIN, "start_session", {"entity_id": LIGHT, "area": "knee"}, blocking=True
    )
    await settle(hass)

    await move_to(hass, freezer, berlin(date(2025, 3, 3), time(7, 31)))
    assert [kind for kind, _ in events if kind == "session_due"] == []
    day = (date(2025, 3, 3), date(2025, 3, 4))
    assert await _calendar(hass, *day) == ["Knee course (in progress)"]
    (shown,) = hass.states.get(SELECT).attributes["runs"]
    assert shown["due_now"] is False

    await move_to(hass, freezer, berlin(date(2025, 3, 3), time(8, 0)))
    assert dimmed_integration.runtime_data.sessions.session is None
    assert await _calendar(hass, *day) == ["Knee course (done)"]
    assert [kind for kind, _ in events if kind == "session_due"] == []


# -- runs on one panel do not share a default time ---------------------------------------------


async def test_runs_started_without_a_time_keep_clear_of_each_other_on_one_panel(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry
) -> None:
    """Three runs started at 07:00 with no ``time_of_day`` all took 07:00 on one panel, which
    runs one session at a time. Each now takes the first quarter hour at which its sessions
    and the others' do not overlap (each session as long as it takes on this panel)."""
    for course in (KNEE_COURSE, {"protocol": "hair_growth"}, {"protocol": "wound_healing"}):
        await _call(
            hass, "start_protocol", **{k: v for k, v in course.items() if k != "time_of_day"}
        )
    protocols = dimmed_integration.runtime_data.protocols
    spans = sorted(
        (
            datetime.combine(date(2025, 3, 3), run.plan.time_of_day),
            timedelta(minutes=protocols.session_minutes(run.plan)),
        )
        for run in protocols.unfinished
    )
    assert len(spans) == 3
    assert spans[0][0] == datetime(2025, 3, 3, 7, 0)
    for (start, length), (later, _) in pairwise(spans):
        assert later >= start + length
        assert later.minute % 15 == 0
        assert later - (start + length) < timedelta(minutes=15)


# -- a paused run is never due ------------------------------------------------------------------


async def test_a_run_paused_while_its_session_is_due_is_not_due_and_skips_nothing(
    hass: HomeAssistant, dimmed_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Today's 07:30 knee session is due at 07:31; the run is paused. The select said
    ``due_now: true`` with no next session, and Skip skipped that session. Now the run is not
    due, and Skip refuses (as the README says) and changes nothing."""
    await _call(hass, "start_protocol", **KNEE_COURSE)
    await move_to(hass, freezer, berlin(date(2025, 3, 3), time(7, 31)))
    assert hass.states.get(SELECT).attributes["runs"][0]["due_now"] is True

    await _switch(hass, "turn_off")
    (shown,) = hass.states.get(SELECT).attributes["runs"]
    assert (shown["status"], shown["due_now"], shown["next_session"]) == ("paused", False, None)
    stored = _stored(hass)
    with pytest.raises(ServiceValidationError) as err:
        await _skip(hass)
    assert err.value.translation_key == "protocol_paused_no_skip"
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "skip_session", date="2025-03-03")
    assert err.value.translation_key == "protocol_paused_no_skip"
    assert _stored(hass) == stored
