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
