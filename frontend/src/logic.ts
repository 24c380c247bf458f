// Pure helpers of the card: no DOM, no Home Assistant connection; unit-tested in test/.

export const DOMAIN = "red_light_therapy";

export interface EntityEntry {
  entity_id: string;
  device_id?: string | null;
  platform?: string;
  translation_key?: string | null;
}

export interface HassState {
  entity_id: string;
  state: string;
  attributes: Record<string, unknown>;
  last_changed?: string;
}

/** The entities the card reads, by the integration's translation keys. */
export const KEYS = [
  "panel",
  "session_timer",
  "session_end",
  "session_dose",
  "dose_today",
  "dose_week",
  "irradiance",
  "lockout",
  "treatment_area",
  "session_duration",
  "protocol",
  "next_session",
  "protocol_progress",
  "protocol_adherence",
  "protocol_streak",
  "current_person",
] as const;
export type Key = (typeof KEYS)[number];

export interface PanelEntities {
  byKey: Partial<Record<Key, string>>;
  channels: string[];
  /** Every person's "dose today" / "dose this week" sensors of the panel (households only). */
  personToday: string[];
  personWeek: string[];
}

/** The panel's entities: this integration's entities of the device, found by translation key. */
export function panelEntities(
  entities: Record<string, EntityEntry> | undefined,
  deviceId: string | undefined,
): PanelEntities {
  const found: PanelEntities = { byKey: {}, channels: [], personToday: [], personWeek: [] };
  if (!entities || !deviceId) return found;
  for (const entry of Object.values(entities)) {
    if (entry.platform !== DOMAIN || entry.device_id !== deviceId) continue;
    const key = entry.translation_key ?? "";
    if (key === "channel_level") found.channels.push(entry.entity_id);
    else if (key === "person_dose_today") found.personToday.push(entry.entity_id);
    else if (key === "person_dose_week") found.personWeek.push(entry.entity_id);
    else if ((KEYS as readonly string[]).includes(key)) found.byKey[key as Key] = entry.entity_id;
  }
  found.channels.sort();
  return found;
}

/** Devices that have a light of this integration (the panels), for the stub config. */
export function panelDevices(entities: Record<string, EntityEntry> | undefined): string[] {
  const devices = new Set<string>();
  for (const entry of Object.values(entities ?? {})) {
    if (entry.platform === DOMAIN && entry.device_id && entry.entity_id.startsWith("light.")) {
      devices.add(entry.device_id);
    }
  }
  return [...devices];
}

/** Seconds of a "H:MM:SS" duration (the timer sensor's duration / remaining), or null. */
export function parseDuration(value: unknown): number | null {
  if (typeof value !== "string") return null;
  const parts = value.split(":").map(Number);
  if (parts.length !== 3 || parts.some((part) => !Number.isFinite(part))) return null;
  return parts[0] * 3600 + parts[1] * 60 + parts[2];
}

