import { test } from "node:test";
import assert from "node:assert/strict";
import { load } from "./load.mjs";

const logic = await load("logic");
const strings = await load("strings");
const DEVICE = "dev1";

const entities = {
  "light.panel": { entity_id: "light.panel", device_id: DEVICE, platform: "red_light_therapy", translation_key: "panel" },
  "sensor.panel_session_timer": { entity_id: "sensor.panel_session_timer", device_id: DEVICE, platform: "red_light_therapy", translation_key: "session_timer" },
  "number.panel_channel_2": { entity_id: "number.panel_channel_2", device_id: DEVICE, platform: "red_light_therapy", translation_key: "channel_level" },
  "number.panel_channel_1": { entity_id: "number.panel_channel_1", device_id: DEVICE, platform: "red_light_therapy", translation_key: "channel_level" },
  "sensor.other_panel_timer": { entity_id: "sensor.other_panel_timer", device_id: "dev2", platform: "red_light_therapy", translation_key: "session_timer" },
  "sensor.foreign": { entity_id: "sensor.foreign", device_id: DEVICE, platform: "other", translation_key: "session_timer" },
  "light.other": { entity_id: "light.other", device_id: "dev2", platform: "red_light_therapy", translation_key: "panel" },
};

test("the panel's entities are found by device and translation key, no other device's or integration's", () => {
  const found = logic.panelEntities(entities, DEVICE);
  assert.equal(found.byKey.panel, "light.panel");
  assert.equal(found.byKey.session_timer, "sensor.panel_session_timer");
  assert.deepEqual(found.channels, ["number.panel_channel_1", "number.panel_channel_2"]);
  assert.deepEqual(logic.panelEntities(entities, undefined).byKey, {});
  assert.deepEqual(logic.panelDevices(entities).sort(), [DEVICE, "dev2"]);
});

test("the countdown runs from finishes_at and the clock alone", () => {
  const start = Date.parse("2025-03-03T07:00:00Z");
  const timer = {
    entity_id: "sensor.t",
    state: "active",
    attributes: { duration: "0:10:00", remaining: "0:10:00", finishes_at: "2025-03-03T07:10:00+00:00" },
  };
  const first = logic.countdown(timer, start);
  const later = logic.countdown(timer, start + 61_000);
  assert.equal(first.remaining, 600);
  assert.equal(later.remaining, 539);
  assert.ok(later.fraction < first.fraction);
  assert.equal(logic.formatClock(later.remaining), "8:59");
  assert.equal(logic.countdown(timer, start + 700_000).remaining, 0);
});

test("a paused countdown holds its remaining; idle has none", () => {
  const paused = { entity_id: "s", state: "paused", attributes: { duration: "0:10:00", remaining: "0:04:30" } };
  assert.equal(logic.countdown(paused, Date.now()).remaining, 270);
  assert.equal(logic.countdown(paused, Date.now() + 60_000).remaining, 270);
  assert.equal(logic.countdown(undefined, 0).status, "idle");
  assert.equal(logic.formatClock(3725), "1:02:05");
  assert.equal(logic.parseDuration("bad"), null);
});

test("numbers are rounded as a person reads them", () => {
  assert.equal(logic.round(3.14159, 2), "3.14");
  assert.equal(logic.round("2.50", 2), "2.5");
  assert.equal(logic.round("unknown"), "–");
  assert.equal(logic.round(null), "–");
});

test("calculate's plan: picked by the light, refusal and its deciding limit", () => {
  const response = {
    "light.other": { verdict: "allowed" },
    "light.panel": { verdict: "refused", reasons: [{ code: "spacing", limit: 24, actual: 2 }], next_allowed_at: "2025-03-04T07:00:00+00:00" },
  };
  const plan = logic.planOf(response, "light.panel");
  assert.ok(logic.isRefused(plan));
  assert.equal(logic.decidingReason(plan), "spacing");
  assert.ok(!logic.isRefused(logic.planOf(response, "light.other")));
  assert.ok(logic.isRefused({ refused: true }));
  assert.equal(logic.planOf(null), null);
  assert.equal(strings.reasonText("en", "spacing"), "time between sessions");
  assert.equal(strings.reasonText("en", "brand_new_code"), "a safety limit");
});

test("dose per day: one bar a day, today last, missing days zero", () => {
  const today = Date.parse("2025-03-10T00:00:00+01:00");
  const day = 86_400_000;
  const bars = logic.dailyBars(
    [
      { start: today - 2 * day, change: 4.5 },
      { start: new Date(today).toISOString(), change: 1.25 },
      { start: today - 30 * day, change: 9 },
    ],
    7,
    today,
  );
  assert.equal(bars.length, 7);
  assert.deepEqual(bars.map((bar) => bar.dose), [0, 0, 0, 0, 4.5, 0, 1.25]);
  assert.equal(bars[6].start, today);
});

