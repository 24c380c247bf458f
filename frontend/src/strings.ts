// The card's texts. English is complete; another language falls back to it per string.
const en = {
  name: "Red light therapy",
  description: "A panel's session, dose and protocol at a glance, with its controls.",
  no_device: "Choose a panel in the card's settings.",
  not_found: "This panel has no Red Light Therapy entities. Choose another one.",
  idle: "Ready",
  active: "Running",
  paused: "Paused",
  unavailable: "Unavailable",
  remaining: "left",
  delivered: "Delivered",
  target: "Target",
  area: "Area",
  by_dose: "By dose",
  by_minutes: "By minutes",
  dose_input: "Dose (J/cm²)",
  minutes_input: "Minutes",
  preview: "Preview",
  start: "Start",
  pause: "Pause",
  resume: "Resume",
  stop: "Stop",
  extend: "Add 1 minute",
  preview_text: "{minutes} min, {dose} J/cm² on {area}.",
  shortened: "Shortened by the limit: {reason}.",
  refused: "Refused: {reason}.",
  refused_until: "Refused: {reason}. Possible again {until}.",
  today: "Today",
  week: "This week",
  sessions_7_days: "Sessions (7 days)",
  spacing: "at least {hours} h between sessions",
  locked_until: "Locked until {until}",
  not_locked: "No lockout",
  protocol: "Protocol",
  next_session: "Next session",
  progress: "Progress",
  streak: "Streak",
  chart: "Dose per day",
  one_week: "1 week",
  four_weeks: "4 weeks",
  no_history: "No recorded sessions yet.",
  channels: "Channels",
  who: "Who is using the panel",
  session_of: "{person}'s session",
  person_today: "{person} today",
  person_week: "{person} this week",
  error: "Could not do that: {message}",
  editor_device: "Panel",
  editor_show_controls: "Show the controls",
  editor_show_protocol: "Show the protocol",
  editor_show_chart: "Show the chart",
  editor_show_limits: "Show the area's limits",
  reason_session_minutes: "minutes per session",
  reason_session_dose: "dose per session",
  reason_daily_dose: "daily dose",
  reason_spacing: "time between sessions",
  reason_spacing_overridden: "time between sessions (overridden)",
  reason_weekly_sessions: "sessions per week",
  reason_weekly_dose: "weekly dose",
  reason_unknown: "a safety limit",
};
export type StringKey = keyof typeof en;

const de: Partial<Record<StringKey, string>> = {
  name: "Rotlichttherapie",
  idle: "Bereit",
  active: "Läuft",
  paused: "Pausiert",
  start: "Starten",
  pause: "Pause",
  resume: "Fortsetzen",
  stop: "Stopp",
  today: "Heute",
  week: "Diese Woche",
  sessions_7_days: "Sitzungen (7 Tage)",
  who: "Wer nutzt das Panel",
  session_of: "Sitzung von {person}",
  person_today: "{person} heute",
  person_week: "{person} diese Woche",
};
const LANGUAGES: Record<string, Partial<Record<StringKey, string>>> = { en, de };

/** A translated string with {placeholders} filled in. */
export function t(language: string | undefined, key: StringKey, values: Record<string, string> = {}): string {
  const table = LANGUAGES[(language ?? "en").split("-")[0]] ?? en;
  const text = table[key] ?? en[key];
  return text.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? "");
}

/** The translated name of a limit code (calculate's reasons), never the raw code. */
export function reasonText(language: string | undefined, code: string | null): string {
  const key = `reason_${code}` as StringKey;
  return key in en ? t(language, key) : t(language, "reason_unknown");
}