/** "M:SS" (or "H:MM:SS" from an hour on) as a person reads a countdown. */
export function formatClock(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

export interface Countdown {
  status: "idle" | "active" | "paused";
  remaining: number;
  duration: number;
  /** 0..1 of the session left, for the ring. */
  fraction: number;
}

/**
 * The countdown, computed in the browser from the timer sensor: while active, from its
 * finishes_at and the clock (nothing is written while time passes); while paused, its fixed
 * remaining.
 */
export function countdown(timer: HassState | undefined, nowMs: number): Countdown {
  const status = (timer?.state ?? "idle") as Countdown["status"];
  const attributes = timer?.attributes ?? {};
  const duration = parseDuration(attributes.duration) ?? 0;
  let remaining = 0;
  if (status === "active" && typeof attributes.finishes_at === "string") {
    remaining = Math.max(0, (Date.parse(attributes.finishes_at) - nowMs) / 1000);
  } else if (status === "paused") {
    remaining = parseDuration(attributes.remaining) ?? 0;
  }
  const fraction = duration > 0 ? Math.min(1, remaining / duration) : 0;
  return { status: status === "active" || status === "paused" ? status : "idle", remaining, duration, fraction };
}

/** A number rounded as a person reads it (at most `digits` decimals, no trailing zeros). */
export function round(value: unknown, digits = 1): string {
  const number = typeof value === "number" ? value : Number(value);
  if (value === null || value === undefined || value === "" || !Number.isFinite(number)) return "–";
  return String(Number(number.toFixed(digits)));
}

/** The response of calculate for one panel: keyed by the panel's light (or title). */
export interface Plan {
  area?: string;
  planned_minutes?: number;
  requested_minutes?: number;
  expected_dose_j_cm2?: number;
  verdict?: string;
  reasons?: { code?: string; limit?: number | null; actual?: number | null }[];
  next_allowed_at?: string | null;
  [key: string]: unknown;
}

/** The one plan of a calculate response, whatever the key; null when there is none. */
export function planOf(response: unknown, light?: string): Plan | null {
  if (!response || typeof response !== "object") return null;
  const byPanel = response as Record<string, unknown>;
  const chosen = (light && byPanel[light]) || Object.values(byPanel)[0];
  return chosen && typeof chosen === "object" ? (chosen as Plan) : null;
}

/** Whether a plan says the start would be refused (verdict, or a newer `refused` flag). */
export function isRefused(plan: Plan | null): boolean {
  if (!plan) return false;
  return plan.verdict === "refused" || plan.refused === true;
}

/** The limit that decides a refusal or a shortening: the first reason's code. */
export function decidingReason(plan: Plan | null): string | null {
  return plan?.reasons?.[0]?.code ?? null;
}

export interface Bar {
  /** Start of the local day, in ms. */
  start: number;
  dose: number;
}

const DAY_MS = 86_400_000;

/**
 * Dose per day from long-term statistics of the "dose today" sensor (`change` per day), one
 * bar for each of the last `days` local days (today last), missing days as 0. Rows are matched
 * to days by their start (local midnight), rounded to whole days from today's start.
 */
export function dailyBars(
  rows: { start: number | string; change?: number | null }[] | undefined,
  days: number,
  todayStartMs: number,
): Bar[] {
  const bars: Bar[] = [];
  for (let i = days - 1; i >= 0; i--) bars.push({ start: todayStartMs - i * DAY_MS, dose: 0 });
  for (const row of rows ?? []) {
    const start = typeof row.start === "number" ? row.start : Date.parse(row.start);
    const ago = Math.round((todayStartMs - start) / DAY_MS);
    if (ago >= 0 && ago < days) bars[days - 1 - ago].dose += Math.max(0, row.change ?? 0);
  }
  return bars;
}

/** The bars with today's (the last) taken from the live "dose today" sensor when it is known:
 * long-term statistics lag by up to an hour. */
export function withToday(bars: Bar[], today: number): Bar[] {
  if (!bars.length || !Number.isFinite(today)) return bars;
  return [...bars.slice(0, -1), { ...bars[bars.length - 1], dose: Math.max(0, today) }];
}

/**
 * Delivered and target dose (J/cm²) of the running session, estimated in the browser from the
 * irradiance sensor (mW/cm² at the set distance and levels) and the countdown: on-time so far
 * and the whole planned time. Null when the irradiance is unknown or no session runs.
 */
export function sessionDose(count: Countdown, irradiance: number): { delivered: number; target: number } | null {
  if (count.status === "idle" || !Number.isFinite(irradiance) || irradiance <= 0 || count.duration <= 0) return null;
  const onSeconds = Math.max(0, count.duration - count.remaining);
  return { delivered: (irradiance * onSeconds) / 1000, target: (irradiance * count.duration) / 1000 };
}

/** An area key in words ("whole_body" → "whole body"); "–" when there is none. */
function areaWords(key: unknown): string {
  return typeof key === "string" && key ? key.replace(/_/g, " ") : "–";
}

/**
 * The area the card shows: while a session is open, the area that session treats (the light's
 * `area` attribute: a protocol run's session runs on the run's area, not on the panel's
 * Treatment area); otherwise the Treatment area a new session would use.
 */
export function shownArea(light: HassState | undefined, treatmentArea: HassState | undefined): string {
  const running = light?.attributes.area;
  return areaWords(typeof running === "string" && running ? running : treatmentArea?.state);
}

/**
 * The protocol run the Protocol select shows, by its name ("Hair growth", a custom
 * protocol's own name): the first of the select's `runs` is the shown one. Never the select's
 * raw option key; null with no run.
 */
export function shownProtocol(select: HassState | undefined): string | null {
  if (!select || select.state === "none" || select.state === "unavailable" || select.state === "unknown") return null;
  const runs = select.attributes.runs;
  const first = Array.isArray(runs) ? (runs[0] as { protocol?: unknown } | undefined) : undefined;
  if (first && typeof first.protocol === "string" && first.protocol) return first.protocol;
  return areaWords(select.state);
}

export interface Against {
  /** "x / y" as a person reads it (rounded), "x" alone when the limit is unknown. */
  text: string;
  /** 0..1 of the limit used, for a bar; null when the limit is unknown. */
  fraction: number | null;
  /** At or over the limit. */
  full: boolean;
}

/**
 * A value against its limit, from the dose sensors' attributes (the treatment area's
 * `max_daily_dose`, `max_sessions_per_week`, ...): the text, the bar's fill and whether the
 * limit is reached. An older integration without the attributes gives the value alone.
 */
export function against(value: unknown, limit: unknown, digits = 1): Against {
  const number = typeof value === "number" ? value : Number(value);
  const max = typeof limit === "number" ? limit : Number(limit);
  const known = value !== null && value !== undefined && value !== "" && Number.isFinite(number);
  if (limit === null || limit === undefined || limit === "" || !Number.isFinite(max) || max <= 0) {
    return { text: round(value, digits), fraction: null, full: false };
  }
  const used = known ? Math.max(0, number) : 0;
  return {
    text: `${round(value, digits)} / ${round(max, digits)}`,
    fraction: Math.min(1, used / max),
    full: known && used >= max,
  };
}

/**
 * The sentence of an error Home Assistant gave a service call, as a person reads it: without
 * the frontend's technical prefix ("Validation error: ") and with its full stop back (Home
 * Assistant drops it when it renders a translated error).
 */
export function errorText(err: unknown): string {
  const raw = err instanceof Error ? err.message : typeof err === "object" && err && "message" in err
    ? String((err as { message: unknown }).message)
    : String(err);
  const text = raw.replace(/^(Validation error|Error|Failed to perform the action [\w.]+):\s*/i, "").trim();
  if (!text) return "";
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** A state that carries no value: missing, unknown or unavailable. */
function blank(state: HassState | undefined): boolean {
  return !state || state.state === "unknown" || state.state === "unavailable" || state.state === "";
}

/**
 * Which of `candidates` (every person's "dose today", or "dose this week", sensors of the
 * panel) is the person `label`'s: the name the "Who is using the panel" select shows.
 *
 * First by the sensor's unique id (from the entity registry, when the card has it), which ends
 * with the person's entity id: that person's name is the label and no other of these persons
 * has it. Else by the sensor's name, which holds the person's label in every language: the
 * sensor whose longest household label in its name is this one ("Ann" is not "Anna" nor
 * "Ann (2)"). Undefined when none is the person's.
 */
export function personSensor(
  candidates: string[],
  states: Record<string, HassState>,
  label: string | null | undefined,
  labels: string[],
  uniqueIds: Record<string, string> = {},
): string | undefined {
  if (!label) return undefined;
  const personOf = (id: string) => /_(person\.[^.]+)$/.exec(uniqueIds[id] ?? "")?.[1];
  const nameOf = (id: string | undefined) => (id ? states[id]?.attributes.friendly_name : undefined);
  const byId = candidates.filter((id) => nameOf(personOf(id)) === label);
  if (byId.length === 1) return byId[0];
  return candidates.find((id) => {
    const name = nameOf(id);
    if (typeof name !== "string") return false;
    const held = labels.filter((other) => name.includes(other)).sort((a, b) => b.length - a.length);
    return held[0] === label;
  });
}

export interface Household {
  /** The "Who is using the panel" select. */
  select: string;
  /** The household's persons, by the names the select offers. */
  options: string[];
  /** Who is using the panel; null while nobody is chosen. */
  current: string | null;
  /** The chosen person's dose sensors; undefined when not found (the card shows the panel's). */
  today?: string;
  week?: string;
}

/**
 * The household on the panel, when it has one: the select exists (two persons or more) and
 * offers persons. Null for one person or none, so the card shows what it always showed.
 */
export function household(
  ids: PanelEntities,
  states: Record<string, HassState>,
  uniqueIds: Record<string, string> = {},
): Household | null {
  const select = ids.byKey.current_person;
  const state = select ? states[select] : undefined;
  const options = state?.attributes.options;
  if (!select || !state || state.state === "unavailable" || !Array.isArray(options) || options.length < 2) return null;
  const labels = options.filter((option): option is string => typeof option === "string");
  const current = blank(state) || !labels.includes(state.state) ? null : state.state;
  return {
    select,
    options: labels,
    current,
    today: personSensor(ids.personToday, states, current, labels, uniqueIds),
    week: personSensor(ids.personWeek, states, current, labels, uniqueIds),
  };
}

/**
 * Whose session runs: the `person` (a name) the session timer or the light carries while a
 * session runs; null when idle or when neither says.
 */
export function sessionPerson(timer: HassState | undefined, light: HassState | undefined): string | null {
  if (!timer || (timer.state !== "active" && timer.state !== "paused")) return null;
  for (const state of [timer, light]) {
    const person = state?.attributes.person;
    if (typeof person === "string" && person.trim()) return person.trim();
  }
  return null;
}