test("strings: English fills placeholders; another language falls back per string", () => {
  assert.equal(strings.t("en", "locked_until", { until: "Mon 08:00" }), "Locked until Mon 08:00");
  assert.equal(strings.t("de", "start"), "Starten");
  assert.equal(strings.t("de", "preview"), "Preview");
  assert.equal(strings.t("xx", "stop"), "Stop");
});

test("today's bar is the live sensor's value; unknown leaves the statistics", () => {
  const bars = [{ start: 0, dose: 1 }, { start: 1, dose: 0 }];
  assert.deepEqual(logic.withToday(bars, 2.5).map((bar) => bar.dose), [1, 2.5]);
  assert.deepEqual(logic.withToday(bars, Number("unknown")).map((bar) => bar.dose), [1, 0]);
  assert.deepEqual(logic.withToday([], 3), []);
});

test("a running session's dose so far and target come from irradiance and the countdown", () => {
  const start = Date.parse("2025-03-03T07:00:00Z");
  const timer = { entity_id: "t", state: "active", attributes: { duration: "0:10:00", finishes_at: "2025-03-03T07:10:00+00:00" } };
  const early = logic.sessionDose(logic.countdown(timer, start + 60_000), 20);
  const later = logic.sessionDose(logic.countdown(timer, start + 300_000), 20);
  assert.equal(early.target, 12); // 20 mW/cm² x 600 s = 12 J/cm²
  assert.equal(early.delivered, 1.2);
  assert.equal(later.delivered, 6);
  assert.equal(logic.sessionDose(logic.countdown(undefined, start), 20), null);
  assert.equal(logic.sessionDose(logic.countdown(timer, start), Number("unknown")), null);
});

test("the card names a running protocol session's area and the shown run by name, never a key", () => {
  // A Hair growth run's session runs on the scalp while the Treatment area select says whole body.
  const light = { entity_id: "light.panel", state: "on", attributes: { area: "scalp", target_dose: 67 } };
  const treatment = { entity_id: "select.panel_treatment_area", state: "whole_body", attributes: {} };
  assert.equal(logic.shownArea(light, treatment), "scalp");
  // No session open: the area a new session would use.
  assert.equal(logic.shownArea({ entity_id: "light.panel", state: "off", attributes: {} }, treatment), "whole body");
  assert.equal(logic.shownArea(undefined, undefined), "–");

  const select = (state, runs) => ({ entity_id: "select.panel_protocol", state, attributes: { runs } });
  const hair = { protocol: "Hair growth", area: "scalp", status: "active" };
  const knee = { protocol: "My knee course", area: "knee", status: "active" };
  assert.equal(logic.shownProtocol(select("hair_growth", [hair, knee])), "Hair growth");
  assert.equal(logic.shownProtocol(select("custom_my_knee_course", [knee])), "My knee course");
  assert.equal(logic.shownProtocol(select("none", [])), null);
  assert.equal(logic.shownProtocol(select("unavailable", undefined)), null);
  assert.equal(logic.shownProtocol(undefined), null);
});

test("a dose or count against the area's limit: x / y, a bar, full at the limit; the value alone without one", () => {
  const today = logic.against("12.345", 30, 2);
  assert.equal(today.text, "12.35 / 30");
  assert.ok(Math.abs(today.fraction - 12.345 / 30) < 1e-9);
  assert.equal(today.full, false);
  const sessions = logic.against(5, 5, 0);
  assert.equal(sessions.text, "5 / 5");
  assert.equal(sessions.fraction, 1);
  assert.equal(sessions.full, true);
  // Over the limit (a logged session): the bar stays full, the text tells the truth.
  assert.equal(logic.against(36, 30, 0).text, "36 / 30");
  assert.equal(logic.against(36, 30, 0).fraction, 1);
  // An older integration (no attribute) or an unknown value.
  assert.deepEqual(logic.against("4.5", undefined, 2), { text: "4.5", fraction: null, full: false });
  assert.deepEqual(logic.against("unknown", 30, 2), { text: "– / 30", fraction: 0, full: false });
  assert.equal(strings.t("en", "spacing", { hours: "20" }), "at least 20 h between sessions");
});

test("an error reads as the integration's sentence, without the frontend's prefix", () => {
  const refusal = new Error(
    "Validation error: Refused on Panel: at least 20 hours must pass between sessions. Next session allowed tomorrow at 07:00",
  );
  assert.equal(
    logic.errorText(refusal),
    "Refused on Panel: at least 20 hours must pass between sessions. Next session allowed tomorrow at 07:00.",
  );
  assert.equal(logic.errorText({ message: "Minutes must be a number from 0.5 to 60." }), "Minutes must be a number from 0.5 to 60.");
  assert.equal(logic.errorText(new Error("")), "");
});

// A household: the panel's "Who is using the panel" select and every person's dose sensors.
const P = "red_light_therapy";
const householdEntities = {
  ...entities,
  "select.panel_who": { entity_id: "select.panel_who", device_id: DEVICE, platform: P, translation_key: "current_person" },
  "sensor.panel_ann_today": { entity_id: "sensor.panel_ann_today", device_id: DEVICE, platform: P, translation_key: "person_dose_today" },
  "sensor.panel_anna_today": { entity_id: "sensor.panel_anna_today", device_id: DEVICE, platform: P, translation_key: "person_dose_today" },
  "sensor.panel_ann_week": { entity_id: "sensor.panel_ann_week", device_id: DEVICE, platform: P, translation_key: "person_dose_week" },
  "sensor.panel_anna_week": { entity_id: "sensor.panel_anna_week", device_id: DEVICE, platform: P, translation_key: "person_dose_week" },
  "sensor.other_ann_today": { entity_id: "sensor.other_ann_today", device_id: "dev2", platform: P, translation_key: "person_dose_today" },
};
const st = (entity_id, state, attributes = {}) => ({ entity_id, state, attributes });
function householdStates(chosen, names = {}) {
  return {
    "select.panel_who": st("select.panel_who", chosen, { options: ["Ann", "Anna"] }),
    "person.ann": st("person.ann", "home", { friendly_name: "Ann" }),
    "person.anna": st("person.anna", "home", { friendly_name: "Anna" }),
    "sensor.panel_ann_today": st("sensor.panel_ann_today", "1.5", { friendly_name: names.annToday ?? "Panel Ann's dose today", max_daily_dose: 6 }),
    "sensor.panel_anna_today": st("sensor.panel_anna_today", "4", { friendly_name: names.annaToday ?? "Panel Anna's dose today", max_daily_dose: 6 }),
    "sensor.panel_ann_week": st("sensor.panel_ann_week", "3", { friendly_name: "Panel Ann's dose this week" }),
    "sensor.panel_anna_week": st("sensor.panel_anna_week", "8", { friendly_name: "Panel Anna's dose this week" }),
  };
}

test("a household: the select's persons, who is chosen, and that person's own dose sensors", () => {
  const ids = logic.panelEntities(householdEntities, DEVICE);
  assert.equal(ids.byKey.current_person, "select.panel_who");
  assert.deepEqual(ids.personToday.sort(), ["sensor.panel_ann_today", "sensor.panel_anna_today"]);
  // "Ann" is found in both names; the sensor of "Ann" is the one whose longest label is Ann.
  const ann = logic.household(ids, householdStates("Ann"));
  assert.deepEqual(ann, {
    select: "select.panel_who",
    options: ["Ann", "Anna"],
    current: "Ann",
    today: "sensor.panel_ann_today",
    week: "sensor.panel_ann_week",
  });
  const anna = logic.household(ids, householdStates("Anna"));
  assert.equal(anna.today, "sensor.panel_anna_today");
  assert.equal(anna.week, "sensor.panel_anna_week");
  // Nobody chosen yet: the chooser, no person's numbers (the card shows the panel's).
  const nobody = logic.household(ids, householdStates("unknown"));
  assert.equal(nobody.current, null);
  assert.equal(nobody.today, undefined);
});

test("a person's sensor renamed by the user is still found by its unique id", () => {
  const ids = logic.panelEntities(householdEntities, DEVICE);
  const renamed = householdStates("Ann", { annToday: "Morning light", annaToday: "Anna's red light" });
  assert.equal(logic.household(ids, renamed).today, undefined);
  const uniqueIds = {
    "sensor.panel_ann_today": "AA:BB_dose_today_person.ann",
    "sensor.panel_anna_today": "AA:BB_dose_today_person.anna",
  };
  assert.equal(logic.household(ids, renamed, uniqueIds).today, "sensor.panel_ann_today");
  assert.equal(logic.household(ids, householdStates("Anna", { annaToday: "x" }), uniqueIds).today, "sensor.panel_anna_today");
});

test("one person or none: no household, the card is as it always was", () => {
  assert.equal(logic.household(logic.panelEntities(entities, DEVICE), {}), null);
  const ids = logic.panelEntities(householdEntities, DEVICE);
  const gone = { ...householdStates("Ann") };
  delete gone["select.panel_who"];
  assert.equal(logic.household(ids, gone), null);
  assert.equal(logic.household(ids, { ...gone, "select.panel_who": st("select.panel_who", "unavailable", { options: ["Ann", "Anna"] }) }), null);
  assert.equal(logic.household(ids, { ...gone, "select.panel_who": st("select.panel_who", "Ann", { options: ["Ann"] }) }), null);
});

test("whose session runs: the timer's or the light's person while a session runs, else nobody", () => {
  const light = st("light.panel", "on", { person: "Ben" });
  assert.equal(logic.sessionPerson(st("t", "active", { person: "Ann" }), light), "Ann");
  assert.equal(logic.sessionPerson(st("t", "paused", {}), light), "Ben");
  assert.equal(logic.sessionPerson(st("t", "idle", { person: "Ann" }), light), null);
  assert.equal(logic.sessionPerson(st("t", "active", {}), st("light.panel", "on", {})), null);
  assert.equal(logic.sessionPerson(undefined, light), null);
  assert.equal(strings.t("en", "session_of", { person: "Ann" }), "Ann's session");
});
